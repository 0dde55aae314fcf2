"""The Cloudflare API client for Authenticated Origin Pulls: the only place that speaks HTTP.

One `CloudflareClient` is shared by every thread of an apply. Each call goes through `_call`:

    read-only check -> rate limiter -> send -> envelope -> typed error -> retry decision

Envelopes `{"success": false, ...}` and HTTP errors become one typed `ApiError` here (401/403
AuthenticationError, 404 NotFoundError, 429 RateLimitedError, 5xx ServerError); transport
failures that outlast the retries become `NetworkError`. Certificate uploads are the only
requests that are not idempotent: after an ambiguous failure the client looks for the
certificate by fingerprint before uploading again, so a lost response never duplicates it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self, TypeVar
from urllib.parse import quote

import httpx

from planner import __version__
from planner.certs import fingerprint_sha256
from planner.cloudflare.credentials import BASE_URL_VAR, Credentials
from planner.cloudflare.ratelimit import RateLimiter
from planner.cloudflare.redact import (
    redact_headers,
    scrub_text,
    secret_fragments,
    summarise_body,
)
from planner.cloudflare.retry import (
    AMBIGUOUS_ERRORS,
    NOT_SENT_ERRORS,
    RetryPolicy,
    parse_retry_after,
)
from planner.cloudflare.types import (
    AssociationUpdate,
    HostnameAssociation,
    HostnameCertificate,
    JsonObject,
    Setting,
    Zone,
    ZoneCertificate,
)
from planner.errors import (
    AopctlError,
    ApiError,
    AuthenticationError,
    CertificateError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ReadOnlyError,
    ServerError,
)

DEFAULT_BASE_URL = "https://api.cloudflare.com/client/v4"
USER_AGENT = f"aopctl/{__version__} (+python-httpx/{httpx.__version__})"
ZONES_PER_PAGE = 50  # the API's maximum for GET /zones
ASSOCIATIONS_PER_PAGE = 1000  # the API's maximum for GET .../hostnames
MAX_PAGES = 10_000  # a server that never stops paginating must not hang aopctl
# A certificate in these states is on its way out; it is not the result of an upload.
_GONE_STATUSES = frozenset({"pending_deletion", "deleted", "deletion_timed_out"})

logger = logging.getLogger("aopctl.http")

NO_ROUTE = 7000  # "No route for that URI"
BASE_URL_HINT = f"is {BASE_URL_VAR} the API's address, ending in /client/v4?"


class _AmbiguousWrite(Exception):
    """A non-idempotent request was sent and its outcome is unknown."""

    def __init__(self, error: AopctlError) -> None:
        super().__init__(str(error))
        self.error = error


class _GoneAfterRetry(NotFoundError):
    """A repeated DELETE found nothing: the earlier, ambiguous attempt did the deletion."""


@dataclass
class RequestStats:
    """Requests sent (retries included) by HTTP method, and 429 answers received."""

    by_method: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.by_method.values())

    def record_request(self, method: str) -> None:
        with self._lock:
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def record_rate_limited(self) -> None:
        with self._lock:
            self.rate_limited += 1

    def record_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def as_dict(self) -> dict[str, object]:
        with self._lock:
            return {
                "by_method": dict(sorted(self.by_method.items())),
                "total": sum(self.by_method.values()),
                "rate_limited": self.rate_limited,
                "retries": self.retries,
            }


@dataclass(frozen=True)
class _Envelope:
    result: object
    result_info: Mapping[str, object]


CertT = TypeVar("CertT", ZoneCertificate, HostnameCertificate)


def _segment(value: str, what: str) -> str:
    """One URL path segment; ids and hostnames are quoted so they cannot change the path."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def _zone_path(zone_id: str, *rest: str) -> str:
    return "/".join(["/zones", _segment(zone_id, "zone id"), *rest])


_HTML_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def _describe_non_json(response: httpx.Response) -> str:
    """A short description of a body that is not a Cloudflare envelope (e.g. an HTML 502)."""
    text = response.text
    title = _HTML_TITLE.search(text)
    snippet = " ".join((title.group(1) if title else text).split())[:200]
    content_type = response.headers.get("content-type", "no content type")
    return f"non-JSON response ({content_type}): {snippet or 'empty body'}"


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return None


def _envelope_errors(payload: object) -> tuple[list[int], list[str]]:
    """Cloudflare error codes and messages; codes only when every item has one (they pair)."""
    items = payload.get("errors") if isinstance(payload, Mapping) else None
    if not isinstance(items, list):
        return [], []
    errors = [item for item in items if isinstance(item, Mapping)]
    codes = [item.get("code") for item in errors]
    messages = [str(item.get("message", "")) for item in errors]
    if all(isinstance(code, int) for code in codes):
        return [code for code in codes if isinstance(code, int)], messages
    return [], [
        f"{code}: {text}" if code is not None else text
        for code, text in zip(codes, messages, strict=True)
    ]


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class CloudflareClient:
    """A thread-safe client for the 16 Cloudflare operations aopctl uses (notes §4)."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        read_only: bool = False,
    ) -> None:
        try:
            url: httpx.URL | None = httpx.URL(base_url)
        except httpx.InvalidURL:
            url = None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise AopctlError(
                f"Cloudflare base URL is not an http:// or https:// URL: {base_url!r}"
            )
        if url.userinfo:
            # It would be echoed in every error and log line; proxies have HTTPS_PROXY.
            raise AopctlError(
                "Cloudflare base URL must not hold a user or password (for a proxy, set "
                "HTTPS_PROXY)"
            )
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.read_only = read_only
        self.stats = RequestStats()
        self._limiter = rate_limiter or RateLimiter()
        self._retry = retry or RetryPolicy()
        self._secrets = credentials.secrets()
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={
                **credentials.headers(),
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            follow_redirects=False,
        )

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str],
        *,
        base_url: str | None = None,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        read_only: bool = False,
    ) -> CloudflareClient:
        """Credentials, and CLOUDFLARE_BASE_URL unless `base_url` is given, from `env`."""
        return cls(
            Credentials.from_env(env),
            base_url=base_url or env.get(BASE_URL_VAR, "").strip() or DEFAULT_BASE_URL,
            transport=transport,
            rate_limiter=rate_limiter,
            retry=retry,
            timeout=timeout,
            read_only=read_only,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", read_only" if self.read_only else ""
        return f"CloudflareClient({self.base_url!r}, {self.credentials.describe()}{mode})"

    # --- zones and zone settings -----------------------------------------------------------

    def list_zones(self, name: str | None = None) -> list[Zone]:
        params = {"name": name} if name else {}
        items = self._paginate("/zones", params, ZONES_PER_PAGE)
        return list({zone.id: zone for zone in map(Zone.from_api, items)}.values())

    def zone_by_name(self, name: str) -> Zone:
        wanted = name.rstrip(".").lower()
        zones = [zone for zone in self.list_zones(wanted) if zone.name.lower() == wanted]
        active = [zone for zone in zones if zone.status == "active"]
        if len(zones) == 1 or len(active) == 1:
            return (active or zones)[0]
        if not zones:
            raise NotFoundError(
                f"zone {name!r} not found: it does not exist or the "
                f"{self.credentials.describe()} cannot see it"
            )
        ids = ", ".join(zone.id for zone in zones)
        raise ApiError(f"zone name {name!r} matches {len(zones)} zones ({ids}): use the zone id")

    def get_setting(self, zone_id: str, setting_id: str) -> Setting:
        path = _zone_path(zone_id, "settings", _segment(setting_id, "setting id"))
        return Setting.from_api(self._object(self._call("GET", path)))

    def patch_setting(self, zone_id: str, setting_id: str, value: str) -> Setting:
        path = _zone_path(zone_id, "settings", _segment(setting_id, "setting id"))
        return Setting.from_api(self._object(self._call("PATCH", path, body={"value": value})))

    # --- zone-level AOP ---------------------------------------------------------------------

    def list_zone_certificates(self, zone_id: str) -> list[ZoneCertificate]:
        # A single, unpaginated array (spec and SDKs, notes §3).
        envelope = self._call("GET", _zone_path(zone_id, "origin_tls_client_auth"))
        return [ZoneCertificate.from_api(item) for item in self._objects(envelope)]

    def upload_zone_certificate(
        self, zone_id: str, certificate: str, private_key: str
    ) -> ZoneCertificate:
        return self._upload(
            _zone_path(zone_id, "origin_tls_client_auth"),
            certificate,
            private_key,
            ZoneCertificate.from_api,
            lambda: self.list_zone_certificates(zone_id),
        )

    def get_zone_certificate(self, zone_id: str, cert_id: str) -> ZoneCertificate:
        path = _zone_path(zone_id, "origin_tls_client_auth", _segment(cert_id, "certificate id"))
        return ZoneCertificate.from_api(self._object(self._call("GET", path)))

    def delete_zone_certificate(self, zone_id: str, cert_id: str) -> ZoneCertificate | None:
        """Delete; None when a retry found it gone because an earlier attempt deleted it."""
        path = _zone_path(zone_id, "origin_tls_client_auth", _segment(cert_id, "certificate id"))
        result = self._delete(path)
        return ZoneCertificate.from_api(result) if result is not None else None

    def get_zone_aop_enabled(self, zone_id: str) -> bool:
        path = _zone_path(zone_id, "origin_tls_client_auth", "settings")
        return self._enabled(self._call("GET", path))

    def set_zone_aop_enabled(self, zone_id: str, enabled: bool) -> bool:
        path = _zone_path(zone_id, "origin_tls_client_auth", "settings")
        return self._enabled(self._call("PUT", path, body={"enabled": enabled}))

    # --- per-hostname AOP -------------------------------------------------------------------

    def list_hostname_certificates(self, zone_id: str) -> list[HostnameCertificate]:
        path = _zone_path(zone_id, "origin_tls_client_auth", "hostnames", "certificates")
        return [
            HostnameCertificate.from_api(item) for item in self._objects(self._call("GET", path))
        ]

    def upload_hostname_certificate(
        self, zone_id: str, certificate: str, private_key: str
    ) -> HostnameCertificate:
        return self._upload(
            _zone_path(zone_id, "origin_tls_client_auth", "hostnames", "certificates"),
            certificate,
            private_key,
            HostnameCertificate.from_api,
            lambda: self.list_hostname_certificates(zone_id),
        )

    def get_hostname_certificate(self, zone_id: str, cert_id: str) -> HostnameCertificate:
        path = _zone_path(
            zone_id, "origin_tls_client_auth", "hostnames", "certificates",
            _segment(cert_id, "certificate id"),
        )  # fmt: skip
        return HostnameCertificate.from_api(self._object(self._call("GET", path)))

    def delete_hostname_certificate(self, zone_id: str, cert_id: str) -> HostnameCertificate | None:
        """Delete; None when a retry found it gone because an earlier attempt deleted it."""
        path = _zone_path(
            zone_id, "origin_tls_client_auth", "hostnames", "certificates",
            _segment(cert_id, "certificate id"),
        )  # fmt: skip
        result = self._delete(path)
        return HostnameCertificate.from_api(result) if result is not None else None

    def put_hostname_associations(
        self, zone_id: str, updates: Sequence[AssociationUpdate]
    ) -> list[HostnameAssociation]:
        """Bind, disable (False) or void (None) hostnames in one idempotent PUT."""
        if not updates:
            return []
        path = _zone_path(zone_id, "origin_tls_client_auth", "hostnames")
        body = {"config": [update.to_api() for update in updates]}
        envelope = self._call("PUT", path, body=body)
        return [HostnameAssociation.from_api(item) for item in self._objects(envelope)]

    def get_hostname_association(self, zone_id: str, hostname: str) -> HostnameAssociation:
        path = _zone_path(
            zone_id, "origin_tls_client_auth", "hostnames", _segment(hostname, "hostname")
        )
        return HostnameAssociation.from_api(self._object(self._call("GET", path)))

    def list_hostname_associations(
        self, zone_id: str, status: str = "all", per_page: int = ASSOCIATIONS_PER_PAGE
    ) -> list[HostnameAssociation]:
        """Every association; `status` defaults to `all` because the API defaults to `active`."""
        path = _zone_path(zone_id, "origin_tls_client_auth", "hostnames")
        items = self._paginate(path, {"status": status}, per_page)
        unique = {item.hostname: item for item in map(HostnameAssociation.from_api, items)}
        return list(unique.values())

    # --- results ------------------------------------------------------------------------------

    @staticmethod
    def _object(envelope: _Envelope) -> JsonObject:
        if not isinstance(envelope.result, Mapping):
            raise ApiError("unexpected Cloudflare response: `result` is not an object")
        return envelope.result

    @staticmethod
    def _objects(envelope: _Envelope) -> list[JsonObject]:
        if envelope.result is None:
            return []
        if not isinstance(envelope.result, list):
            raise ApiError("unexpected Cloudflare response: `result` is not a list")
        return [item for item in envelope.result if isinstance(item, Mapping)]

    def _enabled(self, envelope: _Envelope) -> bool:
        # "false by default" (spec): a missing flag means off.
        return self._object(envelope).get("enabled") is True

    def _paginate(self, path: str, params: Mapping[str, str], per_page: int) -> list[JsonObject]:
        """Follow `page` until result_info.total_pages, an empty page, or a short page."""
        items: list[JsonObject] = []
        for page in range(1, MAX_PAGES + 1):
            envelope = self._call(
                "GET", path, params={**params, "page": page, "per_page": per_page}
            )
            batch = self._objects(envelope)
            items.extend(batch)
            if self._last_page(page, batch, envelope.result_info, per_page):
                break
        return items

    @staticmethod
    def _last_page(
        page: int, batch: list[JsonObject], info: Mapping[str, object], per_page: int
    ) -> bool:
        if not batch:
            return True
        total_pages = _int_or_none(info.get("total_pages"))
        if total_pages is not None:
            return page >= total_pages
        return len(batch) < per_page  # no result_info: a short page is the last one

    def _delete(self, path: str) -> JsonObject | None:
        try:
            envelope = self._call("DELETE", path)
        except _GoneAfterRetry:
            return None
        return envelope.result if isinstance(envelope.result, Mapping) else None

    # --- uploads: not idempotent ---------------------------------------------------------------

    def _upload(
        self,
        path: str,
        certificate: str,
        private_key: str,
        parse: Callable[[JsonObject], CertT],
        list_existing: Callable[[], list[CertT]],
    ) -> CertT:
        """POST a certificate; after an ambiguous failure, adopt it if it landed, else re-post."""
        secrets = secret_fragments(private_key)
        attempts = max(1, self._retry.max_upload_attempts)
        for attempt in range(1, attempts + 1):
            try:
                body = {"certificate": certificate, "private_key": private_key}
                return parse(self._object(self._call("POST", path, body=body, secrets=secrets)))
            except _AmbiguousWrite as ambiguous:
                landed = self._find_uploaded(certificate, list_existing, ambiguous.error)
                if landed is not None:
                    logger.info("upload to %s landed despite %s; using it", path, ambiguous.error)
                    return landed
                if attempt == attempts:
                    raise ambiguous.error from ambiguous.error.__cause__
                logger.info(
                    "upload to %s did not land (%s); uploading again", path, ambiguous.error
                )
                self._retry.sleep(self._retry.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _find_uploaded(
        certificate: str, list_existing: Callable[[], list[CertT]], error: AopctlError
    ) -> CertT | None:
        """The live certificate with the same DER fingerprint, newest first, if any."""
        try:
            wanted = fingerprint_sha256(certificate)
        except CertificateError:
            raise error from error.__cause__  # cannot tell whether it landed
        matches = [
            cert
            for cert in list_existing()
            if cert.status not in _GONE_STATUSES and _same_certificate(cert.certificate, wanted)
        ]
        matches.sort(key=lambda cert: cert.uploaded_on.timestamp() if cert.uploaded_on else 0.0)
        return matches[-1] if matches else None

    # --- the request pipeline ------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Mapping[str, object] | None = None,
        secrets: Iterable[str] = (),
    ) -> _Envelope:
        """Send with retries. Raises a typed ApiError, NetworkError or ReadOnlyError."""
        if self.read_only and method != "GET":
            raise ReadOnlyError(
                f"read-only Cloudflare client refused {method} {path}; nothing sent"
            )
        secrets = (*self._secrets, *secrets)
        request = self._http.build_request(method, path, params=params, json=body)
        idempotent = method != "POST"
        policy = self._retry
        deadline = policy.clock() + policy.max_elapsed
        failures = 0
        after_ambiguous = False
        while True:
            try:
                return self._attempt(request, body, failures + 1, secrets)
            except NotFoundError as exc:
                if after_ambiguous and method == "DELETE":
                    raise _GoneAfterRetry(exc.message, status=exc.status) from exc
                raise
            except (RateLimitedError, ServerError, httpx.TransportError) as exc:
                error, ambiguous, retry_after = self._classify(request, exc, secrets)
            failures += 1
            if ambiguous and not idempotent:
                raise _AmbiguousWrite(error) from error
            after_ambiguous = after_ambiguous or ambiguous
            delay = policy.delay_for(failures, retry_after)
            if isinstance(error, RateLimitedError):
                self._limiter.pause(retry_after if retry_after is not None else delay)
            if failures >= policy.max_attempts or policy.clock() + delay > deadline:
                raise error
            self.stats.record_retry()
            logger.debug("retrying %s %s in %.2fs after: %s", method, request.url, delay, error)
            policy.sleep(delay)

    def _classify(
        self, request: httpx.Request, exc: Exception, secrets: Sequence[str]
    ) -> tuple[AopctlError, bool, float | None]:
        """(error to raise if no retry, was the outcome ambiguous, server's Retry-After)."""
        if isinstance(exc, RateLimitedError):
            return exc, False, exc.retry_after
        if isinstance(exc, ServerError):
            return exc, True, None
        where = f"{request.method} {request.url}"
        text = scrub_text(f"{type(exc).__name__}: {exc}", secrets)
        if isinstance(exc, NOT_SENT_ERRORS):
            error = NetworkError(f"cannot reach Cloudflare: {where}: {text}")
            error.__cause__ = exc
            return error, False, None
        if isinstance(exc, AMBIGUOUS_ERRORS):
            error = NetworkError(f"no answer from Cloudflare: {where}: {text}")
            error.__cause__ = exc
            return error, True, None
        raise NetworkError(f"request to Cloudflare failed: {where}: {text}") from exc

    def _attempt(
        self,
        request: httpx.Request,
        body: object,
        attempt: int,
        secrets: Sequence[str],
    ) -> _Envelope:
        """One rate-limited round trip; an error envelope or HTTP error becomes an ApiError."""
        with self._limiter.slot() as ticket:
            self.stats.record_request(request.method)
            self._log_request(request, body, attempt, secrets)
            started = time.perf_counter()
            try:
                response = self._http.send(request)
            except httpx.TransportError as exc:
                self._log_failure(request, exc, time.perf_counter() - started, attempt, secrets)
                raise
            elapsed = time.perf_counter() - started
            self._limiter.observe(response.headers, ticket)
        payload = _json_or_none(response)
        self._log_response(request, response, payload, elapsed, attempt, secrets)
        if (
            response.is_success
            and isinstance(payload, Mapping)
            and payload.get("success") is not False
        ):
            info = payload.get("result_info")
            return _Envelope(payload.get("result"), info if isinstance(info, Mapping) else {})
        error = self._api_error(request, response, payload, secrets)
        if isinstance(error, RateLimitedError):
            self.stats.record_rate_limited()
        raise error

    def _api_error(
        self,
        request: httpx.Request,
        response: httpx.Response,
        payload: object,
        secrets: Sequence[str],
    ) -> ApiError:
        codes, messages = _envelope_errors(payload)
        if not isinstance(payload, Mapping):
            messages = [_describe_non_json(response)]
        messages = [scrub_text(message, secrets) for message in messages]
        status = response.status_code
        ray_id = response.headers.get("cf-ray")
        where = f"{request.method} {request.url.path}"
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            wait = f"; retry after {retry_after:g}s" if retry_after is not None else ""
            return RateLimitedError(
                f"{where}: rate limited by Cloudflare{wait}",
                retry_after=retry_after, status=status, codes=codes, messages=messages,
                ray_id=ray_id,
            )  # fmt: skip
        error_class, text = self._error_kind(status)
        if status == 404 and NO_ROUTE in codes:  # Cloudflare has no such path: not its API
            text += f" ({BASE_URL_HINT})"
        return error_class(
            f"{where}: {text}", status=status, codes=codes, messages=messages, ray_id=ray_id
        )

    def _error_kind(self, status: int) -> tuple[type[ApiError], str]:
        if status in (401, 403):
            return AuthenticationError, f"Cloudflare rejected the {self.credentials.describe()}"
        if status == 404:
            return NotFoundError, "not found"
        if status >= 500:
            return ServerError, "Cloudflare server error"
        return ApiError, "Cloudflare refused the request"

    # --- debug logging (logger `aopctl.http`) ----------------------------------------------------

    def _log_request(
        self, request: httpx.Request, body: object, attempt: int, secrets: Sequence[str]
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        headers = redact_headers(request.headers.multi_items())
        line = (
            f"-> {request.method} {request.url} attempt={attempt} "
            f"headers={headers} body={summarise_body(body)}"
        )
        logger.debug("%s", scrub_text(line, secrets))

    def _log_response(
        self,
        request: httpx.Request,
        response: httpx.Response,
        payload: object,
        elapsed: float,
        attempt: int,
        secrets: Sequence[str],
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        body = payload if payload is not None else response.text
        line = (
            f"<- {response.status_code} {request.method} {request.url} {elapsed:.3f}s "
            f"attempt={attempt} cf-ray={response.headers.get('cf-ray', '-')} "
            f"ratelimit={response.headers.get('ratelimit', '-')} body={summarise_body(body)}"
        )
        logger.debug("%s", scrub_text(line, secrets))

    def _log_failure(
        self,
        request: httpx.Request,
        exc: Exception,
        elapsed: float,
        attempt: int,
        secrets: Sequence[str],
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        line = (
            f"<- {type(exc).__name__} {request.method} {request.url} {elapsed:.3f}s "
            f"attempt={attempt}: {exc}"
        )
        logger.debug("%s", scrub_text(line, secrets))


def _same_certificate(pem: str | None, fingerprint: str) -> bool:
    if not pem:
        return False
    try:
        return fingerprint_sha256(pem) == fingerprint
    except CertificateError:
        return False
