"""`aopctl validate` over the corpus of bad configurations in tests/data/bad-configs/.

Each case is a directory (`*.aop.json` plus the files they read) and an `expected.txt` whose
non-empty lines are substrings the error output must contain. Adding a case needs no code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from planner.cli import main

CORPUS = Path(__file__).parent / "data" / "bad-configs"
CASES = sorted(path for path in CORPUS.iterdir() if path.is_dir())

# The corpus must keep covering these; a case deleted by mistake fails here.
REQUIRED_CASES = {
    "json-syntax-error",
    "json-duplicate-key",
    "json-nested-too-deep",
    "wrong-types",
    "unknown-keys",
    "unknown-resource-type",
    "missing-required",
    "undefined-variable",
    "variable-without-value",
    "template-unterminated",
    "template-unknown-function",
    "template-empty",
    "file-escapes-parent",
    "file-absolute-outside",
    "file-missing",
    "file-unreadable",
    "config-entry-not-a-file",
    "duplicate-address",
    "dependency-cycle",
    "self-reference",
    "unknown-reference",
    "cert-expired",
    "cert-ca-hostname",
    "cert-key-mismatch",
    "cert-encrypted-key",
    "cert-der",
    "cert-key-as-certificate",
    "cert-certificate-as-key",
    "cert-empty-file",
    "too-many-hostname-certificates",
    "hostname-in-two-bindings",
    "hostname-in-two-bindings-zone-id",
    "two-settings-one-zone",
    "certificate-in-other-zone",
    "private-key-pasted",
    "output-holds-private-key",
    "too-many-hostnames-one-certificate",
    "bad-zone",
    "uppercase-hostname",
    "many-mistakes",
}


def expected_lines(case: Path) -> list[str]:
    text = (case / "expected.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line.strip()]


def key_lines(directory: Path) -> list[str]:
    """The base64 lines of every PEM private key in a case: none may reach the output."""
    lines = []
    for path in directory.rglob("*.pem"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if "PRIVATE KEY-----" in text:
            lines += [line for line in text.splitlines() if line and "-----" not in line]
    return lines


def listing(directory: Path) -> dict[str, tuple[int, int]]:
    """Every entry under `directory` with its size and modification time."""
    return {
        str(path.relative_to(directory)): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in directory.rglob("*")
    }


@pytest.fixture(autouse=True)
def no_outside_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables from the developer's shell must not change what a case reports."""
    for name in list(os.environ):
        if name.startswith("AOP_VAR_"):
            monkeypatch.delenv(name)


def test_corpus_covers_every_required_mistake() -> None:
    assert {case.name for case in CASES} >= REQUIRED_CASES


@pytest.mark.parametrize("case", CASES, ids=lambda path: path.name)
def test_validate_reports_the_expected_problems(case: Path) -> None:
    expected = expected_lines(case)
    assert expected, f"{case.name}/expected.txt lists nothing"
    before = listing(case)

    result = CliRunner().invoke(main, ["--chdir", str(case), "validate"])

    assert result.exit_code == 1, result.output
    missing = [line for line in expected if line not in result.output]
    assert not missing, f"missing from the output:\n{missing}\n\noutput:\n{result.output}"
    assert "Traceback" not in result.output
    assert "internal error" not in result.output
    assert not [line for line in key_lines(case) if line in result.output], "a key was printed"
    assert listing(case) == before, "validate wrote into the configuration directory"


def test_many_mistakes_are_all_reported_at_once() -> None:
    """Ten-odd mistakes in three files: one run lists every one, each with its file."""
    case = CORPUS / "many-mistakes"
    result = CliRunner().invoke(main, ["--chdir", str(case), "validate"])
    reported = [line for line in result.output.splitlines() if line.lstrip().startswith("error:")]
    assert len(reported) == 11
    files = {line.split(":")[1].strip() for line in reported}
    assert files == {"a-variables.aop.json", "b-resources.aop.json", "c-more.aop.json"}
