"""people imports: a heartbeat on import runs, so a run whose process died is seen as stopped

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


def downgrade() -> None:
    with op.batch_alter_table('import_runs') as batch:
        batch.drop_column('heartbeat_at')
