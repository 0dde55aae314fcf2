"""`aopctl import` through the command line on the `--sandbox`: adopting live objects into an
empty state, and refusing IDs that do not name what the configuration describes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from engine_helpers import SANDBOX_CLI_ENV, STATE_FILE, copy_example

from planner.cli import main
from planner.sandbox import default_path, open_persistent
from planner.sandbox.model import zone_id_for

COM, NET = zone_id_for("example.com"), zone_id_for("example.net")


def run(directory: Path, *args: str) -> Result:
    argv = ["--chdir", str(directory), "--sandbox", *args]
    result = CliRunner(env=SANDBOX_CLI_ENV).invoke(main, argv, catch_exceptions=False)
    assert "Traceback" not in result.output and "internal error" not in result.output
    return result


@pytest.fixture
def applied(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The per-hostname example applied, its live ids noted, then its state deleted."""
    directory = copy_example("per-hostname", tmp_path)
    assert run(directory, "apply", "--auto-approve").exit_code == 0
    state = json.loads((directory / STATE_FILE).read_text())
    ids = {r["address"]: r["remote_id"] for r in state["resources"]}
    (directory / STATE_FILE).unlink()
    return directory, ids


def test_importing_every_object_gives_an_empty_plan(applied: tuple[Path, dict[str, str]]) -> None:
    directory, ids = applied
    imports = {
        "aop_ssl_mode.com": COM,
        "aop_ssl_mode.net": NET,
        "aop_hostname_certificate.app": f"{COM}/{ids['aop_hostname_certificate.app']}",
        "aop_hostname_certificate.shop": f"{NET}/{ids['aop_hostname_certificate.shop']}",
        "aop_hostname_binding.app": f"{COM}/APP.example.com",  # hostnames match in any case
        "aop_hostname_binding.shop": f"{NET}/shop.example.net",
    }
    for address, remote in imports.items():
        result = run(directory, "import", address, remote, "--lock-timeout", "5s")
        assert result.exit_code == 0, result.output

    assert run(directory, "plan", "--detailed-exitcode").exit_code == 0
    zones = {r["zone_name"] for r in json.loads((directory / STATE_FILE).read_text())["resources"]}
    assert zones == {"example.com", "example.net"}


@pytest.mark.parametrize(
    ("address", "remote", "message"),
    [
        ("aop_ssl_mode.com", f"{COM}/anything", "the ID of a aop_ssl_mode is ZONE_ID"),
        ("aop_ssl_mode.com", "example.com", "the ID of a aop_ssl_mode is ZONE_ID"),
        ("aop_hostname_certificate.app", "/", "is ZONE_ID/CERT_ID"),
        ("aop_hostname_certificate.app", f"{COM}/", "is ZONE_ID/CERT_ID"),
        ("aop_hostname_binding.app", "/app.example.com", "is ZONE_ID/HOSTNAME"),
        ("aop_ssl_mode.net", COM, f"{COM} is in zone {COM}; aop_ssl_mode.net is configured in"),
        (
            "aop_hostname_certificate.app",
            f"{NET}/shop",
            "aop_hostname_certificate.app is configured in example.com",
        ),
        (
            "aop_hostname_binding.app",
            f"{COM}/legacy.example.com",
            "legacy.example.com is not among the hostnames of aop_hostname_binding.app",
        ),
    ],
)
def test_an_id_that_does_not_match_the_configuration_is_refused(
    applied: tuple[Path, dict[str, str]], address: str, remote: str, message: str
) -> None:
    directory, _ = applied
    writes = open_persistent(default_path(directory)).write_count()

    result = run(directory, "import", address, remote)

    assert result.exit_code == 1
    assert message in result.stderr
    assert not (directory / STATE_FILE).exists()
    assert open_persistent(default_path(directory)).write_count() == writes


def test_an_object_another_resource_manages_is_refused(
    applied: tuple[Path, dict[str, str]],
) -> None:
    directory, ids = applied
    config = json.loads((directory / "main.aop.json").read_text())
    config["resource"]["aop_hostname_certificate"]["next"] = {
        "zone": "example.com",
        "certificate": '${file("certs/app-2027.crt.pem")}',
    }
    (directory / "main.aop.json").write_text(json.dumps(config))
    app = f"{COM}/{ids['aop_hostname_certificate.app']}"
    assert run(directory, "import", "aop_hostname_certificate.app", app).exit_code == 0

    result = run(directory, "import", "aop_hostname_certificate.next", app)

    assert result.exit_code == 1
    assert "already managed by aop_hostname_certificate.app" in result.stderr
