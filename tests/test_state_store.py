"""The state store in-process: document, validation, migration, local file, backups, locks."""

from __future__ import annotations

import ast
import json
import os
import socket
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from state import (
    LocalBackend,
    LockInfo,
    LockNotFoundError,
    OutputState,
    ResourceState,
    SerialConflictError,
    StateBackend,
    StateCorruptError,
    StateDocument,
    StateError,
    StateLockedError,
    StateSecretError,
    StateVersionError,
    dump_state,
    hold_lock,
)
from state.document import validate_state_json

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "state.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
ZONE = "0123456789abcdef0123456789abcdef"
CERT_FP = ":".join(["9A", "1A", "C2", "B4"] * 8)  # Cloudflare's display form


def resource(
    name: str = "app", type_: str = "aop_hostname_certificate", **kw: Any
) -> ResourceState:
    fields: dict[str, Any] = {
        "zone_id": ZONE,
        "zone_name": "example.com",
        "remote_id": f"id-{name}",
        "attributes": {"status": "active", "expires_on": "2027-01-01T00:00:00Z"},
        "dependencies": (),
        "fingerprints": {"certificate_sha256": "ab" * 32},
    }
    fields.update(kw)
    return ResourceState(address=f"{type_}.{name}", type=type_, name=name, **fields)


def sample(doc: StateDocument) -> StateDocument:
    binding = resource(
        "app",
        "aop_hostname_binding",
        remote_id=None,
        attributes={"hostnames": ["b.example.com", "a.example.com"], "enabled": True},
        dependencies=("aop_hostname_certificate.app",),
        fingerprints={},
    )
    outputs = {"cert_id": OutputState("id-app"), "token": OutputState("s3cret", sensitive=True)}
    return doc.with_resource(binding).with_resource(resource("app")).with_outputs(outputs)


def schema_errors(data: Any) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(data)]


def assert_valid_file(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_bytes())
    assert schema_errors(data) == []
    return data  # type: ignore[no-any-return]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def backend(tmp_path: Path) -> LocalBackend:
    return LocalBackend(tmp_path / "aopctl.state.json", aopctl_version="1.2.3")


def write_new(backend: LocalBackend) -> StateDocument:
    doc = backend.read()
    return backend.write(sample(doc), doc.serial)


def private_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# --- document ----------------------------------------------------------------------------


def test_document_keeps_resources_sorted_and_round_trips() -> None:
    doc = sample(StateDocument.empty("1.2.3"))
    assert doc.addresses == ("aop_hostname_binding.app", "aop_hostname_certificate.app")
    written = replace(doc, lineage="6f1c2a7e-0d3b-4c1e-9a55-2b8f3f1d0c11", serial=4)
    again = StateDocument.from_json(json.loads(json.dumps(written.to_json())), "test")
    assert again == written
    assert schema_errors(written.to_json()) == []


def test_document_edits_return_new_values() -> None:
    doc = sample(StateDocument.empty("1.2.3"))
    updated = doc.with_resource(resource("app", remote_id="new-id"))
    cert = updated.get("aop_hostname_certificate.app")
    assert cert is not None and cert.remote_id == "new-id"
    assert len(updated.resources) == 2
    assert doc.without("aop_hostname_binding.app").addresses == ("aop_hostname_certificate.app",)
    assert doc.without("aop_x.missing") == doc
    assert doc.get("aop_x.missing") is None


def test_resource_normalises_fingerprints_and_copies_attributes() -> None:
    attributes = {"hostnames": ["a.example.com"]}
    rs = resource(attributes=attributes, fingerprints={"certificate_sha256": CERT_FP})
    attributes["hostnames"].append("mutated.example.com")
    assert rs.attributes == {"hostnames": ["a.example.com"]}
    assert rs.fingerprints["certificate_sha256"] == CERT_FP.replace(":", "").lower()
    assert hash(rs) == hash(resource(attributes={"other": 1}))  # hashable despite the dicts


def test_document_rejects_inconsistent_values() -> None:
    with pytest.raises(ValueError, match="address"):
        ResourceState("aop_global.a", "aop_global", "b", ZONE, "", None, {}, (), {})
    with pytest.raises(ValueError, match="duplicate"):
        StateDocument(1, "", 0, "1", (resource("a"), resource("a")))


def test_from_json_reports_every_problem_with_its_path() -> None:
    data = replace(sample(StateDocument.empty("1")), lineage="x", serial=0).to_json()
    data["resources"][0]["zone_id"] = "not-hex"
    data["extra"] = True
    with pytest.raises(StateCorruptError) as caught:
        StateDocument.from_json(data, "state file s.json")
    assert caught.value.message == "state file s.json is not a valid aopctl state"
    joined = "\n".join(caught.value.reasons)
    for where in ("$.lineage", "$.serial", "$.resources[0].zone_id", "unknown key 'extra'"):
        assert where in joined


INVALID_CHANGES: dict[str, Callable[[dict[str, Any]], object]] = {
    "no lineage": lambda d: d.pop("lineage"),
    "serial zero": lambda d: d.update(serial=0),
    "serial bool": lambda d: d.update(serial=True),
    "bad fingerprint": lambda d: d["resources"][1]["fingerprints"].update(certificate_sha256="AB"),
    "unknown fingerprint": lambda d: d["resources"][1]["fingerprints"].update(md5="00"),
    "bad dependency": lambda d: d["resources"][0].update(dependencies=["Not An Address"]),
    "remote id empty": lambda d: d["resources"][0].update(remote_id=""),
    "output without sensitive": lambda d: d["outputs"]["cert_id"].pop("sensitive"),
    "resources not a list": lambda d: d.update(resources={}),
    "unknown resource key": lambda d: d["resources"][0].update(secret=1),
}


@pytest.mark.parametrize("change", sorted(INVALID_CHANGES))
def test_validator_agrees_with_the_json_schema(change: str) -> None:
    doc = replace(sample(StateDocument.empty("1")), lineage=str(_uuid()), serial=3)
    data = doc.to_json()
    assert validate_state_json(data) == [] and schema_errors(data) == []
    INVALID_CHANGES[change](data)
    assert validate_state_json(data) != []
    assert schema_errors(data) != []


def _uuid() -> str:
    return "6f1c2a7e-0d3b-4c1e-9a55-2b8f3f1d0c11"


def test_version_zero_is_migrated_without_touching_the_input() -> None:
    v1 = replace(sample(StateDocument.empty("1")), lineage=_uuid(), serial=7).to_json()
    v0 = {
        **{k: v for k, v in v1.items() if k not in ("resources", "outputs")},
        "format_version": 0,
        "resources": {
            r["address"]: {k: v for k, v in r.items() if k != "address"} for r in v1["resources"]
        },
    }
    frozen = json.dumps(v0)
    doc = StateDocument.from_json(v0, "old.json")
    assert json.dumps(v0) == frozen
    assert doc.format_version == 1 and doc.serial == 7 and doc.lineage == _uuid()
    assert doc.addresses == tuple(r["address"] for r in v1["resources"])
    assert doc.outputs == {}


def test_future_format_version_is_refused() -> None:
    with pytest.raises(StateVersionError, match="format_version 2, newer than this aopctl"):
        StateDocument.from_json({"format_version": 2}, "state file s.json")


# --- the private-key guard ---------------------------------------------------------------


def _documents_with_a_key(pem: str) -> dict[str, StateDocument]:
    base = StateDocument.empty("1")
    one_line = pem.replace("\n", "\\n")
    return {
        "attribute": base.with_resource(resource(attributes={"certificate": pem})),
        "nested list": base.with_resource(resource(attributes={"chain": [["x", one_line]]})),
        "output": base.with_outputs({"key": OutputState(pem, sensitive=True)}),
        "object key": base.with_resource(resource(attributes={pem: 1})),
        "private_key attribute": base.with_resource(resource(attributes={"private_key": "x"})),
    }


@pytest.mark.parametrize(
    "where", ["attribute", "nested list", "output", "object key", "private_key attribute"]
)
def test_store_refuses_to_write_a_private_key(backend: LocalBackend, where: str) -> None:
    pem = private_key_pem()
    previous = write_new(backend)
    before = backend.path.read_bytes()
    doc = _documents_with_a_key(pem)[where]
    with pytest.raises(StateSecretError) as caught:
        backend.write(replace(doc, lineage=previous.lineage), previous.serial)
    text = caught.value.message + "\n".join(caught.value.reasons)
    assert "refusing to write a state that contains a private key" in text
    assert pem.splitlines()[1][:16] not in text  # names the place, never the key
    assert backend.path.read_bytes() == before
    assert backend.backups() == []
    # The schema refuses the same documents, for anyone validating a state by hand.
    assert schema_errors(replace(doc, lineage=_uuid(), serial=1).to_json()) != []


def test_validation_messages_never_echo_values() -> None:
    pem = private_key_pem()
    data = replace(sample(StateDocument.empty("1")), lineage=_uuid(), serial=1).to_json()
    data["resources"][0]["zone_id"] = pem
    with pytest.raises(StateCorruptError) as caught:
        StateDocument.from_json(data, "s.json")
    assert "PRIVATE" not in str(caught.value.reasons)


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
NAMES = st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True)


@given(
    st.dictionaries(NAMES, st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=4)),
    st.dictionaries(NAMES, JSON_VALUES, max_size=3),
)
def test_dump_state_writes_the_documented_json_of_the_document(
    attributes_by_name: dict[str, dict[str, Any]], outputs: dict[str, Any]
) -> None:
    """The incremental serialisation gives exactly `json.dumps(doc.to_json(), indent=2)`."""
    empty = replace(StateDocument.empty("1.2.3"), lineage=_uuid(), serial=1)
    doc = empty.with_outputs({name: OutputState(value) for name, value in outputs.items()})
    for name, attributes in attributes_by_name.items():
        doc = doc.with_resource(resource(name, attributes=attributes))
    first = next(iter(attributes_by_name), "absent")
    for version in (doc, doc.without(f"aop_hostname_certificate.{first}")):
        expected = json.dumps(version.to_json(), indent=2, ensure_ascii=False) + "\n"
        assert dump_state(version) == expected.encode("utf-8")


def test_dump_state_refuses_an_invalid_document() -> None:
    doc = StateDocument(1, _uuid(), 1, "1", (resource(zone_id="example.com"),))
    with pytest.raises(StateError, match="invalid state"):
        dump_state(doc)


# --- local backend: reading and writing --------------------------------------------------


def test_missing_state_reads_empty_and_creates_nothing(backend: LocalBackend) -> None:
    doc = backend.read()
    assert (doc.lineage, doc.serial, doc.resources) == ("", 0, ())
    assert list(backend.path.parent.iterdir()) == []
    assert isinstance(backend, StateBackend)
    assert backend.describe() == f"local file {backend.path}"


def test_writes_bump_the_serial_keep_the_lineage_and_validate(backend: LocalBackend) -> None:
    first = write_new(backend)
    assert first.serial == 1 and len(first.lineage) == 36 and first.aopctl_version == "1.2.3"
    assert mode(backend.path) == 0o600
    second = backend.write(first.without("aop_hostname_binding.app"), expected_serial=1)
    assert (second.serial, second.lineage) == (2, first.lineage)
    data = assert_valid_file(backend.path)
    assert data["serial"] == 2 and data["lineage"] == first.lineage
    assert backend.read() == second
    assert list(data) == [
        "format_version",
        "lineage",
        "serial",
        "aopctl_version",
        "resources",
        "outputs",
    ]


@pytest.mark.parametrize("target", ["relative", "absolute"])
def test_a_symlinked_state_is_written_through_to_its_target(tmp_path: Path, target: str) -> None:
    # One state file shared by several checkouts through a symlink: every write must reach it.
    shared = tmp_path / "shared" / "real.json"
    shared.parent.mkdir()
    write_new(LocalBackend(shared, aopctl_version="1.2.3"))
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    link = checkout / "aopctl.state.json"
    link.symlink_to(os.path.relpath(shared, checkout) if target == "relative" else shared)
    via_link = LocalBackend(link, aopctl_version="1.2.3")

    for serial in (2, 3):  # the second write backs up the first
        doc = via_link.read()
        via_link.write(doc.without("aop_hostname_binding.app"), expected_serial=serial - 1)

    assert link.is_symlink()
    assert LocalBackend(shared, aopctl_version="1.2.3").read().serial == 3
    backups = sorted((shared.parent / ".aopctl" / "backups").iterdir())
    assert backups and not any(b.is_symlink() for b in backups)


def test_compare_and_swap_refuses_a_stale_serial(backend: LocalBackend) -> None:
    first = write_new(backend)
    backend.write(first, expected_serial=1)
    before = backend.path.read_bytes()
    with pytest.raises(SerialConflictError) as caught:
        backend.write(first, expected_serial=1)
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    assert "changed since it was read" in caught.value.message
    with pytest.raises(SerialConflictError):  # someone created it since we read "missing"
        LocalBackend(backend.path, aopctl_version="x").write(StateDocument.empty("x"), 0)
    assert backend.path.read_bytes() == before


def test_a_state_of_another_lineage_is_not_overwritten(backend: LocalBackend) -> None:
    first = write_new(backend)
    with pytest.raises(SerialConflictError, match="lineage"):
        backend.write(replace(first, lineage=_uuid()), expected_serial=1)


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda good: good[: len(good) // 2],
    "empty": lambda good: b"",
    "not utf-8": lambda good: b"\xff\xfe" + good,
    "not an object": lambda good: b"[1, 2]\n",
    "invalid structure": lambda good: good.replace(b'"serial": 1', b'"serial": "one"'),
    "future version": lambda good: good.replace(b'"format_version": 1', b'"format_version": 9'),
}


@pytest.mark.parametrize("kind", sorted(CORRUPTIONS))
def test_a_bad_state_is_a_clear_error_and_is_never_overwritten(
    backend: LocalBackend, kind: str
) -> None:
    write_new(backend)
    good = backend.path.read_bytes()
    bad = CORRUPTIONS[kind](good)
    backend.path.write_bytes(bad)
    expected = StateVersionError if kind == "future version" else StateCorruptError
    with pytest.raises(expected) as caught:
        backend.read()
    assert str(backend.path) in caught.value.message
    with pytest.raises(expected):
        backend.write(sample(StateDocument.empty("x")), expected_serial=1)
    assert backend.path.read_bytes() == bad
    assert backend.backups() == []


def test_corrupt_state_error_points_at_the_newest_backup(backend: LocalBackend) -> None:
    first = write_new(backend)
    backend.write(first, 1)
    backend.path.write_bytes(b'{"format_version": 1, "lin')
    with pytest.raises(StateCorruptError) as caught:
        backend.read()
    assert "not valid JSON" in caught.value.message and "truncated" in caught.value.message
    assert caught.value.reasons[-1].endswith("(newest: aopctl.state.json.backup.1)")


def test_an_unreadable_state_names_the_file(backend: LocalBackend) -> None:
    backend.path.mkdir()
    with pytest.raises(StateError, match=f"cannot read state file {backend.path}"):
        backend.read()


def test_backups_keep_the_newest_n_and_the_version_before_this_run(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "aopctl.state.json", backups=3, aopctl_version="1")
    versions: dict[int, bytes] = {}
    doc = write_new(backend)
    for _ in range(6):
        versions[doc.serial] = backend.path.read_bytes()
        doc = backend.write(doc, doc.serial)
    backups = backend.backups()
    assert [p.name for p in backups] == [f"aopctl.state.json.backup.{n}" for n in (1, 4, 5, 6)]
    for backup in backups:
        assert backup.parent == tmp_path / ".aopctl" / "backups"
        assert mode(backup) == 0o600
        assert backup.read_bytes() == versions[int(backup.name.rsplit(".", 1)[1])]
        assert_valid_file(backup)
    # The next command's backend keeps the version before its own first write instead.
    backend = LocalBackend(backend.path, backups=3, aopctl_version="1")
    for _ in range(4):
        doc = backend.write(doc, doc.serial)
    assert [int(p.name.rsplit(".", 1)[1]) for p in backend.backups()] == [7, 8, 9, 10]
    doc = backend.write(doc, doc.serial)
    assert [int(p.name.rsplit(".", 1)[1]) for p in backend.backups()] == [7, 9, 10, 11]


def test_a_backup_that_cannot_be_written_does_not_stop_the_state_write(
    backend: LocalBackend, caplog: pytest.LogCaptureFixture
) -> None:
    # Mid-apply, a refused write would leave a change already made in Cloudflare unrecorded.
    first = write_new(backend)
    backend.backup_dir.parent.mkdir(parents=True, exist_ok=True)
    backend.backup_dir.write_text("not a directory")  # as unusable as a read-only folder

    second = backend.write(first.without("aop_hostname_binding.app"), expected_serial=1)

    assert backend.read() == second and second.serial == 2
    assert "could not back up the state" in caplog.text


def test_zero_backups_keeps_none(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "s.json", backups=0, aopctl_version="1")
    doc = write_new(backend)
    backend.write(doc, doc.serial)
    assert backend.backups() == []


def test_an_old_format_is_migrated_on_write_with_a_byte_identical_backup(
    backend: LocalBackend,
) -> None:
    v0 = {
        "format_version": 0,
        "lineage": _uuid(),
        "serial": 5,
        "aopctl_version": "0.0.1",
        "resources": {
            "aop_global.main": {
                "type": "aop_global",
                "name": "main",
                "zone_id": ZONE,
                "zone_name": "example.com",
                "remote_id": None,
                "attributes": {"enabled": True},
                "dependencies": [],
                "fingerprints": {},
            }
        },
    }
    original = json.dumps(v0).encode()
    backend.path.write_bytes(original)
    doc = backend.read()
    assert doc.addresses == ("aop_global.main",) and doc.format_version == 1
    assert backend.path.read_bytes() == original  # reading never writes
    written = backend.write(doc, expected_serial=5)
    assert (written.serial, written.lineage) == (6, _uuid())
    assert assert_valid_file(backend.path)["format_version"] == 1
    assert backend.backups()[-1].read_bytes() == original


def test_leftover_temp_files_of_dead_writers_are_swept(backend: LocalBackend) -> None:
    dead = backend.path.parent / f".aopctl.state.json.{dead_pid()}.abc.tmp"
    alive = backend.path.parent / f".aopctl.state.json.{os.getpid()}.abc.tmp"
    dead.write_bytes(b"{")
    alive.write_bytes(b"{")
    write_new(backend)
    assert not dead.exists() and alive.exists()


# --- locks -------------------------------------------------------------------------------


def test_lock_file_names_its_holder(backend: LocalBackend) -> None:
    info = backend.lock("apply")
    data = json.loads(backend.lock_path.read_text())
    assert data["id"] == info.id and data["pid"] == os.getpid()
    assert data["host"] == socket.gethostname() and data["operation"] == "apply"
    assert mode(backend.lock_path) == 0o600
    other = LocalBackend(backend.path, aopctl_version="1")
    with pytest.raises(StateLockedError) as caught:
        other.lock("state rm")
    since = info.created.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert caught.value.message == (
        f"state is locked by {info.user}@{info.host} (pid {os.getpid()}) running apply "
        f"since {since}, lock id {info.id}"
    )
    assert caught.value.holder == info
    backend.unlock(info)
    assert not backend.lock_path.exists()
    other.unlock(other.lock("state rm"))


def test_write_is_refused_while_someone_else_holds_the_lock(backend: LocalBackend) -> None:
    write_new(backend)
    holder = LocalBackend(backend.path, aopctl_version="1")
    info = holder.lock("apply")
    before = backend.path.read_bytes()
    with pytest.raises(StateLockedError, match="state is locked by"):
        backend.write(backend.read(), 1)
    assert backend.path.read_bytes() == before
    assert holder.write(holder.read(), 1).serial == 2  # the holder may write
    holder.unlock(info)


def test_unlock_of_a_lock_no_longer_held(backend: LocalBackend) -> None:
    info = backend.lock("apply")
    backend.unlock(info)
    with pytest.raises(LockNotFoundError, match="not locked"):
        backend.unlock(info)


def test_force_unlock_needs_the_matching_id(backend: LocalBackend) -> None:
    with pytest.raises(LockNotFoundError, match="is not locked"):
        backend.force_unlock("whatever")
    info = LocalBackend(backend.path, aopctl_version="1").lock("apply")
    with pytest.raises(LockNotFoundError, match=f"does not match.*lock id {info.id}"):
        backend.force_unlock("0000")
    assert backend.lock_path.exists()
    backend.force_unlock(info.id)
    assert not backend.lock_path.exists()


def _plant_lock(backend: LocalBackend, **changes: Any) -> LockInfo:
    info = replace(LockInfo.new("apply", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)), **changes)
    backend.lock_path.write_bytes(info.dump())
    return info


def test_a_lock_left_by_a_dead_process_on_this_host_is_taken_over(backend: LocalBackend) -> None:
    stale = _plant_lock(backend, pid=dead_pid())
    info = backend.lock("state rm")
    assert info.taken_over_from == stale
    assert json.loads(backend.lock_path.read_text())["id"] == info.id
    backend.unlock(info)


def test_a_lock_from_another_host_is_never_stale(backend: LocalBackend) -> None:
    _plant_lock(backend, pid=dead_pid(), host="elsewhere.invalid")
    with pytest.raises(StateLockedError, match=r"@elsewhere\.invalid "):
        backend.lock("apply")


def test_an_unreadable_lock_blocks_and_names_the_file(backend: LocalBackend) -> None:
    backend.lock_path.write_text("{garbage")
    with pytest.raises(StateLockedError, match="unreadable lock file"):
        backend.lock("apply")


class FakeClock:
    """A monotonic clock that only moves when the backend sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.on_sleep: list[Any] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def test_lock_waits_for_the_holder_to_finish(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "aopctl.state.json"
    holder = LocalBackend(path, aopctl_version="1")
    waiter = LocalBackend(path, aopctl_version="1", clock=clock, sleep=clock.sleep)
    held = holder.lock("apply")
    clock.on_sleep = [lambda: None, lambda: holder.unlock(held)]
    info = waiter.lock("plan", timeout=30)
    assert info.taken_over_from is None and len(clock.sleeps) == 2
    waiter.unlock(info)


def test_lock_gives_up_after_the_timeout(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "aopctl.state.json"
    LocalBackend(path, aopctl_version="1").lock("apply")
    waiter = LocalBackend(path, aopctl_version="1", clock=clock, sleep=clock.sleep)
    with pytest.raises(StateLockedError) as caught:
        waiter.lock("plan", timeout=2)
    assert sum(clock.sleeps) == pytest.approx(2) and len(clock.sleeps) == 4
    assert caught.value.reasons[0] == "gave up after waiting 2s"


def test_hold_lock_releases_even_when_the_block_fails(backend: LocalBackend) -> None:
    with pytest.raises(RuntimeError), hold_lock(backend, "apply"):
        raise RuntimeError("boom")
    assert not backend.lock_path.exists()


# --- architecture ------------------------------------------------------------------------


# The postgres backend is the one module that may use its driver (imported lazily there).
DRIVERS = {"postgres.py": {"psycopg"}}


def test_state_imports_only_the_stdlib_and_itself() -> None:
    for module in (ROOT / "state").glob("*.py"):
        allowed = DRIVERS.get(module.name, set())
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            for name in names:
                top = name.split(".")[0]
                ok = top == "state" or top in sys.stdlib_module_names or top in allowed
                assert ok, f"{module}: {name}"
