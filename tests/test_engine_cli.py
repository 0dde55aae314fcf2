"""plan / apply / destroy through the command line (click's CliRunner) on the `--sandbox`.

The `--sandbox` account lives in `.aopctl/sandbox.json` in the configuration directory; tests
inspect it with `open_persistent(...).snapshot()`. Deployment and deletion delays are zero so
nothing waits.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from engine_helpers import (
    SANDBOX_CLI_ENV,
    STATE_FILE,
    assert_no_key_material,
    copy_example,
    example_key_files,
    key_fragments,
)

from planner.cli import main
from planner.render.text import BATCHED_PUTS
from planner.sandbox import Sandbox, default_path, open_persistent


@dataclass
class Cli:
    """Runs aopctl in one configuration directory and keeps everything it printed."""

    directory: Path
    transcript: list[str] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        runner = CliRunner(env=SANDBOX_CLI_ENV)
        argv = ["--chdir", str(self.directory), "--sandbox", *args]
        result = runner.invoke(main, argv, input=input, catch_exceptions=False)
        self.transcript += [result.stdout, result.stderr]
        assert "Traceback" not in result.output and "internal error" not in result.output
        return result

    def sandbox(self) -> Sandbox:
        return open_persistent(default_path(self.directory)).snapshot()

    def state(self) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.directory / STATE_FILE).read_text())
        return data


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    yield Cli(copy_example("per-hostname", tmp_path))


def test_plan_apply_then_plan_is_empty(cli: Cli) -> None:
    planned = cli("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output
    assert "Plan: 6 to add, 0 to change, 0 to destroy." in planned.stdout

    applied = cli("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete!" in applied.stdout

    again = cli("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.stdout
    sandbox = cli.sandbox()
    assert len(sandbox.account.associations) == 3
    assert sandbox.check_zero_downtime() == []


def test_answering_no_changes_nothing(cli: Cli) -> None:
    result = cli("apply", input="no\n")

    assert result.exit_code == 1
    assert "Only 'yes' will be accepted" in result.stdout
    assert "cancelled" in result.stderr.lower()
    assert cli.sandbox().write_count() == 0
    state_file = cli.directory / STATE_FILE
    assert not state_file.exists() or json.loads(state_file.read_text())["resources"] == []


def test_answering_yes_applies(cli: Cli) -> None:
    result = cli("apply", input="yes\n")

    assert result.exit_code == 0, result.output
    assert cli("plan", "--detailed-exitcode").exit_code == 0


def test_saved_plan_applies_once_then_is_stale(cli: Cli) -> None:
    plan_file = cli.directory / "rotation.plan.json"
    assert cli("apply", "--auto-approve").exit_code == 0
    saved = cli("plan", "--var", "app_release=2027", "--out", str(plan_file))
    assert saved.exit_code == 0, saved.output

    applied = cli("apply", str(plan_file))
    assert applied.exit_code == 0, applied.output
    assert "Apply complete! Resources: 1 added, 1 changed, 1 destroyed." in (applied.stdout)
    assert cli("plan", "--var", "app_release=2027", "--detailed-exitcode").exit_code == 0

    writes = cli.sandbox().write_count()
    stale = cli("apply", str(plan_file))  # the state moved on when the plan was applied
    assert stale.exit_code == 1
    assert "stale" in stale.stderr and "state changed" in stale.stderr
    assert cli.sandbox().write_count() == writes


def test_a_first_plan_saved_before_any_state_can_be_shown(cli: Cli) -> None:
    plan_file = cli.directory / "first.plan.json"
    assert cli("plan", "--out", str(plan_file)).exit_code == 0

    for fmt in ("text", "json"):
        shown = cli("show", str(plan_file), "--format", fmt)
        assert shown.exit_code == 0, shown.output
    assert json.loads(cli("show", str(plan_file), "--format", "json").stdout)["lineage"] is None
    assert cli("apply", str(plan_file)).exit_code == 0
    again = cli("apply", str(plan_file))
    assert again.exit_code == 1 and "the state was created since the plan was made" in again.stderr


def test_binding_writes_sent_together_are_said_to_be(cli: Cli) -> None:
    # Two bindings of example.com: the plan lists a write for each, apply sends one PUT.
    config_file = cli.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    bindings = document["resource"]["aop_hostname_binding"]
    bindings["api"] = {**bindings["app"], "hostnames": ["api.example.com"]}
    bindings["app"]["hostnames"] = ["app.example.com"]
    config_file.write_text(json.dumps(document))

    for fmt in ("text", "markdown"):
        assert BATCHED_PUTS in cli("plan", "--format", fmt).stdout
    assert cli("apply", "--auto-approve").exit_code == 0

    com = cli.sandbox().zone_id("example.com")
    puts = [r for r in cli.sandbox().requests if r.method == "PUT" and com in r.path]
    assert len(puts) == 1


def test_saved_plan_refused_after_an_out_of_band_change(cli: Cli) -> None:
    plan_file = cli.directory / "first.plan.json"
    assert cli("plan", "--out", str(plan_file)).exit_code == 0
    with open_persistent(default_path(cli.directory)).edit() as sandbox:
        sandbox.set_setting("example.com", "ssl", "strict")

    refused = cli("apply", str(plan_file))

    assert refused.exit_code == 1 and "stale" in refused.stderr
    assert cli.sandbox().write_count() == 0


def test_tampered_saved_plan_is_refused(cli: Cli) -> None:
    plan_file = cli.directory / "first.plan.json"
    assert cli("plan", "--out", str(plan_file)).exit_code == 0
    body = json.loads(plan_file.read_text())
    body["plan"]["changes"] = []
    plan_file.write_text(json.dumps(body))

    refused = cli("apply", str(plan_file))

    assert refused.exit_code == 1 and "checksum" in refused.stderr
    assert cli.sandbox().write_count() == 0


def test_a_saved_plan_refuses_options_it_does_not_carry(cli: Cli) -> None:
    # The plan file holds its own variables: a --var at apply time would be silently ignored.
    plan_file = cli.directory / "rotation.plan.json"
    assert cli("apply", "--auto-approve").exit_code == 0
    assert cli("plan", "--var", "app_release=2027", "--out", str(plan_file)).exit_code == 0
    writes = cli.sandbox().write_count()

    for extra in (["--var", "app_release=2026"], ["--target", "aop_ssl_mode.com"]):
        refused = cli("apply", str(plan_file), *extra)
        assert refused.exit_code == 1, refused.output
        assert "make a new plan" in refused.stderr
    assert cli.sandbox().write_count() == writes


@pytest.mark.parametrize("sensitive", [True, False])
def test_a_saved_plan_takes_its_secrets_again_with_var(cli: Cli, sensitive: bool) -> None:
    # A plan never stores a secret, marked sensitive or not (a key is a key): --var gives it
    # again, as the error asking for it says; the plan's other variables come from the plan.
    config_file = cli.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    document["variable"]["app_key"] = {"type": "string", "sensitive": sensitive}
    app = document["resource"]["aop_hostname_certificate"]["app"]
    app["private_key"] = "${var.app_key}"
    config_file.write_text(json.dumps(document))
    key = f"app_key={(cli.directory / 'certs' / 'app-2027.key.pem').read_text()}"
    plan_file = cli.directory / "rotation.plan.json"
    assert (
        cli("plan", "--var", "app_release=2027", "--var", key, "--out", str(plan_file)).exit_code
        == 0
    )

    assert "PRIVATE KEY" not in plan_file.read_text()
    asked = cli("apply", str(plan_file))
    assert asked.exit_code == 1 and "app_key" in asked.stderr
    applied = cli("apply", str(plan_file), "--var", key)

    assert applied.exit_code == 0, applied.output
    assert (
        cli("plan", "--var", "app_release=2027", "--var", key, "--detailed-exitcode").exit_code == 0
    )
    assert_no_key_material(
        "\n".join(cli.transcript),
        key_fragments(cli.directory / "certs" / "app-2027.key.pem"),
        "cli",
    )


def test_a_plan_written_into_a_missing_folder_names_it(cli: Cli) -> None:
    result = cli("plan", "--out", str(cli.directory / "no-such-folder" / "p.plan"))

    assert result.exit_code == 1
    assert f"{cli.directory / 'no-such-folder' / 'p.plan'}: No such file or directory" in (
        result.stderr
    )
    assert not (cli.directory / STATE_FILE).exists()


def test_a_damaged_sandbox_file_is_an_error_not_a_crash(cli: Cli) -> None:
    assert cli("apply", "--auto-approve").exit_code == 0
    account = default_path(cli.directory)
    account.write_text(account.read_text()[:500])
    state = (cli.directory / STATE_FILE).read_bytes()

    for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
        result = cli(*command)
        assert result.exit_code == 1, result.output
        assert f"{account} is not a sandbox file" in result.stderr
    assert (cli.directory / STATE_FILE).read_bytes() == state


def test_state_entries_aopctl_cannot_read_are_named(cli: Cli) -> None:
    assert cli("apply", "--auto-approve").exit_code == 0
    document: dict[str, Any] = cli.state()
    first, binding = document["resources"][0], document["resources"][1]
    first["type"], first["address"] = "aop_future", f"aop_future.{first['name']}"
    assert binding["type"] == "aop_hostname_binding"
    binding["attributes"]["hostnames"] = 5
    (cli.directory / STATE_FILE).write_text(json.dumps(document))
    writes = cli.sandbox().write_count()

    for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
        result = cli(*command)
        assert result.exit_code == 1, result.output
        assert f"aop_future.{first['name']}: unknown resource type" in result.stderr
        assert f"{binding['address']}: attributes.hostnames is not a list of strings" in (
            result.stderr
        )
    assert cli.sandbox().write_count() == writes


@pytest.mark.parametrize("text", ["[" * 100_000, '{"serial": ' + "9" * 5000 + "}"])
def test_a_state_file_that_breaks_the_json_parser_is_named(cli: Cli, text: str) -> None:
    (cli.directory / STATE_FILE).write_text(text)

    result = cli("plan")

    assert result.exit_code == 1
    assert f"state file {cli.directory / STATE_FILE} is not an aopctl state" in result.stderr


def test_prevent_destroy_exits_1_without_writing(cli: Cli) -> None:
    assert cli("apply", "--auto-approve").exit_code == 0
    writes = cli.sandbox().write_count()

    result = cli("destroy", "--auto-approve")

    assert result.exit_code == 1
    assert "aop_hostname_binding.shop" in result.stderr and "prevent_destroy" in result.stderr
    assert cli.sandbox().write_count() == writes


def test_deployment_timed_out_exits_1_naming_the_object(cli: Cli) -> None:
    assert cli("apply", "--auto-approve").exit_code == 0
    with open_persistent(default_path(cli.directory)).edit() as sandbox:
        sandbox.faults.add("deployment_timed_out", method="POST")

    failed = cli("apply", "--auto-approve", "--var", "app_release=2027")

    assert failed.exit_code == 1
    assert "aop_hostname_certificate.app" in failed.stderr
    assert "deployment_timed_out" in failed.stderr
    rerun = cli("apply", "--auto-approve", "--var", "app_release=2027")
    assert rerun.exit_code == 0, rerun.output
    assert cli("plan", "--var", "app_release=2027", "--detailed-exitcode").exit_code == 0
    sandbox = cli.sandbox()
    now = sandbox.clock()
    live = [c for c in sandbox.account.certificates.values() if c.visible_at(now)]
    assert len([c for c in live if not c.deleted(now)]) == 2  # app and shop, nothing else
    assert sandbox.check_zero_downtime() == []


def test_no_private_key_in_any_output(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    plan_file = cli.directory / "saved.plan.json"
    runs = [
        cli("plan", "--format", "json"),
        cli("plan", "--format", "markdown"),
        cli("plan", "--out", str(plan_file)),
        cli("apply", "--auto-approve"),
        cli("plan", "--var", "app_release=2027", "--format", "json"),
        cli("apply", "--auto-approve", "--var", "app_release=2027"),
        cli("show"),
        cli("output", "--json"),
    ]
    assert all(r.exit_code == 0 for r in runs), [r.output for r in runs]

    fragments = key_fragments(*example_key_files())
    assert fragments
    assert_no_key_material("\n".join(cli.transcript), fragments, "the command output")
    assert_no_key_material(caplog.text, fragments, "the logs")
    assert_no_key_material(plan_file.read_text(), fragments, "the saved plan")
    assert_no_key_material((cli.directory / STATE_FILE).read_text(), fragments, "the state")
    sandbox_file = default_path(cli.directory).read_text()
    assert_no_key_material(sandbox_file, fragments, "the sandbox's request log")


def test_debug_logging_shows_calls_but_no_key(cli: Cli, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    runner = CliRunner(env=SANDBOX_CLI_ENV)
    argv = ["--chdir", str(cli.directory), "--sandbox", "--log-level", "debug"]

    outcome = runner.invoke(main, [*argv, "apply", "--auto-approve"], catch_exceptions=False)

    assert outcome.exit_code == 0, outcome.output
    assert "/hostnames/certificates" in caplog.text  # the debug log shows the uploads
    fragments = key_fragments(*example_key_files())
    assert_no_key_material(caplog.text + outcome.output, fragments, "the debug log")


def test_a_long_rate_limit_wait_is_announced_on_stderr(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan's 10 reads outrun a quota of 6 per second (1 kept in reserve), so the command
    stops until the window resets and says so, on stderr: stdout stays the plan alone."""
    monkeypatch.setattr("planner.cloudflare.ratelimit.DEFAULT_NOTICE_AFTER", 0.2)
    monkeypatch.setenv("AOPCTL_SANDBOX_RATE_LIMIT", "6/1")

    result = cli("plan", "--format", "json")

    assert result.exit_code == 0, result.output
    assert "Cloudflare API rate limit: no requests for about" in result.stderr
    assert json.loads(result.stdout)["summary"]["add"] == 6
    assert cli.sandbox().write_count() == 0
