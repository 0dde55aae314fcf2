"""State commands: `state list|show|rm|mv|history|rollback|push|pull`, `show`, `output`,
`force-unlock`.

Reading commands never lock and never write. `state rm`, `mv`, `rollback` and `push` take the
lock, write through the backend's compare-and-swap (which bumps the serial and keeps the
previous version) and release the lock.

The backend comes from the configuration's `aopctl.state` block: `local` (the default) or
`postgres`, whose connection string is read from AOPCTL_PG_DSN only, never from a file.

Sensitive outputs follow Terraform: listings (`output`, `output --json`, `show`) redact them;
`output NAME` prints the value because it was asked for by name.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from tabulate import tabulate

from planner import __version__
from planner.cli import options
from planner.config.source import (
    config_files,
    parse_json,
    read_problem,
    read_text,
    strip_comments,
)
from planner.errors import AopctlError
from planner.wording import plural
from state import (
    EMERGENCY_FILE,
    HistoryEntry,
    LocalBackend,
    PostgresBackend,
    ResourceState,
    StateBackend,
    StateDocument,
    StateError,
    check_pull_target,
    dump_state,
    hold_lock,
    push_state,
    read_state_file,
    write_state_file,
)
from state.document import ADDRESS_RE
from state.lock import LockInfo
from state.postgres import DEFAULT_SCHEMA, DEFAULT_WORKSPACE, DSN_VARIABLE, PUSH_OPERATION

STATE_FILE = "aopctl.state.json"
SENSITIVE = "(sensitive value)"
POSTGRES_SETTINGS = ("//", "backend", "schema", "workspace")


def open_backend(chdir: Path) -> StateBackend:
    """The state of the configuration in `chdir`, where its `aopctl.state` block says."""
    where, settings = state_settings(chdir)
    backend = settings.get("backend", "local")
    if backend == "postgres":
        try:
            return postgres_backend(chdir, settings, os.environ)
        except AopctlError as exc:
            raise AopctlError(f"{where}: {exc.message}", exc.reasons) from None
    if backend != "local":
        raise AopctlError(
            f"{where}: state backend {backend!r} is not available in this version of aopctl"
        )
    path = Path(settings.get("path", STATE_FILE))
    return LocalBackend(path if path.is_absolute() else chdir / path, aopctl_version=__version__)


def postgres_backend(
    chdir: Path, settings: Mapping[str, Any], env: Mapping[str, str]
) -> PostgresBackend:
    """The postgres backend of `settings`, connected with the DSN in AOPCTL_PG_DSN."""
    unknown = sorted(set(settings) - set(POSTGRES_SETTINGS))
    if unknown:
        raise AopctlError(
            f"{', '.join(unknown)} is not a setting of the postgres backend",
            [f"the connection string is read from {DSN_VARIABLE}, never from the configuration"],
        )
    dsn = env.get(DSN_VARIABLE, "").strip()
    if not dsn:
        raise AopctlError(
            f"the postgres state backend needs the connection string in {DSN_VARIABLE}",
            [
                f"e.g. export {DSN_VARIABLE}=postgresql://USER@HOST:5432/DATABASE "
                "(the password can come from PGPASSWORD or ~/.pgpass)"
            ],
        )
    with state_errors():
        return PostgresBackend(
            dsn,
            schema=settings.get("schema", DEFAULT_SCHEMA),
            workspace=settings.get("workspace", DEFAULT_WORKSPACE),
            aopctl_version=__version__,
            emergency_path=chdir / EMERGENCY_FILE,
        )


def state_settings(chdir: Path) -> tuple[str, dict[str, Any]]:
    """Where the `aopctl.state` block is, and the block, read without evaluating the
    configuration: state commands must work even while the configuration has errors."""
    for path in config_files(chdir) if chdir.is_dir() else []:
        try:
            data, problems = parse_json(read_text(path), path.name)
        except (OSError, UnicodeDecodeError) as exc:
            # Skipping it could mean the wrong state: a local file instead of the team's.
            problem = read_problem(path, exc)
            raise AopctlError(f"{problem.file}: {problem.message}") from None
        data = strip_comments(data)
        block = data.get("aopctl", {}).get("state") if isinstance(data, dict) else None
        if not problems and isinstance(block, dict):
            where = f"{path.name}: $.aopctl.state"
            for key, value in block.items():
                if not isinstance(value, str):  # every state setting is a string
                    raise AopctlError(f"{where}.{key}: must be a string")
            return where, block
    return "", {}


@contextlib.contextmanager
def state_errors() -> Iterator[None]:
    """Translate the store's errors into the CLI's expected-error type, once."""
    try:
        yield
    except StateError as exc:
        raise AopctlError(exc.message, exc.reasons) from exc


@contextlib.contextmanager
def locked(backend: StateBackend, operation: str, timeout: float) -> Iterator[LockInfo]:
    """Hold the state lock, warning on stderr when a dead process's lock was taken over."""
    with hold_lock(backend, operation, timeout) as info:
        if info.taken_over_from is not None:
            click.secho(
                "Warning: took over a stale state lock held by "
                f"{info.taken_over_from.describe()} (that process is no longer running)",
                fg="yellow",
                err=True,
            )
        yield info


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """`"30s"`, `"2m"`, `"1h"`, `"500ms"` or plain seconds, as seconds."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"invalid duration {text!r}: use e.g. 30s, 2m, 1h")
    return float(match[1]) * _UNIT_SECONDS[match[2] or "s"]


def duration_option(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


lock_timeout_option = click.option(
    "--lock-timeout",
    default="0s",
    callback=duration_option,
    show_default=True,
    help="How long to wait for the state lock (e.g. 30s, 2m).",
)


def _backend(ctx: click.Context) -> StateBackend:
    return open_backend(options(ctx).chdir)


def _read(ctx: click.Context) -> StateDocument:
    with state_errors():
        return _backend(ctx).read()


# --- rendering (pure functions returning text) ---------------------------------------------


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_state_table(doc: StateDocument) -> str:
    if not doc.resources:
        return "No resources in state."
    rows = [
        (
            rs.address,
            rs.zone_name or rs.zone_id,
            rs.remote_id or "-",
            rs.attributes.get("status") or "-",
            rs.attributes.get("expires_on") or "-",
        )
        for rs in doc.resources
    ]
    return tabulate(rows, headers=["address", "zone", "id", "status", "expiry"])


def render_resource_text(rs: ResourceState) -> str:
    """Terraform-style block: `# ADDR:` then `resource "TYPE" "NAME" { key = value }`."""
    fields: dict[str, Any] = {"id": rs.remote_id, "zone_id": rs.zone_id, "zone_name": rs.zone_name}
    fields.update(sorted(rs.attributes.items()))
    if rs.fingerprints:
        fields["fingerprints"] = dict(rs.fingerprints)
    if rs.dependencies:
        fields["depends_on"] = list(rs.dependencies)
    width = max(len(key) for key in fields)
    body = [f"    {key:<{width}} = {_value(value)}" for key, value in fields.items()]
    return "\n".join([f"# {rs.address}:", f'resource "{rs.type}" "{rs.name}" {{', *body, "}"])


def render_outputs_text(doc: StateDocument) -> str:
    return "\n".join(
        f"{name} = {SENSITIVE if out.sensitive else _value(out.value)}"
        for name, out in doc.outputs.items()
    )


def outputs_json(doc: StateDocument) -> dict[str, Any]:
    """Outputs for machines; a sensitive output has no `value` (ask for it by name)."""
    return {
        name: {"sensitive": True} if out.sensitive else {"sensitive": False, "value": out.value}
        for name, out in doc.outputs.items()
    }


def render_state_text(doc: StateDocument) -> str:
    if doc.serial == 0:
        return "No state."
    parts = [render_resource_text(rs) for rs in doc.resources]
    if doc.outputs:
        parts.append("Outputs:\n\n" + render_outputs_text(doc))
    return "\n\n".join(parts) if parts else "The state is empty."


def state_json(doc: StateDocument) -> dict[str, Any]:
    """The state document, with sensitive output values left out."""
    return {**doc.to_json(), "outputs": outputs_json(doc)}


# --- commands ------------------------------------------------------------------------------


@click.group()
def state() -> None:
    """Inspect and edit the state (rm and mv keep a backup)."""


@state.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List the resources in the state."""
    click.echo(render_state_table(_read(ctx)))


@state.command("show")
@click.argument("address")
@click.pass_context
def show_resource(ctx: click.Context, address: str) -> None:
    """Show one resource in the state."""
    resource = _read(ctx).get(address)
    if resource is None:
        raise AopctlError(f"no resource {address} in state")
    click.echo(render_resource_text(resource))


@state.command("rm")
@click.argument("addresses", metavar="ADDR...", nargs=-1, required=True)
@lock_timeout_option
@click.pass_context
def rm(ctx: click.Context, addresses: tuple[str, ...], lock_timeout: float) -> None:
    """Forget resources without deleting them in Cloudflare."""
    backend = _backend(ctx)
    with state_errors(), locked(backend, "state rm", lock_timeout):
        doc = backend.read()
        missing = [address for address in addresses if doc.get(address) is None]
        if missing:
            raise AopctlError(f"no resource {', '.join(missing)} in state")
        new = doc
        for address in addresses:
            new = new.without(address)
        written = backend.write(new, doc.serial)
    for address in addresses:
        click.echo(f"Removed {address}")
    click.echo(
        f"Successfully removed {plural(len(addresses), 'resource')} from state "
        f"(serial {written.serial}). "
        "They still exist in Cloudflare; aopctl no longer manages them."
    )


def moved(doc: StateDocument, source: str, target: str) -> StateDocument:
    """`doc` with `source` renamed to `target`, and dependencies on it re-pointed."""
    resource = doc.get(source)
    if resource is None:
        raise AopctlError(f"no resource {source} in state")
    if not ADDRESS_RE.match(target):
        raise AopctlError(f"invalid address {target!r}: expected TYPE.NAME")
    target_type, target_name = target.split(".", 1)
    if target_type != resource.type:
        raise AopctlError(f"cannot move {source} to {target}: the resource type must stay the same")
    if doc.get(target) is not None:
        raise AopctlError(f"cannot move {source} to {target}: {target} already exists in state")
    new = doc.without(source).with_resource(replace(resource, address=target, name=target_name))
    for other in new.resources:
        if source in other.dependencies:
            deps = tuple(target if dep == source else dep for dep in other.dependencies)
            new = new.with_resource(replace(other, dependencies=deps))
    return new


@state.command("mv")
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@lock_timeout_option
@click.pass_context
def mv(ctx: click.Context, source: str, target: str, lock_timeout: float) -> None:
    """Rename a resource in the state (after renaming it in the configuration)."""
    backend = _backend(ctx)
    with state_errors(), locked(backend, "state mv", lock_timeout):
        doc = backend.read()
        written = backend.write(moved(doc, source, target), doc.serial)
    click.echo(f'Move "{source}" to "{target}"')
    click.echo(f"Successfully moved 1 object (serial {written.serial}).")


@click.command("show")
@click.argument("planfile", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.pass_context
def show_cmd(ctx: click.Context, planfile: Path | None, output_format: str) -> None:
    """Show a saved plan (PLANFILE), or the state (sensitive outputs redacted)."""
    if planfile is not None:
        from planner.planfile import read_plan_file
        from planner.render import plan_from_dict, render_json, render_text

        plan = plan_from_dict(read_plan_file(planfile)["plan"])
        text = render_json(plan) if output_format == "json" else render_text(plan, color=False)
        click.echo(text, nl=False)
        return
    doc = _read(ctx)
    if output_format == "json":
        click.echo(json.dumps(state_json(doc), indent=2, ensure_ascii=False))
    else:
        click.echo(render_state_text(doc))


def _print_one(outputs: Mapping[str, Any], name: str, as_json: bool) -> None:
    if name not in outputs:
        known = ", ".join(outputs) or "(none)"
        raise AopctlError(f"output {name!r} not found", [f"outputs in state: {known}"])
    value = outputs[name].value
    if as_json or not isinstance(value, str):
        click.echo(json.dumps(value, ensure_ascii=False))
    else:
        click.echo(value)


@click.command("output")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def output(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Print outputs; sensitive ones only when asked for by NAME."""
    doc = _read(ctx)
    if name is not None:
        _print_one(doc.outputs, name, as_json)
    elif as_json:
        click.echo(json.dumps(outputs_json(doc), indent=2, ensure_ascii=False))
    elif doc.outputs:
        click.echo(render_outputs_text(doc))
    else:
        click.echo("Warning: no outputs found in state.", err=True)


def _history_backend(ctx: click.Context) -> PostgresBackend:
    backend = _backend(ctx)
    if not isinstance(backend, PostgresBackend):
        raise AopctlError(
            f"{backend.describe()} keeps no version history",
            ["the postgres backend keeps every version; the local one keeps backup files"],
        )
    return backend


def render_history(entries: list[HistoryEntry]) -> str:
    if not entries:
        return "No state history."
    newest = entries[-1].serial
    rows = [
        (
            f"{entry.serial}{' (current)' if entry.serial == newest else ''}",
            entry.written_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            entry.written_by,
            entry.operation,
            entry.resources,
        )
        for entry in entries
    ]
    return tabulate(rows, headers=["serial", "written (UTC)", "by", "operation", "resources"])


@state.command("history")
@click.option(
    "--limit",
    default=20,
    show_default=True,
    type=click.IntRange(min=0),
    help="Show the newest N versions (0: all).",
)
@click.pass_context
def history(ctx: click.Context, limit: int) -> None:
    """List the stored versions of the state (postgres backend)."""
    backend = _history_backend(ctx)
    with state_errors():
        entries = backend.history(limit or None)
    click.echo(render_history(entries))


@state.command("rollback")
@click.argument("serial", type=click.IntRange(min=1))
@lock_timeout_option
@click.pass_context
def rollback(ctx: click.Context, serial: int, lock_timeout: float) -> None:
    """Make version SERIAL the state again, written as a new serial (postgres backend)."""
    backend = _history_backend(ctx)
    with state_errors(), locked(backend, "state rollback", lock_timeout):
        written = backend.rollback(serial)
    click.echo(
        f"Rolled back to serial {serial}: the state is now serial {written.serial} "
        f"({plural(len(written.resources), 'resource')}). "
        "Run `aopctl plan` to compare it with Cloudflare."
    )


@state.command("push")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a newer stored state of the same lineage.")
@lock_timeout_option
@click.pass_context
def push(ctx: click.Context, file: Path, force: bool, lock_timeout: float) -> None:
    """Store the state FILE (a local state, or an emergency file) as the current state."""
    backend = _backend(ctx)
    with state_errors():
        doc = read_state_file(file)
        with locked(backend, PUSH_OPERATION, lock_timeout):
            written = push_state(backend, doc, force=force)
    if written is None:
        click.echo(f"{backend.describe()} already holds this state (serial {doc.serial}).")
    else:
        click.echo(f"Pushed {file} to {backend.describe()} as serial {written.serial}.")
    if isinstance(backend, PostgresBackend) and file.resolve() == backend.emergency_path.resolve():
        file.unlink()
        click.echo(f"Removed the emergency file {file}: its state is stored.")


@state.command("pull")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite FILE of another lineage or newer serial.")
@click.pass_context
def pull(ctx: click.Context, file: Path | None, force: bool) -> None:
    """Print the stored state as JSON, or write it to FILE (mode 0600)."""
    backend = _backend(ctx)
    with state_errors():
        doc = backend.read()
        if doc.serial == 0:
            raise AopctlError(f"{backend.describe()} holds no state yet")
        if file is None:
            click.echo(dump_state(doc).decode("utf-8"), nl=False)
            return
        check_pull_target(file, doc, force=force)
        write_state_file(file, doc)
    click.echo(f"Pulled serial {doc.serial} from {backend.describe()} to {file}.")


@click.command("force-unlock")
@click.argument("lock_id")
@click.pass_context
def force_unlock(ctx: click.Context, lock_id: str) -> None:
    """Remove the state lock LOCK_ID of a process that is gone or hung.

    With the postgres backend, a live holder's database session is ended.
    """
    with state_errors():
        _backend(ctx).force_unlock(lock_id)
    click.echo(f"State lock {lock_id} removed; the state is unlocked.")
