"""an in-app notice outlives its outbox message

The hourly job notify.prune_outbox deletes delivered outbox messages after GRIDGOV_OUTBOX_KEEP_DAYS.
inbox.outbox_id deleted the notice a user reads with its message (ON DELETE CASCADE); it now becomes
NULL instead. Downgrade: notices whose message is gone cannot point at it again and are deleted, as
the cascade would have done.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 12:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.alter_column('outbox_id', existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint('fk_inbox_outbox_id_outbox', type_='foreignkey')
        batch_op.create_foreign_key('fk_inbox_outbox_id_outbox', 'outbox', ['outbox_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    op.execute("DELETE FROM inbox WHERE outbox_id IS NULL")
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_constraint('fk_inbox_outbox_id_outbox', type_='foreignkey')
        batch_op.create_foreign_key('fk_inbox_outbox_id_outbox', 'outbox', ['outbox_id'], ['id'], ondelete='CASCADE')
        batch_op.alter_column('outbox_id', existing_type=sa.Integer(), nullable=False)
