"""Run aopctl and the one-request-per-object baseline at several scales; print and save JSON.

    python -m benchmarks.run [--scales 1x10,1x100,1x1000,10x20,100x20] [--latency-ms 50]
                             [--deploy-delay 2] [--delete-delay 1] [--out FILE]

Per scale: generate the configuration, start the sandbox in its own process (Cloudflare's
1200 requests / 300 s limit enforced, a fresh window for every run), then run aopctl as a
subprocess: first `apply`, `plan` on the unchanged state, `apply --var release=2` (every
certificate rotated), `drift`; then replay the baseline's requests for the same four steps.
See benchmarks/README.md for what is measured and how to read it.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tabulate import tabulate

from benchmarks.measure import Window, aopctl_command, client_env, run_process
from benchmarks.sandbox_server import SandboxProcess
from benchmarks.scenarios import DEFAULT_SCALES, Scale, write_configuration
from planner.sandbox import zone_id_for  # the sandbox derives zone ids from zone names

CLOUDFLARE_LIMIT = (1200, 300.0)  # requests per window seconds
STEPS = ("apply", "plan", "rotate", "drift")
STEP_TITLES = {
    "apply": "first apply",
    "plan": "plan, unchanged",
    "rotate": "rotate every certificate",
    "drift": "drift",
}
ASSOCIATIONS_PER_PAGE = 1000
BASELINE_STATE = "baseline-state.json"


class BenchmarkError(RuntimeError):
    """A step did not do what the benchmark expects; its figures would mean nothing."""


@dataclass(frozen=True)
class Settings:
    latency_ms: float
    deploy_delay: float
    delete_delay: float
    parallelism: int


def rate_limit_floor(requests: int) -> float:
    """The least time `requests` take without going over Cloudflare's limit (fresh window)."""
    limit, window = CLOUDFLARE_LIMIT
    return max(0, math.ceil(requests / limit) - 1) * window


# -- one scale -----------------------------------------------------------------------------


def _aopctl_arguments(scale: Scale, step: str) -> list[str]:
    """aopctl's arguments after `--chdir DIR` for `step`; every step must exit 0."""
    release = ["--var", "release=2"] if scale.can_rotate else []
    return {
        "apply": ["apply", "--auto-approve"],
        "plan": ["plan", "--detailed-exitcode"],  # 2 would mean the state is not unchanged
        "rotate": ["apply", "--auto-approve", *release],
        "drift": ["drift", *release],  # 2 would mean findings
    }[step]


def _baseline_arguments(
    scale: Scale, step: str, config_dir: Path, url: str, threads: int
) -> list[str]:
    return [
        sys.executable, "-m", "benchmarks.baseline", step, f"--scale={scale}",
        f"--config={config_dir}", f"--state={config_dir / BASELINE_STATE}",
        f"--base-url={url}", f"--parallelism={threads}",
    ]  # fmt: skip


def _measure(sandbox: SandboxProcess, what: str, command: list[str], log: Path) -> dict[str, Any]:
    """Run `command` to completion; its resources and the requests the sandbox received."""
    first, started = sandbox.request_count(), time.time()
    usage = run_process(command, client_env(sandbox.url), log)
    window = Window.collect(sandbox, first, started, time.time())
    if usage.exit_code != 0:
        tail = "\n".join(usage.output.splitlines()[-15:])
        raise BenchmarkError(f"{what} exited {usage.exit_code} (log: {log}):\n{tail}")
    return {**usage.as_dict(), "requests": window.summary()}


def _run_aopctl(
    sandbox: SandboxProcess, config_dir: Path, scale: Scale, step: str
) -> dict[str, Any]:
    sandbox.fresh_quota(CLOUDFLARE_LIMIT)
    command = [*aopctl_command(), "--chdir", str(config_dir), *_aopctl_arguments(scale, step)]
    return _measure(sandbox, f"aopctl's {step}", command, config_dir / f"aopctl-{step}.log")


def _run_baseline(
    sandbox: SandboxProcess, config_dir: Path, scale: Scale, step: str, threads: int
) -> dict[str, Any]:
    sandbox.fresh_quota(None)  # replayed unthrottled; the limit's cost is added as a floor
    command = _baseline_arguments(scale, step, config_dir, sandbox.url, threads)
    run = _measure(sandbox, f"the baseline's {step}", command, config_dir / f"baseline-{step}.log")
    floor = rate_limit_floor(run["requests"]["total"])
    return {**run, "rate_limit_floor_s": floor, "effective_wall_s": max(run["wall_s"], floor)}


def aopctl_startup(workdir: Path) -> dict[str, Any]:
    """`aopctl version`, best of three: the start-up every aopctl step pays before any work."""
    runs = [
        run_process([*aopctl_command(), "version"], client_env(""), workdir / "version.log")
        for _ in range(3)
    ]
    return min(runs, key=lambda usage: usage.wall_s).as_dict()


def _ratios(aopctl: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float]:
    return {
        "requests": round(aopctl["requests"]["total"] / max(1, baseline["requests"]["total"]), 4),
        "wall": round(aopctl["wall_s"] / max(1e-9, baseline["effective_wall_s"]), 4),
    }


def run_scale(scale: Scale, settings: Settings, workdir: Path) -> dict[str, Any]:
    config_dir = workdir / f"scale-{scale}"
    config_dir.mkdir(parents=True)
    write_configuration(config_dir, scale)
    baseline_zones = {zone: zone_id_for(zone) for zone in scale.zone_names("b")}
    state = {"zone_ids": baseline_zones}  # the baseline tool's configuration
    (config_dir / BASELINE_STATE).write_text(json.dumps(state, indent=1) + "\n")
    zones = scale.zone_names("z") + scale.zone_names("b")
    steps = [s for s in STEPS if s != "rotate" or scale.can_rotate]
    runs: dict[str, dict[str, Any]] = {}
    with SandboxProcess(
        zones,
        latency_ms=settings.latency_ms,
        deploy_delay=settings.deploy_delay,
        delete_delay=settings.delete_delay,
    ) as sandbox:
        for step in steps:
            runs[step] = {"aopctl": _run_aopctl(sandbox, config_dir, scale, step)}
        for step in steps:
            runs[step]["baseline"] = _run_baseline(
                sandbox, config_dir, scale, step, settings.parallelism
            )
            runs[step]["ratio"] = _ratios(runs[step]["aopctl"], runs[step]["baseline"])
    if not scale.can_rotate:
        runs["rotate"] = {"skipped": _no_rotation(scale)}
    result = {
        "scale": str(scale),
        "zones": scale.zones,
        "hostnames": scale.hostnames,
        "certificates": scale.certificates,
        "runs": runs,
    }
    return {**result, "targets": targets(scale, runs)}


def _no_rotation(scale: Scale) -> str:
    return (
        f"every zone holds {scale.certificates_per_zone} hostname certificates, Cloudflare's "
        "maximum: a zero-downtime rotation uploads the new certificate before deleting the old"
        " one and needs a free slot (neither aopctl nor the baseline can rotate here)"
    )


# -- targets -------------------------------------------------------------------------------


def targets(scale: Scale, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets that this scale can check, each with the figures behind it."""
    measured = [run["aopctl"] for run in runs.values() if "aopctl" in run]
    found: dict[str, Any] = {
        "zero_429": all(run["requests"]["rate_limited_429"] == 0 for run in measured),
    }
    pages = math.ceil(scale.hostnames_per_zone / ASSOCIATIONS_PER_PAGE)
    # SSL setting + both certificate lists + association pages (zone ids come from the state)
    bound = 1 + 2 + pages
    per_zone = runs["plan"]["aopctl"]["requests"]["total"] / scale.zones
    found["refresh_requests_per_zone"] = {"measured": per_zone, "bound": bound}
    found["refresh_within_bound"] = per_zone <= bound
    rotate = runs["rotate"].get("aopctl")
    if rotate is not None:
        endpoints = rotate["requests"]["by_endpoint"]
        per_cert = {
            "uploads": endpoints.get("POST hostname certificates", 0) / scale.certificates,
            "puts": endpoints.get("PUT hostnames", 0) / scale.certificates,
            "deletes": endpoints.get("DELETE hostname certificate", 0) / scale.certificates,
        }
        found["rotation_per_certificate"] = per_cert
        found["rotation_within_bound"] = (
            per_cert["uploads"] == 1 and per_cert["deletes"] == 1 and per_cert["puts"] <= 2
        )
    ours = sum(run["aopctl"]["wall_s"] for run in runs.values() if "aopctl" in run)
    theirs = sum(run["baseline"]["effective_wall_s"] for run in runs.values() if "baseline" in run)
    found["wall_ratio_all_steps"] = round(ours / max(1e-9, theirs), 4)
    found["fewer_requests_than_baseline"] = all(
        run["ratio"]["requests"] < 1 for run in runs.values() if "ratio" in run
    )
    return found


# -- output --------------------------------------------------------------------------------


def _row(step: str, tool: str, run: dict[str, Any]) -> list[Any]:
    methods = run["requests"]["by_method"]
    wall = run.get("effective_wall_s", run["wall_s"])
    return [
        STEP_TITLES[step] if tool == "aopctl" else "",
        tool,
        *(methods.get(m, 0) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")),
        run["requests"]["total"],
        run["requests"]["rate_limited_429"],
        f"{wall:.2f}",
        f"{run['cpu_s']:.2f}" if "cpu_s" in run else "",
        f"{run['max_rss_mb']:.0f}" if "max_rss_mb" in run else "",
        f"{run['requests']['deploy_wait_s']:.1f}",
    ]


HEADERS = ["step", "tool", "GET", "POST", "PUT", "PATCH", "DEL", "total", "429"]
HEADERS += ["wall s", "CPU s", "RSS MB", "deploy wait s"]


def render(result: dict[str, Any]) -> str:
    rows = []
    for step in STEPS:
        run = result["runs"].get(step, {})
        if "skipped" in run:
            rows.append([STEP_TITLES[step], "skipped", *[""] * (len(HEADERS) - 2)])
            continue
        rows.append(_row(step, "aopctl", run["aopctl"]))
        rows.append(_row(step, "baseline", run["baseline"]))
        ratio = run["ratio"]
        rows.append(["", "ratio", "", "", "", "", "", ratio["requests"], "", ratio["wall"]])
    title = (
        f"scale {result['scale']}: {result['zones']} zone(s), {result['hostnames']} hostnames, "
        f"{result['certificates']} certificate(s)"
    )
    skipped = result["runs"]["rotate"].get("skipped")
    note = f"\nrotation skipped: {skipped}" if skipped else ""
    checks = json.dumps(result["targets"], sort_keys=True)
    return f"{title}\n{tabulate(rows, HEADERS, disable_numparse=True)}{note}\ntargets: {checks}\n"


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MARKDOWN_HEADER = (
    "| scale | step | requests aopctl | requests baseline | ratio | wall s aopctl "
    "| wall s baseline | ratio | CPU s aopctl | RSS MB aopctl | deploy wait s aopctl / baseline "
    "| 429 |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def _methods(run: dict[str, Any]) -> str:
    """`total (GET/POST/PUT/PATCH/DELETE)`."""
    counts = run["requests"]["by_method"]
    return f"{run['requests']['total']} ({'/'.join(str(counts.get(m, 0)) for m in METHODS)})"


def markdown_table(report: dict[str, Any]) -> str:
    """Every measured step of `report` as one Markdown table (for benchmarks/README.md)."""
    lines = []
    for result in report["scales"]:
        for step in STEPS:
            run = result["runs"].get(step, {})
            if "skipped" in run:
                lines.append(f"| {result['scale']} | {STEP_TITLES[step]} | skipped (zone full) |")
                continue
            ours, theirs = run["aopctl"], run["baseline"]
            floor = " (rate-limit floor)" if theirs["rate_limit_floor_s"] > theirs["wall_s"] else ""
            ours_429 = ours["requests"]["rate_limited_429"]
            cells = [
                result["scale"],
                STEP_TITLES[step],
                _methods(ours),
                _methods(theirs),
                f"{run['ratio']['requests']:.3f}",
                f"{ours['wall_s']:.1f}",
                f"{theirs['effective_wall_s']:.1f}{floor}",
                f"{run['ratio']['wall']:.3f}",
                f"{ours['cpu_s']:.2f}",
                f"{ours['max_rss_mb']:.0f}",
                f"{ours['requests']['deploy_wait_s']:.1f} / "
                f"{theirs['requests']['deploy_wait_s']:.1f}",
                str(ours_429),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return MARKDOWN_HEADER + "\n".join(lines) + "\n"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--scales", default=",".join(DEFAULT_SCALES), help="ZONESxHOSTNAMES,...")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="Added to every request.")
    parser.add_argument("--deploy-delay", type=float, default=2.0, help="Seconds until active.")
    parser.add_argument("--delete-delay", type=float, default=1.0, help="Seconds until deleted.")
    parser.add_argument("--parallelism", type=int, default=10, help="The baseline's threads.")
    parser.add_argument("--out", type=Path, default=Path("benchmark-results.json"))
    parser.add_argument("--markdown", type=Path, help="Also write a Markdown table here.")
    parser.add_argument("--workdir", type=Path, help="Keep configurations and logs here.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        scales = [Scale.parse(text) for text in args.scales.split(",") if text]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    settings = Settings(args.latency_ms, args.deploy_delay, args.delete_delay, args.parallelism)
    report: dict[str, Any] = {
        "settings": asdict(settings),
        "cloudflare_rate_limit": list(CLOUDFLARE_LIMIT),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "scales": [],
    }
    with tempfile.TemporaryDirectory(prefix="aopctl-bench-") as temporary:
        workdir = args.workdir or Path(temporary)
        workdir.mkdir(parents=True, exist_ok=True)
        report["aopctl_startup"] = aopctl_startup(workdir)
        for scale in scales:
            try:
                result = run_scale(scale, settings, workdir)
            except BenchmarkError as exc:
                print(f"error at scale {scale}: {exc}", file=sys.stderr)
                return 1
            report["scales"].append(result)
            print(render(result), flush=True)
            args.out.write_text(json.dumps(report, indent=2) + "\n")
            if args.markdown:
                args.markdown.write_text(markdown_table(report))
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
