"""resident search by grid: a grid worker's searches (by name, pinyin, initials, or filters only) walk one index range

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 15:40:00
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

INDEXES = [
    ("ix_residents_grid_name_id", ["grid_code", "name", "id"]),
    ("ix_residents_grid_pinyin_id", ["grid_code", "name_pinyin", "id"]),
    ("ix_residents_grid_initials_id", ["grid_code", "name_initials", "id"]),
    ("ix_residents_grid_id", ["grid_code", "id"]),
]


def upgrade() -> None:
    for name, columns in INDEXES:
        op.create_index(name, "residents", columns)


def downgrade() -> None:
    for name, _columns in INDEXES:
        op.drop_index(name, table_name="residents")
