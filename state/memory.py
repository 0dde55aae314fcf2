"""A state held in memory: the `StateBackend` for tests and tools that need no file.

It keeps the backend's promises that matter within one process: compare-and-swap on the
serial, a lineage fixed at the first write, and one lock holder at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

from state.document import StateDocument
from state.errors import LockNotFoundError, SerialConflictError, StateLockedError
from state.lock import LockInfo


class MemoryBackend:
    def __init__(self, aopctl_version: str, document: StateDocument | None = None) -> None:
        self.document = document or StateDocument.empty(aopctl_version)
        self._lock: LockInfo | None = None

    def read(self) -> StateDocument:
        return self.document

    def write(self, doc: StateDocument, expected_serial: int) -> StateDocument:
        if expected_serial != self.document.serial:
            raise SerialConflictError(
                f"the state is at serial {self.document.serial}, not {expected_serial}",
                expected=expected_serial,
                actual=self.document.serial,
            )
        lineage = self.document.lineage or doc.lineage or str(uuid.uuid4())
        self.document = replace(doc, lineage=lineage, serial=expected_serial + 1)
        return self.document

    def lock(self, operation: str, timeout: float = 0.0) -> LockInfo:
        if self._lock is not None:
            raise StateLockedError(f"state is locked by {self._lock.describe()}", self._lock)
        self._lock = LockInfo.new(operation)
        return self._lock

    def unlock(self, lock: LockInfo) -> None:
        self.force_unlock(lock.id)

    def force_unlock(self, lock_id: str) -> None:
        if self._lock is None or self._lock.id != lock_id:
            raise LockNotFoundError(f"no lock with id {lock_id}")
        self._lock = None

    def describe(self) -> str:
        return "memory"
