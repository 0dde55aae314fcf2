"""Golden plans: each directory under tests/cases/ is one case, as data.

    tests/cases/NAME/case.json      what to set up and what to plan (format below)
    tests/cases/NAME/config/        the configuration, when the case has its own
    tests/cases/NAME/expected.txt   the plan as text (or the PlanError, for a refused plan)
    tests/cases/NAME/expected.json  the plan as JSON (absent for a refused plan)

case.json (every key optional):

    {
      "description": "what the case shows",
      "zones": ["example.com", "example.net"],
      "example": "per-hostname",          configuration: a copy of examples/NAME, or
      "config": "config",                 a directory of the case (default "config")
      "files": {"certs/a.pem": "examples/certs/app-2026.crt.pem"},   copied from the repo
      "seed": {...},                      dashboard changes before the prior applies
      "prior": [{"example"|"config"|"files": ..., "vars": {...}}],   applies building the state
      "drift": {...},                     dashboard changes after them
      "vars": {"app_release": "2027"},
      "options": {"mode": "destroy", "targets": [...], "replace": [...]}
    }

A seed or drift block: {"settings": [[zone, setting, value]], "certificates": {label: {"zone",
"kind": "hostname"|"zone", "pem": repo path, "status"}}, "associations": [[zone, hostname, cert,
enabled]], "delete_certificates": [address]}; `cert` is a label or a state address.

Certificate ids and the state lineage are UUIDs: the case runs with a seeded `uuid.uuid4` and
applies one step at a time so they are the same on every run.

Regenerate the expected files after an intended change with

    AOPCTL_REGEN_GOLDEN=1 .venv/bin/pytest tests/test_engine_golden.py

and review the diff like code. Never edit them by hand.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import FakeClock
from engine_helpers import BASE_URL, EXAMPLES, ROOT, Harness, make_sandbox

from planner.errors import PlanError
from planner.render import render_json, render_text
from planner.render.plan_json import validate_plan_dict

CASES = Path(__file__).resolve().parent / "cases"
REGENERATE = os.environ.get("AOPCTL_REGEN_GOLDEN") == "1"
DEFAULT_ZONES = ["example.com", "example.net"]


def case_names() -> list[str]:
    return sorted(p.parent.name for p in CASES.glob("*/case.json"))


def seeded_uuid4() -> Callable[[], uuid.UUID]:
    rng = random.Random(20260101)
    return lambda: uuid.UUID(int=rng.getrandbits(128), version=4)


def install_config(workdir: Path, case_dir: Path, spec: Mapping[str, Any]) -> None:
    """Make `workdir` hold the configuration `spec` names (the state file stays)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.aop.json"):
        old.unlink()
    if "example" in spec:
        shutil.copytree(EXAMPLES / spec["example"], workdir, dirs_exist_ok=True)
    else:
        shutil.copytree(case_dir / spec.get("config", "config"), workdir, dirs_exist_ok=True)
    for target, source in spec.get("files", {}).items():
        (workdir / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / source, workdir / target)


def certificate_id(harness: Harness, labels: Mapping[str, str], reference: str) -> str:
    return labels[reference] if reference in labels else harness.remote_id(reference)


def dashboard(harness: Harness, block: Mapping[str, Any], labels: dict[str, str]) -> None:
    """Changes made outside aopctl: settings, certificates, associations, deletions."""
    sandbox = harness.sandbox
    for zone, name, value in block.get("settings", []):
        sandbox.set_setting(zone, name, value)
    for label, cert in block.get("certificates", {}).items():
        seed = (
            sandbox.seed_zone_certificate
            if cert.get("kind") == "zone"
            else sandbox.seed_hostname_certificate
        )
        pem = (ROOT / cert["pem"]).read_text(encoding="utf-8")
        labels[label] = seed(cert["zone"], pem, status=cert.get("status", "active"))
    for zone, hostname, reference, enabled in block.get("associations", []):
        cert_id = certificate_id(harness, labels, reference)
        sandbox.seed_association(zone, hostname, cert_id, enabled)
    for address in block.get("delete_certificates", []):
        delete_out_of_band(harness, address)


def delete_out_of_band(harness: Harness, address: str) -> None:
    resource = harness.state().get(address)
    assert resource is not None and resource.remote_id
    sandbox, cert_id = harness.sandbox, resource.remote_id
    zone_id = resource.zone_id
    for association in sandbox.account.associations_in(zone_id):
        if association.cert_id == cert_id:
            sandbox.seed_association(zone_id, association.hostname, cert_id, None)
    kind = "hostnames/certificates" if resource.type == "aop_hostname_certificate" else ""
    path = "/".join(p for p in (f"/zones/{zone_id}/origin_tls_client_auth", kind, cert_id) if p)
    headers = {"Authorization": "Bearer dashboard"}
    with httpx.Client(transport=sandbox.transport(), base_url=BASE_URL, headers=headers) as api:
        api.delete(path).raise_for_status()
    harness.clock.advance(10)  # past the deletion delay


def error_text(error: PlanError) -> str:
    return "\n".join([f"PlanError: {error.message}", *(f"  {r}" for r in error.reasons)]) + "\n"


def run_case(case_dir: Path, tmp_path: Path, clock: FakeClock) -> dict[str, str]:
    """The rendered plan (or refusal) of one case, keyed by expected file name."""
    case = json.loads((case_dir / "case.json").read_text(encoding="utf-8"))
    harness = Harness(
        tmp_path / "cfg", make_sandbox(clock, case.get("zones", DEFAULT_ZONES)), clock
    )
    harness.settings = replace(harness.settings, parallelism=1)  # ids in a stable order
    labels: dict[str, str] = {}
    dashboard(harness, case.get("seed", {}), labels)
    for prior in case.get("prior", []):
        own = "example" in prior or "config" in prior
        install_config(harness.directory, case_dir, prior if own else {**case, **prior})
        harness.apply(prior.get("vars"))
    install_config(harness.directory, case_dir, case)
    dashboard(harness, case.get("drift", {}), labels)
    try:
        plan = harness.plan(case.get("vars"), **case.get("options", {})).plan
    except PlanError as error:
        return {"expected.txt": error_text(error)}
    return {"expected.txt": render_text(plan, color=False), "expected.json": render_json(plan)}


@pytest.mark.parametrize("name", case_names())
def test_golden_case(
    name: str, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uuid, "uuid4", seeded_uuid4())
    case_dir = CASES / name

    rendered = run_case(case_dir, tmp_path, clock)
    if "expected.json" in rendered:  # the documented schema, as `show PLANFILE` reads it back
        validate_plan_dict(json.loads(rendered["expected.json"]))

    if REGENERATE:
        for stale in ("expected.txt", "expected.json"):
            (case_dir / stale).unlink(missing_ok=True)
        for file_name, text in rendered.items():
            (case_dir / file_name).write_text(text, encoding="utf-8")
    expected = {p.name: p.read_text(encoding="utf-8") for p in sorted(case_dir.glob("expected.*"))}
    assert rendered == expected, (
        f"case {name} renders differently; if intended, regenerate with AOPCTL_REGEN_GOLDEN=1"
    )


def test_there_are_cases() -> None:
    assert len(case_names()) >= 8
