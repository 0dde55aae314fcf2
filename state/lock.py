"""The state lock: who holds it, and its file format.

A lock file sits next to the state (`aopctl.state.json.lock`) and holds one JSON object::

    {"id": UUID, "operation": "apply", "user": "alice", "host": "ci-7", "pid": 4242,
     "created": "2026-01-02T03:04:05Z"}

A lock whose holder ran on this host and whose pid no longer exists is stale (SPEC §6): the
next writer takes it over and reports that through `LockInfo.taken_over_from`.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from state._fs import process_alive
from state.errors import StateLockedError

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid{os.getuid()}"


@dataclass(frozen=True)
class LockInfo:
    id: str
    operation: str
    user: str
    host: str
    pid: int
    created: datetime
    # Set on the lock returned by `lock()` when it replaced a stale one; not stored.
    taken_over_from: LockInfo | None = field(default=None, compare=False)

    @classmethod
    def new(cls, operation: str, now: datetime | None = None) -> LockInfo:
        return cls(
            id=str(uuid.uuid4()),
            operation=operation,
            user=current_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
            created=(now or datetime.now(UTC)).replace(microsecond=0),
        )

    def describe(self) -> str:
        """`USER@HOST (pid N) running OPERATION since TIME, lock id ID`."""
        since = self.created.strftime(_TIME_FORMAT)
        return (
            f"{self.user}@{self.host} (pid {self.pid}) running {self.operation} "
            f"since {since}, lock id {self.id}"
        )

    def is_stale(self) -> bool:
        """Held by a process of this host that no longer exists."""
        return self.host == socket.gethostname() and not process_alive(self.pid)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "created": self.created.strftime(_TIME_FORMAT),
        }

    def dump(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: Any) -> LockInfo:
        """Parse a lock object; raises ValueError when it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        text_fields = [data.get(key) for key in ("id", "operation", "user", "host", "created")]
        pid = data.get("pid")
        if not all(isinstance(v, str) for v in text_fields) or not isinstance(pid, int):
            raise ValueError("missing or mistyped fields")
        created = datetime.strptime(data["created"], _TIME_FORMAT).replace(tzinfo=UTC)
        return cls(data["id"], data["operation"], data["user"], data["host"], pid, created)


def read_lock(path: Path) -> LockInfo | None:
    """The current holder, None when unlocked; an unreadable lock still blocks writers."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateLockedError(f"state lock {path} cannot be read: {exc.strerror}") from exc
    try:
        return LockInfo.from_json(json.loads(raw))
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise StateLockedError(
            f"state is locked by an unreadable lock file {path}",
            reasons=[f"if no aopctl is running on this state, delete {path}"],
        ) from exc


def locked_error(holder: LockInfo, *, waited: float = 0.0) -> StateLockedError:
    reasons = [f"gave up after waiting {waited:g}s"] if waited else []
    reasons.append(f"if that process is gone, run: aopctl force-unlock {holder.id}")
    return StateLockedError(f"state is locked by {holder.describe()}", holder, reasons)
