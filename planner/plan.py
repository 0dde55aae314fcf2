"""The planner: configuration ↔ state ↔ live Cloudflare, compared into a Plan.

`make_plan` refreshes the live objects (list endpoints only), reports drift, decides one action
per resource with its reason, checks the safety rails and lists the API calls apply will make.
The result also carries what apply needs (`Planned`), which is never rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from planner.config import Configuration, certificate_reference
from planner.config.templates import Deferred, Reference
from planner.errors import PlanError
from planner.live import GONE, LiveZone, Needs, Refresher, certificate_attributes
from planner.model import (
    MAX_HOSTNAME_CERTIFICATES_PER_ZONE,
    MAX_HOSTNAMES_PER_CERTIFICATE,
    RESOURCE_TYPES,
    SETTING_OF,
    UNKNOWN,
    Address,
    Kind,
    ResourceConfig,
)
from planner.plan_model import Action, AttributeDiff, Change, Drift, Plan
from planner.schedule import operations
from planner.wording import plural
from state import ResourceState, StateDocument

CERTIFICATES = ("aop_zone_certificate", "aop_hostname_certificate")
DEPLOYING = ("initializing", "pending_deployment")


@dataclass(frozen=True)
class PlanOptions:
    mode: str = "normal"  # "normal" | "destroy" | "refresh-only"
    targets: tuple[Address, ...] = ()
    replace: tuple[Address, ...] = ()
    # False (drift): safety problems go to PlanResult.problems instead of raising PlanError.
    strict: bool = True


@dataclass(frozen=True)
class Planned:
    """What apply needs for one change; never rendered or saved."""

    change: Change
    config: ResourceConfig | None
    prior: ResourceState | None
    void: tuple[tuple[str, str], ...] = ()  # (hostname, live cert id) to void with enabled: null
    clear: tuple[str, ...] = ()  # failed uploads of this certificate to delete before uploading
    adopt: str | None = None  # an identical live certificate to use instead of uploading


@dataclass
class PlanResult:
    plan: Plan
    planned: list[Planned]
    refreshed: StateDocument  # the prior state updated with what the refresh found
    live: dict[str, LiveZone]
    zones: dict[str, tuple[str, str]]  # zone as written -> (id, name)
    config: Configuration | None = None
    problems: tuple[str, ...] = ()  # safety problems, only when planned with strict=False


def _zone_value(resource: ResourceConfig) -> str:
    zone = resource.zone
    if not isinstance(zone, str):
        raise PlanError(f"{resource.address}: zone must be known before apply")
    return zone


@dataclass
class _Context:
    config: Configuration | None
    state: StateDocument
    options: PlanOptions
    live: dict[str, LiveZone]
    zones: dict[str, tuple[str, str]]
    actions: dict[Address, Action] = field(default_factory=dict)
    resolved: dict[Address, dict[str, Any]] = field(default_factory=dict)
    refreshed: dict[str, ResourceState] = field(default_factory=dict)
    drift: list[Drift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    clear: dict[Address, tuple[str, ...]] = field(default_factory=dict)
    adopt: dict[Address, str] = field(default_factory=dict)

    def live_zone(self, zone_id: str) -> LiveZone:
        return self.live[zone_id]

    # -- references -------------------------------------------------------------------------

    def lookup(self, reference: Reference) -> Any:
        address, attribute = reference.address, reference.attribute
        if attribute in self.resolved.get(address, {}):
            return self.resolved[address][attribute]
        if self.actions.get(address) in (Action.CREATE, Action.REPLACE):
            return UNKNOWN
        prior = self.refreshed.get(str(address))
        if prior is not None and attribute in prior.attributes:
            return prior.attributes[attribute]
        return UNKNOWN

    def resolve(self, value: Any) -> Any:
        return value.resolve(self.lookup) if isinstance(value, Deferred) else value


# -- refresh -----------------------------------------------------------------------------------


# What each resource type needs read besides the certificate lists and associations. A zone
# certificate needs the zone-level setting: deleting the last one while it is on is refused.
_READS: Final = {**SETTING_OF, "aop_zone_certificate": "zone_aop"}


def _needs(ctx_zones: dict[str, set[str]], zone_id: str, resource_type: str) -> None:
    setting = _READS.get(resource_type)
    ctx_zones.setdefault(zone_id, set())
    if setting:
        ctx_zones[zone_id].add(setting)


def _refresh(
    config: Configuration | None, state: StateDocument, refresher: Refresher
) -> tuple[dict[str, LiveZone], dict[str, tuple[str, str]]]:
    resources = list(config.resources.values()) if config else []
    refresher.remember((prior.zone_name, prior.zone_id) for prior in state.resources)
    zones = refresher.resolve_zones(_zone_value(resource) for resource in resources)
    needs: dict[str, set[str]] = {}
    for resource in resources:
        _needs(needs, zones[_zone_value(resource)][0], resource.address.type)
    for prior in state.resources:
        _needs(needs, prior.zone_id, prior.type)
    live = refresher.refresh({z: Needs(frozenset(s)) for z, s in needs.items()})
    names: dict[str, str] = {}
    for zone_id, name in zones.values():
        if names.get(zone_id, zone_id) == zone_id:  # a zone's name beats its bare id
            names[zone_id] = name
    for prior in state.resources:
        names.setdefault(prior.zone_id, prior.zone_name)
    for zone_id, live_zone in live.items():
        live_zone.name = names.get(zone_id, live_zone.name)
    return live, zones


# -- drift: state versus live -----------------------------------------------------------------


def live_attributes_of_certificate(live: LiveZone, cert_id: str, kind: str) -> dict[str, Any]:
    cert = live.certificate(kind, cert_id)
    assert cert is not None
    return certificate_attributes(cert, live.fingerprints.get(cert.id))


def live_attributes(prior: ResourceState, live: LiveZone) -> dict[str, Any] | None:
    """The prior resource's attributes as Cloudflare reports them now; None if gone."""
    kind = prior.type
    if kind == "aop_ssl_mode":
        return {"mode": live.ssl}
    if kind == "aop_global":
        return {"enabled": live.tls_client_auth == "on"}
    if kind == "aop_zone_settings":
        return {"enabled": bool(live.zone_aop_enabled)}
    if kind in CERTIFICATES:
        if live.certificate(kind, prior.remote_id) is None:
            return None
        attributes = live_attributes_of_certificate(live, prior.remote_id or "", kind)
        # Superseded certificates stay recorded until Cloudflare no longer lists them.
        deposed = [d for d in prior.attributes.get("deposed", []) if live.certificate(kind, d)]
        if deposed:
            attributes["deposed"] = deposed
        return attributes
    hostnames = [h for h in prior.attributes.get("hostnames", []) if live.bound(h)]
    if not hostnames:
        return None
    bound = [live.bound(h) for h in hostnames]
    cert_ids = sorted({a.cert_id for a in bound if a and a.cert_id})
    enabled = sorted({bool(a.enabled) for a in bound if a})
    expected = prior.attributes.get("certificate_id")
    return {
        "hostnames": hostnames,
        "certificate_id": expected if cert_ids == [expected] else ",".join(cert_ids),
        "enabled": enabled[0] if len(enabled) == 1 else None,
    }


_VOLATILE = ("status", "uploaded_on", "deposed")


def _detect_drift(ctx: _Context) -> None:
    for prior in ctx.state.resources:
        live = ctx.live.get(prior.zone_id)
        if live is None:
            continue
        current = live_attributes(prior, live)
        address = Address(prior.type, prior.name)
        if current is None:
            ctx.drift.append(Drift(address, "deleted", prior.zone_name, prior.remote_id))
            continue
        diffs = tuple(
            AttributeDiff(name, prior.attributes.get(name), value)
            for name, value in sorted(current.items())
            if name not in _VOLATILE and prior.attributes.get(name) != value
        )
        if diffs:
            ctx.drift.append(Drift(address, "changed", prior.zone_name, prior.remote_id, diffs))
        ctx.refreshed[prior.address] = replace(prior, attributes=current)


# -- the diff: configuration versus the refreshed state and live objects ---------------------


def _diffs(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    resource: ResourceConfig,
    forces: frozenset[str] = frozenset(),
) -> tuple[AttributeDiff, ...]:
    names = sorted(set(before) | set(after))
    return tuple(
        AttributeDiff(
            name,
            before.get(name),
            after.get(name),
            sensitive=name in resource.sensitive,
            forces_replacement=name in forces,
        )
        for name in names
        if name not in _VOLATILE
    )


def _desired(ctx: _Context, resource: ResourceConfig) -> dict[str, Any]:
    values = {k: ctx.resolve(v) for k, v in resource.attributes.items() if k != "private_key"}
    if resource.type.is_certificate and ctx.config is not None:
        info = ctx.config.certificates[resource.address]
        values.pop("certificate", None)
        values.update(
            fingerprint_sha256=info.fingerprint_sha256,
            expires_on=info.not_after.isoformat(),
            serial_number=info.serial_number,
        )
        if resource.address in ctx.config.private_keys:
            values["private_key"] = "(sensitive)"
    return values


def _setting_action(
    ctx: _Context, resource: ResourceConfig, zone_id: str, prior: ResourceState | None
) -> tuple[Action | None, str]:
    desired = _desired(ctx, resource)
    current = live_attributes_for_type(resource.address.type, ctx.live_zone(zone_id))
    if all(current.get(k) == v for k, v in desired.items() if k != "zone"):
        if prior is None:
            return Action.IMPORT, "Cloudflare already has this value: recorded without a change"
        return None, ""
    return (Action.CREATE if prior is None else Action.UPDATE), ""


def live_attributes_for_type(kind: str, live: LiveZone) -> dict[str, Any]:
    if kind == "aop_ssl_mode":
        return {"mode": live.ssl}
    if kind == "aop_global":
        return {"enabled": live.tls_client_auth == "on"}
    return {"enabled": bool(live.zone_aop_enabled)}


def _certificate_action(
    ctx: _Context, resource: ResourceConfig, zone_id: str, prior: ResourceState | None
) -> tuple[Action | None, str]:
    assert ctx.config is not None
    address, kind = resource.address, resource.address.type
    fingerprint = ctx.config.certificates[address].fingerprint_sha256
    live = ctx.live_zone(zone_id)
    failed = live.failed_uploads(kind, fingerprint)
    if failed:
        ctx.clear[address] = failed
    current = live.certificate(kind, prior.remote_id) if prior else None
    twin = live.find_by_fingerprint(kind, fingerprint)
    replace_requested = address in ctx.options.replace
    if current is None:
        if twin is not None and not replace_requested:
            ctx.resolved.setdefault(address, {})["id"] = twin.id
            return Action.IMPORT, f"an identical certificate is already uploaded (id {twin.id})"
        return Action.CREATE, ""
    assert prior is not None
    if replace_requested:
        if current.id not in failed and live.fingerprints.get(current.id) == fingerprint:
            ctx.errors.append(
                f"--replace {address}: Cloudflare refuses a second upload of the same "
                "certificate while it exists, and deleting it first would leave its hostnames "
                "without it; give the resource a new certificate to rotate instead"
            )
        return Action.REPLACE, "replacement requested with --replace"
    if prior.fingerprints.get("certificate_sha256") != fingerprint:
        reason = "the certificate changed (compared by SHA-256 fingerprint)"
        if twin is None:
            return Action.REPLACE, reason
        # Uploaded already, e.g. by an apply that was interrupted before it saved the state.
        ctx.resolved.setdefault(address, {})["id"] = twin.id
        ctx.adopt[address] = twin.id
        return Action.REPLACE, f"{reason}; the new one is already uploaded (id {twin.id})"
    if current.status == "deployment_timed_out":
        return Action.REPLACE, "Cloudflare reports deployment_timed_out: upload it again"
    if current.status in DEPLOYING:
        return Action.WAIT, f"status {current.status}"
    return None, ""


def _claimed(ctx: _Context, zone_id: str, exclude: Address | None = None) -> set[str]:
    """Hostnames that some desired binding of the zone holds."""
    claimed: set[str] = set()
    for resource in _desired_resources(ctx):
        if resource.address.type != "aop_hostname_binding" or resource.address == exclude:
            continue
        if ctx.zones[_zone_value(resource)][0] == zone_id:
            hostnames = ctx.resolve(resource.attributes.get("hostnames"))
            claimed.update(hostnames if isinstance(hostnames, list) else [])
    return claimed


def hostnames_to_void(ctx: _Context, prior: ResourceState, keep: set[str]) -> list[str]:
    """Hostnames of a prior binding that leave the configuration and are still bound live."""
    live = ctx.live_zone(prior.zone_id)
    leaving = [h for h in prior.attributes.get("hostnames", []) if h not in keep and live.bound(h)]
    if not leaving:
        return []  # the usual case; _claimed scans every binding of the zone
    claimed = _claimed(ctx, prior.zone_id)
    return sorted(h for h in leaving if h not in claimed)


def _binding_action(
    ctx: _Context, resource: ResourceConfig, zone_id: str, prior: ResourceState | None
) -> tuple[Action | None, str]:
    desired = _desired(ctx, resource)
    hostnames = desired.get("hostnames") or []
    needs = _binding_needs(desired, ctx.live_zone(zone_id), hostnames)
    leaving = hostnames_to_void(ctx, prior, set(hostnames)) if prior else []
    if prior is None:
        if not needs:
            return Action.IMPORT, "Cloudflare already binds these hostnames this way"
        return Action.CREATE, ""
    if leaving:
        needs["void"] = leaving
    handed_over = sorted(set(prior.attributes.get("hostnames", [])) - set(hostnames) - set(leaving))
    if handed_over:  # no write of its own: another binding re-points them, the state follows
        needs["hand over"] = handed_over
    if needs:
        return Action.UPDATE, "; ".join(f"{verb} {', '.join(h)}" for verb, h in needs.items())
    return None, ""


def _binding_needs(
    desired: Mapping[str, Any], live: LiveZone, hostnames: list[str]
) -> dict[str, list[str]]:
    """What each hostname still needs, by verb: bind, re-point, enable or disable."""
    cert_id, enabled = desired["certificate_id"], desired.get("enabled", True)
    needs: dict[str, list[str]] = {}
    for hostname in hostnames:
        association = live.bound(hostname)
        if association is None:
            verb = "bind"
        elif cert_id is UNKNOWN or association.cert_id != cert_id:
            verb = "re-point"
        elif association.enabled != enabled:
            verb = "enable" if enabled else "disable"
        else:
            continue
        needs.setdefault(verb, []).append(hostname)
    return {
        verb: needs[verb] for verb in ("bind", "re-point", "enable", "disable") if verb in needs
    }


def _desired_resources(ctx: _Context) -> list[ResourceConfig]:
    if ctx.config is None or ctx.options.mode == "destroy":
        return []
    resources = list(ctx.config.resources.values())
    if ctx.options.targets:
        wanted = ctx.config.graph.closure(ctx.options.targets)
        resources = [r for r in resources if r.address in wanted]
    return resources


_COMPUTED_AT_UPLOAD = ("id", "status", "issuer", "signature", "uploaded_on")
_UPLOADS = (Action.CREATE, Action.REPLACE)


def _change(
    ctx: _Context,
    resource: ResourceConfig,
    action: Action,
    reason: str,
    prior: ResourceState | None,
) -> Change:
    zone = _zone_value(resource)
    zone_id = ctx.zones[zone][0]
    after = _desired(ctx, resource)
    forces: frozenset[str] = frozenset()
    if resource.type.is_certificate:
        if action in (Action.CREATE, Action.REPLACE):
            after.update({name: UNKNOWN for name in _COMPUTED_AT_UPLOAD})
        elif prior is not None:
            after.update({k: prior.attributes.get(k) for k in _COMPUTED_AT_UPLOAD})
        if action is Action.REPLACE:
            forces = frozenset({"fingerprint_sha256"})
        if action is Action.IMPORT or resource.address in ctx.adopt:
            after["id"] = ctx.resolved.get(resource.address, {}).get("id")
    before: dict[str, Any] = {}
    if prior is not None:
        before = {**prior.attributes, "zone": zone}
    elif action is Action.IMPORT and not resource.type.is_certificate:
        before = {}
    return Change(
        address=resource.address,
        action=action,
        zone=zone,
        zone_id=zone_id,
        reason=reason,
        attributes=_diffs(before, after, resource, forces),
        remote_id=prior.remote_id if prior else None,
    )


_DECIDE = {
    "aop_ssl_mode": _setting_action,
    "aop_global": _setting_action,
    "aop_zone_settings": _setting_action,
    "aop_zone_certificate": _certificate_action,
    "aop_hostname_certificate": _certificate_action,
    "aop_hostname_binding": _binding_action,
}


def _plan_desired(ctx: _Context) -> list[Planned]:
    planned = []
    assert ctx.config is not None or not _desired_resources(ctx)
    wanted = {r.address for r in _desired_resources(ctx)}
    order = ctx.config.graph.order() if ctx.config else []
    for address in order:
        if address not in wanted or ctx.config is None:
            continue
        resource = ctx.config.resources[address]
        zone_id = ctx.zones[_zone_value(resource)][0]
        prior = ctx.refreshed.get(str(address))
        if prior is not None and prior.zone_id != zone_id:
            planned.extend(_plan_removal(ctx, prior, "its zone changed"))
            prior = None
        action, reason = _DECIDE[address.type](ctx, resource, zone_id, prior)
        if action is Action.CREATE and not reason and _deleted_outside(ctx, address):
            reason = "it was deleted outside aopctl"
        if action is not None:
            ctx.actions[address] = action
            change = _change(ctx, resource, action, reason, prior)
            planned.append(
                Planned(
                    change,
                    resource,
                    prior,
                    _voids(ctx, prior, resource),
                    clear=ctx.clear.get(address, ()) if action in _UPLOADS else (),
                    adopt=ctx.adopt.get(address),
                )
            )
        ctx.resolved.setdefault(address, {}).update(
            {k: ctx.resolve(v) for k, v in resource.attributes.items()}
        )
    return planned


def _deleted_outside(ctx: _Context, address: Address) -> bool:
    """The state has `address` but Cloudflare no longer does (the refresh dropped it)."""
    return any(d.kind == "deleted" and d.address == address for d in ctx.drift)


def _plan_removal(ctx: _Context, prior: ResourceState, reason: str) -> list[Planned]:
    address = Address(prior.type, prior.name)
    live = ctx.live.get(prior.zone_id)
    if live is None or live_attributes(prior, live) is None:
        return []  # already gone: the refreshed state simply drops it
    action = Action.DELETE
    if prior.type == "aop_ssl_mode":
        action, reason = Action.FORGET, "the SSL mode stays as it is at Cloudflare"
    elif prior.type == "aop_hostname_binding" and not hostnames_to_void(ctx, prior, set()):
        action, reason = Action.FORGET, "its hostnames are taken over by other bindings"
    elif prior.type in ("aop_global", "aop_zone_settings") and not prior.attributes.get("enabled"):
        action, reason = Action.FORGET, "it is already off"
    ctx.actions[address] = action
    change = Change(
        address=address,
        action=action,
        zone=prior.zone_name,
        zone_id=prior.zone_id,
        reason=reason,
        attributes=tuple(
            AttributeDiff(k, v, None)
            for k, v in sorted(prior.attributes.items())
            if k not in _VOLATILE
        ),
        remote_id=prior.remote_id,
    )
    return [Planned(change, None, prior, _voids(ctx, prior, None))]


def _voids(
    ctx: _Context, prior: ResourceState | None, resource: ResourceConfig | None
) -> tuple[tuple[str, str], ...]:
    if prior is None or prior.type != "aop_hostname_binding":
        return ()
    keep = set(ctx.resolve(resource.attributes.get("hostnames")) or []) if resource else set()
    live = ctx.live_zone(prior.zone_id)
    pairs = []
    for hostname in hostnames_to_void(ctx, prior, keep):
        association = live.bound(hostname)
        if association is not None and association.cert_id:
            pairs.append((hostname, association.cert_id))
    return tuple(pairs)


def _plan_deposed(ctx: _Context) -> list[Planned]:
    planned = []
    in_plan = _in_targeted_plan(ctx) if ctx.options.targets else None
    for prior in ctx.state.resources:
        if in_plan is not None and prior.address not in in_plan:
            continue  # left out by --target, with the rest of its resource
        # A rotation rolled back before its end re-uses (adopts, or imports when the newer one
        # is gone too) the certificate it was replacing.
        reused = ctx.resolved.get(Address(prior.type, prior.name), {}).get("id")
        for deposed in prior.attributes.get("deposed", []):
            live = ctx.live.get(prior.zone_id)
            if deposed == reused or live is None or live.certificate(prior.type, deposed) is None:
                continue
            change = Change(
                address=Address(prior.type, prior.name),
                action=Action.DELETE,
                zone=prior.zone_name,
                zone_id=prior.zone_id,
                reason="the certificate it replaced is still uploaded",
                remote_id=deposed,
                deposed=True,
            )
            planned.append(Planned(change, None, prior))
    return planned


def _plan_removals(ctx: _Context) -> list[Planned]:
    # Whatever --target leaves out of this plan is still wanted if it is configured.
    configured = ctx.config.resources if ctx.config and ctx.options.mode != "destroy" else {}
    wanted = {str(address) for address in configured}
    targeted = _with_dependents(ctx, {str(t) for t in ctx.options.targets})
    _check_targeted_removals(ctx, wanted)
    planned = []
    for prior in sorted(ctx.refreshed.values(), key=lambda p: p.address, reverse=True):
        if prior.address in wanted:
            continue
        if ctx.options.targets and prior.address not in targeted:
            continue
        planned.extend(
            _plan_removal(
                ctx,
                prior,
                "it is no longer in the configuration"
                if ctx.options.mode != "destroy"
                else "destroy requested",
            )
        )
    return planned


def _check_targeted_removals(ctx: _Context, wanted: set[str]) -> None:
    """A targeted certificate removal whose dependents stay configured outside the targets: they
    would still use it (a certificate still bound) when it goes."""
    removed = [t for t in ctx.options.targets if str(t) not in wanted and t.type in CERTIFICATES]
    in_plan = {str(r.address) for r in _desired_resources(ctx)} if removed else set()
    for target in sorted(str(t) for t in removed):
        for dependent in sorted(_with_dependents(ctx, {target}) & (wanted - in_plan)):
            ctx.errors.append(
                f"--target {target}: {dependent} depended on it and is still configured; add "
                f"--target {dependent} so that it changes first"
            )


def _in_targeted_plan(ctx: _Context) -> set[str]:
    """Addresses a targeted plan may touch: the targets' closure and their state dependents."""
    desired = {str(r.address) for r in _desired_resources(ctx)}
    return desired | _with_dependents(ctx, {str(t) for t in ctx.options.targets})


def _with_dependents(ctx: _Context, addresses: set[str]) -> set[str]:
    """`addresses` and every state resource that depends on them, directly or not.

    Destroying a target destroys its dependents first, as in Terraform: a certificate cannot
    be deleted while a binding still holds it.
    """
    found = set(addresses)
    while True:
        more = {p.address for p in ctx.refreshed.values() if found & set(p.dependencies)} - found
        if not more:
            return found
        found |= more


# -- safety rails ------------------------------------------------------------------------------


def _check_prevent_destroy(ctx: _Context, planned: list[Planned]) -> None:
    for item in planned:
        change = item.change
        if change.deposed or change.action not in (Action.DELETE, Action.REPLACE):
            continue
        resource = ctx.config.resources.get(change.address) if ctx.config else None
        if resource is not None and resource.prevent_destroy:
            verb = "destroy" if change.action is Action.DELETE else "replace"
            ctx.errors.append(
                f"{change.address} has lifecycle.prevent_destroy set, but the plan would {verb} it"
                f" ({change.reason or 'requested'}); remove prevent_destroy to allow it"
            )


def _check_private_keys(ctx: _Context, planned: list[Planned]) -> None:
    if ctx.config is None:
        return
    for item in planned:
        change = item.change
        if change.action not in _UPLOADS or item.config is None or item.adopt:
            continue
        if not item.config.type.is_certificate:
            continue
        key = ctx.config.private_keys.get(change.address)
        if key is None or key.reveal() is None:
            hint = (
                f"give the variable {key.variable!r} (--var, --var-file or AOP_VAR_{key.variable})"
                if key is not None and key.variable
                else "set its private_key attribute"
            )
            ctx.errors.append(
                f"{change.address} must be uploaded, which needs its private key: {hint}"
            )


def _managed_certificate_ids(ctx: _Context) -> set[str]:
    ids = set()
    for address, values in ctx.resolved.items():
        if address.type == "aop_hostname_certificate" and isinstance(values.get("id"), str):
            ids.add(values["id"])
    for prior in ctx.refreshed.values():
        if prior.type == "aop_hostname_certificate" and prior.remote_id:
            ids.add(prior.remote_id)
    return ids


def _check_zones(ctx: _Context) -> None:
    """What only resolved zones show: the loader sees a zone's name and its id as two zones."""
    settings: dict[tuple[str, str], Address] = {}
    for resource in _desired_resources(ctx):
        zone_id = ctx.zones[_zone_value(resource)][0]
        address = resource.address
        if address.type in SETTING_OF:
            first = settings.setdefault((address.type, zone_id), address)
            if first != address:
                ctx.errors.append(
                    f"{address}: zone {ctx.live_zone(zone_id).name} already has its "
                    f"{address.type} in {first}"
                )
        certificate = _certificate_of(ctx, resource)
        if certificate is not None:
            cert_zone = ctx.zones[_zone_value(certificate)][0]
            if cert_zone != zone_id:
                ctx.errors.append(
                    f"{address}: its certificate {certificate.address} is in zone "
                    f"{ctx.live_zone(cert_zone).name}, not {ctx.live_zone(zone_id).name}; "
                    "a hostname can only use a certificate of its own zone"
                )


def _certificate_of(ctx: _Context, resource: ResourceConfig) -> ResourceConfig | None:
    """The configured certificate a binding's `certificate_id` refers to, if it refers to one."""
    referred = certificate_reference(resource)
    return ctx.config.resources.get(referred) if ctx.config and referred else None


def _check_bindings(ctx: _Context) -> None:
    managed = _managed_certificate_ids(ctx)
    per_certificate: dict[str, int] = {}
    for resource in _desired_resources(ctx):
        if resource.address.type != "aop_hostname_binding":
            continue
        zone_id = ctx.zones[_zone_value(resource)][0]
        live = ctx.live_zone(zone_id)
        cert_id = ctx.resolve(resource.attributes.get("certificate_id"))
        hostnames = ctx.resolve(resource.attributes.get("hostnames")) or []
        if not isinstance(cert_id, str):
            continue
        per_certificate[cert_id] = per_certificate.get(cert_id, 0) + len(hostnames)
        if cert_id in managed:
            continue
        cert = live.certificate("aop_hostname_certificate", cert_id)
        enabled = ctx.resolve(resource.attributes.get("enabled", True))
        if cert is None:
            ctx.errors.append(
                f"{resource.address}: certificate {cert_id} does not exist in zone {live.name}"
            )
        elif cert.status != "active" and enabled:
            ctx.errors.append(
                f"{resource.address}: certificate {cert_id} is {cert.status}, not "
                "active: binding enabled hostnames to it would break them"
            )
    for cert_id, count in per_certificate.items():
        if count > MAX_HOSTNAMES_PER_CERTIFICATE:
            ctx.errors.append(
                f"certificate {cert_id} would be bound to {count} hostnames; "
                f"Cloudflare allows {MAX_HOSTNAMES_PER_CERTIFICATE}"
            )


def _check_certificate_limit(ctx: _Context, planned: list[Planned]) -> None:
    uploads: dict[str, int] = {}
    cleared: dict[str, int] = {}  # failed uploads deleted before uploading again
    for item in planned:
        change = item.change
        if (
            change.address.type == "aop_hostname_certificate"
            and change.zone_id
            and change.action in _UPLOADS
            and not item.adopt
        ):
            uploads[change.zone_id] = uploads.get(change.zone_id, 0) + 1
            cleared[change.zone_id] = cleared.get(change.zone_id, 0) + len(item.clear)
    for zone_id, count in uploads.items():
        live = ctx.live_zone(zone_id)
        existing = sum(1 for c in live.hostname_certificates.values() if c.status not in GONE)
        existing -= cleared[zone_id]
        if existing + count > MAX_HOSTNAME_CERTIFICATES_PER_ZONE:
            ctx.errors.append(
                f"zone {live.name} holds {existing} hostname certificates and the plan uploads "
                f"{count} more before removing old ones; Cloudflare allows "
                f"{MAX_HOSTNAME_CERTIFICATES_PER_ZONE}. Remove unused certificates first."
            )


def _enables_aop(change: Change) -> bool:
    if change.action not in (Action.CREATE, Action.UPDATE, Action.REPLACE):
        return False
    if change.address.type in ("aop_global", "aop_zone_settings", "aop_hostname_binding"):
        return any(a.name == "enabled" and a.after is True for a in change.attributes)
    return False


def _check_ssl_mode(ctx: _Context, planned: list[Planned]) -> None:
    managed = {
        ctx.zones[_zone_value(r)][0]
        for r in _desired_resources(ctx)
        if r.address.type == "aop_ssl_mode"
    }
    for item in planned:
        change = item.change
        if not _enables_aop(change) or change.zone_id in managed or change.zone_id is None:
            continue
        live = ctx.live_zone(change.zone_id)
        if live.ssl in ("off", "flexible"):
            left_out = _ssl_mode_of(ctx, change.zone_id)
            fix = (
                f"Add --target {left_out}: it is configured but left out of this plan."
                if left_out
                else 'Add an aop_ssl_mode resource (mode "full" or "strict") for this zone.'
            )
            ctx.errors.append(
                f"{change.address} enables AOP in zone {live.name}, whose SSL/TLS mode is "
                f"{live.ssl!r}: AOP does nothing there. {fix}"
            )


def _check_zone_certificate_removal(ctx: _Context, planned: list[Planned]) -> None:
    """Deleting the last zone-level certificate while zone-level AOP stays on leaves Cloudflare
    nothing to present, and origins that require it refuse Cloudflare."""
    deleted = {
        item.change.remote_id
        for item in planned
        if item.change.address.type == "aop_zone_certificate"
        and item.change.action is Action.DELETE
    }
    for item in planned:
        change = item.change
        if change.address.type != "aop_zone_certificate" or change.action is not Action.DELETE:
            continue
        if change.zone_id is None:
            continue
        live = ctx.live_zone(change.zone_id)
        going = live.certificate(change.address.type, change.remote_id)
        if going is None or going.status != "active":
            continue  # it presents nothing now (e.g. deployment_timed_out)
        kept = [
            c
            for c in live.zone_certificates.values()
            if c.id not in deleted and c.status == "active"
        ]
        coming = [p for p in planned if _provides_zone_certificate(p, change.zone_id)]
        if not live.zone_aop_enabled or kept or coming or _turns_zone_aop_off(planned, change):
            continue
        ctx.errors.append(
            f"{change.address} is the last zone-level certificate of zone {live.name}, and "
            "zone-level AOP stays on: Cloudflare would present no certificate and origins that "
            "require one would refuse it. Turn it off first (aop_zone_settings with enabled = "
            "false; `aopctl import` it if aopctl does not manage it yet) or keep a certificate."
        )


def _provides_zone_certificate(item: Planned, zone_id: str) -> bool:
    change = item.change
    return (
        change.address.type == "aop_zone_certificate"
        and change.zone_id == zone_id
        and change.action in (*_UPLOADS, Action.WAIT)  # the DELETE waits for it to be active
    )


def _turns_zone_aop_off(planned: list[Planned], deletion: Change) -> bool:
    for item in planned:
        change = item.change
        if change.address.type != "aop_zone_settings" or change.zone_id != deletion.zone_id:
            continue
        if change.action is Action.DELETE or any(
            a.name == "enabled" and a.after is False for a in change.attributes
        ):
            return True
    return False


def _ssl_mode_of(ctx: _Context, zone_id: str) -> Address | None:
    """The configured aop_ssl_mode of a zone, whether or not --target includes it."""
    for resource in ctx.config.resources.values() if ctx.config else ():
        if resource.address.type == "aop_ssl_mode" and (
            ctx.zones[_zone_value(resource)][0] == zone_id
        ):
            return resource.address
    return None


def _unmanaged_notes(ctx: _Context) -> list[str]:
    """AOP objects in managed zones that no state entry or planned import owns."""
    owned = {p.remote_id for p in ctx.refreshed.values()} | _managed_certificate_ids(ctx)
    for prior in ctx.refreshed.values():  # superseded certificates the plan deletes
        owned.update(prior.attributes.get("deposed", []))
    for failed in ctx.clear.values():  # failed uploads the plan deletes
        owned.update(failed)
    for values in ctx.resolved.values():
        if isinstance(values.get("id"), str):
            owned.add(values["id"])
    bound = set()
    for prior in ctx.refreshed.values():
        if prior.type == "aop_hostname_binding":
            bound.update(prior.attributes.get("hostnames", []))
    for resource in _desired_resources(ctx):
        if resource.address.type == "aop_hostname_binding":
            hostnames = ctx.resolve(resource.attributes.get("hostnames"))
            bound.update(hostnames if isinstance(hostnames, list) else [])
    notes = []
    for zone in sorted(ctx.live.values(), key=lambda z: z.name):
        certificates = [
            c.id for c in zone.all_certificates() if c.status not in GONE and c.id not in owned
        ]
        hostnames = [h for h in sorted(zone.associations) if zone.bound(h) and h not in bound]
        if certificates:
            notes.append(
                f"zone {zone.name}: {plural(len(certificates), 'certificate')} not managed by "
                f"aopctl: {', '.join(sorted(certificates))}"
            )
        if hostnames:
            notes.append(
                f"zone {zone.name}: {plural(len(hostnames), 'hostname binding')} not managed by "
                f"aopctl: {', '.join(hostnames)}"
            )
    return notes


def _change_order(change: Change) -> tuple[str, bool, str]:
    return (str(change.address), change.deposed, change.remote_id or "")


def _check_state(state: StateDocument) -> None:
    """The state file's schema is generic: what each resource type holds is checked here."""
    problems = [problem for prior in state.resources for problem in _state_problems(prior)]
    if problems:
        raise PlanError(
            "the state holds what this aopctl cannot read (edited by hand, or written by a "
            "newer aopctl?): fix those entries, or `aopctl state rm` them and import them again",
            problems,
        )


def _state_problems(prior: ResourceState) -> list[str]:
    resource_type = RESOURCE_TYPES.get(prior.type)
    if resource_type is None:
        return [f"{prior.address}: unknown resource type {prior.type!r}"]
    kinds = {a.name: a.kind for a in resource_type.attributes}
    if resource_type.is_certificate:
        kinds["deposed"] = Kind.LIST_OF_STRINGS
    return [
        f"{prior.address}: attributes.{name} is not a {kind.value}"
        for name, kind in kinds.items()
        if prior.attributes.get(name) is not None and not kind.holds(prior.attributes[name])
    ]


def _check_addresses(
    config: Configuration | None, state: StateDocument, options: PlanOptions
) -> None:
    """A mistyped --target or --replace must not plan "no changes" as if all were well."""
    configured = set(config.resources) if config else set()
    known = configured | {Address(p.type, p.name) for p in state.resources}
    problems = [
        f"--target {t}: no such resource in the configuration or the state"
        for t in options.targets
        if t not in known
    ]
    problems += [
        f"--replace {r}: not a certificate of the configuration (only certificates are replaced)"
        for r in options.replace
        if r not in configured or not RESOURCE_TYPES[r.type].is_certificate
    ]
    if problems:
        raise PlanError("--target and --replace must name resources aopctl can act on", problems)


def make_plan(
    config: Configuration | None,
    state: StateDocument,
    refresher: Refresher,
    options: PlanOptions | None = None,
) -> PlanResult:
    """Refresh, compare and check; raise PlanError listing every safety problem."""
    options = options or PlanOptions()
    _check_state(state)
    _check_addresses(config, state, options)
    live, zones = _refresh(config, state, refresher)
    ctx = _Context(config, state, options, live, zones)
    _detect_drift(ctx)
    planned: list[Planned] = []
    if options.mode != "refresh-only":
        planned = _plan_desired(ctx) + _plan_removals(ctx) + _plan_deposed(ctx)
        _check_prevent_destroy(ctx, planned)
        _check_private_keys(ctx, planned)
        _check_zones(ctx)
        _check_bindings(ctx)
        _check_certificate_limit(ctx, planned)
        _check_ssl_mode(ctx, planned)
        _check_zone_certificate_removal(ctx, planned)
    problems = tuple(sorted(set(ctx.errors)))
    if problems and options.strict:
        raise PlanError("the plan is not safe to apply", list(problems))
    # One new document: rebuilding it entry by entry re-sorts it each time (quadratic).
    refreshed = replace(state, resources=tuple(ctx.refreshed.values()))
    plan = Plan(
        changes=tuple(sorted((p.change for p in planned), key=_change_order)),
        drift=tuple(sorted(ctx.drift, key=lambda d: (str(d.address), d.kind))),
        notes=tuple(_unmanaged_notes(ctx)),
        operations=operations(planned),
        lineage=state.lineage or None,  # the schema: null when there was no state yet
        serial=state.serial,
        mode=options.mode,
        options={
            "targets": [str(t) for t in options.targets],
            "replace": [str(r) for r in options.replace],
        },
    )
    return PlanResult(plan, planned, refreshed, live, zones, config, problems)
