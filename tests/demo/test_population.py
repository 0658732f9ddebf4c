"""The demo population (gridgov/demo/population.py): valid and fictitious identities, households in
houses inside their grids, tags in realistic proportions with their details, a year of visits and
services, and a build that is deterministic and idempotent; on both databases.

Everything runs on a fresh database of its own built twice (the shared `demo_url` also holds what
other tests register), and on a second fresh one for determinism.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import shapely
from sqlalchemy import select
from stdnum.cn import ric

from gridgov.accounts.models import User
from gridgov.core.db import make_engine, make_sessionmaker
from gridgov.demo import names
from gridgov.demo.population import ELSEWHERE, RARE, RENAMED, SERVICES_PER_RESIDENT, ZHUZHOU
from gridgov.demo.service import build_demo
from gridgov.people.identity import HOUSEHOLD_STATUSES, mask_id, parse_id
from gridgov.people.models import Building, House, Residence, Resident, ResidentTag, TagEvent
from gridgov.people.rules import run_rules
from gridgov.people.service import ID_CONTEXT, PHONE_CONTEXT, people_context
from gridgov.people.tagging import DETAILS
from gridgov.regions.geo import from_geojson
from gridgov.regions.models import Region
from gridgov.visits.models import ServiceRecord, Visit
from gridgov.visits.service import SERVICE_ROLES
from tests.conftest import DEMO_RESIDENTS, migrated, settings_for

ADDRESS_CODES = {code for code, *_ in ZHUZHOU + ELSEWHERE} | {new for new, _year in RENAMED.values()}
PERSON_NAME = re.compile(r"[\u4e00-\u9fff]{2,3}")
DEMO_CHARS = set(names.SURNAMES) | set(names.GIVEN)


def _fresh_demo(databases, backend, tmp_path_factory) -> str:
    url = databases.new(backend)
    migrated(url)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        build_demo(db, settings=settings_for(url, tmp_path_factory.mktemp("var")), residents=DEMO_RESIDENTS)
        db.commit()
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def rebuilt(backend, databases, tmp_path_factory):
    """A fresh database given the demo, then built once more; the checks below read it, because
    the session's shared demo database also holds what other tests registered."""
    url = databases.new(backend)
    migrated(url)
    settings = settings_for(url, tmp_path_factory.mktemp("var"))
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        first = build_demo(db, settings=settings, residents=DEMO_RESIDENTS)
        db.commit()
    after_first = population(url)
    with make_sessionmaker(engine)() as db:
        second = build_demo(db, settings=settings, residents=DEMO_RESIDENTS)
        db.commit()
    engine.dispose()
    return url, first.created, after_first, second.created, population(url)


@pytest.fixture(scope="module")
def db(rebuilt):
    engine = make_engine(rebuilt[0])
    with make_sessionmaker(engine)() as session:
        yield session
        session.rollback()
    engine.dispose()


@pytest.fixture(scope="module")
def ctx(rebuilt, tmp_path_factory):
    return people_context(settings_for(rebuilt[0], tmp_path_factory.mktemp("var")))


@pytest.fixture(scope="module")
def residents(db) -> list[Resident]:
    return list(db.scalars(select(Resident).order_by(Resident.id)))


def age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def active_tags(db) -> dict[str, list[ResidentTag]]:
    out: dict[str, list[ResidentTag]] = {}
    for tag in db.scalars(select(ResidentTag).where(ResidentTag.status == "active")):
        out.setdefault(tag.tag_code, []).append(tag)
    return out


# --- identities ---

def test_about_the_configured_number_of_residents(residents):
    assert DEMO_RESIDENTS <= len(residents) <= DEMO_RESIDENTS * 1.03


def test_id_numbers_are_valid_fictitious_and_match_the_record(residents, ctx):
    seen = set()
    for r in residents:
        number = ctx.cipher.decrypt(r.id_cipher, ID_CONTEXT)
        assert number not in seen
        seen.add(number)
        assert r.id_tail == number[-4:] and r.id_masked == mask_id(number)
        if r.id_type != "ric":
            assert r.kind == "overseas" and re.fullmatch(r"[A-Z]{1,2}\d{8}", number) and r.nationality != "中国"
            continue
        parsed = parse_id(number)  # the register's own check: format, check digit, birth date, area code
        assert number[17] == ric.calc_check_digit(number) and r.id_masked == number[:4] + "*" * 10 + number[-4:]
        if r.birth_date.year >= 1997:  # every code used existed by then: stdnum's stricter check holds too
            assert ric.validate(number) == number
        assert number[:6] in ADDRESS_CODES
        assert int(number[14:17]) < 900  # 900 and up are left to the tests' own fictitious numbers
        assert ric.get_birth_date(number) == parsed.birth_date == r.birth_date <= date.today()
        assert r.gender == parsed.gender == ("M" if int(number[16]) % 2 else "F")
        assert 0 <= age(r.birth_date, date.today()) <= 100


def test_phones_are_mobile_numbers_stored_encrypted(residents, ctx):
    with_phone = [r for r in residents if r.phone_cipher]
    assert 0.7 * len(residents) < len(with_phone) < len(residents)  # small children have none
    for r in with_phone:
        phone = ctx.cipher.decrypt(r.phone_cipher, PHONE_CONTEXT)
        assert re.fullmatch(r"1[3-9]\d{9}", phone)
        assert r.phone_masked == phone[:3] + "****" + phone[-4:] and r.phone_tail == phone[-4:]


def test_names_come_from_the_generator(residents):
    for r in residents:
        assert PERSON_NAME.fullmatch(r.name), r.name
        assert r.name[0] in names.SURNAMES and set(r.name) <= DEMO_CHARS
        assert r.name_pinyin and r.name_initials


def test_kinds_sources_and_household_status(residents):
    kinds = Counter(r.kind for r in residents)
    assert kinds["registered"] > 0.7 * len(residents)
    assert 0.05 * len(residents) < kinds["floating"] < 0.3 * len(residents)
    assert kinds["overseas"] >= 1
    statuses = Counter(r.household_status for r in residents if r.kind != "overseas")
    assert set(statuses) == set(HOUSEHOLD_STATUSES)  # 人户分离 both ways, beside 人户同在
    assert statuses["人户同在"] > len(residents) / 2
    for r in residents:
        if r.kind == "floating":
            assert r.household_status == "人在户不在" and r.hukou_address != r.address
        assert r.sources
    assert any(len(r.sources) == 2 for r in residents)  # civil affairs' people merged into their records


# --- houses ---

def test_buildings_stand_inside_their_grids(db):
    grids = {g.code: from_geojson(g.geometry) for g in db.scalars(select(Region).where(Region.level == "grid"))}
    buildings = list(db.scalars(select(Building)))
    assert buildings
    for b in buildings:
        assert shapely.contains_xy(grids[b.grid_code], b.lon, b.lat), b.name
        assert b.region_path.endswith(f"/{b.grid_code}/")
    for h in db.scalars(select(House)):
        building = db.get(Building, h.building_id)
        assert (h.grid_code, h.region_path) == (building.grid_code, building.region_path)
        assert h.address.startswith(building.address + building.name) and h.address.endswith("室")


def test_who_lives_where(db, residents):
    today = date.today()
    current = [(rel, db.get(House, rel.house_id)) for rel in db.scalars(select(Residence))
               if rel.end_date is None or rel.end_date >= today]
    by_person = {r.id: r for r in residents}
    living = {rel.resident_id for rel, _ in current if rel.relation in ("居住", "租住")}
    for rel, house in current:
        person = by_person[rel.resident_id]
        assert rel.start_date >= person.birth_date
        if rel.relation in ("居住", "租住"):
            assert person.grid_code == house.grid_code and person.address == house.address
            assert house.use == "住宅"
        if rel.relation == "租住":
            assert house.rented
    rented = {h.id for _, h in current if h.rented}
    assert rented and rented <= {h.id for rel, h in current if rel.relation == "租住"}
    assert any(rel.relation == "产权" for rel, _ in current)
    ended = [rel for rel in db.scalars(select(Residence)) if rel.end_date is not None]
    assert ended and all(rel.start_date <= rel.end_date < today for rel in ended)
    for r in residents:
        if r.household_status == "户在人不在":
            assert r.id not in living and r.address != r.hukou_address
        else:
            assert r.id in living, r.name


# --- tags ---

def test_tags_in_realistic_proportions(db, residents):
    today = date.today()
    n = len(residents)
    elderly = [r for r in residents if age(r.birth_date, today) >= 60]
    assert 0.13 * n < len(elderly) < 0.24 * n
    tags = active_tags(db)
    assert 0.01 * n <= len(tags["disabled"]) <= 0.04 * n
    assert 0.01 * n <= len(tags["subsistence"]) <= 0.03 * n
    assert 0 < len(tags["living_alone"]) + len(tags["empty_nest"]) < len(elderly)
    for code, share in RARE.items():  # a few dozen in 30,000; at least one in a small demo
        assert 1 <= len(tags[code]) <= max(2, 2 * share * n), code


def test_tags_fit_the_people_who_carry_them(db, residents):
    today = date.today()
    by_id = {r.id: r for r in residents}
    villages = {c.code for c in db.scalars(select(Region).where(Region.level == "community", Region.kind == "村"))}
    tags = active_tags(db)
    for code in ("living_alone", "empty_nest", "left_behind_elderly"):
        assert all(age(by_id[t.resident_id].birth_date, today) >= 60 for t in tags.get(code, [])), code
    for t in tags.get("left_behind_child", []):
        person = by_id[t.resident_id]
        assert age(person.birth_date, today) < 16 and person.grid_code[:12] in villages
    for t in tags["missing_prone"]:
        assert age(by_id[t.resident_id].birth_date, today) >= 75
    for t in tags["community_correction"]:
        assert t.details["start_date"] <= today.isoformat() < t.details["end_date"]


def test_tag_details_are_complete_and_phones_encrypted(db):
    for code, tags in active_tags(db).items():
        required = [f.key for f in DETAILS.get(code, []) if f.required]
        phones = [f.key for f in DETAILS.get(code, []) if f.type == "phone"]
        for t in tags:
            assert all(t.details.get(k) not in (None, "") for k in required), (code, t.details)
            for k in phones:
                if k in t.details:
                    assert set(t.details[k]) == {"masked", "cipher"}
            shown = {k: v["masked"] if isinstance(v, dict) else v for k, v in t.details.items()}
            assert not re.search(r"1[3-9]\d{9}", json.dumps(shown)), "a phone number in the clear"


def test_every_tag_has_its_history_dated_in_the_past(db):
    now = datetime.now(UTC)
    events = {e.resident_tag_id: e for e in db.scalars(select(TagEvent))}
    for tags in active_tags(db).values():
        for t in tags:
            event = events[t.id]
            assert event.action == "add" and event.actor_id and event.reason
            assert event.created_at == t.created_at <= now


def test_the_tagging_rules_find_nothing_left_to_propose(db):
    """Everyone aged 60+ who lives alone, or only with people aged 60+, is already tagged."""
    try:
        assert run_rules(db) == {"living_alone": 0, "empty_nest": 0}
    finally:
        db.rollback()


# --- visits and services ---

def test_a_year_of_visits_on_each_tags_schedule(db):
    today = date.today()
    workers = {u.region_code: u.id for u in db.scalars(select(User).where(User.role == "grid_worker"))}
    done = list(db.scalars(select(Visit).where(Visit.status == "done")))
    assert done
    per_tag: Counter = Counter()
    for v in done:
        assert today - timedelta(days=367) <= v.due_date <= today + timedelta(days=3)
        assert v.visited_at <= datetime.now(UTC) and v.met and v.place and v.lon and v.lat
        assert v.worker_id == v.done_by == workers[v.grid_code]
        per_tag[(v.resident_id, v.tag_code)] += 1
    weekly = [n for (_, code), n in per_tag.items() if code == "living_alone"]
    assert weekly and max(weekly) <= 366 // 7 + 6  # a day or two early or late now and then
    quarterly = [n for (_, code), n in per_tag.items() if code == "disabled"]
    assert quarterly and max(quarterly) <= 5
    due = list(db.scalars(select(Visit).where(Visit.status == "due")))
    assert any(v.due_date < today for v in due), "a few visits are overdue"
    assert sum(v.due_date < today for v in due) < len(due) / 2


def test_services_spread_over_the_year_roles_and_grid_workers(db, residents):
    services = list(db.scalars(select(ServiceRecord)))
    assert len(services) == round(DEMO_RESIDENTS * SERVICES_PER_RESIDENT)
    workers = {u.region_code: u.id for u in db.scalars(select(User).where(User.role == "grid_worker"))}
    by_id = {r.id: r for r in residents}
    now = datetime.now(UTC)
    assert {s.role for s in services} == set(SERVICE_ROLES)
    assert len({s.served_at.astimezone(UTC).strftime("%Y-%m") for s in services}) >= 11
    assert len({s.worker_id for s in services}) > 50
    for s in services:
        assert now - timedelta(days=367) <= s.served_at <= now
        assert s.worker_id == workers[s.grid_code] and s.title
        if s.resident_id:
            assert by_id[s.resident_id].grid_code == s.grid_code


# --- deterministic and idempotent ---

def population(url: str) -> dict[str, list]:
    """The population's content, without what a build stamps with the clock or a random nonce."""
    engine = make_engine(url)
    with make_sessionmaker(engine)() as db:
        who = dict(db.execute(select(Resident.id, Resident.id_hash)).all())
        where = dict(db.execute(select(House.id, House.address)).all())
        out = {
            "residents": sorted(db.execute(select(
                Resident.id_hash, Resident.name, Resident.kind, Resident.grid_code, Resident.birth_date,
                Resident.gender, Resident.phone_masked, Resident.address, Resident.hukou_address,
                Resident.household_status, Resident.occupation)).all()),
            "houses": sorted(db.execute(select(House.address, House.grid_code, House.use, House.ownership,
                                               House.rented, House.area_m2)).all()),
            "residences": sorted((who[r.resident_id], where[r.house_id], r.relation, r.start_date, r.end_date)
                                 for r in db.scalars(select(Residence))),
            "tags": sorted((who[t.resident_id], t.tag_code, t.status, json.dumps(
                {k: v["masked"] if isinstance(v, dict) else v for k, v in t.details.items()}, sort_keys=True))
                for t in db.scalars(select(ResidentTag))),
            "visits": sorted((who[v.resident_id], v.tag_code, v.status, v.due_date, v.met, v.findings)
                             for v in db.scalars(select(Visit))),
            "services": sorted((s.role, s.title, s.grid_code, s.served_at.astimezone(UTC).isoformat(),
                                who.get(s.resident_id, "")) for s in db.scalars(select(ServiceRecord))),
        }
    engine.dispose()
    return out


def test_a_second_build_adds_and_changes_nothing(rebuilt):
    _, first, after_first, second, after_second = rebuilt
    assert first["resident"] >= DEMO_RESIDENTS and first["service"] > 0 and first["visit"] > 0
    assert not {"resident", "house", "tag", "visit", "service"} & set(second)
    assert after_second == after_first


def test_the_same_seed_gives_the_same_population(rebuilt, backend, databases, tmp_path_factory):
    other = population(_fresh_demo(databases, backend, tmp_path_factory))
    for table, rows in rebuilt[2].items():
        assert rows == other[table], table
