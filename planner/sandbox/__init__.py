"""A simulated Cloudflare API for Authenticated Origin Pulls, faithful to the published spec.

It plays Cloudflare for the test suite, for `aopctl --sandbox` and for `aopctl sandbox serve`,
and is independent of aopctl's own client (`planner.cloudflare`) and certificate code
(`planner.certs`) so that it catches their mistakes. Three front ends share one handler,
`Sandbox.handle`:

    sandbox = Sandbox(clock=fake_clock)
    httpx.Client(transport=sandbox.transport(), base_url="https://api.cloudflare.com/client/v4")
    with sandbox.serve() as base_url: ...              # http://127.0.0.1:PORT/client/v4
    open_persistent(default_path(config_dir))          # file-backed, locked per request

Modules: `operations` (routes, the 16 operations), `model` (account state, status phases),
`certinfo` (PEM parsing as Cloudflare does it), `faults`, `checker` (zero-downtime invariant),
`responses` (envelopes and the error-code table), `transport`, `server`, `store`.
"""

from planner.sandbox.app import Sandbox, SandboxConfigError, env_settings, parse_rate_limit
from planner.sandbox.faults import Fault, FaultInjector
from planner.sandbox.model import RecordedRequest, TimelineEvent, zone_id_for
from planner.sandbox.responses import Response
from planner.sandbox.store import PersistentSandbox, default_path, open_persistent

__all__ = [
    "Fault",
    "FaultInjector",
    "PersistentSandbox",
    "RecordedRequest",
    "Response",
    "Sandbox",
    "SandboxConfigError",
    "TimelineEvent",
    "default_path",
    "env_settings",
    "open_persistent",
    "parse_rate_limit",
    "zone_id_for",
]
