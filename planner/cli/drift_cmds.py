"""`aopctl drift`: the read-only nightly check (planner.drift does the work).

Read-only by construction: the client is opened with `read_only=True` (it refuses anything but
GET before sending it), the state is read without taking the lock, and nothing is written
except the report file the user names with `--output`. `--check-origins` only opens TLS
connections to the addresses given with `--resolve`.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from planner import origin
from planner.cli import options
from planner.cli.config_cmds import load, variable_options
from planner.cli.engine_cmds import connect
from planner.cli.state_cmds import open_backend, state_errors
from planner.drift import (
    CATEGORIES,
    DEFAULT_EXPIRY_DAYS,
    DEFAULT_ORIGIN_PORT,
    MAX_EXPIRY_DAYS,
    Category,
    DriftReport,
    OriginOptions,
    detect_drift,
    load_ignore_rules,
    parse_categories,
)
from planner.errors import AopctlError
from planner.live import Refresher
from planner.render import (
    drift_report_from_dict,
    render_drift_json,
    render_drift_markdown,
    render_drift_text,
)

_CATEGORY_LIST = ", ".join(CATEGORIES)


def _fail_on(ctx: click.Context, param: click.Parameter, value: str) -> frozenset[Category]:
    try:
        return parse_categories(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def render(report: DriftReport, fmt: str, fail_on: frozenset[Category], color: bool) -> str:
    if fmt == "json":
        return render_drift_json(report)
    if fmt == "markdown":
        return render_drift_markdown(report, fail_on=fail_on)
    return render_drift_text(report, color=color, fail_on=fail_on)


def _read_report(path: Path) -> DriftReport:
    try:
        return drift_report_from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError) as exc:
        raise AopctlError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:  # also JSONDecodeError
        raise AopctlError(f"{path}: {exc}") from None


def _check(
    ctx: click.Context,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    expiry_days: int,
    origins: OriginOptions | None,
) -> DriftReport:
    chdir = options(ctx).chdir
    # An expired certificate is what a nightly drift run must report (`expiring`), not fail on.
    config = load(ctx, var_pairs, var_files, expired_is_error=False)
    ignores = load_ignore_rules(chdir)
    with state_errors():
        state = open_backend(chdir).read()  # no lock: drift never writes the state
    with connect(ctx, read_only=True) as client:
        return detect_drift(
            config,
            state,
            Refresher(client),
            ignores=ignores,
            expiry_days=expiry_days,
            origins=origins,
        )


def _origin_options(
    check_origins: bool, resolve: tuple[str, ...], port: int, timeout: float
) -> OriginOptions | None:
    if not check_origins:
        if resolve:
            raise click.UsageError("--resolve is for --check-origins")
        return None
    return OriginOptions(origin.parse_resolve(resolve), port, timeout)


def _effective_fail_on(
    fail_on: frozenset[Category], report: DriftReport, explicit: bool
) -> frozenset[Category]:
    """`all` means the categories the report speaks for; naming `origin` needs an origin check."""
    missing = fail_on - set(report.categories)
    if missing and explicit:
        raise click.UsageError("--fail-on origin needs --check-origins (or a report made with it)")
    return fail_on - missing


@click.command()
@variable_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report in --format to FILE; the terminal then gets the text.",
)
@click.option(
    "--expiry-days",
    type=click.IntRange(0, MAX_EXPIRY_DAYS),
    default=DEFAULT_EXPIRY_DAYS,
    show_default=True,
    help="A certificate expiring within this many days (or expired) is a finding.",
)
@click.option(
    "--fail-on",
    default="all",
    show_default=True,
    callback=_fail_on,
    metavar="CATEGORIES",
    help=f"Exit 2 on findings in these categories (comma-separated: {_CATEGORY_LIST}; "
    "or all, none).",
)
@click.option(
    "--from-report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Render a JSON report written earlier instead of checking (no API call).",
)
@click.option(
    "--check-origins",
    is_flag=True,
    help="Also run `aopctl origin check` on each hostname an enabled binding binds and that "
    "has a --resolve address; origins that let strangers in, refuse the configured "
    "certificate, or cannot be checked are `origin` findings.",
)
@click.option(
    "--resolve",
    "resolve_entries",
    multiple=True,
    metavar="HOST:IP",
    help="With --check-origins: the origin's own address for HOST (DNS gives Cloudflare's "
    "edge), like curl --resolve without its port (repeatable). Bound hostnames without one are "
    "listed, unchecked.",
)
@click.option(
    "--origin-port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_ORIGIN_PORT,
    show_default=True,
    help="With --check-origins: the port of every origin (https://HOST:PORT/).",
)
@click.option(
    "--origin-timeout",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="With --check-origins: seconds per connection.",
)
@click.pass_context
def drift(
    ctx: click.Context,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    expiry_days: int,
    fail_on: frozenset[Category],
    from_report: Path | None,
    check_origins: bool,
    resolve_entries: tuple[str, ...],
    origin_port: int,
    origin_timeout: float,
) -> None:
    """Report drift between configuration, state and Cloudflare, read-only.

    With --check-origins, also prove that each bound hostname's origin refuses connections
    without a valid client certificate (see `aopctl origin check`), connecting to
    https://HOST:PORT/ at the --resolve address of HOST. The default --fail-on all includes
    `origin` only then.

    Exit 0 when nothing is found, 2 on findings in a --fail-on category, 1 on error.
    """
    origins = _origin_options(check_origins, resolve_entries, origin_port, origin_timeout)
    if from_report is not None:
        if origins is not None:
            raise click.UsageError("--check-origins checks live; --from-report only renders")
        report = _read_report(from_report)
    else:
        report = _check(ctx, var_pairs, var_files, expiry_days, origins)
    explicit = ctx.get_parameter_source("fail_on") is not click.core.ParameterSource.DEFAULT
    fail_on = _effective_fail_on(fail_on, report, explicit and fail_on != set(CATEGORIES))
    color = options(ctx).color
    if output is not None:
        try:
            output.write_text(render(report, fmt, fail_on, color=False), encoding="utf-8")
        except OSError as exc:
            raise AopctlError(f"cannot write the report to {output}: {exc.strerror}") from None
        fmt = "text"
    click.echo(render(report, fmt, fail_on, color), nl=False)
    if report.fails(fail_on):
        ctx.exit(2)
