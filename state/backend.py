"""The storage port the engine depends on; `LocalBackend` is the first implementation.

A remote backend (PostgreSQL, object storage...) implements the same five operations with the
same guarantees, so the engine never changes:

- `read()` never writes and never locks; a missing state reads as `StateDocument.empty()`.
- `write(doc, expected_serial)` is a compare-and-swap: it raises `SerialConflictError` unless
  the stored serial equals `expected_serial`, stores `doc` with the serial bumped and the stored
  lineage kept (or a new lineage for the first write), and returns what it stored.
- `lock(operation, timeout)` returns a `LockInfo` or raises `StateLockedError` naming the
  holder after polling up to `timeout` seconds; a stale lock is taken over and reported in
  `LockInfo.taken_over_from` (backends never print).
- `write` refuses (`StateLockedError`) while a lock taken through another backend object is
  held, so take the lock and write through the same object.
- `unlock(lock)` releases a lock taken with `lock()`; `force_unlock(lock_id)` removes the
  current lock only when its id matches (`LockNotFoundError` otherwise).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from state.document import StateDocument
from state.errors import StateError
from state.lock import LockInfo


@runtime_checkable
class StateBackend(Protocol):
    def read(self) -> StateDocument: ...

    def write(self, doc: StateDocument, expected_serial: int) -> StateDocument: ...

    def lock(self, operation: str, timeout: float = 0.0) -> LockInfo: ...

    def unlock(self, lock: LockInfo) -> None: ...

    def force_unlock(self, lock_id: str) -> None: ...

    def describe(self) -> str:
        """Where the state lives, for messages: `local file aopctl.state.json`."""
        ...


@contextlib.contextmanager
def hold_lock(backend: StateBackend, operation: str, timeout: float = 0.0) -> Iterator[LockInfo]:
    """Hold the state lock for a block; an unlock failure never hides the block's own error."""
    info = backend.lock(operation, timeout)
    try:
        yield info
    except BaseException:
        with contextlib.suppress(StateError):
            backend.unlock(info)
        raise
    backend.unlock(info)
