"""The PostgreSQL backend: one state shared by laptops, CI and runners without local files.

Tables, created on first use in `schema` (several workspaces live side by side):

- `states`: one row per workspace, the current version (`serial`, `lineage`, `document` jsonb).
- `state_history`: every version ever written, keyed by (workspace, serial), with who wrote it
  and under which operation; `rollback` writes an old version again as a new serial.
- `state_locks`: who holds a workspace's lock (id, operation, who, host, pid, created) and the
  server pid of the holding session, so that a second process can name the holder.

The lock is a session advisory lock (`pg_try_advisory_lock`, key derived from schema and
workspace) on a connection dedicated to it for the whole command: the server drops it with the
connection, so a crashed process never leaves the state locked, and a row whose session no
longer holds the lock is stale (ignored, then overwritten). While the lock is held, reads and
writes go over that same connection, so nothing is ever written after the lock was lost.

A write is a compare-and-swap on the serial inside one transaction (`SELECT ... FOR UPDATE`,
then `UPDATE ... WHERE serial = expected`); the new serial is the stored one plus one, or the
document's own when that is ahead (a pushed file keeps its serial). A write that fails because
the connection failed raises `StateConnectionError`, naming the emergency file where the caller
keeps the pending state; while that file exists, `lock` refuses everything but `state push`.

The end of the module holds the state-file helpers of `state push|pull` and of that emergency
copy (backend-neutral: they work with any `StateBackend`).

The connection string comes from the caller (the CLI reads `AOPCTL_PG_DSN`); no message ever
contains its password. psycopg is imported lazily, so `import state` works without it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, LiteralString
from urllib.parse import quote

from state._fs import replace_atomically
from state.backend import StateBackend
from state.document import FORMAT_VERSION, StateDocument, dump_state
from state.errors import (
    LockNotFoundError,
    SerialConflictError,
    StateCorruptError,
    StateError,
    StateLockedError,
)
from state.lock import LockInfo, current_user

if TYPE_CHECKING:
    from psycopg import Connection
    from psycopg.rows import TupleRow
    from psycopg.sql import Composed

    PgConnection = Connection[TupleRow]

DSN_VARIABLE = "AOPCTL_PG_DSN"
EMERGENCY_FILE = "aopctl.state.emergency.json"
PUSH_OPERATION = "state push"
DEFAULT_SCHEMA = "aopctl"
DEFAULT_WORKSPACE = "default"
SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
WORKSPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
TABLES = ("states", "state_history", "state_locks")
TERMINATE_WAIT_MS = 5000

# Applied unless the connection string sets them: keepalives notice a dead network in ~1 minute.
_CONNECT_DEFAULTS = {
    "application_name": "aopctl",
    "connect_timeout": "10",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}

_DDL: LiteralString = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.states (
    workspace text PRIMARY KEY,
    serial bigint NOT NULL CHECK (serial >= 1),
    lineage text NOT NULL,
    document jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {schema}.state_history (
    workspace text NOT NULL,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    document jsonb NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    written_by text NOT NULL,
    operation text NOT NULL,
    PRIMARY KEY (workspace, serial)
);
CREATE TABLE IF NOT EXISTS {schema}.state_locks (
    workspace text PRIMARY KEY,
    id text NOT NULL,
    operation text NOT NULL,
    who text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    created timestamptz NOT NULL,
    backend_pid integer NOT NULL
);
"""

_LOCK_ROW: LiteralString = """
SELECT l.id, l.operation, l.who, l.host, l.pid, l.created, l.backend_pid,
       EXISTS (
           SELECT 1 FROM pg_catalog.pg_locks p
           WHERE p.locktype = 'advisory' AND p.granted AND p.pid = l.backend_pid
             AND p.database = (SELECT oid FROM pg_catalog.pg_database
                               WHERE datname = current_database())
             AND p.classid::bigint = %s AND p.objid::bigint = %s AND p.objsubid = 1
       )
FROM {schema}.state_locks l WHERE l.workspace = %s
"""

_UPSERT_LOCK: LiteralString = """
INSERT INTO {schema}.state_locks
    (workspace, id, operation, who, host, pid, created, backend_pid)
VALUES (%s, %s, %s, %s, %s, %s, %s, pg_backend_pid())
ON CONFLICT (workspace) DO UPDATE SET
    id = EXCLUDED.id, operation = EXCLUDED.operation, who = EXCLUDED.who,
    host = EXCLUDED.host, pid = EXCLUDED.pid, created = EXCLUDED.created,
    backend_pid = EXCLUDED.backend_pid
"""


class StateConnectionError(StateError):
    """The database cannot be reached, or the connection broke (a lock held on it is gone).

    `emergency_path` is where a caller holding unsaved state keeps it (see `save_emergency_state`).
    """

    def __init__(self, message: str, reasons: Iterable[str] = (), *, emergency_path: Path) -> None:
        super().__init__(message, list(reasons))
        self.emergency_path = emergency_path


@dataclass(frozen=True)
class HistoryEntry:
    """One stored version of a workspace's state."""

    serial: int
    lineage: str
    written_at: datetime
    written_by: str
    operation: str
    resources: int


@dataclass(frozen=True)
class _LockRow:
    info: LockInfo
    backend_pid: int
    alive: bool  # the session that wrote the row still holds the advisory lock


# --- helpers -------------------------------------------------------------------------------


def advisory_key(schema: str, workspace: str) -> int:
    """The 64-bit advisory lock key of a workspace (stable across processes and versions)."""
    digest = hashlib.sha256(f"aopctl\0{schema}\0{workspace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_URL_PASSWORD = re.compile(r"(://[^:/?#@\s]*:)[^@\s]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` without the given secrets and without any password written in a DSN."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KV_PASSWORD.sub(r"\1***", text)


def _require_psycopg() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise StateError(
            "the postgres state backend needs psycopg 3",
            ["install it with: pip install 'aopctl[postgres]'"],
        ) from exc


def _parse_dsn(dsn: str) -> dict[str, str]:
    from psycopg import conninfo

    try:
        return {key: str(value) for key, value in conninfo.conninfo_to_dict(dsn).items()}
    except Exception:  # libpq's parse message may quote a piece of the string: never show it
        raise StateError(
            f"{DSN_VARIABLE} is not a valid PostgreSQL connection string",
            ["use postgresql://USER@HOST:PORT/DATABASE or key=value pairs (host=... dbname=...)"],
        ) from None


def _one(row: tuple[Any, ...] | None) -> Any:
    assert row is not None
    return row[0]


class PostgresBackend(StateBackend):
    """The state of one workspace in PostgreSQL; see the module docstring."""

    def __init__(
        self,
        dsn: str,
        *,
        schema: str = DEFAULT_SCHEMA,
        workspace: str = DEFAULT_WORKSPACE,
        aopctl_version: str,
        emergency_path: Path | None = None,
    ) -> None:
        _require_psycopg()
        from psycopg import conninfo

        if not isinstance(schema, str) or not SCHEMA_RE.match(schema):
            raise StateError("postgres state: schema must be a lowercase SQL name (a-z, 0-9, _)")
        if not isinstance(workspace, str) or not WORKSPACE_RE.match(workspace):
            raise StateError("postgres state: workspace must be 1-100 of A-Z a-z 0-9 _ . -")
        params = _parse_dsn(dsn)
        password = params.get("password", "")
        self._secrets = sorted({password, quote(password, safe="")} - {""}, key=len, reverse=True)
        extra = {k: v for k, v in _CONNECT_DEFAULTS.items() if k not in params}
        self._dsn = conninfo.make_conninfo(dsn, **extra)
        self._server = (
            f"{params.get('host') or 'localhost'}:{params.get('port') or '5432'}"
            f"/{params.get('dbname') or params.get('user') or ''}"
        )
        self.schema = schema
        self.workspace = workspace
        self.aopctl_version = aopctl_version
        self.emergency_path = emergency_path or Path(EMERGENCY_FILE)
        self._key = advisory_key(schema, workspace)
        self._mutex = threading.RLock()
        self._lock_conn: PgConnection | None = None
        self._held: LockInfo | None = None
        self._tables_ready = False

    def __repr__(self) -> str:
        return f"PostgresBackend({self.describe()})"

    def describe(self) -> str:
        return f'PostgreSQL workspace "{self.workspace}" (schema {self.schema} on {self._server})'

    # --- connections and errors ----------------------------------------------------------

    def _sql(self, template: LiteralString) -> Composed:
        from psycopg import sql

        return sql.SQL(template).format(schema=sql.Identifier(self.schema))

    def _detail(self, exc: BaseException) -> str:
        return " ".join(redact(str(exc), self._secrets).split())

    def _connection_error(self, exc: BaseException, what: str) -> StateConnectionError:
        return StateConnectionError(
            f"{what} {self.describe()}: {self._detail(exc)}",
            [f"check {DSN_VARIABLE} and that the database server is reachable"],
            emergency_path=self.emergency_path,
        )

    def _connect(self) -> PgConnection:
        import psycopg

        try:
            return psycopg.connect(self._dsn, autocommit=True)
        except psycopg.Error as exc:
            raise self._connection_error(exc, "cannot connect to") from None

    @contextlib.contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """psycopg errors become StateErrors; a broken connection is a StateConnectionError."""
        import psycopg
        from psycopg import errors

        try:
            yield
        except (errors.LockNotAvailable, errors.QueryCanceled) as exc:
            raise StateError(f"cannot {action} in {self.describe()}: {self._detail(exc)}") from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._connection_error(exc, f"cannot {action}: lost the connection to") from None
        except psycopg.Error as exc:
            raise StateError(f"cannot {action} in {self.describe()}: {self._detail(exc)}") from None

    @contextlib.contextmanager
    def _session(self, action: str) -> Iterator[PgConnection]:
        """The lock's connection while the lock is held, else a connection for this call."""
        with self._mutex:
            if self._lock_conn is not None:
                with self._errors(action):
                    yield self._lock_conn
                return
            conn = self._connect()
            try:
                with self._errors(action):
                    yield conn
            finally:
                conn.close()

    def _tables_exist(self, conn: PgConnection) -> bool:
        if not self._tables_ready:
            found = conn.execute(
                "SELECT count(*) FROM pg_catalog.pg_tables "
                "WHERE schemaname = %s AND tablename = ANY(%s)",
                [self.schema, list(TABLES)],
            ).fetchone()
            self._tables_ready = _one(found) == len(TABLES)
        return self._tables_ready

    def _ensure_tables(self, conn: PgConnection) -> None:
        if self._tables_exist(conn):
            return
        with conn.transaction():
            # Concurrent CREATE ... IF NOT EXISTS can collide in the catalogue: one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(self.schema, "")])
            conn.execute(self._sql(_DDL))
        self._tables_ready = True

    # --- reading -----------------------------------------------------------------------------

    def read(self) -> StateDocument:
        with self._session("read the state") as conn:
            row = None
            if self._tables_exist(conn):
                query = self._sql("SELECT document FROM {schema}.states WHERE workspace = %s")
                row = conn.execute(query, [self.workspace]).fetchone()
        if row is None:
            return StateDocument.empty(self.aopctl_version)
        return StateDocument.from_json(row[0], f"the state in {self.describe()}")

    def history(self, limit: int | None = None) -> list[HistoryEntry]:
        """Stored versions, oldest first; with `limit`, only the newest `limit`."""
        query = self._sql(
            "SELECT serial, lineage, written_at, written_by, operation, "
            "jsonb_array_length(document -> 'resources') FROM {schema}.state_history "
            "WHERE workspace = %s ORDER BY serial DESC LIMIT %s"
        )
        with self._session("read the state history") as conn:
            if not self._tables_exist(conn):
                return []
            rows = conn.execute(query, [self.workspace, limit]).fetchall()
        return [
            HistoryEntry(serial, lineage, written_at.astimezone(UTC), by, operation, count)
            for serial, lineage, written_at, by, operation, count in reversed(rows)
        ]

    def version(self, serial: int) -> StateDocument | None:
        """Version `serial` of the state as it was written, None when there is none."""
        query = self._sql(
            "SELECT document FROM {schema}.state_history WHERE workspace = %s AND serial = %s"
        )
        with self._session("read the state history") as conn:
            exists = self._tables_exist(conn)
            row = conn.execute(query, [self.workspace, serial]).fetchone() if exists else None
        if row is None:
            return None
        return StateDocument.from_json(row[0], f"version {serial} of {self.describe()}")

    # --- writing -----------------------------------------------------------------------------

    def write(self, doc: StateDocument, expected_serial: int) -> StateDocument:
        with self._session("write the state") as conn:
            self._ensure_tables(conn)
            with conn.transaction():
                self._refuse_foreign_lock(conn)
                query = self._sql(
                    "SELECT serial, lineage FROM {schema}.states WHERE workspace = %s FOR UPDATE"
                )
                row = conn.execute(query, [self.workspace]).fetchone()
                new = self._next_version(doc, row, expected_serial)
                text = dump_state(new).decode("utf-8")  # refuses private keys and invalid states
                self._store(conn, new, text, expected_serial)
        return new

    def _refuse_foreign_lock(self, conn: PgConnection) -> None:
        """Without our own lock, write only while nobody holds it (held for the transaction)."""
        if self._held is not None:
            return
        free = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", [self._key]).fetchone()
        if not _one(free):
            raise self._locked_error(conn)

    def _next_version(
        self, doc: StateDocument, row: tuple[Any, ...] | None, expected_serial: int
    ) -> StateDocument:
        stored_serial, lineage = (int(row[0]), str(row[1])) if row else (0, "")
        if stored_serial != expected_serial:
            raise SerialConflictError(
                f"the state in {self.describe()} changed since it was read (serial "
                f"{stored_serial}, expected {expected_serial}); re-run to plan against it",
                expected=expected_serial,
                actual=stored_serial,
            )
        if row and doc.lineage and doc.lineage != lineage:
            raise SerialConflictError(
                f"the state in {self.describe()} has lineage {lineage}, not {doc.lineage}: "
                "it is a different state",
                expected=expected_serial,
                actual=stored_serial,
            )
        return replace(
            doc,
            format_version=FORMAT_VERSION,
            lineage=lineage or doc.lineage or str(uuid.uuid4()),
            # A pushed file whose serial is already ahead keeps it: serials never go back
            # when a state moves between backends.
            serial=max(stored_serial + 1, doc.serial),
            aopctl_version=self.aopctl_version,
        )

    def _store(self, conn: PgConnection, new: StateDocument, text: str, stored_serial: int) -> None:
        if stored_serial:
            query = self._sql(
                "UPDATE {schema}.states SET serial = %s, lineage = %s, document = %s::jsonb, "
                "updated_at = now() WHERE workspace = %s AND serial = %s"
            )
            params: list[Any] = [new.serial, new.lineage, text, self.workspace, stored_serial]
        else:
            query = self._sql(
                "INSERT INTO {schema}.states (workspace, serial, lineage, document) "
                "VALUES (%s, %s, %s, %s::jsonb) ON CONFLICT (workspace) DO NOTHING"
            )
            params = [self.workspace, new.serial, new.lineage, text]
        if conn.execute(query, params).rowcount != 1:  # cannot happen under FOR UPDATE + lock
            raise SerialConflictError(
                f"the state in {self.describe()} changed while being written; re-run",
                expected=stored_serial,
                actual=-1,
            )
        conn.execute(
            self._sql(
                "INSERT INTO {schema}.state_history "
                "(workspace, serial, lineage, document, written_by, operation) "
                "VALUES (%s, %s, %s, %s::jsonb, %s, %s)"
            ),
            [
                self.workspace,
                new.serial,
                new.lineage,
                text,
                f"{current_user()}@{socket.gethostname()}",
                self._held.operation if self._held else "write",
            ],
        )

    def rollback(self, serial: int) -> StateDocument:
        """Write version `serial` again, as a new serial (take the lock first)."""
        current = self.read()
        if serial == current.serial:
            raise StateError(f"serial {serial} is already the current state")
        old = self.version(serial)
        if old is None:
            raise StateError(
                f"{self.describe()} has no version {serial}", ["list them: aopctl state history"]
            )
        return self.write(old, current.serial)

    # --- locking -----------------------------------------------------------------------------

    def lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the lock on a connection kept open until `unlock` (waits up to `timeout`)."""
        with self._mutex:
            if self._held is not None:
                raise StateError(f"this process already holds the lock of {self.describe()}")
            if operation != PUSH_OPERATION and self.emergency_path.exists():
                raise StateError(
                    f"an interrupted apply kept its state in {self.emergency_path}: "
                    "push it before anything else writes the state",
                    [
                        f"run in {self.emergency_path.parent}: aopctl state push {EMERGENCY_FILE}",
                        "if the push finds a newer state stored (a later apply ran after a "
                        "force-unlock), the file is obsolete: delete it",
                    ],
                )
            conn = self._connect()
            try:
                with self._errors("lock the state"):
                    self._ensure_tables(conn)
                    info = self._acquire(conn, operation, timeout)
            except BaseException:
                conn.close()  # the server releases whatever this session took
                raise
            self._lock_conn, self._held = conn, info
            return info

    def _acquire(self, conn: PgConnection, operation: str, timeout: float) -> LockInfo:
        if not self._take_advisory_lock(conn, timeout):
            raise self._locked_error(conn, waited=timeout)
        mine = LockInfo.new(operation)
        with conn.transaction():
            previous = self._lock_row(conn)  # we hold the lock: a row left here is stale
            conn.execute(
                self._sql(_UPSERT_LOCK),
                [self.workspace, mine.id, operation, mine.user, mine.host, mine.pid, mine.created],
            )
        return replace(mine, taken_over_from=previous.info) if previous else mine

    def _take_advisory_lock(self, conn: PgConnection, timeout: float) -> bool:
        from psycopg import errors

        if timeout <= 0:
            return bool(
                _one(conn.execute("SELECT pg_try_advisory_lock(%s)", [self._key]).fetchone())
            )
        try:
            with conn.transaction():  # a session lock taken in a transaction outlives it
                milliseconds = f"{max(1, round(timeout * 1000))}ms"
                conn.execute("SELECT set_config('lock_timeout', %s, true)", [milliseconds])
                conn.execute("SELECT pg_advisory_lock(%s)", [self._key])
        except errors.LockNotAvailable:
            return False
        return True

    def _lock_row(self, conn: PgConnection) -> _LockRow | None:
        classid, objid = (self._key >> 32) & 0xFFFFFFFF, self._key & 0xFFFFFFFF
        row = conn.execute(self._sql(_LOCK_ROW), [classid, objid, self.workspace]).fetchone()
        if row is None:
            return None
        lock_id, operation, who, host, pid, created, backend_pid, alive = row
        info = LockInfo(lock_id, operation, who, host, pid, created.astimezone(UTC))
        return _LockRow(info, backend_pid, bool(alive))

    def _locked_error(self, conn: PgConnection, *, waited: float = 0.0) -> StateLockedError:
        row = self._lock_row(conn)
        reasons = [f"gave up after waiting {waited:g}s"] if waited else []
        if row is None or not row.alive:  # the holder has not written its row yet
            reasons.append("retry in a moment")
            return StateLockedError(
                f"the state in {self.describe()} is locked by a session that is still starting",
                None,
                reasons,
            )
        reasons.append(
            "the lock ends with that process's database connection; if the process hangs, "
            f"run: aopctl force-unlock {row.info.id}"
        )
        return StateLockedError(f"state is locked by {row.info.describe()}", row.info, reasons)

    def unlock(self, lock: LockInfo) -> None:
        with self._mutex:
            if self._held is None or self._held.id != lock.id:
                raise LockNotFoundError(f"lock {lock.id} is not held by this process")
            self._release()

    def close(self) -> None:
        """Release the lock if this backend holds it (for cleanup paths); idempotent."""
        with self._mutex:
            if self._held is not None:
                self._release()

    def _release(self) -> None:
        conn, self._lock_conn, self._held = self._lock_conn, None, None
        assert conn is not None
        try:
            # A broken connection has already released the lock along with its session.
            with contextlib.suppress(StateConnectionError), self._errors("unlock the state"):
                query = self._sql("DELETE FROM {schema}.state_locks WHERE workspace = %s")
                conn.execute(query, [self.workspace])
                conn.execute("SELECT pg_advisory_unlock(%s)", [self._key])
        finally:
            conn.close()

    def force_unlock(self, lock_id: str) -> None:
        """Remove lock `lock_id`; a live holder's database session is ended (PostgreSQL 14+)."""
        with self._session("force-unlock the state") as conn:
            row = self._lock_row(conn) if self._tables_exist(conn) else None
            if row is None or (row.info.id != lock_id and not row.alive):
                raise LockNotFoundError(f"the state in {self.describe()} is not locked")
            if row.info.id != lock_id:
                raise LockNotFoundError(
                    f"lock id {lock_id} does not match the current lock: "
                    f"state is locked by {row.info.describe()}"
                )
            if row.alive:
                self._end_session(conn, row)
            query = self._sql("DELETE FROM {schema}.state_locks WHERE workspace = %s AND id = %s")
            conn.execute(query, [self.workspace, lock_id])

    def _end_session(self, conn: PgConnection, row: _LockRow) -> None:
        """End the holder's database session: the server then drops its lock."""
        from psycopg import errors

        pid = row.backend_pid
        try:
            ended = conn.execute("SELECT pg_terminate_backend(%s, %s)", [pid, TERMINATE_WAIT_MS])
        except errors.InsufficientPrivilege:
            raise StateError(
                f"not allowed to end the database session holding lock {row.info.id}",
                [f"a database superuser can run: SELECT pg_terminate_backend({pid})"],
            ) from None
        if not _one(ended.fetchone()):
            raise StateError(f"the session holding lock {row.info.id} did not end in time")


# --- state files: push, pull and the emergency copy -----------------------------------------


def read_state_file(path: Path) -> StateDocument:
    """A state file written by any backend (migrated to the current format)."""
    source = f"state file {path}"
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise StateError(f"cannot read {source}: {exc.strerror or exc}") from exc
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise StateCorruptError(f"{source} is not a JSON state file") from exc
    return StateDocument.from_json(data, source)


def write_state_file(path: Path, doc: StateDocument) -> None:
    """Write `doc` to `path` atomically, mode 0600 (refusing private keys)."""
    try:
        replace_atomically(path, dump_state(doc))
    except OSError as exc:
        raise StateError(f"cannot write state file {path}: {exc.strerror or exc}") from exc


def save_emergency_state(path: Path, doc: StateDocument) -> StateDocument:
    """Keep a state that could not be stored in the backend; returns what was written."""
    doc = replace(doc, format_version=FORMAT_VERSION, lineage=doc.lineage or str(uuid.uuid4()))
    write_state_file(path, doc)
    return doc


def _same_content(a: StateDocument, b: StateDocument) -> bool:
    return (a.resources, a.outputs) == (b.resources, b.outputs)


def push_state(
    backend: StateBackend, doc: StateDocument, *, force: bool = False
) -> StateDocument | None:
    """Store `doc` (read from a file) as the next version; None when it is already stored.

    The stored state must be empty or have the same lineage; a stored state with a higher
    serial, or the same serial and another content, is newer: refused unless `force`.
    Take the lock first.
    """
    current = backend.read()
    if current.serial:
        if doc.lineage != current.lineage:
            raise StateError(
                f"cannot push: the file has lineage {doc.lineage} but {backend.describe()} "
                f"holds lineage {current.lineage}, a different state",
                ["push it to an empty workspace instead"],
            )
        if doc.serial == current.serial and _same_content(doc, current):
            return None
        if current.serial >= doc.serial and not force:
            raise StateError(
                f"cannot push: {backend.describe()} holds serial {current.serial}, which is "
                f"newer than or different from the file's serial {doc.serial}",
                [
                    "compare with: aopctl state pull",
                    "an emergency file that later applies superseded is obsolete: delete it",
                    "to overwrite the stored state anyway (its history is kept), add --force",
                ],
            )
    return backend.write(doc, current.serial)


def check_pull_target(path: Path, doc: StateDocument, *, force: bool = False) -> None:
    """Refuse to overwrite a state file of another lineage or a newer serial (unless `force`)."""
    if force or not path.exists():
        return
    existing = read_state_file(path)
    if existing.lineage != doc.lineage:
        raise StateError(
            f"{path} holds lineage {existing.lineage}, not {doc.lineage}: a different state",
            ["choose another file, or add --force to overwrite it"],
        )
    if existing.serial > doc.serial:
        raise StateError(
            f"{path} holds serial {existing.serial}, newer than the stored serial {doc.serial}",
            ["push it instead (aopctl state push FILE), or add --force to overwrite it"],
        )
