"""Database layer: the declarative base, engines and the unit of work.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, and every
transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers queue on the write lock
instead of failing half-way with "database is locked". Within one process the writers first queue on
an in-process lock per database file, released the moment their transaction ends: SQLite's own busy
handler polls with sleeps of up to 100 ms, which made a long tail of waits under concurrent requests;
across processes the busy handler still arbitrates. PostgreSQL is reached through psycopg 3.

Services receive a ``Session`` and only flush; the caller that opened the session owns the
transaction and commits (or rolls back) once: see ``session_scope``.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    TypeDecorator,
    create_engine,
    event,
    insert,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# an audit entry's sequence number, and every column that points at one: 64-bit (SQLite's INTEGER already is)
AuditSeq = BigInteger().with_variant(Integer(), "sqlite")


class Money(TypeDecorator[Decimal]):
    """CNY amounts as exact decimals with two places (NUMERIC(18, 2)), never floats."""

    impl = Numeric(18, 2, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal or str, never float")
        return Decimal(value).quantize(Decimal("0.01"))

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).quantize(Decimal("0.01"))


class Ratio(TypeDecorator[Decimal]):
    """Exact ratios and rates (NUMERIC(12, 6)): loan-to-order ratio, APR, caps."""

    impl = Numeric(12, 6, asdecimal=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("ratios must be Decimal or str, never float")
        return Decimal(value)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).normalize()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite keeps no zone: we store UTC, read UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_serializer(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def make_engine(url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False, writer: bool = True,
                **kwargs: Any) -> Engine:
    """``writer=False`` (SQLite only): transactions begin DEFERRED, so in WAL mode they read a consistent
    snapshot while another connection holds the write lock, instead of queueing behind it."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=json_serializer,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            **kwargs,
        )
        _configure_sqlite(engine, busy_timeout_ms, begin="BEGIN IMMEDIATE" if writer else "BEGIN")
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, echo=echo, json_serializer=json_serializer, **kwargs)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[1] if "///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, busy_timeout_ms: int, begin: str = "BEGIN IMMEDIATE") -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so that we emit BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if begin != "BEGIN IMMEDIATE":
        @event.listens_for(engine, "begin")
        def _on_begin_deferred(connection: Any) -> None:
            connection.exec_driver_sql(begin)
        return
    _queue_writers_in_process(engine, busy_timeout_ms)


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(database: str) -> threading.Lock:
    key = database if database in ("", ":memory:") else str(Path(database).expanduser().resolve())
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def _queue_writers_in_process(engine: Engine, busy_timeout_ms: int) -> None:
    """``BEGIN IMMEDIATE`` behind a process-wide lock per database file, held until the transaction's
    COMMIT or ROLLBACK has run (or its connection is closed). A writer that cannot get the lock within
    the busy timeout goes ahead and lets SQLite decide, as without the lock."""
    lock = _write_lock(engine.url.database or "")
    holders: set[int] = set()  # id() of the DBAPI connections holding the lock

    def raw_id(connection: Any) -> int:
        return id(getattr(connection, "dbapi_connection", None) or connection)

    def release(connection: Any) -> None:
        key = raw_id(connection)
        if key in holders:
            holders.discard(key)
            lock.release()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        key = raw_id(connection.connection)
        held = key not in holders and lock.acquire(timeout=busy_timeout_ms / 1000)
        if held:
            holders.add(key)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            release(connection.connection)
            raise

    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit_then_release(connection: Any) -> None:
        try:
            do_commit(connection)
        finally:
            release(connection)

    def rollback_then_release(connection: Any) -> None:
        try:
            do_rollback(connection)
        finally:
            release(connection)

    dialect.do_commit = commit_then_release  # type: ignore[method-assign]
    dialect.do_rollback = rollback_then_release  # type: ignore[method-assign]

    @event.listens_for(engine, "close")
    def _on_close(dbapi_connection: Any, _record: Any) -> None:
        release(dbapi_connection)

    @event.listens_for(engine, "invalidate")
    def _on_invalidate(dbapi_connection: Any, _record: Any, _exception: Any) -> None:
        release(dbapi_connection)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


def transaction_scoped(session: Session, name: str, factory: Callable[[], T]) -> T:
    """What ``session``'s current transaction knows under ``name`` (the locks it holds, the audit chain's
    head...): made by ``factory`` the first time in each transaction, forgotten when it ends."""
    transaction = session.get_transaction()
    held = session.info.get(name)
    if held is None or held[0] is not transaction:
        held = (transaction, factory())
        session.info[name] = held
    return held[1]


def insert_new(session: Session, obj: Any) -> None:
    """Insert a new mapped object with its table's Core INSERT and keep it in the session as the persistent
    row it now is (``make_transient_to_detached`` + ``add``): for one object on a hot path the unit of
    work's INSERT costs about three times as much. Columns left unset get their defaults in the statement
    and are read back if touched."""
    statement, columns = _insert_plan(type(obj))
    values = obj.__dict__
    session.execute(statement, {column: values[attribute] for attribute, column in columns if attribute in values})
    make_transient_to_detached(obj)
    session.add(obj)


@cache
def _insert_plan(cls: type) -> tuple[Any, tuple[tuple[str, str], ...]]:
    mapper = sa_inspect(cls)
    return insert(mapper.local_table), tuple((a.key, a.columns[0].key) for a in mapper.column_attrs)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A unit of work: commits when the block succeeds, rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """The engine and session factory of one database, built once per process."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms, **engine_kwargs)
        self.sessions = make_session_factory(self.engine)
        self._busy_timeout_ms = busy_timeout_ms
        self._engine_kwargs = engine_kwargs
        self._readers: sessionmaker[Session] | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self) -> Session:
        return self.sessions()

    def reader(self) -> Session:
        """A session for reads only. On SQLite it never waits for (or blocks) the write lock, so code
        running inside another unit of work — a model lookup during a decision — can read safely."""
        if self.dialect != "sqlite":
            return self.sessions()
        if self._readers is None:
            self._readers = make_session_factory(
                make_engine(self.url, busy_timeout_ms=self._busy_timeout_ms, writer=False, **self._engine_kwargs))
        return self._readers()

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """One consistent view of the database for a long read (verifying the audit trail), writing nothing.
        PostgreSQL: a ``REPEATABLE READ`` transaction (at ``READ COMMITTED`` each statement sees what has
        committed by then, so rows read late would be newer than rows read early). SQLite: the reader's
        deferred transaction, which in WAL mode holds its snapshot without blocking any writer."""
        session = self.reader()
        try:
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if self._readers is not None:
            self._readers.kw["bind"].dispose()


_database: Database | None = None


def get_database() -> Database:
    """The process-wide database from settings (the CLI and the server share this)."""
    global _database
    if _database is None:
        from risk_engine.settings import get_settings

        settings = get_settings()
        _database = Database(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    return _database
