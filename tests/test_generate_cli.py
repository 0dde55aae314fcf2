"""`aopctl generate` through the command line, against the file-backed `--sandbox`.

The sandbox runs with zero delays (statuses reach their end at once), so these tests need no
clock; deployment waits are covered in-process by test_generate.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from certgen import make_leaf
from click.testing import CliRunner, Result
from engine_helpers import assert_no_key_material

from planner.cli import main
from planner.sandbox import PersistentSandbox, default_path, open_persistent


@pytest.fixture(autouse=True)
def instant_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AOPCTL_SANDBOX_DEPLOY_DELAY", "0")
    monkeypatch.setenv("AOPCTL_SANDBOX_DELETE_DELAY", "0")
    monkeypatch.setenv("AOPCTL_SANDBOX_ZONES", "example.org")
    for name in ("CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_KEY", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)


def aopctl(directory: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    runner = CliRunner()
    return runner.invoke(
        main, ["--chdir", str(directory), "--sandbox", "--no-color", *args], env=env
    )


def seed(directory: Path) -> PersistentSandbox:
    """A hand-made account: a hostname certificate with enabled and disabled bindings, a zone
    certificate with zone-level AOP on, global AOP in a third zone, and one certificate whose
    deployment failed."""
    store = open_persistent(default_path(directory))
    issued = {
        "app": make_leaf("app.example.com", sans=("app.example.com",)),
        "zone": make_leaf("example.net client"),
        "failed": make_leaf("failed.example.com"),
    }
    with store.edit() as sandbox:
        app = sandbox.seed_hostname_certificate("example.com", issued["app"].cert_pem)
        sandbox.seed_hostname_certificate(
            "example.com", issued["failed"].cert_pem, status="deployment_timed_out"
        )
        sandbox.seed_association("example.com", "app.example.com", app, True)
        sandbox.seed_association("example.com", "www.example.com", app, False)
        sandbox.seed_zone_certificate("example.net", issued["zone"].cert_pem)
        sandbox.set_setting("example.net", "aop_zone_enabled", True)
        for zone in ("example.com", "example.net", "example.org"):
            sandbox.set_setting(zone, "ssl", "strict")
        sandbox.set_setting("example.org", "tls_client_auth", "on")
    return store


ZONE_ARGS = ("--zone", "example.com", "--zone", "example.net", "--zone", "example.org")


def test_generate_validate_fmt_plan_then_rotate(tmp_path: Path) -> None:
    store = seed(tmp_path)

    generated = aopctl(tmp_path, "generate", *ZONE_ARGS)

    assert generated.exit_code == 0, generated.output
    assert "example.com.aop.json" in generated.output
    assert "certs/app.crt.pem" in generated.output
    assert "Skipped (left unmanaged):" in generated.output
    assert "deployment_timed_out" in generated.output
    assert "app_private_key" in generated.output
    assert aopctl(tmp_path, "validate").exit_code == 0
    assert aopctl(tmp_path, "fmt", "--check").exit_code == 0
    planned = aopctl(tmp_path, "plan", "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    assert "No changes." in planned.output
    assert store.write_count() == 0

    # Rotate app's certificate through the generated configuration.
    new = make_leaf("app.example.com", sans=("app.example.com",))
    (tmp_path / "certs" / "app.crt.pem").write_text(new.cert_pem)
    refused = aopctl(tmp_path, "plan")
    assert refused.exit_code == 1
    assert "app_private_key" in refused.output
    key_file = tmp_path.parent / "keys.json"
    key_file.write_text(json.dumps({"app_private_key": new.key_pem}))
    applied = aopctl(tmp_path, "apply", "--auto-approve", "--var-file", str(key_file))
    assert applied.exit_code == 0, applied.output
    after = aopctl(tmp_path, "plan", "--detailed-exitcode")
    assert after.exit_code == 0, after.output

    snapshot = store.snapshot()
    zone_id = snapshot.zone_id("example.com")
    live = [
        c
        for c in snapshot.account.certs_in(zone_id, "hostname")
        if c.status_at(snapshot.clock()) == "active"
    ]
    assert {c.fingerprint_sha256 for c in live} == {new.fingerprint_sha256}
    [current] = live
    assert {
        (a.hostname, a.cert_id, a.enabled) for a in snapshot.account.associations_in(zone_id)
    } == {
        ("app.example.com", current.id, True),
        ("www.example.com", current.id, False),
    }
    assert not snapshot.check_zero_downtime()
    fragments = [line for line in new.key_pem.splitlines() if len(line) >= 32]
    for result in (generated, planned, refused, applied, after):
        assert_no_key_material(result.output, fragments, "command output")


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    seed(tmp_path)
    assert aopctl(tmp_path, "generate", "--zone", "example.com").exit_code == 0
    state_before = (tmp_path / "aopctl.state.json").read_text()

    again = aopctl(tmp_path, "generate", "--zone", "example.com")

    assert again.exit_code == 1
    assert "--force" in again.output
    assert "example.com.aop.json exists" in again.output
    assert (tmp_path / "aopctl.state.json").read_text() == state_before

    forced = aopctl(tmp_path, "generate", "--zone", "example.com", "--force")
    assert forced.exit_code == 0, forced.output
    assert "example.com.aop.json (overwritten)" in forced.output
    assert json.loads((tmp_path / "aopctl.state.json").read_text())["serial"] == 2


def test_out_directory_and_expiry_report(tmp_path: Path) -> None:
    store = open_persistent(default_path(tmp_path))
    soon = make_leaf("soon.example.com", days=10)
    with store.edit() as sandbox:
        sandbox.seed_zone_certificate("example.com", soon.cert_pem)
        sandbox.set_setting("example.com", "ssl", "full")
    out = tmp_path / "generated"

    result = aopctl(tmp_path, "generate", "--zone", "example.com", "--out", str(out))

    assert result.exit_code == 0, result.output
    assert (out / "example.com.aop.json").is_file() and (out / "aopctl.state.json").is_file()
    tail = result.output.split("Certificates expired or expiring soon:")[1]
    assert "aop_zone_certificate.soon in zone example.com: expires on" in tail
    assert "(9 days left)" in tail


def test_unknown_zone_is_one_clear_error(tmp_path: Path) -> None:
    result = aopctl(tmp_path, "generate", "--zone", "missing.example")

    assert result.exit_code == 1
    assert "missing.example" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.aop.json"))


def test_generate_writes_its_state_to_the_postgres_backend(tmp_path: Path) -> None:
    """With an `aopctl.state` block naming postgres, the generated state lands in the database
    and the next plan, reading it from there, has nothing to do."""
    from pg_support import DSN, connect_admin, scratch_schema

    connect_admin().close()  # skips (or fails in CI) without a server
    store = seed(tmp_path)
    with scratch_schema("aopctl_generate") as schema:
        backend_block = {"backend": "postgres", "schema": schema, "workspace": "generated"}
        (tmp_path / "backend.aop.json").write_text(
            json.dumps({"aopctl": {"state": backend_block}}, indent=2) + "\n"
        )
        env = {"AOPCTL_PG_DSN": DSN}

        generated = aopctl(tmp_path, "generate", *ZONE_ARGS, env=env)
        assert generated.exit_code == 0, generated.output
        assert not (tmp_path / "aopctl.state.json").exists()

        planned = aopctl(tmp_path, "plan", "--detailed-exitcode", env=env)
        assert planned.exit_code == 0, planned.output
        listed = aopctl(tmp_path, "state", "list", env=env)
        assert "aop_hostname_certificate.app" in listed.output, listed.output
        assert store.write_count() == 0
