"""`gridgov demo`: the 芦淞区 demo district, deterministic and idempotent.

Every record is looked up by its natural key (region code, username, department code)
before it is created, so a second run finds everything in place and changes nothing.
The grid layer goes through the same importer as `gridgov grids import`, so the demo's
map is checked for gaps and overlaps like any real one. All people are generated.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.accounts.service import MOBILE_CONTEXT
from gridgov.cases.routing import bump_routing
from gridgov.core.config import Settings
from gridgov.core.crypto import DataCipher, data_cipher
from gridgov.core.security import hash_password
from gridgov.demo import geography, names
from gridgov.departments.models import AreaAssignment, Department
from gridgov.people.identity import mask_phone
from gridgov.regions.geo import to_geojson_text
from gridgov.regions.importer import import_layer
from gridgov.regions.models import MetaValue, Region

SEED = 2026
DEMO_PASSWORD = "demo-2026"
CITY = ("430200", "株洲市")
DISTRICT = ("430203", "芦淞区")
STREETS = [  # DESIGN §7: the real streets and town of 芦淞区 with their codes
    ("430203001", "贺家土街道"), ("430203002", "建设街道"), ("430203003", "建宁街道"),
    ("430203004", "董家塅街道"), ("430203005", "庆云街道"), ("430203006", "枫溪街道"),
    ("430203007", "龙泉街道"), ("430203100", "白关镇"),
]
COMMUNITIES_PER_STREET = [9, 10, 9, 10, 8, 9, 9, 16]  # 80 in all; the town's are mostly villages
TOWN_GRIDS = 48
N_GRIDS = 288

# (code, name, level, handlers): 17 departments; handler 01 answers for the whole district.
DEPARTMENTS = [
    ("CGJ", "芦淞区城市管理和综合执法局", "district_bureau", "street"),
    ("ZJJ", "芦淞区住房和城乡建设局", "district_bureau", "street"),
    ("HBJ", "株洲市生态环境局芦淞分局", "district_bureau", "half"),
    ("SJJ", "芦淞区市场监督管理局", "district_bureau", "street"),
    ("YJJ", "芦淞区应急管理局", "district_bureau", "half"),
    ("GAJ", "株洲市公安局芦淞分局", "district_bureau", "street"),
    ("MZJ", "芦淞区民政局", "district_bureau", "half"),
    ("RSJ", "芦淞区人力资源和社会保障局", "district_bureau", "half"),
    ("WJJ", "芦淞区卫生健康局", "district_bureau", "half"),
    ("JYJ", "芦淞区教育局", "district_bureau", "single"),
    ("JTJ", "芦淞区交通运输局", "district_bureau", "half"),
    ("SLJ", "芦淞区水利局", "district_bureau", "town"),
    ("ZRJ", "株洲市自然资源和规划局芦淞分局", "district_bureau", "town"),
    ("SFJ", "芦淞区司法局", "district_bureau", "single"),
    ("NYJ", "芦淞区农业农村局", "district_bureau", "town"),
    ("GDS", "国网株洲供电公司芦淞供电所", "utility", "half"),
    ("SWS", "株洲水务芦淞营业所", "utility", "half"),
]


@dataclass
class DemoReport:
    created: dict[str, int]

    def add(self, kind: str) -> None:
        self.created[kind] = self.created.get(kind, 0) + 1


def demo_mobile(user_id: int) -> str:
    """A demo account's mobile: 1370000 and the account's id in four digits (137-0000-0042), a block
    that reads as made up. Taken from the id, not from a random stream, so that every other stream
    of the demo draws what it drew before staff had mobiles."""
    return f"1370000{user_id % 10_000:04d}"


class DemoBuilder:
    def __init__(self, db: Session, progress: Callable[[str], None] = lambda _msg: None,
                 settings: Settings | None = None) -> None:
        self.db = db
        self.progress = progress
        self.report = DemoReport({})
        self.rng = random.Random(SEED)
        self.people = names.NameMaker(SEED)
        self.settings = settings
        self._hash: str | None = None
        self._cipher: DataCipher | None = None

    def cipher(self) -> DataCipher:
        # Only when an account is made: a second run, which makes none, needs no data key.
        if self._cipher is None:
            self._cipher = data_cipher(self.settings or Settings())
        return self._cipher

    def password_hash(self) -> str:
        # One hash for every demo account: argon2 is slow on purpose, and 500 of them would be minutes.
        if self._hash is None:
            self._hash = hash_password(DEMO_PASSWORD)
        return self._hash

    def build(self) -> DemoReport:
        self.progress("区划")
        self._region(CITY[0], CITY[1], "city", "市", None)
        self._region(DISTRICT[0], DISTRICT[1], "district", "区", CITY[0])
        self.progress("网格")
        self._grid_layer()
        self.progress("部门")
        departments = [self._department(*d) for d in DEPARTMENTS]
        self.progress("用户")
        self._staff()
        for dept, spec in zip(departments, DEPARTMENTS, strict=True):
            self._department_staff(dept, spec[3])
        if {"user", "area_assignment"} & self.report.created.keys():
            bump_routing(self.db)  # a server already running routes by the new assignments
        self.progress("工作日历")
        from gridgov.workcal.service import seed_from_chinesecalendar

        seed_from_chinesecalendar(self.db)
        self.progress("事项清单")
        from gridgov.catalog.demo import build_demo_catalog

        if created := build_demo_catalog(self.db):
            self.report.created["catalog_item"] = created
        from gridgov.open311.service import ensure_demo_client

        ensure_demo_client(self.db)  # key: demo-open311-key
        if self.db.get(MetaValue, "demo") is None:
            self.db.add(MetaValue(key="demo", value="1", counter=SEED))
        self.db.flush()
        return self.report

    def _region(self, code: str, name: str, level: str, kind: str, parent: str | None) -> Region:
        row = self.db.get(Region, code)
        if row is None:
            path = (self.db.get(Region, parent).path if parent else "/") + code + "/"
            row = Region(code=code, name=name, level=level, kind=kind, parent_code=parent, path=path)
            self.db.add(row)
            self.db.flush()
            self.report.add(level)
        return row

    def _grid_layer(self) -> None:
        existing = set(self.db.scalars(select(Region.code).where(Region.level == "grid")))
        if len(existing) >= N_GRIDS:
            return
        _, streets = geography.build_map(SEED, N_GRIDS, COMMUNITIES_PER_STREET, TOWN_GRIDS)
        community_names = names.community_names(self.rng, sum(COMMUNITIES_PER_STREET))
        features = []
        k = 0
        for (street_code, street_name), communities in zip(STREETS, streets, strict=True):
            kind = "镇" if street_code.endswith("100") else "街道"
            features.append(_feature(street_code, street_name, "street", kind, DISTRICT[0]))
            for c_index, grids in enumerate(communities, start=1):
                village = kind == "镇" and c_index > 3  # the town's seat keeps a few 社区
                c_code = f"{street_code}{c_index:03d}"
                c_name = community_names[k] + ("村" if village else "社区")
                k += 1
                features.append(_feature(c_code, c_name, "community", "村" if village else "社区", street_code))
                for g_index, geom in enumerate(grids, start=1):
                    features.append(_feature(f"{c_code}{g_index:02d}", f"{c_name}第{g_index}网格", "grid", "网格",
                                             c_code, geom))
        result = import_layer(self.db, {"type": "FeatureCollection", "features": features})
        if not result.ok:
            raise RuntimeError("demo map failed its own checks: " + "; ".join(p.message for p in result.problems))
        self.report.created["grid_layer"] = result.created

    def _department(self, code: str, name: str, level: str, _coverage: str) -> Department:
        row = self.db.scalar(select(Department).where(Department.code == code))
        if row is None:
            row = Department(code=code, name=name, level=level, region_code=DISTRICT[0])
            self.db.add(row)
            self.db.flush()
            self.report.add("department")
        return row

    def _user(self, username: str, display_name: str, role: str, region_code: str,
              department_id: int | None = None) -> User:
        row = self.db.scalar(select(User).where(User.username == username))
        if row is None:
            row = User(username=username, display_name=display_name, role=role, region_code=region_code,
                       department_id=department_id, password_hash=self.password_hash())
            self.db.add(row)
            self.db.flush()
            mobile = demo_mobile(row.id)  # made with the account only: a number an admin took away stays away
            row.mobile_cipher, row.mobile_masked = self.cipher().encrypt(mobile, MOBILE_CONTEXT), mask_phone(mobile)
            self.report.add("user")
        return row

    def _staff(self) -> None:
        self._user("admin", "系统管理员", "admin", CITY[0])
        self._user("leader", self.people.next(), "leader", DISTRICT[0])
        self._user("dispatcher", self.people.next(), "district_dispatcher", DISTRICT[0])
        regions = self.db.scalars(select(Region).where(Region.level.in_(["street", "community", "grid"]))
                                  .order_by(Region.code)).all()
        prefix = {"street": ("jd", "street_dispatcher"), "community": ("sq", "community_admin"),
                  "grid": ("wg", "grid_worker")}
        for r in regions:
            p, role = prefix[r.level]
            self._user(f"{p}{r.code}", self.people.next(), role, r.code)

    def _department_staff(self, dept: Department, coverage: str) -> None:
        base = f"bm{dept.code.lower()}"
        self._user(f"{base}00", self.people.next(), "dept_admin", DISTRICT[0], dept.id)
        areas: list[list[str]] = [[DISTRICT[0]]]
        street_codes = [s[0] for s in STREETS]
        if coverage == "street":
            areas += [[s] for s in street_codes]
        elif coverage == "half":
            areas += [street_codes[:4], street_codes[4:]]
        elif coverage == "town":
            areas += [[street_codes[-1]]]
        for n, regions in enumerate(areas, start=1):
            handler = self._user(f"{base}{n:02d}", self.people.next(), "dept_handler", DISTRICT[0], dept.id)
            for region_code in regions:
                exists = self.db.scalar(select(AreaAssignment.id).where(
                    AreaAssignment.department_id == dept.id, AreaAssignment.handler_id == handler.id,
                    AreaAssignment.region_code == region_code))
                if not exists:
                    self.db.add(AreaAssignment(department_id=dept.id, handler_id=handler.id,
                                               region_code=region_code))
                    self.report.add("area_assignment")
        self.db.flush()


def _feature(code, name, level, kind, parent, geom=None) -> dict:
    return {"type": "Feature",
            "properties": {"code": code, "name": name, "level": level, "kind": kind, "parent_code": parent},
            "geometry": json.loads(to_geojson_text(geom)) if geom is not None else None}


def build_demo(db: Session, progress: Callable[[str], None] = lambda _m: None, settings=None,
               history: int = 0, residents: int | None = None) -> DemoReport:
    """The district, its staff, departments, calendar and catalog; about `residents` people
    (default: the `demo_residents` setting) with their houses, tags, visits and services (none when
    the register already has people); then `history` cases over the past year (none when the
    database already has cases)."""
    from gridgov.demo.population import build_population

    settings = settings or Settings()
    report = DemoBuilder(db, progress, settings).build()
    count = settings.demo_residents if residents is None else residents
    report.created.update(build_population(db, settings, count, SEED, progress))
    if history:
        from gridgov.demo.history import build_history

        if made := build_history(db, settings, history, SEED, progress):
            report.created["case"] = made
    return report

