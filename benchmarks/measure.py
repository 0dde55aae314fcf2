"""Measuring one run: the aopctl subprocess's resources and the requests the sandbox received.

CPU time and peak RSS come from `os.wait4` on the aopctl child, so they are that process's
alone (the sandbox runs in another process). Requests are what the sandbox recorded while the
run lasted; the time spent waiting on deployments is read from the same record: from a
certificate's upload (or DELETE) to the last poll of that certificate, merged over all
certificates so that concurrent waits count once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.sandbox_server import SandboxProcess

TOKEN = "benchmark-token"  # the sandbox accepts any token
ROOT = Path(__file__).resolve().parents[1]  # `python -m benchmarks.X` runs from here
_ENDPOINTS = (
    (re.compile(r"/zones$"), "zones"),
    (re.compile(r"/zones/\w+/settings/\w+$"), "setting"),
    (re.compile(r"/origin_tls_client_auth/settings$"), "zone aop setting"),
    (re.compile(r"/origin_tls_client_auth/hostnames/certificates$"), "hostname certificates"),
    (re.compile(r"/origin_tls_client_auth/hostnames/certificates/[^/]+$"), "hostname certificate"),
    (re.compile(r"/origin_tls_client_auth/hostnames$"), "hostnames"),
    (re.compile(r"/origin_tls_client_auth/hostnames/[^/]+$"), "hostname"),
    (re.compile(r"/origin_tls_client_auth$"), "zone certificates"),
    (re.compile(r"/origin_tls_client_auth/[^/]+$"), "zone certificate"),
)
Row = tuple[str, str, float, int | None]  # method, path, time received, status


def endpoint(path: str) -> str:
    """A short name for the API operation behind `path` (ids left out)."""
    return next((name for pattern, name in _ENDPOINTS if pattern.search(path)), path)


@dataclass(frozen=True)
class Window:
    """The requests of one run and the certificates uploaded during it."""

    rows: list[Row]
    uploads: dict[str, float]  # certificate id -> upload time

    @classmethod
    def collect(
        cls, sandbox: SandboxProcess, first_request: int, started: float, ended: float
    ) -> Window:
        uploads = {cid: at for cid, at in sandbox.uploads().items() if started <= at <= ended}
        return cls(sandbox.requests(first_request), uploads)

    def summary(self) -> dict[str, Any]:
        by_method = Counter(method for method, _, _, _ in self.rows)
        by_endpoint = Counter(f"{method} {endpoint(path)}" for method, path, _, _ in self.rows)
        return {
            "by_method": dict(sorted(by_method.items())),
            "by_endpoint": dict(sorted(by_endpoint.items())),
            "total": len(self.rows),
            "rate_limited_429": sum(1 for *_, status in self.rows if status == 429),
            "deploy_wait_s": round(self.deploy_wait(), 3),
        }

    def deploy_wait(self) -> float:
        """Seconds during which at least one upload or deletion was being awaited."""
        polls: dict[str, list[float]] = {}
        for method, path, at, _ in self.rows:
            if method == "GET":
                polls.setdefault(path.rsplit("/", 1)[-1], []).append(at)
        intervals = [_until_last_poll(at, polls.get(cid, [])) for cid, at in self.uploads.items()]
        intervals += [
            _until_last_poll(at, polls.get(path.rsplit("/", 1)[-1], []))
            for method, path, at, _ in self.rows
            if method == "DELETE"
        ]
        return _union_length(intervals)


def _until_last_poll(start: float, polls: Iterable[float]) -> tuple[float, float]:
    return start, max((at for at in polls if at >= start), default=start)


def _union_length(intervals: Sequence[tuple[float, float]]) -> float:
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def aopctl_command() -> list[str]:
    """The `aopctl` console script next to this interpreter, or the module entry point."""
    script = Path(sys.executable).with_name("aopctl")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from planner.cli import main; main()"]


def client_env(base_url: str) -> dict[str, str]:
    """The environment of aopctl and of the baseline: the served sandbox, a token."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDFLARE_", "AOPCTL_"))}
    env.update(CLOUDFLARE_BASE_URL=base_url, CLOUDFLARE_API_TOKEN=TOKEN, NO_COLOR="1")
    return env


@dataclass(frozen=True)
class ProcessUsage:
    exit_code: int
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    output: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "wall_s": round(self.wall_s, 3),
            "cpu_s": round(self.cpu_s, 3),
            "max_rss_mb": round(self.max_rss_mb, 1),
        }


def run_process(args: list[str], env: Mapping[str, str], log: Path) -> ProcessUsage:
    """Run `args` to completion; wall time, CPU (user + system) and peak RSS of that child."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessUsage(
        exit_code=process.returncode,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        output=log.read_text(),
    )
