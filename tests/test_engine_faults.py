"""Applies through a misbehaving API: 429 storms, 5xx, lost responses, Cloudflare timeouts.

Each scenario arms faults in the sandbox, applies (a first apply or a rotation), then applies
again without faults. Whatever the first run did, the second must converge with exactly one
certificate per certificate resource, no orphan and no zero-downtime violation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from certgen import make_leaf
from conftest import FakeClock
from engine_helpers import (
    Harness,
    assert_zero_downtime,
    bindings,
    harness_for_example,
    live_certificates,
    state_backend,  # noqa: F401  (the fixture, used through pytestmark)
)

from planner.errors import ApplyError
from planner.sandbox import Sandbox
from state import StateDocument, StateError

UPLOADS = "*/origin_tls_client_auth/hostnames/certificates"
ROTATE = {"app_release": "2027"}

# Every test here runs against both state backends (the local file and PostgreSQL).
pytestmark = pytest.mark.usefixtures("state_backend")


def assert_one_certificate_per_resource(harness: Harness) -> None:
    """Every live hostname certificate is the one the state names: no duplicate, no orphan."""
    state = harness.state()
    for zone in ("example.com", "example.net"):
        zone_id = harness.sandbox.zone_id(zone)
        managed = sorted(
            r.remote_id or ""
            for r in state.resources
            if r.type == "aop_hostname_certificate" and r.zone_id == zone_id
        )
        live = sorted(c.id for c in live_certificates(harness.sandbox, zone))
        assert live == managed, f"{zone}: live {live}, state {managed}"
        assert all(not r.attributes.get("deposed") for r in state.resources), (
            "a superseded certificate is still recorded"
        )
        for cert_id, _ in bindings(harness.sandbox, zone).values():
            assert cert_id in managed


def storm_429(sandbox: Sandbox) -> None:
    sandbox.faults.add("rate_limited", times=4, retry_after=1)


def server_errors(sandbox: Sandbox) -> None:
    sandbox.faults.add("server_error", method="POST", path=UPLOADS, times=2, status=503)
    sandbox.faults.add("server_error", method="PUT", path="*/hostnames", times=2, status=502,
                       html=True)  # fmt: skip
    sandbox.faults.add("server_error", method="GET", times=1, status=503)


def lost_upload_response(sandbox: Sandbox) -> None:
    sandbox.faults.add("lost_response", method="POST", path=UPLOADS, times=1)


def connection_resets(sandbox: Sandbox) -> None:
    sandbox.faults.add("connection_reset", method="PUT", times=2)
    sandbox.faults.add("connection_reset", method="GET", times=1)


def app_zone(sandbox: Sandbox) -> str:
    return f"*/zones/{sandbox.zone_id('example.com')}/*"


def deployment_timeout(sandbox: Sandbox) -> None:
    sandbox.faults.add("deployment_timed_out", method="POST", path=app_zone(sandbox))


def deletion_timeout(sandbox: Sandbox) -> None:
    sandbox.faults.add("deletion_timed_out", method="DELETE", path=app_zone(sandbox))


TRANSIENT: list[Callable[[Sandbox], None]] = [
    storm_429,
    server_errors,
    lost_upload_response,
    connection_resets,
]


def prepared(tmp_path: Path, clock: FakeClock, phase: str) -> Harness:
    harness = harness_for_example("per-hostname", tmp_path, clock)
    if phase == "rotation":
        harness.apply()
    return harness


def variables(phase: str) -> dict[str, str]:
    return ROTATE if phase == "rotation" else {}


@pytest.mark.parametrize("phase", ["first apply", "rotation"])
@pytest.mark.parametrize("arm", TRANSIENT, ids=lambda arm: arm.__name__)
def test_transient_faults_are_retried(
    tmp_path: Path, clock: FakeClock, phase: str, arm: Callable[[Sandbox], None]
) -> None:
    harness = prepared(tmp_path, clock, phase)
    arm(harness.sandbox)

    harness.apply(variables(phase))  # retries absorb every one of these faults

    assert harness.sandbox.faults.pending == []  # each armed fault was actually hit
    harness.apply(variables(phase))
    harness.assert_converged(variables(phase))
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


def test_429_storm_waits_for_retry_after(tmp_path: Path, clock: FakeClock) -> None:
    harness = prepared(tmp_path, clock, "first apply")
    storm_429(harness.sandbox)
    before = clock()

    harness.apply()

    assert harness.client.stats.rate_limited == 4
    assert clock() - before >= 1  # the server's Retry-After was honoured (on the fake clock)
    assert_one_certificate_per_resource(harness)


def test_lost_upload_response_does_not_duplicate(tmp_path: Path, clock: FakeClock) -> None:
    harness = prepared(tmp_path, clock, "rotation")
    lost_upload_response(harness.sandbox)
    start = len(harness.sandbox.requests)

    harness.apply(ROTATE)

    posts = [r for r in harness.sandbox.requests[start:] if r.method == "POST"]
    assert [r.status for r in posts] == [None]  # sent once, answer lost, adopted by fingerprint
    assert_one_certificate_per_resource(harness)
    harness.assert_converged(ROTATE)


@pytest.mark.parametrize("phase", ["first apply", "rotation"])
def test_deployment_timed_out_is_an_error_a_rerun_resumes(
    tmp_path: Path, clock: FakeClock, phase: str
) -> None:
    harness = prepared(tmp_path, clock, phase)
    deployment_timeout(harness.sandbox)

    with pytest.raises(ApplyError) as raised:
        harness.apply(variables(phase))

    assert "aop_hostname_certificate.app" in raised.value.message
    assert "deployment_timed_out" in raised.value.message
    assert_zero_downtime(harness.sandbox)  # nothing was bound to the failed certificate
    harness.apply(variables(phase))
    harness.assert_converged(variables(phase))
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


def test_deletion_timed_out_is_an_error_a_rerun_resumes(tmp_path: Path, clock: FakeClock) -> None:
    harness = prepared(tmp_path, clock, "rotation")
    old_id = harness.remote_id("aop_hostname_certificate.app")
    deletion_timeout(harness.sandbox)

    with pytest.raises(ApplyError) as raised:
        harness.apply(ROTATE)

    assert old_id in raised.value.message and "deletion_timed_out" in raised.value.message
    app = harness.state().get("aop_hostname_certificate.app")
    assert app is not None and app.attributes.get("deposed") == [old_id]
    harness.apply(ROTATE)
    harness.assert_converged(ROTATE)
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


def test_deploy_timeout_of_our_own_names_the_object(tmp_path: Path, clock: FakeClock) -> None:
    harness = prepared(tmp_path, clock, "first apply")
    impatient = harness.settings.__class__(
        poll_initial=0.5, poll_max=0.5, deploy_timeout=1.0, sleep=clock.sleep, clock=clock
    )

    with pytest.raises(ApplyError) as raised:
        harness.apply(settings=impatient)  # the sandbox needs 2 s to deploy

    assert "aop_hostname_certificate." in raised.value.message
    assert "--deploy-timeout" in raised.value.message
    plan = harness.plan().plan
    assert {c.action.value for c in plan.changes if c.address.type.endswith("certificate")} <= {
        "wait"
    }
    harness.apply()
    harness.assert_converged()
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


@pytest.mark.parametrize("stop", ["before re-pointing", "after re-pointing"])
def test_rolling_back_an_unfinished_rotation_keeps_the_old_certificate(
    tmp_path: Path, clock: FakeClock, stop: str
) -> None:
    # The rotation stops half-way (our deploy timeout, or the old certificate's DELETE failing
    # for good) and the operator rolls back: the old certificate, still uploaded, is adopted
    # again, and it must not also be deleted as the superseded one.
    harness = prepared(tmp_path, clock, "rotation")
    old_id = harness.remote_id("aop_hostname_certificate.app")
    settings = harness.settings
    if stop == "before re-pointing":
        settings = settings.__class__(
            poll_initial=0.5, poll_max=0.5, deploy_timeout=1.0, sleep=clock.sleep, clock=clock
        )
    else:
        harness.sandbox.faults.add(
            "server_error", method="DELETE", path=f"{UPLOADS}/*", times=None, status=503
        )

    with pytest.raises(ApplyError):
        harness.apply(ROTATE, settings=settings)
    harness.sandbox.faults.clear()
    new_id = harness.remote_id("aop_hostname_certificate.app")
    assert new_id != old_id

    harness.apply()

    assert harness.remote_id("aop_hostname_certificate.app") == old_id
    harness.assert_converged()
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


def test_a_state_write_failing_mid_apply_is_reported_and_a_rerun_converges(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Disk full, say, right after the new certificate's upload: the error must not claim that
    # the state holds everything done, and the next run must find the upload.
    harness = prepared(tmp_path, clock, "rotation")
    write = harness.backend.write
    writes: list[int] = []

    def disk_full(doc: StateDocument, expected_serial: int) -> StateDocument:
        writes.append(expected_serial)
        if len(writes) == 2:  # the first records the refresh, the second the upload
            raise StateError("cannot write state file: No space left on device")
        return write(doc, expected_serial)

    monkeypatch.setattr(harness.backend, "write", disk_full)
    with pytest.raises(ApplyError) as raised:
        harness.apply(ROTATE)
    monkeypatch.undo()

    assert "No space left on device" in raised.value.message
    assert "could not record the last change" in raised.value.reasons[-1]
    harness.apply(ROTATE)
    harness.assert_converged(ROTATE)
    assert_one_certificate_per_resource(harness)
    assert_zero_downtime(harness.sandbox)


def test_rolling_back_when_the_new_certificate_is_gone_too_keeps_the_old_one(
    tmp_path: Path, clock: FakeClock
) -> None:
    # A zone-level rotation stops before its end (state: the new one, the old one deposed),
    # the new one is deleted out of band, the operator rolls back: the old certificate is
    # imported again, and must not also be deleted as the superseded one, which would leave
    # zone-level AOP on with no certificate.
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()
    old_id = harness.remote_id("aop_zone_certificate.client")
    old_pem = harness.directory / "certs" / "zone-client-2026.crt.pem"
    old_key = harness.directory / "certs" / "zone-client-2026.key.pem"
    saved = old_pem.read_text(), old_key.read_text()
    renewed = make_leaf("zone client 2027")
    old_pem.write_text(renewed.cert_pem)
    old_key.write_text(renewed.key_pem)
    impatient = harness.settings.__class__(
        poll_initial=0.5, poll_max=0.5, deploy_timeout=1.0, sleep=clock.sleep, clock=clock
    )
    with pytest.raises(ApplyError):
        harness.apply(settings=impatient)
    new_id = harness.remote_id("aop_zone_certificate.client")
    harness.sandbox.seed_deletion("example.com", new_id, status="deleted")
    old_pem.write_text(saved[0])
    old_key.write_text(saved[1])

    harness.apply()

    assert harness.remote_id("aop_zone_certificate.client") == old_id
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_a_targeted_apply_leaves_a_half_done_rotation_alone(
    tmp_path: Path, clock: FakeClock
) -> None:
    # The rotation stopped with the new zone certificate still deploying and the old one
    # deposed: a plan targeting something else must not delete the old one, which is still
    # the only active certificate while zone-level AOP is on.
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()
    renewed = make_leaf("zone client 2027")
    (harness.directory / "certs" / "zone-client-2026.crt.pem").write_text(renewed.cert_pem)
    (harness.directory / "certs" / "zone-client-2026.key.pem").write_text(renewed.key_pem)
    impatient = harness.settings.__class__(
        poll_initial=0.5, poll_max=0.5, deploy_timeout=1.0, sleep=clock.sleep, clock=clock
    )
    with pytest.raises(ApplyError):
        harness.apply(settings=impatient)

    plan = harness.plan(targets=["aop_ssl_mode.main"]).plan

    assert plan.changes == ()
    harness.apply()
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)
