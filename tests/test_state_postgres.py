"""The PostgreSQL state backend against a real server.

AOPCTL_TEST_PG_DSN names the server (default postgresql://postgres@127.0.0.1:5432/test). Each
run uses its own schema, dropped afterwards, and each test its own workspace. Without a
reachable server the tests skip, saying why, except under CI=true, where they fail.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result
from conftest import FakeClock
from engine_helpers import (
    Harness,
    assert_no_key_material,
    copy_example,
    example_key_files,
    key_fragments,
    live_certificates,
    make_sandbox,
)
from pg_support import DSN, connect_admin, scratch_schema

from planner.cli import main
from planner.errors import ApplyError
from state import (
    EMERGENCY_FILE,
    LocalBackend,
    LockNotFoundError,
    OutputState,
    PostgresBackend,
    ResourceState,
    SerialConflictError,
    StateConnectionError,
    StateDocument,
    StateError,
    StateLockedError,
    StateSecretError,
    read_state_file,
)
from state.postgres import DSN_VARIABLE, advisory_key

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow

ROOT = Path(__file__).resolve().parents[1]
ZONE = "0123456789abcdef0123456789abcdef"
AOPCTL = [sys.executable, "-c", "from planner.cli import main; main()"]
PASSWORD = "S3cret-Pw-4242"


# --- the server ----------------------------------------------------------------------------


@dataclass
class Server:
    dsn: str
    schema: str
    admin: Connection[TupleRow]

    def query(self, text: str, *params: Any) -> list[tuple[Any, ...]]:
        from psycopg import sql

        query = sql.SQL(text).format(schema=sql.Identifier(self.schema))
        return self.admin.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with scratch_schema() as schema:
        admin = connect_admin()
        try:
            yield Server(DSN, schema, admin)
        finally:
            admin.close()


@dataclass
class Pg:
    """One test's view: a fresh workspace, and backends closed when the test ends."""

    server: Server
    workspace: str
    emergency_path: Path
    made: list[PostgresBackend] = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.server.schema

    def backend(self, workspace: str | None = None, **options: Any) -> PostgresBackend:
        options.setdefault("emergency_path", self.emergency_path)
        backend = PostgresBackend(
            self.server.dsn,
            schema=options.pop("schema", self.schema),
            workspace=workspace or self.workspace,
            aopctl_version="test",
            **options,
        )
        self.made.append(backend)
        return backend

    def terminate_lock_holder(self) -> None:
        """Cut the holder's connection the way an administrator (or a dying network) does."""
        rows = self.server.query(
            "SELECT pg_terminate_backend(backend_pid, 5000) FROM {schema}.state_locks "
            "WHERE workspace = %s",
            self.workspace,
        )
        assert rows == [(True,)]

    def waiting_for_lock(self) -> bool:
        key = advisory_key(self.schema, self.workspace)
        rows = self.server.admin.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid::bigint = %s AND objid::bigint = %s",
            [(key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF],
        ).fetchall()
        return bool(rows[0][0])


@pytest.fixture
def pg(server: Server, tmp_path: Path) -> Iterator[Pg]:
    view = Pg(server, f"w{uuid.uuid4().hex[:12]}", tmp_path / EMERGENCY_FILE)
    yield view
    for backend in view.made:
        backend.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll a condition that no event announces (another session starting to wait)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


# --- documents and configurations ---------------------------------------------------------


def resource(name: str, **attributes: Any) -> ResourceState:
    return ResourceState(
        address=f"aop_global.{name}",
        type="aop_global",
        name=name,
        zone_id=ZONE,
        zone_name="example.com",
        remote_id=ZONE,
        attributes={"enabled": True, **attributes},
    )


def document(*names: str) -> StateDocument:
    doc = StateDocument.empty("test").with_outputs({"token": OutputState("t0k", sensitive=True)})
    for name in names:
        doc = doc.with_resource(resource(name))
    return doc


def use_postgres(directory: Path, pg: Pg, **extra: str) -> Path:
    """Point the configuration in `directory` at the test workspace."""
    path = directory / "main.aop.json"
    config = json.loads(path.read_text()) if path.exists() else {}
    block = {"backend": "postgres", "schema": pg.schema, "workspace": pg.workspace, **extra}
    config["aopctl"] = {"state": block}
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return directory


def cli(directory: Path, *args: str, dsn: str | None = DSN) -> Result:
    return CliRunner(env={DSN_VARIABLE: dsn}).invoke(main, ["--chdir", str(directory), *args])


def content(doc: StateDocument) -> tuple[Any, ...]:
    return doc.lineage, doc.resources, doc.outputs


# --- tables, workspaces, compare-and-swap ----------------------------------------------------


def test_tables_are_created_on_first_write_and_workspaces_live_side_by_side(pg: Pg) -> None:
    fresh = f"{pg.schema}_fresh"
    prod, staging = pg.backend("prod", schema=fresh), pg.backend("staging", schema=fresh)
    try:
        assert prod.read() == StateDocument.empty("test")  # reading creates nothing
        assert pg.server.query("SELECT 1 FROM pg_namespace WHERE nspname = %s", fresh) == []
        prod.write(document("a"), 0)
        staging.write(document("b", "c"), 0)
        staging.write(document("b"), 1)
        assert prod.read().addresses == ("aop_global.a",)
        assert (staging.read().serial, staging.read().addresses) == (2, ("aop_global.b",))
        tables = pg.server.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", fresh
        )
        assert tables == [("state_history",), ("state_locks",), ("states",)]
    finally:
        pg.server.admin.execute(f'DROP SCHEMA IF EXISTS "{fresh}" CASCADE')


def test_a_writer_holding_a_stale_state_is_refused(pg: Pg) -> None:
    laptop, ci = pg.backend(), pg.backend()
    laptop.write(document("a"), 0)
    stale = laptop.read()
    ci.write(document("a", "b"), stale.serial)

    with pytest.raises(SerialConflictError, match="changed since it was read") as refused:
        laptop.write(stale.without("aop_global.a"), stale.serial)
    assert (refused.value.expected, refused.value.actual) == (1, 2)
    with pytest.raises(SerialConflictError):
        laptop.write(document("c"), 0)  # a second "first write"
    other_lineage = replace(document("c"), lineage=str(uuid.uuid4()))
    with pytest.raises(SerialConflictError, match="lineage"):
        laptop.write(other_lineage, 2)

    current = laptop.read()
    assert (current.serial, current.addresses) == (2, ("aop_global.a", "aop_global.b"))
    assert [entry.serial for entry in laptop.history()] == [1, 2]


def test_a_state_holding_a_private_key_is_never_stored(pg: Pg) -> None:
    backend = pg.backend()
    backend.write(document("a"), 0)
    leaking = document("a").with_resource(
        resource("b", note="-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----")
    )
    with pytest.raises(StateSecretError):
        backend.write(leaking, 1)
    assert backend.read().serial == 1
    assert len(backend.history()) == 1


def test_history_keeps_every_version_and_rollback_writes_a_new_serial(pg: Pg) -> None:
    backend = pg.backend()
    lock = backend.lock("apply")
    for serial, names in enumerate([("a",), ("a", "b"), ("b",)]):
        backend.write(document(*names), serial)
    backend.unlock(lock)

    history = backend.history()
    assert [(e.serial, e.operation, e.resources) for e in history] == [
        (1, "apply", 1),
        (2, "apply", 2),
        (3, "apply", 1),
    ]
    assert all("@" in e.written_by and e.lineage == history[0].lineage for e in history)
    assert [e.serial for e in backend.history(limit=2)] == [2, 3]
    version = backend.version(2)
    assert version is not None and version.addresses == ("aop_global.a", "aop_global.b")

    lock = backend.lock("state rollback")
    rolled = backend.rollback(2)
    with pytest.raises(StateError, match="no version 99"):
        backend.rollback(99)
    with pytest.raises(StateError, match="already the current state"):
        backend.rollback(4)
    backend.unlock(lock)
    assert (rolled.serial, rolled.addresses) == (4, ("aop_global.a", "aop_global.b"))
    assert backend.read() == rolled
    assert [(e.serial, e.operation) for e in backend.history()][-1] == (4, "state rollback")


# --- locking -------------------------------------------------------------------------------


def test_a_second_locker_fails_at_once_naming_the_holder(pg: Pg) -> None:
    holder, other = pg.backend(), pg.backend()
    info = holder.lock("apply")

    started = time.monotonic()
    with pytest.raises(StateLockedError) as locked:
        other.lock("apply")
    assert time.monotonic() - started < 5
    assert locked.value.holder == info
    assert locked.value.message == f"state is locked by {info.describe()}"
    assert f"running apply since {info.created:%Y-%m-%dT%H:%M:%SZ}" in locked.value.message
    with pytest.raises(StateLockedError, match=info.id):
        other.write(document("x"), 0)  # nobody writes under someone else's lock

    written = holder.write(document("a"), 0)
    holder.unlock(info)
    assert other.read() == written
    assert (
        pg.server.query("SELECT * FROM {schema}.state_locks WHERE workspace = %s", pg.workspace)
        == []
    )
    other.unlock(other.lock("apply"))


def test_lock_timeout_waits_for_the_holder(pg: Pg) -> None:
    holder, waiter, impatient = pg.backend(), pg.backend(), pg.backend()
    first = holder.lock("apply")

    with pytest.raises(StateLockedError, match=first.id) as gave_up:
        impatient.lock("plan", timeout=0.2)
    assert "gave up after waiting 0.2s" in gave_up.value.reasons

    acquired: list[Any] = []
    thread = threading.Thread(target=lambda: acquired.append(waiter.lock("apply", timeout=60)))
    thread.start()
    wait_until(pg.waiting_for_lock, "the second locker waits")
    holder.unlock(first)
    thread.join(timeout=60)
    assert len(acquired) == 1 and acquired[0].taken_over_from is None
    waiter.unlock(acquired[0])


def test_force_unlock_ends_the_holders_session(pg: Pg) -> None:
    hung, operator = pg.backend(), pg.backend()
    with pytest.raises(LockNotFoundError, match="not locked"):
        operator.force_unlock("no-such-lock")
    info = hung.lock("apply")

    with pytest.raises(LockNotFoundError, match=f"does not match.*{info.id}"):
        operator.force_unlock("another-id")
    operator.force_unlock(info.id)

    mine = operator.lock("apply")  # at once: the holder's session is gone
    assert mine.taken_over_from is None  # force-unlock removed its row too
    with pytest.raises(StateConnectionError):
        hung.write(document("late"), 0)  # the hung process can no longer write
    hung.unlock(info)  # releasing a lock that died with its connection is quiet
    operator.unlock(mine)


@pytest.mark.slow
def test_the_lock_of_a_killed_process_is_released_with_its_connection(pg: Pg) -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from state import PostgresBackend

        backend = PostgresBackend(os.environ["AOPCTL_PG_DSN"], schema=sys.argv[1],
                                  workspace=sys.argv[2], aopctl_version="test")
        print(backend.lock("apply").id, flush=True)
        sys.stdin.readline()
        """
    )
    env = {**os.environ, DSN_VARIABLE: DSN}
    holder = subprocess.Popen(
        [sys.executable, "-c", script, pg.schema, pg.workspace],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        lock_id = holder.stdout.readline().strip()
        assert lock_id, holder.communicate()[1]
        with pytest.raises(StateLockedError, match=f"pid {holder.pid}\\) running apply"):
            pg.backend().lock("apply")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()

    backend = pg.backend()
    info = backend.lock("apply", timeout=30)  # the server notices the closed socket at once
    assert info.taken_over_from is not None
    assert (info.taken_over_from.id, info.taken_over_from.pid) == (lock_id, holder.pid)
    backend.unlock(info)


# --- secrets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://aopctl:{PASSWORD}@127.0.0.1:1/test",
        f"postgresql://aopctl:{PASSWORD.replace('-', '%2D')}@127.0.0.1:1/test",
        f"host=127.0.0.1 port=1 dbname=test user=aopctl password={PASSWORD}",
        f"host=127.0.0.1 port=1 password='{PASSWORD} x'",
    ],
)
def test_the_password_is_never_shown(dsn: str, tmp_path: Path) -> None:
    pytest.importorskip("psycopg")
    backend = PostgresBackend(dsn, workspace="prod", aopctl_version="test")
    with pytest.raises(StateConnectionError) as failed:
        backend.read()
    shown = " ".join(
        [failed.value.message, *failed.value.reasons, backend.describe(), repr(backend)]
    )
    assert "127.0.0.1:1" in shown
    assert "S3cret" not in shown and "%2D" not in shown

    directory = tmp_path / "config"
    directory.mkdir()
    (directory / "main.aop.json").write_text(
        json.dumps({"aopctl": {"state": {"backend": "postgres"}}})
    )
    result = cli(directory, "state", "list", dsn=dsn)
    assert result.exit_code == 1
    assert "cannot connect to PostgreSQL" in result.output and "S3cret" not in result.output


def test_an_unparsable_dsn_is_not_echoed() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(StateError) as refused:
        PostgresBackend(f"host=127.0.0.1 password={PASSWORD} -{PASSWORD}", aopctl_version="t")
    assert refused.value.message == f"{DSN_VARIABLE} is not a valid PostgreSQL connection string"
    assert "S3cret" not in " ".join(refused.value.reasons)


def test_the_cli_reads_the_dsn_only_from_the_environment(pg: Pg, tmp_path: Path) -> None:
    directory = use_postgres(tmp_path / "config", pg)
    missing = cli(directory, "state", "list", dsn=None)
    assert missing.exit_code == 1
    assert f"needs the connection string in {DSN_VARIABLE}" in missing.output

    in_file = use_postgres(tmp_path / "in-file", pg, dsn=DSN)
    refused = cli(in_file, "state", "list")
    assert refused.exit_code == 1
    assert "main.aop.json: $.aopctl.state: dsn is not a setting of the postgres" in refused.output
    assert f"read from {DSN_VARIABLE}" in refused.output

    bad_schema = use_postgres(tmp_path / "bad-schema", pg, schema="Bad-Schema")
    refused = cli(bad_schema, "state", "list")
    assert refused.exit_code == 1
    assert "main.aop.json: $.aopctl.state: postgres state: schema must be" in refused.output

    assert cli(directory, "state", "list").output == "No resources in state.\n"


def test_no_private_key_reaches_any_row_of_any_table(
    pg: Pg, tmp_path: Path, clock: FakeClock
) -> None:
    harness = Harness(copy_example("per-hostname", tmp_path), make_sandbox(clock), clock)
    harness.backend = pg.backend()  # type: ignore[assignment]
    harness.apply()
    harness.apply({"app_release": "2027"})  # a rotation writes more versions
    assert len(pg.backend().history()) > 5

    tables = pg.server.query("SELECT tablename FROM pg_tables WHERE schemaname = %s", pg.schema)
    fragments = key_fragments(*example_key_files())
    for (table,) in tables:
        rows = pg.server.query(f"SELECT t::text FROM {{schema}}.{table} t")
        assert_no_key_material("\n".join(row[0] for row in rows), fragments, table)


# --- the CLI: history, rollback, push, pull ------------------------------------------------------


def test_cli_history_and_rollback(pg: Pg, tmp_path: Path) -> None:
    directory = use_postgres(tmp_path, pg)
    backend = pg.backend()
    for serial, names in enumerate([("a",), ("a", "b"), ("a", "b", "c")]):
        backend.write(document(*names), serial)

    listed = cli(directory, "state", "history", "--limit", "2")
    assert listed.exit_code == 0, listed.output
    header, _, second, third = listed.output.splitlines()
    assert header.split()[:2] == ["serial", "written"]
    assert second.split()[0] == "2" and third.split()[:2] == ["3", "(current)"]
    assert third.split()[-2:] == ["write", "3"]

    rolled = cli(directory, "state", "rollback", "1")
    assert rolled.exit_code == 0, rolled.output
    assert "Rolled back to serial 1: the state is now serial 4 (1 resource)" in rolled.output
    assert cli(directory, "state", "list").output.count("aop_global.") == 1
    assert "state rollback" in cli(directory, "state", "history").output.splitlines()[-1]

    local = tmp_path / "local"
    local.mkdir()
    refused = cli(local, "state", "history")
    assert refused.exit_code == 1 and "keeps no version history" in refused.output


def test_push_and_pull_migrate_between_a_local_file_and_postgres(pg: Pg, tmp_path: Path) -> None:
    local_file = tmp_path / "local" / "aopctl.state.json"
    local_file.parent.mkdir()
    local = LocalBackend(local_file, aopctl_version="test")
    local.write(document("a", "b"), local.write(document("a"), 0).serial)
    team = use_postgres(tmp_path / "team", pg)

    pushed = cli(team, "state", "push", str(local_file))
    assert pushed.exit_code == 0, pushed.output
    assert "as serial 2" in pushed.output
    assert content(pg.backend().read()) == content(local.read())
    again = cli(team, "state", "push", str(local_file))
    assert "already holds this state (serial 2)" in again.output

    printed = cli(team, "state", "pull")
    assert printed.exit_code == 0
    assert json.loads(printed.output)["outputs"]["token"] == {"value": "t0k", "sensitive": True}
    pulled_file = tmp_path / "pulled.json"
    assert cli(team, "state", "pull", str(pulled_file)).exit_code == 0
    assert stat.S_IMODE(pulled_file.stat().st_mode) == 0o600
    pulled = read_state_file(pulled_file)
    assert (pulled.serial, content(pulled)) == (2, content(local.read()))
    assert LocalBackend(pulled_file, aopctl_version="test").read() == pulled


def test_push_and_pull_check_lineage_and_serial(pg: Pg, tmp_path: Path) -> None:
    team = use_postgres(tmp_path / "team", pg)
    stored = pg.backend().write(document("a"), 0)
    old_file = tmp_path / "old.json"
    assert cli(team, "state", "pull", str(old_file)).exit_code == 0
    pg.backend().write(document("a", "b"), stored.serial)

    foreign = tmp_path / "foreign.json"
    foreign.write_text(
        json.dumps({**json.loads(old_file.read_text()), "lineage": str(uuid.uuid4())})
    )
    refused = cli(team, "state", "push", str(foreign))
    assert refused.exit_code == 1 and "a different state" in refused.output

    older = cli(team, "state", "push", str(old_file))
    assert older.exit_code == 1 and "holds serial 2, which is newer" in older.output
    assert pg.backend().read().serial == 2
    forced = cli(team, "state", "push", "--force", str(old_file))
    assert forced.exit_code == 0 and "as serial 3" in forced.output
    assert pg.backend().read().addresses == ("aop_global.a",)

    newer_file = tmp_path / "newer.json"
    newer_file.write_text(json.dumps({**json.loads(old_file.read_text()), "serial": 9}))
    assert "newer than the stored serial 3" in cli(team, "state", "pull", str(newer_file)).output
    assert "a different state" in cli(team, "state", "pull", str(foreign)).output
    assert cli(team, "state", "pull", "--force", str(foreign)).exit_code == 0
    assert read_state_file(foreign).lineage == stored.lineage


# --- a connection cut mid-apply ----------------------------------------------------------------


class CutOnFirstSleep:
    """The apply's sleep while it waits for a deployment: the first one cuts the connection."""

    def __init__(self, pg: Pg, clock: FakeClock) -> None:
        self.pg, self.clock, self.cut = pg, clock, False

    def __call__(self, seconds: float) -> None:
        if not self.cut:
            self.cut = True
            self.pg.terminate_lock_holder()
        self.clock.sleep(seconds)


def test_a_connection_cut_mid_apply_loses_nothing(pg: Pg, tmp_path: Path, clock: FakeClock) -> None:
    directory = use_postgres(copy_example("per-hostname", tmp_path), pg)
    emergency = pg.emergency_path = directory / EMERGENCY_FILE
    harness = Harness(directory, make_sandbox(clock), clock)
    backend = harness.backend = pg.backend()  # type: ignore[assignment]
    cutter = CutOnFirstSleep(pg, clock)

    lock = backend.lock("apply")
    with pytest.raises(ApplyError) as stopped:
        harness.apply(settings=replace(harness.settings, sleep=cutter))
    backend.unlock(lock)  # quiet: the lock ended with the connection

    assert cutter.cut
    assert (
        f"run in {directory.resolve()}: aopctl state push {EMERGENCY_FILE}" in stopped.value.message
    )
    assert stat.S_IMODE(emergency.stat().st_mode) == 0o600
    kept, stored = read_state_file(emergency), pg.backend().read()
    assert (kept.lineage, kept.serial) == (stored.lineage, stored.serial + 1)
    uploaded = {
        cert.id
        for zone in ("example.com", "example.net")
        for cert in live_certificates(harness.sandbox, zone)
    }
    assert len(uploaded) == 2
    assert uploaded <= {rs.remote_id for rs in kept.resources}
    assert kept.resources != stored.resources  # the database alone would have lost writes

    with pytest.raises(StateError, match="push it before anything else writes") as refused:
        pg.backend().lock("apply")
    # nothing writes the state before the emergency copy is back
    assert refused.value.reasons[0] == f"run in {directory}: aopctl state push {EMERGENCY_FILE}"
    pushed = cli(directory, "state", "push", str(emergency))
    assert pushed.exit_code == 0, pushed.output
    assert not emergency.exists()
    assert pg.backend().read().resources == kept.resources

    harness.backend = pg.backend()  # type: ignore[assignment]
    harness.apply()  # finishes the rest, uploading nothing twice
    assert {
        cert.id
        for zone in ("example.com", "example.net")
        for cert in live_certificates(harness.sandbox, zone)
    } == uploaded
    harness.assert_converged()


# --- separate processes through the real command line -----------------------------------------


def spawn(directory: Path, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        DSN_VARIABLE: DSN,
        "AOPCTL_SANDBOX_DEPLOY_DELAY": "0",
        "AOPCTL_SANDBOX_DELETE_DELAY": "0",
        "NO_COLOR": "1",
    }
    return subprocess.Popen(
        [*AOPCTL, "--chdir", str(directory), "--sandbox", *args],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_until(proc: subprocess.Popen[str], marker: str) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        if marker in line:
            return
    pytest.fail(f"{marker!r} never printed: {proc.communicate()[1]}")


@pytest.mark.slow
def test_concurrent_applies_from_separate_processes_exactly_one_proceeds(
    pg: Pg, tmp_path: Path
) -> None:
    directory = use_postgres(copy_example("team-postgres", tmp_path), pg)
    first = spawn(directory, "apply")  # holds the lock while it asks for approval
    waiting: subprocess.Popen[str] | None = None
    try:
        read_until(first, "Do you want to perform these actions?")
        second = spawn(directory, "apply", "--auto-approve")
        _, second_err = second.communicate(timeout=60)
        assert second.returncode == 1
        assert f"(pid {first.pid}) running apply since" in second_err
        holder = pg.server.query(
            "SELECT id FROM {schema}.state_locks WHERE workspace = %s", pg.workspace
        )
        assert f"lock id {holder[0][0]}" in second_err

        waiting = spawn(directory, "apply", "--auto-approve", "--lock-timeout", "60s")
        wait_until(pg.waiting_for_lock, "the third apply waits for the lock")
        first_out, first_err = first.communicate("yes\n", timeout=60)
        assert first.returncode == 0, first_err
        assert "Apply complete! Resources: 2 added" in first_out
        waiting_out, waiting_err = waiting.communicate(timeout=60)
        assert waiting.returncode == 0, waiting_err
        assert "No changes." in waiting_out
    finally:
        for proc in (first, waiting):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.communicate()

    state = pg.backend().read()
    assert state.addresses == ("aop_global.main", "aop_ssl_mode.main")
    assert {e.operation for e in pg.backend().history()} == {"apply"}


# --- packaging --------------------------------------------------------------------------------


def test_state_imports_without_psycopg_and_imports_it_only_when_used() -> None:
    for module in (ROOT / "state").glob("*.py"):
        for node in ast.parse(module.read_text()).body:  # module level, outside functions
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                assert not any(str(name).startswith("psycopg") for name in names), module
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import state\n"
        "assert 'psycopg' not in sys.modules\n"
        "try:\n"
        "    state.PostgresBackend('host=x', aopctl_version='t')\n"
        "except state.StateError as exc:\n"
        "    print(exc.message, *exc.reasons)\n"
    )
    # -S: no site-packages, so psycopg cannot be found
    done = subprocess.run(
        [sys.executable, "-S", "-c", script, str(ROOT)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "the postgres state backend needs psycopg 3 install it with: pip install 'aopctl[postgres]'"
    )
