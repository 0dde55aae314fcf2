"""The aopctl command line: the only user of click.

Commands parse options, call one core function, render, and map errors to exit codes. Each
command group lives in its own module and is registered on `main` at the bottom of this file.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from planner import __version__
from planner.errors import AopctlError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Options:
    """Global options shared by every command."""

    chdir: Path
    sandbox: bool
    color: bool
    log_level: str


def fail(message: str, reasons: list[str] | None = None) -> NoReturn:
    """Print an expected error (and its reasons) to stderr and exit 1."""
    click.secho(f"Error: {message}", fg="red", err=True)
    for reason in reasons or []:
        click.echo(f"  {reason}", err=True)
    sys.exit(1)


def _internal_error(exc: BaseException) -> NoReturn:
    fd, path = tempfile.mkstemp(prefix="aopctl-crash-", suffix=".log")
    with os.fdopen(fd, "w") as log:
        log.write("".join(traceback.format_exception(exc)))
    click.secho(
        f"Error: internal error ({type(exc).__name__}); the traceback was written to {path}",
        fg="red",
        err=True,
    )
    sys.exit(1)


class AopctlGroup(click.Group):
    """A click group that translates every error once, at the edge."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AopctlError as exc:
            fail(exc.message, exc.reasons)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted")
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
    ctx.obj = Options(chdir=chdir, sandbox=sandbox, color=not no_color, log_level=log_level)
    ctx.color = False if no_color else None


@main.command()
def version() -> None:
    """Print aopctl's version."""
    click.echo(f"aopctl {__version__}")


def _register() -> None:
    # Imported here so each module can import `main`-free helpers from this package.
    from planner.cli import commands

    commands.register(main)


_register()
