"""`aopctl generate`: configuration and state for AOP objects that already exist."""

from __future__ import annotations

from pathlib import Path

import click

from planner.cli import options
from planner.cli.engine_cmds import connect
from planner.cli.state_cmds import lock_timeout_option, locked, open_backend, state_errors
from planner.drift import MAX_EXPIRY_DAYS
from planner.errors import AopctlError
from planner.generate import GenerateReport, GenerateRequest, generate
from planner.wording import plural


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", title, *(f"  - {line}" for line in lines)] if lines else []


def _expiry(report: GenerateReport) -> list[str]:
    lines = []
    for item in report.expiring:
        what = item.address or f"certificate {item.certificate_id} (skipped)"
        when = f"{item.expires_on:%Y-%m-%d}"
        status = (
            f"expired on {when}"
            if item.expired
            else f"expires on {when} ({plural(item.days_left, 'day')} left)"
        )
        lines.append(f"{what} in zone {item.zone}: {status}")
    return lines


def render_report(report: GenerateReport) -> str:
    """The summary printed after a generate: files, state, what was skipped, what expires."""
    lines = [f"Generated {plural(len(report.addresses), 'resource')} in {report.directory}:"]
    lines += [
        f"  {name}{' (overwritten)' if name in report.overwritten else ''}" for name in report.files
    ]
    lines.append(f"The state ({report.state}) now owns all of them.")
    lines += _section(
        "Skipped (left unmanaged):", [f"{s.zone}: {s.what}: {s.reason}" for s in report.skipped]
    )
    lines += _section("Notes:", list(report.notes))
    if report.key_variables:
        lines += [
            "",
            "Private keys are not available from Cloudflare and are not needed until a "
            "certificate must be uploaded (e.g. rotated); then give its variable with --var, "
            "--var-file or AOP_VAR_<NAME>: " + ", ".join(report.key_variables) + ".",
        ]
    lines += ["", "Run `aopctl plan`: it should report no changes."]
    lines += _section("Certificates expired or expiring soon:", _expiry(report))
    return "\n".join(lines)


@click.command("generate")
@click.option(
    "--zone",
    "zones",
    multiple=True,
    required=True,
    metavar="NAME_OR_ID",
    help="A zone to describe (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory to write into (default: the configuration directory, --chdir).",
)
@click.option("--force", is_flag=True, help="Overwrite existing files and replace the state.")
@click.option(
    "--expiry-days",
    default=30,
    show_default=True,
    type=click.IntRange(0, MAX_EXPIRY_DAYS),
    help="Report certificates expiring within this many days.",
)
@lock_timeout_option
@click.pass_context
def generate_cmd(
    ctx: click.Context,
    zones: tuple[str, ...],
    out: Path | None,
    force: bool,
    expiry_days: int,
    lock_timeout: float,
) -> None:
    """Describe the AOP objects that already exist in the zones: one ZONE.aop.json per zone,
    the certificates under certs/ and a state owning everything, so that the next plan has no
    changes. Only reads from Cloudflare.

    \b
    - SSL mode, global AOP and zone-level AOP settings are always written.
    - Bindings: one per certificate and enabled value, hostnames sorted.
    - Private keys: a sensitive variable NAME_private_key per certificate, needed
      only when a plan must upload it (e.g. a rotation).
    - Skipped and listed: deleted, failed or expired certificates, void or
      removed associations, SSL modes other than full/strict.
    - Existing files or a non-empty state are replaced only with --force.
    """
    directory = out if out is not None else options(ctx).chdir
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AopctlError(f"cannot create {directory}: {exc.strerror or exc}") from exc
    backend = open_backend(directory)
    request = GenerateRequest(zones, directory, force, expiry_days)
    with (
        state_errors(),
        locked(backend, "generate", lock_timeout),
        connect(ctx, read_only=True) as client,
    ):
        report = generate(client, backend, request)
    click.echo(render_report(report))
