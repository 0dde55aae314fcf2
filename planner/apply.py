"""Apply: execute a plan's steps in dependency order, through ports (API, state, reporter).

Independent steps run concurrently (bounded; the client's rate limiter is shared). A step runs
as a generator that yields the seconds it wants to sleep before its next poll, so a certificate
waiting on its deployment holds no worker: `parallelism` bounds the steps talking to the API,
not the waits, and a hundred deployments are awaited side by side. The state is written after
every API write that succeeded. On the first error no new step starts, steps in
flight finish, the state is saved, and ApplyError says what was done and what was not.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any, Protocol, TypeVar

from planner.cloudflare.types import AssociationUpdate
from planner.config import Configuration
from planner.config.templates import Deferred, Reference
from planner.errors import AopctlError, ApplyError, NotFoundError
from planner.live import Api, LiveCertificate, certificate_attributes
from planner.plan import Planned, PlanResult
from planner.plan_model import Action
from planner.schedule import Step, build
from planner.wording import plural
from state import (
    OutputState,
    ResourceState,
    StateBackend,
    StateConnectionError,
    StateDocument,
    StateError,
    save_emergency_state,
)


class Reporter(Protocol):
    """Progress of an apply; the CLI prints it, tests record it. The core never prints."""

    def step_started(self, step: str, message: str) -> None: ...
    def step_progress(self, step: str, message: str) -> None: ...
    def step_finished(self, step: str, message: str) -> None: ...


STEADY_POLLS = 3  # polls at the initial interval before backing off


def poll_intervals(initial: float, maximum: float) -> Iterator[float]:
    """Seconds between polls: short deployments are seen within one `initial` interval, long ones
    back off (doubling up to `maximum`)."""
    yield from itertools.repeat(initial, STEADY_POLLS)
    interval = initial
    while True:
        interval = min(interval * 2, maximum)
        yield interval


_T = TypeVar("_T")
# A step's work: yields the seconds to sleep before it is resumed, returns its result.
Run = Generator[float, None, _T]


@dataclass(frozen=True)
class ApplySettings:
    parallelism: int = 10
    deploy_timeout: float = 900.0
    poll_initial: float = 1.0
    poll_max: float = 15.0
    # Polls of all waiting certificates together: this many at their own pace, then this many
    # per second (see _PollPacer).
    poll_burst: int = 300
    poll_rate: float = 1.0
    progress_every: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


@dataclass
class ApplyOutcome:
    done: list[str] = field(default_factory=list)
    not_done: list[str] = field(default_factory=list)
    state: StateDocument | None = None


class _StateWriter:
    """Serialises state updates from concurrent steps; every update is written at once.

    When the backend's connection fails (its lock went with it), nothing more is written there:
    this and every later update go to the backend's emergency file and raise, so the apply
    stops with the state of every completed write kept for `aopctl state push`.
    """

    def __init__(self, backend: StateBackend, document: StateDocument) -> None:
        self._backend = backend
        self._lock = threading.Lock()
        self._emergency: Path | None = None
        self.document = document
        self.lost_write = False  # a change made in Cloudflare that the state does not record

    def update(self, change: Callable[[StateDocument], StateDocument]) -> None:
        with self._lock:
            updated = change(self.document)
            if self._emergency is not None:
                self.document = save_emergency_state(self._emergency, updated)
                raise ApplyError(f"its state is kept in {self._emergency.name} too")
            try:
                self.document = self._backend.write(updated, expected_serial=self.document.serial)
            except StateConnectionError as exc:
                self._emergency = exc.emergency_path
                # Kept as the version the failed write would have stored.
                pending = replace(updated, serial=self.document.serial + 1)
                self.document = save_emergency_state(self._emergency, pending)
                where = self._emergency.resolve()
                raise ApplyError(
                    f"{exc.message}; the state of every completed write is kept in {where} "
                    f"(mode 0600): once the database is reachable, run in {where.parent}: "
                    f"aopctl state push {where.name}"
                ) from exc
            except StateError as exc:
                self.lost_write = True
                raise ApplyError(exc.message, exc.reasons) from exc


def _certificate_state(
    item: Planned,
    cert: LiveCertificate,
    zone: tuple[str, str],
    fingerprint: str,
    public_key: str | None,
    deposed: list[str],
) -> ResourceState:
    attributes = certificate_attributes(cert, fingerprint)
    if deposed:
        attributes["deposed"] = sorted(deposed)
    fingerprints = {"certificate_sha256": fingerprint}
    if public_key:
        fingerprints["public_key_sha256"] = public_key
    return _resource_state(item, zone, cert.id, attributes, fingerprints)


def _resource_state(
    item: Planned,
    zone: tuple[str, str],
    remote_id: str | None,
    attributes: dict[str, Any],
    fingerprints: dict[str, str],
) -> ResourceState:
    address = item.change.address
    dependencies = item.config.dependencies if item.config else ()
    return ResourceState(
        address=str(address),
        type=address.type,
        name=address.name,
        zone_id=zone[0],
        zone_name=zone[1],
        remote_id=remote_id,
        attributes=attributes,
        dependencies=tuple(str(d) for d in dependencies),
        fingerprints=fingerprints,
    )


class _Executor:
    def __init__(
        self,
        result: PlanResult,
        api: Api,
        writer: _StateWriter,
        reporter: Reporter,
        settings: ApplySettings,
    ) -> None:
        self.result = result
        self.config: Configuration | None = result.config
        self.api = api
        self.writer = writer
        self.reporter = reporter
        self.settings = settings

    # -- helpers -------------------------------------------------------------------------------

    def _zone(self, item: Planned) -> tuple[str, str]:
        zone_id = item.change.zone_id or ""
        return zone_id, self.result.live[zone_id].name if zone_id in self.result.live else zone_id

    def _lookup(self, reference: Reference) -> Any:
        current = self.writer.document.get(str(reference.address))
        if current is not None and reference.attribute in current.attributes:
            return current.attributes[reference.attribute]
        if self.config is not None:
            value = self.config.resources[reference.address].attributes.get(reference.attribute)
            return value.resolve(self._lookup) if isinstance(value, Deferred) else value
        return None

    def _resolved(self, item: Planned) -> dict[str, Any]:
        assert item.config is not None
        return {
            k: v.resolve(self._lookup) if isinstance(v, Deferred) else v
            for k, v in item.config.attributes.items()
        }

    def _put(self, item: Planned, state: ResourceState) -> None:
        self.writer.update(lambda doc: doc.with_resource(state))

    def _forget(self, item: Planned) -> None:
        self.writer.update(lambda doc: doc.without(str(item.change.address)))

    # -- waiting -------------------------------------------------------------------------------

    def _await(
        self,
        step: Step,
        fetch: Callable[[], LiveCertificate | None],
        goal: str,
        cert: LiveCertificate | None,
    ) -> Run[LiveCertificate | None]:
        """Poll until the certificate reaches `goal` ("active" or "gone"), with back-off.

        `cert` is what Cloudflare just answered (the upload, the DELETE): the first poll comes
        one interval later, not at once."""
        start = last_report = self.settings.clock()
        intervals = poll_intervals(self.settings.poll_initial, self.settings.poll_max)
        verb = "deploying" if goal == "active" else "deleting"
        while True:
            status = cert.status if cert is not None else "deleted"
            if goal == "active" and status == "active":
                return cert
            if goal == "gone" and status == "deleted":
                return None
            if status in ("deployment_timed_out", "deletion_timed_out"):
                raise ApplyError(f"Cloudflare reports {status}; run apply again to retry")
            elapsed = self.settings.clock() - start
            if elapsed > self.settings.deploy_timeout:
                raise ApplyError(
                    f"still {status} after {int(elapsed)}s (--deploy-timeout); "
                    "run apply again to resume waiting"
                )
            if self.settings.clock() - last_report >= self.settings.progress_every:
                self.reporter.step_progress(str(step), f"still {verb}... [{int(elapsed)}s elapsed]")
                last_report = self.settings.clock()
            yield next(intervals)
            cert = fetch()

    def _fetch(self, item: Planned, cert_id: str) -> Callable[[], LiveCertificate | None]:
        zone_id = item.change.zone_id or ""
        get = (
            self.api.get_zone_certificate
            if item.change.address.type == "aop_zone_certificate"
            else self.api.get_hostname_certificate
        )

        def fetch() -> LiveCertificate | None:
            try:
                return get(zone_id, cert_id)
            except NotFoundError:
                return None

        return fetch

    # -- steps ---------------------------------------------------------------------------------

    def run_batch(self, batch: list[Step], items: Mapping[Step, Planned]) -> Run[list[str]]:
        if len(batch) > 1:
            return self.run_bindings(batch, items)
        return [(yield from self.run(batch[0], items[batch[0]]))]

    def run(self, step: Step, item: Planned) -> Run[str]:
        kind, action = step.address.type, item.change.action
        if step.phase == "destroy":
            if action is Action.FORGET:
                self._forget(item)
                return "removed from state"
            if kind in ("aop_zone_certificate", "aop_hostname_certificate"):
                return (yield from self._delete_certificate(step, item))
            if kind == "aop_hostname_binding":
                return self.run_bindings([step], {step: item})[0]
            self._write_setting(item, False if kind != "aop_ssl_mode" else None)
            self._forget(item)
            return "turned off"
        if kind in ("aop_zone_certificate", "aop_hostname_certificate"):
            return (yield from self._certificate(step, item))
        if kind == "aop_hostname_binding":
            return self.run_bindings([step], {step: item})[0]
        return self._setting(item)

    def _certificate(self, step: Step, item: Planned) -> Run[str]:
        assert self.config is not None
        address, action = item.change.address, item.change.action
        info = self.config.certificates[address]
        zone = self._zone(item)
        prior = item.prior
        deposed = list(prior.attributes.get("deposed", [])) if prior else []
        if (
            action is Action.REPLACE
            and prior is not None
            and prior.remote_id
            and prior.remote_id not in item.clear  # a failed upload: deleted just below
        ):
            deposed.append(prior.remote_id)
        yield from self._clear_failed_uploads(step, item)
        cert, verb = self._obtain(item)
        assert cert is not None
        deposed = [d for d in deposed if d != cert.id]  # re-used by a rolled-back rotation
        state = _certificate_state(
            item, cert, zone, info.fingerprint_sha256, info.public_key_sha256, deposed
        )
        self._put(item, state)
        if cert.status != "active":
            self.reporter.step_progress(str(step), f"{verb} as {cert.id}; waiting until active")
            cert = yield from self._await(step, self._fetch(item, cert.id), "active", cert)
            assert cert is not None
            self._put(
                item,
                _certificate_state(
                    item, cert, zone, info.fingerprint_sha256, info.public_key_sha256, deposed
                ),
            )
        return f"{verb} {cert.id}, active"

    def _clear_failed_uploads(self, step: Step, item: Planned) -> Run[None]:
        """Delete uploads of this certificate that timed out: Cloudflare refuses it again."""
        zone_id = item.change.zone_id or ""
        for cert_id in item.clear:
            self.reporter.step_progress(
                str(step), f"deleting {cert_id}, an upload of it whose deployment timed out"
            )
            deleted = self._deleter(item)(zone_id, cert_id)
            yield from self._await(step, self._fetch(item, cert_id), "gone", deleted)

    def _obtain(self, item: Planned) -> tuple[LiveCertificate | None, str]:
        """The certificate this step makes current: uploaded now, or already live."""
        assert self.config is not None
        address, action, prior = item.change.address, item.change.action, item.prior
        info = self.config.certificates[address]
        zone_id = item.change.zone_id or ""
        live = self.result.live[zone_id]
        if item.adopt is not None:
            return live.certificate(address.type, item.adopt), "adopted"
        if action in (Action.CREATE, Action.REPLACE):
            key = self.config.private_keys[address].reveal()
            if key is None:
                raise ApplyError("no private key to upload with")
            upload = (
                self.api.upload_zone_certificate
                if address.type == "aop_zone_certificate"
                else self.api.upload_hostname_certificate
            )
            return upload(zone_id, info.pem, key), "uploaded"
        # WAIT or IMPORT: the certificate is already there
        cert = live.certificate(address.type, prior.remote_id if prior else None)
        cert = cert or live.find_by_fingerprint(address.type, info.fingerprint_sha256)
        return cert, "adopted" if action is Action.IMPORT else "deployed"

    def _deleter(self, item: Planned) -> Callable[[str, str], LiveCertificate | None]:
        if item.change.address.type == "aop_zone_certificate":
            return self.api.delete_zone_certificate
        return self.api.delete_hostname_certificate

    def _claimed(self, zone_id: str) -> set[str]:
        claimed: set[str] = set()
        for item in self.result.planned:
            if (
                item.config is not None
                and item.config.address.type == "aop_hostname_binding"
                and item.change.zone_id == zone_id
            ):
                claimed.update(self._resolved(item).get("hostnames") or [])
        for resource in self.writer.document.resources:
            if resource.type == "aop_hostname_binding" and resource.zone_id == zone_id:
                claimed.update(resource.attributes.get("hostnames", []))
        return claimed

    def _delete_certificate(self, step: Step, item: Planned) -> Run[str]:
        address = item.change.address
        zone_id = item.change.zone_id or ""
        cert_id = step.remote_id or item.change.remote_id or ""
        pointing = (
            [
                a
                for a in self.api.list_hostname_associations(zone_id, status="all")
                if a.cert_id == cert_id
                and a.enabled is not None
                and a.status not in ("deleted", "pending_deletion")
            ]
            if address.type == "aop_hostname_certificate"
            else []
        )
        claimed = self._claimed(zone_id) if pointing else set()
        still_needed = sorted(a.hostname for a in pointing if a.hostname in claimed)
        if still_needed:
            raise ApplyError(f"not deleted, still bound to {', '.join(still_needed)}")
        if pointing:
            self.api.put_hostname_associations(
                zone_id, [AssociationUpdate(a.hostname, cert_id, None) for a in pointing]
            )
        deleted = self._deleter(item)(zone_id, cert_id)
        # The state lets go of the certificate only once Cloudflare confirms it is gone: after
        # `deletion_timed_out` (or a crash while waiting) a re-run must still know to delete it.
        yield from self._await(step, self._fetch(item, cert_id), "gone", deleted)
        if step.remote_id:
            self.writer.update(lambda doc: _without_deposed(doc, str(address), cert_id))
        else:
            self._forget(item)
        return f"deleted {cert_id}"

    def run_bindings(self, steps: list[Step], items: Mapping[Step, Planned]) -> list[str]:
        """Binding writes of one zone that are ready together, sent as one PUT .../hostnames.

        An association belongs to its hostname, and the planner never voids a hostname that a
        binding claims, so the entries of one batch never contradict each other."""
        updates: list[AssociationUpdate] = []
        records: list[tuple[Planned, ResourceState | None]] = []
        messages = []
        for step in steps:
            item = items[step]
            voids = [AssociationUpdate(h, cert_id, None) for h, cert_id in item.void]
            if step.phase == "destroy":
                updates += voids
                records.append((item, None))
                messages.append(f"voided {plural(len(voids), 'hostname')}")
                continue
            values = self._resolved(item)
            cert_id = values.get("certificate_id")
            if not isinstance(cert_id, str):
                raise ApplyError(f"{item.change.address}: certificate_id is not known")  # batched
            enabled = bool(values.get("enabled", True))
            hostnames = list(values.get("hostnames") or [])
            if item.change.action is not Action.IMPORT:
                updates += [AssociationUpdate(h, cert_id, enabled) for h in hostnames] + voids
            attributes = {"hostnames": hostnames, "certificate_id": cert_id, "enabled": enabled}
            records.append((item, _resource_state(item, self._zone(item), None, attributes, {})))
            messages.append(f"bound {plural(len(hostnames), 'hostname')} to {cert_id}")
        if updates:
            self.api.put_hostname_associations(items[steps[0]].change.zone_id or "", updates)
        self.writer.update(lambda doc: _recorded(doc, records))
        return messages

    def _write_setting(self, item: Planned, value: Any) -> None:
        zone_id = item.change.zone_id or ""
        kind = item.change.address.type
        if kind == "aop_ssl_mode" and value is not None:
            self.api.patch_setting(zone_id, "ssl", value)
        elif kind == "aop_global":
            self.api.patch_setting(zone_id, "tls_client_auth", "on" if value else "off")
        elif kind == "aop_zone_settings":
            self.api.set_zone_aop_enabled(zone_id, bool(value))

    def _setting(self, item: Planned) -> str:
        values = self._resolved(item)
        name = "mode" if item.change.address.type == "aop_ssl_mode" else "enabled"
        if item.change.action is not Action.IMPORT:
            self._write_setting(item, values[name])
        zone = self._zone(item)
        self._put(item, _resource_state(item, zone, zone[0], {name: values[name]}, {}))
        return f"{name} = {json.dumps(values[name])}"  # as written in the configuration

    def outputs(self) -> dict[str, OutputState]:
        if self.config is None:
            return {}
        return {
            name: OutputState(
                output.value.resolve(self._lookup)
                if isinstance(output.value, Deferred)
                else output.value,
                output.sensitive,
            )
            for name, output in self.config.outputs.items()
        }


def _without_deposed(doc: StateDocument, address: str, cert_id: str) -> StateDocument:
    current = doc.get(address)
    if current is None:
        return doc
    attributes = dict(current.attributes)
    remaining = [d for d in attributes.get("deposed", []) if d != cert_id]
    if remaining:
        attributes["deposed"] = remaining
    else:
        attributes.pop("deposed", None)
    return doc.with_resource(replace(current, attributes=attributes))


def _recorded(
    doc: StateDocument, records: list[tuple[Planned, ResourceState | None]]
) -> StateDocument:
    return doc.with_changes((str(item.change.address), state) for item, state in records)


def _batches(ready: list[Step], items: Mapping[Step, Planned]) -> list[list[Step]]:
    """Ready steps in batches: the binding writes of one zone share one PUT."""
    batches: list[list[Step]] = []
    per_zone: dict[str, list[Step]] = {}
    for step in ready:
        item = items[step]
        if step.address.type == "aop_hostname_binding" and item.change.action is not Action.FORGET:
            per_zone.setdefault(item.change.zone_id or "", []).append(step)
        else:
            batches.append([step])
    return batches + [per_zone[zone] for zone in sorted(per_zone)]


def apply_plan(
    result: PlanResult,
    api: Api,
    backend: StateBackend,
    reporter: Reporter,
    settings: ApplySettings | None = None,
) -> ApplyOutcome:
    """Execute `result`; the state is saved after every successful write."""
    settings = settings or ApplySettings()
    current = backend.read()
    writer = _StateWriter(backend, current)
    if result.refreshed.to_json() != current.to_json():
        writer.update(lambda doc: result.refreshed)
    executor = _Executor(result, api, writer, reporter, settings)
    outcome = ApplyOutcome()
    if result.plan.mode != "refresh-only":
        _run_all(executor, outcome, settings)
    if not outcome.not_done:
        outputs = executor.outputs()
        writer.update(lambda doc: doc.with_outputs(outputs))
    outcome.state = writer.document
    return outcome


@dataclass(order=True)
class _Sleeper:
    """A step that yielded: resumed once `due` has passed."""

    due: float
    order: int
    run: Run[list[str]] = field(compare=False)
    batch: list[Step] = field(compare=False)


class _PollPacer:
    """Spaces the polls of many waiting certificates: `burst` of them at their own pace, then
    `rate` per second in all (GCRA). Cloudflare's deployments take minutes, and a hundred
    certificates polled every 15 s would spend more than the account's whole API budget (1200
    requests / 5 minutes, shared with every other tool and the dashboard): the writes of the
    apply would queue behind its polls."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._next = -math.inf  # the theoretical arrival time of the next poll

    def schedule(self, wanted: float) -> float:
        """When a poll wanted at `wanted` may go."""
        at = max(wanted, self._next - self.burst / self.rate)
        self._next = max(self._next, at) + 1 / self.rate
        return at


def _advance(run: Run[list[str]]) -> float | list[str]:
    """Run a step until it wants to sleep (the seconds) or ends (its messages)."""
    try:
        return next(run)
    except StopIteration as end:
        return list(end.value)


def _run_all(executor: _Executor, outcome: ApplyOutcome, settings: ApplySettings) -> None:
    with ThreadPoolExecutor(max_workers=settings.parallelism) as pool:
        runner = _Runner(executor, outcome, settings, pool)
        runner.run()
    outcome.not_done.extend(str(s) for s in sorted(runner.waiting))
    if runner.failures:
        raise ApplyError(
            "apply stopped: " + "; ".join(runner.failures),
            [
                *(f"done: {d}" for d in outcome.done),
                *(f"not done: {n}" for n in outcome.not_done),
                _state_note(executor.writer),
            ],
        )


def _state_note(writer: _StateWriter) -> str:
    if writer.lost_write:
        return (
            "the state could not record the last change: fix the cause above, then run apply "
            "again (it finds an uploaded certificate by its fingerprint)"
        )
    return "the state holds everything that was done; run apply again to finish"


class _Runner:
    """Starts steps as they become ready, resumes sleeping ones when due, and records what
    finished or failed. After a failure no step starts; those in flight run to their end."""

    def __init__(
        self,
        executor: _Executor,
        outcome: ApplyOutcome,
        settings: ApplySettings,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.executor, self.outcome, self.settings, self.pool = executor, outcome, settings, pool
        self.schedule = build(executor.result.planned)
        # Tells which steps became ready as others finish, without rescanning every waiting step.
        self.sorter = TopologicalSorter(self.schedule.dependencies)
        self.sorter.prepare()
        self.waiting = set(self.schedule.dependencies)
        self.failures: list[str] = []
        self.running: dict[Future[float | list[str]], tuple[Run[list[str]], list[Step]]] = {}
        self.sleepers: list[_Sleeper] = []
        self.order = itertools.count()
        self.pacer = _PollPacer(settings.poll_burst, settings.poll_rate)

    def run(self) -> None:
        clock = self.settings.clock
        while self.waiting or self.running or self.sleepers:
            if not self.failures:
                self._start_ready()
            while self.sleepers and self.sleepers[0].due <= clock():
                sleeper = heapq.heappop(self.sleepers)
                self._start(sleeper.run, sleeper.batch)
            if self.running:
                timeout = max(0.0, self.sleepers[0].due - clock()) if self.sleepers else None
                completed, _ = wait(self.running, timeout=timeout, return_when=FIRST_COMPLETED)
                for future in completed:
                    self._collect(future)
            elif self.sleepers:
                self.settings.sleep(self.sleepers[0].due - clock())
            else:
                break  # after a failure: what is still waiting stays not done

    def _start_ready(self) -> None:
        items = self.schedule.items
        for batch in _batches(sorted(self.sorter.get_ready()), items):
            for step in batch:
                self.waiting.remove(step)
                self.executor.reporter.step_started(str(step), step_verb(items[step], step))
            self._start(self.executor.run_batch(batch, items), batch)

    def _start(self, run: Run[list[str]], batch: list[Step]) -> None:
        self.running[self.pool.submit(_advance, run)] = (run, batch)

    def _collect(self, future: Future[float | list[str]]) -> None:
        run, batch = self.running.pop(future)
        names = ", ".join(map(str, batch))
        try:
            result = future.result()
        except AopctlError as exc:
            self._failed(batch, f"{names}: " + "; ".join([exc.message, *exc.reasons]))
            return
        except Exception as exc:
            self._failed(batch, f"{names}: unexpected {type(exc).__name__}: {exc}")
            return
        if not isinstance(result, list):  # the step sleeps until its next poll
            due = self.pacer.schedule(self.settings.clock() + result)
            heapq.heappush(self.sleepers, _Sleeper(due, next(self.order), run, batch))
            return
        for step, message in zip(batch, result, strict=True):
            self.sorter.done(step)
            self.outcome.done.append(str(step))
            self.executor.reporter.step_finished(str(step), message)

    def _failed(self, batch: list[Step], failure: str) -> None:
        self.failures.append(failure)
        self.outcome.not_done.extend(map(str, batch))


def step_verb(item: Planned, step: Step) -> str:
    if step.phase == "destroy":
        return "destroying..." if item.change.action is not Action.FORGET else "forgetting..."
    return {
        Action.CREATE: "creating...",
        Action.REPLACE: "creating replacement...",
        Action.UPDATE: "modifying...",
        Action.IMPORT: "importing...",
        Action.WAIT: "waiting for deployment...",
    }.get(item.change.action, "applying...")
