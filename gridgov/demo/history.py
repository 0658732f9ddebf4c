"""A year of plausible cases for the demo district, made through the same service functions
the app uses (create_case, act), with the clock set back so every event has a past time.

Most cases are closed on time; some are late, reworked, escalated, returned and re-dispatched,
self-handled on the spot, or rated unsatisfied, reopened and handled again; the last days' cases
are still open, at every step, so the console and lists have work in them. About one in five comes
from the 12345 hotline, registered by the district dispatcher with a generated caller's name and
mobile number (stored encrypted, as every caller's number is).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridgov.accounts.models import User
from gridgov.accounts.service import principal_of
from gridgov.cases import service
from gridgov.cases.lifecycle import LEVEL_ROLE, region_at_level
from gridgov.cases.models import Case
from gridgov.cases.routing import StreetBorders
from gridgov.catalog.models import CatalogItem
from gridgov.core.config import Settings
from gridgov.core.db import utcnow
from gridgov.core.errors import AppError
from gridgov.demo.names import NameMaker
from gridgov.demo.population import MOBILE_PREFIXES
from gridgov.regions.geo import from_geojson
from gridgov.regions.models import Region
from gridgov.regions.service import GridLocator

PHRASES = ["{name}，请尽快处理", "发现{name}，影响居民出行", "{name}问题，群众反映强烈", "巡查发现{name}"]
LOCAL = ZoneInfo("Asia/Shanghai")
SUMMER = {"01": 1.4, "04": 1.3}  # 市容环境 and 突发事件 rise in summer (rain, heat)
HOTLINE_SHARE = 0.2
HOTLINE_DESK = "dispatcher"  # the district command centre's demo dispatcher takes the calls


class History:
    def __init__(self, db: Session, settings: Settings, seed: int, progress: Callable[[str], None]) -> None:
        self.db = db
        self.rng = random.Random(seed)
        # Callers come from a stream of their own, so the rest of the history stays as it was.
        self.calls = random.Random(seed + 1)
        self.callers = NameMaker(seed + 1)
        # Likewise the second round of a case rated 不满意.
        self.again = random.Random(seed + 2)
        self.progress = progress
        self.ctx = service.CaseContext(settings=settings, locator=GridLocator(), borders=StreetBorders())
        active = select(CatalogItem).where(CatalogItem.active.is_(True)).order_by(CatalogItem.code)
        self.items = list(db.scalars(active))
        self.grids = list(db.scalars(select(Region).where(Region.level == "grid").order_by(Region.code)))
        self.shapes = {g.code: from_geojson(g.geometry) for g in self.grids}
        self.users = {u.id: u for u in db.scalars(select(User))}
        self.by_name = {u.username: u for u in self.users.values()}
        self._dispatchers: dict[tuple[str, str], User] = {}

    # --- people ---

    def who(self, user: User):
        return principal_of(user)

    def dispatcher(self, case: Case) -> User:
        path = region_at_level(case.region_path, case.level)
        key = (case.level, path)
        if key not in self._dispatchers:
            code = path.strip("/").split("/")[-1]
            prefix = {"district": None, "street": "jd", "community": "sq"}[case.level]
            name = "dispatcher" if prefix is None else f"{prefix}{code}"
            user = self.by_name.get(name)
            if user is None or user.role != LEVEL_ROLE[case.level]:
                raise RuntimeError(f"no {case.level} dispatcher for {path}")
            self._dispatchers[key] = user
        return self._dispatchers[key]

    def grid_worker(self, case: Case) -> User:
        return self.by_name[f"wg{case.grid_code}"]

    # --- randomness ---

    def point_in(self, grid_code: str) -> tuple[float, float]:
        shape = self.shapes[grid_code]
        minx, miny, maxx, maxy = shape.bounds
        while True:
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shapely.contains_xy(shape, x, y):
                return x, y

    def pick_item(self, when: datetime) -> CatalogItem:
        summer = 1 + 0.5 * math.sin((when.timetuple().tm_yday - 100) / 365 * 2 * math.pi)
        weights = [SUMMER.get(i.code[:2], 1.0) ** summer for i in self.items]
        return self.rng.choices(self.items, weights)[0]

    def later(self, t: datetime, hours: float, rng: random.Random | None = None) -> datetime:
        return t + timedelta(hours=max(0.05, (rng or self.rng).expovariate(1 / hours)))

    # --- one case ---

    def run(self, user: User, case: Case, name: str, t: datetime, **extra) -> Case:
        data = service.ActionInput(version=case.version, **extra)
        return service.act(self.db, self.ctx, self.who(user), case.id, name, data, now=t)

    def one(self, created: datetime, finish_by: datetime) -> None:
        item = self.pick_item(created)
        grid = self.rng.choice(self.grids)
        lon, lat = self.point_in(grid.code)
        hotline = self.calls.random() < HOTLINE_SHARE
        reporter = self.by_name[HOTLINE_DESK if hotline else f"wg{grid.code}"]
        text = self.rng.choice(PHRASES).format(name=item.name)
        caller = {"source": "hotline", "reporter_name": self.callers.next(),
                  "reporter_phone": self.calls.choice(MOBILE_PREFIXES) + f"{self.calls.randrange(10 ** 8):08d}"
                  } if hotline else {"source": "grid_worker"}
        data = service.NewCase(description=text, lon=lon, lat=lat, item_code=item.code,
                               urgency="urgent" if self.rng.random() < 0.05 else "normal", **caller)
        case, _ = service.create_case(self.db, self.ctx, self.who(reporter), data, now=created)
        t = created
        if item.self_handle and self.rng.random() < 0.5 and not hotline:  # drawn all the same: see self.calls
            self.run(reporter, case, "self_handle", self.later(t, 0.3), comment="已现场处置")
            return
        roll = self.rng.random()
        if case.level != "district" and roll < 0.05:
            t = self.later(t, 1)
            case = self.run(self.dispatcher(case), case, "escalate", t, comment="本级无法处置，提请上级协调")
        steps = [("register", 0.5), ("dispatch", 0.7), ("sign", 1.5), ("report_back", 20), ("verify", 3),
                 ("close", 1.5), ("evaluate", 24)]
        late = self.rng.random() < 0.08
        for name, hours in steps:
            t = self.later(t, hours * (4 if late and name == "report_back" else 1))
            if t > finish_by:
                return  # still open today
            if name == "register" and case.triage_reason:
                case.triage_reason = ""
            if name == "sign" and self.rng.random() < 0.03:
                handler = self.users[case.handler_id]
                case = self.run(handler, case, "return", t, comment="不属于本部门职责范围")
                t = self.later(t, 0.5)
                other = self.rng.choice([i for i in self.items if i.department_id != case.department_id])
                case = self.run(self.dispatcher(case), case, "dispatch", t, department_id=other.department_id,
                                comment="改派")
                t = self.later(t, 1)
            actor = {"register": self.dispatcher, "dispatch": self.dispatcher, "close": self.dispatcher,
                     "evaluate": self.dispatcher, "verify": self.grid_worker}.get(name)
            user = actor(case) if actor else self.users[case.handler_id]
            extra = {}
            if name in ("report_back",):
                extra["comment"] = "已按标准处置完毕"
            if name == "evaluate":
                extra["satisfaction"] = self.rng.choices(["satisfied", "basically_satisfied", "unsatisfied"],
                                                         [90, 6, 4])[0]
            case = self.run(user, case, name, t, **extra)
            if name == "verify" and self.rng.random() < 0.05:
                t = self.later(t, 1)
                case = self.run(self.dispatcher(case), case, "rework", t, comment="处置不彻底，返工")
                t = self.later(t, 10)
                case = self.run(self.users[case.handler_id], case, "report_back", t, comment="已返工")
                t = self.later(t, 3)
                case = self.run(self.grid_worker(case), case, "verify", t)
            if name == "evaluate" and case.state == "handling":
                self.handle_again(case, t, finish_by)  # 不满意: reopened and back with the handler
                return

    def handle_again(self, case: Case, t: datetime, finish_by: datetime) -> None:
        """A case rated 不满意 goes round once more, from the handler to a second rating; one
        reopened in the last days is still with the handler today."""
        for name, hours in [("report_back", 24), ("verify", 3), ("close", 1.5), ("evaluate", 24)]:
            t = self.later(t, hours, self.again)
            if t > finish_by:
                return
            user = {"verify": self.grid_worker(case), "close": self.dispatcher(case),
                    "evaluate": self.dispatcher(case)}.get(name) or self.users[case.handler_id]
            extra = {"comment": "已按回访意见重新处置"} if name == "report_back" else {}
            if name == "evaluate":
                extra["satisfaction"] = self.again.choices(["satisfied", "basically_satisfied", "unsatisfied"],
                                                           [70, 25, 5])[0]
            case = self.run(user, case, name, t, **extra)

    def build(self, count: int, days: int = 365) -> int:
        end = utcnow()
        start = end - timedelta(days=days)
        made = 0
        for n in range(count):
            created = start + timedelta(days=days * (n + self.rng.random()) / count)
            if created.astimezone(LOCAL).hour < 7:  # few reports before dawn
                created += timedelta(hours=8)
            try:
                with self.db.begin_nested():
                    self.one(created, end)
                made += 1
            except AppError:
                continue  # a generated path the rules refuse is simply not part of the history
            if n % 200 == 0:
                self.progress(f"历史事件 {n}/{count}")
        return made


def build_history(db: Session, settings: Settings, count: int, seed: int = 2026,
                  progress: Callable[[str], None] = lambda _m: None) -> int:
    """Creates `count` cases over the past year unless the database already has cases."""
    if db.scalar(select(func.count()).select_from(Case)):
        return 0
    db.info["notify"] = False
    try:
        return History(db, settings, seed, progress).build(count)
    finally:
        db.info["notify"] = True
