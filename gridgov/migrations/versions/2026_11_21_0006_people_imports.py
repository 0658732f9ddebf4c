"""people imports: a heartbeat on import runs, so a run whose process died is seen as stopped;
the mode column wide enough for "all_or_nothing" (PostgreSQL enforces the length, SQLite does not)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 18:00:00
"""

import sqlalchemy as sa
from alembic import op

import gridgov.core.db

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.add_column(sa.Column('heartbeat_at', gridgov.core.db.UTCDateTime(), nullable=True))
        batch.alter_column('mode', type_=sa.String(20), existing_type=sa.String(12), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('heartbeat_at')
        batch.alter_column('mode', type_=sa.String(12), existing_type=sa.String(20), existing_nullable=False)
