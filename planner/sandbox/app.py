"""`Sandbox`: the simulated Cloudflare account and its single request handler.

All three front ends (in-process httpx transport, HTTP server, file-backed `--sandbox`) call
`Sandbox.handle`, so behaviour is identical everywhere. One request goes through:

    record -> faults -> rate limit -> authentication -> route -> operation -> envelope

Authentication is what the real API does with credentials it cannot check: any non-empty
`Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key` pair is accepted; none at all
is 400/9106; a malformed or revoked (`Sandbox.revoke`) credential is 403/10000.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from typing import Any

import httpx

from planner.sandbox.certinfo import parse_certificate
from planner.sandbox.checker import find_violations
from planner.sandbox.faults import API_PREFIX, REQUEST_FAULTS, Fault, FaultInjector
from planner.sandbox.model import (
    SETTINGS,
    STATUSES,
    Account,
    CertKind,
    RecordedRequest,
    TimelineEvent,
    Zone,
    zone_id_for,
)
from planner.sandbox.operations import Call, Config, Operations
from planner.sandbox.responses import ApiFailure, Response, failure, json_response
from planner.sandbox.server import serve
from planner.sandbox.transport import SandboxTransport

DEFAULT_ZONES = ("example.com", "example.net")
Clock = Callable[[], float]
Sleep = Callable[[float], None]
_ZONE_NAME = re.compile(r"([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


class SandboxConfigError(ValueError):
    """An AOPCTL_SANDBOX_* variable or sandbox option has an unusable value."""


class Sandbox:
    """A simulated Cloudflare account serving the AOP API (see the package docstring).

    `deploy_delay`/`delete_delay`: seconds from upload to `active` and from DELETE to `deleted`.
    `rate_limit`: (requests, window seconds), or None. `clock` gives the time statuses are
    computed from; `sleep` is how the in-process transport waits (latency and timeout faults),
    so a fake clock can advance instead.
    """

    def __init__(
        self,
        zones: Sequence[str] = DEFAULT_ZONES,
        *,
        deploy_delay: float = 0.0,
        delete_delay: float = 0.0,
        rate_limit: tuple[int, float] | None = (1200, 300.0),
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.config = Config(deploy_delay, delete_delay, rate_limit)
        self.clock = clock
        self.sleep = sleep
        self.account = Account()
        self.faults = FaultInjector()
        self.revoked: set[str] = set()
        self._lock = threading.RLock()
        now = clock()
        for name in zones:
            self.account.add_zone(_zone_name(name), now)

    @property
    def _ops(self) -> Operations:
        return Operations(self.account, self.config, self.faults)

    # ----- construction and persistence ----------------------------------------------------

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Sandbox:
        """A sandbox configured by the AOPCTL_SANDBOX_* variables (see `env_settings`)."""
        return cls(**{**env_settings(env), **overrides})

    def to_json(self) -> dict[str, Any]:
        limit = self.config.rate_limit
        with self._lock:
            return {
                "format": "aopctl-sandbox/1",
                "config": {**asdict(self.config), "rate_limit": list(limit) if limit else None},
                "account": self.account.to_json(),
                "faults": self.faults.to_json(),
                "revoked": sorted(self.revoked),
            }

    @classmethod
    def from_json(
        cls,
        data: Mapping[str, Any],
        *,
        clock: Clock = time.time,
        sleep: Sleep = time.sleep,
        **overrides: Any,
    ) -> Sandbox:
        """Restore a sandbox; keyword overrides replace the saved delays and rate limit."""
        config = {**data["config"], **overrides}
        if config.get("rate_limit") is not None:
            limit, window = config["rate_limit"]
            config["rate_limit"] = (int(limit), float(window))
        sandbox = cls((), clock=clock, sleep=sleep, **config)
        sandbox.account = Account.from_json(data["account"])
        sandbox.faults = FaultInjector.from_json(data["faults"])
        sandbox.revoked = set(data["revoked"])
        return sandbox

    # ----- front ends ----------------------------------------------------------------------

    def transport(self) -> httpx.BaseTransport:
        return SandboxTransport(self, self.sleep)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractContextManager[str]:
        """Serve over HTTP on a background thread; yields the base URL `.../client/v4`."""
        return serve(self, host, port)

    # ----- the handler ---------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        method = method.upper()
        lowered = {key.lower(): value for key, value in headers.items()}
        with self._lock:
            now = self.clock()
            request = RecordedRequest(method, path, dict(query), _redacted(body), now)
            self.account.requests.append(request)
            response = self._respond(method, path, query, lowered, body, now)
            request.status = None if response.drop else response.status
            if response.drop:
                return response
            # Every answer of Cloudflare's edge names its ray: what support asks for.
            ray = f"{len(self.account.requests):016x}-SBX"
            return replace(response, headers={**response.headers, "cf-ray": ray})

    def _respond(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> Response:
        fault = self.faults.take(REQUEST_FAULTS, method, path)
        if fault is not None and (early := self._early_fault(fault)) is not None:
            return early
        response = self._process(method, path, query, headers, body, now)
        if fault is None:
            return response
        if fault.kind == "lost_response":
            return replace(response, drop="close")
        return replace(response, delay=fault.delay)  # latency, read_timeout with commit

    def _early_fault(self, fault: Fault) -> Response | None:
        """Faults that answer without processing the request."""
        if fault.kind == "connection_reset":
            return Response(0, drop="reset")
        if fault.kind == "read_timeout" and not fault.commit:
            return Response(0, delay=fault.delay, drop="close")
        if fault.kind == "server_error":
            return _edge_error(fault.status, fault.html)
        if fault.kind == "rate_limited":
            return self._throttled(fault.retry_after, remaining=0)
        return None

    def _process(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        now: float,
    ) -> Response:
        rate_headers, throttled = self._count_request(now)
        if throttled is not None:
            return throttled
        try:
            _authenticate(headers, self.revoked)
            if not path.startswith(API_PREFIX + "/"):
                raise ApiFailure(404, 7000, "No route for that URI")
            call = Call(method, path.removeprefix(API_PREFIX), query, body, {}, now)
            status, payload = self._ops.dispatch(call)
        except ApiFailure as exc:
            status, payload = exc.status, failure(exc.code, exc.message)
        return json_response(status, payload, rate_headers)

    def _count_request(self, now: float) -> tuple[dict[str, str], Response | None]:
        """Fixed window: once `limit` requests are used, everything is 429 until it ends."""
        if self.config.rate_limit is None:
            return {}, None
        limit, window = self.config.rate_limit
        start, count = self.account.rate_window or (now, 0)
        if now >= start + window:
            start, count = now, 0
        reset = max(1, math.ceil(start + window - now))
        if count >= limit:
            self.account.rate_window = (start, count)
            return {}, self._throttled(reset, remaining=0)
        self.account.rate_window = (start, count + 1)
        return _rate_headers(limit, window, limit - count - 1, reset), None

    def _throttled(self, retry_after: int, *, remaining: int) -> Response:
        limit, window = self.config.rate_limit or (1200, 300.0)
        headers = _rate_headers(limit, window, remaining, retry_after)
        headers["retry-after"] = str(retry_after)
        message = "Please wait and consider throttling your request speed"
        return json_response(429, failure(971, message), headers)

    # ----- inspection ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.account.requests

    def write_count(self) -> int:
        """Non-GET requests received (including refused and faulted ones)."""
        return sum(1 for request in self.account.requests if request.method != "GET")

    @property
    def timeline(self) -> list[TimelineEvent]:
        """Recorded changes plus certificate status transitions that have happened by now."""
        with self._lock:
            now = self.clock()
            keyed = [((e.time, e.seq, 0, i), e) for i, e in enumerate(self.account.events)]
            for cert in self.account.certificates.values():
                zone = self.account.zones[cert.zone_id].name
                for i, (start, status, seq) in enumerate(cert.phases):
                    if start <= now:
                        data = {"kind": cert.kind, "status": status}
                        event = TimelineEvent(start, seq, "certificate_status", zone, cert.id, data)
                        keyed.append(((start, seq, 1, i), event))
            return [event for _, event in sorted(keyed, key=lambda item: item[0])]

    def check_zero_downtime(self) -> list[str]:
        """Violations of the zero-downtime invariant over the whole timeline (see checker)."""
        with self._lock:
            names = {zone.id: zone.name for zone in self.account.zones.values()}
            return find_violations(self.timeline, self.account.certificates, names)

    def zone_id(self, name: str) -> str:
        for zone in self.account.zones.values():
            if zone.name == name:
                return zone.id
        raise KeyError(f"no sandbox zone named {name!r}")

    def zone_names(self) -> list[str]:
        return sorted(zone.name for zone in self.account.zones.values())

    def revoke(self, credential: str) -> None:
        """Make a token or API key invalid (403/10000), like a revoked token."""
        with self._lock:
            self.revoked.add(credential)

    # ----- seeding (acts like the dashboard: in the timeline, not in `requests`) -----------

    def add_zone(self, name: str) -> str:
        with self._lock:
            return self.account.add_zone(_zone_name(name), self.clock()).id

    def seed_hostname_certificate(self, zone: str, cert_pem: str, *, status: str = "active") -> str:
        return self._seed_certificate(zone, "hostname", cert_pem, status)

    def seed_zone_certificate(self, zone: str, cert_pem: str, *, status: str = "active") -> str:
        return self._seed_certificate(zone, "zone", cert_pem, status)

    def _seed_certificate(self, zone_ref: str, kind: CertKind, pem: str, status: str) -> str:
        """A certificate that enters `status` now and then follows the configured delays."""
        if status not in STATUSES:
            raise ValueError(f"unknown certificate status {status!r}")
        with self._lock:
            now, zone, ops = self.clock(), self._zone(zone_ref), self._ops
            final = "deployment_timed_out" if status == "deployment_timed_out" else "active"
            cert = ops.create_certificate(
                zone, kind, parse_certificate(pem), now, source="dashboard", final=final
            )
            seq = cert.phases[0][2]
            if status in ("pending_deployment", "active", "deployment_timed_out"):
                skip = {"pending_deployment": 1, "active": 2, "deployment_timed_out": 2}[status]
                shift = cert.phases[skip][0] - now
                cert.phases = [(t - shift, s, seq) for t, s, _ in cert.phases[skip:]]
            elif status in ("pending_deletion", "deleted", "deletion_timed_out"):
                cert.phases = [(now, "active", seq)]
                self.seed_deletion(zone.id, cert.id, status=status)
            return cert.id

    def seed_deletion(self, zone: str, cert_id: str, *, status: str = "pending_deletion") -> None:
        """Delete a certificate out of band (no association check), entering `status` now:
        `pending_deletion` (then the deletion delay applies), `deleted` or `deletion_timed_out`.
        """
        if status not in ("pending_deletion", "deleted", "deletion_timed_out"):
            raise ValueError(f"not a deletion status: {status!r}")
        with self._lock:
            now, cert = self.clock(), self.account.certificates[cert_id]
            final = "deletion_timed_out" if status == "deletion_timed_out" else "deleted"
            self._ops.delete_certificate(
                self._zone(zone), cert, now, final=final, source="dashboard"
            )
            if status != "pending_deletion":  # skip straight to the final state
                _, _, seq = cert.phases[-1]
                cert.phases[-1] = (now, final, seq)
                cert.purge_at = now + self.config.delete_delay if final == "deleted" else None

    def seed_association(
        self, zone: str, hostname: str, cert_id: str, enabled: bool | None
    ) -> None:
        with self._lock:
            now, target, ops = self.clock(), self._zone(zone), self._ops
            if cert_id not in self.account.certificates:
                raise KeyError(f"no sandbox certificate {cert_id}")
            if enabled is None:
                ops.remove_association(target, hostname.lower(), now, "dashboard")
            else:
                ops.set_association(target, hostname.lower(), cert_id, enabled, now, "dashboard")

    def set_setting(self, zone: str, setting_id: str, value: object) -> None:
        """`ssl`, `tls_client_auth` (string values) or `aop_zone_enabled` (bool)."""
        if setting_id == "aop_zone_enabled":
            valid = isinstance(value, bool)
        else:
            valid = value in SETTINGS.get(setting_id, ())
        if not valid:
            raise ValueError(f"invalid value {value!r} for setting {setting_id!r}")
        with self._lock:
            self._ops.change_setting(self._zone(zone), setting_id, value, self.clock(), "dashboard")

    def _zone(self, ref: str) -> Zone:
        zone = self.account.zones.get(ref) or self.account.zones.get(zone_id_for(ref))
        if zone is None:
            raise KeyError(f"no sandbox zone {ref!r}")
        return zone


def env_settings(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Sandbox keyword arguments from the environment, with the `--sandbox` defaults.

    AOPCTL_SANDBOX_ZONES=a.com,b.org   zones added to example.com and example.net
    AOPCTL_SANDBOX_DEPLOY_DELAY=2      seconds from upload to `active` (default 2)
    AOPCTL_SANDBOX_DELETE_DELAY=1      seconds from DELETE to `deleted` (default 1)
    AOPCTL_SANDBOX_RATE_LIMIT=1200/300 requests per window seconds, or `off`
    """
    env = os.environ if env is None else env
    extra = [z.strip().lower() for z in env.get("AOPCTL_SANDBOX_ZONES", "").split(",")]
    zones = list(dict.fromkeys([*DEFAULT_ZONES, *(_zone_name(z) for z in extra if z)]))
    return {
        "zones": zones,
        "deploy_delay": _seconds(env, "AOPCTL_SANDBOX_DEPLOY_DELAY", 2.0),
        "delete_delay": _seconds(env, "AOPCTL_SANDBOX_DELETE_DELAY", 1.0),
        "rate_limit": parse_rate_limit(env.get("AOPCTL_SANDBOX_RATE_LIMIT", "1200/300")),
    }


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """`1200/300` (requests per seconds) or `off`."""
    if text.strip().lower() == "off":
        return None
    count, _, window = text.partition("/")
    try:
        limit, seconds = int(count), float(window)
    except ValueError:
        raise SandboxConfigError(
            f"rate limit must look like 1200/300 or off, not {text!r}"
        ) from None
    if limit < 1 or seconds <= 0:
        raise SandboxConfigError(f"rate limit must be positive, not {text!r}")
    return limit, seconds


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SandboxConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if value < 0 or math.isnan(value):
        raise SandboxConfigError(f"{name} must not be negative")
    return value


def _zone_name(name: str) -> str:
    if not _ZONE_NAME.fullmatch(name):
        raise SandboxConfigError(f"{name!r} is not a valid zone name")
    return name


def _authenticate(headers: Mapping[str, str], revoked: set[str]) -> None:
    authorization = headers.get("authorization")
    email, key = headers.get("x-auth-email"), headers.get("x-auth-key")
    if authorization is None and (email is None or key is None):
        raise ApiFailure(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        credential = token.strip()
        valid = scheme.lower() == "bearer" and bool(credential)
    else:
        credential = (key or "").strip()
        valid = bool(credential) and bool((email or "").strip())
    if not valid or credential in revoked:
        raise ApiFailure(403, 10000, "Authentication error")


def _rate_headers(limit: int, window: float, remaining: int, reset: int) -> dict[str, str]:
    return {
        "ratelimit": f'"default";r={max(0, remaining)};t={reset}',
        "ratelimit-policy": f'"default";q={limit};w={math.ceil(window)}',
    }


def _edge_error(status: int, html: bool) -> Response:
    reason = {502: "Bad gateway", 503: "Service temporarily unavailable"}.get(status, "Error")
    if html:
        page = (
            f"<html><head><title>{status} {reason}</title></head><body>"
            f"<center><h1>{status} {reason}</h1></center><hr><center>cloudflare</center>"
            "</body></html>"
        )
        return Response(status, {"content-type": "text/html"}, page.encode())
    return json_response(status, failure(10001, reason))


def _redacted(body: bytes) -> Any:
    """The JSON body as received, with private keys replaced; a placeholder when not JSON."""
    if not body:
        return None
    try:
        return _without_keys(json.loads(body))
    except (ValueError, UnicodeDecodeError):
        return "(unparsable body)"


def _without_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "(redacted)" if key == "private_key" else _without_keys(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_keys(item) for item in value]
    if isinstance(value, str) and "PRIVATE KEY" in value:
        return "(redacted)"
    return value
