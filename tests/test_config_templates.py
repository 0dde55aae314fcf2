"""Template strings: parsing, and their evaluation while a configuration loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.config import load_configuration
from planner.config.templates import (
    Call,
    Deferred,
    Ref,
    Reference,
    TemplateError,
    parse,
    parse_expression,
    references,
)
from planner.errors import ConfigError
from planner.model import UNKNOWN, Address

CERT = Address("aop_hostname_certificate", "app")


def write(directory: Path, config: dict[str, Any], name: str = "main.aop.json") -> Path:
    (directory / name).write_text(json.dumps(config), encoding="utf-8")
    return directory


def outputs(directory: Path, values: dict[str, Any], **load: Any) -> dict[str, Any]:
    """Evaluate `values` as outputs of a configuration that declares a few variables."""
    config = {
        "variable": {
            "flag": {"type": "bool", "default": True},
            "names": {"type": "list", "default": ["a.example.com", "b.example.com"]},
            "count": {"type": "number", "default": 3},
            "zone": {"default": "example.com"},
        },
        "locals": {"dir": "certs", "both": "${var.zone}/${local.dir}"},
        "output": {name: {"value": value} for name, value in values.items()},
    }
    loaded = load_configuration(write(directory, config), **load)
    return {name: output.value for name, output in loaded.outputs.items()}


# -- parsing ----------------------------------------------------------------------------------


def test_parse_splits_text_and_expressions() -> None:
    assert parse("a-${var.x}-b") == ["a-", Ref(("var", "x")), "-b"]
    assert parse("${ local.y }") == [Ref(("local", "y"))]


def test_parse_function_with_nested_template_argument() -> None:
    (call,) = parse('${file("${local.dir}/x.pem")}')
    assert call == Call("file", (Ref(("local", "dir")), "/x.pem"))
    assert references([call]) == [Ref(("local", "dir"))]


def test_parse_function_with_reference_argument() -> None:
    assert parse_expression("env(var.name)") == Call("env", Ref(("var", "name")))


def test_parse_escaped_quote_in_function_argument() -> None:
    assert parse_expression('file("a\\"b")') == Call("file", ('a"b',))


def test_dollar_dollar_brace_is_a_literal() -> None:
    assert parse("$${var.x}") == ["${var.x}"]
    assert parse("a $${b} ${var.c}") == ["a ${b} ", Ref(("var", "c"))]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${var.x", "unterminated '${'"),
        ('${file("a}")', "unterminated '${'"),
        ("x${}", "empty expression '${}'"),
        ("${   }", "empty expression '${}'"),
        ('${upper("a")}', "unknown function 'upper'; available: file(), env()"),
        ('${file("a", "b")}', 'file() takes one argument, a "quoted string" or a reference'),
        ("${file(1)}", "file() takes one argument"),
        ("${var.x + 1}", "cannot parse expression 'var.x + 1'"),
        ("${9lives}", "cannot parse expression '9lives'"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        parse(text)
    assert message in str(caught.value)


TEMPLATE_TEXT = st.text(alphabet='${}ab"\\') | st.text()


@settings(deadline=None)
@given(TEMPLATE_TEXT)
def test_escaping_every_template_start_gives_the_text_back(text: str) -> None:
    """A user escapes each `${` as `$${`; the result is always the literal text."""
    parts = parse(text.replace("${", "$${"))
    assert all(isinstance(part, str) for part in parts)
    assert "".join(str(part) for part in parts) == text


@settings(deadline=None)
@given(st.text().filter(lambda t: "${" not in t))
def test_text_without_templates_is_one_literal(text: str) -> None:
    assert parse(text) == ([text] if text else [])


# -- evaluation -------------------------------------------------------------------------------


def test_lone_expression_keeps_the_raw_value(tmp_path: Path) -> None:
    values = outputs(
        tmp_path, {"bool": "${var.flag}", "list": "${var.names}", "number": "${var.count}"}
    )
    assert values == {"bool": True, "list": ["a.example.com", "b.example.com"], "number": 3}


def test_interpolation_turns_values_into_text(tmp_path: Path) -> None:
    values = outputs(tmp_path, {"bool": "on=${var.flag}", "number": "${var.count} certs"})
    assert values == {"bool": "on=true", "number": "3 certs"}


def test_escape_yields_a_literal_dollar_brace(tmp_path: Path) -> None:
    values = outputs(tmp_path, {"a": "$${var.zone}", "b": "$${x} and ${var.zone}"})
    assert values == {"a": "${var.zone}", "b": "${x} and example.com"}


def test_locals_refer_to_variables_and_locals(tmp_path: Path) -> None:
    assert outputs(tmp_path, {"both": "${local.both}"}) == {"both": "example.com/certs"}


def test_file_with_a_nested_template_path(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "x.pem").write_text("contents\n", encoding="utf-8")
    values = outputs(tmp_path, {"text": '${file("${local.dir}/x.pem")}'})
    assert values == {"text": "contents\n"}


def test_env_reads_the_given_environment(tmp_path: Path) -> None:
    values = outputs(tmp_path, {"v": '${env("AOP_TEST_X")}'}, env={"AOP_TEST_X": "from-env"})
    assert values == {"v": "from-env"}


def test_env_of_an_unset_variable_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        outputs(tmp_path, {"v": '${env("AOP_TEST_UNSET")}'}, env={})
    assert "environment variable 'AOP_TEST_UNSET' is not set" in "\n".join(caught.value.reasons)


def test_interpolating_a_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        outputs(tmp_path, {"v": "x-${var.names}"})
    assert "cannot interpolate a list into a string" in "\n".join(caught.value.reasons)


def test_locals_that_refer_to_each_other_are_reported(tmp_path: Path) -> None:
    config = {
        "locals": {"a": "${local.b}", "b": "x${local.a}"},
        "output": {"o": {"value": "${local.a}"}},
    }
    with pytest.raises(ConfigError) as caught:
        load_configuration(write(tmp_path, config))
    assert "locals refer to each other: local.a -> local.b -> local.a" in caught.value.reasons[0]


def bound_configuration(tmp_path: Path, certificate_id: str) -> dict[str, Any]:
    return {
        "resource": {
            "aop_ssl_mode": {"main": {"zone": "example.com", "mode": "full"}},
            "aop_global": {"main": {"zone": "${aop_ssl_mode.main.zone}", "enabled": True}},
            "aop_hostname_binding": {
                "app": {
                    "zone": "example.com",
                    "hostnames": ["app.example.com"],
                    "certificate_id": certificate_id,
                }
            },
            "aop_hostname_certificate": {
                "app": {"zone": "example.com", "certificate": '${file("app.pem")}'}
            },
        }
    }


@pytest.fixture
def with_certificate(tmp_path: Path) -> Path:
    examples = Path(__file__).parent.parent / "examples" / "certs"
    (tmp_path / "app.pem").write_text((examples / "app-2026.crt.pem").read_text())
    return tmp_path


def test_computed_attribute_is_deferred(with_certificate: Path) -> None:
    config = bound_configuration(with_certificate, "${aop_hostname_certificate.app.id}")
    loaded = load_configuration(write(with_certificate, config))
    binding = loaded.resources[Address("aop_hostname_binding", "app")]
    value = binding.attributes["certificate_id"]
    assert value == Deferred((Reference(CERT, "id"),))
    assert binding.dependencies == (CERT,)
    assert value.resolve(lambda ref: "abc123") == "abc123"
    assert value.resolve(lambda ref: UNKNOWN) is UNKNOWN


def test_computed_attribute_inside_text_is_deferred_text(with_certificate: Path) -> None:
    config = bound_configuration(with_certificate, "id-${aop_hostname_certificate.app.id}")
    loaded = load_configuration(write(with_certificate, config))
    value = loaded.resources[Address("aop_hostname_binding", "app")].attributes["certificate_id"]
    assert value == Deferred(("id-", Reference(CERT, "id")))
    assert value.resolve(lambda ref: "abc") == "id-abc"


def test_configured_attribute_yields_its_value(with_certificate: Path) -> None:
    config = bound_configuration(with_certificate, "${aop_hostname_certificate.app.id}")
    loaded = load_configuration(write(with_certificate, config))
    aop_global = loaded.resources[Address("aop_global", "main")]
    assert aop_global.attributes["zone"] == "example.com"
    assert aop_global.dependencies == (Address("aop_ssl_mode", "main"),)


def test_reference_through_a_local_makes_an_edge(with_certificate: Path) -> None:
    config = bound_configuration(with_certificate, "${local.cert_id}")
    config["locals"] = {"cert_id": "${aop_hostname_certificate.app.id}"}
    loaded = load_configuration(write(with_certificate, config))
    binding = loaded.resources[Address("aop_hostname_binding", "app")]
    assert binding.dependencies == (CERT,)
    assert binding.attributes["certificate_id"] == Deferred((Reference(CERT, "id"),))


def test_deferred_resolves_bools_and_numbers_as_text() -> None:
    deferred = Deferred(("n=", Reference(CERT, "id"), " ok"))
    assert deferred.resolve(lambda ref: 7) == "n=7 ok"
    assert deferred.resolve(lambda ref: False) == "n=false ok"
    with pytest.raises(TemplateError, match="cannot interpolate a list"):
        deferred.resolve(lambda ref: [1])
