"""Needs: vehicles take pets and speak languages; shelters' pet capacity, medical support, languages; walk limits.

Revision ID: 0005
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: SQLite rebuilds a table in batch mode: keep AUTOINCREMENT (0004), so deleted ids are never issued again.
KEEP = {'sqlite_autoincrement': True}


def upgrade() -> None:
    # Server defaults fill the rows registered before this migration: cars took pets as far as anyone
    # knew, shelters had no medical support on record, and nobody had given languages.
    with op.batch_alter_table('vehicles', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('takes_pets', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('languages', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))

    with op.batch_alter_table('households', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('max_walk_meters', sa.Float(), nullable=True))

    with op.batch_alter_table('shelters', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.add_column(sa.Column('pet_capacity', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('medical_support', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('languages', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('shelters', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('languages')
        batch_op.drop_column('medical_support')
        batch_op.drop_column('pet_capacity')

    with op.batch_alter_table('households', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('max_walk_meters')

    with op.batch_alter_table('vehicles', schema=None, table_kwargs=KEEP) as batch_op:
        batch_op.drop_column('languages')
        batch_op.drop_column('takes_pets')
