"""Planning end to end: drift, adoption, safety rails, targeting, request counts, determinism.

Out-of-band changes are made the way a person at the dashboard would (the sandbox's seeding
helpers, or a raw API call), then aopctl plans and applies; the tests assert what the plan says
and what Cloudflare (the sandbox) holds afterwards.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from certgen import make_leaf
from conftest import FakeClock
from engine_helpers import (
    BASE_URL,
    EXAMPLES,
    Harness,
    assert_zero_downtime,
    bindings,
    harness_for_example,
    live_certificates,
    make_sandbox,
    requests_since,
    setting,
    state_backend,  # noqa: F401  (the fixture, used through pytestmark)
    write_config,
    zone_aop_enabled,
)

from planner.cloudflare import CloudflareClient, Credentials
from planner.errors import NotFoundError, PlanError
from planner.plan_model import Action
from planner.render import render_json, render_text

CERTS = EXAMPLES / "certs"
ROTATE = {"app_release": "2027"}

# Every test here runs against both state backends (the local file and PostgreSQL).
pytestmark = pytest.mark.usefixtures("state_backend")


def pem(name: str) -> str:
    return (CERTS / name).read_text(encoding="utf-8")


def actions(harness: Harness, variables: dict[str, str] | None = None) -> set[tuple[str, str]]:
    return {(c.action.value, str(c.address)) for c in harness.plan(variables).plan.changes}


def per_hostname(tmp_path: Path, clock: FakeClock, *, applied: bool = True) -> Harness:
    harness = harness_for_example("per-hostname", tmp_path, clock)
    if applied:
        harness.apply()
    return harness


def dashboard(sandbox_harness: Harness) -> httpx.Client:
    """A raw API client, as a person or another tool would use it."""
    return httpx.Client(
        transport=sandbox_harness.sandbox.transport(),
        base_url=BASE_URL,
        headers={"Authorization": "Bearer someone-else"},
    )


# -- drift -----------------------------------------------------------------------------------


def test_certificate_deleted_out_of_band_is_recreated(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    sandbox, zone_id = harness.sandbox, harness.sandbox.zone_id("example.com")
    old_id = harness.remote_id("aop_hostname_certificate.app")
    for hostname in ("api.example.com", "app.example.com"):
        sandbox.seed_association("example.com", hostname, old_id, None)
    with dashboard(harness) as api:
        path = f"/zones/{zone_id}/origin_tls_client_auth/hostnames/certificates/{old_id}"
        assert api.delete(path).status_code == 200
    clock.advance(5)

    plan = harness.plan().plan

    drift = {(d.kind, str(d.address)) for d in plan.drift}
    assert ("deleted", "aop_hostname_certificate.app") in drift
    [cert_change] = [c for c in plan.changes if c.address.type == "aop_hostname_certificate"]
    assert cert_change.action is Action.CREATE and "outside aopctl" in cert_change.reason
    harness.apply()
    [cert] = live_certificates(sandbox, "example.com")
    assert cert.id != old_id
    assert set(bindings(sandbox, "example.com").values()) == {(cert.id, True)}
    harness.assert_converged()
    assert_zero_downtime(sandbox)


def test_binding_repointed_out_of_band(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    sandbox = harness.sandbox
    app_id = harness.remote_id("aop_hostname_certificate.app")
    other = sandbox.seed_hostname_certificate(
        "example.com", (CERTS / "app-2027.crt.pem").read_text(encoding="utf-8")
    )
    sandbox.seed_association("example.com", "api.example.com", other, True)

    plan = harness.plan().plan

    [drift] = plan.drift
    assert (drift.kind, str(drift.address)) == ("changed", "aop_hostname_binding.app")
    changed = {a.name: (a.before, a.after) for a in drift.attributes}
    assert other in str(changed["certificate_id"][1])
    assert {(c.action, str(c.address)) for c in plan.changes} == {
        (Action.UPDATE, "aop_hostname_binding.app")
    }
    assert any(other in note for note in plan.notes)  # the dashboard's certificate is unmanaged
    harness.apply()
    assert bindings(sandbox, "example.com")["api.example.com"] == (app_id, True)
    harness.assert_converged()


def test_binding_disabled_out_of_band(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    app_id = harness.remote_id("aop_hostname_certificate.app")
    harness.sandbox.seed_association("example.com", "app.example.com", app_id, False)

    plan = harness.plan().plan

    assert [str(d.address) for d in plan.drift] == ["aop_hostname_binding.app"]
    [change] = plan.changes
    assert (change.action, str(change.address)) == (Action.UPDATE, "aop_hostname_binding.app")
    assert "app.example.com" in change.reason
    harness.apply()
    assert bindings(harness.sandbox, "example.com")["app.example.com"] == (app_id, True)
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_a_binding_half_disabled_out_of_band_settles_after_a_refresh_only_apply(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Mixed live values read as one value (null) that does not depend on what was recorded:
    # otherwise each refresh-only apply would record a value the next refresh reads as drift.
    harness = per_hostname(tmp_path, clock)
    app_id = harness.remote_id("aop_hostname_certificate.app")
    harness.sandbox.seed_association("example.com", "app.example.com", app_id, False)

    harness.apply(mode="refresh-only")

    assert harness.plan(mode="refresh-only").plan.drift == ()


def test_setting_toggled_out_of_band(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("global", tmp_path, clock)
    harness.apply()
    harness.sandbox.set_setting("example.com", "tls_client_auth", "off")

    plan = harness.plan().plan

    [drift] = plan.drift
    assert str(drift.address) == "aop_global.main"
    assert [(a.name, a.before, a.after) for a in drift.attributes] == [("enabled", True, False)]
    assert [(c.action, str(c.address)) for c in plan.changes] == [
        (Action.UPDATE, "aop_global.main")
    ]
    harness.apply()
    assert setting(harness.sandbox, "example.com", "tls_client_auth") == "on"
    harness.assert_converged()


def test_unmanaged_certificate_is_a_note_not_a_change(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    stranger = harness.sandbox.seed_hostname_certificate(
        "example.com", make_leaf("legacy.example.com").cert_pem
    )

    plan = harness.plan().plan

    assert not plan.changes and not plan.drift
    assert any("example.com" in note and stranger in note for note in plan.notes)
    assert stranger in render_text(plan, color=False)


# -- adoption ------------------------------------------------------------------------------


def test_identical_certificate_is_adopted_not_uploaded(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock, applied=False)
    sandbox = harness.sandbox
    seeded = sandbox.seed_hostname_certificate(
        "example.com", (CERTS / "app-2026.crt.pem").read_text(encoding="utf-8")
    )

    plan = harness.plan().plan
    [adopt] = [c for c in plan.changes if str(c.address) == "aop_hostname_certificate.app"]
    assert adopt.action is Action.IMPORT and seeded in adopt.reason
    start = len(sandbox.requests)
    harness.apply()

    uploads = [r for r in sandbox.requests[start:] if r.method == "POST"]
    assert [r.path for r in uploads if sandbox.zone_id("example.com") in r.path] == []
    assert harness.remote_id("aop_hostname_certificate.app") == seeded
    assert [c.id for c in live_certificates(sandbox, "example.com")] == [seeded]
    harness.assert_converged()


def test_rotation_adopts_a_replacement_already_uploaded(tmp_path: Path, clock: FakeClock) -> None:
    """What an apply killed between its upload and its state write leaves behind."""
    harness = per_hostname(tmp_path, clock)
    sandbox = harness.sandbox
    old_id = harness.remote_id("aop_hostname_certificate.app")
    uploaded = sandbox.seed_hostname_certificate("example.com", pem("app-2027.crt.pem"))

    plan = harness.plan(ROTATE).plan

    [change] = [c for c in plan.changes if str(c.address) == "aop_hostname_certificate.app"]
    assert change.action is Action.REPLACE and uploaded in change.reason
    assert not [op for op in plan.operations if op.description.startswith("POST")]
    start = len(sandbox.requests)
    harness.apply(ROTATE)
    assert requests_since(sandbox, start)["POST"] == 0
    assert [c.id for c in live_certificates(sandbox, "example.com")] == [uploaded]
    assert set(bindings(sandbox, "example.com").values()) == {(uploaded, True)}
    assert harness.remote_id("aop_hostname_certificate.app") == uploaded != old_id
    harness.assert_converged(ROTATE)
    assert_zero_downtime(sandbox)


def test_failed_upload_of_the_replacement_is_deleted_first(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Cloudflare refuses a certificate it still lists, even one whose deployment failed."""
    harness = per_hostname(tmp_path, clock)
    sandbox = harness.sandbox
    old_id = harness.remote_id("aop_hostname_certificate.app")
    failed = sandbox.seed_hostname_certificate(
        "example.com", pem("app-2027.crt.pem"), status="deployment_timed_out"
    )

    plan = harness.plan(ROTATE).plan

    descriptions = [op.description for op in plan.operations]
    [delete] = [i for i, text in enumerate(descriptions) if failed in text]
    [upload] = [i for i, text in enumerate(descriptions) if text.startswith("POST")]
    assert delete < upload
    harness.apply(ROTATE)
    [cert] = live_certificates(sandbox, "example.com")
    assert cert.id not in (old_id, failed)
    assert set(bindings(sandbox, "example.com").values()) == {(cert.id, True)}
    harness.assert_converged(ROTATE)
    assert_zero_downtime(sandbox)


def test_replace_of_an_unchanged_certificate_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    writes = harness.sandbox.write_count()

    with pytest.raises(PlanError) as raised:
        harness.plan(replace=["aop_hostname_certificate.app"])

    [reason] = raised.value.reasons
    assert "--replace aop_hostname_certificate.app" in reason
    assert harness.sandbox.write_count() == writes


# -- safety rails ----------------------------------------------------------------------------


def test_prevent_destroy_blocks_moving_the_shop_binding(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    path = harness.directory / "main.aop.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    for resource_type in ("aop_hostname_certificate", "aop_hostname_binding"):
        document["resource"][resource_type]["shop"]["zone"] = "example.com"
    path.write_text(json.dumps(document), encoding="utf-8")
    writes = harness.sandbox.write_count()

    with pytest.raises(PlanError) as raised:
        harness.plan()  # a new zone means destroying the old binding

    assert any(
        "aop_hostname_binding.shop" in r and "prevent_destroy" in r for r in raised.value.reasons
    )
    assert harness.sandbox.write_count() == writes


def test_removing_a_guarded_block_removes_its_guard(tmp_path: Path, clock: FakeClock) -> None:
    """As in Terraform, prevent_destroy lives in the block: deleting the block lifts it."""
    harness = per_hostname(tmp_path, clock)
    path = harness.directory / "main.aop.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    del document["resource"]["aop_hostname_binding"]["shop"]
    path.write_text(json.dumps(document), encoding="utf-8")

    plan = harness.plan().plan

    assert (Action.DELETE, "aop_hostname_binding.shop") in {
        (c.action, str(c.address)) for c in plan.changes
    }


def test_prevent_destroy_blocks_replacing_a_guarded_certificate(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = per_hostname(tmp_path, clock)
    path = harness.directory / "main.aop.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["resource"]["aop_hostname_certificate"]["shop"]["lifecycle"] = {
        "prevent_destroy": True
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    renewed = make_leaf("shop.example.net", sans=["shop.example.net"])
    (harness.directory / "certs" / "shop-2026.crt.pem").write_text(renewed.cert_pem)
    (harness.directory / "certs" / "shop-2026.key.pem").write_text(renewed.key_pem)
    writes = harness.sandbox.write_count()

    with pytest.raises(PlanError) as raised:
        harness.plan()  # a new certificate means replacing the guarded one

    [reason] = raised.value.reasons
    assert "aop_hostname_certificate.shop" in reason and "prevent_destroy" in reason
    assert harness.sandbox.write_count() == writes


@pytest.mark.parametrize("how", ["removed from the configuration", "destroyed by target"])
def test_the_last_zone_certificate_is_not_deleted_while_zone_aop_stays_on(
    tmp_path: Path, clock: FakeClock, how: str
) -> None:
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    config_file = harness.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    settings = document["resource"]["aop_zone_settings"]["main"]
    settings["depends_on"] = ["aop_ssl_mode.main"]  # no edge to order them by
    config_file.write_text(json.dumps(document))
    harness.apply()
    writes = harness.sandbox.write_count()
    if how == "removed from the configuration":
        del document["resource"]["aop_zone_certificate"], document["output"]
        config_file.write_text(json.dumps(document))
        options: dict[str, object] = {}
    else:
        options = {"mode": "destroy", "targets": ["aop_zone_certificate.client"]}

    with pytest.raises(PlanError) as raised:
        harness.plan(**options)  # type: ignore[arg-type]

    assert any("last zone-level certificate" in r for r in raised.value.reasons)
    assert harness.sandbox.write_count() == writes

    # Turned off in the same plan: allowed, and turned off first.
    if how == "removed from the configuration":
        settings["enabled"] = False
        config_file.write_text(json.dumps(document))
    else:
        options["targets"] = ["aop_zone_certificate.client", "aop_zone_settings.main"]
    harness.apply(**options)  # type: ignore[arg-type]
    assert not zone_aop_enabled(harness.sandbox, "example.com")
    assert_zero_downtime(harness.sandbox)


def test_a_depends_on_against_the_safe_order_is_named_not_a_crash(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Zone-level AOP is enabled once its certificate is active: a depends_on the other way
    # round cannot be honoured.
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    config_file = harness.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    resources = document["resource"]
    resources["aop_zone_settings"]["main"]["depends_on"] = ["aop_ssl_mode.main"]
    resources["aop_zone_certificate"]["client"]["depends_on"] = ["aop_zone_settings.main"]
    config_file.write_text(json.dumps(document))

    with pytest.raises(PlanError, match="depends_on asks for an order aopctl cannot follow"):
        harness.plan()
    assert harness.sandbox.write_count() == 0


def test_an_old_depends_on_in_the_state_never_deletes_a_zone_certificate_first(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = harness_for_example("zone-certificate", tmp_path, clock)
    harness.apply()
    state = harness.state()
    for prior in state.resources:  # as an older configuration may have recorded them
        if prior.type == "aop_zone_certificate":
            state = state.with_resource(replace(prior, dependencies=("aop_zone_settings.main",)))
        if prior.type == "aop_zone_settings":
            state = state.with_resource(replace(prior, dependencies=("aop_ssl_mode.main",)))
    harness.backend.write(state, expected_serial=state.serial)

    harness.apply(mode="destroy")

    assert live_certificates(harness.sandbox, "example.com", kind="zone") == []
    assert_zero_downtime(harness.sandbox)


def test_an_ssl_mode_left_out_of_the_targets_is_named(tmp_path: Path, clock: FakeClock) -> None:
    harness = harness_for_example("global", tmp_path, clock)
    config_file = harness.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    del document["resource"]["aop_global"]["main"]["depends_on"]
    config_file.write_text(json.dumps(document))

    with pytest.raises(PlanError) as raised:
        harness.plan(targets=["aop_global.main"])

    [reason] = raised.value.reasons
    assert reason.endswith(
        "Add --target aop_ssl_mode.main: it is configured but left out of this plan."
    )
    assert harness.sandbox.write_count() == 0


def test_flexible_ssl_mode_without_aop_ssl_mode_is_refused(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = Harness(tmp_path / "cfg", make_sandbox(clock), clock)
    write_config(
        harness.directory,
        {"resource": {"aop_global": {"main": {"zone": "example.com", "enabled": True}}}},
    )
    harness.sandbox.set_setting("example.com", "ssl", "flexible")

    with pytest.raises(PlanError) as raised:
        harness.plan()

    assert any("flexible" in r and "aop_ssl_mode" in r for r in raised.value.reasons)
    assert harness.sandbox.write_count() == 0


def test_eleventh_hostname_certificate_is_refused_before_any_write(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = per_hostname(tmp_path, clock, applied=False)
    for index in range(10):
        harness.sandbox.seed_hostname_certificate(
            "example.com", make_leaf(f"old{index}.example.com").cert_pem
        )

    with pytest.raises(PlanError) as raised:
        harness.apply()

    assert any("10" in r and "example.com" in r for r in raised.value.reasons)
    assert harness.sandbox.write_count() == 0
    assert harness.state().resources == ()


def test_a_zone_named_by_name_and_by_id_is_one_zone(tmp_path: Path, clock: FakeClock) -> None:
    # validate cannot tell that a name and an id are one zone; the plan must, before any write.
    harness = Harness(tmp_path / "cfg", make_sandbox(clock), clock)
    com, net = (harness.sandbox.zone_id(name) for name in ("example.com", "example.net"))
    issued = make_leaf("shop.example.net")
    (harness.directory / "shop.pem").parent.mkdir(parents=True, exist_ok=True)
    (harness.directory / "shop.pem").write_text(issued.cert_pem, encoding="utf-8")
    (harness.directory / "shop.key").write_text(issued.key_pem, encoding="utf-8")
    write_config(
        harness.directory,
        {
            "resource": {
                "aop_ssl_mode": {
                    "by_name": {"zone": "example.com", "mode": "full"},
                    "by_id": {"zone": com, "mode": "strict"},
                },
                "aop_hostname_certificate": {
                    "shop": {
                        "zone": net,
                        "certificate": '${file("shop.pem")}',
                        "private_key": '${file("shop.key")}',
                    }
                },
                "aop_hostname_binding": {
                    "app": {
                        "zone": "example.com",
                        "hostnames": ["app.example.com"],
                        "certificate_id": "${aop_hostname_certificate.shop.id}",
                    }
                },
            }
        },
    )

    with pytest.raises(PlanError) as raised:
        harness.plan()

    assert sorted(raised.value.reasons) == [
        "aop_hostname_binding.app: its certificate aop_hostname_certificate.shop is in zone "
        f"{net}, not example.com; a hostname can only use a certificate of its own zone",
        "aop_ssl_mode.by_name: zone example.com already has its aop_ssl_mode in aop_ssl_mode.by_id",
    ]
    assert harness.sandbox.write_count() == 0


# -- targeting -------------------------------------------------------------------------------


def test_target_plans_only_the_target_and_its_dependencies(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = per_hostname(tmp_path, clock, applied=False)

    plan = harness.plan(targets=["aop_hostname_binding.app"]).plan

    assert {str(c.address) for c in plan.changes} == {
        "aop_hostname_binding.app",
        "aop_hostname_certificate.app",
        "aop_ssl_mode.com",
    }
    harness.apply(targets=["aop_hostname_binding.app"])
    assert len(live_certificates(harness.sandbox, "example.com")) == 1
    assert live_certificates(harness.sandbox, "example.net") == []
    assert setting(harness.sandbox, "example.net", "ssl") == "off"
    remaining = {str(c.address) for c in harness.plan().plan.changes}
    assert remaining == {
        "aop_hostname_binding.shop",
        "aop_hostname_certificate.shop",
        "aop_ssl_mode.net",
    }


def test_a_target_leaves_its_configured_dependents_alone(tmp_path: Path, clock: FakeClock) -> None:
    # The bindings depend on the SSL modes; targeting a mode must not read them as removed.
    harness = per_hostname(tmp_path, clock)
    before = bindings(harness.sandbox, "example.com")

    for target in ("aop_ssl_mode.com", "aop_ssl_mode.net"):
        assert harness.plan(targets=[target]).plan.changes == ()
        harness.apply(targets=[target])

    assert bindings(harness.sandbox, "example.com") == before
    harness.assert_converged()


def test_a_targeted_removal_names_the_dependents_it_needs(tmp_path: Path, clock: FakeClock) -> None:
    # app's binding moves to a new certificate and the old one is removed: targeting only the
    # old certificate would delete it while the binding, left out, still uses it.
    harness = per_hostname(tmp_path, clock)
    config_file = harness.directory / "main.aop.json"
    document = json.loads(config_file.read_text())
    certificates = document["resource"]["aop_hostname_certificate"]
    certificates["app_next"] = {
        **certificates.pop("app"),
        "certificate": '${file("certs/app-2027.crt.pem")}',
        "private_key": '${file("certs/app-2027.key.pem")}',
    }
    binding = document["resource"]["aop_hostname_binding"]["app"]
    binding["certificate_id"] = "${aop_hostname_certificate.app_next.id}"
    del document["output"]  # it names the old certificate
    config_file.write_text(json.dumps(document))

    with pytest.raises(PlanError) as raised:
        harness.plan(targets=["aop_hostname_certificate.app"])

    assert raised.value.reasons == [
        "--target aop_hostname_certificate.app: aop_hostname_binding.app depended on it and is "
        "still configured; add --target aop_hostname_binding.app so that it changes first"
    ]
    harness.apply(targets=["aop_hostname_certificate.app", "aop_hostname_binding.app"])
    harness.assert_converged()
    assert_zero_downtime(harness.sandbox)


def test_a_mistyped_target_or_replace_is_an_error_not_no_changes(
    tmp_path: Path, clock: FakeClock
) -> None:
    harness = per_hostname(tmp_path, clock)

    with pytest.raises(PlanError) as raised:
        harness.plan(
            targets=["aop_ssl_mode.comm", "aop_ssl_mode.com"],
            replace=["aop_hostname_binding.app", "aop_hostname_certificate.app"],
        )

    assert raised.value.reasons == [
        "--target aop_ssl_mode.comm: no such resource in the configuration or the state",
        "--replace aop_hostname_binding.app: not a certificate of the configuration "
        "(only certificates are replaced)",
    ]


# -- private keys ----------------------------------------------------------------------------


def key_from_variable(directory: Path) -> None:
    path = directory / "main.aop.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["variable"]["app_key"] = {"type": "string", "sensitive": True}
    document["resource"]["aop_hostname_certificate"]["app"]["private_key"] = "${var.app_key}"
    path.write_text(json.dumps(document), encoding="utf-8")


def test_upload_without_its_key_names_the_variable(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock, applied=False)
    key_from_variable(harness.directory)

    with pytest.raises(PlanError) as raised:
        harness.plan()

    [reason] = raised.value.reasons
    assert "aop_hostname_certificate.app" in reason and "app_key" in reason
    assert harness.sandbox.write_count() == 0


def test_certificate_in_state_plans_without_its_key(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    key_from_variable(harness.directory)

    assert not harness.plan().plan.has_changes
    with pytest.raises(PlanError) as raised:
        harness.plan({"app_release": "2027"})  # a rotation must upload: now the key is needed
    [reason] = raised.value.reasons
    assert "needs its private key" in reason and "app_key" in reason


# -- request counts ----------------------------------------------------------------------------


def bulk_config(directory: Path, zones: list[str], per_zone: int) -> None:
    """Each zone: an SSL mode, and `per_zone` hostnames spread over certificates of 100."""
    resources: dict[str, dict[str, object]] = {
        "aop_ssl_mode": {},
        "aop_hostname_certificate": {},
        "aop_hostname_binding": {},
    }
    (directory / "certs").mkdir(parents=True, exist_ok=True)
    for z, zone in enumerate(zones):
        resources["aop_ssl_mode"][f"z{z}"] = {"zone": zone, "mode": "full"}
        for c in range(math.ceil(per_zone / 100)):
            name = f"z{z}_c{c}"
            issued = make_leaf(f"{name}.{zone}")
            (directory / "certs" / f"{name}.pem").write_text(issued.cert_pem, encoding="utf-8")
            (directory / "certs" / f"{name}.key").write_text(issued.key_pem, encoding="utf-8")
            resources["aop_hostname_certificate"][name] = {
                "zone": zone,
                "certificate": f'${{file("certs/{name}.pem")}}',
                "private_key": f'${{file("certs/{name}.key")}}',
            }
            count = min(100, per_zone - c * 100)
            resources["aop_hostname_binding"][name] = {
                "zone": zone,
                "hostnames": [f"h{c}-{i}.{zone}" for i in range(count)],
                "certificate_id": f"${{aop_hostname_certificate.{name}.id}}",
                "depends_on": [f"aop_ssl_mode.z{z}"],
            }
    write_config(directory, {"resource": resources})


@pytest.mark.parametrize(("zone_count", "per_zone"), [(1, 500), (20, 25)])
def test_refresh_reads_lists_not_objects(
    tmp_path: Path, clock: FakeClock, zone_count: int, per_zone: int
) -> None:
    zones = [f"zone{z:02d}.test" for z in range(zone_count)]
    harness = Harness(tmp_path / "cfg", make_sandbox(clock, zones), clock)
    bulk_config(harness.directory, zones, per_zone)
    harness.apply()
    harness.assert_converged()
    start = len(harness.sandbox.requests)

    plan = harness.plan().plan

    assert not plan.has_changes
    gets = requests_since(harness.sandbox, start)
    assert set(gets) == {"GET"}
    # Per zone: the SSL mode, both certificate lists, and one page of associations per 1000
    # hostnames; the zone ids come from the state. Never one request per hostname or certificate.
    pages = math.ceil(per_zone / 1000)
    assert gets["GET"] == zone_count * (3 + pages), gets


def test_each_zone_name_not_in_the_state_is_looked_up_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    zones = [f"zone{z:02d}.test" for z in range(3)]
    harness = Harness(tmp_path / "cfg", make_sandbox(clock, zones), clock)
    bulk_config(harness.directory, zones, 2)

    harness.plan()

    lookups = [r for r in harness.sandbox.requests if r.path.endswith("/zones")]
    assert len(lookups) == len(zones)


def test_a_zone_the_account_does_not_hold_is_named(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock, applied=False)
    config = harness.directory / "main.aop.json"
    config.write_text(config.read_text().replace('"example.net"', '"nowhere.example"'))

    with pytest.raises(NotFoundError, match=r"zone 'nowhere\.example' does not exist"):
        harness.plan()


def test_a_base_url_that_is_not_the_api_is_named_not_the_zone(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Without /client/v4 every path answers 404; Cloudflare lists an unknown zone as 200 [].
    harness = per_hostname(tmp_path, clock, applied=False)
    harness.client = CloudflareClient(
        Credentials.from_token("engine-test-token"),
        base_url="https://api.cloudflare.com",
        transport=harness.sandbox.transport(),
    )

    with pytest.raises(NotFoundError) as raised:
        harness.plan()

    assert "HTTP 404" in str(raised.value) and "CLOUDFLARE_BASE_URL" in str(raised.value)
    assert "does not exist" not in str(raised.value)
    # A zone known by its id needs no lookup: the first 404 says it all the same.
    with pytest.raises(NotFoundError, match="is CLOUDFLARE_BASE_URL the API's address"):
        harness.client.get_setting(harness.sandbox.zone_id("example.com"), "ssl")


# -- determinism ------------------------------------------------------------------------------


def test_same_inputs_give_byte_identical_plans(tmp_path: Path, clock: FakeClock) -> None:
    harness = per_hostname(tmp_path, clock)
    harness.sandbox.seed_hostname_certificate("example.com", make_leaf("z.example.com").cert_pem)
    harness.sandbox.seed_hostname_certificate("example.com", make_leaf("a.example.com").cert_pem)
    harness.sandbox.set_setting("example.net", "ssl", "strict")
    variables = {"app_release": "2027"}

    first, second = harness.plan(variables).plan, harness.plan(variables).plan

    assert first.changes and first.drift and first.notes
    assert render_text(first, color=False) == render_text(second, color=False)
    assert render_json(first) == render_json(second)
