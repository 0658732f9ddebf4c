"""Residents and tags made straight through the ORM (the people module's forms are not what these
tests are about), with valid-checksum, fictitious ID numbers."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import datetime

import pytest
import shapely
from sqlalchemy import select
from stdnum.cn import ric

from gridgov.core.crypto import data_cipher
from gridgov.people.identity import mask_id, pinyin_keys
from gridgov.people.models import Resident, ResidentTag
from gridgov.people.tagging import sync_active_tags
from gridgov.regions.models import Region

GRID = "43020300200301"
WORKER = "wg43020300200301"
OTHER_GRID_WORKER = "wg43020300100101"
COMMUNITY_ADMIN = "sq430203002003"
_lock = threading.Lock()
_seq = itertools.count(random.randrange(1, 400))


def fresh_id_number() -> str:
    with _lock:
        n = next(_seq)
    body = f"430203{1930 + (n // 1000) % 60:04d}0{1 + (n // 100) % 9}{10 + n % 18:02d}{n % 1000:03d}"
    return body + ric.calc_check_digit(body)


def point_in(sessions, grid_code: str) -> tuple[float, float]:
    with sessions() as db:
        geom = shapely.from_geojson(db.get(Region, grid_code).geometry)
    p = shapely.Polygon(geom.exterior).buffer(-0.0004).representative_point()
    return p.x, p.y


def make_resident(app, name: str, grid_code: str = GRID, tags: dict[str, datetime] | None = None,
                  address: str = "") -> int:
    """A resident with active tags ({tag code: when the tag was added}); returns the id."""
    cipher = data_cipher(app.state.settings)
    with app.state.sessions() as db:
        grid = db.get(Region, grid_code)
        for _ in range(50):
            number = fresh_id_number()
            digest = cipher.lookup_hash(number, "resident.id_number")
            if db.scalar(select(Resident.id).where(Resident.id_hash == digest)) is None:
                break
        full, initials = pinyin_keys(name)
        person = Resident(kind="registered", name=name, name_pinyin=full, name_initials=initials, id_type="ric",
                          id_cipher=cipher.encrypt(number, "resident.id_number"), id_hash=digest,
                          id_masked=mask_id(number), id_tail=number[-4:], gender="M", grid_code=grid.code,
                          region_path=grid.path, address=address or f"{grid.name}1栋101")
        db.add(person)
        db.flush()
        for code, at in (tags or {}).items():
            db.add(ResidentTag(resident_id=person.id, tag_code=code, status="active", details={}, created_at=at,
                               updated_at=at))
        sync_active_tags(db, [person.id])
        db.commit()
        return person.id


@pytest.fixture
def resident(app):
    def make(name: str = "测试居民", grid_code: str = GRID, tags=None, address: str = "") -> int:
        return make_resident(app, name, grid_code, tags, address)

    return make
