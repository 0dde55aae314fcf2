"""The sandbox in its own process, so the aopctl process is measured alone.

`python -m benchmarks.sandbox_server --zones a.example,b.example --latency-ms 50 ...` serves an
in-memory `planner.sandbox.Sandbox` on 127.0.0.1 (port 0: a free one) with a latency fault on
every request, and prints `Sandbox API listening on URL` first, like `aopctl sandbox serve`.

Why not `aopctl sandbox serve`: without `--data` its recorded requests cannot be read from
outside, and with `--data` every request loads and saves the whole account under a file lock
(about 65 ms per request at 1000 hostnames), which would serialise and slow the replayed
baseline far more than the latency being measured. This wrapper adds three control routes
under `/__bench/`, answered without latency and never recorded:

    GET  /__bench/requests?since=N   recorded requests from index N (no bodies)
    POST /__bench/quota              {"rate_limit": [1200, 300] | null}: set the limit and
                                     start a fresh rate-limit window
    GET  /__bench/certificates       certificate id -> upload time (for deployment waits)

`SandboxProcess` starts and drives that process from the harness. The server stops on SIGTERM,
or when its standard input reaches end of file: the harness holds it open, so a harness that
dies never leaves a server behind.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

import httpx

from planner.sandbox import Response, Sandbox
from planner.sandbox.app import parse_rate_limit
from planner.sandbox.server import serve

CONTROL_PREFIX = "/__bench/"
READY_PREFIX = "Sandbox API listening on "


class _BenchHandler:
    """The sandbox's handler plus the control routes."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        if not path.startswith(CONTROL_PREFIX):
            return self.sandbox.handle(method, path, query, headers, body)
        route = (method.upper(), path.removeprefix(CONTROL_PREFIX))
        if route == ("GET", "requests"):
            return _json(self._requests(int(query.get("since", "0"))))
        if route == ("POST", "quota"):
            return _json(self._quota(json.loads(body or b"{}")))
        if route == ("GET", "certificates"):
            return _json(self._certificates())
        return _json({"error": f"no control route {method} {path}"}, 404)

    # The harness calls these between runs, while no API request is in flight.

    def _requests(self, since: int) -> dict[str, Any]:
        recorded = list(self.sandbox.requests)
        rows = [[r.method, r.path, r.time, r.status] for r in recorded[since:]]
        return {"count": len(recorded), "requests": rows}

    def _quota(self, body: Mapping[str, Any]) -> dict[str, Any]:
        limit = body.get("rate_limit")
        rate_limit = (int(limit[0]), float(limit[1])) if limit else None
        self.sandbox.config = dataclasses.replace(self.sandbox.config, rate_limit=rate_limit)
        self.sandbox.account.rate_window = None
        return {"rate_limit": limit}

    def _certificates(self) -> dict[str, Any]:
        certificates = list(self.sandbox.account.certificates.values())
        return {cert.id: cert.uploaded_on for cert in certificates}


def _json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, {"content-type": "application/json"}, body)


def _stop_at_end_of_input(stop: threading.Event) -> None:
    """The harness holds our stdin open: end of file means it is gone, so stop too."""
    sys.stdin.read()
    stop.set()


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zones", required=True, help="Comma-separated zone names.")
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--deploy-delay", type=float, default=2.0)
    parser.add_argument("--delete-delay", type=float, default=1.0)
    parser.add_argument("--rate-limit", default="1200/300", help="e.g. 1200/300, or off")
    parser.add_argument("--port", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    sandbox = Sandbox(
        [zone for zone in args.zones.split(",") if zone],
        deploy_delay=args.deploy_delay,
        delete_delay=args.delete_delay,
        rate_limit=parse_rate_limit(args.rate_limit),
    )
    if args.latency_ms > 0:
        sandbox.faults.add("latency", delay=args.latency_ms / 1000, times=None)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    threading.Thread(target=_stop_at_end_of_input, args=(stop,), daemon=True).start()
    with serve(_BenchHandler(sandbox), "127.0.0.1", args.port) as url:
        print(READY_PREFIX + url, flush=True)
        stop.wait()


class SandboxProcess:
    """`with SandboxProcess(zones, ...) as sandbox:` a served sandbox and its control routes."""

    def __init__(
        self,
        zones: list[str],
        *,
        latency_ms: float,
        deploy_delay: float,
        delete_delay: float,
        rate_limit: str = "1200/300",
    ) -> None:
        self.command = [
            sys.executable,
            "-m",
            "benchmarks.sandbox_server",
            f"--zones={','.join(zones)}",
            f"--latency-ms={latency_ms}",
            f"--deploy-delay={deploy_delay}",
            f"--delete-delay={delete_delay}",
            f"--rate-limit={rate_limit}",
        ]
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._control: httpx.Client | None = None

    def __enter__(self) -> Self:
        repository = Path(__file__).resolve().parents[1]
        self._process = subprocess.Popen(
            self.command, cwd=repository, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith(READY_PREFIX):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the benchmark sandbox did not start: {line!r}")
        self.url = line.removeprefix(READY_PREFIX)
        root = self.url.removesuffix("/client/v4")
        self._control = httpx.Client(base_url=root + CONTROL_PREFIX.rstrip("/"), timeout=60)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._control is not None:
            self._control.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None:
                    stream.close()

    def _client(self) -> httpx.Client:
        assert self._control is not None, "use SandboxProcess as a context manager"
        return self._control

    def request_count(self) -> int:
        reply = self._client().get("/requests", params={"since": 2**62}).json()
        return int(reply["count"])

    def requests(self, since: int) -> list[tuple[str, str, float, int | None]]:
        """(method, path, time, status) of every request recorded from index `since`."""
        rows = self._client().get("/requests", params={"since": since}).json()["requests"]
        return [(method, path, time, status) for method, path, time, status in rows]

    def fresh_quota(self, rate_limit: tuple[int, float] | None) -> None:
        """Set the server's rate limit and start a new window (each run gets a full quota)."""
        self._client().post("/quota", json={"rate_limit": rate_limit}).raise_for_status()

    def uploads(self) -> dict[str, float]:
        """Certificate id -> the time the sandbox received its upload."""
        return {cid: float(t) for cid, t in self._client().get("/certificates").json().items()}


if __name__ == "__main__":
    main()
