"""Shared fixtures. Keep this small: fixtures used by one test module live in that module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from openapi_check import OpenApiChecker, ValidatingTransport

from planner.sandbox import Sandbox

BASE_URL = "https://api.cloudflare.com/client/v4"
TOKEN_HEADERS = {"Authorization": "Bearer sandbox-test-token"}


class FakeClock:
    """An injectable clock: `clock()` reads it, `advance`/`sleep` move it, nothing waits."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    sleep = advance


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Sandbox:
    """A sandbox with zero delays on the fake clock (statuses reach their end at once)."""
    return Sandbox(clock=clock, sleep=clock.sleep)


@pytest.fixture(scope="session")
def openapi() -> OpenApiChecker:
    return OpenApiChecker()


@pytest.fixture
def validated_transport(sandbox: Sandbox, openapi: OpenApiChecker) -> Iterator[ValidatingTransport]:
    """The `sandbox` fixture's transport; every request and answer must match the extract."""
    transport = ValidatingTransport(sandbox.transport(), openapi)
    yield transport
    assert not transport.violations, "\n".join(transport.violations)


@pytest.fixture
def api(validated_transport: ValidatingTransport) -> Iterator[httpx.Client]:
    """An authenticated client on the validated sandbox transport (base URL ends in /client/v4)."""
    with httpx.Client(
        transport=validated_transport, base_url=BASE_URL, headers=TOKEN_HEADERS
    ) as client:
        yield client
