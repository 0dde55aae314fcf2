"""`aopctl origin config` and `aopctl origin check`: the origin's side of AOP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from planner import certs, origin
from planner.cli import options
from planner.cli.config_cmds import load, variable_options
from planner.config import Configuration
from planner.config.source import config_files
from planner.errors import AopctlError, CertificateError
from planner.origin import ClientIdentity, OriginResult, Verdict

_COLOURS = {
    Verdict.ENFORCED: "green",
    Verdict.PARTIALLY_VERIFIED: "yellow",
    Verdict.NOT_ENFORCED: "red",
    Verdict.CERTIFICATE_REFUSED: "red",
    Verdict.ERROR: "red",
}


@click.group("origin")
def origin_group() -> None:
    """Make the origin require Cloudflare's client certificate, and prove that it does."""


def _configuration(
    ctx: click.Context, var_pairs: tuple[str, ...], var_files: tuple[Path, ...], *, required: bool
) -> Configuration | None:
    """The configuration when there is one (or it is required); None for a bare directory."""
    if not required and not config_files(options(ctx).chdir):
        return None
    return load(ctx, var_pairs, var_files)


def _read_ca(path: Path) -> tuple[str, str]:
    try:
        return str(path), certs.read_pem_file(path)
    except OSError as exc:
        raise CertificateError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _config_identity(
    config: Configuration | None, for_address: str | None, ca: bool
) -> ClientIdentity:
    if for_address is not None:
        if config is None:
            raise AopctlError("--for needs a configuration (see --chdir)")
        return origin.identity_for_address(config, for_address)
    if ca:
        return origin.identity_for_ca(config)
    if config is not None and config.certificates:
        names = ", ".join(map(str, sorted(config.certificates)))
        click.secho(
            f"Warning: the configuration declares your own certificates ({names}); origins "
            "that receive them must trust the CA that signed them: use --for ADDR --ca FILE",
            fg="yellow",
            err=True,
        )
    global_off = origin.turned_off(config, "aop_global") if config else []
    if global_off:
        click.secho(
            f"Warning: the configuration turns global AOP off ({', '.join(map(str, global_off))}): "
            "Cloudflare presents its shared certificate only to the origins of zones where "
            "it is on",
            fg="yellow",
            err=True,
        )
    return origin.GLOBAL


@origin_group.command("config")
@click.option("--server", type=click.Choice(origin.SERVERS), required=True, help="Origin server.")
@click.option(
    "--for",
    "for_address",
    metavar="ADDR",
    help="The resource whose certificate Cloudflare presents.",
)
@click.option(
    "--ca",
    "ca_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CA that signed your own client certificate.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory to write the CA bundle and the snippet into.",
)
@variable_options
@click.pass_context
def config_cmd(
    ctx: click.Context,
    server: str,
    for_address: str | None,
    ca_file: Path | None,
    out_dir: Path,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
) -> None:
    """Write the CA bundle the origin must trust and a configuration snippet for SERVER.

    Global AOP: Cloudflare's origin-pull CA (shipped with aopctl). Your own certificate: the CA
    named by --ca, checked to have signed the configured client certificate.
    """
    required = for_address is not None or ca_file is not None
    config = _configuration(ctx, var_pairs, var_files, required=required)
    identity = _config_identity(config, for_address, ca_file is not None)
    ca = _read_ca(ca_file) if ca_file is not None else None
    bundle = origin.origin_ca(identity, ca, now=datetime.now(UTC))
    for warning in bundle.warnings:
        click.secho(f"Warning: {warning}", fg="yellow", err=True)
    files = origin.write_origin_config(server, bundle, out_dir)
    click.echo(f"For {identity.label}:")
    click.echo(f"  wrote {files.ca_path} ({bundle.name})")
    click.echo(f"  wrote {files.snippet_path} ({server})")
    click.echo(
        "Load the snippet, reload the server, then prove the origin refuses strangers:\n"
        "  aopctl origin check https://HOSTNAME/ --resolve HOSTNAME:ORIGIN_IP"
        + (f" --for {for_address}" if for_address else "")
    )


def _render(result: OriginResult, identity: ClientIdentity) -> None:
    where = f" ({result.address})" if result.address else ""
    verdict = result.verdict.value
    shown = verdict if result.ok else verdict.upper()
    click.echo(f"{result.hostname}{where}: ", nl=False)
    click.secho(shown, fg=_COLOURS[result.verdict], bold=not result.ok)
    click.echo(f"  {result.reason}")
    click.echo(f"  Cloudflare presents: {identity.label}")
    width = max((len(probe.presented) for probe in result.probes), default=0)
    for probe in result.probes:
        click.echo(f"    {probe.presented:<{width}}  {probe.outcome:<8}  {probe.detail}")


def _summary(results: list[OriginResult]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.verdict.value] = counts.get(result.verdict.value, 0) + 1
    return ", ".join(f"{count} {verdict}" for verdict, count in counts.items())


@origin_group.command("check")
@click.argument("urls", nargs=-1, required=True, metavar="URL...")
@click.option(
    "--resolve",
    "resolve_entries",
    multiple=True,
    metavar="HOST:IP",
    help="Connect to IP for HOST, like curl --resolve without its port (repeatable).",
)
@click.option(
    "--for", "for_address", metavar="ADDR", help="The resource whose certificate to present."
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.01),
    default=10.0,
    show_default=True,
    help="Seconds per connection.",
)
@variable_options
@click.pass_context
def check_cmd(
    ctx: click.Context,
    urls: tuple[str, ...],
    resolve_entries: tuple[str, ...],
    for_address: str | None,
    timeout: float,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
) -> None:
    """Prove each origin refuses TLS connections without a valid client certificate.

    Connects directly (not through Cloudflare) with no certificate, with a throwaway
    self-signed one and, for your own certificates, with the configured one. Exit 0 when all
    are enforced or partially verified (global AOP), 2 when any is not, 1 on errors.
    """
    targets = [origin.parse_origin_url(url) for url in urls]
    resolve = origin.parse_resolve(resolve_entries)
    unused = sorted(set(resolve) - {target.hostname for target in targets})
    if unused:
        raise AopctlError(f"--resolve names hosts that no URL uses: {', '.join(unused)}")
    config = _configuration(ctx, var_pairs, var_files, required=for_address is not None)
    for_identity = (
        origin.identity_for_address(config, for_address) if config and for_address else None
    )
    results: list[OriginResult] = []
    for target in targets:
        identity = for_identity or origin.identity_for_hostname(config, target.hostname)
        credentials = origin.client_credentials(identity)
        result = origin.check_origin(
            target.url,
            resolve=resolve.get(target.hostname),
            client_cert_pem=credentials[0] if credentials else None,
            client_key_pem=credentials[1] if credentials else None,
            timeout=timeout,
        )
        _render(result, identity)
        results.append(result)
    if len(results) > 1:
        click.echo(f"\n{_summary(results)}")
    code = origin.exit_code(results)
    if code:
        raise click.exceptions.Exit(code)
