"""The shipped examples, the published JSON Schema, and the installed `aopctl` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from planner.cli import main
from planner.config import VariableInputs, load_configuration, schemagen
from planner.config.fmt import format_text
from planner.model import RESOURCE_TYPES

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted(path.parent for path in (ROOT / "examples").glob("*/main.aop.json"))
SCHEMA_FILE = ROOT / "schemas" / "config.schema.json"
CORPUS = Path(__file__).parent / "data" / "bad-configs"


def example_id(path: Path) -> str:
    return path.name


@pytest.fixture(autouse=True)
def no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AOP_VAR_"):
            monkeypatch.delenv(name)


def test_there_are_examples() -> None:
    assert {path.name for path in EXAMPLES} >= {"global", "per-hostname", "zone-certificate"}


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_example_validates(example: Path) -> None:
    result = CliRunner().invoke(main, ["--chdir", str(example), "validate"])
    assert result.exit_code == 0, result.output
    assert "Success! The configuration is valid" in result.output
    assert "warning" not in result.output


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_example_is_formatted(example: Path) -> None:
    result = CliRunner().invoke(main, ["--chdir", str(example), "fmt", "--check"])
    assert (result.exit_code, result.output) == (0, "")
    for path in example.glob("*.aop.json"):
        text = path.read_text(encoding="utf-8")
        assert format_text(json.loads(text)) == text


@pytest.mark.parametrize("example", EXAMPLES, ids=example_id)
def test_example_matches_the_published_schema(example: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    for path in example.glob("*.aop.json"):
        validator.validate(json.loads(path.read_text(encoding="utf-8")))


def test_rotation_variable_of_the_per_hostname_example() -> None:
    example = ROOT / "examples" / "per-hostname"
    old = load_configuration(example)
    new = load_configuration(example, VariableInputs(cli={"app_release": "2027"}))
    cert = next(a for a in old.certificates if a.name == "app")
    assert old.certificates[cert].fingerprint_sha256 != new.certificates[cert].fingerprint_sha256
    assert old.private_keys[cert].reveal() != new.private_keys[cert].reveal()


def test_committed_schema_is_generated_from_the_model() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schemagen.render()


def test_schema_is_a_valid_json_schema_covering_every_resource_type() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["properties"]["resource"]["properties"]) == {*RESOURCE_TYPES, "//"}


@pytest.mark.parametrize(
    "document",
    [
        {"resource": {"aop_ssl_mode": {"main": {"zone": "example.com", "mode": "flexible"}}}},
        {"resource": {"aop_global": {"main": {"zone": "example.com"}}}},
        {"resource": {"aop_global": {"Main": {"zone": "example.com", "enabled": True}}}},
        {"resource": {"aop_global": {"m": {"zone": "example.com", "enabled": "yes"}}}},
        {"resources": {}},
    ],
)
def test_schema_rejects_what_validate_rejects(document: dict[str, object]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()))
    assert not validator.is_valid(document)


def installed_aopctl() -> Path:
    script = Path(sys.executable).parent / ("aopctl.exe" if os.name == "nt" else "aopctl")
    assert script.exists(), f"the console script is not installed next to {sys.executable}"
    return script


def run_aopctl(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AOP_VAR_")}
    return subprocess.run(
        [str(installed_aopctl()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "NO_COLOR": "1"},
    )


@pytest.mark.slow
def test_installed_command_validates_an_example() -> None:
    done = run_aopctl("--chdir", str(ROOT / "examples" / "per-hostname"), "validate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Success! The configuration is valid: 6 resources in 1 file.")


@pytest.mark.slow
def test_installed_command_reports_every_mistake_on_stderr() -> None:
    done = run_aopctl("--chdir", str(CORPUS / "many-mistakes"), "validate")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("Error: configuration has 11 problems\n")
    assert "Traceback" not in done.stderr
