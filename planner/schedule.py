"""The order of an apply: a graph of steps derived from the planned changes.

Rules that keep origins up (SPEC §4):
- a certificate's upload step includes waiting until it is `active`; bindings that point at it
  depend on that step, so no enabled hostname is ever bound to a certificate still deploying;
- the superseded certificate of a replacement is deleted only after every binding that depends
  on the certificate has been re-pointed;
- a deleted hostname certificate goes after the binding changes of its zone, and a zone-level
  certificate after the zone's setting changes and its new certificates are active;
- a failed upload of the same certificate (`deployment_timed_out`) is deleted inside the
  upload step, before the upload: Cloudflare refuses a certificate it still lists (1406), and
  a certificate that never became `active` serves nothing;
- dependents are destroyed before what they depend on;
- enabling AOP (global, zone-level, bindings) waits for the zone's SSL mode change.
"""

from __future__ import annotations

from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING

from planner.errors import PlanError
from planner.model import Address
from planner.plan_model import Action, Operation
from planner.wording import plural

if TYPE_CHECKING:
    from planner.plan import Planned

ENABLERS = ("aop_global", "aop_zone_settings", "aop_hostname_binding")
UPLOAD_PATHS = {
    "aop_zone_certificate": "/zones/:zone/origin_tls_client_auth",
    "aop_hostname_certificate": "/zones/:zone/origin_tls_client_auth/hostnames/certificates",
}
HOSTNAMES_PATH = "/zones/:zone/origin_tls_client_auth/hostnames"


@dataclass(frozen=True, order=True)
class Step:
    address: Address
    phase: str  # "apply" | "destroy"
    remote_id: str = ""  # set on the destroy step of a superseded (deposed) certificate

    def __str__(self) -> str:
        suffix = f" (deposed {self.remote_id})" if self.remote_id else ""
        return f"{self.address}{suffix}"


@dataclass(frozen=True)
class Schedule:
    items: dict[Step, Planned]
    dependencies: dict[Step, set[Step]]

    def order(self) -> list[Step]:
        sorter = TopologicalSorter(self.dependencies)
        sorter.prepare()
        order: list[Step] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        return order


def _step(item: Planned) -> Step:
    change = item.change
    if change.action in (Action.DELETE, Action.FORGET):
        return Step(change.address, "destroy", change.remote_id or "" if change.deposed else "")
    return Step(change.address, "apply")


def build(planned: list[Planned]) -> Schedule:
    items = {_step(p): p for p in planned}
    for item in planned:
        # The old half of a replacement, unless it is a failed upload the apply step clears.
        if item.change.action is Action.REPLACE and item.change.remote_id not in item.clear:
            items[Step(item.change.address, "destroy", item.change.remote_id or "")] = item
    index = _Index.of(items)
    dependencies = {step: _dependencies(step, items, index) for step in items}
    try:
        TopologicalSorter(dependencies).prepare()
    except CycleError as exc:
        raise PlanError(
            "depends_on asks for an order aopctl cannot follow",
            [
                " -> ".join(f"{step} ({step.phase})" for step in exc.args[1]),
                "aopctl already orders AOP objects safely (a certificate is active before it "
                "is bound or enabled, and stays until nothing uses it); remove the depends_on "
                "that goes against that order",
            ],
        ) from None
    return Schedule(items, dependencies)


Zone = str | None


@dataclass(frozen=True)
class _Index:
    """Lookups computed once, so building the graph stays linear in the number of steps."""

    applies: dict[Address, Step]
    dependents: dict[Address, set[Step]]  # apply steps whose configuration refers to an address
    by_type: dict[tuple[Zone, str, str], set[Step]]  # (zone, resource type, phase) -> steps
    # (zone, address) -> destroy steps of that zone whose prior state depends on the address
    destroyed_dependents: dict[tuple[Zone, str], set[Step]]

    @classmethod
    def of(cls, items: dict[Step, Planned]) -> _Index:
        applies = {s.address: s for s in items if s.phase == "apply"}
        dependents: dict[Address, set[Step]] = {}
        by_type: dict[tuple[Zone, str, str], set[Step]] = {}
        destroyed_dependents: dict[tuple[Zone, str], set[Step]] = {}
        for step, item in items.items():
            zone = item.change.zone_id
            by_type.setdefault((zone, step.address.type, step.phase), set()).add(step)
            if step.phase == "apply" and item.config is not None:
                for dependency in item.config.dependencies:
                    dependents.setdefault(dependency, set()).add(step)
            if step.phase == "destroy" and item.prior is not None:
                for address in item.prior.dependencies:
                    destroyed_dependents.setdefault((zone, address), set()).add(step)
        return cls(applies, dependents, by_type, destroyed_dependents)

    def steps(self, zone: Zone, kind: str, phase: str = "apply") -> set[Step]:
        return self.by_type.get((zone, kind, phase), set())


def _dependencies(step: Step, items: dict[Step, Planned], index: _Index) -> set[Step]:
    item = items[step]
    zone_id = item.change.zone_id
    kind = step.address.type
    if step.phase == "apply":
        deps = item.config.dependencies if item.config is not None else ()
        found = {index.applies[d] for d in deps if d in index.applies}
        if kind in ENABLERS:
            found |= index.steps(zone_id, "aop_ssl_mode")
        if kind == "aop_zone_settings":
            found |= index.steps(zone_id, "aop_zone_certificate")
        if kind == "aop_hostname_binding":
            found |= _binding_barrier(index, zone_id)
        return found - {step}
    if step.remote_id and step.address in index.applies:  # the old half of a replacement
        return {index.applies[step.address]} | index.dependents.get(step.address, set())
    found = _before_destroy(step, zone_id, index)
    if kind == "aop_hostname_binding":
        found |= _binding_barrier(index, zone_id)
    return found - {step}


def _binding_barrier(index: _Index, zone: Zone) -> set[Step]:
    """The binding writes of a zone all wait for the zone's new certificates and SSL mode, so
    they become ready together and go out as one PUT .../hostnames (apply batches them); the
    voids of hostnames leaving the configuration go with the re-pointing, as SPEC §4 orders."""
    return index.steps(zone, "aop_hostname_certificate") | index.steps(zone, "aop_ssl_mode")


def _before_destroy(step: Step, zone: Zone, index: _Index) -> set[Step]:
    # Dependents are destroyed first, except that zone-level AOP is always turned off before a
    # zone certificate is deleted (below), whatever an old depends_on recorded in the state says.
    found = set(index.destroyed_dependents.get((zone, str(step.address)), ()))
    if step.address.type == "aop_zone_settings":
        found -= index.steps(zone, "aop_zone_certificate", "destroy")
    if step.address.type == "aop_hostname_certificate":
        found |= index.steps(zone, "aop_hostname_binding", "apply")
        found |= index.steps(zone, "aop_hostname_binding", "destroy")
    if step.address.type == "aop_zone_certificate":
        # Zone-level AOP is turned off (or on, for a new certificate) before a deletion.
        found |= index.steps(zone, "aop_zone_settings", "apply")
        found |= index.steps(zone, "aop_zone_settings", "destroy")
        found |= index.steps(zone, "aop_zone_certificate", "apply")
    return found


def _describe(step: Step, item: Planned) -> list[tuple[str, str]]:
    change, kind = item.change, step.address.type
    zone = f" ({change.zone})"
    if step.phase == "apply":
        if change.action in (Action.IMPORT,):
            return []
        if change.action is Action.WAIT:
            return [("wait", f"until {step.address} is active{zone}")]
        if kind in UPLOAD_PATHS:
            cleared = [
                ("write", f"DELETE {UPLOAD_PATHS[kind]}/:id ({failed}, deployment timed out)")
                for failed in item.clear
            ]
            upload = [] if item.adopt else [("write", f"POST {UPLOAD_PATHS[kind]}{zone}")]
            return [*cleared, *upload, ("wait", f"until {step.address} is active")]
        if kind == "aop_hostname_binding":
            hostnames: list[str] = next(
                (a.after for a in change.attributes if a.name == "hostnames"), []
            )
            count = len(hostnames or []) + len(item.void)
            return [("write", f"PUT {HOSTNAMES_PATH} ({plural(count, 'hostname')}){zone}")]
        return [("write", _setting_call(kind) + zone)]
    if change.action is Action.FORGET:
        return []
    if kind in UPLOAD_PATHS:
        delete = [
            ("write", f"DELETE {UPLOAD_PATHS[kind]}/:id ({step.remote_id or change.remote_id})"),
            ("wait", f"until {step} is deleted"),
        ]
        if kind == "aop_zone_certificate":  # zone-level certificates have no hostnames
            return delete
        return [
            ("write", f"PUT {HOSTNAMES_PATH} (void what still points at it, if any){zone}"),
            *delete,
        ]
    if kind == "aop_hostname_binding":
        return [
            ("write", f"PUT {HOSTNAMES_PATH} ({len(item.void)} hostnames, enabled: null){zone}")
        ]
    return [("write", _setting_call(kind) + zone)]


def _setting_call(kind: str) -> str:
    return {
        "aop_ssl_mode": "PATCH /zones/:zone/settings/ssl",
        "aop_global": "PATCH /zones/:zone/settings/tls_client_auth",
        "aop_zone_settings": "PUT /zones/:zone/origin_tls_client_auth/settings",
    }[kind]


def operations(planned: list[Planned]) -> tuple[Operation, ...]:
    """The API writes and waits of the apply, in the order the schedule runs them."""
    schedule = build(planned)
    return tuple(
        Operation(step.address, kind, description)
        for step in schedule.order()
        for kind, description in _describe(step, schedule.items[step])
    )
