"""resident search by grid: a grid worker's name, pinyin and initials searches walk one index range

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 15:40:00
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

KEYS = {"name": "name", "pinyin": "name_pinyin", "initials": "name_initials"}


def upgrade() -> None:
    for label, column in KEYS.items():
        op.create_index(f"ix_residents_grid_{label}_id", "residents", ["grid_code", column, "id"])


def downgrade() -> None:
    for label in KEYS:
        op.drop_index(f"ix_residents_grid_{label}_id", table_name="residents")
