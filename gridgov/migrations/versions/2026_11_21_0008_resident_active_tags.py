"""resident active tags: each person's active tag codes on the residents row (",code1,code2,"); the
search indexes extended with grid_code and active_tags so that jurisdiction and tag are checked in the
index, and the same for the tagged people alone (partial indexes) for a name searched with a tag

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 20:00:00
"""

import itertools

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COVER = ["grid_code", "active_tags"]
# name → (columns before, columns after): the key and id, then what a search checks in the index.
INDEXES = {
    "ix_residents_name_id": (["name", "id"], ["name", "id", *COVER]),
    "ix_residents_pinyin_id": (["name_pinyin", "id"], ["name_pinyin", "id", *COVER]),
    "ix_residents_initials_id": (["name_initials", "id"], ["name_initials", "id", *COVER, "name_pinyin"]),
    "ix_residents_id_tail": (["id_tail", "id"], ["id_tail", "id", *COVER]),
    "ix_residents_phone_tail": (["phone_tail", "id"], ["phone_tail", "id", *COVER, "id_tail"]),
    "ix_residents_grid_id": (["grid_code", "id"], ["grid_code", "id", "active_tags"]),
}
TAGGED = "active_tags <> ''"
TAGGED_INDEXES = {
    "ix_residents_tagged_id": ["id", *COVER],
    "ix_residents_tagged_name_id": ["name", "id", *COVER],
    "ix_residents_tagged_pinyin_id": ["name_pinyin", "id", *COVER],
    "ix_residents_tagged_initials_id": ["name_initials", "id", *COVER, "name_pinyin"],
}

BACKFILL_PG = """
UPDATE residents SET active_tags = t.codes
  FROM (SELECT resident_id, ',' || string_agg(tag_code, ',' ORDER BY tag_code) || ',' AS codes
          FROM resident_tags WHERE status = 'active' GROUP BY resident_id) AS t
 WHERE residents.id = t.resident_id
"""


def upgrade() -> None:
    for name in INDEXES:  # before the backfill, which then has fewer indexes to keep
        op.drop_index(name, table_name="residents")
    # ix_residents_grid_id begins with grid_code: this one only cost every insert a B-tree more.
    op.drop_index("ix_residents_grid_code", table_name="residents")
    with op.batch_alter_table('residents') as batch:
        batch.add_column(sa.Column('active_tags', sa.String(600), server_default='', nullable=False))
    _backfill()
    for name, (_before, after) in INDEXES.items():
        op.create_index(name, "residents", after)
    for name, columns in TAGGED_INDEXES.items():
        op.create_index(name, "residents", columns, postgresql_where=sa.text(TAGGED), sqlite_where=sa.text(TAGGED))


def downgrade() -> None:
    for name in [*TAGGED_INDEXES, *INDEXES]:
        op.drop_index(name, table_name="residents")
    with op.batch_alter_table('residents') as batch:
        batch.drop_column('active_tags')
    for name, (before, _after) in INDEXES.items():
        op.create_index(name, "residents", before)
    op.create_index("ix_residents_grid_code", "residents", ["grid_code"])


def _backfill() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(BACKFILL_PG))
        return
    # SQLite before 3.44 has no ordered group_concat: the strings are built here.
    rows = conn.execute(sa.text("SELECT resident_id, tag_code FROM resident_tags WHERE status = 'active' "
                                "ORDER BY resident_id, tag_code")).all()
    update = sa.text("UPDATE residents SET active_tags = :codes WHERE id = :rid")
    batch = []
    for rid, tags in itertools.groupby(rows, key=lambda r: r[0]):
        batch.append({"rid": rid, "codes": "," + ",".join(t for _, t in tags) + ","})
        if len(batch) == 5000:
            conn.execute(update, batch)
            batch = []
    if batch:
        conn.execute(update, batch)
