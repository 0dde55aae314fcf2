"""Redaction of secrets in HTTP logs and error messages.

Three layers, because a secret can leak through any of them: sensitive headers by name,
sensitive JSON fields by key (at any depth), and a final scrub of text that removes PEM private
key blocks and the exact secret values in play (credentials, the key being uploaded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from planner.keytext import hide_private_keys

REDACTED = "<redacted>"
SENSITIVE_HEADERS = frozenset({"authorization", "x-auth-key", "x-auth-user-service-key", "cookie"})
SENSITIVE_FIELDS = frozenset({"private_key"})

_PEM_BLOCK = re.compile(r"^-----BEGIN ([A-Z0-9 ]+)-----")
_LONG_STRING = 96
_MIN_SECRET = 8


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {
        name: REDACTED if name.lower() in SENSITIVE_HEADERS else value for name, value in headers
    }


def _summarise_string(value: str) -> str:
    pem = _PEM_BLOCK.match(value)
    if pem:
        return f"<PEM {pem.group(1)}, {len(value)} chars>"
    if len(value) > _LONG_STRING:
        return f"{value[:_LONG_STRING]}...<{len(value)} chars>"
    return value


def redact_json(value: object) -> object:
    """A copy of a JSON value with sensitive fields replaced and long strings shortened."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if str(key).lower() in SENSITIVE_FIELDS else redact_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact_json(item) for item in value]
    if isinstance(value, str):
        return _summarise_string(value)
    return value


def secret_fragments(secret: str) -> list[str]:
    """The secret and, for a PEM, each base64 line, so that partial echoes are caught too."""
    lines = [line.strip() for line in secret.splitlines()]
    fragments = [line for line in lines if len(line) >= _MIN_SECRET and "-----" not in line]
    return [secret, *fragments]


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove private key blocks and the given secret values from free text."""
    text = hide_private_keys(text, REDACTED)
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, REDACTED)
    return text


def summarise_body(body: object, limit: int = 1000) -> str:
    """A one-line, redacted, bounded rendering of a request or response body for the logs."""
    if body is None:
        return "-"
    if isinstance(body, str | bytes):
        raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        text = " ".join(hide_private_keys(raw, REDACTED).split())
    else:
        text = json.dumps(redact_json(body), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else f"{text[:limit]}...<{len(text)} chars>"
