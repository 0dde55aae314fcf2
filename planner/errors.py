"""One exception tree for aopctl; the CLI translates it once into messages and exit codes.

    AopctlError                  expected failure: one line or a list of reasons, exit 1
    ├── ConfigError              configuration problems (each a Diagnostic with file and JSON path)
    ├── CertificateError         a PEM that cannot be used (wrapped into a Diagnostic by config)
    ├── CredentialsError         no Cloudflare credentials in the environment
    ├── ApiError                 Cloudflare answered success=false or an HTTP error
    │   ├── AuthenticationError  401/403
    │   ├── NotFoundError        404
    │   ├── RateLimitedError     429 (carries retry_after)
    │   └── ServerError          5xx
    ├── NetworkError             connection failed or timed out after all retries
    ├── ReadOnlyError            a read-only client (drift) was asked to write; nothing was sent
    ├── PlanError                the plan would be unsafe (prevent_destroy, downtime, limits)
    └── ApplyError               an apply stopped part-way (what was done is in the state)

Anything else reaching the CLI is an internal error: it is logged with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from planner.wording import plural

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in the configuration, located by file and JSON path."""

    file: str
    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.file, self.path) if part)
        return f"{self.severity}: {where}: {self.message}" if where else self.message


class AopctlError(Exception):
    """An expected failure. `reasons` are the lines the user reads."""

    exit_code = 1

    def __init__(self, message: str, reasons: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.reasons = list(reasons)


class ConfigError(AopctlError):
    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(d for d in diagnostics if d.severity == "error")
        super().__init__(
            f"configuration has {plural(len(self.diagnostics), 'problem')}",
            [str(d) for d in self.diagnostics],
        )


class CertificateError(AopctlError):
    """A certificate or key is unusable; the message never contains key material."""


class CredentialsError(AopctlError):
    pass


class ApiError(AopctlError):
    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        codes: Sequence[int] = (),
        messages: Sequence[str] = (),
        ray_id: str | None = None,
    ) -> None:
        detail = "; ".join(
            f"{code}: {text}" for code, text in zip(codes, messages, strict=False)
        ) or "; ".join(messages)
        parts = [message]
        if status is not None:
            parts.append(f"HTTP {status}")
        if detail:
            parts.append(detail)
        if ray_id:
            parts.append(f"cf-ray {ray_id}")
        super().__init__(" | ".join(parts))
        self.status = status
        self.codes = list(codes)
        self.messages = list(messages)
        self.ray_id = ray_id


class AuthenticationError(ApiError):
    pass


class NotFoundError(ApiError):
    pass


class RateLimitedError(ApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(ApiError):
    pass


class NetworkError(AopctlError):
    pass


class ReadOnlyError(AopctlError):
    """A read-only client (used by `drift`) was asked to write; nothing was sent."""


class PlanError(AopctlError):
    pass


class ApplyError(AopctlError):
    pass
