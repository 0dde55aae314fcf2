"""The HTTP front end: a threaded stdlib server on loopback, for `aopctl sandbox serve` and tests.

Faults act on the real socket: `drop="close"` closes the connection without an answer,
`drop="reset"` aborts it with a TCP RST (SO_LINGER 0), and delays wait on an event that is set
when the server stops, so a stalled answer never outlives the server.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from planner.sandbox.faults import API_PREFIX
from planner.sandbox.responses import Response, failure, json_response
from planner.sandbox.transport import Handler

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Handler) -> None:
        self.sandbox = handler
        self.stopping = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _RequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that left during a stall is expected; never print tracebacks to stderr.
        log.debug("sandbox connection from %s ended abnormally", client_address, exc_info=True)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = dict(self.headers.items())
        try:
            answer = self.server.sandbox.handle(
                self.command, unquote(url.path), query, headers, body
            )
        except Exception:
            log.exception("sandbox handler failed")
            answer = json_response(500, failure(10001, "Internal sandbox error"))
        if answer.delay and self.server.stopping.wait(answer.delay):
            self.close_connection = True
            return
        if answer.drop == "reset":
            self._reset()
        elif answer.drop == "close":
            self.close_connection = True
        else:
            self._send(answer)

    def _send(self, answer: Response) -> None:
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def _reset(self) -> None:
        """Abort the connection: with SO_LINGER 0, close() sends RST instead of FIN."""
        self.close_connection = True
        self.rfile.close()  # drops the makefile reference so close() really closes
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox http: " + format, *args)


def base_url(server: _Server) -> str:
    host, port = server.server_address[:2]
    name = host.decode() if isinstance(host, bytes) else str(host)
    shown = f"[{name}]" if ":" in name else name
    return f"http://{shown}:{port}{API_PREFIX}"


@contextmanager
def serve(handler: Handler, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `handler` until the block ends; yields the base URL (port 0 picks a free one)."""
    server = _Server((host, port), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield base_url(server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()
