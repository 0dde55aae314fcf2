"""The local CPU cost of `plan` at 10,000 hostnames in 100 zones, with zero API latency.

    python -m benchmarks.profile_plan [--zones 100] [--hostnames-per-zone 100] [--top 25]

Set-up (not measured): generate the configuration, apply it in-process against a `Sandbox`
through its in-process transport (no delays, no rate limit), then plan once more while
recording every response. The measurement runs in a fresh child process that plans the
unchanged state exactly as `aopctl plan` does (load the configuration, read the state, refresh,
compare, render), answered from the recorded responses: what remains is aopctl's own cost,
not the sandbox's. It is timed once, then profiled with cProfile (zones read one after another
then, because cProfile only sees its own thread); the child's peak RSS comes from `os.wait4`.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import resource
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
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
from planner.cli.state_cmds import open_backend
from planner.config import VariableInputs, load_configuration
from planner.live import LiveZone, Needs, Refresher
from planner.plan import make_plan
from planner.render import render_text
from planner.sandbox import Sandbox
from state.memory import MemoryBackend

RESPONSES = "responses.json"
Recorded = dict[str, tuple[int, dict[str, str], str]]


class _Recording(httpx.BaseTransport):
    """Passes requests on and keeps every answer, keyed by method and URL."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.recorded: Recorded = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        key = f"{request.method} {request.url}"
        self.recorded[key] = (response.status_code, dict(response.headers), body.decode())
        return response


class _Replaying(httpx.BaseTransport):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.recorded[f"{request.method} {request.url}"]
        return httpx.Response(status, headers=headers, content=body.encode(), request=request)


class _SerialRefresher(Refresher):
    """Reads the zones one after another in the calling thread: cProfile sees only that one."""

    def refresh(self, zones: Mapping[str, Needs]) -> dict[str, LiveZone]:
        found = (
            self._zone(zone_id, {name: read() for name, read in self._reads(zone_id, n).items()})
            for zone_id, n in sorted(zones.items())
        )
        return {zone.zone_id: zone for zone in found}


def plan_once(
    directory: Path, transport: httpx.BaseTransport, refresher: type[Refresher] = Refresher
) -> str:
    """What `aopctl plan` does: load, read the state, refresh, compare, render."""
    config = load_configuration(directory, VariableInputs(), env={})
    state = open_backend(directory).read()
    with profile_client(transport) as client:
        result = make_plan(config, state, refresher(client))
    return render_text(result.plan, color=False)


def set_up(directory: Path, scale: Scale, layout: str) -> None:
    """Apply the configuration in-process, then record the answers of an unchanged plan."""
    write_configuration(directory, scale, layout)
    sandbox = Sandbox(scale.zone_names(), rate_limit=None)
    config = load_configuration(directory, VariableInputs(), env={})
    memory = MemoryBackend(__version__)  # the local file is written once, at the end
    with profile_client(sandbox.transport()) as client:
        result = make_plan(config, memory.read(), Refresher(client))
        apply_plan(result, client, memory, QuietReporter(), ApplySettings(poll_initial=0.01))
    open_backend(directory).write(memory.document, expected_serial=0)
    recording = _Recording(sandbox.transport())
    plan_once(directory, recording)
    (directory / RESPONSES).write_text(json.dumps(recording.recorded))


def measure(directory: Path, top: int) -> dict[str, Any]:
    """In the child: one timed plan, then one under cProfile."""
    recorded: Recorded = json.loads((directory / RESPONSES).read_text())
    transport = _Replaying(recorded)
    text, cpu = cpu_timed(lambda: plan_once(directory, transport))
    if "No changes" not in text:
        raise RuntimeError("the profiled plan is not the unchanged one:\n" + text[:2000])
    # What `aopctl plan` would have used by now: interpreter start, imports, the plan.
    process = {
        "cpu_s": round(time.process_time(), 3),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    profiler = cProfile.Profile()
    profiler.runcall(plan_once, directory, transport, _SerialRefresher)
    return {
        "plan_cpu_s": round(cpu, 3),
        "process_after_plan": process,
        "requests": len(recorded),
        "top": top_functions([profiler], top),
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = scale_arguments("python -m benchmarks.profile_plan", __doc__.split("\n\n")[0])
    parser.add_argument("--top", type=int, default=25, help="How many functions to print.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.measure is not None:
        print(json.dumps(measure(args.measure, args.top)))
        return 0
    scale = Scale.parse(f"{args.zones}x{args.hostnames_per_zone}")
    with tempfile.TemporaryDirectory(prefix="aopctl-profile-") as temporary:
        directory = Path(temporary)
        started = time.perf_counter()
        set_up(directory, scale, args.layout)
        print(f"set-up ({scale.hostnames} hostnames applied): {time.perf_counter() - started:.1f}s")
        command = [sys.executable, "-m", "benchmarks.profile_plan", f"--top={args.top}"]
        usage = run_process([*command, f"--measure={directory}"], {}, directory / "child.log")
    return report(usage, args, scale, child_process_with_profiling=usage.as_dict())


if __name__ == "__main__":
    sys.exit(main())
