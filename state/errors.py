"""The state store's own exception tree (stdlib only; the CLI maps it to exit codes).

    StateError                  any state failure: `message` plus optional `reasons`
    ├── StateLockedError        another process holds the lock (`holder` says who, if readable)
    ├── StateCorruptError       the file is not a valid state (it is never overwritten)
    ├── StateVersionError       the file was written by a newer format_version
    ├── SerialConflictError     compare-and-swap failed: the state changed since it was read
    ├── LockNotFoundError       unlock/force-unlock named a lock that is not the current one
    └── StateSecretError        a document about to be written contains a private key

Messages name files, addresses and lock holders, never secret values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from state.lock import LockInfo


class StateError(Exception):
    """An expected state failure. `reasons` are extra lines for the user."""

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons)


class StateLockedError(StateError):
    def __init__(
        self, message: str, holder: LockInfo | None = None, reasons: Sequence[str] = ()
    ) -> None:
        super().__init__(message, reasons)
        self.holder = holder


class StateCorruptError(StateError):
    pass


class StateVersionError(StateError):
    pass


class SerialConflictError(StateError):
    def __init__(self, message: str, *, expected: int, actual: int) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


class LockNotFoundError(StateError):
    pass


class StateSecretError(StateError):
    pass
