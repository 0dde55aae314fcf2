"""Saved plans (`plan --out FILE`, `apply FILE`): JSON, no secrets, guarded by a checksum.

A saved plan records the state lineage and serial it was made from, a digest of the
configuration, digests of the live objects it touches, and the non-secret `--var` values. Apply
re-plans under the same conditions and refuses the file unless the result is identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from planner import __version__
from planner.errors import AopctlError
from planner.keytext import holds_private_key
from planner.live import LiveZone
from planner.plan import PlanResult
from planner.render import plan_to_dict

FORMAT = "aopctl-plan/1"


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=repr)


def _digest(data: Any) -> str:
    return hashlib.sha256(_canonical(data).encode()).hexdigest()


def config_digest(result: PlanResult) -> str:
    config = result.config
    if config is None:
        return _digest(None)
    resources = {
        str(address): {
            "attributes": {k: v for k, v in resource.attributes.items() if k != "private_key"},
            "fingerprint": config.certificates[address].fingerprint_sha256
            if address in config.certificates
            else None,
        }
        for address, resource in config.resources.items()
    }
    return _digest(resources)


def _zone_digest(zone: LiveZone) -> dict[str, str]:
    """A digest per live object, keyed by what identifies it."""
    digests = {
        f"{zone.zone_id}/settings": _digest([zone.ssl, zone.tls_client_auth, zone.zone_aop_enabled])
    }
    for cert in zone.all_certificates():
        digests[f"{zone.zone_id}/{cert.id}"] = _digest(
            [cert.status, zone.fingerprints.get(cert.id)]
        )
    for hostname, association in zone.associations.items():
        digests[f"{zone.zone_id}/{hostname}"] = _digest(
            [association.cert_id, association.enabled, association.status]
        )
    return digests


def live_digests(result: PlanResult) -> dict[str, str]:
    """Digests of the live objects in the zones the plan touches."""
    touched = {c.zone_id for c in result.plan.changes if c.zone_id}
    digests: dict[str, str] = {}
    for zone_id in sorted(touched):
        if zone_id in result.live:
            digests.update(_zone_digest(result.live[zone_id]))
    return digests


def _public_variables(result: PlanResult, var_pairs: tuple[str, ...]) -> list[str]:
    """`--var` pairs minus secrets: sensitive variables, and any value holding a private key
    (a variable feeding `private_key` but not marked sensitive). Apply is given them again."""
    sensitive = {
        n for n, v in (result.config.variables if result.config else {}).items() if v.sensitive
    }
    return [
        pair
        for pair in var_pairs
        if pair.partition("=")[0].strip() not in sensitive and not holds_private_key(pair)
    ]


def stored_variables(saved: dict[str, Any]) -> set[str]:
    """The names of the `--var` values a saved plan carries."""
    return {pair.partition("=")[0].strip() for pair in saved["variables_cli"]}


def write_plan_file(
    path: Path, result: PlanResult, var_pairs: tuple[str, ...], var_files: tuple[Path, ...]
) -> None:
    body = {
        "format": FORMAT,
        "aopctl_version": __version__,
        "plan": plan_to_dict(result.plan),
        "config_digest": config_digest(result),
        "live": live_digests(result),
        "variables_cli": _public_variables(result, var_pairs),
        "mode": result.plan.mode,
        "options": result.plan.options,
    }
    body["checksum"] = _digest(body)
    path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    path.chmod(0o600)
    del var_files  # variable files are read again at apply time; their path is the user's


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AopctlError(f"{path}: cannot read the saved plan: {exc}") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise AopctlError(f"{path}: not an aopctl saved plan")
    checksum = body.pop("checksum", None)
    if checksum != _digest(body):
        raise AopctlError(f"{path}: the checksum does not match: the plan file was modified")
    return body


def verify_replan(saved: dict[str, Any], result: PlanResult) -> None:
    """Refuse to apply a saved plan whose conditions changed since it was made."""
    plan = saved["plan"]
    reasons = []
    if plan.get("lineage") is None and result.plan.lineage is not None:
        reasons.append("the state was created since the plan was made (by an apply?)")
    elif plan.get("lineage") != result.plan.lineage:
        reasons.append(
            f"the state was replaced since the plan was made (lineage {plan.get('lineage')} -> "
            f"{result.plan.lineage})"
        )
    elif plan.get("serial") != result.plan.serial:
        reasons.append(
            f"the state changed since the plan was made (serial {plan.get('serial')} -> "
            f"{result.plan.serial})"
        )
    if saved["config_digest"] != config_digest(result):
        reasons.append("the configuration changed since the plan was made")
    current = live_digests(result)
    changed = sorted(k for k, v in saved["live"].items() if current.get(k) != v)
    if changed:
        reasons.append("live objects changed since the plan was made: " + ", ".join(changed))
    if not reasons and plan_to_dict(result.plan) != plan:
        reasons.append("planning again gives a different plan")
    if reasons:
        raise AopctlError("the saved plan is stale; make a new plan", reasons)
