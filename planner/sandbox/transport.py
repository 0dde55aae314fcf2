"""The in-process front end: an `httpx.BaseTransport` that calls the sandbox directly.

Misbehaviour asked for by a fault is mapped to the exception httpx raises for the same thing on
a real socket: a reset is `httpx.ReadError`, a connection closed without an answer is
`httpx.RemoteProtocolError`, a stall longer than the client's read timeout is
`httpx.ReadTimeout`. Waits go through the injected `sleep`, so a fake clock moves instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

import httpx

from planner.sandbox.responses import Response


class Handler(Protocol):
    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response: ...


class SandboxTransport(httpx.BaseTransport):
    def __init__(self, handler: Handler, sleep: Callable[[float], None] = time.sleep) -> None:
        self._handler = handler
        self._sleep = sleep

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        query = dict(request.url.params.multi_items())
        headers = dict(request.headers.items())
        answer = self._handler.handle(request.method, request.url.path, query, headers, body)
        if answer.delay:
            self._wait(request, answer.delay)
        if answer.drop == "reset":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if answer.drop == "close":
            message = "Server disconnected without sending a response."
            raise httpx.RemoteProtocolError(message, request=request)
        return httpx.Response(
            answer.status, headers=answer.headers, content=answer.body, request=request
        )

    def _wait(self, request: httpx.Request, delay: float) -> None:
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        if read_timeout is not None and delay >= read_timeout:
            self._sleep(read_timeout)
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        self._sleep(delay)
