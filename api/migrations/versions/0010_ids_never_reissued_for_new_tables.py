"""Ids never re-issued on the tables added after 0004 (messages, replies, check-ins, drill runs): SQLite
AUTOINCREMENT, as 0004 did for the tables before them.

Each table is rebuilt keeping its rows and ids, and its counter starts past the highest id it ever held (its rows,
and every id the audit log recorded for it). PostgreSQL sequences never go back, so nothing changes there.

Revision ID: 0010
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Table -> the audit log's entity name for its rows.
TABLES = {'messages': 'message', 'replies': 'reply', 'checkins': 'checkin', 'drill_runs': 'drill_run'}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'sqlite':
        return
    highest: dict[str, int] = {}
    for table, entity in TABLES.items():
        top = bind.execute(sa.text(f'SELECT MAX(id) FROM {table}')).scalar() or 0
        audited = bind.execute(sa.text('SELECT MAX(entity_id) FROM audit_log WHERE entity = :e'),
                               {'e': entity}).scalar() or 0
        highest[table] = int(max(top, audited))
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    for table, top in highest.items():
        bind.execute(sa.text('DELETE FROM sqlite_sequence WHERE name = :t'), {'t': table})
        bind.execute(sa.text('INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)'), {'t': table, 's': top})


def downgrade() -> None:
    """Nothing to undo: AUTOINCREMENT only stops ids being re-issued."""
