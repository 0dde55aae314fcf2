"""End-to-end applies of the examples, rotations and removals against the sandbox (fake clock).

Each test asserts the end state: the sandbox's objects, the state file, the outputs, and that a
fresh plan is empty (convergence) with no zero-downtime violation on the sandbox's timeline.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from certgen import Issued, make_leaf
from conftest import FakeClock
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from engine_helpers import (
    EXAMPLES,
    Harness,
    assert_zero_downtime,
    bindings,
    copy_example,
    harness_for_example,
    hostname_puts_since,
    live_certificates,
    make_sandbox,
    requests_since,
    setting,
    state_backend,  # noqa: F401  (the fixture, used through pytestmark)
    write_config,
    zone_aop_enabled,
)

from planner.errors import PlanError
from planner.plan_model import Action

# Every test here runs against both state backends (the local file and PostgreSQL).
pytestmark = pytest.mark.usefixtures("state_backend")


def fingerprint(pem_path: Path) -> str:
    cert = x509.load_pem_x509_certificate(pem_path.read_bytes())
    return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()


CERTS = EXAMPLES / "certs"
CERTIFICATE_PATH = re.compile(r"/origin_tls_client_auth/hostnames/certificates/[^/]+$")
APP_2026 = fingerprint(CERTS / "app-2026.crt.pem")
APP_2027 = fingerprint(CERTS / "app-2027.crt.pem")
SHOP_2026 = fingerprint(CERTS / "shop-2026.crt.pem")
ZONE_2026 = fingerprint(CERTS / "zone-client-2026.crt.pem")


# -- first applies ---------------------------------------------------------------------------


def test_global_example_enables_global_aop(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("global", tmp_path, clock)
    harness.apply()

    assert setting(harness.sandbox, "example.com", "ssl") == "full"
    assert setting(harness.sandbox, "example.com", "tls_client_auth") == "on"
    assert live_certificates(harness.sandbox, "example.com", "zone") == []
    assert set(harness.state().addresses) == {"aop_global.main", "aop_ssl_mode.main"}
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_zone_certificate_example(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()

    [cert] = live_certificates(harness.sandbox, "example.com", "zone")
    assert cert.fingerprint_sha256 == ZONE_2026
    assert cert.status_at(clock()) == "active"
    assert zone_aop_enabled(harness.sandbox, "example.com")
    assert setting(harness.sandbox, "example.com", "ssl") == "strict"
    state = harness.state()
    assert harness.remote_id("aop_zone_certificate.client") == cert.id
    assert state.outputs["zone_certificate_id"].value == cert.id
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def apply_per_hostname(tmp_path: Path, clock: FakeClock) -> Harness:
    harness = harness_for_example("per-hostname", tmp_path, clock)
    harness.apply()
    return harness


def test_per_hostname_example(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)
    sandbox = harness.sandbox

    [app] = live_certificates(sandbox, "example.com")
    [shop] = live_certificates(sandbox, "example.net")
    assert (app.fingerprint_sha256, shop.fingerprint_sha256) == (APP_2026, SHOP_2026)
    assert bindings(sandbox, "example.com") == {
        "api.example.com": (app.id, True),
        "app.example.com": (app.id, True),
    }
    assert bindings(sandbox, "example.net") == {"shop.example.net": (shop.id, True)}
    assert (
        setting(sandbox, "example.com", "ssl") == setting(sandbox, "example.net", "ssl") == "full"
    )
    outputs = harness.state().outputs
    assert outputs["app_certificate_id"].value == app.id
    assert outputs["app_certificate_fingerprint"].value == APP_2026
    harness.assert_converged()
    assert_zero_downtime(sandbox)


# -- rotations -------------------------------------------------------------------------------


def test_per_hostname_rotation(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)
    sandbox = harness.sandbox
    old_id = harness.remote_id("aop_hostname_certificate.app")
    start = len(sandbox.requests)

    harness.apply({"app_release": "2027"})

    writes = requests_since(sandbox, start)
    assert (writes["POST"], writes["DELETE"]) == (1, 1)
    [app] = live_certificates(sandbox, "example.com")
    assert app.fingerprint_sha256 == APP_2027 and app.id != old_id
    assert old_id not in {c.id for c in live_certificates(sandbox, "example.com")}
    assert set(bindings(sandbox, "example.com").values()) == {(app.id, True)}
    app_state = harness.state().get("aop_hostname_certificate.app")
    assert app_state is not None and "deposed" not in app_state.attributes
    assert harness.state().outputs["app_certificate_id"].value == app.id
    harness.assert_converged({"app_release": "2027"})
    assert_zero_downtime(sandbox)


def hostnames(count: int, zone: str = "example.com") -> list[str]:
    return [f"h{i:03d}.{zone}" for i in range(count)]


def hostname_config(
    directory: Path, issued: Issued, names: list[str], zone: str = "example.com"
) -> None:
    (directory / "certs").mkdir(parents=True, exist_ok=True)
    (directory / "certs" / "cert.pem").write_text(issued.cert_pem, encoding="utf-8")
    (directory / "certs" / "key.pem").write_text(issued.key_pem, encoding="utf-8")
    write_config(
        directory,
        {
            "resource": {
                "aop_ssl_mode": {"main": {"zone": zone, "mode": "full"}},
                "aop_hostname_certificate": {
                    "bulk": {
                        "zone": zone,
                        "certificate": '${file("certs/cert.pem")}',
                        "private_key": '${file("certs/key.pem")}',
                    }
                },
                "aop_hostname_binding": {
                    "bulk": {
                        "zone": zone,
                        "hostnames": names,
                        "certificate_id": "${aop_hostname_certificate.bulk.id}",
                        "enabled": True,
                        "depends_on": ["aop_ssl_mode.main"],
                    }
                },
            }
        },
    )


def test_rotation_of_a_certificate_bound_to_100_hostnames(tmp_path: Path, clock: FakeClock) -> None:
    names = hostnames(100)
    harness = Harness(tmp_path / "cfg", make_sandbox(clock), clock)
    hostname_config(harness.directory, make_leaf("bulk 1", sans=names[:3]), names)
    harness.apply()
    old_id = harness.remote_id("aop_hostname_certificate.bulk")
    replacement = make_leaf("bulk 2", sans=names[:3])
    hostname_config(harness.directory, replacement, names)
    start = len(harness.sandbox.requests)

    harness.apply()

    counts = requests_since(harness.sandbox, start)
    assert counts["POST"] == 1
    assert counts["DELETE"] == 1
    assert counts["PATCH"] == 0
    assert hostname_puts_since(harness.sandbox, start) <= 2
    [cert] = live_certificates(harness.sandbox, "example.com")
    assert cert.fingerprint_sha256 == replacement.fingerprint_sha256 and cert.id != old_id
    assert set(bindings(harness.sandbox, "example.com").values()) == {(cert.id, True)}
    assert len(bindings(harness.sandbox, "example.com")) == 100
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_zone_certificate_rotation(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()
    old_id = harness.remote_id("aop_zone_certificate.client")
    replacement = make_leaf("aopctl example zone client 2027", key_type="rsa")
    certs = harness.directory / "certs"
    (certs / "zone-client-2026.crt.pem").write_text(replacement.cert_pem, encoding="utf-8")
    (certs / "zone-client-2026.key.pem").write_text(replacement.key_pem, encoding="utf-8")

    plan = harness.plan().plan
    assert [(c.action, str(c.address)) for c in plan.changes] == [
        (Action.REPLACE, "aop_zone_certificate.client")
    ]
    harness.apply()

    [cert] = live_certificates(harness.sandbox, "example.com", "zone")
    assert cert.fingerprint_sha256 == replacement.fingerprint_sha256 and cert.id != old_id
    assert zone_aop_enabled(harness.sandbox, "example.com")
    assert harness.state().outputs["zone_certificate_id"].value == cert.id
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


# -- removals --------------------------------------------------------------------------------


def edit_config(directory: Path, edit: dict[str, list[str]]) -> None:
    """Drop resources: `{"aop_hostname_binding": ["app"], ...}`."""
    path = directory / "main.aop.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for resource_type, names in edit.items():
        for name in names:
            del document["resource"][resource_type][name]
    outputs = document.get("output", {})
    for name in [n for n, o in outputs.items() if "aop_hostname_certificate.app" in o["value"]]:
        if "app" in edit.get("aop_hostname_certificate", []):
            del outputs[name]
    path.write_text(json.dumps(document), encoding="utf-8")


def test_removing_a_binding_voids_its_hostnames(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)
    app_id = harness.remote_id("aop_hostname_certificate.app")
    edit_config(harness.directory, {"aop_hostname_binding": ["app"]})
    start = len(harness.sandbox.requests)

    harness.apply()

    [put] = [r for r in harness.sandbox.requests[start:] if r.method == "PUT"]
    assert {(c["hostname"], c["enabled"]) for c in put.body["config"]} == {
        ("api.example.com", None),
        ("app.example.com", None),
    }
    assert bindings(harness.sandbox, "example.com") == {}
    assert [c.id for c in live_certificates(harness.sandbox, "example.com")] == [app_id]
    assert "aop_hostname_binding.app" not in harness.state().addresses
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_removing_a_certificate_with_its_binding(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)
    edit_config(
        harness.directory,
        {"aop_hostname_binding": ["app"], "aop_hostname_certificate": ["app"]},
    )

    harness.apply()

    assert live_certificates(harness.sandbox, "example.com") == []
    assert bindings(harness.sandbox, "example.com") == {}
    assert len(live_certificates(harness.sandbox, "example.net")) == 1
    assert not {"aop_hostname_binding.app", "aop_hostname_certificate.app"} & set(
        harness.state().addresses
    )
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_destroy_removes_everything_in_state(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()

    harness.apply(mode="destroy")

    assert live_certificates(harness.sandbox, "example.com", "zone") == []
    assert not zone_aop_enabled(harness.sandbox, "example.com")
    assert setting(harness.sandbox, "example.com", "ssl") == "strict"  # forgotten, not reset
    assert harness.state().resources == ()
    assert not harness.plan(mode="destroy").plan.has_changes
    assert_zero_downtime(harness.sandbox)


def test_destroy_refuses_prevent_destroy(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)
    writes = harness.sandbox.write_count()

    with pytest.raises(PlanError) as raised:
        harness.plan(mode="destroy")

    assert any("aop_hostname_binding.shop" in reason for reason in raised.value.reasons)
    assert harness.sandbox.write_count() == writes


def test_destroy_with_nothing_in_state_is_empty(tmp_path: Path, clock: FakeClock) -> None:
    directory = copy_example("global", tmp_path)
    harness = Harness(directory, make_sandbox(clock), clock)
    assert not harness.plan(mode="destroy").plan.has_changes


def test_targeted_destroy_takes_the_dependents_along(tmp_path: Path, clock: FakeClock) -> None:
    harness = apply_per_hostname(tmp_path, clock)

    plan = harness.plan(mode="destroy", targets=["aop_hostname_certificate.app"]).plan
    assert {(c.action, str(c.address)) for c in plan.changes} == {
        (Action.DELETE, "aop_hostname_certificate.app"),
        (Action.DELETE, "aop_hostname_binding.app"),  # it holds the certificate
    }
    harness.apply(mode="destroy", targets=["aop_hostname_certificate.app"])

    assert live_certificates(harness.sandbox, "example.com") == []
    assert bindings(harness.sandbox, "example.com") == {}
    assert len(live_certificates(harness.sandbox, "example.net")) == 1
    assert "aop_hostname_binding.shop" in harness.state().addresses
    assert_zero_downtime(harness.sandbox)


def test_refresh_only_apply_records_drift_without_writing(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("global", tmp_path, clock)
    harness.apply()
    harness.sandbox.set_setting("example.com", "tls_client_auth", "off")
    writes = harness.sandbox.write_count()

    harness.apply(mode="refresh-only")

    assert harness.sandbox.write_count() == writes
    recorded = harness.state().get("aop_global.main")
    assert recorded is not None and recorded.attributes["enabled"] is False
    plan = harness.plan().plan
    assert not plan.drift  # the state now knows
    assert [(c.action, str(c.address)) for c in plan.changes] == [
        (Action.UPDATE, "aop_global.main")
    ]


def write_certificates_with_bindings(directory: Path, names: list[str]) -> None:
    """One hostname certificate per name in example.com, each bound to three hostnames."""
    (directory / "certs").mkdir(parents=True)
    resources: dict[str, dict[str, object]] = {
        "aop_ssl_mode": {"main": {"zone": "example.com", "mode": "full"}},
        "aop_hostname_certificate": {},
        "aop_hostname_binding": {},
    }
    for name in names:
        issued = make_leaf(f"{name}.example.com", sans=(f"{name}.example.com",))
        (directory / "certs" / f"{name}.crt.pem").write_text(issued.cert_pem)
        (directory / "certs" / f"{name}.key.pem").write_text(issued.key_pem)
        resources["aop_hostname_certificate"][name] = {
            "zone": "example.com",
            "certificate": f'${{file("certs/{name}.crt.pem")}}',
            "private_key": f'${{file("certs/{name}.key.pem")}}',
        }
        resources["aop_hostname_binding"][name] = {
            "zone": "example.com",
            "hostnames": [f"{name}{i}.example.com" for i in range(3)],
            "certificate_id": f"${{aop_hostname_certificate.{name}.id}}",
        }
    write_config(directory, {"resource": resources})


def test_bindings_of_one_zone_share_one_put(tmp_path: Path, clock: FakeClock) -> None:
    """Three bindings of one zone, ready together, are written with a single PUT."""
    directory = tmp_path / "three"
    write_certificates_with_bindings(directory, ["a", "b", "c"])
    harness = Harness(directory, make_sandbox(clock, ("example.com",)), clock)

    harness.apply()

    assert hostname_puts_since(harness.sandbox, 0) == 1
    assert len(bindings(harness.sandbox, "example.com")) == 9
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_deployments_are_awaited_side_by_side(tmp_path: Path, clock: FakeClock) -> None:
    """Waiting holds no worker: six uploads with parallelism 2 all deploy at the same time."""
    directory = tmp_path / "six"
    write_certificates_with_bindings(directory, list("abcdef"))
    harness = Harness(directory, make_sandbox(clock, ("example.com",), deploy_delay=60), clock)
    harness.settings = replace(harness.settings, parallelism=2)
    start = clock()

    harness.apply()

    uploads = [cert.uploaded_on for cert in live_certificates(harness.sandbox, "example.com")]
    assert len(uploads) == 6
    assert max(uploads) - min(uploads) < 60  # every upload went out before the first deployed
    assert clock() - start < 2 * 60  # one deployment's wait, not three in a row
    assert len(bindings(harness.sandbox, "example.com")) == 18
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_polls_of_many_waiting_certificates_spend_a_bounded_budget(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Six deployments of 60 s, polled at most 4 at once then one per 10 s in all."""
    directory = tmp_path / "six"
    write_certificates_with_bindings(directory, list("abcdef"))
    harness = Harness(directory, make_sandbox(clock, ("example.com",), deploy_delay=60), clock)
    harness.settings = replace(harness.settings, poll_burst=4, poll_rate=0.1)
    start, first_request = clock(), len(harness.sandbox.requests)

    harness.apply()

    polls = [
        r
        for r in harness.sandbox.requests[first_request:]
        if r.method == "GET" and CERTIFICATE_PATH.search(r.path)
    ]
    assert len(polls) <= 4 + 0.1 * (clock() - start) + 1
    assert len(polls) >= 6  # every certificate was seen active before its hostnames were bound
    assert len(bindings(harness.sandbox, "example.com")) == 18
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)
