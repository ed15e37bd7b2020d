"""Messages: ``handed_at`` (an e-mail's sender reached SMTP's DATA) and the ``unknown`` status (it stopped there).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'replied', 'cancelled')"
NEW = "status IN ('queued', 'sending', 'sent', 'delivered', 'failed', 'replied', 'cancelled', 'unknown')"


def _rebuild(check: str, add: bool) -> None:
    # SQLite rebuilds the table (keeping AUTOINCREMENT, so ids are never issued again); PostgreSQL alters in place.
    with op.batch_alter_table('messages', table_kwargs={'sqlite_autoincrement': True}) as batch:
        if add:
            batch.add_column(sa.Column('handed_at', sa.DateTime(timezone=True), nullable=True))
        else:
            batch.drop_column('handed_at')
        batch.drop_constraint('ck_messages_status', type_='check')
        batch.create_check_constraint('ck_messages_status', check)


def upgrade() -> None:
    _rebuild(NEW, add=True)


def downgrade() -> None:
    op.execute("UPDATE messages SET status = 'failed' WHERE status = 'unknown'")
    _rebuild(OLD, add=False)
