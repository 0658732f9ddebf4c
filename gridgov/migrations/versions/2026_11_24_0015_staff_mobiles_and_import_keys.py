"""staff mobile numbers (encrypted) and idempotency keys on import runs

users.mobile_cipher / users.mobile_masked: the number the SMS gateway sends a staff member's
notifications to, AES-GCM at rest like every other phone, masked for screens. New, so no data moves.
import_runs.idempotency_key, unique per uploader: a resent upload finds its first run.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile_cipher', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('mobile_masked', sa.String(length=20), nullable=False, server_default=''))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('mobile_masked', server_default=None)
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint('uq_import_runs_user_key', ['user_id', 'idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('import_runs', schema=None) as batch_op:
        batch_op.drop_constraint('uq_import_runs_user_key', type_='unique')
        batch_op.drop_column('idempotency_key')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('mobile_masked')
        batch_op.drop_column('mobile_cipher')
