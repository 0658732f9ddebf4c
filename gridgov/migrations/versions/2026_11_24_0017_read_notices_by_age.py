"""read in-app notices found by when they were read

The hourly job notify.prune_inbox deletes notices read more than GRIDGOV_INBOX_KEEP_DAYS ago; this
partial index holds only read notices, in the order it takes them.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-24 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_inbox_read_at', 'inbox', ['read_at'], postgresql_where=sa.text('read_at IS NOT NULL'),
                    sqlite_where=sa.text('read_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_inbox_read_at', table_name='inbox')
