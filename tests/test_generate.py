"""`aopctl generate` in-process: a hand-made setup in the sandbox becomes configuration and state
that plan as "no changes", rotate like any configuration, and match what apply would write.

Everything runs on one fake clock (see engine_helpers.Harness). The sandbox is seeded the way a
person at the dashboard would do it; its request log proves that generate and the following
plan never write.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from certgen import Issued, make_leaf
from conftest import FakeClock
from engine_helpers import (
    Harness,
    assert_no_key_material,
    assert_zero_downtime,
    bindings,
    live_certificates,
    make_sandbox,
)

from planner import __version__
from planner.cloudflare.types import HostnameAssociation, HostnameCertificate
from planner.config import VariableInputs, load_configuration
from planner.config.fmt import format_text
from planner.errors import AopctlError, PlanError
from planner.generate import GenerateReport, GenerateRequest, build_draft, generate, identifier
from planner.live import LiveZone
from planner.plan_model import Action
from state.memory import MemoryBackend

ZONES = ("example.com", "example.net", "example.org")
NAME = re.compile(r"^[a-z_][a-z0-9_-]*$")


@dataclass
class Setup:
    """The hand-made account: certificates by role, with their keys for later uploads."""

    harness: Harness
    certificates: dict[str, Issued]
    ids: dict[str, str]


def hand_made(tmp_path: Path, clock: FakeClock) -> Setup:
    """Several zones, both certificate kinds, enabled and disabled bindings, and a hostname
    certificate still in pending_deployment (active one second after seeding)."""
    sandbox = make_sandbox(clock, ZONES)
    issued = {
        "app": make_leaf("app.example.com", sans=("app.example.com", "api.example.com")),
        "beta": make_leaf("beta.example.com", sans=("beta.example.com",)),
        "shop": make_leaf("shop.example.net", sans=("shop.example.net",)),
        "net_zone": make_leaf("example.net origin pull client", key_type="rsa"),
    }
    ids = {
        "app": sandbox.seed_hostname_certificate("example.com", issued["app"].cert_pem),
        "beta": sandbox.seed_hostname_certificate(
            "example.com", issued["beta"].cert_pem, status="pending_deployment"
        ),
        "shop": sandbox.seed_hostname_certificate("example.net", issued["shop"].cert_pem),
        "net_zone": sandbox.seed_zone_certificate("example.net", issued["net_zone"].cert_pem),
    }
    for hostname in ("app.example.com", "api.example.com"):
        sandbox.seed_association("example.com", hostname, ids["app"], True)
    sandbox.seed_association("example.com", "legacy.example.com", ids["app"], False)
    # Bound but not enabled yet: enabling it before it is active would break beta.example.com.
    sandbox.seed_association("example.com", "beta.example.com", ids["beta"], False)
    sandbox.seed_association("example.net", "shop.example.net", ids["shop"], True)
    sandbox.set_setting("example.com", "ssl", "full")
    sandbox.set_setting("example.net", "ssl", "strict")
    sandbox.set_setting("example.net", "aop_zone_enabled", True)
    sandbox.set_setting("example.org", "ssl", "full")
    sandbox.set_setting("example.org", "tls_client_auth", "on")
    directory = tmp_path / "generated"
    directory.mkdir()
    return Setup(Harness(directory, sandbox, clock), issued, ids)


def run_generate(harness: Harness, *zones: str, force: bool = False) -> GenerateReport:
    request = GenerateRequest(zones or ZONES, harness.directory, force=force)
    return generate(harness.client, harness.backend, request)


@pytest.fixture
def setup(tmp_path: Path, clock: FakeClock) -> Setup:
    return hand_made(tmp_path, clock)


# -- the contract: the next plan is empty, nothing was written -----------------------------


def test_generate_then_plan_has_no_changes_and_nothing_is_written(
    setup: Setup, clock: FakeClock
) -> None:
    harness = setup.harness
    report = run_generate(harness)
    assert not report.skipped
    clock.advance(5)  # the pending certificate finishes deploying

    result = harness.plan()

    assert not result.plan.changes and not result.plan.drift and not result.plan.notes
    assert harness.sandbox.write_count() == 0
    assert set(harness.state().addresses) == set(report.addresses)
    assert {
        "aop_ssl_mode.example_com",
        "aop_ssl_mode.example_net",
        "aop_ssl_mode.example_org",
        "aop_global.example_org",
        "aop_zone_settings.example_net",
        "aop_zone_certificate.example_net_origin_pull_client",
        "aop_hostname_certificate.app",
        "aop_hostname_certificate.beta",
        "aop_hostname_binding.app",
        "aop_hostname_binding.app_disabled",
        "aop_hostname_binding.beta_disabled",
    } <= set(report.addresses)


def test_plan_only_waits_while_a_generated_certificate_is_still_deploying(setup: Setup) -> None:
    harness = setup.harness
    report = run_generate(harness)

    result = harness.plan()

    assert [(c.action, str(c.address)) for c in result.plan.changes] == [
        (Action.WAIT, "aop_hostname_certificate.beta")
    ]
    assert {op.kind for op in result.plan.operations} <= {"wait"}
    assert any("aop_hostname_certificate.beta is pending_deployment" in n for n in report.notes)
    assert harness.sandbox.write_count() == 0


def test_configuration_groups_bindings_and_references_certificates(setup: Setup) -> None:
    harness = setup.harness
    run_generate(harness)

    document = json.loads((harness.directory / "example.com.aop.json").read_text())
    resources = document["resource"]
    assert resources["aop_hostname_binding"]["app"] | {"depends_on": None} == {
        "zone": "example.com",
        "hostnames": ["api.example.com", "app.example.com"],
        "certificate_id": "${aop_hostname_certificate.app.id}",
        "enabled": True,
        "depends_on": None,
    }
    assert resources["aop_hostname_binding"]["app_disabled"]["hostnames"] == ["legacy.example.com"]
    assert resources["aop_hostname_binding"]["app_disabled"]["enabled"] is False
    assert resources["aop_hostname_certificate"]["app"]["private_key"] == ("${var.app_private_key}")
    assert document["variable"]["app_private_key"]["sensitive"] is True
    assert "default" not in document["variable"]["app_private_key"]
    assert resources["aop_ssl_mode"]["example_com"]["mode"] == "full"
    assert resources["aop_global"]["example_com"]["enabled"] is False
    assert resources["aop_zone_settings"]["example_com"]["enabled"] is False
    pem = (harness.directory / "certs" / "app.crt.pem").read_text()
    assert pem == setup.certificates["app"].cert_pem


def test_generated_files_validate_and_are_canonical(setup: Setup) -> None:
    harness = setup.harness
    report = run_generate(harness)

    config = load_configuration(harness.directory, VariableInputs(), env={})
    assert {str(a) for a in config.resources} == set(report.addresses)
    for path in harness.directory.glob("*.aop.json"):
        text = path.read_text()
        assert format_text(json.loads(text)) == text, path.name
    for address in config.resources:
        assert NAME.match(address.name), address


def test_no_private_key_is_written_anywhere(setup: Setup) -> None:
    harness = setup.harness
    report = run_generate(harness)

    fragments = [
        line
        for issued in setup.certificates.values()
        for line in issued.key_pem.splitlines()
        if len(line) >= 32
    ]
    for path in harness.directory.rglob("*"):
        if path.is_file():
            assert_no_key_material(path.read_text(), fragments, str(path))
    assert_no_key_material(repr(report), fragments, "the report")


def test_state_is_what_apply_writes_for_the_same_configuration(
    setup: Setup, tmp_path: Path, clock: FakeClock
) -> None:
    generated = setup.harness
    run_generate(generated)
    clock.advance(5)
    # The same configuration applied from scratch to an empty account, keys given.
    fresh = Harness(tmp_path / "applied", make_sandbox(clock, ZONES), clock)
    shutil.copytree(generated.directory, fresh.directory, ignore=_state_files)
    keys = {f"{role}_private_key": issued.key_pem for role, issued in _roles(setup).items()}
    fresh.apply(keys)

    applied = {r.address: r for r in fresh.state().resources}
    for ours in generated.state().resources:
        theirs = applied.pop(ours.address)
        assert ours.dependencies == theirs.dependencies, ours.address
        assert ours.fingerprints == theirs.fingerprints, ours.address
        assert (ours.zone_id, ours.zone_name) == (theirs.zone_id, theirs.zone_name)
        assert set(ours.attributes) == set(theirs.attributes), ours.address
        same = {"id", "uploaded_on", "certificate_id", "status"}
        for name, value in ours.attributes.items():
            if name not in same:
                assert value == theirs.attributes[name], (ours.address, name)
        assert (ours.remote_id is None) == (theirs.remote_id is None)
    assert not applied


def _state_files(directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("aopctl.state") or n == ".aopctl"]


def _roles(setup: Setup) -> dict[str, Issued]:
    """Certificates by generated variable prefix."""
    return {
        "app": setup.certificates["app"],
        "beta": setup.certificates["beta"],
        "shop": setup.certificates["shop"],
        "example_net_origin_pull_client": setup.certificates["net_zone"],
    }


# -- rotation through the generated configuration ------------------------------------------


def test_rotation_through_the_generated_configuration(setup: Setup, clock: FakeClock) -> None:
    harness = setup.harness
    run_generate(harness)
    clock.advance(5)
    new = make_leaf("app.example.com", sans=("app.example.com", "api.example.com"))
    (harness.directory / "certs" / "app.crt.pem").write_text(new.cert_pem)

    with pytest.raises(PlanError) as refused:
        harness.plan()
    assert any("app_private_key" in reason for reason in refused.value.reasons)
    assert harness.sandbox.write_count() == 0

    harness.apply({"app_private_key": new.key_pem})

    [app, beta] = sorted(live_certificates(harness.sandbox, "example.com"), key=lambda c: c.pem)
    if app.fingerprint_sha256 != new.fingerprint_sha256:
        app, beta = beta, app
    assert app.fingerprint_sha256 == new.fingerprint_sha256
    assert setup.ids["app"] not in {c.id for c in live_certificates(harness.sandbox, "example.com")}
    assert bindings(harness.sandbox, "example.com") == {
        "api.example.com": (app.id, True),
        "app.example.com": (app.id, True),
        "legacy.example.com": (app.id, False),
        "beta.example.com": (setup.ids["beta"], False),
    }
    harness.assert_converged({"app_private_key": new.key_pem})
    harness.assert_converged()  # once uploaded, the key is no longer needed
    assert_zero_downtime(harness.sandbox)


# -- what is skipped, what expires -----------------------------------------------------------


def test_skipped_objects_are_listed_with_their_reason(tmp_path: Path, clock: FakeClock) -> None:
    sandbox = make_sandbox(clock, ("example.com", "example.net"), delete_delay=60)
    good = make_leaf("app.example.com")
    expired = make_leaf("old.example.com", expired=True)
    good_id = sandbox.seed_hostname_certificate("example.com", good.cert_pem)
    twin_id = sandbox.seed_hostname_certificate("example.com", good.cert_pem)
    failed_id = sandbox.seed_hostname_certificate(
        "example.com", make_leaf("x.example.com").cert_pem, status="deployment_timed_out"
    )
    leaving_id = sandbox.seed_hostname_certificate(
        "example.com", make_leaf("y.example.com").cert_pem, status="pending_deletion"
    )
    stuck_id = sandbox.seed_hostname_certificate(
        "example.com", make_leaf("z.example.com").cert_pem, status="deletion_timed_out"
    )
    expired_id = sandbox.seed_hostname_certificate("example.com", expired.cert_pem)
    sandbox.seed_association("example.com", "app.example.com", good_id, True)
    sandbox.seed_association("example.com", "old.example.com", expired_id, True)
    sandbox.seed_association("example.com", "y.example.com", leaving_id, True)
    sandbox.set_setting("example.com", "ssl", "full")
    sandbox.set_setting("example.net", "ssl", "flexible")
    harness = Harness(tmp_path, sandbox, clock)

    report = run_generate(harness, "example.com", "example.net")

    reasons = {(s.zone, s.what): s.reason for s in report.skipped}
    assert "uploaded twice" in reasons[("example.com", f"hostname certificate {twin_id}")]
    assert "deployment_timed_out" in reasons[("example.com", f"hostname certificate {failed_id}")]
    assert "being deleted" in reasons[("example.com", f"hostname certificate {leaving_id}")]
    assert "deletion_timed_out" in reasons[("example.com", f"hostname certificate {stuck_id}")]
    assert "expired" in reasons[("example.com", f"hostname certificate {expired_id}")]
    assert "not generated" in reasons[("example.com", "hostname old.example.com")]
    assert "being removed" in reasons[("example.com", "hostname y.example.com")]
    assert "'flexible'" in reasons[("example.net", "SSL/TLS mode")]
    assert "aop_ssl_mode.example_net" not in report.addresses
    [notice] = report.expiring
    assert (notice.certificate_id, notice.address, notice.expired) == (expired_id, None, True)
    result = harness.plan()
    assert not result.plan.changes and not result.plan.drift
    assert sandbox.write_count() == 0


def test_void_associations_are_skipped() -> None:
    now = dt.datetime.now(dt.UTC)
    cert = make_leaf("app.example.com")
    live = LiveZone("0" * 32, "example.com", ssl="full", tls_client_auth="off")
    live.hostname_certificates["c1"] = HostnameCertificate(
        "c1", certificate=cert.cert_pem, status="active"
    )
    live.associations["gone.example.com"] = HostnameAssociation(
        "gone.example.com", cert_id="c1", enabled=None, status="deleted"
    )
    request = GenerateRequest(("example.com",), Path("unused"))

    draft = build_draft([("example.com", live)], request, now)

    assert [(s.what, "void" in s.reason) for s in draft.skipped] == [
        ("hostname gone.example.com", True)
    ]
    assert not [e for e in draft.entries if e.address.type == "aop_hostname_binding"]


def test_expiring_certificates_are_reported(tmp_path: Path, clock: FakeClock) -> None:
    sandbox = make_sandbox(clock, ("example.com",))
    soon = make_leaf("soon.example.com", days=10)
    later = make_leaf("later.example.com", days=200)
    soon_id = sandbox.seed_zone_certificate("example.com", soon.cert_pem)
    sandbox.seed_hostname_certificate("example.com", later.cert_pem)
    harness = Harness(tmp_path, sandbox, clock)

    report = run_generate(harness, "example.com")

    [notice] = report.expiring
    assert notice.certificate_id == soon_id
    assert notice.address == "aop_zone_certificate.soon"
    assert (notice.days_left, notice.expired) == (9, False)


# -- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("app.example.com", "app_example_com"),
        ("*.Example.COM", "wildcard_example_com"),
        ("1st client", "cert_1st_client"),
        ("Ünïcode — name", "n_code_name"),
        ("---", "cert"),
        ("a" * 60, "a" * 40),
    ],
)
def test_identifier(text: str, expected: str) -> None:
    assert identifier(text, "cert") == expected
    assert NAME.match(identifier(text, "cert"))


def test_names_are_deduplicated_across_zones(tmp_path: Path, clock: FakeClock) -> None:
    sandbox = make_sandbox(clock, ("example.com", "example.net"))
    for zone in ("example.com", "example.net"):
        cert_id = sandbox.seed_hostname_certificate(zone, make_leaf(f"app.{zone}").cert_pem)
        sandbox.seed_association(zone, f"app.{zone}", cert_id, True)
        sandbox.set_setting(zone, "ssl", "full")
    harness = Harness(tmp_path, sandbox, clock)

    report = run_generate(harness, "example.com", "example.net")

    assert {"aop_hostname_certificate.app", "aop_hostname_certificate.app_example_net"} <= set(
        report.addresses
    )
    assert {"aop_hostname_binding.app", "aop_hostname_binding.app_example_net"} <= set(
        report.addresses
    )
    assert set(report.key_variables) == {"app_private_key", "app_example_net_private_key"}
    assert not harness.plan().plan.changes


def test_a_zone_given_by_id_is_written_by_id(tmp_path: Path, clock: FakeClock) -> None:
    sandbox = make_sandbox(clock, ("example.com",))
    sandbox.set_setting("example.com", "ssl", "strict")
    zone_id = sandbox.zone_id("example.com")
    harness = Harness(tmp_path, sandbox, clock)

    report = run_generate(harness, zone_id, "EXAMPLE.COM")  # the same zone twice

    assert report.files == (f"{zone_id}.aop.json",)
    document = json.loads((tmp_path / f"{zone_id}.aop.json").read_text())
    assert document["resource"]["aop_ssl_mode"][f"zone_{zone_id}"]["zone"] == zone_id
    assert not harness.plan().plan.changes


# -- refusing to overwrite, --force, backends ------------------------------------------------


def test_refuses_to_overwrite_files_or_state(setup: Setup) -> None:
    harness = setup.harness
    run_generate(harness)
    before = harness.state()
    marker = harness.directory / "example.com.aop.json"
    marker.write_text(marker.read_text().replace("Generated", "Edited"))
    edited = marker.read_text()

    with pytest.raises(AopctlError) as refused:
        run_generate(harness)

    assert "--force" in refused.value.message
    assert "example.com.aop.json exists" in refused.value.reasons
    assert "certs/app.crt.pem exists" in refused.value.reasons
    assert any("already holds" in r for r in refused.value.reasons)
    assert marker.read_text() == edited
    assert harness.state() == before


def test_force_replaces_files_and_state(setup: Setup) -> None:
    harness = setup.harness
    run_generate(harness, "example.com")
    first = harness.state()
    marker = harness.directory / "example.com.aop.json"
    marker.write_text("{}\n")

    report = run_generate(harness, force=True)

    assert "example.com.aop.json" in report.overwritten
    assert f"replaced the previous state ({len(first.resources)} resources)" in (report.notes)
    assert json.loads(marker.read_text())["resource"]
    state = harness.state()
    assert (state.lineage, state.serial) == (first.lineage, first.serial + 1)
    assert set(state.addresses) == set(report.addresses)


def test_other_configuration_files_conflict_unless_they_only_hold_settings(
    setup: Setup,
) -> None:
    harness = setup.harness
    backend_block = {"aopctl": {"state": {"backend": "local", "path": "aopctl.state.json"}}}
    (harness.directory / "backend.aop.json").write_text(json.dumps(backend_block))
    (harness.directory / "mine.aop.json").write_text(json.dumps({"locals": {"a": "b"}}))

    with pytest.raises(AopctlError) as refused:
        run_generate(harness)
    assert refused.value.reasons == [
        "mine.aop.json declares objects and would be read together with the generated files"
    ]

    (harness.directory / "mine.aop.json").unlink()
    run_generate(harness)
    assert json.loads((harness.directory / "backend.aop.json").read_text()) == backend_block


def test_works_with_any_state_backend(setup: Setup, clock: FakeClock) -> None:
    harness = setup.harness
    backend = MemoryBackend(__version__)  # another StateBackend, as a remote store would be

    report = generate(harness.client, backend, GenerateRequest(ZONES, harness.directory))

    assert report.state == "memory"
    assert not (harness.directory / "aopctl.state.json").exists()
    assert set(backend.document.addresses) == set(report.addresses)
    harness.backend.write(backend.document, 0)  # the same document, planned from a file
    clock.advance(5)
    assert not harness.plan().plan.changes
