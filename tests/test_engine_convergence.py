"""Convergence as a property: any configuration, applied on top of any other, converges.

Hypothesis draws a sequence of random configurations (SSL mode, global AOP, a subset of
hostname certificates, bindings over a pool of hostnames, enabled or not). Each one is applied
to the same sandbox in turn; afterwards a new plan is empty, the sandbox holds exactly the
configured certificates and bindings, and no moment of the timeline broke the zero-downtime
invariant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from certgen import Issued, make_leaf
from conftest import FakeClock
from engine_helpers import (
    Harness,
    bindings,
    live_certificates,
    make_sandbox,
    state_backend,  # noqa: F401  (the fixture, used by pytestmark)
    write_config,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ZONE = "example.com"
CERTIFICATES: dict[str, Issued] = {
    name: make_leaf(f"{name}.example.com", sans=(f"{name}.example.com",))
    for name in ("alpha", "beta", "gamma")
}
HOSTNAMES = tuple(f"h{i}.example.com" for i in range(6))

# Every test here runs against both state backends (the local file and PostgreSQL).
pytestmark = pytest.mark.usefixtures("state_backend")


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(sorted(CERTIFICATES)), unique=True, max_size=3))
    owners = draw(st.lists(st.sampled_from([None, *chosen]), min_size=6, max_size=6))
    resources: dict[str, Any] = {
        "aop_ssl_mode": {"main": {"zone": ZONE, "mode": draw(st.sampled_from(["full", "strict"]))}},
        "aop_global": {"main": {"zone": ZONE, "enabled": draw(st.booleans())}},
    }
    certificates, bindings_ = {}, {}
    for name in chosen:
        certificates[name] = {
            "zone": ZONE,
            "certificate": f'${{file("certs/{name}.crt.pem")}}',
            "private_key": f'${{file("certs/{name}.key.pem")}}',
        }
        hostnames = [h for h, owner in zip(HOSTNAMES, owners, strict=True) if owner == name]
        if hostnames:
            bindings_[name] = {
                "zone": ZONE,
                "hostnames": hostnames,
                "certificate_id": f"${{aop_hostname_certificate.{name}.id}}",
                "enabled": draw(st.booleans()),
            }
    if certificates:
        resources["aop_hostname_certificate"] = certificates
    if bindings_:
        resources["aop_hostname_binding"] = bindings_
    return {"resource": resources}


def _expected_bindings(document: dict[str, Any], harness: Harness) -> dict[str, tuple[str, bool]]:
    expected = {}
    for name, binding in document["resource"].get("aop_hostname_binding", {}).items():
        cert_id = harness.remote_id(f"aop_hostname_certificate.{name}")
        for hostname in binding["hostnames"]:
            expected[hostname] = (cert_id, binding["enabled"])
    return expected


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(st.lists(configurations(), min_size=1, max_size=3))
def test_any_sequence_of_configurations_converges(documents: list[dict[str, Any]]) -> None:
    clock = FakeClock()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "certs").mkdir()
        for name, issued in CERTIFICATES.items():
            (directory / "certs" / f"{name}.crt.pem").write_text(issued.cert_pem)
            (directory / "certs" / f"{name}.key.pem").write_text(issued.key_pem)
        harness = Harness(directory, make_sandbox(clock, (ZONE,)), clock)
        for document in documents:
            write_config(directory, document)
            harness.apply()
            harness.assert_converged()
            configured = set(document["resource"].get("aop_hostname_certificate", {}))
            live = {c.id for c in live_certificates(harness.sandbox, ZONE)}
            assert live == {harness.remote_id(f"aop_hostname_certificate.{n}") for n in configured}
            live_bindings = {
                h: b for h, b in bindings(harness.sandbox, ZONE).items() if b[1] is not None
            }
            assert live_bindings == _expected_bindings(document, harness)
        assert harness.sandbox.check_zero_downtime() == []
