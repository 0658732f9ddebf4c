"""Helpers for the people tests: fictitious ID numbers with valid checksums, and residents made
through the API as a grid worker of the first demo grid."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from stdnum.cn import ric

from tests.conftest import TEST_DATA_KEY

GRID = "43020300100101"
OTHER_GRID = "43020300200101"  # another street
WORKER = "wg" + GRID
COMMUNITY = "sq" + GRID[:12]
STREET = "jd" + GRID[:9]
_serial = itertools.count(1)


_issued: set[str] = set()
# Real county codes of 株洲 (any code that ever existed passes the area check): where one birth date
# has used up its 50 numbers in an area, the next area takes over.
_AREAS = ("430203", "430202", "430204", "430221", "430211")


def fake_id(birth: str | None = None, area: str = "430203", male: bool = True) -> str:
    """An ID number that passes the checksum but belongs to nobody (sequence 9xx, which the demo
    population does not use), and that no earlier call in this test process gave: a repeated
    number would merge two test people into one, and a test would find a row it did not expect."""
    birth = birth or (date(1950, 1, 1) + timedelta(days=next(_serial))).strftime("%Y%m%d")
    areas = [area, *(a for a in _AREAS if a != area)]
    for k in range(50 * len(areas)):
        n = 900 + (k % 50) * 2 + (1 if male else 0)
        body = f"{areas[k // 50]}{birth}{n:03d}"
        number = body + ric.calc_check_digit(body + "0")  # it expects a placeholder where the digit goes
        if number not in _issued:
            _issued.add(number)
            return number
    raise RuntimeError(f"no fictitious ID numbers left for birth date {birth}")


_phones = itertools.count(10_000_000)


def fake_phone() -> str:
    return f"139{next(_phones) % 100_000_000:08d}"


@pytest.fixture
def make_resident(client, auth):
    """`make_resident(name="张三", grid=GRID, who=WORKER, **fields)` → the API's resident JSON."""

    def make(name: str = "测试居民", grid: str = GRID, who: str = WORKER, birth: str | None = None,
             male: bool = True, **fields) -> dict:
        body = {"name": name, "id_number": fields.pop("id_number", None) or fake_id(birth, male=male),
                "grid_code": grid, "phone": fields.pop("phone", None) or fake_phone(), **fields}
        r = client.post("/api/v1/residents", json=body, headers=auth(who))
        assert r.status_code in (200, 201), r.text
        out = r.json()["resident"]
        out["_id_number"], out["_phone"] = body["id_number"], body["phone"]
        return out

    return make


@pytest.fixture
def cli_on_app(app, monkeypatch) -> None:
    """`gridgov` commands run in this test work on the app's database, with its keys."""
    settings = app.state.settings
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GRIDGOV_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("GRIDGOV_DATA_KEY", TEST_DATA_KEY)
    monkeypatch.setenv("GRIDGOV_SECRET_KEY", "test-secret-key")
