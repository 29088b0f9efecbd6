"""SQLite writers of one process queue on an in-process lock per database file (``risk_engine.db``):
with SQLite's own busy handler switched off (``PRAGMA busy_timeout=0``: any contention for the write
lock fails at once with "database is locked"), no writer fails, and a failed transaction lets the next
writer in."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text

from risk_engine.db import Database


def _without_busy_handler(url: str) -> Database:
    db = Database(url, busy_timeout_ms=10_000)  # the in-process queue waits up to 10 s

    @event.listens_for(db.engine, "connect")
    def _no_busy_wait(dbapi_connection, _record):  # registered after the engine's own: it wins
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    return db


@pytest.fixture
def counter_db(tmp_path):
    db = _without_busy_handler(f"sqlite:///{tmp_path / 'writers.db'}")
    with db.unit_of_work() as s:
        s.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        s.execute(text("INSERT INTO counter VALUES (0)"))
    yield db
    db.dispose()


def test_concurrent_writers_queue_instead_of_failing(counter_db):
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(20):
                with counter_db.unit_of_work() as s:
                    n = s.execute(text("SELECT n FROM counter")).scalar_one()
                    s.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})  # read-modify-write
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with counter_db.session() as s:
        assert s.execute(text("SELECT n FROM counter")).scalar_one() == 160  # no update was lost


def test_a_failed_transaction_releases_the_queue(counter_db):
    with pytest.raises(RuntimeError):
        with counter_db.unit_of_work() as s:
            s.execute(text("UPDATE counter SET n = 1"))
            raise RuntimeError("the request failed")
    done = threading.Event()

    def write() -> None:
        with counter_db.unit_of_work() as s:
            s.execute(text("UPDATE counter SET n = 2"))
        done.set()

    threading.Thread(target=write).start()
    assert done.wait(timeout=10)
    with counter_db.session() as s:
        assert s.execute(text("SELECT n FROM counter")).scalar_one() == 2


def test_two_engines_on_one_file_share_the_queue(counter_db, tmp_path):
    other = _without_busy_handler(counter_db.url)
    try:
        errors: list[BaseException] = []

        def write(db: Database) -> None:
            try:
                for _ in range(20):
                    with db.unit_of_work() as s:
                        s.execute(text("UPDATE counter SET n = n + 1"))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(db,)) for db in (counter_db, other) * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
    finally:
        other.dispose()
