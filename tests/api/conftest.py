"""Fixtures: every API test runs on SQLite and on the real PostgreSQL (a fresh database per test session).

PostgreSQL comes from ``EVAC_TEST_POSTGRES_URL`` (default: the local server's ``test`` database, used only to
create and drop the session's own database). When it is unreachable the PostgreSQL half is skipped with a
message, except in CI (``CI`` set), where it fails: CI must prove both backends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import make_url

from api import migrate
from api.config import Settings
from api.db import Database
from api.main import create_app
from api.models import Base
from tests.api.factories import Live, live_alert

PG_BASE_URL = os.environ.get("EVAC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test session, dropped at the end."""
    try:
        admin = psycopg.connect(_libpq(PG_BASE_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is unreachable at {PG_BASE_URL} ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the PostgreSQL tests")
        pytest.skip(f"{message}: PostgreSQL tests skipped (they run in CI)")
    name = f"evac_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_BASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Each backend's database, migrated once per session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'evac.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate.upgrade(Settings(database_url=url))
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Fast settings for tests: cheap password hashing, no geocoder, a 1 s solver, quick polling."""
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": "test-secret-key-that-is-long-enough-for-hs256",
        "geocoder": "none",
        "password_time_cost": 1,
        "password_memory_kib": 64,
        "time_limit_seconds": 1.0,
        "poll_seconds": 0.1,
        "heartbeat_seconds": 0.3,
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def wipe(url: str) -> None:
    """Empty every table (children first), so each test starts from nothing."""
    db = Database(Settings(database_url=url))
    with db.session() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
    db.dispose()


@pytest.fixture
def settings(database_url: str) -> Settings:
    wipe(database_url)
    return make_settings(database_url)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client



@pytest.fixture
def live(app: FastAPI, client: TestClient) -> Live:
    """An active alert with a published plan (``factories.live_alert``)."""
    return live_alert(app, client)
