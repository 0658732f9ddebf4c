"""cases, catalog, working calendar, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 12:09:16.072736
"""

import sqlalchemy as sa
from alembic import op

import gridgov.core.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_calendar_days'))
    )
    op.create_table('calendar_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('updated_by', sa.String(length=40), nullable=False),
    sa.Column('updated_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_years'))
    )
    op.create_table('catalog_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['catalog_categories.id'], name=op.f('fk_catalog_categories_parent_id_catalog_categories')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_categories')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_categories_code'))
    )
    with op.batch_alter_table('catalog_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_categories_parent_id'), ['parent_id'], unique=False)

    op.create_table('catalog_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('handling_level', sa.String(length=10), nullable=False),
    sa.Column('registration_standard', sa.Text(), nullable=False),
    sa.Column('closure_standard', sa.Text(), nullable=False),
    sa.Column('time_limits', sa.JSON(), nullable=False),
    sa.Column('keywords', sa.String(length=400), nullable=False),
    sa.Column('self_handle', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['catalog_categories.id'], name=op.f('fk_catalog_items_category_id_catalog_categories')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_catalog_items_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_items')),
    sa.UniqueConstraint('code', name=op.f('uq_catalog_items_code'))
    )
    with op.batch_alter_table('catalog_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_items_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_catalog_items_department_id'), ['department_id'], unique=False)

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=24), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('grid_code', sa.String(length=14), nullable=False),
    sa.Column('region_path', sa.String(length=80), nullable=False),
    sa.Column('urgency', sa.String(length=10), nullable=False),
    sa.Column('reporter_user_id', sa.Integer(), nullable=True),
    sa.Column('reporter_name', sa.String(length=60), nullable=False),
    sa.Column('reporter_phone', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('triage_reason', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('handler_id', sa.Integer(), nullable=True),
    sa.Column('routing_rule', sa.String(length=40), nullable=False),
    sa.Column('routing_reason', sa.Text(), nullable=False),
    sa.Column('dispatch_count', sa.Integer(), nullable=False),
    sa.Column('redispatched_department', sa.Boolean(), nullable=False),
    sa.Column('step', sa.String(length=12), nullable=True),
    sa.Column('step_started_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deadline', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('warn_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('carried_amount', sa.Float(), nullable=False),
    sa.Column('time_unit', sa.String(length=16), nullable=True),
    sa.Column('limit_amount', sa.Float(), nullable=True),
    sa.Column('paused_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_state', sa.String(length=20), nullable=False),
    sa.Column('light', sa.String(length=8), nullable=False),
    sa.Column('supervision', sa.String(length=8), nullable=False),
    sa.Column('extension_requested', sa.Boolean(), nullable=False),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('satisfaction', sa.String(length=20), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_cases_department_id_departments')),
    sa.ForeignKeyConstraint(['grid_code'], ['regions.code'], name=op.f('fk_cases_grid_code_regions')),
    sa.ForeignKeyConstraint(['handler_id'], ['users.id'], name=op.f('fk_cases_handler_id_users')),
    sa.ForeignKeyConstraint(['item_id'], ['catalog_items.id'], name=op.f('fk_cases_item_id_catalog_items')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['cases.id'], name=op.f('fk_cases_merged_into_id_cases')),
    sa.ForeignKeyConstraint(['reporter_user_id'], ['users.id'], name=op.f('fk_cases_reporter_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('number', name=op.f('uq_cases_number'))
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cases_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_deadline'), ['deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_warn_at'), ['warn_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_grid_code'), ['grid_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_handler_id'), ['handler_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_item_id'), ['item_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_light'), ['light'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_region_path'), ['region_path'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_reporter_user_id'), ['reporter_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_state'), ['state'], unique=False)

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_outbox_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_topic'), ['topic'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_user_id'), ['user_id'], unique=False)

    op.create_table('case_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=20), nullable=False),
    sa.Column('to_state', sa.String(length=20), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_case_events_actor_id_users')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_events_case_id_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events'))
    )
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_events_case_id'), ['case_id'], unique=False)

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
    op.create_table('inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=200), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['outbox_id'], ['outbox.id'], name=op.f('fk_inbox_outbox_id_outbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_inbox_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('outbox_id', name=op.f('uq_inbox_outbox_id'))
    )
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbox_user_id'), ['user_id'], unique=False)

    op.create_table('case_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('content_type', sa.String(length=80), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', gridgov.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_attachments_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['case_events.id'], name=op.f('fk_case_attachments_event_id_case_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_attachments'))
    )
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_attachments_case_id'), ['case_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_attachments_case_id'))

    op.drop_table('case_attachments')
    with op.batch_alter_table('inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_user_id'))

    op.drop_table('inbox')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('case_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_events_case_id'))

    op.drop_table('case_events')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_user_id'))
        batch_op.drop_index(batch_op.f('ix_outbox_topic'))
        batch_op.drop_index(batch_op.f('ix_outbox_status'))
        batch_op.drop_index(batch_op.f('ix_outbox_next_attempt_at'))

    op.drop_table('outbox')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_state'))
        batch_op.drop_index(batch_op.f('ix_cases_reporter_user_id'))
        batch_op.drop_index(batch_op.f('ix_cases_region_path'))
        batch_op.drop_index(batch_op.f('ix_cases_light'))
        batch_op.drop_index(batch_op.f('ix_cases_item_id'))
        batch_op.drop_index(batch_op.f('ix_cases_handler_id'))
        batch_op.drop_index(batch_op.f('ix_cases_grid_code'))
        batch_op.drop_index(batch_op.f('ix_cases_department_id'))
        batch_op.drop_index(batch_op.f('ix_cases_warn_at'))
        batch_op.drop_index(batch_op.f('ix_cases_deadline'))
        batch_op.drop_index(batch_op.f('ix_cases_created_at'))

    op.drop_table('cases')
    with op.batch_alter_table('catalog_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_items_department_id'))
        batch_op.drop_index(batch_op.f('ix_catalog_items_category_id'))

    op.drop_table('catalog_items')
    with op.batch_alter_table('catalog_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_categories_parent_id'))

    op.drop_table('catalog_categories')
    op.drop_table('calendar_years')
    op.drop_table('calendar_days')
