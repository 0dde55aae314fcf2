"""The benchmark harness end to end at its smallest scale (figures, not timings, are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("apply", "plan", "rotate", "drift")
PROCESS_FIELDS = {"exit_code", "wall_s", "cpu_s", "max_rss_mb", "requests"}
REQUEST_FIELDS = {"by_method", "by_endpoint", "total", "rate_limited_429", "deploy_wait_s"}


@pytest.mark.slow
def test_smallest_scale_reports_every_step_and_beats_the_baseline(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    command = [sys.executable, "-m", "benchmarks.run", "--scales=1x10", "--latency-ms=1"]
    command += ["--deploy-delay=0", "--delete-delay=0", f"--out={out}"]
    finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr

    report = json.loads(out.read_text())
    (scale,) = report["scales"]
    assert scale["scale"] == "1x10"
    assert set(scale["runs"]) == set(STEPS)
    for step in STEPS:
        run = scale["runs"][step]
        assert set(run["aopctl"]) >= PROCESS_FIELDS
        assert set(run["baseline"]) >= PROCESS_FIELDS | {"rate_limit_floor_s", "effective_wall_s"}
        ours, theirs = run["aopctl"]["requests"], run["baseline"]["requests"]
        assert set(ours) >= REQUEST_FIELDS
        assert ours["total"] == sum(ours["by_method"].values()) > 0
        assert ours["total"] < theirs["total"], step
        assert ours["rate_limited_429"] == 0
        assert set(run["ratio"]) == {"requests", "wall"}
    targets = scale["targets"]
    assert targets["zero_429"] and targets["fewer_requests_than_baseline"]
    assert targets["refresh_within_bound"], targets["refresh_requests_per_zone"]
    assert targets["rotation_within_bound"], targets["rotation_per_certificate"]
    assert "first apply" in finished.stdout  # the table was printed
