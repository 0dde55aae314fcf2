"""planner.drift in-process: categories, expiry arithmetic, pending vs drift, ignore rules.

The engine runs against an in-memory sandbox on a fake clock (engine_helpers.Harness); the
check's `now` is injected, so expiry tests need no certificate minted for the occasion.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from certgen import make_leaf
from conftest import FakeClock
from engine_helpers import (
    Harness,
    harness_for_example,
    state_backend,  # noqa: F401  (a fixture `harness` uses)
)

from planner.drift import (
    CATEGORIES,
    Category,
    DriftReport,
    IgnoreRule,
    detect_drift,
    load_ignore_rules,
    parse_categories,
    parse_ignore_rules,
)
from planner.errors import ConfigError
from planner.live import Refresher

APP_CERT = "aop_hostname_certificate.app"
# The example certificates are valid until 2036-12-01T16:52:33Z.
EXAMPLE_EXPIRY = datetime(2036, 12, 1, 16, 52, 33, tzinfo=UTC)


@pytest.fixture
def harness(tmp_path: Path, clock: FakeClock, state_backend: str) -> Harness:  # noqa: F811
    """The per-hostname example applied, its state in each backend in turn."""
    applied = harness_for_example("per-hostname", tmp_path, clock)
    applied.apply()
    return applied


def check(
    harness: Harness,
    *,
    now: datetime | None = None,
    ignores: tuple[IgnoreRule, ...] = (),
    variables: dict[str, str] | None = None,
    expiry_days: int = 30,
) -> DriftReport:
    return detect_drift(
        harness.config(variables),
        harness.state(),
        Refresher(harness.client),
        ignores=ignores,
        expiry_days=expiry_days,
        now=now or datetime(2026, 6, 1, tzinfo=UTC),
    )


def pairs(report: DriftReport) -> set[tuple[Category, str | None]]:
    return {(f.category, f.address or f.remote_id) for f in report.findings}


def test_after_apply_there_is_nothing_and_coverage_is_full(harness: Harness) -> None:
    report = check(harness)
    assert report.findings == ()
    assert [(z.zone, z.managed, z.total) for z in report.zones] == [
        ("example.com", 3, 3),
        ("example.net", 2, 2),
    ]
    assert not report.fails(CATEGORIES)
    assert report.lineage == harness.state().lineage


@pytest.mark.parametrize(
    ("days_before", "expiry_days", "expected"),
    [
        (31, 30, None),  # outside the window
        (30, 30, 29),  # inside, hours short of 30 whole days
        (1, 30, 0),
        (-3, 30, -4),  # expired 3 days and 1 hour ago (whole days, rounded down)
        (5, 0, None),  # --expiry-days 0: only expired certificates
    ],
)
def test_managed_certificates_expire_in_the_window(
    harness: Harness, days_before: int, expiry_days: int, expected: int | None
) -> None:
    now = EXAMPLE_EXPIRY - timedelta(days=days_before) + timedelta(hours=1)
    report = check(harness, now=now, expiry_days=expiry_days)
    expiring = [f for f in report.findings if f.category is Category.EXPIRING]
    if expected is None:
        assert expiring == []
        return
    assert {f.address for f in expiring} == {APP_CERT, "aop_hostname_certificate.shop"}
    app = next(f for f in expiring if f.address == APP_CERT)
    assert app.facts["days_remaining"] == expected
    assert app.facts["expired"] is (expected < 0)
    assert app.facts["status"] == "active"
    if expected < 0:
        assert app.message.startswith(f"expired on 2036-12-01 ({-days_before} days ago)")
    assert app.remote_id == harness.remote_id(APP_CERT)


def test_a_deletion_stuck_at_cloudflare_is_failed_with_its_hostnames(harness: Harness) -> None:
    cert_id = harness.remote_id(APP_CERT)
    harness.sandbox.seed_deletion("example.com", cert_id, status="deletion_timed_out")
    report = check(harness)
    (failed,) = [f for f in report.findings if f.category is Category.FAILED]
    assert failed.address == APP_CERT and failed.remote_id == cert_id
    assert failed.facts == {
        "status": "deletion_timed_out",
        "hostnames": ["api.example.com", "app.example.com"],
    }


def test_a_rotation_is_pending_but_the_binding_following_it_is_not(harness: Harness) -> None:
    report = check(harness, variables={"app_release": "2027"})
    assert pairs(report) == {(Category.PENDING, APP_CERT)}
    (pending,) = report.findings
    assert pending.facts["action"] == "replace"
    fingerprint = next(a for a in pending.attributes if a.name == "fingerprint_sha256")
    assert fingerprint.before != fingerprint.after


def test_an_unsafe_pending_plan_is_reported_not_raised(harness: Harness) -> None:
    path = harness.directory / "main.aop.json"
    document = json.loads(path.read_text())
    document["resource"]["aop_hostname_certificate"]["app"]["lifecycle"] = {"prevent_destroy": True}
    path.write_text(json.dumps(document))
    harness.sandbox.set_setting("example.com", "ssl", "strict")
    report = check(harness, variables={"app_release": "2027"})
    assert pairs(report) == {(Category.PENDING, APP_CERT), (Category.CHANGED, "aop_ssl_mode.com")}
    (problem,) = report.problems
    assert APP_CERT in problem and "prevent_destroy" in problem


def test_an_unmanaged_certificate_can_also_be_expiring_and_failed(harness: Harness) -> None:
    stuck = make_leaf("stuck.example.com", days=3)
    cert_id = harness.sandbox.seed_hostname_certificate(
        "example.com", stuck.cert_pem, status="deployment_timed_out"
    )
    report = check(harness, now=datetime.now(UTC))
    assert pairs(report) == {
        (Category.UNMANAGED, cert_id),
        (Category.EXPIRING, cert_id),
        (Category.FAILED, cert_id),
    }
    assert [f.category for f in report.findings] == [
        Category.UNMANAGED,
        Category.EXPIRING,
        Category.FAILED,
    ]
    assert report.zones[0].managed == 3 and report.zones[0].total == 4


# -- ignore rules ------------------------------------------------------------------------------


def rule(**fields: str) -> IgnoreRule:
    return IgnoreRule(
        category=Category(fields.get("category", "changed")),
        reason="known",
        expires=date.fromisoformat(fields.get("expires", "2026-06-01")),
        address=fields.get("address"),
        remote_id=fields.get("remote_id"),
    )


def test_an_ignore_rule_holds_through_its_expiry_day(harness: Harness) -> None:
    harness.sandbox.set_setting("example.com", "ssl", "strict")
    zone_id = harness.sandbox.zone_id("example.com")
    last_day = rule(address="aop_ssl_mode.com", expires="2026-06-01")
    at_noon = datetime(2026, 6, 1, 12, tzinfo=UTC)
    held = check(harness, now=at_noon, ignores=(last_day,))
    assert held.findings == () and [s.rule for s in held.suppressed] == [last_day]
    assert held.expired_ignores == ()

    expired = check(harness, now=at_noon + timedelta(days=1), ignores=(last_day,))
    assert pairs(expired) == {(Category.CHANGED, "aop_ssl_mode.com")}
    assert expired.expired_ignores == (last_day,)

    both = rule(address="aop_ssl_mode.com", remote_id=zone_id)
    wrong_id = rule(address="aop_ssl_mode.com", remote_id="0" * 32)
    wrong_category = rule(category="deleted", address="aop_ssl_mode.com")
    assert check(harness, ignores=(both,)).findings == ()
    assert len(check(harness, ignores=(wrong_id, wrong_category)).findings) == 1


def test_the_ignore_file_is_optional_and_parsed(tmp_path: Path) -> None:
    assert load_ignore_rules(tmp_path) == ()
    (tmp_path / "aopctl.ignore.json").write_text(
        json.dumps(
            {
                "$schema": "https://aopctl.dev/schemas/ignore.schema.json",
                "//": "known drift",
                "ignore": [
                    {
                        "category": "unmanaged",
                        "remote_id": "api.example.com",
                        "reason": "team B's hostname",
                        "expires": "2026-12-31",
                    }
                ],
            }
        )
    )
    (parsed,) = load_ignore_rules(tmp_path)
    assert parsed == IgnoreRule(
        Category.UNMANAGED,
        "team B's hostname",
        date(2026, 12, 31),
        remote_id="api.example.com",
        where="$.ignore[0]",
    )


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({}, "$"),
        ({"ignore": [{"category": "lost", "address": "aop_global.x"}]}, "$.ignore[0].category"),
        (
            {"ignore": [{"category": "changed", "reason": "r", "expires": "2026-01-01"}]},
            "$.ignore[0]",
        ),
        (
            {
                "ignore": [
                    {
                        "category": "changed",
                        "address": "a.b",
                        "reason": "r",
                        "expires": "2026-02-30",
                    }
                ]
            },
            "$.ignore[0].expires",
        ),
        ({"ignore": [], "extra": 1}, "$"),
    ],
)
def test_an_invalid_ignore_file_names_file_and_json_path(document: object, path: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_ignore_rules(json.dumps(document))
    assert any(
        reason.startswith(f"error: aopctl.ignore.json: {path}:") for reason in raised.value.reasons
    )


def test_every_problem_of_the_ignore_file_is_reported_at_once() -> None:
    document = {
        "ignore": [
            {"category": "changed", "reason": "", "expires": "2026-01-01", "address": "x.y"},
            {"category": "deleted", "address": "a.b", "expires": "tomorrow", "reason": "r"},
        ]
    }
    with pytest.raises(ConfigError) as raised:
        parse_ignore_rules(json.dumps(document))
    paths = {d.path for d in raised.value.diagnostics}
    assert paths == {"$.ignore[0].reason", "$.ignore[1].expires"}


# -- --fail-on -------------------------------------------------------------------------------


def test_fail_on_categories_parse() -> None:
    assert parse_categories("all") == frozenset(CATEGORIES)
    assert parse_categories("none") == frozenset()
    assert parse_categories(" Changed, deleted ,expiring") == {
        Category.CHANGED,
        Category.DELETED,
        Category.EXPIRING,
    }
    for bad in ("", "changed,lost", "all,changed"):
        with pytest.raises(ValueError):
            parse_categories(bad)
