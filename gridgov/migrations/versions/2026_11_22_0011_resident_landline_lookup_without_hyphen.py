"""resident landline lookup without hyphen: a landline is looked up by its digits, so 0731-28886543
and （0731）28886543 are one number (gridgov.people.service.phone_key). The lookup hashes of the
numbers stored with a hyphen are made again from their digits; the downgrade makes them from the
number as stored, as before. Needs the installation's data key, like 0009.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22 04:00:00
"""

import sqlalchemy as sa
from alembic import op

from gridgov.core.migrate import migration_cipher

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

PHONE_CONTEXT = "resident.phone"  # gridgov.people.service.PHONE_CONTEXT at this revision
residents = sa.table("residents", sa.column("id", sa.Integer), sa.column("phone_cipher", sa.LargeBinary),
                     sa.column("phone_hash", sa.String))




def _rehash(key_of) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(residents.c.id, residents.c.phone_cipher)
                        .where(residents.c.phone_cipher.is_not(None)).order_by(residents.c.id)).all()
    if not rows:
        return
    cipher = migration_cipher()
    for resident_id, blob in rows:
        phone = cipher.decrypt(bytes(blob), PHONE_CONTEXT)
        if "-" in phone:  # only landlines keep a hyphen; every other hash stays as it is
            conn.execute(residents.update().where(residents.c.id == resident_id)
                         .values(phone_hash=cipher.lookup_hash(key_of(phone), PHONE_CONTEXT)))


def upgrade() -> None:
    _rehash(lambda phone: phone.replace("-", ""))


def downgrade() -> None:
    _rehash(lambda phone: phone)
