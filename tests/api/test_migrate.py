"""Migrations: `evac db upgrade` is idempotent, and the migrations build exactly the ORM's tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from api import migrate
from api.config import Settings
from api.db import Database
from api.models import Base


def test_upgrade_twice_and_schema_matches_models(settings: Settings) -> None:
    migrate.upgrade(settings)
    migrate.upgrade(settings)
    db = Database(settings)
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        heads = ScriptDirectory.from_config(migrate.alembic_config(settings.database_url)).get_heads()
        assert len(heads) == 1, f"the migrations have {len(heads)} heads: {heads}; chain yours after main's"
        assert context.get_current_revision() == heads[0] == "0011"
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()


def test_every_sqlite_table_keeps_its_ids_for_good(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Ids never move (issue 8): on SQLite every table with an integer id is AUTOINCREMENT, so a deleted record's
    id is never given to a new one (a plan, a message or an audit entry naming it can never point at someone else).
    A table added by a later migration without it fails here."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'evac.db'}", secret_key="k" * 40)
    migrate.upgrade(settings)
    db = Database(settings)
    with db.engine.connect() as connection:
        tables = connection.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    db.dispose()
    with_ids = {name: sql for name, sql in tables if "id INTEGER" in sql}
    assert {"households", "vehicles", "messages", "drill_runs"} <= set(with_ids)
    assert [name for name, sql in with_ids.items() if "AUTOINCREMENT" not in sql] == []
