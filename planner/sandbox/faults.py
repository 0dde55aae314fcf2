"""Fault injection: make the next N matching requests misbehave, on purpose.

    sandbox.faults.add("server_error", method="POST", path="*/hostnames/certificates",
                       times=2, status=503)

A fault matches by HTTP method (None: any) and a shell-style pattern on the path (`*` also
matches `/`; the pattern is tried on the path with and without the `/client/v4` prefix). Each
match uses up one of `times` (None: unlimited). The first matching fault wins.

| kind                 | effect                                                              |
|----------------------|---------------------------------------------------------------------|
| latency              | answer normally, `delay` seconds late                               |
| server_error         | answer `status` (502/503/...) without processing; `html=True` sends  |
|                      | an edge-style HTML page instead of a JSON envelope                  |
| rate_limited         | answer 429 (code 971) with `Retry-After: retry_after`, unprocessed  |
| lost_response        | process (commit) the request, then close the connection unanswered  |
|                      | (in-process: `httpx.RemoteProtocolError`)                           |
| connection_reset     | reset the connection before processing (in-process: `httpx.ReadError`) |
| read_timeout         | stall `delay` seconds, then close; `commit=True` processes first     |
|                      | (in-process: `httpx.ReadTimeout` when `delay` exceeds the read timeout) |
| deployment_timed_out | the next uploaded certificate(s) end in `deployment_timed_out`       |
| deletion_timed_out   | the next deleted certificate(s) end in `deletion_timed_out`          |
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from typing import Any

API_PREFIX = "/client/v4"
REQUEST_FAULTS = (
    "latency",
    "server_error",
    "rate_limited",
    "lost_response",
    "connection_reset",
    "read_timeout",
)
OUTCOME_FAULTS = ("deployment_timed_out", "deletion_timed_out")


@dataclass
class Fault:
    kind: str
    method: str | None = None
    path: str = "*"
    times: int | None = 1
    status: int = 503
    delay: float = 0.5
    retry_after: int = 1
    commit: bool = False
    html: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        short = path.removeprefix(API_PREFIX)
        return any(fnmatch.fnmatchcase(p, self.path) for p in (path, short))


class FaultInjector:
    """The armed faults of one sandbox; persisted with it."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._faults = list(faults or [])

    def add(
        self,
        kind: str,
        *,
        method: str | None = None,
        path: str = "*",
        times: int | None = 1,
        **params: Any,
    ) -> Fault:
        if kind not in REQUEST_FAULTS + OUTCOME_FAULTS:
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = Fault(kind, method, path, times, **params)
        if kind == "server_error" and not 500 <= fault.status <= 599:
            raise ValueError("server_error needs a 5xx status")
        if kind == "read_timeout" and "delay" not in params:
            fault.delay = 30.0
        self._faults.append(fault)
        return fault

    def clear(self) -> None:
        self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, kinds: tuple[str, ...], method: str, path: str) -> Fault | None:
        """Use up the first armed fault of one of `kinds` matching this request."""
        for fault in self._faults:
            if fault.kind in kinds and fault.matches(method, path):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def to_json(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self._faults]

    @classmethod
    def from_json(cls, items: list[dict[str, Any]]) -> FaultInjector:
        return cls([Fault(**item) for item in items])


def parse_fault_spec(text: str) -> tuple[str, dict[str, Any]]:
    """`KIND[:key=value,...]`, e.g. `server_error:method=POST,path=*/certificates,times=2`.

    Keys: method, path, times (a number or `always`), status, delay, retry_after, commit, html.
    """
    kind, _, options = text.partition(":")
    params: dict[str, Any] = {}
    converters: dict[str, Any] = {
        "method": str.upper,
        "path": str,
        "times": lambda v: None if v == "always" else int(v),
        "status": int,
        "delay": float,
        "retry_after": int,
        "commit": lambda v: v.lower() in ("1", "true", "yes"),
        "html": lambda v: v.lower() in ("1", "true", "yes"),
    }
    for item in filter(None, options.split(",")):
        key, sep, value = item.partition("=")
        if not sep or key not in converters:
            raise ValueError(
                f"bad fault option {item!r} (expected key=value, keys: {', '.join(converters)})"
            )
        try:
            params[key] = converters[key](value)
        except ValueError:
            raise ValueError(f"bad value for fault option {key}: {value!r}") from None
    if kind not in REQUEST_FAULTS + OUTCOME_FAULTS:
        raise ValueError(
            f"unknown fault kind {kind!r}; one of {', '.join(REQUEST_FAULTS + OUTCOME_FAULTS)}"
        )
    return kind, params
