"""login failures of unknown names; stale area assignments dropped

`login_failures` counts failed log-ins under usernames that have no account, so that the lock-out
answers them as it answers an account (gridgov.accounts.service.authenticate) instead of telling
which names exist.

Area assignments whose handler can no longer take the department's cases (stopped, in another
department or none, or no longer a handler or department admin) were kept by a user's change and
still listed on the department; routing already passed them over. They are deleted now, as the
changes delete them from this revision on. The downgrade does not bring them back.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import gridgov.core.db

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

HANDLER_ROLES = ("dept_handler", "dept_admin")  # gridgov.departments.service.HANDLER_ROLES at this revision
users = sa.table("users", sa.column("id", sa.Integer), sa.column("role", sa.String),
                 sa.column("department_id", sa.Integer), sa.column("is_active", sa.Boolean))
assignments = sa.table("area_assignments", sa.column("id", sa.Integer), sa.column("handler_id", sa.Integer),
                       sa.column("department_id", sa.Integer))


def upgrade() -> None:
    op.create_table('login_failures',
    sa.Column('name_digest', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failed_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name_digest', name=op.f('pk_login_failures'))
    )
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failures_last_failed_at'), ['last_failed_at'], unique=False)

    stale = (sa.select(assignments.c.id).join(users, users.c.id == assignments.c.handler_id)
             .where(sa.or_(users.c.is_active.is_(False), users.c.department_id.is_(None),
                           users.c.department_id != assignments.c.department_id,
                           users.c.role.not_in(HANDLER_ROLES))))
    op.get_bind().execute(assignments.delete().where(assignments.c.id.in_(stale)))


def downgrade() -> None:
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failures_last_failed_at'))

    op.drop_table('login_failures')
