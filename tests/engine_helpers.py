"""Helpers for the engine's end-to-end tests (tests/test_engine_*.py).

`Harness` drives one configuration directory in-process the way the CLI does (configuration ->
state -> refresh -> plan -> apply) against a `Sandbox`, with everything on one fake clock: the
sandbox's deployment delays, the apply's polling and the client's retry back-off all read and
advance the same `FakeClock`, so a 2-second deployment costs no wall-clock time.

The inspection helpers read the sandbox account directly (not through aopctl's client), so a
test's verdict never depends on the code under test.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeClock

from planner import __version__
from planner.apply import ApplyOutcome, ApplySettings, apply_plan
from planner.cloudflare import CloudflareClient, Credentials
from planner.cloudflare.ratelimit import RateLimiter
from planner.cloudflare.retry import RetryPolicy
from planner.config import Configuration, VariableInputs, load_configuration
from planner.live import Refresher
from planner.model import Address
from planner.plan import PlanOptions, PlanResult, make_plan
from planner.sandbox import Sandbox
from planner.sandbox.model import Certificate
from state import LocalBackend, StateBackend, StateDocument

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BASE_URL = "https://api.cloudflare.com/client/v4"
STATE_FILE = "aopctl.state.json"
# For the CLI on `--sandbox`: no waiting, the sandbox's own token, no colour.
SANDBOX_CLI_ENV = {
    "AOPCTL_SANDBOX_DEPLOY_DELAY": "0",
    "AOPCTL_SANDBOX_DELETE_DELAY": "0",
    "CLOUDFLARE_API_TOKEN": "",
    "CLOUDFLARE_API_KEY": "",
    "NO_COLOR": "1",
}
HOSTNAMES_PATH = re.compile(r"/zones/[0-9a-f]{32}/origin_tls_client_auth/hostnames$")


@dataclass
class RecordingReporter:
    """The apply's progress, kept for assertions and failure messages."""

    lines: list[str] = field(default_factory=list)

    def step_started(self, step: str, message: str) -> None:
        self.lines.append(f"start {step}: {message}")

    def step_progress(self, step: str, message: str) -> None:
        self.lines.append(f"... {step}: {message}")

    def step_finished(self, step: str, message: str) -> None:
        self.lines.append(f"done {step}: {message}")


def copy_example(name: str, destination: Path) -> Path:
    """A private copy of examples/NAME (tests may edit it); returns the directory."""
    target = destination / name
    shutil.copytree(EXAMPLES / name, target)
    return target


def write_config(directory: Path, document: Mapping[str, Any], name: str = "main") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.aop.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def make_sandbox(
    clock: FakeClock,
    zones: Iterable[str] = ("example.com", "example.net"),
    *,
    deploy_delay: float = 2.0,
    delete_delay: float = 1.0,
) -> Sandbox:
    """A sandbox on the fake clock with real (simulated) deployment and deletion delays."""
    return Sandbox(
        tuple(zones),
        deploy_delay=deploy_delay,
        delete_delay=delete_delay,
        rate_limit=None,
        clock=clock,
        sleep=clock.sleep,
    )


def _local_backend(directory: Path) -> StateBackend:
    return LocalBackend(directory / STATE_FILE, aopctl_version=__version__)


# The state backend every Harness uses; the `state_backend` fixture switches it.
_backend_factory: Callable[[Path], StateBackend] = _local_backend


@pytest.fixture(params=["local", "postgres"])
def state_backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Runs a test once with the local state file and once with the PostgreSQL backend."""
    global _backend_factory
    if request.param == "local":
        yield "local"
        return
    from pg_support import DSN, scratch_schema

    from state.postgres import EMERGENCY_FILE, PostgresBackend

    made: list[PostgresBackend] = []

    def postgres(directory: Path) -> StateBackend:
        backend = PostgresBackend(
            DSN,
            schema=schema,
            workspace=uuid.uuid4().hex[:12],
            aopctl_version=__version__,
            emergency_path=directory / EMERGENCY_FILE,
        )
        made.append(backend)
        return backend

    with scratch_schema("aopctl_engine") as schema:
        _backend_factory = postgres
        try:
            yield "postgres"
            assert made, "the test never used a Harness, so it never touched PostgreSQL"
        finally:
            _backend_factory = _local_backend
            for backend in made:
                backend.close()


class Harness:
    """One configuration directory, its local state and a sandbox, driven in-process."""

    def __init__(self, directory: Path, sandbox: Sandbox, clock: FakeClock) -> None:
        self.directory = directory
        self.sandbox = sandbox
        self.clock = clock
        self.client = CloudflareClient(
            Credentials.from_token("engine-test-token"),
            base_url=BASE_URL,
            transport=sandbox.transport(),
            retry=RetryPolicy(sleep=clock.sleep, clock=clock, rand=lambda: 0.5),
            # A generous bucket: its waits are sub-microsecond at the fake clock's epoch
            # magnitude, below a float's resolution there, so they would never elapse.
            rate_limiter=RateLimiter(1_000_000, clock=clock, sleep=clock.sleep),
        )
        self.backend: StateBackend = _backend_factory(directory)
        self.reporter = RecordingReporter()
        self.settings = ApplySettings(
            parallelism=10,
            poll_initial=0.5,
            poll_max=2.0,
            sleep=clock.sleep,
            clock=clock,
        )

    # -- the engine ------------------------------------------------------------------------

    def config(self, variables: Mapping[str, str] | None = None) -> Configuration:
        inputs = VariableInputs(cli=dict(variables or {}))
        return load_configuration(self.directory, inputs, env={})

    def state(self) -> StateDocument:
        return self.backend.read()

    def plan(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        mode: str = "normal",
        targets: Iterable[str] = (),
        replace: Iterable[str] = (),
    ) -> PlanResult:
        options = PlanOptions(
            mode=mode,
            targets=tuple(Address.parse(t) for t in targets),
            replace=tuple(Address.parse(r) for r in replace),
        )
        config = None if mode == "destroy" and not self._has_config() else self.config(variables)
        return make_plan(config, self.state(), Refresher(self.client), options)

    def apply(
        self,
        variables: Mapping[str, str] | None = None,
        *,
        settings: ApplySettings | None = None,
        **options: Any,
    ) -> ApplyOutcome:
        result = self.plan(variables, **options)
        return apply_plan(
            result, self.client, self.backend, self.reporter, settings or self.settings
        )

    def assert_converged(self, variables: Mapping[str, str] | None = None) -> None:
        """A fresh plan has nothing to do and finds nothing changed outside aopctl."""
        plan = self.plan(variables).plan
        changes = [(c.action.value, str(c.address), c.reason) for c in plan.changes]
        assert not changes, f"not converged: {changes}\n" + "\n".join(self.reporter.lines)
        assert not plan.drift, f"unexpected drift after apply: {plan.drift}"

    def _has_config(self) -> bool:
        return any(self.directory.glob("*.aop.json"))

    # -- the state ---------------------------------------------------------------------------

    def remote_id(self, address: str) -> str:
        resource = self.state().get(address)
        assert resource is not None and resource.remote_id, f"{address} is not in the state"
        return resource.remote_id


def harness_for_example(name: str, tmp_path: Path, clock: FakeClock, **sandbox: Any) -> Harness:
    return Harness(copy_example(name, tmp_path), make_sandbox(clock, **sandbox), clock)


# -- reading the sandbox directly -----------------------------------------------------------


def live_certificates(sandbox: Sandbox, zone: str, kind: str = "hostname") -> list[Certificate]:
    """Certificates of `zone` that exist now: not purged and not being deleted."""
    zone_id = sandbox.zone_id(zone)
    now = sandbox.clock()
    return sorted(
        (
            cert
            for cert in sandbox.account.certs_in(zone_id, kind)  # type: ignore[arg-type]
            if cert.visible_at(now) and not cert.deleted(now)
        ),
        key=lambda cert: cert.uploaded_on,
    )


def certificate_status(sandbox: Sandbox, cert_id: str) -> str | None:
    cert = sandbox.account.certificates.get(cert_id)
    return cert.status_at(sandbox.clock()) if cert else None


def bindings(sandbox: Sandbox, zone: str) -> dict[str, tuple[str, bool]]:
    """hostname -> (certificate id, enabled) for every association of the zone."""
    zone_id = sandbox.zone_id(zone)
    return {a.hostname: (a.cert_id, a.enabled) for a in sandbox.account.associations_in(zone_id)}


def setting(sandbox: Sandbox, zone: str, name: str) -> str:
    return sandbox.account.zones[sandbox.zone_id(zone)].settings[name].value


def zone_aop_enabled(sandbox: Sandbox, zone: str) -> bool:
    return sandbox.account.zones[sandbox.zone_id(zone)].aop_enabled


def requests_since(sandbox: Sandbox, start: int) -> Counter[str]:
    """Requests received since index `start` of `sandbox.requests`, counted by method."""
    return Counter(request.method for request in sandbox.requests[start:])


def hostname_puts_since(sandbox: Sandbox, start: int) -> int:
    return sum(
        1
        for request in sandbox.requests[start:]
        if request.method == "PUT" and HOSTNAMES_PATH.search(request.path)
    )


def assert_zero_downtime(sandbox: Sandbox) -> None:
    violations = sandbox.check_zero_downtime()
    assert not violations, "\n".join(violations)


# -- private keys ---------------------------------------------------------------------------


def key_fragments(*paths: Path) -> list[str]:
    """Distinctive pieces of each private key's base64 body, for leak searches.

    Whole PEM lines (64 characters) are searched for, plus the body joined on one line, so a
    key re-wrapped or escaped (`\\n`) in JSON is still found.
    """
    fragments: list[str] = []
    for path in paths:
        body = [
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("-----")
        ]
        fragments.extend(line for line in body if len(line) >= 32)
        fragments.append("".join(body)[:48])
    return fragments


def example_key_files() -> list[Path]:
    return sorted((EXAMPLES / "certs").glob("*.key.pem"))


def assert_no_key_material(text: str, fragments: Iterable[str], where: str) -> None:
    leaked = [f for f in fragments if f in text]
    assert not leaked, f"{where} contains private key material"
    assert "PRIVATE KEY" not in text, f"{where} contains a PEM private key header"
