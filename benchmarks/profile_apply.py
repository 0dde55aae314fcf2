"""The local CPU cost of `apply` at scale, with zero API latency and a local state file.

    python -m benchmarks.profile_apply [--zones 100] [--hostnames-per-zone 100]
        [--layout certificate|hostname] [--rotate] [--top 25]

Set-up (not measured): generate the configuration. The measurement runs in a fresh child
process that does what `aopctl apply --auto-approve` does: load the configuration, take the
lock of a local state file, plan against an in-process `Sandbox` (no latency, no rate limit,
deployments and deletions of `--deploy-delay`/`--delete-delay` seconds), apply, unlock. With
`--rotate` a first apply (not measured) precedes the measured one, which rotates every
certificate (`release=2`).

Reported: the CPU time (all threads) of loading, planning and applying; the part of the apply's
spent inside the in-process sandbox (aopctl's own cost is the difference); the number of state
writes and the wall and CPU time spent in them; the process's peak RSS. Then the same run
again, from scratch, with the apply under cProfile: in the main thread and in every thread the
apply starts (cProfile only sees the thread it runs in, so each gets its own), timed by each
thread's CPU clock, so waits on locks, sleeps and polls do not count.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from benchmarks.measure import run_process
from benchmarks.profiling import (
    QuietReporter,
    cpu_timed,
    profile_client,
    report,
    scale_arguments,
    top_functions,
)
from benchmarks.scenarios import Scale, write_configuration
from planner import __version__
from planner.apply import ApplySettings, apply_plan
from planner.config import VariableInputs, load_configuration
from planner.live import Refresher
from planner.plan import make_plan
from planner.sandbox import Sandbox
from state import LocalBackend, StateDocument, hold_lock

STATE_FILE = "aopctl.state.json"
SETTINGS = ApplySettings(poll_initial=0.01)  # the deployments take tens of milliseconds here


class _MeteredTransport(httpx.BaseTransport):
    """Counts the CPU spent answering in the in-process sandbox (in the calling thread)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.cpu_s = 0.0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.thread_time()
        try:
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self.cpu_s += time.thread_time() - started


class _MeteredBackend(LocalBackend):
    """A local state file that counts its writes and the time they take."""

    writes = 0
    wall_s = 0.0
    cpu_s = 0.0

    def write(self, doc: StateDocument, expected_serial: int) -> StateDocument:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return super().write(doc, expected_serial)
        finally:  # the apply serialises its writes: these intervals never overlap
            self.writes += 1
            self.wall_s += time.perf_counter() - wall
            self.cpu_s += time.thread_time() - cpu


@dataclass(frozen=True)
class Run:
    """How one measured run is set up."""

    directory: Path  # the configuration
    zones: list[str]
    rotate: bool
    deploy_delay: float
    delete_delay: float


def _apply(
    run: Run,
    backend: LocalBackend,
    transport: httpx.BaseTransport,
    release: str,
    profilers: list[cProfile.Profile] | None = None,
) -> dict[str, float]:
    """Load, plan and apply `release` as `aopctl apply --auto-approve` does; CPU per phase.

    With `profilers`, the apply phase runs under cProfile and its profiles are added there."""
    variables = VariableInputs(cli={"release": release})
    config, load_cpu = cpu_timed(lambda: load_configuration(run.directory, variables, env={}))
    with hold_lock(backend, "apply"), profile_client(transport) as client:
        result, plan_cpu = cpu_timed(lambda: make_plan(config, backend.read(), Refresher(client)))
        with _profiling(profilers) if profilers is not None else nullcontext():
            outcome, apply_cpu = cpu_timed(
                lambda: apply_plan(result, client, backend, QuietReporter(), SETTINGS)
            )
    if outcome.not_done or not result.plan.has_changes:
        raise RuntimeError(f"the measured apply did not complete: {outcome.not_done}")
    return {"load_cpu_s": load_cpu, "plan_cpu_s": plan_cpu, "apply_cpu_s": apply_cpu}


@contextmanager
def _profiling(profilers: list[cProfile.Profile]) -> Iterator[None]:
    """cProfile in this thread and in every thread started meanwhile (the apply's workers)."""
    workers: list[cProfile.Profile] = []

    def start_in_thread(frame: FrameType, event: str, arg: Any) -> None:
        sys.setprofile(None)  # this hook only starts the thread's own profiler
        workers.append(cProfile.Profile(time.thread_time))
        workers[-1].enable()

    main = cProfile.Profile(time.thread_time)
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)
    profilers.extend([main, *workers])


def measured_run(
    run: Run, state_dir: Path, profilers: list[cProfile.Profile] | None = None
) -> dict[str, Any]:
    """One apply from scratch (after an unmeasured first apply with `rotate`)."""
    sandbox = Sandbox(
        run.zones,
        deploy_delay=run.deploy_delay,
        delete_delay=run.delete_delay,
        rate_limit=None,
    )
    state_dir.mkdir()
    backend = _MeteredBackend(state_dir / STATE_FILE, aopctl_version=__version__)
    transport = _MeteredTransport(sandbox.transport())
    if run.rotate:
        _apply(run, backend, transport, release="1")
        backend.writes, backend.wall_s, backend.cpu_s, transport.cpu_s = 0, 0.0, 0.0, 0.0
    phases = _apply(run, backend, transport, "2" if run.rotate else "1", profilers)
    figures: dict[str, Any] = {name: round(value, 3) for name, value in phases.items()}
    figures.update(
        sandbox_cpu_s=round(transport.cpu_s, 3),
        aopctl_apply_cpu_s=round(phases["apply_cpu_s"] - transport.cpu_s, 3),
        state_writes=backend.writes,
        state_write_wall_s=round(backend.wall_s, 3),
        state_write_cpu_s=round(backend.cpu_s, 3),
        state_bytes=(state_dir / STATE_FILE).stat().st_size,
    )
    return figures


def measure(directory: Path, run: Run, top: int) -> dict[str, Any]:
    """In the child: one timed run, then (with `top`) the same from scratch under cProfile."""
    figures = measured_run(run, directory / "timed")
    figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if top:
        profilers: list[cProfile.Profile] = []
        measured_run(run, directory / "profiled", profilers)
        figures["top"] = top_functions(profilers, top)
    return figures


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = scale_arguments("python -m benchmarks.profile_apply", __doc__.split("\n\n")[0])
    parser.add_argument(
        "--rotate", action="store_true", help="Measure the rotation after a first apply."
    )
    parser.add_argument("--deploy-delay", type=float, default=0.05, help="Seconds.")
    parser.add_argument("--delete-delay", type=float, default=0.05, help="Seconds.")
    parser.add_argument("--top", type=int, default=25, help="Functions to print; 0: no profile.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    scale = Scale.parse(f"{args.zones}x{args.hostnames_per_zone}")
    if args.measure is not None:
        run = Run(
            args.measure, scale.zone_names(), args.rotate, args.deploy_delay, args.delete_delay
        )
        print(json.dumps(measure(args.measure, run, args.top)))
        return 0
    with tempfile.TemporaryDirectory(prefix="aopctl-profile-") as temporary:
        directory = Path(temporary)
        write_configuration(directory, scale, args.layout)
        command = [sys.executable, "-m", "benchmarks.profile_apply", *(argv or sys.argv[1:])]
        usage = run_process([*command, f"--measure={directory}"], {}, directory / "child.log")
    step = "rotation" if args.rotate else "first apply"
    return report(usage, args, scale, step=step, child_process=usage.as_dict())


if __name__ == "__main__":
    sys.exit(main())
