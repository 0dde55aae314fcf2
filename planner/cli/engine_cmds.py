"""plan, apply and destroy: wiring the configuration, state, client and renderers."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from planner.apply import ApplySettings, apply_plan
from planner.cli import options
from planner.cli.config_cmds import load, variable_options
from planner.cli.state_cmds import (
    duration_option,
    lock_timeout_option,
    locked,
    open_backend,
    state_errors,
)
from planner.cloudflare import CloudflareClient, Credentials, RateLimiter
from planner.config import Configuration, parse_cli_vars
from planner.errors import AopctlError
from planner.live import Needs, Refresher
from planner.model import SETTING_OF, ZONE_ID_RE, Address, ResourceConfig
from planner.plan import (
    CERTIFICATES,
    PlanOptions,
    PlanResult,
    live_attributes_for_type,
    live_attributes_of_certificate,
    make_plan,
)
from planner.planfile import read_plan_file, stored_variables, verify_replan, write_plan_file
from planner.render import render_json, render_markdown, render_text
from state import ResourceState, StateBackend, StateDocument

F = TypeVar("F", bound=Callable[..., Any])
SANDBOX_TOKEN = "sandbox-token"  # any non-empty token works against the sandbox


def announce_rate_limit_wait(seconds: float) -> None:
    minutes, rest = divmod(round(seconds), 60)
    duration = f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
    click.echo(
        f"Cloudflare API rate limit: no requests for about {duration}, until the window resets.",
        err=True,
    )


@contextmanager
def connect(ctx: click.Context, *, read_only: bool = False) -> Iterator[CloudflareClient]:
    """A client for Cloudflare, or for the configuration's sandbox with --sandbox."""
    opts = options(ctx)
    env = dict(os.environ)
    limiter = RateLimiter(on_long_wait=announce_rate_limit_wait)
    if opts.sandbox:
        from planner.sandbox import SandboxConfigError, default_path, open_persistent

        try:
            sandbox = open_persistent(default_path(opts.chdir))
            sandbox.snapshot()  # a damaged account file is an error here, not in a request
        except SandboxConfigError as exc:
            raise AopctlError(f"sandbox settings: {exc}") from None
        has_credentials = env.get("CLOUDFLARE_API_TOKEN") or env.get("CLOUDFLARE_API_KEY")
        credentials = (
            Credentials.from_env(env) if has_credentials else Credentials.from_token(SANDBOX_TOKEN)
        )
        client = CloudflareClient(
            credentials,
            base_url="http://sandbox.aopctl.invalid/client/v4",
            transport=sandbox.transport(),
            rate_limiter=limiter,
            read_only=read_only,
        )
    else:
        client = CloudflareClient.from_env(env, rate_limiter=limiter, read_only=read_only)
    with client:
        yield client


def parse_addresses(values: tuple[str, ...], option: str) -> tuple[Address, ...]:
    try:
        return tuple(Address.parse(v) for v in values)
    except ValueError as exc:
        raise AopctlError(f"{option}: {exc}") from None


def render(result: PlanResult, fmt: str, color: bool) -> str:
    if fmt == "json":
        return render_json(result.plan)
    if fmt == "markdown":
        return render_markdown(result.plan)
    return render_text(result.plan, color=color)


def _plan(
    config: Configuration | None,
    backend: StateBackend,
    client: CloudflareClient,
    plan_options: PlanOptions,
) -> PlanResult:
    with state_errors():
        state = backend.read()
    return make_plan(config, state, Refresher(client), plan_options)


def plan_options_from(mode: str, targets: tuple[str, ...], replace: tuple[str, ...]) -> PlanOptions:
    return PlanOptions(
        mode=mode,
        targets=parse_addresses(targets, "--target"),
        replace=parse_addresses(replace, "--replace"),
    )


def _mode(destroy: bool, refresh_only: bool) -> str:
    if destroy and refresh_only:
        raise AopctlError("--destroy and --refresh-only cannot be combined")
    return "destroy" if destroy else "refresh-only" if refresh_only else "normal"


@click.command()
@variable_options
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan to apply it later with `aopctl apply FILE`.",
)
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDR",
    help="Plan only this resource and what it depends on (repeatable).",
)
@click.option(
    "--replace",
    "replace",
    multiple=True,
    metavar="ADDR",
    help="Force replacement of this certificate (repeatable).",
)
@click.option("--destroy", is_flag=True, help="Plan the removal of everything in state.")
@click.option("--refresh-only", is_flag=True, help="Only reconcile the state with Cloudflare.")
@click.pass_context
def plan(
    ctx: click.Context,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    out: Path | None,
    detailed_exitcode: bool,
    fmt: str,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    destroy: bool,
    refresh_only: bool,
) -> None:
    """Refresh from Cloudflare, compare config, state and live objects, print the plan."""
    plan_options = plan_options_from(_mode(destroy, refresh_only), targets, replace)
    config = load(ctx, var_pairs, var_files)
    backend = open_backend(options(ctx).chdir)
    with connect(ctx, read_only=True) as client:
        result = _plan(config, backend, client, plan_options)
    click.echo(render(result, fmt, options(ctx).color), nl=False)
    if out is not None:
        write_plan_file(out, result, var_pairs, var_files)
        click.echo(
            f"\nSaved the plan to: {out}\nTo perform exactly these actions, run: "
            f"aopctl apply {out}",
            err=fmt != "text",
        )
    if detailed_exitcode and result.plan.has_changes:
        ctx.exit(2)


class CliReporter:
    """Prints apply progress lines like Terraform's."""

    def __init__(self, color: bool) -> None:
        self.color = color
        self.started: dict[str, float] = {}

    def step_started(self, step: str, message: str) -> None:
        self.started[step] = time.monotonic()
        click.echo(f"{step}: {message}")

    def step_progress(self, step: str, message: str) -> None:
        click.echo(f"{step}: {message}")

    def step_finished(self, step: str, message: str) -> None:
        elapsed = time.monotonic() - self.started.get(step, time.monotonic())
        click.echo(f"{step}: {message} [{elapsed:.0f}s]")


def _confirm(ctx: click.Context, auto_approve: bool) -> None:
    if auto_approve:
        return
    click.echo("\nDo you want to perform these actions? Only 'yes' will be accepted to approve.")
    answer = click.prompt("  Enter a value", default="", show_default=False)
    if answer.strip() != "yes":
        raise AopctlError("Apply cancelled; nothing was changed.")


def run_apply(
    ctx: click.Context,
    result: PlanResult,
    client: CloudflareClient,
    backend: StateBackend,
    deploy_timeout: float,
    verb: str,
) -> None:
    started = time.monotonic()
    before = client.stats.total
    settings = ApplySettings(deploy_timeout=deploy_timeout)
    with state_errors():
        apply_plan(result, client, backend, CliReporter(options(ctx).color), settings)
    summary = result.plan.summary
    elapsed = time.monotonic() - started
    requests = client.stats.total - before
    imported = f"{summary.imported} imported, " if summary.imported else ""
    click.secho(
        f"\n{verb} complete! Resources: {imported}{summary.add} added, "
        f"{summary.change} changed, {summary.destroy} destroyed. "
        f"[{elapsed:.1f}s, {requests} API requests]",
        fg="green",
    )


@dataclass(frozen=True)
class ApplyRequest:
    verb: str  # "Apply" | "Destroy"
    plan_options: PlanOptions
    var_pairs: tuple[str, ...]
    var_files: tuple[Path, ...]
    auto_approve: bool
    deploy_timeout: float
    lock_timeout: float
    planfile: Path | None = None


def _apply_common(ctx: click.Context, request: ApplyRequest) -> None:
    backend = open_backend(options(ctx).chdir)
    plan_options, var_pairs = request.plan_options, request.var_pairs
    saved: dict[str, Any] | None = None
    if request.planfile is not None:
        saved = read_plan_file(request.planfile)
        var_pairs = (*saved["variables_cli"], *var_pairs)
        plan_options = plan_options_from(
            saved["mode"], tuple(saved["options"]["targets"]), tuple(saved["options"]["replace"])
        )
    config = load(ctx, var_pairs, request.var_files)
    if saved is not None:
        _refuse_stored_variables(stored_variables(saved), request.var_pairs)
    operation = request.verb.lower()
    with (
        state_errors(),
        locked(backend, operation, request.lock_timeout),
        connect(ctx) as client,
    ):
        result = _plan(config, backend, client, plan_options)
        if saved is not None:
            verify_replan(saved, result)
        else:
            click.echo(render(result, "text", options(ctx).color), nl=False)
            if not result.plan.has_changes:
                return
            _confirm(ctx, request.auto_approve)
        run_apply(ctx, result, client, backend, request.deploy_timeout, request.verb)


def _refuse_stored_variables(stored: set[str], var_pairs: tuple[str, ...]) -> None:
    """With a saved plan, `--var` gives only what a plan never stores (secrets). Any other
    value is the plan's own, and a different one would be silently ignored."""
    again = sorted(name for name in parse_cli_vars(var_pairs) if name in stored)
    if again:
        raise AopctlError(
            f"--var {', '.join(again)}: the saved plan carries its own value; make a new plan "
            "to change it (only secrets, which a plan never stores, are given again)"
        )


def apply_options(function: F) -> F:
    """Options shared by apply and destroy."""
    function = lock_timeout_option(function)
    function = click.option(
        "--deploy-timeout",
        default="15m",
        show_default=True,
        callback=duration_option,
        help="How long to wait for a certificate to deploy or be deleted.",
    )(function)
    return click.option("--auto-approve", is_flag=True, help="Skip the interactive approval.")(
        function
    )


@click.command()
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@variable_options
@apply_options
@click.option("--target", "targets", multiple=True, metavar="ADDR")
@click.option("--replace", "replace", multiple=True, metavar="ADDR")
@click.option("--refresh-only", is_flag=True)
@click.pass_context
def apply(
    ctx: click.Context,
    planfile: Path | None,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    auto_approve: bool,
    deploy_timeout: float,
    lock_timeout: float,
    targets: tuple[str, ...],
    replace: tuple[str, ...],
    refresh_only: bool,
) -> None:
    """Apply the configuration (or exactly a saved PLANFILE) to Cloudflare."""
    if planfile is not None and (targets or replace or refresh_only):
        raise click.UsageError(
            "a saved plan carries its own --target, --replace and --refresh-only; "
            "make a new plan to change them"
        )
    plan_options = plan_options_from(_mode(False, refresh_only), targets, replace)
    request = ApplyRequest(
        "Apply",
        plan_options,
        var_pairs,
        var_files,
        auto_approve,
        deploy_timeout,
        lock_timeout,
        planfile,
    )
    _apply_common(ctx, request)


@click.command()
@variable_options
@apply_options
@click.option("--target", "targets", multiple=True, metavar="ADDR")
@click.pass_context
def destroy(
    ctx: click.Context,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    auto_approve: bool,
    deploy_timeout: float,
    lock_timeout: float,
    targets: tuple[str, ...],
) -> None:
    """Remove everything aopctl manages (after approval)."""
    plan_options = plan_options_from("destroy", targets, ())
    request = ApplyRequest(
        "Destroy", plan_options, var_pairs, var_files, auto_approve, deploy_timeout, lock_timeout
    )
    _apply_common(ctx, request)


_ID_SHAPES = {
    "aop_zone_certificate": "ZONE_ID/CERT_ID",
    "aop_hostname_certificate": "ZONE_ID/CERT_ID",
    "aop_hostname_binding": "ZONE_ID/HOSTNAME",
}


def _parse_import_id(kind: str, remote: str) -> tuple[str, str]:
    """(zone id, certificate id or hostname) of an import ID of the right shape for `kind`."""
    shape = _ID_SHAPES.get(kind, "ZONE_ID")
    zone_id, slash, item = remote.partition("/")
    if not ZONE_ID_RE.match(zone_id) or bool(slash) != (shape != "ZONE_ID") or (slash and not item):
        raise AopctlError(
            f"the ID of a {kind} is {shape} (a zone id is 32 hexadecimal characters), "
            f"not {remote!r}"
        )
    return zone_id, item.lower() if kind == "aop_hostname_binding" else item


def _check_import_target(
    resource: ResourceConfig, zone_id: str, item: str, current: StateDocument
) -> None:
    """The ID must name an object this resource describes, and no other resource's."""
    address, kind = resource.address, resource.address.type
    if kind == "aop_hostname_binding" and item not in resource.attributes.get("hostnames", []):
        raise AopctlError(f"{item} is not among the hostnames of {address} in the configuration")
    for prior in current.resources:
        if prior.zone_id != zone_id:
            continue
        if (
            (kind in CERTIFICATES and prior.remote_id == item)
            or (kind == "aop_hostname_binding" and item in prior.attributes.get("hostnames", []))
            or (kind in SETTING_OF and prior.type == kind)
        ):
            raise AopctlError(
                f"{item or kind} in zone {zone_id} is already managed by {prior.address}"
            )


def _imported_state(
    config: Configuration,
    address: Address,
    remote: str,
    client: CloudflareClient,
    current: StateDocument,
) -> ResourceState:
    """The state entry for a live object named by `ZONE_ID[/CERT_ID|/HOSTNAME]`."""
    resource = config.resources.get(address)
    if resource is None:
        raise AopctlError(f"{address} is not in the configuration: add it before importing")
    kind = address.type
    zone_id, item = _parse_import_id(kind, remote)
    refresher = Refresher(client)
    if not isinstance(resource.zone, str):
        raise AopctlError(f"{address}: its zone must be known to import it")
    zone = refresher.resolve_zones([resource.zone])[resource.zone]
    if zone[0] != zone_id:
        raise AopctlError(f"{remote} is in zone {zone_id}; {address} is configured in {zone[1]}")
    _check_import_target(resource, zone_id, item, current)
    needs = Needs(frozenset({SETTING_OF[kind]} if kind in SETTING_OF else ()))
    live = refresher.refresh({zone_id: needs})[zone_id]
    attributes: dict[str, Any] | None
    fingerprints: dict[str, str] = {}
    if kind in CERTIFICATES:
        cert = live.certificate(kind, item)
        if cert is None:
            raise AopctlError(f"no {kind} with id {item!r} in zone {zone_id}")
        attributes = live_attributes_of_certificate(live, item, kind)
        fingerprints = {"certificate_sha256": attributes["fingerprint_sha256"]}
    elif kind == "aop_hostname_binding":
        association = live.bound(item)
        if association is None:
            raise AopctlError(f"hostname {item!r} has no association in zone {zone_id}")
        hostnames = [
            h
            for h in resource.attributes.get("hostnames", [])
            if (a := live.bound(h)) is not None and a.cert_id == association.cert_id
        ]
        attributes = {
            "hostnames": hostnames or [item],
            "certificate_id": association.cert_id,
            "enabled": association.enabled,
        }
    else:
        attributes = live_attributes_for_type(kind, live)
    remote_id = item if kind in CERTIFICATES else zone_id
    return ResourceState(
        address=str(address),
        type=kind,
        name=address.name,
        zone_id=zone_id,
        zone_name=zone[1],
        remote_id=remote_id,
        attributes=attributes,
        dependencies=tuple(str(d) for d in resource.dependencies),
        fingerprints=fingerprints,
    )


@click.command("import")
@click.argument("address")
@click.argument("remote_id", metavar="ID")
@variable_options
@lock_timeout_option
@click.pass_context
def import_cmd(
    ctx: click.Context,
    address: str,
    remote_id: str,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    lock_timeout: float,
) -> None:
    """Adopt a live object into state. ID is ZONE_ID/CERT_ID, ZONE_ID/HOSTNAME or ZONE_ID."""
    target = parse_addresses((address,), "ADDR")[0]
    config = load(ctx, var_pairs, var_files)
    backend = open_backend(options(ctx).chdir)
    with (
        state_errors(),
        locked(backend, "import", lock_timeout),
        connect(ctx, read_only=True) as client,
    ):
        current = backend.read()
        if current.get(str(target)) is not None:
            raise AopctlError(f"{target} is already in the state; use `aopctl state rm` first")
        entry = _imported_state(config, target, remote_id, client, current)
        backend.write(current.with_resource(entry), expected_serial=current.serial)
    click.secho(
        f"Import successful: {target} is now managed (remote id {entry.remote_id}).", fg="green"
    )
