"""Canonical formatting (planner.config.fmt) and `aopctl fmt [--check]`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.cli import main
from planner.config.fmt import canonical, format_text
from planner.config.source import parse_json
from planner.model import RESOURCE_TYPES

UNFORMATTED = (
    '{"resource": {"aop_ssl_mode": {"main": {"mode": "full", "zone": "example.com"}}},'
    ' "variable": {"zone": {"default": "example.com", "type": "string"}}, "//": "c"}'
)
FORMATTED = """{
  "//": "c",
  "variable": {
    "zone": {
      "type": "string",
      "default": "example.com"
    }
  },
  "resource": {
    "aop_ssl_mode": {
      "main": {
        "zone": "example.com",
        "mode": "full"
      }
    }
  }
}
"""


def parse(text: str) -> Any:
    data, problems = parse_json(text, "x.aop.json")
    assert not problems
    return data


def test_canonical_layout() -> None:
    assert format_text(parse(UNFORMATTED)) == FORMATTED


def test_attributes_follow_the_resource_table_then_meta_arguments() -> None:
    body = {
        "lifecycle": {"prevent_destroy": True},
        "enabled": True,
        "depends_on": ["aop_ssl_mode.main"],
        "certificate_id": "x",
        "hostnames": ["a.example.com"],
        "zone": "example.com",
        "//": "first",
        "zzz_unknown": 1,
    }
    data = {"resource": {"aop_hostname_binding": {"b": body}}}
    ordered = list(canonical(data)["resource"]["aop_hostname_binding"]["b"])
    assert ordered == [
        "//",
        "zone",
        "hostnames",
        "certificate_id",
        "enabled",
        "depends_on",
        "lifecycle",
        "zzz_unknown",
    ]


def test_resource_types_follow_the_table_and_names_are_sorted() -> None:
    data = {
        "resource": {
            "zz_unknown": {},
            "aop_hostname_binding": {"b": {}, "a": {}},
            "aop_ssl_mode": {"main": {}},
        },
        "output": {"z": {"value": 1, "description": "d"}, "a": {"sensitive": True, "value": 2}},
    }
    out = canonical(data)
    assert list(out["resource"]) == ["aop_ssl_mode", "aop_hostname_binding", "zz_unknown"]
    assert list(out["resource"]["aop_hostname_binding"]) == ["a", "b"]
    assert list(out["output"]) == ["a", "z"]
    assert list(out["output"]["z"]) == ["description", "value"]
    assert list(out["output"]["a"]) == ["value", "sensitive"]


def test_lists_keep_their_order_and_text_its_characters() -> None:
    data = {"locals": {"hosts": ["b", "a"], "note": "café ☕"}}
    text = format_text(data)
    assert '"café ☕"' in text
    assert json.loads(text) == data
    assert text.index('"b"') < text.index('"a"')


# -- fmt is idempotent and never changes meaning, over generated configurations --------------------

KEYS = st.sampled_from(
    ["//", "zone", "mode", "enabled", "type", "default", "value", "x", "Zeta", "é", ""]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)


def named(body: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A block of named entries (or, sometimes, a value of the wrong shape)."""
    return st.dictionaries(st.text(max_size=4), body, max_size=3) | SCALARS


RESOURCE_BODY = st.dictionaries(
    st.sampled_from(["//", "zone", "mode", "hostnames", "depends_on", "lifecycle", "extra"]),
    VALUES,
    max_size=4,
)
CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "//": st.text(max_size=8),
        "variable": named(st.dictionaries(KEYS, VALUES, max_size=4)),
        "locals": VALUES,
        "resource": st.dictionaries(
            st.sampled_from([*RESOURCE_TYPES, "//", "other"]), named(RESOURCE_BODY), max_size=3
        ),
        "output": named(st.dictionaries(KEYS, VALUES, max_size=3)),
        "aopctl": st.dictionaries(
            st.sampled_from(["state", "other"]),
            st.dictionaries(st.sampled_from(["path", "backend", "zz", "//"]), SCALARS) | SCALARS,
        ),
        "unknown": VALUES,
    },
)


@settings(deadline=None)
@given(CONFIGS | VALUES)
def test_fmt_is_idempotent_and_never_changes_the_data(data: Any) -> None:
    once = format_text(data)
    assert parse(once) == data
    assert format_text(parse(once)) == once


# -- the command ---------------------------------------------------------------------------------


def fmt(directory: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--chdir", str(directory), "fmt", *args])


def snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in directory.iterdir() if p.is_file()
    }


def test_fmt_rewrites_unformatted_files_and_lists_them(tmp_path: Path) -> None:
    (tmp_path / "a.aop.json").write_text(UNFORMATTED, encoding="utf-8")
    (tmp_path / "b.aop.json").write_text(FORMATTED, encoding="utf-8")
    (tmp_path / "c.json").write_text(UNFORMATTED, encoding="utf-8")
    result = fmt(tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output == "a.aop.json\n"
    assert (tmp_path / "a.aop.json").read_text(encoding="utf-8") == FORMATTED
    assert (tmp_path / "c.json").read_text(encoding="utf-8") == UNFORMATTED
    again = fmt(tmp_path)
    assert (again.exit_code, again.output) == (0, "")


def test_fmt_check_lists_without_changing(tmp_path: Path) -> None:
    (tmp_path / "a.aop.json").write_text(UNFORMATTED, encoding="utf-8")
    (tmp_path / "b.aop.json").write_text(FORMATTED, encoding="utf-8")
    (tmp_path / "c.aop.json").write_text(FORMATTED.rstrip("\n"), encoding="utf-8")
    before = snapshot(tmp_path)
    result = fmt(tmp_path, "--check")
    assert result.exit_code == 1
    assert result.output.splitlines() == ["a.aop.json", "c.aop.json"]
    assert snapshot(tmp_path) == before


def test_fmt_check_passes_on_formatted_files(tmp_path: Path) -> None:
    (tmp_path / "b.aop.json").write_text(FORMATTED, encoding="utf-8")
    result = fmt(tmp_path, "--check")
    assert (result.exit_code, result.output) == (0, "")


def test_fmt_refuses_invalid_json_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.aop.json").write_text(UNFORMATTED, encoding="utf-8")
    (tmp_path / "b.aop.json").write_text('{\n  "resource": {\n', encoding="utf-8")
    (tmp_path / "c.aop.json").write_text('{"a": 1, "a": 2}', encoding="utf-8")
    # Python's parser takes these but JSON in UTF-8 cannot hold them: fmt once emptied a file
    # trying to write a lone surrogate back, and turned 1e999 into Infinity.
    (tmp_path / "d.aop.json").write_text('{"//": "\\ud800"}', encoding="utf-8")
    (tmp_path / "e.aop.json").write_text('{"variable": {"v": {"default": 1e999}}}')
    (tmp_path / "f.aop.json").write_text('{"variable": {"v": {"default": NaN}}}')
    (tmp_path / ".old.aop.json").write_text("not json: a hidden file is not configuration")
    before = snapshot(tmp_path)
    for args in ((), ("--check",)):
        result = fmt(tmp_path, *args)
        assert result.exit_code == 1
        assert "Error: cannot format files that are not valid JSON" in result.output
        assert "b.aop.json: invalid JSON at line 3, column 1" in result.output
        assert "c.aop.json: duplicate key 'a' in one object" in result.output
        assert "d.aop.json: invalid JSON: a \\u escape of half a character" in result.output
        assert "e.aop.json: invalid JSON: 1e999 is too large for a number" in result.output
        assert "f.aop.json: invalid JSON: NaN is not a JSON number" in result.output
        assert ".old.aop.json" not in result.output
        assert "Traceback" not in result.output
        assert snapshot(tmp_path) == before


def test_fmt_reports_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "a.aop.json").write_bytes(b'{"//": "caf\xe9"}')
    (tmp_path / "dir.aop.json").mkdir()
    result = fmt(tmp_path)
    assert result.exit_code == 1
    assert "a.aop.json: cannot read file: not UTF-8 text" in result.output
    assert "dir.aop.json: cannot read file: not a regular file" in result.output
    assert "internal error" not in result.output


def test_fmt_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    result = fmt(tmp_path / "nope")
    assert result.exit_code == 1
    assert "configuration directory does not exist" in result.output
