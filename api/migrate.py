"""Apply the Alembic migrations, holding a lock so several processes starting at once migrate only once."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from api.config import Settings
from api.db import Database, secure_sqlite_file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Any constant works; it names the PostgreSQL advisory lock that serialises migrations.
ADVISORY_LOCK_KEY = 0x0E7AC


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _upgrade_on(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _upgrade_sqlite(connection: Connection, url: str) -> None:
    """Migrate with foreign keys off, as SQLite asks for table rebuilds (its "12 steps" of ALTER TABLE): a
    rebuilt parent table is dropped and renamed back, which would otherwise delete or orphan its children. Any
    reference left broken afterwards stops the migration."""
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction, so before the first
    try:
        _upgrade_on(connection, url)
        broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            connection.rollback()
            raise RuntimeError(f"migration left broken references (table, row, parent): {broken[:5]}")
        connection.commit()
    finally:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def upgrade(settings: Settings, database: Database | None = None) -> None:
    """Bring the database to the newest schema; a no-op when it is already there."""
    secure_sqlite_file(settings.sqlite_path())
    db = database or Database(settings)
    try:
        if db.is_postgresql:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
                connection.commit()
                try:
                    _upgrade_on(connection, settings.database_url)
                    connection.commit()
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
                    connection.commit()
        else:
            with _file_lock(settings.sqlite_path()), db.engine.connect() as connection:
                _upgrade_sqlite(connection, settings.database_url)
    finally:
        if database is None:
            db.dispose()
