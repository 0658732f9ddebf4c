"""Migrations that change how residents are stored, with data in them, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from gridgov.core import migrate
from gridgov.core.crypto import cipher_for
from gridgov.core.db import make_engine
from gridgov.people.service import PHONE_CONTEXT
from tests.conftest import TEST_DATA_KEY
from tests.rows import insert_full_row

GRID = "43020300100101"


def test_landline_lookups_are_made_again_from_their_digits_and_back(backend, databases):
    """0011: a landline stored with its hyphen is found by its digits afterwards; a mobile's lookup
    does not change; the downgrade gives the hyphenated lookup back."""
    engine = make_engine(databases.new(backend))
    cipher = cipher_for(TEST_DATA_KEY)
    phones = {"fixed": "0731-28886543", "mobile": "13912345678"}
    try:
        migrate.upgrade(engine, "0010")
        meta = sa.MetaData()
        regions, residents = (sa.Table(n, meta, autoload_with=engine) for n in ("regions", "residents"))
        with engine.begin() as conn:
            insert_full_row(conn, regions, code=GRID, level="grid", path=f"/{GRID}/")
            for n, (name, phone) in enumerate(phones.items()):
                insert_full_row(conn, residents, name=name, grid_code=GRID, region_path=f"/{GRID}/",
                                id_hash=f"h{n}", phone_cipher=cipher.encrypt(phone, PHONE_CONTEXT),
                                phone_hash=cipher.lookup_hash(phone, PHONE_CONTEXT))

        def lookups() -> dict[str, str]:
            with engine.connect() as conn:
                return dict(conn.execute(sa.text("SELECT name, phone_hash FROM residents")).all())

        migrate.upgrade(engine, "0011", data_key=TEST_DATA_KEY)
        assert lookups() == {"fixed": cipher.lookup_hash("073128886543", PHONE_CONTEXT),
                             "mobile": cipher.lookup_hash("13912345678", PHONE_CONTEXT)}
        migrate.downgrade(engine, "0010", data_key=TEST_DATA_KEY)
        assert lookups() == {name: cipher.lookup_hash(phone, PHONE_CONTEXT) for name, phone in phones.items()}
    finally:
        engine.dispose()
