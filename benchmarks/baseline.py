"""The baseline: what a one-resource-per-object tool sends for the same work, replayed.

Modelled on Terraform-style providers (Cloudflare's own provider binds one hostname per PUT,
notes §9.2): every object is its own resource, so

- refresh reads one object per GET: each zone's SSL setting, each certificate, each hostname
  association (`GET .../hostnames/{hostname}`);
- a binding is one `PUT .../hostnames` per hostname;
- certificate deployments are awaited one at a time (upload, poll until `active`, next), with
  exactly aopctl's polling (`planner.apply.poll_intervals`: three polls 1 s apart, then
  doubling up to 15 s), so only the request pattern differs;
- independent requests run on `parallelism` threads (Terraform's default is 10).

The replay sends that pattern with httpx against the same sandbox aopctl talks to, in zones of
its own (so both start from the same empty zones and Cloudflare's 10-certificate limit applies
to each separately). Like aopctl it runs as its own process, one per step, and keeps the ids it
created in a state file:

    python -m benchmarks.baseline STEP --scale 1x100 --config DIR --state FILE --base-url URL

STEP is `apply` (first apply), `plan` and `drift` (a refresh), or `rotate`. The state file
starts as `{"zone_ids": {zone name: id}}`, the tool's configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from benchmarks.scenarios import Certificate, Scale, certificates
from planner.apply import poll_intervals

T = TypeVar("T")
AOP = "origin_tls_client_auth"


class ReplayError(RuntimeError):
    """The sandbox refused a request of the replay."""


class Replay:
    """One baseline tool: an HTTP client, a thread pool and the ids it has created."""

    def __init__(
        self,
        base_url: str,
        token: str,
        zone_ids: dict[str, str],
        *,
        parallelism: int = 10,
        poll_initial: float = 1.0,
        poll_max: float = 15.0,
    ) -> None:
        self.zone_ids = zone_ids  # zone name -> id, as the tool's configuration gives them
        self.parallelism = parallelism
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.certificate_ids: dict[str, str] = {}  # certificate name -> id ("state")
        limits = httpx.Limits(max_connections=parallelism, max_keepalive_connections=parallelism)
        self._http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            limits=limits,
            timeout=60.0,
        )
        self._pool = ThreadPoolExecutor(max_workers=parallelism)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._pool.shutdown()
        self._http.close()

    # -- requests ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code == 404 and method == "GET":
            return None
        payload = response.json()
        if not payload.get("success"):
            raise ReplayError(f"{method} {path}: {response.status_code} {payload.get('errors')}")
        return payload["result"]

    def _parallel(self, calls: Iterable[Callable[[], T]]) -> list[T]:
        return list(self._pool.map(lambda call: call(), calls))

    def _zone_path(self, cert: Certificate, *rest: str) -> str:
        return "/".join(["/zones", self.zone_ids[cert.zone], AOP, *rest])

    # -- the operations ----------------------------------------------------------------------

    def refresh(self, certs: list[Certificate]) -> None:
        """One GET per object the tool manages."""
        paths = [f"/zones/{z}/settings/ssl" for z in sorted({self.zone_ids[c.zone] for c in certs})]
        for cert in certs:
            cert_id = self.certificate_ids.get(cert.name)
            if cert_id:
                paths.append(self._zone_path(cert, "hostnames", "certificates", cert_id))
            paths += [self._zone_path(cert, "hostnames", hostname) for hostname in cert.hostnames]
        self._parallel(partial(self._call, "GET", path) for path in paths)

    def first_apply(self, certs: list[Certificate], config_dir: Path) -> None:
        """SSL modes, then each certificate deployed in turn; its hostnames bound meanwhile."""
        zones = sorted({self.zone_ids[c.zone] for c in certs})
        self._parallel(
            partial(self._call, "PATCH", f"/zones/{zone_id}/settings/ssl", {"value": "full"})
            for zone_id in zones
        )
        pending = []
        for cert in certs:
            self.certificate_ids[cert.name] = self._deploy(cert, config_dir, "1")
            pending += [self._pool.submit(self._bind, cert, h) for h in cert.hostnames]
        for future in pending:
            future.result()

    def rotate(self, certs: list[Certificate], config_dir: Path) -> None:
        """Refresh, then per certificate: deploy the new one, re-bind, delete the old one."""
        self.refresh(certs)
        for cert in certs:
            old = self.certificate_ids[cert.name]
            self.certificate_ids[cert.name] = self._deploy(cert, config_dir, "2")
            self._parallel(partial(self._bind, cert, hostname) for hostname in cert.hostnames)
            path = self._zone_path(cert, "hostnames", "certificates", old)
            deleted = self._call("DELETE", path)
            self._await(path, lambda found: found is None or found["status"] == "deleted", deleted)

    # -- steps -------------------------------------------------------------------------------

    def _deploy(self, cert: Certificate, config_dir: Path, release: str) -> str:
        body = {
            "certificate": (config_dir / cert.pem_path(release, "crt")).read_text(),
            "private_key": (config_dir / cert.pem_path(release, "key")).read_text(),
        }
        uploaded = self._call("POST", self._zone_path(cert, "hostnames", "certificates"), body)
        cert_id = str(uploaded["id"])
        path = self._zone_path(cert, "hostnames", "certificates", cert_id)
        self._await(path, lambda found: found is not None and found["status"] == "active", uploaded)
        return cert_id

    def _bind(self, cert: Certificate, hostname: str) -> None:
        update = {"hostname": hostname, "cert_id": self.certificate_ids[cert.name], "enabled": True}
        self._call("PUT", self._zone_path(cert, "hostnames"), {"config": [update]})

    def _await(self, path: str, done: Callable[[Any], bool], answer: Any) -> None:
        """Poll at aopctl's intervals until `done`, starting from the answer just received."""
        intervals = poll_intervals(self.poll_initial, self.poll_max)
        while not done(answer):
            time.sleep(next(intervals))
            answer = self._call("GET", path)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.baseline")
    parser.add_argument("step", choices=("apply", "plan", "rotate", "drift"))
    parser.add_argument("--scale", required=True, type=Scale.parse)
    parser.add_argument("--config", required=True, type=Path, help="Where the PEM files are.")
    parser.add_argument("--state", required=True, type=Path)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--parallelism", type=int, default=10)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _arguments(argv)
    state = json.loads(args.state.read_text())
    certs = certificates(args.scale, prefix="b")
    token = os.environ["CLOUDFLARE_API_TOKEN"]
    with Replay(args.base_url, token, state["zone_ids"], parallelism=args.parallelism) as tool:
        tool.certificate_ids = dict(state.get("certificate_ids", {}))
        if args.step == "apply":
            tool.first_apply(certs, args.config)
        elif args.step == "rotate":
            tool.rotate(certs, args.config)
        else:
            tool.refresh(certs)
        state["certificate_ids"] = tool.certificate_ids
    args.state.write_text(json.dumps(state, indent=1) + "\n")


if __name__ == "__main__":
    main()
