"""`aopctl sandbox serve`: the simulated Cloudflare API over HTTP, for trying aopctl or demos."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from planner.sandbox import Sandbox, SandboxConfigError, env_settings, open_persistent
from planner.sandbox.app import parse_rate_limit
from planner.sandbox.faults import parse_fault_spec

DEFAULT_PORT = 8799


@click.group()
def sandbox() -> None:
    """The embedded simulated Cloudflare API."""


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--data",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Keep the account in this JSON file (e.g. .aopctl/sandbox.json to share it with "
    "--sandbox); in memory when omitted.",
)
@click.option("--deploy-delay", type=click.FloatRange(min=0), help="Seconds until `active`.")
@click.option("--delete-delay", type=click.FloatRange(min=0), help="Seconds until `deleted`.")
@click.option("--rate-limit", help="Requests per window, e.g. 1200/300, or `off`.")
@click.option(
    "--fault",
    "faults",
    multiple=True,
    help="Inject a fault, e.g. server_error:method=POST,path=*/certificates,times=2 (repeatable).",
)
def serve(
    host: str,
    port: int,
    data: Path | None,
    deploy_delay: float | None,
    delete_delay: float | None,
    rate_limit: str | None,
    faults: tuple[str, ...],
) -> None:
    """Serve the simulated API until interrupted (Ctrl-C).

    The first line printed is `Sandbox API listening on URL`; point CLOUDFLARE_BASE_URL at it.
    Zones come from AOPCTL_SANDBOX_ZONES (added to example.com and example.net); any token is
    accepted.
    """
    try:
        overrides = _overrides(deploy_delay, delete_delay, rate_limit)
        backend = open_persistent(data, **overrides) if data else Sandbox.from_env(**overrides)
        _arm_faults(backend, faults)
    except (SandboxConfigError, ValueError) as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        with backend.serve(host, port) as url:
            click.echo(f"Sandbox API listening on {url}")
            _print_zones(backend)
            sys.stdout.flush()
            _wait_until_interrupted()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    click.echo("Sandbox stopped.", err=True)


def _overrides(
    deploy_delay: float | None, delete_delay: float | None, rate_limit: str | None
) -> dict[str, Any]:
    settings = env_settings()  # validates the AOPCTL_SANDBOX_* variables early
    overrides: dict[str, Any] = {"zones": settings["zones"]}
    if deploy_delay is not None:
        overrides["deploy_delay"] = deploy_delay
    if delete_delay is not None:
        overrides["delete_delay"] = delete_delay
    if rate_limit is not None:
        overrides["rate_limit"] = parse_rate_limit(rate_limit)
    return overrides


def _arm_faults(backend: Any, specs: tuple[str, ...]) -> None:
    parsed = [parse_fault_spec(spec) for spec in specs]
    if not parsed:
        return
    if isinstance(backend, Sandbox):
        for kind, params in parsed:
            backend.faults.add(kind, **params)
        return
    with backend.edit() as stored:
        for kind, params in parsed:
            stored.faults.add(kind, **params)


def _print_zones(backend: Any) -> None:
    current = backend if isinstance(backend, Sandbox) else backend.snapshot()
    for name in current.zone_names():
        click.echo(f"  zone {name}  id {current.zone_id(name)}")


def _wait_until_interrupted() -> None:
    """Block until Ctrl-C or SIGTERM; both end the command with exit status 0."""
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
