"""aopctl's state store: what aopctl created, and the only place it remembers it.

Stdlib only, never imports `planner`. The engine depends on the `StateBackend` protocol;
`LocalBackend` (a JSON file next to the configuration) is the first implementation.
"""

from state.backend import StateBackend, hold_lock
from state.document import (
    FINGERPRINT_KEYS,
    FORMAT_VERSION,
    MIGRATIONS,
    OutputState,
    ResourceState,
    StateDocument,
    dump_state,
    find_private_keys,
    normalise_fingerprint,
)
from state.errors import (
    LockNotFoundError,
    SerialConflictError,
    StateCorruptError,
    StateError,
    StateLockedError,
    StateSecretError,
    StateVersionError,
)
from state.local import LocalBackend
from state.lock import LockInfo

__all__ = [
    "FINGERPRINT_KEYS",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "LocalBackend",
    "LockInfo",
    "LockNotFoundError",
    "OutputState",
    "ResourceState",
    "SerialConflictError",
    "StateBackend",
    "StateCorruptError",
    "StateDocument",
    "StateError",
    "StateLockedError",
    "StateSecretError",
    "StateVersionError",
    "dump_state",
    "find_private_keys",
    "hold_lock",
    "normalise_fingerprint",
]
