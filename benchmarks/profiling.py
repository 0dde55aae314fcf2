"""What the two profiling scripts (`profile_plan`, `profile_apply`) share: an in-process client
that never waits, a silent reporter, CPU timing, the cProfile summary and the common options."""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from benchmarks.measure import ProcessUsage
from benchmarks.scenarios import LAYOUTS, Scale
from planner.cloudflare import CloudflareClient, Credentials, RateLimiter

BASE_URL = "https://api.cloudflare.com/client/v4"
T = TypeVar("T")


class QuietReporter:
    def step_started(self, step: str, message: str) -> None: ...
    def step_progress(self, step: str, message: str) -> None: ...
    def step_finished(self, step: str, message: str) -> None: ...


def profile_client(transport: httpx.BaseTransport) -> CloudflareClient:
    return CloudflareClient(
        Credentials.from_token("profile-token"),
        base_url=BASE_URL,
        transport=transport,
        rate_limiter=RateLimiter(10**9),  # never waits: only CPU is measured here
    )


def cpu_timed(action: Callable[[], T]) -> tuple[T, float]:
    """`action()` and the CPU seconds (this process, all threads) it took."""
    started = time.process_time()
    value = action()
    return value, time.process_time() - started


def top_functions(profilers: Iterable[cProfile.Profile], count: int) -> str:
    """The `count` most expensive functions, by own time and by cumulative time."""
    out = io.StringIO()
    stats = pstats.Stats(*profilers, stream=out)
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(count)
    return out.getvalue()


def scale_arguments(prog: str, description: str) -> argparse.ArgumentParser:
    """The options both scripts take: the scale, the layout, where to write the figures."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--zones", type=int, default=100)
    parser.add_argument("--hostnames-per-zone", type=int, default=100)
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default="certificate",
        help="One binding per certificate (default) or one per hostname.",
    )
    parser.add_argument("--out", type=Path, help="Also write the figures as JSON here.")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's mode
    return parser


def report(usage: ProcessUsage, args: argparse.Namespace, scale: Scale, **facts: Any) -> int:
    """Print what the measuring child found (its profile, then its figures as JSON, also
    written to `--out`); the exit code."""
    if usage.exit_code != 0:
        print(usage.output, file=sys.stderr)
        return 1
    figures = json.loads(usage.output.splitlines()[-1])
    print(figures.pop("top", ""))
    figures.update(hostnames=scale.hostnames, zones=scale.zones, layout=args.layout, **facts)
    print(json.dumps(figures, indent=2))
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0
