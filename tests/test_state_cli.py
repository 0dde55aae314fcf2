"""`aopctl state ...`, `show`, `output` and `force-unlock` through the real click entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from planner import __version__
from planner.cli import main
from planner.cli.state_cmds import STATE_FILE, parse_duration
from state import LocalBackend, LockInfo, OutputState, ResourceState, StateDocument

ROOT = Path(__file__).resolve().parents[1]
VALIDATOR = jsonschema.Draft202012Validator(
    json.loads((ROOT / "schemas" / "state.schema.json").read_text())
)
ZONE = "0123456789abcdef0123456789abcdef"
CERT = "aop_hostname_certificate.app_2026"
BINDING = "aop_hostname_binding.app"


def run(chdir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--chdir", str(chdir), *args])


def backend(chdir: Path) -> LocalBackend:
    return LocalBackend(chdir / STATE_FILE, aopctl_version="test")


def seed(chdir: Path) -> StateDocument:
    cert = ResourceState(
        address=CERT,
        type="aop_hostname_certificate",
        name="app_2026",
        zone_id=ZONE,
        zone_name="example.com",
        remote_id="2458ce5a-0c35-4c7f-82c7-8e9487d3ff60",
        attributes={"status": "active", "expires_on": "2027-03-01T00:00:00Z"},
        fingerprints={"certificate_sha256": "ab" * 32},
    )
    binding = ResourceState(
        address=BINDING,
        type="aop_hostname_binding",
        name="app",
        zone_id=ZONE,
        zone_name="example.com",
        remote_id=None,
        attributes={"hostnames": ["app.example.com"], "enabled": True},
        dependencies=(CERT,),
    )
    outputs = {
        "cert_id": OutputState("2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"),
        "hosts": OutputState(["app.example.com"]),
        "token": OutputState("hunter2", sensitive=True),
    }
    doc = StateDocument.empty("test").with_resource(cert).with_resource(binding)
    return backend(chdir).write(doc.with_outputs(outputs), expected_serial=0)


def on_disk(chdir: Path) -> dict[str, Any]:
    data = json.loads((chdir / STATE_FILE).read_bytes())
    assert list(VALIDATOR.iter_errors(data)) == []
    return data  # type: ignore[no-any-return]


def test_state_list_shows_a_table(tmp_path: Path) -> None:
    assert run(tmp_path, "state", "list").output.strip() == "No resources in state."
    seed(tmp_path)
    result = run(tmp_path, "state", "list")
    assert result.exit_code == 0
    header, _, first, second = result.output.splitlines()
    assert header.split() == ["address", "zone", "id", "status", "expiry"]
    assert first.split() == [BINDING, "example.com", "-", "-", "-"]
    assert second.split() == [
        CERT,
        "example.com",
        "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60",
        "active",
        "2027-03-01T00:00:00Z",
    ]
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()


def test_state_show_prints_one_resource(tmp_path: Path) -> None:
    seed(tmp_path)
    result = run(tmp_path, "state", "show", BINDING)
    assert result.exit_code == 0
    assert result.output.splitlines()[:2] == [
        f"# {BINDING}:",
        'resource "aop_hostname_binding" "app" {',
    ]
    assert '    hostnames  = ["app.example.com"]' in result.output
    assert f'    depends_on = ["{CERT}"]' in result.output
    missing = run(tmp_path, "state", "show", "aop_global.nope")
    assert missing.exit_code == 1
    assert "Error: no resource aop_global.nope in state" in missing.output


def test_state_rm_removes_bumps_the_serial_and_keeps_a_backup(tmp_path: Path) -> None:
    seed(tmp_path)
    before = (tmp_path / STATE_FILE).read_bytes()
    result = run(tmp_path, "state", "rm", BINDING)
    assert result.exit_code == 0, result.output
    assert f"Removed {BINDING}" in result.output
    data = on_disk(tmp_path)
    assert data["serial"] == 2
    assert [r["address"] for r in data["resources"]] == [CERT]
    assert backend(tmp_path).backups()[-1].read_bytes() == before
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()


def test_state_rm_of_a_missing_address_changes_nothing(tmp_path: Path) -> None:
    seed(tmp_path)
    before = (tmp_path / STATE_FILE).read_bytes()
    result = run(tmp_path, "state", "rm", BINDING, "aop_global.nope")
    assert result.exit_code == 1
    assert "no resource aop_global.nope in state" in result.output
    assert (tmp_path / STATE_FILE).read_bytes() == before
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()


def test_state_mv_round_trips_and_repoints_dependencies(tmp_path: Path) -> None:
    original = seed(tmp_path)
    moved = run(tmp_path, "state", "mv", CERT, "aop_hostname_certificate.app_2027")
    assert moved.exit_code == 0, moved.output
    assert 'Move "aop_hostname_certificate.app_2026" to' in moved.output
    data = on_disk(tmp_path)
    by_address = {r["address"]: r for r in data["resources"]}
    assert by_address["aop_hostname_certificate.app_2027"]["name"] == "app_2027"
    assert by_address[BINDING]["dependencies"] == ["aop_hostname_certificate.app_2027"]
    back = run(tmp_path, "state", "mv", "aop_hostname_certificate.app_2027", CERT)
    assert back.exit_code == 0, back.output
    final = backend(tmp_path).read()
    assert final.serial == 3
    assert final.resources == original.resources and final.outputs == original.outputs
    assert (final.lineage, final.aopctl_version) == (original.lineage, __version__)
    assert len(backend(tmp_path).backups()) == 2


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("aop_zone_certificate.app", "the resource type must stay the same"),
        (BINDING.replace("binding", "certificate"), "already exists in state"),
        ("Not-An-Address", "invalid address"),
    ],
)
def test_state_mv_refuses_bad_targets(tmp_path: Path, target: str, message: str) -> None:
    seed(tmp_path)
    backend(tmp_path).write(
        backend(tmp_path)
        .read()
        .with_resource(
            ResourceState(
                address="aop_hostname_certificate.app",
                type="aop_hostname_certificate",
                name="app",
                zone_id=ZONE,
                zone_name="",
                remote_id="x",
            )
        ),
        expected_serial=1,
    )
    before = (tmp_path / STATE_FILE).read_bytes()
    result = run(tmp_path, "state", "mv", CERT, target)
    assert result.exit_code == 1
    assert message in result.output
    assert (tmp_path / STATE_FILE).read_bytes() == before


HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from state import LocalBackend

    lock = LocalBackend(Path(sys.argv[1]), aopctl_version="t").lock("apply")
    print(lock.id, flush=True)
    sys.stdin.readline()
    """
)


def test_state_rm_fails_at_once_while_another_process_holds_the_lock(tmp_path: Path) -> None:
    seed(tmp_path)
    before = (tmp_path / STATE_FILE).read_bytes()
    holder = subprocess.Popen(
        [sys.executable, "-S", "-c", HOLDER, str(tmp_path / STATE_FILE)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        lock_id = holder.stdout.readline().strip()
        result = run(tmp_path, "state", "rm", BINDING)
    finally:
        holder.communicate("done\n")
    assert result.exit_code == 1
    assert f"(pid {holder.pid}) running apply since " in result.output
    assert f"lock id {lock_id}" in result.output
    assert "Error: state is locked by " in result.output
    assert f"aopctl force-unlock {lock_id}" in result.output
    assert (tmp_path / STATE_FILE).read_bytes() == before


def test_a_stale_lock_is_taken_over_with_a_warning(tmp_path: Path) -> None:
    seed(tmp_path)
    child = subprocess.Popen([sys.executable, "-S", "-c", "pass"])
    child.wait()
    stale = replace(LockInfo.new("apply"), pid=child.pid)
    (tmp_path / f"{STATE_FILE}.lock").write_bytes(stale.dump())
    result = run(tmp_path, "state", "rm", BINDING)
    assert result.exit_code == 0, result.output
    assert "Warning: took over a stale state lock held by" in result.stderr
    assert f"lock id {stale.id}" in result.stderr
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()


def test_lock_timeout_is_a_duration(tmp_path: Path) -> None:
    assert [parse_duration(t) for t in ("30s", "2m", "1h", "500ms", "7")] == [
        30.0,
        120.0,
        3600.0,
        0.5,
        7.0,
    ]
    result = run(tmp_path, "state", "rm", "--lock-timeout", "soon", BINDING)
    assert result.exit_code == 1
    assert "invalid duration 'soon'" in result.output


def test_force_unlock_needs_the_lock_id(tmp_path: Path) -> None:
    lock = backend(tmp_path).lock("apply")
    wrong = run(tmp_path, "force-unlock", "not-the-id")
    assert wrong.exit_code == 1
    assert "does not match the current lock: state is locked by" in wrong.output
    assert (tmp_path / f"{STATE_FILE}.lock").exists()
    right = run(tmp_path, "force-unlock", lock.id)
    assert right.exit_code == 0
    assert f"State lock {lock.id} removed" in right.output
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()
    again = run(tmp_path, "force-unlock", lock.id)
    assert again.exit_code == 1 and "is not locked" in again.output


def test_show_prints_the_state_with_sensitive_outputs_redacted(tmp_path: Path) -> None:
    assert run(tmp_path, "show").output.strip() == "No state."
    seed(tmp_path)
    text = run(tmp_path, "show")
    assert text.exit_code == 0
    assert f"# {CERT}:" in text.output and f"# {BINDING}:" in text.output
    assert "token = (sensitive value)" in text.output
    assert "hunter2" not in text.output
    as_json = run(tmp_path, "show", "--format", "json")
    data = json.loads(as_json.output)
    assert data["serial"] == 1 and len(data["resources"]) == 2
    assert data["outputs"]["token"] == {"sensitive": True}
    assert "hunter2" not in as_json.output


def test_output_lists_redacted_and_prints_one_by_name(tmp_path: Path) -> None:
    seed(tmp_path)
    listing = run(tmp_path, "output")
    assert listing.output.splitlines() == [
        'cert_id = "2458ce5a-0c35-4c7f-82c7-8e9487d3ff60"',
        'hosts = ["app.example.com"]',
        "token = (sensitive value)",
    ]
    listed_json = json.loads(run(tmp_path, "output", "--json").output)
    assert listed_json["token"] == {"sensitive": True}
    assert listed_json["hosts"] == {"sensitive": False, "value": ["app.example.com"]}
    assert run(tmp_path, "output", "token").output == "hunter2\n"
    assert run(tmp_path, "output", "token", "--json").output == '"hunter2"\n'
    assert run(tmp_path, "output", "hosts").output == '["app.example.com"]\n'
    missing = run(tmp_path, "output", "nope")
    assert missing.exit_code == 1
    assert "output 'nope' not found" in missing.output
    assert "outputs in state: cert_id, hosts, token" in missing.output


def test_a_corrupt_state_is_one_clear_error_and_stays_untouched(tmp_path: Path) -> None:
    seed(tmp_path)
    path = tmp_path / STATE_FILE
    path.write_bytes(path.read_bytes()[:100])
    for args in (("state", "list"), ("show",), ("output",), ("state", "rm", BINDING)):
        result = run(tmp_path, *args)
        assert result.exit_code == 1, args
        assert f"Error: state file {path} is not valid JSON" in result.output
        assert "Traceback" not in result.output
    assert len(path.read_bytes()) == 100
    assert not (tmp_path / f"{STATE_FILE}.lock").exists()


def test_a_state_setting_of_the_wrong_kind_is_named(tmp_path: Path) -> None:
    # State commands read the block without loading the configuration: it is checked there.
    block = {"aopctl": {"state": {"backend": "local", "path": 7}}}
    (tmp_path / "main.aop.json").write_text(json.dumps(block))
    for command in (["state", "list"], ["show"], ["output"]):
        result = run(tmp_path, *command)
        assert result.exit_code == 1, result.output
        assert "main.aop.json: $.aopctl.state.path: must be a string" in result.output


def test_state_settings_take_comments_and_an_unreadable_file_is_named(tmp_path: Path) -> None:
    block = {"aopctl": {"state": {"//": ["kept in git"], "backend": "local"}}}
    (tmp_path / "main.aop.json").write_text(json.dumps(block))
    assert run(tmp_path, "state", "list").exit_code == 0
    # Skipping it would mean another state (the local one instead of the team's).
    (tmp_path / "0-team.aop.json").write_bytes(b'{"//": "caf\xe9"}')
    result = run(tmp_path, "state", "list")
    assert result.exit_code == 1
    assert "0-team.aop.json: cannot read file: not UTF-8 text" in result.output


def test_a_state_holding_a_private_key_is_refused_never_printed(tmp_path: Path) -> None:
    # aopctl never writes one; a hand-edited or foreign state must not reach the terminal.
    seed(tmp_path)
    body = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSeCrEtKeYbYtEs"
    data = json.loads((tmp_path / STATE_FILE).read_text())
    data["resources"][0]["attributes"]["private_key"] = (
        f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n"
    )
    (tmp_path / STATE_FILE).write_text(json.dumps(data))

    for command in (["state", "show", CERT], ["show"], ["state", "list"], ["output"]):
        result = run(tmp_path, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "contains a private key" in result.output
        assert "$.resources[0].attributes.private_key" in result.output
        assert body not in result.output
