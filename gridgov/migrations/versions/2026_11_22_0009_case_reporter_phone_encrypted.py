"""case reporter phone encrypted: the hotline caller's number moves from plain text to AES-GCM
(reporter_phone_cipher) with a masked copy for display (reporter_phone_masked), as residents' phones
are (DESIGN §11). Existing numbers are encrypted with the installation's data key; the downgrade
decrypts them back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 00:00:00
"""

import sqlalchemy as sa
from alembic import op

from gridgov.core.migrate import migration_cipher

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PHONE_CONTEXT = "case.reporter_phone"  # gridgov.cases.service.REPORTER_PHONE_CONTEXT at this revision
cases = sa.table("cases", sa.column("id", sa.Integer), sa.column("reporter_phone", sa.String),
                 sa.column("reporter_phone_cipher", sa.LargeBinary), sa.column("reporter_phone_masked", sa.String))




def _masked(raw: str) -> str:
    from gridgov.people.identity import IdentityError, mask_phone, parse_phone

    try:
        return mask_phone(parse_phone(raw))
    except IdentityError:  # free text written before numbers were checked
        return "****" + raw[-4:] if len(raw) > 4 else "****"


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_phone_cipher', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('reporter_phone_masked', sa.String(length=20), nullable=False,
                                      server_default=''))
    conn = op.get_bind()
    rows = conn.execute(sa.select(cases.c.id, cases.c.reporter_phone).where(cases.c.reporter_phone != "")).all()
    if rows:
        cipher = migration_cipher()
        for case_id, raw in rows:
            raw = raw.strip()
            conn.execute(cases.update().where(cases.c.id == case_id).values(
                reporter_phone_cipher=cipher.encrypt(raw, PHONE_CONTEXT) if raw else None,
                reporter_phone_masked=_masked(raw) if raw else ""))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('reporter_phone_masked', server_default=None)
        batch_op.drop_column('reporter_phone')


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_phone', sa.String(length=40), nullable=False, server_default=''))
    conn = op.get_bind()
    rows = conn.execute(sa.select(cases.c.id, cases.c.reporter_phone_cipher)
                        .where(cases.c.reporter_phone_cipher.is_not(None))).all()
    if rows:
        cipher = migration_cipher()
        for case_id, blob in rows:
            conn.execute(cases.update().where(cases.c.id == case_id).values(
                reporter_phone=cipher.decrypt(blob, PHONE_CONTEXT)))
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('reporter_phone', server_default=None)
        batch_op.drop_column('reporter_phone_masked')
        batch_op.drop_column('reporter_phone_cipher')
