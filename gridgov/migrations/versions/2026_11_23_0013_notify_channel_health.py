"""notify channel health

`notify_channels` keeps, for the webhook gateway, its consecutive failed calls and until when the
notification worker leaves it alone (gridgov.notify.service): a gateway that is down is called once
a pause, not once a message, and an administrator can see since when it fails and why. Outbox rows
gain a status value, `sending` (a webhook being posted, under a claim); the column is unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import gridgov.core.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

outbox = sa.table("outbox", sa.column("status", sa.String))


def upgrade() -> None:
    op.create_table('notify_channels',
    sa.Column('name', sa.String(length=20), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('failing_since', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_until', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('last_success_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_notify_channels'))
    )


def downgrade() -> None:
    # A claim in flight is pending again to the code before this revision (it retries after the claim).
    op.get_bind().execute(outbox.update().where(outbox.c.status == "sending").values(status="pending"))
    op.drop_table('notify_channels')
