"""The PostgreSQL server the postgres-backend tests use, and how they behave without one.

AOPCTL_TEST_PG_DSN names the server (default postgresql://postgres@127.0.0.1:5432/test). Without
a reachable server the tests skip, saying why, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest

from state.postgres import redact

DSN = os.environ.get("AOPCTL_TEST_PG_DSN") or "postgresql://postgres@127.0.0.1:5432/test"


def unavailable(reason: str) -> NoReturn:
    message = f"no PostgreSQL for the postgres backend tests ({reason}); set AOPCTL_TEST_PG_DSN"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def connect_admin() -> Any:
    """An autocommit connection to the test server, or a skip (a failure in CI)."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed")
    try:
        return psycopg.connect(DSN, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        unavailable(f"cannot connect: {redact(str(exc)).splitlines()[0]}")


@contextmanager
def scratch_schema(prefix: str = "aopctl_test") -> Iterator[str]:
    """A schema of its own for a test run, dropped afterwards."""
    from psycopg import sql

    admin = connect_admin()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield schema
    finally:
        admin.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        admin.close()
