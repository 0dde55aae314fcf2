"""The zero-downtime invariant, checked by replaying the timeline.

SPEC §4: "At no moment may an enabled hostname be bound to a certificate that is not `active`,
or a certificate in use be deleted." Replaying the events in order, a violation is:

- an enabled association pointing at a certificate that is not `active`: when the association
  is written, or when its certificate later leaves `active`;
- a certificate deleted (DELETE accepted) while an association points at it;
- a zone-level certificate deleted while zone-level AOP is enabled and no other zone-level
  certificate of that zone is `active` at that moment.

Transitions computed from the delays are ordered before requests made at the same instant, so a
certificate that became `active` at time T may be bound by a request at T.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from planner.sandbox.model import Certificate, TimelineEvent
from planner.sandbox.responses import timestamp


class _Replay:
    def __init__(
        self, certificates: Mapping[str, Certificate], zone_names: Mapping[str, str]
    ) -> None:
        self.certificates = certificates
        self.zone_names = zone_names  # zone id -> name (events carry names)
        self.bindings: dict[tuple[str, str], tuple[str, bool]] = {}  # (zone, host) -> cert, on
        self.zone_aop: dict[str, bool] = {}
        self.violations: list[str] = []

    def status(self, cert_id: str, event: TimelineEvent) -> str:
        cert = self.certificates.get(cert_id)
        return (cert.status_at(event.time, event.seq) if cert else None) or "missing"

    def report(self, event: TimelineEvent, text: str) -> None:
        line = f"{timestamp(event.time)} {event.zone}: {text}"
        if line not in self.violations:
            self.violations.append(line)

    def apply(self, event: TimelineEvent) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def on_association_set(self, event: TimelineEvent) -> None:
        cert_id, enabled = event.data["cert_id"], event.data["enabled"]
        self.bindings[(event.zone, event.subject)] = (cert_id, enabled)
        status = self.status(cert_id, event)
        if enabled and status != "active":
            self.report(event, f"{event.subject} enabled on certificate {cert_id} ({status})")

    def on_association_removed(self, event: TimelineEvent) -> None:
        self.bindings.pop((event.zone, event.subject), None)

    def on_certificate_status(self, event: TimelineEvent) -> None:
        status = event.data["status"]
        if status == "active":
            return
        for (zone, hostname), (cert_id, enabled) in self.bindings.items():
            if zone == event.zone and cert_id == event.subject and enabled:
                self.report(event, f"{hostname} enabled on certificate {cert_id} ({status})")

    def on_certificate_deleted(self, event: TimelineEvent) -> None:
        bound = sorted(
            host
            for (zone, host), (cert_id, _) in self.bindings.items()
            if zone == event.zone and cert_id == event.subject
        )
        if bound:
            hosts = ", ".join(bound)
            self.report(event, f"certificate {event.subject} deleted while bound to {hosts}")
        if event.data["kind"] == "zone" and self.zone_aop.get(event.zone, False):
            others = [
                cert
                for cert in self.certificates.values()
                if cert.kind == "zone"
                and cert.id != event.subject
                and cert.status_at(event.time, event.seq) == "active"
                and self.zone_names.get(cert.zone_id) == event.zone
            ]
            if not others:
                self.report(
                    event,
                    f"zone-level certificate {event.subject} deleted while zone-level AOP is "
                    "enabled and no other zone-level certificate is active",
                )

    def on_setting_changed(self, event: TimelineEvent) -> None:
        if event.subject == "aop_zone_enabled":
            self.zone_aop[event.zone] = bool(event.data["new"])


def find_violations(
    timeline: Sequence[TimelineEvent],
    certificates: Mapping[str, Certificate],
    zone_names: Mapping[str, str],
) -> list[str]:
    """Violations in timeline order, one line each, empty when the invariant held."""
    replay = _Replay(certificates, zone_names)
    for event in timeline:
        replay.apply(event)
    return replay.violations
