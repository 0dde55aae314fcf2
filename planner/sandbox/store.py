"""The file-backed sandbox behind `aopctl --sandbox`: `.aopctl/sandbox.json` in the config dir.

Every request runs as load -> handle -> save under an exclusive `fcntl.flock` on a sibling
`.lock` file (the data file itself is replaced on save, so it cannot carry the lock), and the
save writes a temporary file in the same directory, then renames it over the old one.
Two processes can therefore share one account without losing a write, and statuses progress
between runs because they are computed from the clock.

Delays, rate limit and clock are process settings, not state: they come from the keyword
arguments, then the AOPCTL_SANDBOX_* variables, then the `--sandbox` defaults (2 s / 1 s).
Zones named in the settings that the file lacks are added.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx

from planner.sandbox.app import Clock, Sandbox, SandboxConfigError, Sleep, env_settings
from planner.sandbox.model import zone_id_for
from planner.sandbox.responses import Response
from planner.sandbox.server import serve
from planner.sandbox.transport import SandboxTransport


def default_path(config_dir: Path) -> Path:
    """Where `--sandbox` keeps its account for the configuration directory `config_dir`."""
    return config_dir / ".aopctl" / "sandbox.json"


def open_persistent(path: Path, **kw: Any) -> PersistentSandbox:
    """A sandbox persisted in `path`; `kw` are `Sandbox` keyword arguments (env fills the rest)."""
    clock: Clock = kw.pop("clock", time.time)
    sleep: Sleep = kw.pop("sleep", time.sleep)
    return PersistentSandbox(Path(path), {**env_settings(), **kw}, clock, sleep)


class PersistentSandbox:
    def __init__(self, path: Path, settings: Mapping[str, Any], clock: Clock, sleep: Sleep):
        self.path = path
        self.settings = dict(settings)
        self.clock = clock
        self.sleep = sleep

    @contextmanager
    def edit(self) -> Iterator[Sandbox]:
        """The account, locked; saved when the block ends without an exception."""
        with self._locked():
            sandbox = self._load()
            yield sandbox
            self._save(sandbox)

    def snapshot(self) -> Sandbox:
        """A read-only copy for inspection (timeline, requests, checks)."""
        with self._locked():
            return self._load()

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        with self.edit() as sandbox:
            return sandbox.handle(method, path, query, headers, body)

    def transport(self) -> httpx.BaseTransport:
        return SandboxTransport(self, self.sleep)

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> AbstractContextManager[str]:
        return serve(self, host, port)

    def zone_id(self, name: str) -> str:
        return zone_id_for(name)

    def check_zero_downtime(self) -> list[str]:
        return self.snapshot().check_zero_downtime()

    def write_count(self) -> int:
        return self.snapshot().write_count()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _load(self) -> Sandbox:
        options = {key: value for key, value in self.settings.items() if key != "zones"}
        zones = self.settings.get("zones", ())
        if not self.path.exists():
            return Sandbox(zones, clock=self.clock, sleep=self.sleep, **options)
        try:
            data = json.loads(self.path.read_text())
            sandbox = Sandbox.from_json(data, clock=self.clock, sleep=self.sleep, **options)
        except (ValueError, KeyError, TypeError) as exc:
            raise SandboxConfigError(f"{self.path} is not a sandbox file ({exc})") from exc
        for name in zones:
            if name not in sandbox.zone_names():
                sandbox.add_zone(name)
        return sandbox

    def _save(self, sandbox: Sandbox) -> None:
        text = json.dumps(sandbox.to_json(), separators=(",", ":"))
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".sandbox-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(text)  # no fsync: rename keeps it atomic, durability is not needed
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
