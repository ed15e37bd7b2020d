"""Zones: the registered neighbourhood of households, vehicles and shelters (regional plans solve by zone).

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('households', 'vehicles', 'shelters')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            # Existing rows have no registered zone: the empty text, as a new row without one.
            batch_op.add_column(sa.Column('zone', sa.String(length=80), server_default='', nullable=False))
            batch_op.create_index(batch_op.f(f'ix_{table}_zone'), ['zone'], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_zone'))
            batch_op.drop_column('zone')
