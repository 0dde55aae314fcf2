"""The plan as data: frozen values in a total order, so text and JSON are byte-stable.

Renderers (planner/render/) turn a Plan into text, JSON or Markdown; apply executes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from planner.model import Address


class Action(Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    IMPORT = "import"  # adopt a live object that already matches (found by fingerprint)
    FORGET = "forget"  # drop from state; Cloudflare keeps the value (e.g. the SSL mode)
    WAIT = "wait"  # nothing to change, but a previous apply left it deploying

    @property
    def symbol(self) -> str:
        return _SYMBOLS[self]

    @property
    def counts_as(self) -> str | None:
        """Which summary counter this action increments."""
        return {
            Action.CREATE: "add",
            Action.REPLACE: "replace",
            Action.UPDATE: "change",
            Action.DELETE: "destroy",
            Action.FORGET: "destroy",
            Action.IMPORT: "import",
        }.get(self)


_SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.REPLACE: "+/-",
    Action.DELETE: "-",
    Action.IMPORT: "<=",
    Action.FORGET: "-",
    Action.WAIT: "~",
}


@dataclass(frozen=True)
class AttributeDiff:
    """One attribute's old and new value. UNKNOWN renders as `(known after apply)`."""

    name: str
    before: Any
    after: Any
    sensitive: bool = False
    forces_replacement: bool = False


@dataclass(frozen=True)
class Change:
    address: Address
    action: Action
    zone: str  # the zone as written in the configuration (name or id)
    zone_id: str | None
    reason: str
    attributes: tuple[AttributeDiff, ...] = ()
    remote_id: str | None = None  # the live object changed or deleted, if any
    deposed: bool = False  # the superseded object of a replaced certificate


@dataclass(frozen=True)
class Drift:
    """A managed object that changed outside aopctl since the last apply."""

    address: Address
    kind: str  # "changed" | "deleted"
    zone: str
    remote_id: str | None
    attributes: tuple[AttributeDiff, ...] = ()


@dataclass(frozen=True)
class Operation:
    """An API write or a wait the apply will perform, in order."""

    address: Address
    kind: str  # "write" | "wait"
    description: str  # e.g. "POST /zones/{zone}/origin_tls_client_auth/hostnames/certificates"


@dataclass(frozen=True)
class Summary:
    add: int = 0
    change: int = 0
    destroy: int = 0
    imported: int = 0

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.destroy or self.imported)


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    drift: tuple[Drift, ...] = ()
    notes: tuple[str, ...] = ()
    operations: tuple[Operation, ...] = ()
    lineage: str | None = None
    serial: int = 0
    mode: str = "normal"  # "normal" | "destroy" | "refresh-only"
    options: dict[str, Any] = field(default_factory=dict)  # targets, replace: for saved plans

    @property
    def summary(self) -> Summary:
        counts = {"add": 0, "change": 0, "destroy": 0, "import": 0}
        for change in self.changes:
            if change.action is Action.REPLACE:
                counts["add"] += 1
                counts["destroy"] += 1
            elif change.action.counts_as:
                counts[change.action.counts_as] += 1
        return Summary(counts["add"], counts["change"], counts["destroy"], counts["import"])

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or (self.mode == "refresh-only" and bool(self.drift))
