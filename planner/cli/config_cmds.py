"""Commands that only read the configuration: validate, fmt, graph."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from planner.cli import fail, options
from planner.config import Configuration, VariableInputs, load_configuration, parse_cli_vars
from planner.config.fmt import format_text
from planner.config.source import config_files, parse_json, read_problem, read_text
from planner.errors import AopctlError
from planner.keytext import hide_private_keys
from planner.wording import plural

F = TypeVar("F", bound=Callable[..., Any])


def variable_options(function: F) -> F:
    """`--var NAME=VALUE` (repeatable) and `--var-file FILE` (repeatable)."""
    function = click.option(
        "--var-file",
        "var_files",
        multiple=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="JSON file of variable values (repeatable).",
    )(function)
    return click.option(
        "--var", "var_pairs", multiple=True, metavar="NAME=VALUE", help="Set a variable."
    )(function)


def load(
    ctx: click.Context,
    var_pairs: tuple[str, ...],
    var_files: tuple[Path, ...],
    *,
    expired_is_error: bool = True,
) -> Configuration:
    try:
        cli_vars = parse_cli_vars(var_pairs)
    except ValueError as exc:
        raise AopctlError(str(exc)) from None
    inputs = VariableInputs(cli=cli_vars, files=var_files, env=dict(os.environ))
    config = load_configuration(
        options(ctx).chdir, inputs, env=dict(os.environ), expired_is_error=expired_is_error
    )
    for warning in config.warnings:
        click.secho(hide_private_keys(str(warning)), fg="yellow", err=True)
    return config


def _replace(path: Path, text: str) -> None:
    """Rewrite `path` whole or not at all (temp file, then rename), keeping its mode."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.chmod(temp, path.stat().st_mode)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


@click.command()
@variable_options
@click.pass_context
def validate(ctx: click.Context, var_pairs: tuple[str, ...], var_files: tuple[Path, ...]) -> None:
    """Check the configuration: schema, references, variables and certificates. No network."""
    config = load(ctx, var_pairs, var_files)
    resources = plural(len(config.resources), "resource")
    click.secho(
        f"Success! The configuration is valid: {resources} in {plural(len(config.files), 'file')}.",
        fg="green",
    )


@click.command()
@click.option("--check", is_flag=True, help="Only report files that are not formatted (exit 1).")
@click.pass_context
def fmt(ctx: click.Context, check: bool) -> None:
    """Rewrite *.aop.json files in canonical form."""
    directory = options(ctx).chdir
    if not directory.is_dir():
        fail(f"{directory}: configuration directory does not exist")
    formatted: dict[Path, str] = {}
    problems: list[str] = []
    for path in config_files(directory):
        try:
            text = read_text(path)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(str(read_problem(path, exc)))
            continue
        data, errors = parse_json(text, path.name)
        problems.extend(str(e) for e in errors)
        if not errors and format_text(data) != text:
            formatted[path] = format_text(data)
    if problems:  # all or nothing: no file is rewritten while another cannot be read
        fail("cannot format files that are not valid JSON", problems)
    for path, text in formatted.items():
        if not check:
            _replace(path, text)
        click.echo(path.name)
    if check and formatted:
        raise click.exceptions.Exit(1)


@click.command()
@variable_options
@click.pass_context
def graph(ctx: click.Context, var_pairs: tuple[str, ...], var_files: tuple[Path, ...]) -> None:
    """Print the resource dependency graph in DOT."""
    click.echo(load(ctx, var_pairs, var_files).graph.to_dot(), nl=False)
