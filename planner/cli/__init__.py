"""The aopctl command line: the only user of click.

Commands parse options, call one core function, render, and map errors to exit codes. Each
command group lives in its own module, imported only when that command runs (`COMMANDS`): every
invocation pays for the imports of the commands it does not use otherwise (httpx, jsonschema,
cryptography, the sandbox...), which is most of aopctl's start-up time.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from planner import __version__
from planner.errors import AopctlError
from planner.keytext import hide_private_keys

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Options:
    """Global options shared by every command."""

    chdir: Path
    sandbox: bool
    color: bool
    log_level: str


def fail(message: str, reasons: list[str] | None = None) -> NoReturn:
    """Print an expected error (and its reasons) to stderr and exit 1.

    Private key blocks are scrubbed: an error may quote a value the user pasted in the wrong
    place, and a key must not reach a terminal or a CI log even then."""
    click.secho(f"Error: {hide_private_keys(message)}", fg="red", err=True)
    for reason in reasons or []:
        click.echo(f"  {hide_private_keys(reason)}", err=True)
    sys.exit(1)


def _internal_error(exc: BaseException) -> NoReturn:
    fd, path = tempfile.mkstemp(prefix="aopctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        log.write(hide_private_keys("".join(traceback.format_exception(exc))))
    click.secho(
        f"Error: internal error ({type(exc).__name__}); the traceback was written to {path}",
        fg="red",
        err=True,
    )
    sys.exit(1)


def _as_error(exc: click.UsageError) -> click.UsageError:
    """Exit 1 on a usage error, not click's 2: for `plan --detailed-exitcode` and `drift`, 2
    means changes or findings, and a typo in a CI job must not read as either."""
    exc.exit_code = 1  # type: ignore[misc]  # click reads it from the instance
    return exc


# Command name -> "module:attribute" of its click command, imported on first use.
COMMANDS = {
    "validate": "planner.cli.config_cmds:validate",
    "fmt": "planner.cli.config_cmds:fmt",
    "graph": "planner.cli.config_cmds:graph",
    "cert": "planner.cli.cert_cmds:cert",
    "state": "planner.cli.state_cmds:state",
    "show": "planner.cli.state_cmds:show_cmd",
    "output": "planner.cli.state_cmds:output",
    "force-unlock": "planner.cli.state_cmds:force_unlock",
    "plan": "planner.cli.engine_cmds:plan",
    "apply": "planner.cli.engine_cmds:apply",
    "destroy": "planner.cli.engine_cmds:destroy",
    "import": "planner.cli.engine_cmds:import_cmd",
    "sandbox": "planner.cli.sandbox_cmds:sandbox",
    "origin": "planner.cli.origin_cmds:origin_group",
    "drift": "planner.cli.drift_cmds:drift",
    "generate": "planner.cli.generate_cmds:generate_cmd",
}


class AopctlGroup(click.Group):
    """A click group that loads its commands lazily and translates every error once, at the edge."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module_name, _, attribute = COMMANDS[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

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
            raise _as_error(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _as_error(exc) from None
        except AopctlError as exc:
            fail(exc.message, exc.reasons)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted")
        except OSError as exc:
            if not exc.filename:
                _internal_error(exc)
            fail(f"{exc.filename}: {exc.strerror or exc}")  # e.g. --out into a missing folder
        except Exception as exc:
            _internal_error(exc)


def options(ctx: click.Context) -> Options:
    obj = ctx.find_root().obj
    assert isinstance(obj, Options)
    return obj


@click.group(cls=AopctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--chdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Configuration directory.",
)
@click.option("--sandbox", is_flag=True, help="Use the embedded simulated Cloudflare API.")
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="Disable colour output.")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    envvar="AOPCTL_LOG",
    default="warning",
    show_default=True,
)
@click.version_option(__version__, prog_name="aopctl")
@click.pass_context
def main(ctx: click.Context, chdir: Path, sandbox: bool, no_color: bool, log_level: str) -> None:
    """Manage Cloudflare Authenticated Origin Pulls as code."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for library in ("httpx", "httpcore"):  # aopctl.http logs every call, redacted; these don't
        logging.getLogger(library).setLevel(logging.WARNING)
    ctx.obj = Options(chdir=chdir, sandbox=sandbox, color=not no_color, log_level=log_level)
    ctx.color = False if no_color else None
    _stop_on_sigterm(ctx)


def _stop_on_sigterm(ctx: click.Context) -> None:
    """SIGTERM (a cancelled CI job, a stopped container) stops a command as Ctrl-C does: the
    step in flight ends, the state is saved, the lock released, and the exit status is 1."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set signal handlers

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


@main.command()
def version() -> None:
    """Print aopctl's version."""
    click.echo(f"aopctl {__version__}")
