"""Test fixtures: the same suite runs on SQLite and, when RISK_TEST_DATABASE_URL is set, on
PostgreSQL (each test database migrated by Alembic once per run, emptied after every test).
With RISK_REQUIRE_POSTGRES=1 a missing PostgreSQL is a failure, not a skip."""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from risk_engine import migrations
from risk_engine.all_models import metadata
from risk_engine.db import Database
from risk_engine.settings import Settings

PG_URL = os.environ.get("RISK_TEST_DATABASE_URL")
REQUIRE_PG = os.environ.get("RISK_REQUIRE_POSTGRES") == "1"
PG_SKIP_REASON = "PostgreSQL tests skipped: set RISK_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"


def _require_pg() -> str:
    if PG_URL:
        return PG_URL
    if REQUIRE_PG:
        pytest.fail("RISK_REQUIRE_POSTGRES=1 but RISK_TEST_DATABASE_URL is not set")
    pytest.skip(PG_SKIP_REASON)


def _sqlite_database(tmp_dir: Path) -> Database:
    url = f"sqlite:///{tmp_dir / 'risk-test.db'}"
    migrations.upgrade(url)
    return Database(url)


def _pg_database(url: str) -> tuple[Database, str]:
    schema = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL at {url} is required but not usable: {exc}")
        pytest.skip(f"PostgreSQL at {url} not usable: {exc}")
    admin.dispose()
    db = Database(url, connect_args={"options": f"-csearch_path={schema}"}, pool_size=40, max_overflow=10)
    with db.engine.connect() as conn:
        migrations.upgrade(connection=conn)
        conn.commit()
    return db, schema


def _drop_pg_schema(url: str, schema: str) -> None:
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        db = _sqlite_database(tmp_path_factory.mktemp("sqlite"))
        yield db
        db.dispose()
        return
    url = _require_pg()
    db, schema = _pg_database(url)
    yield db
    db.dispose()
    _drop_pg_schema(url, schema)


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """PostgreSQL only: for tests of real concurrency."""
    url = _require_pg()
    db, schema = _pg_database(url)
    yield db
    db.dispose()
    _drop_pg_schema(url, schema)


# No long-lived test session on purpose: on SQLite every transaction holds the write lock
# (BEGIN IMMEDIATE), so tests read through short `with db.session() as s:` blocks.
def _empty(db: Database) -> None:
    with db.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    yield database
    _empty(database)


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """SQLite only: for the SQLite side of a concurrency test whose PostgreSQL side is its own test."""
    db = _sqlite_database(tmp_path_factory.mktemp("sqlite-only"))
    yield db
    db.dispose()


@pytest.fixture
def sqlite_db(sqlite_database: Database) -> Iterator[Database]:
    yield sqlite_database
    _empty(sqlite_database)


@pytest.fixture
def pg_db(pg_database: Database) -> Iterator[Database]:
    yield pg_database
    _empty(pg_database)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", keys_dir=tmp_path / "keys", max_body_bytes=64 * 1024)


def make_client(db: Database, settings: Settings) -> TestClient:
    from api.app import create_app

    return TestClient(create_app(settings=settings, database=db), raise_server_exceptions=False)


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    with make_client(db, settings) as c:
        yield c


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ANN001, ANN201
    skipped = terminalreporter.stats.get("skipped", [])
    pg = [r for r in skipped if PG_SKIP_REASON in str(r.longrepr)]
    if pg:
        terminalreporter.write_line(f"{len(pg)} PostgreSQL test runs skipped: {PG_SKIP_REASON}", yellow=True)
