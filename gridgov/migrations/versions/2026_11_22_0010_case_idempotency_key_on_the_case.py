"""case idempotency key on the case: the Idempotency-Key of the create that made a case moves from
its own table (idempotency_keys) into two columns of the case, unique together, so a create claims
its key with the INSERT of the case rather than with one more statement. Existing keys are carried
over both ways.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22 02:00:00
"""

import sqlalchemy as sa
from alembic import op

import gridgov.core.db

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("created_at", sa.DateTime),
                 sa.column("idempotency_scope", sa.String), sa.column("idempotency_key", sa.String))
keys = sa.table("idempotency_keys", sa.column("id", sa.Integer), sa.column("scope", sa.String),
                sa.column("key", sa.String), sa.column("case_id", sa.Integer), sa.column("created_at", sa.DateTime))


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idempotency_scope', sa.String(length=60), nullable=True))
        batch_op.add_column(sa.Column('idempotency_key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_cases_idempotency_scope'),
                                          ['idempotency_scope', 'idempotency_key'])

    def first_key(column):
        # A case had at most one key (the create that made it claimed it); the first, to be sure.
        return (sa.select(column).where(keys.c.case_id == cases.c.id).order_by(keys.c.id).limit(1)
                .scalar_subquery())

    op.get_bind().execute(cases.update()
                          .where(cases.c.id.in_(sa.select(keys.c.case_id)))
                          .values(idempotency_scope=first_key(keys.c.scope), idempotency_key=first_key(keys.c.key)))
    op.drop_table('idempotency_keys')


def downgrade() -> None:
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=60), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_idempotency_keys_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_keys')),
    sa.UniqueConstraint('scope', 'key', name=op.f('uq_idempotency_keys_scope'))
    )
    op.get_bind().execute(
        keys.insert().from_select(["scope", "key", "case_id", "created_at"],
                                  sa.select(cases.c.idempotency_scope, cases.c.idempotency_key, cases.c.id,
                                            cases.c.created_at)
                                  .where(cases.c.idempotency_key.is_not(None)).order_by(cases.c.id)))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_cases_idempotency_scope'), type_='unique')
        batch_op.drop_column('idempotency_key')
        batch_op.drop_column('idempotency_scope')
