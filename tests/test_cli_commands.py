"""The command table: every command loads, and start-up imports only what runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from planner.cli import COMMANDS, main


def test_every_listed_command_loads_under_its_name() -> None:
    ctx = click.Context(main)
    for name in COMMANDS:
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in [*COMMANDS, "version"]:
        assert f"\n  {name} " in result.output


def test_version_imports_no_command_module() -> None:
    # Start-up is paid by every invocation: `aopctl version` must not load the HTTP client,
    # the schema validator or any command module.
    probe = (
        "import sys\n"
        "from planner.cli import main\n"
        "try:\n"
        "    main(['version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('httpx', 'jsonschema', 'cryptography', 'planner.cli.engine_cmds')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.splitlines()[-1] == "[]"


def test_usage_errors_exit_1_never_the_2_of_changes_or_findings(tmp_path: Path) -> None:
    # A CI job runs `plan --detailed-exitcode` or `drift` and reads 2 as "changes": a typo in
    # its flags must read as an error instead, and change nothing.
    before = sorted(tmp_path.iterdir())
    for args in (
        ["plan", "--detailed-exitcode", "--bogus"],
        ["plan", "--format", "yaml"],
        ["drift", "--fail-on", "nonsense"],
        ["drift", "--expiry-days", "99999999"],  # past the year 9999: it was an internal error
        ["--log-level", "loud", "plan"],
        ["no-such-command"],
        ["state", "rm"],
    ):
        result = CliRunner().invoke(main, ["--chdir", str(tmp_path), *args])
        assert result.exit_code == 1, (args, result.output)
        assert "Error:" in result.output and "Traceback" not in result.output
    assert sorted(tmp_path.iterdir()) == before
