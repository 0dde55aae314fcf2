"""aopctl's state store: what aopctl created, and the only place it remembers it.

Stdlib only, never imports `planner`. The engine depends on the `StateBackend` protocol;
`LocalBackend` (a JSON file next to the configuration) is the first implementation;
`PostgresBackend` (psycopg 3, imported only when used) keeps a team's state in PostgreSQL.
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
from state.memory import MemoryBackend
from state.postgres import (
    EMERGENCY_FILE,
    HistoryEntry,
    PostgresBackend,
    StateConnectionError,
    check_pull_target,
    push_state,
    read_state_file,
    save_emergency_state,
    write_state_file,
)

__all__ = [
    "EMERGENCY_FILE",
    "FINGERPRINT_KEYS",
    "FORMAT_VERSION",
    "MIGRATIONS",
    "HistoryEntry",
    "LocalBackend",
    "LockInfo",
    "LockNotFoundError",
    "MemoryBackend",
    "OutputState",
    "PostgresBackend",
    "ResourceState",
    "SerialConflictError",
    "StateBackend",
    "StateConnectionError",
    "StateCorruptError",
    "StateDocument",
    "StateError",
    "StateLockedError",
    "StateSecretError",
    "StateVersionError",
    "check_pull_target",
    "dump_state",
    "find_private_keys",
    "hold_lock",
    "normalise_fingerprint",
    "push_state",
    "read_state_file",
    "save_emergency_state",
    "write_state_file",
]
