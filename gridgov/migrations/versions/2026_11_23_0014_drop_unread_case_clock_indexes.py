"""drop the cases' plain deadline and warn_at indexes

The sweep finds due cases through its partial indexes (ix_cases_due_red, ix_cases_due_yellow, 0004)
and nothing else searches or sorts by these columns; every create and every action still wrote both.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 12:00:00
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_warn_at'))
        batch_op.drop_index(batch_op.f('ix_cases_deadline'))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_warn_at'), ['warn_at'], unique=False)
