"""Engine and session factory: SQLite (WAL, busy timeout, foreign keys) or PostgreSQL through psycopg 3."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from api.config import Settings

log = logging.getLogger(__name__)

#: Milliseconds a SQLite writer waits for another writer's lock before giving up.
SQLITE_BUSY_MS = 15_000
#: Connections per process: kept open, and opened on demand beyond those (PostgreSQL; SQLite files).
POOL_SIZE = {"postgresql": 10, "sqlite": 5}
MAX_OVERFLOW = {"postgresql": 20, "sqlite": 10}
#: Connections left to the process's background threads (the plan job runner and its heartbeat), not to requests.
RESERVED_CONNECTIONS = 2


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer writes; foreign keys are off in SQLite unless asked for.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def secure_sqlite_file(path: Path | None) -> None:
    """Create the SQLite file readable by its owner only, or take group and other access from an existing one: it
    holds every household's name, phone and needs. (SQLite gives its -wal and -shm files the same mode.)"""
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:  # an existing file: the mode it had
            log.warning("%s was readable by others (mode %o): now by its owner only", path, mode)
            os.fchmod(fd, mode & 0o700)
        os.close(fd)
    except OSError as exc:  # unreachable: the first connection says so (a 503, an unhealthy /health)
        log.error("cannot create the database file %s: %s", path, exc)


def _in_memory(url: str) -> bool:
    return url.startswith("sqlite") and make_url(url).database in (None, "", ":memory:")


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite connections get their pragmas on connect."""
    if url.startswith("sqlite"):
        # An in-memory database lives in one connection per thread: no pool sizes there.
        sizes = {} if _in_memory(url) else {"pool_size": POOL_SIZE["sqlite"], "max_overflow": MAX_OVERFLOW["sqlite"]}
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_MS / 1000}, pool_pre_ping=True,
            **sizes,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):  # plain URLs would pick psycopg2, which is not installed
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE["postgresql"],
                         max_overflow=MAX_OVERFLOW["postgresql"])


class Database:
    """One engine and its session factory per process (held by the app, the worker or a CLI command)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = make_engine(settings.database_url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @property
    def request_slots(self) -> int:
        """How many requests may use the database at once: ``db_concurrency``, within the pool's connections
        less the reserved ones (so a request admitted always finds a connection)."""
        name = self.engine.dialect.name
        if name not in POOL_SIZE or _in_memory(self.settings.database_url):
            return self.settings.db_concurrency
        return min(self.settings.db_concurrency, POOL_SIZE[name] + MAX_OVERFLOW[name] - RESERVED_CONNECTIONS)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        """One round trip to the database (``/health``); raises SQLAlchemy's error when it is unreachable."""
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()
