"""sweep and suggestion indexes

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 13:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

RED = "light <> 'red' AND paused_at IS NULL"
YELLOW = "light = 'green' AND paused_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_updated_at'), ['updated_at'], unique=False)
        batch_op.create_index('ix_cases_due_red', ['deadline'], unique=False,
                              postgresql_where=sa.text(RED), sqlite_where=sa.text(RED))
        batch_op.create_index('ix_cases_due_yellow', ['warn_at'], unique=False,
                              postgresql_where=sa.text(YELLOW), sqlite_where=sa.text(YELLOW))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('ix_cases_due_yellow')
        batch_op.drop_index('ix_cases_due_red')
        batch_op.drop_index(batch_op.f('ix_cases_updated_at'))
