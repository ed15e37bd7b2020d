"""Live operations: re-plan jobs (kind, minute), re-plan figures on plans, driver drop-outs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        # The server default fills the rows queued before this migration: they were all plans from scratch.
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='plan', nullable=False))
        batch_op.add_column(sa.Column('minute', sa.Float(), nullable=True))
        batch_op.create_check_constraint('ck_plan_jobs_kind', "kind IN ('plan', 'replan')")

    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.add_column(sa.Column('base_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('minute', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('stability', sa.Float(), nullable=True))

    op.create_table('dropouts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('driver_id', sa.String(length=50), nullable=False),
    sa.Column('by_user_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ),
    sa.ForeignKeyConstraint(['by_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'driver_id', name='uq_dropouts_driver')
    )


def downgrade() -> None:
    op.drop_table('dropouts')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_column('stability')
        batch_op.drop_column('minute')
        batch_op.drop_column('base_version')

    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        batch_op.drop_constraint('ck_plan_jobs_kind', type_='check')
        batch_op.drop_column('minute')
        batch_op.drop_column('kind')
