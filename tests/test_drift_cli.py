"""`aopctl drift` end to end: the CLI with --sandbox, out-of-band changes made in the sandbox.

Every drift run goes through `drift()`, which asserts the promises of issue 7 on each call: the
sandbox received no write request, the state file is byte-identical, and no private key appears
in stdout, stderr or the report file.
"""

from __future__ import annotations

import json
import shlex
import shutil
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from certgen import make_leaf
from click.testing import CliRunner, Result
from engine_helpers import EXAMPLES, assert_no_key_material, example_key_files, key_fragments

from planner import __version__
from planner.cli import main
from planner.sandbox import Sandbox, default_path, open_persistent
from state import LocalBackend

ROOT = Path(__file__).resolve().parents[1]
STATE_FILE = "aopctl.state.json"
SCHEMA = json.loads((ROOT / "schemas" / "drift.schema.json").read_text(encoding="utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
KEYS = key_fragments(*example_key_files())
APP_CERT = "aop_hostname_certificate.app"
APP_BINDING = "aop_hostname_binding.app"
SANDBOX_ENV = {"AOPCTL_SANDBOX_DEPLOY_DELAY": "0", "AOPCTL_SANDBOX_DELETE_DELAY": "0"}


def run(directory: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--chdir", str(directory), "--no-color", *args])


@pytest.fixture(autouse=True)
def _sandbox_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SANDBOX_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "CLOUDFLARE_EMAIL", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/per-hostname applied to a fresh sandbox once; tests work on copies."""
    directory = tmp_path_factory.mktemp("applied") / "per-hostname"
    shutil.copytree(EXAMPLES / "per-hostname", directory)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in SANDBOX_ENV.items():
            patch.setenv(name, value)
        result = run(directory, "--sandbox", "apply", "--auto-approve")
    assert result.exit_code == 0, result.output
    return directory


@pytest.fixture
def workdir(applied: Path, tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(applied, target)
    return target


def dashboard(directory: Path) -> AbstractContextManager[Sandbox]:
    """The sandbox account, edited the way someone clicking in the dashboard would."""
    return open_persistent(default_path(directory)).edit()


def remote_id(directory: Path, address: str) -> str:
    entry = LocalBackend(directory / STATE_FILE, aopctl_version=__version__).read().get(address)
    assert entry is not None and entry.remote_id
    return entry.remote_id


def drift(directory: Path, *args: str) -> Result:
    """`aopctl --sandbox drift ARGS`, checking it stayed read-only and kept keys out."""
    sandbox = open_persistent(default_path(directory))
    writes = sandbox.write_count()
    state = (directory / STATE_FILE).read_bytes()
    result = run(directory, "--sandbox", "drift", *args)
    assert sandbox.write_count() == writes, "drift sent a write request"
    assert (directory / STATE_FILE).read_bytes() == state, "drift changed the state file"
    assert_no_key_material(result.stdout + result.stderr, KEYS, "drift output")
    return result


def drift_json(directory: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = drift(directory, "--format", "json", *args)
    assert result.exit_code in (0, 2), result.output
    data = json.loads(result.stdout)
    assert not list(VALIDATOR.iter_errors(data))
    return result.exit_code, data


def found(data: dict[str, Any], category: str) -> list[dict[str, Any]]:
    return [f for f in data["findings"] if f["category"] == category]


def subjects(data: dict[str, Any]) -> set[tuple[str, str | None]]:
    return {(f["category"], f["address"] or f["remote_id"]) for f in data["findings"]}


def coverage(data: dict[str, Any], zone: str) -> tuple[int, int]:
    entry = next(z for z in data["zones"] if z["zone"] == zone)
    return entry["coverage"]["managed"], entry["coverage"]["total"]


# -- each kind of out-of-band change -------------------------------------------------------------


def test_a_clean_zone_exits_0(workdir: Path) -> None:
    result = drift(workdir)
    assert result.exit_code == 0, result.output
    assert "No drift" in result.stdout
    code, data = drift_json(workdir)
    assert code == 0
    assert data["findings"] == [] and data["summary"]["total"] == 0
    assert coverage(data, "example.com") == (3, 3)  # one certificate, two hostnames
    assert coverage(data, "example.net") == (2, 2)


def test_a_certificate_deleted_in_the_dashboard_is_deleted(workdir: Path) -> None:
    cert_id = remote_id(workdir, APP_CERT)
    with dashboard(workdir) as sandbox:
        sandbox.seed_deletion("example.com", cert_id, status="deleted")
    code, data = drift_json(workdir)
    assert code == 2
    (deleted,) = [f for f in found(data, "deleted") if f["address"] == APP_CERT]
    assert deleted["remote_id"] == cert_id and deleted["zone"] == "example.com"
    assert deleted["details"]["last_known"]["id"] == cert_id
    assert found(data, "pending") == []  # re-creating it only undoes the drift


def test_a_re_pointed_binding_is_changed(workdir: Path) -> None:
    old = remote_id(workdir, APP_CERT)
    pem = (EXAMPLES / "certs" / "app-2027.crt.pem").read_text()
    with dashboard(workdir) as sandbox:
        new = sandbox.seed_hostname_certificate("example.com", pem)
        sandbox.seed_association("example.com", "api.example.com", new, True)
    code, data = drift_json(workdir)
    assert code == 2
    (changed,) = found(data, "changed")
    assert changed["address"] == APP_BINDING
    (attribute,) = changed["details"]["attributes"]
    assert attribute["name"] == "certificate_id"
    assert attribute["before"] == old and new in attribute["after"]
    assert ("unmanaged", new) in subjects(data)
    assert coverage(data, "example.com") == (3, 4)


def test_a_disabled_binding_is_changed(workdir: Path) -> None:
    cert_id = remote_id(workdir, APP_CERT)
    with dashboard(workdir) as sandbox:
        for hostname in ("api.example.com", "app.example.com"):
            sandbox.seed_association("example.com", hostname, cert_id, False)
    result = drift(workdir)
    assert result.exit_code == 2
    assert f"changed    {APP_BINDING}" in result.stdout
    assert "~ enabled = true -> false" in result.stdout
    _, data = drift_json(workdir)
    assert subjects(data) == {("changed", APP_BINDING)}


def test_a_toggled_setting_is_changed_and_not_also_pending(workdir: Path) -> None:
    with dashboard(workdir) as sandbox:
        sandbox.set_setting("example.net", "ssl", "flexible")
    code, data = drift_json(workdir)
    assert code == 2
    assert subjects(data) == {("changed", "aop_ssl_mode.net")}
    (attribute,) = data["findings"][0]["details"]["attributes"]
    assert (attribute["before"], attribute["after"]) == ("full", "flexible")
    assert data["findings"][0]["zone"] == "example.net"


def test_a_certificate_uploaded_in_the_dashboard_is_unmanaged(workdir: Path) -> None:
    pem = (EXAMPLES / "certs" / "app-2027.crt.pem").read_text()
    with dashboard(workdir) as sandbox:
        cert_id = sandbox.seed_hostname_certificate("example.com", pem)
        sandbox.seed_association("example.com", "new.example.com", cert_id, True)
    code, data = drift_json(workdir)
    assert code == 2
    assert subjects(data) == {("unmanaged", cert_id), ("unmanaged", "new.example.com")}
    assert coverage(data, "example.com") == (3, 5)
    association = next(f for f in data["findings"] if f["remote_id"] == "new.example.com")
    assert association["details"]["certificate_id"] == cert_id
    text = drift(workdir).stdout
    assert "AOP objects managed by aopctl: 3 of 5 (60%)" in text


def test_expiring_and_expired_certificates_are_expiring(workdir: Path) -> None:
    soon, expired = make_leaf("soon.example.com", days=10), make_leaf("old.example", expired=True)
    with dashboard(workdir) as sandbox:
        soon_id = sandbox.seed_hostname_certificate("example.com", soon.cert_pem)
        expired_id = sandbox.seed_hostname_certificate("example.net", expired.cert_pem)
    code, data = drift_json(workdir, "--fail-on", "expiring")
    assert code == 2
    by_id = {f["remote_id"]: f for f in found(data, "expiring")}
    assert set(by_id) == {soon_id, expired_id}
    assert by_id[soon_id]["details"]["days_remaining"] in (9, 10)
    assert by_id[expired_id]["details"] | {"expires_on": None} == {
        "expired": True,
        "days_remaining": -2,
        "status": "active",  # Cloudflare keeps an expired certificate active
        "expires_on": None,
    }
    _, narrow = drift_json(workdir, "--expiry-days", "5")
    assert {f["remote_id"] for f in found(narrow, "expiring")} == {expired_id}


def test_an_expired_certificate_in_the_configuration_is_reported_not_an_error(
    workdir: Path,
) -> None:
    # A nightly job must still report when the configured certificate has expired; plan and
    # apply refuse it.
    old = make_leaf("app.example.com", sans=("app.example.com",), expired=True)
    (workdir / "certs" / "app-old.crt.pem").write_text(old.cert_pem)
    key_file = workdir / "certs" / "app-old.key.pem"
    key_file.write_text(old.key_pem)
    result = drift(workdir, "--format", "json", "--var", "app_release=old")
    assert result.exit_code == 2, result.output
    assert "certificate expired on" in result.stderr and "main.aop.json" in result.stderr
    assert_no_key_material(result.stdout + result.stderr, key_fragments(key_file), "drift output")
    data = json.loads(result.stdout)
    assert ("pending", APP_CERT) in subjects(data)
    planned = run(workdir, "--sandbox", "plan", "--var", "app_release=old")
    assert planned.exit_code == 1
    assert "certificate expired on" in planned.output and "main.aop.json" in planned.output


def test_a_timed_out_certificate_is_failed(workdir: Path) -> None:
    pem = make_leaf("stuck.example.com").cert_pem
    with dashboard(workdir) as sandbox:
        cert_id = sandbox.seed_hostname_certificate(
            "example.com", pem, status="deployment_timed_out"
        )
    code, data = drift_json(workdir, "--fail-on", "failed")
    assert code == 2
    (failed,) = found(data, "failed")
    assert failed["remote_id"] == cert_id
    assert failed["details"] == {"status": "deployment_timed_out", "hostnames": []}


def test_merged_but_unapplied_configuration_is_pending(workdir: Path) -> None:
    config = workdir / "main.aop.json"
    document = json.loads(config.read_text())
    document["resource"]["aop_ssl_mode"]["net"]["mode"] = "strict"
    del document["resource"]["aop_ssl_mode"]["com"]
    del document["resource"]["aop_hostname_binding"]["app"]["depends_on"]
    config.write_text(json.dumps(document))
    code, data = drift_json(workdir, "--fail-on", "pending")
    assert code == 2
    actions = {f["address"]: f["details"]["action"] for f in found(data, "pending")}
    assert actions == {"aop_ssl_mode.net": "update", "aop_ssl_mode.com": "forget"}
    assert found(data, "changed") == []
    net = next(f for f in data["findings"] if f["address"] == "aop_ssl_mode.net")
    mode = next(a for a in net["details"]["attributes"] if a["name"] == "mode")
    assert (mode["before"], mode["after"]) == ("full", "strict")


def test_a_new_certificate_in_the_configuration_never_shows_its_key(workdir: Path) -> None:
    config = workdir / "main.aop.json"
    document = json.loads(config.read_text())
    document["resource"]["aop_hostname_certificate"]["next"] = {
        "zone": "example.com",
        "certificate": '${file("certs/app-2027.crt.pem")}',
        "private_key": '${file("certs/app-2027.key.pem")}',
    }
    config.write_text(json.dumps(document))
    for fmt in ("text", "json", "markdown"):
        result = drift(workdir, "--format", fmt, "--output", str(workdir / f"report.{fmt}"))
        assert result.exit_code == 2
        report = (workdir / f"report.{fmt}").read_text()
        assert_no_key_material(report, KEYS, f"{fmt} report")
        assert "aop_hostname_certificate.next" in report
    data = json.loads((workdir / "report.json").read_text())
    (pending,) = found(data, "pending")
    key = next(a for a in pending["details"]["attributes"] if a["name"] == "private_key")
    assert key == {
        "name": "private_key",
        "before": None,
        "after": None,
        "sensitive": True,
        "forces_replacement": False,
    }
    assert "private_key = (sensitive value)" in (workdir / "report.text").read_text()


# -- exit codes and --fail-on ------------------------------------------------------------------


def test_findings_outside_fail_on_are_reported_but_do_not_fail(workdir: Path) -> None:
    with dashboard(workdir) as sandbox:
        sandbox.set_setting("example.com", "ssl", "strict")
    result = drift(workdir, "--fail-on", "deleted,expiring")
    assert result.exit_code == 0
    assert "changed    aop_ssl_mode.com" in result.stdout
    assert "The check passes" in result.stdout
    assert drift(workdir, "--fail-on", "changed").exit_code == 2
    assert drift(workdir, "--fail-on", "none").exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--fail-on", "changed,bogus"), "unknown category 'bogus'"),
        (("--expiry-days", "-1"), "--expiry-days"),
        (("--format", "yaml"), "--format"),
    ],
)
def test_bad_options_exit_1_not_2(workdir: Path, args: tuple[str, ...], message: str) -> None:
    result = drift(workdir, *args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_an_api_error_exits_1(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with dashboard(workdir) as sandbox:
        sandbox.revoke("revoked-token")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "revoked-token")
    result = drift(workdir)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "Traceback" not in result.output


# -- read-only by construction ---------------------------------------------------------------------


def test_drift_takes_no_lock_and_writes_no_file(workdir: Path) -> None:
    backend = LocalBackend(workdir / STATE_FILE, aopctl_version=__version__)
    lock = backend.lock("apply")  # someone is applying right now
    before = sorted(p.relative_to(workdir) for p in workdir.rglob("*") if ".aopctl" not in p.parts)
    result = drift(workdir)
    assert result.exit_code == 0, result.output
    after = sorted(p.relative_to(workdir) for p in workdir.rglob("*") if ".aopctl" not in p.parts)
    assert after == before
    backend.unlock(lock)


# -- formats and files -------------------------------------------------------------------------


def test_output_writes_the_format_while_the_terminal_gets_text(workdir: Path) -> None:
    with dashboard(workdir) as sandbox:
        sandbox.set_setting("example.com", "ssl", "strict")
    result = drift(workdir, "--format", "json", "--output", str(workdir / "drift.json"))
    assert result.exit_code == 2
    assert result.stdout.startswith("aopctl drift: 1 finding in 1 zone")
    data = json.loads((workdir / "drift.json").read_text())
    assert not list(VALIDATOR.iter_errors(data))
    assert data["format_version"] == "1" and data["summary"]["changed"] == 1

    markdown = drift(workdir, "--format", "markdown", "--output", str(workdir / "drift.md"))
    assert markdown.exit_code == 2
    text = (workdir / "drift.md").read_text()
    assert text.startswith("## aopctl drift\n\n| category")  # the summary table comes first
    assert "| changed    |          1 | yes" in text


def test_from_report_renders_without_calling_cloudflare(workdir: Path) -> None:
    with dashboard(workdir) as sandbox:
        sandbox.set_setting("example.net", "ssl", "strict")
    drift(workdir, "--format", "json", "--output", str(workdir / "drift.json"))
    shutil.rmtree(workdir / ".aopctl")  # no sandbox any more: nothing to call
    result = run(workdir, "drift", "--from-report", str(workdir / "drift.json"))
    assert result.exit_code == 2
    assert "changed    aop_ssl_mode.net" in result.stdout
    summary = run(
        workdir, "drift", "--from-report", str(workdir / "drift.json"), "--format", "markdown"
    )
    assert summary.stdout.startswith("## aopctl drift")
    bad = workdir / "bad.json"
    bad.write_text('{"format_version": "2"}')
    refused = run(workdir, "drift", "--from-report", str(bad))
    assert refused.exit_code == 1 and "not a valid aopctl drift report" in refused.stderr


# -- aopctl.ignore.json ----------------------------------------------------------------------------


def write_ignores(directory: Path, *rules: dict[str, Any]) -> None:
    (directory / "aopctl.ignore.json").write_text(json.dumps({"ignore": list(rules)}))


@pytest.fixture
def dashboard_certificate(workdir: Path) -> str:
    pem = (EXAMPLES / "certs" / "app-2027.crt.pem").read_text()
    with dashboard(workdir) as sandbox:
        return sandbox.seed_hostname_certificate("example.com", pem)


def test_an_ignore_rule_suppresses_a_finding(workdir: Path, dashboard_certificate: str) -> None:
    reason = "billing team's legacy certificate"
    write_ignores(
        workdir,
        {
            "category": "unmanaged",
            "remote_id": dashboard_certificate,
            "reason": reason,
            "expires": "2999-12-31",
        },
    )
    result = drift(workdir)
    assert result.exit_code == 0, result.output
    assert "Suppressed by aopctl.ignore.json:" in result.stdout and reason in result.stdout
    _, data = drift_json(workdir)
    assert data["findings"] == [] and data["summary"]["suppressed"] == 1
    assert data["suppressed"][0]["ignore"]["reason"] == reason


def test_an_expired_ignore_rule_fails_again(workdir: Path, dashboard_certificate: str) -> None:
    write_ignores(
        workdir,
        {
            "category": "unmanaged",
            "remote_id": dashboard_certificate,
            "reason": "was to be removed in 2020",
            "expires": "2020-01-31",
        },
    )
    result = drift(workdir)
    assert result.exit_code == 2
    assert "Expired rules in aopctl.ignore.json" in result.stdout
    assert "$.ignore[0]" in result.stdout
    _, data = drift_json(workdir)
    assert [f["remote_id"] for f in data["findings"]] == [dashboard_certificate]
    assert data["expired_ignores"][0]["expires"] == "2020-01-31"


def test_an_invalid_ignore_file_names_the_file_and_path(workdir: Path) -> None:
    write_ignores(
        workdir,
        {"category": "unmanaged", "reason": "no target", "expires": "2030-01-01"},
        {"category": "changed", "address": "aop_ssl_mode.com", "reason": "x", "expires": "soon"},
    )
    result = drift(workdir)
    assert result.exit_code == 1
    assert "aopctl.ignore.json: $.ignore[0]:" in result.stderr
    assert "aopctl.ignore.json: $.ignore[1].expires:" in result.stderr
    (workdir / "aopctl.ignore.json").write_text("{")
    broken = drift(workdir)
    assert broken.exit_code == 1 and "aopctl.ignore.json: line 1 column 2" in broken.stderr


# -- examples/nightly --------------------------------------------------------------------------

NIGHTLY = EXAMPLES / "nightly"
_SHELL_OPERATORS = {"||", "&&", ">>", ">", "|", ";", "2>&1"}


def nightly_commands() -> list[list[str]]:
    """Each `aopctl drift ...` of the workflow, then of the README's cron line, as arguments."""
    commands = []
    for name in ("aopctl-drift.yml", "README.md"):
        for line in (NIGHTLY / name).read_text(encoding="utf-8").splitlines():
            if "aopctl drift --" not in line:
                continue
            words = shlex.split(line[line.index("aopctl drift --") :])[2:]
            end = next((i for i, w in enumerate(words) if w in _SHELL_OPERATORS), len(words))
            commands.append(words[:end])
    return commands


def test_the_nightly_examples_run_as_written(workdir: Path) -> None:
    commands = nightly_commands()
    assert len(commands) == 3  # workflow: check, summary; README: cron
    with dashboard(workdir) as sandbox:
        sandbox.set_setting("example.com", "ssl", "strict")
    for words in commands:
        # Report files land in the configuration directory, as with the workflow's defaults.
        args = [str(workdir / Path(w).name) if w.endswith(".json") else w for w in words]
        result = drift(workdir, *args)
        assert result.exit_code == (0 if "none" in words else 2), (words, result.output)
    workflow = (NIGHTLY / "aopctl-drift.yml").read_text(encoding="utf-8")
    for needed in ("schedule:", "$GITHUB_STEP_SUMMARY", "actions/upload-artifact", "exit 1"):
        assert needed in workflow
