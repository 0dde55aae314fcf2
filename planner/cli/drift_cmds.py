"""`aopctl drift`: the read-only nightly check (planner.drift does the work).

Read-only by construction: the client is opened with `read_only=True` (it refuses anything but
GET before sending it), the state is read without taking the lock, and nothing is written
except the report file the user names with `--output`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from planner.cli import options
from planner.cli.config_cmds import load, variable_options
from planner.cli.engine_cmds import connect
from planner.cli.state_cmds import open_backend, state_errors
from planner.drift import (
    CATEGORIES,
    DEFAULT_EXPIRY_DAYS,
    Category,
    DriftReport,
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
    ctx: click.Context, var_pairs: tuple[str, ...], var_files: tuple[Path, ...], expiry_days: int
) -> DriftReport:
    chdir = options(ctx).chdir
    config = load(ctx, var_pairs, var_files)
    ignores = load_ignore_rules(chdir)
    with state_errors():
        state = open_backend(chdir).read()  # no lock: drift never writes the state
    with connect(ctx, read_only=True) as client:
        return detect_drift(
            config, state, Refresher(client), ignores=ignores, expiry_days=expiry_days
        )


class _UsageError(click.UsageError):
    exit_code = 1


class DriftCommand(click.Command):
    """Usage errors exit 1 instead of click's 2: for drift, 2 means findings."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _UsageError(exc.format_message(), exc.ctx) from None


@click.command(cls=DriftCommand)
@variable_options
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report in --format to FILE; the terminal then gets the text.",
)
@click.option(
    "--expiry-days",
    type=click.IntRange(min=0),
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
) -> None:
    """Report drift between configuration, state and Cloudflare, read-only.

    Exit 0 when nothing is found, 2 on findings in a --fail-on category, 1 on error.
    """
    if from_report is not None:
        report = _read_report(from_report)
    else:
        report = _check(ctx, var_pairs, var_files, expiry_days)
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
