"""Variables: precedence, conversion of command-line text, undeclared names, sensitive values."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from certgen import make_leaf
from click.testing import CliRunner

from planner.cli import main
from planner.config import VariableInputs, load_configuration, parse_cli_vars
from planner.errors import ConfigError
from planner.model import Address

SECRET = "hunter2-Zq7-do-not-print"


@pytest.fixture(autouse=True)
def no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AOP_VAR_"):
            monkeypatch.delenv(name)


def write(directory: Path, config: dict[str, Any], name: str = "main.aop.json") -> Path:
    (directory / name).write_text(json.dumps(config), encoding="utf-8")
    return directory


def value_of(directory: Path, declaration: dict[str, Any], inputs: VariableInputs) -> Any:
    """The value variable `v` gets, read back through an output."""
    config = {"variable": {"v": declaration}, "output": {"o": {"value": "${var.v}"}}}
    return load_configuration(write(directory, config), inputs).outputs["o"].value


def problems(directory: Path, config: dict[str, Any], inputs: VariableInputs) -> str:
    with pytest.raises(ConfigError) as caught:
        load_configuration(write(directory, config), inputs)
    return "\n".join(caught.value.reasons)


def var_file(directory: Path, values: dict[str, Any], name: str = "values.json") -> Path:
    path = directory / name
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


# -- precedence: --var > --var-file > AOP_VAR_* > default, one step at a time ------------------


def test_default_applies_when_nothing_else_is_given(tmp_path: Path) -> None:
    assert value_of(tmp_path, {"default": "d"}, VariableInputs()) == "d"


def test_environment_beats_default(tmp_path: Path) -> None:
    inputs = VariableInputs(env={"AOP_VAR_v": "e"})
    assert value_of(tmp_path, {"default": "d"}, inputs) == "e"


def test_var_file_beats_environment(tmp_path: Path) -> None:
    inputs = VariableInputs(files=[var_file(tmp_path, {"v": "f"})], env={"AOP_VAR_v": "e"})
    assert value_of(tmp_path, {"default": "d"}, inputs) == "f"


def test_command_line_beats_var_file(tmp_path: Path) -> None:
    inputs = VariableInputs(
        cli={"v": "c"}, files=[var_file(tmp_path, {"v": "f"})], env={"AOP_VAR_v": "e"}
    )
    assert value_of(tmp_path, {"default": "d"}, inputs) == "c"


def test_later_var_file_beats_earlier(tmp_path: Path) -> None:
    files = [var_file(tmp_path, {"v": "first"}, "a.json"), var_file(tmp_path, {"v": "2"}, "b.json")]
    assert value_of(tmp_path, {}, VariableInputs(files=files)) == "2"


def test_a_bad_lower_precedence_value_does_not_hide_a_good_one(tmp_path: Path) -> None:
    inputs = VariableInputs(cli={"v": "true"}, env={"AOP_VAR_v": "not-a-bool"})
    assert value_of(tmp_path, {"type": "bool"}, inputs) is True


def test_precedence_through_the_command_line(tmp_path: Path) -> None:
    """Each source gives an invalid zone; the error shows which one won."""
    config = {
        "variable": {"zone": {"default": "default zone"}},
        "resource": {"aop_ssl_mode": {"main": {"zone": "${var.zone}", "mode": "full"}}},
    }
    write(tmp_path, config)
    values = var_file(tmp_path, {"zone": "file zone"})

    def winner(*args: str, env: dict[str, str] | None = None) -> str:
        result = CliRunner(env=env).invoke(main, ["--chdir", str(tmp_path), "validate", *args])
        assert result.exit_code == 1
        names = ["default zone", "env zone", "file zone", "cli zone"]
        (shown,) = [name for name in names if f"'{name}' is neither" in result.output]
        return shown

    env = {"AOP_VAR_zone": "env zone"}
    assert winner() == "default zone"
    assert winner(env=env) == "env zone"
    assert winner("--var-file", str(values), env=env) == "file zone"
    assert winner("--var-file", str(values), "--var", "zone=cli zone", env=env) == "cli zone"


# -- conversion of text from the command line and the environment ------------------------------


@pytest.mark.parametrize(
    ("declared", "text", "expected"),
    [
        ("bool", "true", True),
        ("bool", "FALSE", False),
        ("number", "3", 3),
        ("number", "-2.5", -2.5),
        ("list", '["a.example.com", "b.example.com"]', ["a.example.com", "b.example.com"]),
        ("map", '{"a": 1}', {"a": 1}),
        ("string", "true", "true"),
        ("any", "42", "42"),
    ],
)
def test_command_line_text_becomes_the_declared_type(
    tmp_path: Path, declared: str, text: str, expected: Any
) -> None:
    for inputs in (VariableInputs(cli={"v": text}), VariableInputs(env={"AOP_VAR_v": text})):
        value = value_of(tmp_path, {"type": declared}, inputs)
        assert value == expected
        assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("declared", "text", "message"),
    [
        ("bool", "yes", "expected true or false"),
        ("number", "three", "expected a number"),
        ("list", "a,b", "expected a JSON list"),
        ("list", '{"a": 1}', "expected a JSON list"),
        ("map", "[1]", "expected a JSON map"),
    ],
)
def test_unconvertible_text_names_the_variable_and_its_source(
    tmp_path: Path, declared: str, text: str, message: str
) -> None:
    config = {"variable": {"v": {"type": declared}}}
    found = problems(tmp_path, config, VariableInputs(cli={"v": text}))
    assert f"main.aop.json: $.variable.v: value from --var v: {message}" in found
    found = problems(tmp_path, config, VariableInputs(env={"AOP_VAR_v": text}))
    assert f"$.variable.v: value from environment AOP_VAR_v: {message}" in found


def test_var_file_values_keep_their_json_type(tmp_path: Path) -> None:
    files = [var_file(tmp_path, {"v": "3"})]
    found = problems(tmp_path, {"variable": {"v": {"type": "number"}}}, VariableInputs(files=files))
    assert "$.variable.v: value from --var-file: expected a number" in found
    files = [var_file(tmp_path, {"v": 3})]
    assert value_of(tmp_path, {"type": "number"}, VariableInputs(files=files)) == 3


def test_a_refused_value_is_reported_once_not_again_at_each_use(tmp_path: Path) -> None:
    config = {
        "variable": {"en": {"type": "bool", "default": True}},
        "resource": {"aop_global": {"g": {"zone": "example.com", "enabled": "${var.en}"}}},
        "output": {"o": {"value": "${var.en}"}},
    }
    for inputs in (
        VariableInputs(cli={"en": "maybe"}),
        VariableInputs(files=[var_file(tmp_path, {"en": "yes"})]),
    ):
        found = problems(tmp_path, config, inputs).splitlines()
        assert len(found) == 1 and "$.variable.en: value from --var" in found[0], found


def test_files_from_windows_editors_and_shells_are_read(tmp_path: Path) -> None:
    # Notepad writes UTF-8 with a byte-order mark; PowerShell 5's `>` writes UTF-16.
    (tmp_path / "bom.json").write_bytes('{"v": "from-notepad"}'.encode("utf-8-sig"))
    (tmp_path / "u16.json").write_bytes('{"v": "from-powershell"}'.encode("utf-16"))
    for name, expected in (("bom.json", "from-notepad"), ("u16.json", "from-powershell")):
        inputs = VariableInputs(files=[tmp_path / name])
        assert value_of(tmp_path, {"type": "string"}, inputs) == expected
    config = {"variable": {"v": {"default": "x"}}, "output": {"o": {"value": "${var.v}"}}}
    (tmp_path / "main.aop.json").write_bytes(json.dumps(config).encode("utf-8-sig"))
    assert load_configuration(tmp_path).outputs["o"].value == "x"


def test_bool_is_not_a_number(tmp_path: Path) -> None:
    config = {"variable": {"v": {"type": "number", "default": True}}}
    assert "expected a number" in problems(tmp_path, config, VariableInputs())


# -- undeclared and malformed inputs ---------------------------------------------------------


def test_undeclared_command_line_variable(tmp_path: Path) -> None:
    config = {"variable": {"zone": {"default": "example.com"}}}
    found = problems(tmp_path, config, VariableInputs(cli={"zoen": "x"}))
    assert "--var: zoen: variable 'zoen' is not declared" in found


def test_undeclared_var_file_variable(tmp_path: Path) -> None:
    files = [var_file(tmp_path, {"other": 1, "//": "comments are allowed here too"})]
    found = problems(tmp_path, {}, VariableInputs(files=files))
    assert found == f"error: {files[0]}: $.other: variable 'other' is not declared"


def test_unknown_environment_variables_are_ignored(tmp_path: Path) -> None:
    inputs = VariableInputs(env={"AOP_VAR_other": "x"})
    assert value_of(tmp_path, {"default": "d"}, inputs) == "d"


def test_var_file_problems(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text('{"v": ', encoding="utf-8")
    (tmp_path / "list.json").write_text("[1]", encoding="utf-8")
    files = [tmp_path / "missing.json", tmp_path / "broken.json", tmp_path / "list.json"]
    found = problems(tmp_path, {"variable": {"v": {"default": 1}}}, VariableInputs(files=files))
    assert "missing.json: cannot read variable file: No such file or directory" in found
    assert "broken.json: invalid JSON at line 1, column 7" in found
    assert "list.json: $: a variable file must hold a JSON object" in found


@pytest.mark.parametrize("pair", ["novalue", "=value-is-here"])
def test_malformed_var_is_a_clean_error(tmp_path: Path, pair: str) -> None:
    write(tmp_path, {})
    result = CliRunner().invoke(main, ["--chdir", str(tmp_path), "validate", "--var", pair])
    assert result.exit_code == 1
    assert "expected NAME=VALUE" in result.output
    assert "value-is-here" not in result.output
    assert "Traceback" not in result.output


def test_parse_cli_vars_keeps_everything_after_the_first_equals() -> None:
    assert parse_cli_vars(["a=b=c", "empty="]) == {"a": "b=c", "empty": ""}


# -- sensitive values are never printed -----------------------------------------------------------


def run_validate(directory: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner(env=env).invoke(main, ["--chdir", str(directory), "validate", *args])
    assert "Traceback" not in result.output
    return result.output


@pytest.mark.parametrize("declared", ["number", "bool", "list", "map"])
def test_a_bad_sensitive_value_is_not_printed(tmp_path: Path, declared: str) -> None:
    write(tmp_path, {"variable": {"v": {"type": declared, "sensitive": True}}})
    for args, env in (
        (("--var", f"v={SECRET}"), None),
        ((), {"AOP_VAR_v": SECRET}),
    ):
        output = run_validate(tmp_path, *args, env=env)
        assert "$.variable.v: value from" in output
        assert SECRET not in output


def test_a_sensitive_value_of_the_wrong_type_from_a_file_is_not_printed(tmp_path: Path) -> None:
    write(tmp_path, {"variable": {"v": {"type": "bool", "sensitive": True}}})
    values = var_file(tmp_path, {"v": SECRET})
    output = run_validate(tmp_path, "--var-file", str(values))
    assert "value from --var-file: expected a bool" in output
    assert SECRET not in output


def test_sensitive_values_are_masked_in_attribute_errors(tmp_path: Path) -> None:
    config = {
        "variable": {
            "zone": {"type": "string", "sensitive": True},
            "hosts": {"type": "list", "sensitive": True},
            "path": {"type": "string", "sensitive": True},
            "name": {"type": "string", "sensitive": True},
        },
        "resource": {
            "aop_ssl_mode": {"main": {"zone": "${var.zone}", "mode": "full"}},
            "aop_hostname_binding": {
                "app": {"zone": "example.com", "hostnames": "${var.hosts}", "certificate_id": "x"},
                "api": {"zone": "example.com", "hostnames": "${var.hosts}", "certificate_id": "y"},
            },
            "aop_hostname_certificate": {
                "app": {"zone": "example.com", "certificate": "${file(var.path)}"},
                "api": {"zone": "example.com", "certificate": "${env(var.name)}"},
            },
        },
    }
    write(tmp_path, config)
    hosts = json.dumps([f"{SECRET}.example.com", "Upper-" + SECRET, "ok.example.com"] * 2)
    output = run_validate(
        tmp_path,
        *("--var", f"zone=not a zone {SECRET}"),
        *("--var", f"hosts={hosts}"),
        *("--var", f"path=../{SECRET}.pem"),
        *("--var", f"name={SECRET}"),
    )
    assert "$.resource.aop_ssl_mode.main.zone: (sensitive value) is neither" in output
    assert "hostnames[1]: (sensitive value) is not a valid lower-case hostname" in output
    assert "hostnames listed twice: (sensitive value)" in output
    assert "(sensitive value) is already bound by aop_hostname_binding.api" in output
    assert "file((sensitive value)) is outside the configuration directory" in output
    assert "environment variable (sensitive value) is not set" in output
    assert SECRET not in output


def test_private_key_from_a_variable_without_a_value_validates(tmp_path: Path) -> None:
    """A key is needed only to upload: validate passes and the loader says which variable."""
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    config = {
        "variable": {"app_key": {"type": "string", "sensitive": True}},
        "resource": {
            "aop_hostname_certificate": {
                "app": {
                    "zone": "example.com",
                    "certificate": '${file("app.crt.pem")}',
                    "private_key": "${var.app_key}",
                }
            }
        },
    }
    write(tmp_path, config)
    result = CliRunner().invoke(main, ["--chdir", str(tmp_path), "validate"])
    assert result.exit_code == 0, result.output
    key = load_configuration(tmp_path).private_keys[Address("aop_hostname_certificate", "app")]
    assert key.reveal() is None
    assert key.variable == "app_key"


def test_private_key_from_a_variable_is_checked_and_never_shown(tmp_path: Path) -> None:
    leaf = make_leaf("app.example.com", sans=["app.example.com"])
    other = make_leaf("app.example.com", sans=["app.example.com"])
    (tmp_path / "app.crt.pem").write_text(leaf.cert_pem, encoding="utf-8")
    config = {
        "variable": {"app_key": {"type": "string", "sensitive": True}},
        "resource": {
            "aop_hostname_certificate": {
                "app": {
                    "zone": "example.com",
                    "certificate": '${file("app.crt.pem")}',
                    "private_key": "${var.app_key}",
                }
            }
        },
    }
    write(tmp_path, config)
    inputs = VariableInputs(cli={"app_key": leaf.key_pem})
    loaded = load_configuration(tmp_path, inputs)
    key = loaded.private_keys[Address("aop_hostname_certificate", "app")]
    assert key.reveal() is not None and "PRIVATE KEY" in key.reveal()  # type: ignore[operator]
    assert "PRIVATE KEY" not in repr(key)
    assert "private_key" in loaded.resources[Address("aop_hostname_certificate", "app")].sensitive
    assert (
        "private_key" not in loaded.resources[Address("aop_hostname_certificate", "app")].attributes
    )

    output = run_validate(tmp_path, "--var", f"app_key={other.key_pem}")
    assert "private key does not match the certificate" in output
    body = other.key_pem.splitlines()[1]
    assert body not in output
