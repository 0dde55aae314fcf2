"""The local-file backend: one JSON file, atomic replacement, backups, a lock file (POSIX).

Files, for a state at `DIR/aopctl.state.json`:

- `DIR/aopctl.state.json`: the state, mode 0600, replaced atomically (temp + fsync + rename +
  directory fsync), so a process killed at any instant leaves the old or the new state.
- `DIR/aopctl.state.json.lock`: the lock while a writing command runs (see `state.lock`).
- `DIR/.aopctl/backups/aopctl.state.json.backup.SERIAL`: the bytes of each replaced version,
  mode 0600, the newest `backups` kept, and also the version this backend replaced first: an
  apply writes the state after every API call, so without it the state from before a long
  apply would be rotated out by the apply itself. A state migrated from an older format is backed up
  like any other, byte for byte, by the first write after the migration. A version is never
  written to once stored (it is replaced by a new file), so its backup is a hard link to it:
  no copy of the bytes; a file of another mode than 0600, or a file system without hard
  links, gets a copy.

Short critical sections (lock acquisition and each compare-and-swap write) are serialised
between processes with `flock` on the directory; the kernel releases it if the process dies.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from state._fs import (
    create_exclusively,
    directory_mutex,
    fsync_dir,
    link_atomically,
    replace_atomically,
    sweep_temp_files,
)
from state.backend import StateBackend
from state.document import FORMAT_VERSION, StateDocument, dump_state
from state.errors import (
    LockNotFoundError,
    SerialConflictError,
    StateCorruptError,
    StateError,
)
from state.lock import LockInfo, locked_error, read_lock

_log = logging.getLogger(__name__)

BACKUP_DIR = Path(".aopctl") / "backups"
DEFAULT_BACKUPS = 10
DEFAULT_POLL_INTERVAL = 0.5


class _Stored(NamedTuple):
    """The state file's bytes and the file they were read from."""

    raw: bytes
    stat: os.stat_result


@contextlib.contextmanager
def _os_errors(action: str) -> Iterator[None]:
    """File-system failures become StateErrors that say what was being done."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise StateError(f"cannot {action}:{where} {exc.strerror or exc}") from exc


@contextlib.contextmanager
def _best_effort(action: str) -> Iterator[None]:
    """Backups must not cost the state itself: during an apply, a write that fails for want of
    a backup would leave a change made in Cloudflare unrecorded."""
    try:
        yield
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        _log.warning("could not %s:%s %s", action, where, exc.strerror or exc)


class LocalBackend(StateBackend):
    """The state in a local file; see the module docstring for the files it uses."""

    def __init__(
        self,
        path: Path,
        *,
        backups: int = DEFAULT_BACKUPS,
        aopctl_version: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if backups < 0:
            raise ValueError("backups must be >= 0")
        # A symlinked state (one file shared by several checkouts) is the file it points to: its
        # lock, backups and atomic replacement all belong next to that file.
        self.path = Path(path).resolve() if Path(path).is_symlink() else Path(path)
        self.lock_path = self.path.with_name(f"{self.path.name}.lock")
        self.backup_dir = self.path.parent / BACKUP_DIR
        self.aopctl_version = aopctl_version
        self._keep = backups
        self._poll_interval = poll_interval
        self._clock = clock
        self._sleep = sleep
        self._held: set[str] = set()  # ids of the locks this backend took
        # The bytes this backend last read or wrote, parsed: a write that finds them unchanged
        # need not parse and validate them again.
        self._known: tuple[bytes, StateDocument] | None = None
        self._first_replaced: int | None = None  # serial of the version before our first write

    def describe(self) -> str:
        return f"local file {self.path}"

    # --- reading ----------------------------------------------------------------------------

    def read(self) -> StateDocument:
        stored = self._read_file()
        if stored is None:
            return StateDocument.empty(self.aopctl_version)
        return self._parse_once(stored.raw)

    def _read_file(self) -> _Stored | None:
        try:
            with self.path.open("rb") as handle:
                return _Stored(handle.read(), os.fstat(handle.fileno()))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"cannot read state file {self.path}: {exc.strerror or exc}") from exc

    def _parse_once(self, raw: bytes) -> StateDocument:
        if self._known is not None and self._known[0] == raw:
            return self._known[1]
        doc = self._parse(raw)
        self._known = (raw, doc)
        return doc

    def _parse(self, raw: bytes) -> StateDocument:
        source = f"state file {self.path}"
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise StateCorruptError(f"{source} is not UTF-8 text", self._restore_hint()) from exc
        except json.JSONDecodeError as exc:
            raise StateCorruptError(
                f"{source} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg}); "
                "it may be truncated",
                self._restore_hint(),
            ) from exc
        except (RecursionError, ValueError) as exc:  # absurd nesting, a 5000-digit number
            raise StateCorruptError(
                f"{source} is not an aopctl state ({exc})", self._restore_hint()
            ) from exc
        try:
            return StateDocument.from_json(data, source)
        except StateCorruptError as exc:
            raise StateCorruptError(exc.message, exc.reasons + self._restore_hint()) from exc

    def _restore_hint(self) -> list[str]:
        hint = f"the file was left untouched; restore a backup from {self.backup_dir}"
        newest = self.backups()[-1:] if self.backup_dir.is_dir() else []
        return [f"{hint} (newest: {newest[0].name})" if newest else hint]

    # --- writing ----------------------------------------------------------------------------

    def write(self, doc: StateDocument, expected_serial: int) -> StateDocument:
        with _os_errors(f"write state file {self.path}"), directory_mutex(self.path.parent):
            self._refuse_foreign_lock()
            stored = self._read_file()
            current = self._parse_once(stored.raw) if stored is not None else None
            new = self._next_version(doc, current, expected_serial)
            data = dump_state(new)  # validates and refuses private keys before touching disk
            if stored is not None and current is not None and self._keep:
                with _best_effort("back up the state"):
                    self._save_backup(current.serial, stored)
                if self._first_replaced is None:
                    self._first_replaced = current.serial
            replace_atomically(self.path, data)
            self._known = (data, new)
            with _best_effort("rotate the state backups"):
                self._rotate_backups()
                sweep_temp_files(self.path.parent, self.path.name)
        return new

    def _next_version(
        self, doc: StateDocument, current: StateDocument | None, expected_serial: int
    ) -> StateDocument:
        stored_serial = current.serial if current else 0
        if stored_serial != expected_serial:
            raise SerialConflictError(
                f"state {self.path} changed since it was read (serial {stored_serial}, "
                f"expected {expected_serial}); re-run to plan against the current state",
                expected=expected_serial,
                actual=stored_serial,
            )
        if current and doc.lineage and doc.lineage != current.lineage:
            raise SerialConflictError(
                f"state {self.path} has lineage {current.lineage}, not {doc.lineage}: "
                "it was replaced by a different state",
                expected=expected_serial,
                actual=stored_serial,
            )
        lineage = current.lineage if current else (doc.lineage or str(uuid.uuid4()))
        return replace(
            doc,
            format_version=FORMAT_VERSION,
            lineage=lineage,
            serial=stored_serial + 1,
            aopctl_version=self.aopctl_version,
        )

    def _refuse_foreign_lock(self) -> None:
        holder = read_lock(self.lock_path)
        if holder is not None and holder.id not in self._held:
            raise locked_error(holder)

    # --- backups ----------------------------------------------------------------------------

    def backups(self) -> list[Path]:
        """Backup files, oldest first."""
        prefix = f"{self.path.name}.backup."
        found = [
            (int(suffix), backup)
            for backup in self.backup_dir.glob(f"{prefix}*")
            if (suffix := backup.name[len(prefix) :]).isdigit()
        ]
        return [backup for _, backup in sorted(found)]

    def _save_backup(self, serial: int, stored: _Stored) -> None:
        if not self.backup_dir.is_dir():
            self.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            fsync_dir(self.backup_dir.parent)
            fsync_dir(self.path.parent)
        backup = self.backup_dir / f"{self.path.name}.backup.{serial}"
        private = stat.S_IMODE(stored.stat.st_mode) == 0o600
        if not (private and link_atomically(self.path, stored.stat, backup)):
            replace_atomically(backup, stored.raw)

    def _rotate_backups(self) -> None:
        if not self.backup_dir.is_dir():
            return
        backups = self.backups()
        before_us = f"{self.path.name}.backup.{self._first_replaced}"
        for old in backups[: max(len(backups) - self._keep, 0)]:
            if old.name != before_us:
                old.unlink(missing_ok=True)
        sweep_temp_files(self.backup_dir, self.path.name)

    # --- locking ----------------------------------------------------------------------------

    def lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        """Take the lock, polling up to `timeout` seconds while a live process holds it."""
        deadline = self._clock() + timeout
        while True:
            acquired, holder = self._try_lock(operation)
            if acquired is not None:
                return acquired
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise locked_error(holder, waited=timeout)
            self._sleep(min(self._poll_interval, remaining))

    def _try_lock(self, operation: str) -> tuple[LockInfo | None, LockInfo]:
        with _os_errors(f"lock state {self.path}"), directory_mutex(self.path.parent):
            mine = LockInfo.new(operation)
            if create_exclusively(self.lock_path, mine.dump()):
                sweep_temp_files(self.path.parent, self.lock_path.name)
                self._held.add(mine.id)
                return mine, mine
            holder = read_lock(self.lock_path)
            if holder is None:  # removed by a process that ignores the directory mutex
                raise StateError(f"state lock {self.lock_path} changed while being taken; retry")
            if not holder.is_stale():
                return None, holder
            replace_atomically(self.lock_path, mine.dump())
            sweep_temp_files(self.path.parent, self.lock_path.name)
            self._held.add(mine.id)
            return replace(mine, taken_over_from=holder), mine

    def unlock(self, lock: LockInfo) -> None:
        self._held.discard(lock.id)
        self._remove_lock(lock.id, f"lock {lock.id} is no longer held")

    def force_unlock(self, lock_id: str) -> None:
        self._remove_lock(lock_id, f"lock id {lock_id} does not match the current lock")

    def _remove_lock(self, lock_id: str, mismatch: str) -> None:
        with _os_errors(f"unlock state {self.path}"), directory_mutex(self.path.parent):
            holder = read_lock(self.lock_path)
            if holder is None:
                raise LockNotFoundError(f"state {self.path} is not locked")
            if holder.id != lock_id:
                raise LockNotFoundError(f"{mismatch}: state is locked by {holder.describe()}")
            os.unlink(self.lock_path)
            fsync_dir(self.path.parent)
