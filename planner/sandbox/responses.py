"""Envelopes, error codes and the `Response` every front end turns into HTTP.

Cloudflare publishes few error codes for these endpoints (notes §2, §12.2). Codes marked
"documented" come from the notes; the others are this sandbox's choice, kept in one table so a
real recording can correct them in one place.

| code  | HTTP | when                                                                  |
|-------|------|-----------------------------------------------------------------------|
| 971   | 429  | rate limited (documented, notes §13.9)                                |
| 1001  | 404  | well-formed zone id that does not exist                               |
| 1006  | 400  | unknown zone setting name                                             |
| 1007  | 400  | invalid value for a zone setting                                      |
| 1400  | 400  | request body or query parameter invalid (missing/mistyped field)      |
| 1402  | 400  | certificate PEM cannot be parsed                                      |
| 1403  | 400  | private key PEM cannot be parsed                                      |
| 1404  | 400  | private key does not match the certificate                            |
| 1405  | 400  | 11th hostname certificate in a zone                                   |
| 1406  | 400  | same certificate already uploaded (documented by the brief)           |
| 1407  | 404  | unknown certificate id                                                |
| 1408  | 400  | 101st association on one certificate                                  |
| 1409  | 400  | deleting a hostname certificate that still has associations          |
| 1410  | 404  | GET /hostnames/{hostname} for a hostname without association          |
| 1411  | 400  | association refused (hostname outside the zone, unusable certificate)  |
| 1412  | 400  | non-leaf hostname certificate (documented)                            |
| 6007  | 400  | malformed JSON body                                                   |
| 7000  | 404  | no route for that URI                                                 |
| 7001  | 405  | method not available for that URI                                     |
| 7003  | 400  | malformed object identifier in the path (documented)                  |
| 9106  | 400  | no credentials (documented)                                           |
| 10000 | 403  | invalid credentials (documented)                                      |
| 10001 | 5xx  | injected server error (JSON variant)                                  |
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Literal

JSON_HEADERS = {"content-type": "application/json"}

Drop = Literal["reset", "close"]


@dataclass(frozen=True)
class Response:
    """What the core answers. `drop` and `delay` tell the front end how to misbehave.

    `delay`: seconds to wait before answering. `drop="close"`: close the connection without an
    answer; `drop="reset"`: reset it (TCP RST).
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    drop: Drop | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class ApiFailure(Exception):
    """An error answer; raised by operations before they change anything."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def success(result: Any, result_info: dict[str, int] | None = None) -> dict[str, Any]:
    envelope: dict[str, Any] = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        envelope["result_info"] = result_info
    return envelope


def failure(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, {**JSON_HEADERS, **(headers or {})}, body)


def timestamp(seconds: float) -> str:
    """Cloudflare's timestamp style: `2022-01-27T03:48:25.870383Z`."""
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def whole_seconds(moment: dt.datetime) -> str:
    """Certificate dates, as Cloudflare writes them: `2020-09-23T21:03:47Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Named errors, so operations read as sentences.
def bad_request(message: str) -> ApiFailure:
    return ApiFailure(400, 1400, message)


def not_found(code: int, message: str) -> ApiFailure:
    return ApiFailure(404, code, message)
