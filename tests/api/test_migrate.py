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
        assert context.get_current_revision() == heads[0] == "0008"
        assert compare_metadata(context, Base.metadata) == []
    db.dispose()
