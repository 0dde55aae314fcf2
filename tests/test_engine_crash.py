"""Crash safety: `aopctl --sandbox apply` killed with SIGKILL mid-rotation, then run again.

A real subprocess rotates the per-hostname example's `app` certificate while the test watches
the `--sandbox` account file and kills the process at a chosen moment: right after the upload,
while it waits for deployment, after the hostnames were re-pointed, after the old certificate's
DELETE, and after a random delay. The next `apply` must converge: one certificate per resource,
no orphan, and the zero-downtime invariant held over the whole timeline.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner
from engine_helpers import copy_example

from planner.cli import main
from planner.sandbox import Sandbox, default_path, open_persistent
from planner.sandbox.model import RecordedRequest

ENV = {
    "AOPCTL_SANDBOX_DEPLOY_DELAY": "0.4",
    "AOPCTL_SANDBOX_DELETE_DELAY": "0.2",
    "CLOUDFLARE_API_TOKEN": "",
    "CLOUDFLARE_API_KEY": "",
    "NO_COLOR": "1",
}
RUN_AOPCTL = "import sys; from planner.cli import main; sys.exit(main())"
Moment = Callable[[list[RecordedRequest], float], bool]


def after(method: str, path_part: str = "", delay: float = 0.0) -> Moment:
    """The moment `delay` seconds after the first matching request of this run was recorded."""

    def reached(requests: list[RecordedRequest], now: float) -> bool:
        hits = [r for r in requests if r.method == method and path_part in r.path]
        return bool(hits) and now >= hits[0].time + delay

    return reached


def after_seconds(delay: float) -> Moment:
    started = time.time()
    return lambda requests, now: now >= started + delay


def cli(directory: Path, *args: str) -> str:
    runner = CliRunner(env=ENV)
    result = runner.invoke(main, ["--chdir", str(directory), "--sandbox", *args])
    assert result.exit_code == 0, result.output
    return result.output


def kill_at(directory: Path, release: str, moment: Moment, timeout: float = 30.0) -> bool:
    """Start a rotation in a subprocess and SIGKILL it at `moment`; False if it ended first."""
    account = open_persistent(default_path(directory))
    seen = len(account.snapshot().requests)
    argv = ["--chdir", str(directory), "--sandbox", "apply", "--auto-approve"]
    process = subprocess.Popen(
        [sys.executable, "-c", RUN_AOPCTL, *argv, "--var", f"app_release={release}"],
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    try:
        while process.poll() is None:
            assert time.monotonic() < deadline, "the apply neither reached the moment nor ended"
            if moment(account.snapshot().requests[seen:], time.time()):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)  # watching another process: there is no event to wait on
    finally:
        process.wait(timeout=10)
    return process.returncode == -signal.SIGKILL


def assert_converged(directory: Path, release: str) -> Sandbox:
    output = cli(directory, "plan", "--var", f"app_release={release}", "--detailed-exitcode")
    assert "No changes." in output
    sandbox = open_persistent(default_path(directory)).snapshot()
    now = sandbox.clock()
    for zone in ("example.com", "example.net"):
        zone_id = sandbox.zone_id(zone)
        live = [
            c
            for c in sandbox.account.certs_in(zone_id, "hostname")
            if c.visible_at(now) and not c.deleted(now)
        ]
        assert len(live) == 1, f"{zone}: {len(live)} certificates"
        bound = {a.cert_id for a in sandbox.account.associations_in(zone_id)}
        assert bound == {live[0].id}
    violations = sandbox.check_zero_downtime()
    assert not violations, "\n".join(violations)
    return sandbox


def test_killed_rotations_converge_on_rerun(tmp_path: Path) -> None:
    directory = copy_example("per-hostname", tmp_path)
    cli(directory, "apply", "--auto-approve")
    seed = random.randrange(1_000_000)
    moments: list[tuple[str, Moment, bool]] = [  # label, moment, must it die there?
        ("just after the upload", after("POST"), True),
        ("while deploying", after("POST", delay=0.15), True),
        ("after re-pointing", after("PUT", "/hostnames"), True),
        ("after the old certificate's DELETE", after("DELETE"), True),
        (
            f"after a random delay (seed {seed})",
            after_seconds(random.Random(seed).uniform(0, 3)),
            False,
        ),
    ]
    releases = ["2027", "2026"]

    for index, (label, moment, must_die) in enumerate(moments):
        release = releases[index % 2]
        killed = kill_at(directory, release, moment)
        assert killed or not must_die, f"the apply ended before it could be killed {label}"
        cli(directory, "apply", "--auto-approve", "--var", f"app_release={release}")
        try:
            assert_converged(directory, release)
        except AssertionError as exc:
            raise AssertionError(f"killed {label}: {exc}") from exc


def test_sigterm_stops_an_apply_like_ctrl_c(tmp_path: Path) -> None:
    # A cancelled CI job or a stopped container sends SIGTERM: the apply must stop cleanly
    # (message, exit 1, lock released, state saved) so that the next run needs no force-unlock.
    directory = copy_example("per-hostname", tmp_path)
    cli(directory, "apply", "--auto-approve")
    argv = ["--chdir", str(directory), "--sandbox", "apply", "--auto-approve"]
    with subprocess.Popen(
        [sys.executable, "-c", RUN_AOPCTL, *argv, "--var", "app_release=2027"],
        env={**os.environ, **ENV, "AOPCTL_SANDBOX_DEPLOY_DELAY": "6"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        for line in process.stdout:  # the progress line is the event to wait for
            if "waiting until active" in line:
                break
        process.send_signal(signal.SIGTERM)
        status = process.wait(timeout=30)
        stderr = process.stderr.read()

    assert status == 1, (status, stderr)
    assert "Error: interrupted" in stderr and "Traceback" not in stderr, stderr
    assert not list(directory.glob("*.lock")), "the state lock was left behind"
    cli(directory, "apply", "--auto-approve", "--var", "app_release=2027")
    assert_converged(directory, "2027")
