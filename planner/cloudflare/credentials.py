"""Cloudflare credentials, read from the environment only (as Cloudflare's own SDKs read them).

An API token wins over an email + global API key pair when both are set, because Cloudflare
recommends tokens. Secret values are kept out of `repr()` and every message: `describe()` names
the kind of credential and the variables it came from, never their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from planner.errors import CredentialsError

TOKEN_VAR = "CLOUDFLARE_API_TOKEN"
EMAIL_VAR = "CLOUDFLARE_EMAIL"
KEY_VAR = "CLOUDFLARE_API_KEY"
BASE_URL_VAR = "CLOUDFLARE_BASE_URL"

CredentialKind = Literal["token", "key"]


@dataclass(frozen=True)
class Credentials:
    """Either an API token or an email + global API key pair."""

    kind: CredentialKind
    token: str | None = field(default=None, repr=False)
    email: str | None = None
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind == "token" and not self.token:
            raise CredentialsError("an API token credential needs a non-empty token")
        if self.kind == "key" and not (self.email and self.api_key):
            raise CredentialsError("a global API key credential needs both an email and a key")
        for variable, value in (
            (TOKEN_VAR, self.token),
            (EMAIL_VAR, self.email),
            (KEY_VAR, self.api_key),
        ):
            if value and not _header_safe(value):
                # Refused before any request: HTTP libraries quote a bad header value in their
                # errors, in a form that redaction of the exact secret does not catch.
                raise CredentialsError(
                    f"{variable} holds a space, a line break or a non-ASCII character, which no "
                    "Cloudflare credential has: check how it was copied (the value is not shown)"
                )

    @classmethod
    def from_token(cls, token: str) -> Credentials:
        return cls(kind="token", token=token)

    @classmethod
    def from_key(cls, email: str, api_key: str) -> Credentials:
        return cls(kind="key", email=email, api_key=api_key)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read CLOUDFLARE_API_TOKEN, or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY."""
        token = env.get(TOKEN_VAR, "").strip()
        if token:
            return cls.from_token(token)
        email = env.get(EMAIL_VAR, "").strip()
        api_key = env.get(KEY_VAR, "").strip()
        if email and api_key:
            return cls.from_key(email, api_key)
        if email or api_key:
            present, missing = (EMAIL_VAR, KEY_VAR) if email else (KEY_VAR, EMAIL_VAR)
            raise CredentialsError(
                f"{present} is set but {missing} is not: set both, or set {TOKEN_VAR} instead"
            )
        raise CredentialsError(
            f"no Cloudflare credentials: set {TOKEN_VAR} (recommended), "
            f"or both {EMAIL_VAR} and {KEY_VAR}"
        )

    def headers(self) -> dict[str, str]:
        """The authentication headers Cloudflare expects for this kind of credential."""
        if self.kind == "token":
            return {"Authorization": f"Bearer {self.token}"}
        return {"X-Auth-Email": self.email or "", "X-Auth-Key": self.api_key or ""}

    def describe(self) -> str:
        """Which credential is in use, safe to print."""
        if self.kind == "token":
            return f"API token ({TOKEN_VAR})"
        return f"global API key for {self.email} ({EMAIL_VAR} + {KEY_VAR})"

    def secrets(self) -> tuple[str, ...]:
        """The secret values, so that redaction can scrub them from any text."""
        return tuple(value for value in (self.token, self.api_key) if value)


def _header_safe(value: str) -> bool:
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)
