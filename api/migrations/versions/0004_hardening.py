"""Hardening: ids never re-issued (SQLite AUTOINCREMENT), vetting (approval, vehicle kind), revocable sessions
(token version), temporary passwords, and a coordinator's confirmation on a re-plan serving far fewer households.

On SQLite every table is rebuilt with AUTOINCREMENT, keeping its rows and ids; each table's id counter starts
past the highest id ever seen for it (the rows, and every id the audit log recorded), so no id that was issued
before this migration is issued again. PostgreSQL sequences never go back, so only the columns are added there.

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Table -> the audit log's entity name for it (whose recorded ids must not be re-issued either).
TABLES = {'users': 'user', 'vehicles': 'vehicle', 'households': 'household', 'shelters': 'shelter',
          'alerts': 'alert', 'plan_jobs': 'plan_job', 'plans': 'plan', 'stop_status': 'stop_status',
          'dropouts': 'dropout', 'audit_log': None}


def _columns() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('approval', sa.String(length=20), server_default='approved', nullable=False))
        batch_op.add_column(sa.Column('token_version', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))
        batch_op.create_check_constraint('ck_users_approval', "approval IN ('pending', 'approved')")
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        # Cars registered before vetting existed stay in plans: they were all accepted then.
        batch_op.add_column(sa.Column('approval', sa.String(length=20), server_default='approved', nullable=False))
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='car', nullable=False))
        batch_op.create_check_constraint('ck_vehicles_approval', "approval IN ('pending', 'approved')")
        batch_op.create_check_constraint('ck_vehicles_kind', "kind IN ('car', 'van', 'bus')")
    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed', sa.Boolean(), server_default=sa.false(), nullable=False))


def _autoincrement() -> None:
    """Rebuild each SQLite table with AUTOINCREMENT (``api.migrate`` turns foreign keys off around this)."""
    bind = op.get_bind()
    highest: dict[str, int] = {}
    for table, entity in TABLES.items():
        top = bind.execute(sa.text(f'SELECT MAX(id) FROM {table}')).scalar() or 0
        if entity is not None:
            audited = bind.execute(sa.text('SELECT MAX(entity_id) FROM audit_log WHERE entity = :e'),
                                   {'e': entity}).scalar() or 0
            top = max(top, audited)
        highest[table] = int(top)
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
            pass
    for table, top in highest.items():
        bind.execute(sa.text('DELETE FROM sqlite_sequence WHERE name = :t'), {'t': table})
        bind.execute(sa.text('INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)'), {'t': table, 's': top})


def upgrade() -> None:
    _columns()
    if op.get_bind().dialect.name == 'sqlite':
        _autoincrement()


def downgrade() -> None:
    with op.batch_alter_table('plan_jobs', schema=None) as batch_op:
        batch_op.drop_column('confirmed')
    with op.batch_alter_table('vehicles', schema=None) as batch_op:
        batch_op.drop_constraint('ck_vehicles_kind', type_='check')
        batch_op.drop_constraint('ck_vehicles_approval', type_='check')
        batch_op.drop_column('kind')
        batch_op.drop_column('approval')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('ck_users_approval', type_='check')
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('token_version')
        batch_op.drop_column('approval')
