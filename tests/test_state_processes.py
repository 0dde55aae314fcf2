"""The state store across real processes: racing writers, SIGKILL mid-write, dead lock holders."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from state import LocalBackend, StateDocument

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "schemas" / "state.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

pytestmark = pytest.mark.slow

# A writer that locks, writes a fresh ~120 kB state and unlocks, forever.
WRITER = textwrap.dedent(
    """
    import sys
    from dataclasses import replace
    from pathlib import Path
    from state import LocalBackend, ResourceState

    backend = LocalBackend(Path(sys.argv[1]), backups=3, aopctl_version="test")
    print("ready", flush=True)
    while True:
        lock = backend.lock("kill-test")
        doc = backend.read()
        resources = tuple(
            ResourceState(
                address=f"aop_hostname_certificate.c{i}", type="aop_hostname_certificate",
                name=f"c{i}", zone_id="0" * 32, zone_name="example.com", remote_id=f"id{i}",
                attributes={"serial": doc.serial, "padding": "x" * 6000},
            )
            for i in range(20)
        )
        backend.write(replace(doc, resources=resources), doc.serial)
        backend.unlock(lock)
    """
)

# Waits for "go", races for the lock, reports, then waits for "write" before writing.
RACER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from state import LocalBackend, ResourceState, StateLockedError

    name = sys.argv[2]
    backend = LocalBackend(Path(sys.argv[1]), aopctl_version="test")
    print("ready", flush=True)
    sys.stdin.readline()
    try:
        lock = backend.lock(f"racer-{name}")
    except StateLockedError as exc:
        print(json.dumps({"result": "locked", "message": exc.message}), flush=True)
        sys.exit(3)
    print(json.dumps({"result": "acquired", "id": lock.id}), flush=True)
    sys.stdin.readline()
    doc = backend.read()
    rs = ResourceState(address=f"aop_global.{name}", type="aop_global", name=name,
                       zone_id="0" * 32, zone_name="", remote_id=None, attributes={})
    backend.write(doc.with_resource(rs), doc.serial)
    backend.unlock(lock)
    """
)


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        # -S: no site-packages (and a fast start); `state` needs only the stdlib and the cwd.
        [sys.executable, "-S", "-c", script, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        assert proc.stderr is not None
        pytest.fail(f"child exited early: {proc.stderr.read()}")
    return line.strip()


def send(proc: subprocess.Popen[str], line: str) -> None:
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def check_state_file(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_bytes())
    assert list(VALIDATOR.iter_errors(data)) == []
    return data  # type: ignore[no-any-return]


def test_two_writers_race_one_wins_the_other_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "aopctl.state.json"
    racers = {name: spawn(RACER, str(path), name) for name in ("a", "b")}
    try:
        for proc in racers.values():
            assert expect_line(proc) == "ready"
        for proc in racers.values():
            send(proc, "go")
        results = {name: json.loads(expect_line(proc)) for name, proc in racers.items()}
        winners = [name for name, r in results.items() if r["result"] == "acquired"]
        assert len(winners) == 1
        winner, loser = winners[0], "b" if winners[0] == "a" else "a"
        assert racers[loser].wait(timeout=30) == 3
        pattern = (
            rf"state is locked by \S+@\S+ \(pid {racers[winner].pid}\) running racer-{winner} "
            rf"since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ, lock id {results[winner]['id']}"
        )
        assert re.fullmatch(pattern, results[loser]["message"])
        send(racers[winner], "write")
        assert racers[winner].wait(timeout=30) == 0
    finally:
        for proc in racers.values():
            proc.kill()
            proc.communicate()
    data = check_state_file(path)
    assert data["serial"] == 1
    assert [r["address"] for r in data["resources"]] == [f"aop_global.{winner}"]
    assert not path.with_name("aopctl.state.json.lock").exists()


def test_sigkill_at_random_moments_never_leaves_a_torn_state(tmp_path: Path) -> None:
    path = tmp_path / "aopctl.state.json"
    rng = random.Random(20260101)
    serials: list[int] = []
    for _ in range(20):
        writer = spawn(WRITER, str(path))
        try:
            assert expect_line(writer) == "ready"
            # The kill moment has to be a real random delay: that is what this test is about.
            time.sleep(rng.uniform(0, 0.1))
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.communicate()
        if path.exists():
            serials.append(check_state_file(path)["serial"])
        for backup in LocalBackend(path, backups=3, aopctl_version="t").backups():
            json.loads(backup.read_bytes())  # parses: never torn (fully validated below)
    assert serials == sorted(serials) and serials and serials[-1] >= 5  # it was writing
    # A clean writer afterwards takes over any lock left by a killed one and tidies up.
    backend = LocalBackend(path, backups=3, aopctl_version="t")
    lock = backend.lock("after")
    doc = backend.read()
    backend.write(doc, doc.serial)
    backend.unlock(lock)
    assert sorted(p.name for p in tmp_path.rglob(".*.tmp")) == []
    assert len(backend.backups()) == 3
    for backup in backend.backups():
        check_state_file(backup)


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "aopctl.state.json"
    holder = spawn(RACER, str(path), "victim")
    try:
        assert expect_line(holder) == "ready"
        send(holder, "go")
        acquired = json.loads(expect_line(holder))
        blocked = LocalBackend(path, aopctl_version="t")
        with pytest.raises(Exception, match="state is locked by"):
            blocked.lock("apply")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate()
    info = LocalBackend(path, aopctl_version="t").lock("apply")
    assert info.taken_over_from is not None
    assert (info.taken_over_from.id, info.taken_over_from.pid) == (acquired["id"], holder.pid)
    assert LocalBackend(path, aopctl_version="t").read() == StateDocument.empty("t")
