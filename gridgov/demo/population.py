"""The demo district's people: households in houses, their tags, a year of visits and services.

Everything is generated from the seed (names from gridgov/demo/names.py, ID numbers with valid check
digits but sequences below 900, phones 1[3-9]…), so the same seed on the same day gives the same
population; none of it is a real person. Residents go through the register's own check and merge
(`check_resident`, `upsert_residents`), tags through `add_tag`, services through `create_service`,
due visits through `generate_due_visits`; houses and past visits are bulk-inserted with the values the
services would write (their checks and address function are called for each row), because creating
tens of thousands of them one by one would take minutes.

Households follow a few family shapes (elderly alone or as a couple, young single tenants, nuclear
and three-generation families; in the town's villages also children left with their grandparents
while the parents work away), which gives about 18% aged 60 and over, most of them with a 独居老人 or
空巢老人 tag when the household says so. Floating households rent from owners who live elsewhere
(户在人不在); some registered people live away from their 户籍 (人在户不在).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import shapely
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from stdnum.cn import ric

from gridgov.accounts.access import Principal
from gridgov.accounts.models import User
from gridgov.accounts.service import principal_of
from gridgov.core.config import Settings
from gridgov.demo import names
from gridgov.people import houses
from gridgov.people.models import Building, House, Residence, Resident, ResidentTag, TagEvent, TagKind
from gridgov.people.service import GridPaths, ResidentInput, check_resident, people_context, upsert_residents
from gridgov.people.tagging import add_tag
from gridgov.regions.geo import from_geojson
from gridgov.regions.models import Region
from gridgov.regions.service import GridLocator
from gridgov.visits import service as visits
from gridgov.visits.models import Visit

SERVICES_PER_RESIDENT = 11_500 / 30_000  # DESIGN §1: 11,000+ grid services a year in one district
CITY_PREFIX = "株洲市芦淞区"
# 6-digit address codes in the first digits of an ID number: where the person's 户籍 was first registered.
ZHUZHOU = [("430203", "芦淞区", 76), ("430202", "荷塘区", 5), ("430204", "石峰区", 4), ("430211", "天元区", 4),
           ("430221", "株洲县", 3), ("430223", "攸县", 3), ("430224", "茶陵县", 2), ("430281", "醴陵市", 3)]
ELSEWHERE = [("430421", "湖南省衡阳市衡阳县", 12), ("430422", "湖南省衡阳市衡南县", 10),
             ("430521", "湖南省邵阳市邵东县", 10), ("430626", "湖南省岳阳市平江县", 6),
             ("431021", "湖南省郴州市桂阳县", 6), ("431121", "湖南省永州市祁阳县", 8),
             ("430923", "湖南省益阳市安化县", 6), ("360302", "江西省萍乡市安源区", 8),
             ("360321", "江西省萍乡市莲花县", 6), ("420115", "湖北省武汉市江夏区", 3),
             ("510921", "四川省遂宁市蓬溪县", 3), ("441481", "广东省梅州市兴宁市", 2)]
# Codes replaced when their county was reorganised: people born since then carry the new one.
RENAMED = {"430221": ("430212", 2018), "430521": ("430582", 2019), "431121": ("431181", 2021)}
MOBILE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
                   "156", "157", "158", "159", "166", "173", "176", "177", "180", "181", "182", "183", "185", "186",
                   "187", "188", "189", "191", "198", "199")
ETHNICITIES = (("汉族", 975), ("土家族", 8), ("苗族", 6), ("侗族", 4), ("瑶族", 4), ("回族", 2), ("壮族", 1))
WORK = [("公司职员", "{stem}服饰有限公司"), ("个体经营者", "芦淞服饰市场{stem}商行"),
        ("服装销售", "{stem}服装批发部"), ("工人", "株洲{stem}轨道交通装备有限公司"),
        ("工人", "株洲{stem}机械制造有限公司"), ("快递员", "{stem}快递服务部"), ("外卖骑手", "灵活就业"),
        ("网约车司机", "灵活就业"), ("教师", "芦淞区{stem}小学"), ("医护人员", "芦淞区{stem}卫生院"),
        ("建筑工人", "{stem}建筑劳务有限公司"), ("厨师", "{stem}餐饮管理有限公司"),
        ("保安", "{stem}物业管理有限公司"), ("公务员", "芦淞区{stem}街道办事处"), ("自由职业", ""), ("待业", "")]
WORK_AWAY = ("广东省东莞市", "广东省深圳市宝安区", "广东省广州市白云区", "浙江省义乌市", "浙江省宁波市",
             "湖南省长沙市雨花区", "江苏省苏州市昆山市", "福建省厦门市")
ESTATE_SUFFIXES = ("小区", "花园", "苑", "新村", "家园", "公寓")
URBAN = [("single_elder", 5), ("elder_couple", 7), ("young_single", 10), ("couple", 12), ("nuclear", 36),
         ("three_gen", 14), ("with_parent", 5)]
VILLAGE = [("single_elder", 8), ("elder_couple", 10), ("left_behind", 18), ("couple", 12), ("nuclear", 22),
           ("three_gen", 30)]
FLOATING_SHARE = {"young_single": 0.55, "couple": 0.3, "nuclear": 0.25, "three_gen": 0.06}
OVERSEAS = [("韩国", "M"), ("越南", "C"), ("马来西亚", "A"), ("新加坡", "K"), ("泰国", "AA")]
# Rare groups: share of all residents (at least one of each, so a small demo still shows every kind).
RARE = {"community_correction": 0.0013, "released_prisoner": 0.002, "mental_disorder": 0.0015,
        "drug_user": 0.0007, "key_petitioner": 0.0004, "key_youth": 0.001, "missing_prone": 0.0012,
        "entitled": 0.005}
FINDINGS = ["情况正常，身体状况良好", "情况稳定，生活能自理", "家中整洁，精神状态较好",
            "反映楼道照明损坏，已报物业维修", "提醒注意用电用气安全", "家中电线老化，已建议更换",
            "近期血压偏高，已提醒按时服药", "反映低保待遇发放情况，已解答", "情绪稳定，按时报到",
            "监护人在家，服药情况正常", "反映下水道堵塞，已联系社区处理"]
SERVICES = {
    "collect": ["入户核实人口信息", "出租屋信息登记", "更新房屋信息", "采集流动人口信息", "核实新生儿落户信息"],
    "help": ["协助办理低保年审", "为独居老人代购生活用品", "帮助残疾人申请辅具", "协助申请临时救助",
             "联系志愿者上门理发"],
    "law": ["反诈骗宣传进楼栋", "宣传民法典婚姻家庭编", "禁毒知识宣传", "防范养老诈骗宣传", "安全用电知识宣传"],
    "rights": ["协助追讨拖欠工资", "协助老人办理养老金资格认证", "协调物业维修电梯", "帮助申请法律援助"],
    "mediate": ["调解邻里噪音纠纷", "调解楼上漏水纠纷", "调解停车位纠纷", "调解家庭赡养纠纷", "调解宠物扰民纠纷"],
    "risk": ["排查燃气安全隐患", "劝导电动车入户充电", "排查自建房安全隐患", "走访了解社区矫正对象近况",
             "汛期巡查低洼地段"],
}
SERVICE_WEIGHTS = {"collect": 34, "help": 20, "law": 15, "rights": 8, "mediate": 12, "risk": 11}
LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass
class Grid:
    code: str
    path: str
    name: str
    community: str
    street: str
    village: bool
    shape: shapely.Geometry


@dataclass
class Person:
    name: str
    gender: str
    birth: date
    kind: str = "registered"
    id_type: str = "ric"
    id_number: str = ""
    nationality: str = ""
    origin: str = ""  # where the 户籍 is, for people registered outside the district
    phone: str = ""
    ethnicity: str = "汉族"
    education: str = ""
    occupation: str = ""
    employer: str = ""
    hukou_address: str = ""
    address: str = ""
    household_status: str = "人户同在"
    lives: bool = True  # lives in the household's house; False: away (户在人不在)
    household: Household | None = None
    grid_code: str = ""
    rid: int = 0


@dataclass
class Household:
    grid: Grid
    shape: str
    members: list[Person]
    tenure: str  # own | rent | public
    moved_in: date
    house: dict | None = None
    landlord: Person | None = None
    previous: dict | None = None  # a house rented before this one


@dataclass
class Scheduled:
    person: Person
    code: str
    since: date
    details: dict = field(default_factory=dict)


class Population:
    def __init__(self, db: Session, settings: Settings, seed: int, progress: Callable[[str], None]) -> None:
        self.db = db
        self.settings = settings
        self.ctx = people_context(settings)
        self.rng = random.Random(seed * 31 + 7)
        self.names = names.NameMaker(seed + 101)
        self.progress = progress
        self.today = visits.local_today(settings)
        self.ids: set[str] = set()
        self.people: list[Person] = []
        self.households: list[Household] = []
        self.buildings: list[Building] = []
        self.houses: list[dict] = []
        self.counts: Counter[str] = Counter()
        self.grids = self._grids()
        self.workers = {u.region_code: u for u in db.scalars(select(User).where(User.role == "grid_worker"))}
        self._principals: dict[str, Principal] = {}

    # --- the map ---

    def _grids(self) -> list[Grid]:
        regions = {r.code: r for r in self.db.scalars(select(Region).where(Region.level.in_(
            ["street", "community", "grid"])))}
        out = []
        for r in sorted((r for r in regions.values() if r.level == "grid"), key=lambda r: r.code):
            community = regions[r.parent_code]
            street = regions[community.parent_code]
            out.append(Grid(r.code, r.path, r.name, community.name, street.name, community.kind == "村",
                            from_geojson(r.geometry)))
        return out

    def point_in(self, grid: Grid) -> tuple[float, float]:
        minx, miny, maxx, maxy = grid.shape.bounds
        while True:
            x, y = self.rng.uniform(minx, maxx), self.rng.uniform(miny, maxy)
            if shapely.contains_xy(grid.shape, x, y):
                return round(x, 7), round(y, 7)

    # --- people ---

    def _given(self) -> str:
        return self.names.next()[1:]  # every surname in names.SURNAMES is one character

    def person(self, age: int, gender: str, surname: str | None = None, origin: tuple[str, str] | None = None,
               kind: str = "registered") -> Person:
        r = self.rng
        birth = self.today - timedelta(days=int(age * 365.25) + r.randrange(1, 365))
        name = (surname + self._given()) if surname else self.names.next()
        code, place = origin or r.choices([(c, p) for c, p, _ in ZHUZHOU], [w for *_, w in ZHUZHOU])[0]
        p = Person(name=name, gender=gender, birth=birth, kind=kind, origin=place if code != "430203" else "")
        successor, since = RENAMED.get(code, (code, 0))
        p.id_number = self._id_number(successor if birth.year >= since else code, birth, gender)
        if age >= 12 and r.random() < (0.6 if age >= 72 else 0.95):
            p.phone = r.choice(MOBILE_PREFIXES) + f"{r.randrange(10 ** 8):08d}"
        p.ethnicity = r.choices([e for e, _ in ETHNICITIES], [w for _, w in ETHNICITIES])[0]
        return p

    def _id_number(self, code: str, birth: date, gender: str) -> str:
        # Sequences stay below 900: tests make their own fictitious numbers from 900 up.
        while True:
            seq = self.rng.randrange(0, 449) * 2 + (1 if gender == "M" else 0)
            body = f"{code}{birth:%Y%m%d}{seq:03d}"
            number = body + ric.calc_check_digit(body + "0")  # it expects a placeholder for the digit
            if number not in self.ids:
                self.ids.add(number)
                return number

    def age(self, p: Person) -> int:
        return self.today.year - p.birth.year - ((self.today.month, self.today.day) < (p.birth.month, p.birth.day))

    def _work(self, p: Person, village: bool) -> None:
        r, age = self.rng, self.age(p)
        if age < 6:
            p.education = "学龄前"
            return
        if age < 18:
            p.education = "小学" if age < 12 else "初中" if age < 15 else r.choice(("高中", "中专"))
            p.occupation, p.employer = "学生", f"芦淞区{r.choice(names.PLACE_STEMS)}{'小学' if age < 12 else '中学'}"
            return
        levels = ("文盲或半文盲", "小学", "初中", "高中", "中专", "大专", "本科", "硕士")
        weights = {True: (3, 28, 36, 18, 6, 5, 4, 0), False: (0, 2, 20, 18, 12, 21, 24, 3)}[age >= 60]
        p.education = r.choices(levels, weights)[0] if age >= 23 else r.choice(("高中", "中专", "大专", "本科"))
        if age < 23 and r.random() < 0.6:
            p.occupation, p.employer = "学生", "湖南工业大学" if r.random() < 0.5 else "株洲职业技术学院"
        elif age >= 60:
            p.occupation = "农民" if village else "离退休人员"
        elif village and r.random() < 0.5:
            p.occupation = "农民"
        else:
            p.occupation, employer = r.choice(WORK)
            p.employer = employer.format(stem=r.choice(names.PLACE_STEMS))

    # --- households ---

    def household(self, grid: Grid) -> Household:
        r = self.rng
        shapes = VILLAGE if grid.village else URBAN
        shape = r.choices([s for s, _ in shapes], [w for _, w in shapes])[0]
        floating = not grid.village and r.random() < FLOATING_SHARE.get(shape, 0.04)
        origin = r.choices([(c, p) for c, p, _ in ELSEWHERE], [w for *_, w in ELSEWHERE])[0] if floating else None
        kind = "floating" if floating else "registered"
        new = lambda age, gender, surname=None: self.person(age, gender, surname, origin, kind)  # noqa: E731
        members: list[Person] = []
        away: list[Person] = []
        if shape == "single_elder":
            members = [new(r.randint(60, 94), r.choices("MF", [4, 6])[0])]
        elif shape == "elder_couple":
            husband = new(r.randint(62, 89), "M")
            members = [husband, new(max(60, self.age(husband) - r.randint(0, 5)), "F")]
        elif shape == "young_single":
            members = [new(r.randint(19, 40), r.choice("MF"))]
        else:
            low, high = {"couple": (25, 59), "with_parent": (40, 59), "left_behind": (26, 42)}.get(shape, (26, 55))
            husband = new(r.randint(low, high), "M")
            wife = new(max(22, self.age(husband) - r.randint(-2, 5)), "F")  # old enough for a child
            parents = [husband, wife]
            surname = husband.name[0] if r.random() < 0.9 else wife.name[0]
            kids = []
            if shape in ("nuclear", "three_gen", "left_behind"):
                oldest = min(self.age(wife) - 21, 15 if shape == "left_behind" else 25)
                for _ in range(1 if grid.village is False and r.random() < 0.65 else 2):
                    if oldest >= 0:
                        kids.append(new(r.randint(max(0, oldest - 12), oldest), r.choice("MF"), surname))
            elders = []
            if shape in ("three_gen", "left_behind", "with_parent"):
                base = self.age(husband) + r.randint(22, 32)
                elders.append(new(min(base, 95), "M" if shape != "with_parent" else r.choice("MF"), husband.name[0]))
                if shape != "with_parent" and r.random() < 0.7:
                    elders.append(new(min(base - r.randint(0, 5), 94), "F"))
            if shape == "left_behind":
                away = parents if r.random() < 0.7 else [husband]
                parents = [p for p in parents if p not in away]
            members = parents + kids + elders
        for p in members + away:
            self._work(p, grid.village)
        if away:  # parents of left-behind children: registered here, working elsewhere
            work_place = r.choice(WORK_AWAY)
            for p in away:
                p.lives, p.household_status, p.address = False, "户在人不在", work_place
                p.occupation, p.employer = "务工", ""
        tenure = "rent" if floating else "own" if grid.village else r.choices(("own", "public", "rent"), (91, 4, 5))[0]
        years = r.randint(1, 3) if tenure != "own" else r.randint(1, 30)
        moved_in = self.today - timedelta(days=years * 365 - r.randrange(300))
        h = Household(grid, shape, members + away, tenure, moved_in)
        for p in h.members:
            p.household = h
        return h

    def landlord(self, grid: Grid) -> Person:
        """The owner of a rented house: registered here, living elsewhere (户在人不在)."""
        p = self.person(self.rng.randint(35, 75), self.rng.choice("MF"))
        self._work(p, False)
        p.lives, p.household_status = False, "户在人不在"
        p.address = f"株洲市{self.rng.choice(['天元区', '荷塘区', '石峰区'])}{self.rng.choice(names.PLACE_STEMS)}路" \
                    f"{self.rng.randint(1, 300)}号"
        return p

    def generate(self, count: int) -> None:
        weights = [self.rng.uniform(0.6, 1.4) for _ in self.grids]
        landlords: dict[str, list[Person]] = {}

        def add(h: Household) -> None:
            self.households.append(h)
            self.people.extend(h.members)
            if h.tenure == "rent":
                mine = landlords.setdefault(h.grid.code, [])
                if not mine or self.rng.random() < 0.75:  # most landlords let one flat; some let several
                    mine.append(self.landlord(h.grid))
                    self.people.append(mine[-1])
                    h.landlord = mine[-1]
                else:
                    h.landlord = self.rng.choice(mine)

        overseas = max(1, round(count * 0.001))
        while len(self.people) < count - overseas:
            add(self.household(self.rng.choices(self.grids, weights)[0]))
        for _ in range(overseas):  # a few foreigners renting in the city
            grid = self.rng.choice([g for g in self.grids if not g.village])
            nationality, letter = self.rng.choice(OVERSEAS)
            p = self.person(self.rng.randint(22, 55), self.rng.choice("MF"), kind="overseas")
            self.ids.discard(p.id_number)
            p.id_type, p.nationality, p.ethnicity, p.household_status = "passport", nationality, "", ""
            p.id_number = f"{letter}{self.rng.randrange(10 ** 7, 10 ** 8)}"
            p.occupation, p.employer = self.rng.choice((("外语教师", "株洲市第二中学"),
                                                        ("商务人员", "芦淞服饰市场外贸商行")))
            p.household = Household(grid, "young_single", [p], "rent",
                                    self.today - timedelta(days=self.rng.randint(60, 900)))
            add(p.household)
        for h in self.households:
            for p in h.members + ([h.landlord] if h.landlord else []):
                p.grid_code = h.grid.code

    # --- houses ---

    def _building(self, grid: Grid, name: str, address: str, floors: int, structure: str) -> Building:
        lon, lat = self.point_in(grid)
        data = houses.BuildingInput(name=name, grid_code=grid.code, address=address, lon=lon, lat=lat, floors=floors,
                                    structure=structure)
        path, problems = houses.check_building(data, self.grid_paths, self.system)
        if problems:
            raise RuntimeError(f"demo building {name}: {_shown(problems)}")
        b = Building(name=data.name, grid_code=grid.code, region_path=path, address=address, lon=lon, lat=lat,
                     floors=floors, structure=structure)
        self.buildings.append(b)
        return b

    def _house(self, b: Building, unit: str, room: str, floor: int, area: float, use: str, ownership: str) -> dict:
        data = houses.HouseInput(building_id=0, room=room, unit=unit, floor=floor, area_m2=area, use=use,
                                 ownership=ownership)
        if problems := houses.check_house(data):
            raise RuntimeError(f"demo house {b.name} {unit}-{room}: {_shown(problems)}")
        row = {"building": b, "unit": unit, "room": room, "floor": floor, "area_m2": area, "use": use,
               "ownership": ownership, "rented": False, "grid_code": b.grid_code, "region_path": b.region_path,
               "address": houses.house_address(b, unit, room), "notes": ""}
        self.houses.append(row)
        return row

    def _estate(self, grid: Grid, need: int, ownership: str, taken: set[str]) -> list[dict]:
        """Apartment buildings of one estate with at least `need` flats; a few shops on the ground floor."""
        r = self.rng
        while True:
            estate = r.choice(names.PLACE_STEMS) + r.choice(ESTATE_SUFFIXES)
            if estate not in taken:
                taken.add(estate)
                break
        road = f"{r.choice(names.PLACE_STEMS)}{r.choice(('路', '街', '大道'))}{r.randint(1, 400)}号"
        address = f"{CITY_PREFIX}{grid.street}{road}"
        flats: list[dict] = []
        number = 0
        while len(flats) < need:
            number += 1
            floors = r.choice((5, 6, 6, 7, 7, 8, 11, 18)) if ownership != "公租房" else 11
            units, per_floor = r.choice((1, 2, 2, 3)), r.choice((2, 2, 3))
            left = need - len(flats)
            if floors * units * per_floor > max(8, 2 * left):  # a small demo gets small buildings
                units, floors = 1, max(2, min(floors, -(-left * 13 // (10 * per_floor))))
            b = self._building(grid, f"{estate}{number}栋", address, floors, "框架" if floors > 7 else "砖混")
            shops = floors >= 6 and r.random() < 0.3
            for unit in range(1, units + 1):
                for floor in range(1, floors + 1):
                    for k in range(1, per_floor + 1):
                        use = "商铺" if shops and floor == 1 else "住宅"
                        area = round(r.uniform(45, 140) if use == "住宅" else r.uniform(20, 60), 1)
                        row = self._house(b, str(unit), f"{floor}{k:02d}", floor, area, use, ownership)
                        if use == "住宅":
                            flats.append(row)
        return flats

    def place(self) -> None:
        by_grid: dict[str, list[Household]] = {}
        for h in self.households:
            by_grid.setdefault(h.grid.code, []).append(h)
        for grid in self.grids:
            homes = by_grid.get(grid.code, [])
            if grid.village:
                self._village(grid, homes)
                continue
            taken: set[str] = set()
            public = [h for h in homes if h.tenure == "public"]
            private = [h for h in homes if h.tenure != "public"]
            for group, ownership in ((public, "公租房"), (private, None)):
                if not group:
                    continue
                flats: list[dict] = []
                while len(flats) < len(group) * 1.12:  # about one flat in ten stands empty
                    kind = ownership or self.rng.choices(["商品房", "房改房", "单位产权", "其他"], [60, 32, 5, 3])[0]
                    flats += self._estate(grid, max(1, round(len(group) * 1.12) - len(flats)), kind, taken)
                self.rng.shuffle(flats)
                for h, flat in zip(group, flats, strict=False):
                    h.house = flat
                    flat["rented"] = h.tenure != "own"
        lived_in = {id(h.house) for h in self.households}
        empty = [f for f in self.houses if f["use"] == "住宅" and f["ownership"] != "自建房" and id(f) not in lived_in]
        for h in self.households:  # some tenants moved here from a flat in the district that now stands empty
            if h.tenure == "rent" and empty and self.rng.random() < 0.15:
                h.previous = self.rng.choice(empty)

    def _village(self, grid: Grid, homes: list[Household]) -> None:
        r = self.rng
        village = grid.community
        for n, h in enumerate(homes + [None] * round(len(homes) * 0.1), start=1):  # some houses stand empty
            group = int(grid.code[-2:]) * 2 - n % 2  # the village's groups (组) divided between its grids
            b = self._building(grid, f"{group}组{n}号", f"{CITY_PREFIX}{grid.street}{village}",
                               r.choice((2, 3, 3)), r.choice(("砖混", "砖混", "框架", "砖木")))
            row = self._house(b, "", "101", 1, round(r.uniform(110, 260), 1), "住宅", "自建房")
            if h is not None:
                h.house = row

    def addresses(self) -> None:
        for h in self.households:
            where = h.house["address"] if h.house else ""
            for p in h.members:
                if p.lives:
                    p.address = where
                if p.kind == "floating":
                    p.household_status = "人在户不在"
                    town, village = self.rng.sample(names.PLACE_STEMS, 2)
                    p.hukou_address = f"{p.origin}{town}镇{village}村"
                elif p.kind == "registered":
                    p.hukou_address = where
            if h.members[0].kind == "registered" and not h.grid.village and self.rng.random() < 0.08:
                # 户籍 in another community of the district: lives here, registered there (人在户不在)
                other = self.rng.choice(self.houses)["address"]
                for p in h.members:
                    p.household_status, p.hukou_address = "人在户不在", other
            if h.landlord is not None:
                h.landlord.hukou_address = where

    # --- writing ---

    def write_residents(self) -> None:
        by_source = {"registered": "芦淞公安分局户籍", "floating": "流动人口登记", "overseas": "出入境管理"}
        for kind, source in by_source.items():
            group = [p for p in self.people if p.kind == kind]
            for start in range(0, len(group), 1000):
                chunk = group[start:start + 1000]
                clean = [self._checked(p) for p in chunk]
                for p, outcome in zip(chunk, upsert_residents(self.db, self.ctx, clean, source, None), strict=True):
                    p.rid = outcome.resident_id
                self.progress(f"居民 {start + len(chunk)}/{len(group)}（{source}）")
        self.counts["resident"] = len(self.people)

    def _checked(self, p: Person):
        data = ResidentInput(name=p.name, id_number=p.id_number, id_type=p.id_type, kind=p.kind,
                             grid_code=p.grid_code, phone=p.phone, gender=p.gender if p.id_type != "ric" else "",
                             birth_date=p.birth if p.id_type != "ric" else None, nationality=p.nationality,
                             ethnicity=p.ethnicity, education=p.education, occupation=p.occupation,
                             employer=p.employer, hukou_address=p.hukou_address, address=p.address,
                             household_status=p.household_status)
        clean, problems = check_resident(data, self.grid_paths, self.system)
        if problems:
            raise RuntimeError(f"demo resident {p.name}: {_shown(problems)}")
        return clean

    def write_houses(self) -> None:
        self.db.add_all(self.buildings)
        self.db.flush()
        rows = [{k: v for k, v in h.items() if k != "building"} | {"building_id": h["building"].id}
                for h in self.houses]
        ids = self.db.execute(insert(House).returning(House.id, sort_by_parameter_order=True), rows).scalars()
        for h, hid in zip(self.houses, ids, strict=True):
            h["id"] = hid
        self.counts["building"], self.counts["house"] = len(self.buildings), len(self.houses)

    def write_residences(self) -> None:
        rows = []

        def relation(p: Person, house: dict, kind: str, start: date, end: date | None = None) -> None:
            rows.append({"resident_id": p.rid, "house_id": house["id"], "relation": kind,
                         "start_date": max(start, p.birth), "end_date": end, "note": "", "created_by": None,
                         "created_at": datetime.now(UTC)})

        for h in self.households:
            if h.house is None:
                continue
            if h.tenure == "own":
                owner = max((p for p in h.members if self.age(p) >= 18), key=self.age)
                relation(owner, h.house, "产权", h.moved_in)
            if h.landlord is not None:
                relation(h.landlord, h.house, "产权", h.moved_in - timedelta(days=self.rng.randint(400, 6000)))
            for p in h.members:
                if p.lives:
                    relation(p, h.house, "居住" if h.tenure == "own" else "租住", h.moved_in)
            if h.previous is not None:
                start = h.moved_in - timedelta(days=self.rng.randint(300, 900))
                end = h.moved_in - timedelta(days=self.rng.randint(1, 20))
                for p in h.members:
                    if p.lives and p.birth < end:
                        relation(p, h.previous, "租住", start, end)
        for start in range(0, len(rows), 5000):
            self.db.execute(insert(Residence), rows[start:start + 5000])
        self.counts["residence"] = len(rows)

    # --- tags ---

    def principal(self, grid_code: str) -> Principal:
        if grid_code not in self._principals:
            self._principals[grid_code] = principal_of(self.workers[grid_code])
        return self._principals[grid_code]

    def _phone(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10 ** 8):08d}"

    def _since(self, years: float = 5) -> date:
        return self.today - timedelta(days=self.rng.randint(30, int(365 * years)))

    def choose_tags(self) -> list[Scheduled]:
        r, out = self.rng, []
        residents = [p for p in self.people if p.lives]
        for h in self.households:
            old = [p for p in h.members if p.lives and self.age(p) >= 60]
            living = [p for p in h.members if p.lives]
            if h.shape in ("single_elder", "elder_couple") and len(old) == len(living):
                child = old[0].name[0] + self._given()
                code = "living_alone" if len(living) == 1 else "empty_nest"
                for p in old:
                    if code == "living_alone":
                        details = {"emergency_contact": child, "emergency_phone": self._phone()}
                    else:  # not every empty-nest record names the children
                        details = {"children_contact": child, "children_phone": self._phone()} \
                            if r.random() < 0.85 else {}
                    out.append(Scheduled(p, code, self._since(), details))
                if code == "living_alone" and h.grid.village and r.random() < 0.25:
                    out.append(Scheduled(old[0], "five_guarantees", self._since(10), {"note": "分散供养"}))
            if h.shape == "left_behind":
                away = [p for p in h.members if not p.lives]
                carers = [p for p in living if self.age(p) >= 18]
                contact = away[0]
                for p in living:
                    if self.age(p) < 16:
                        out.append(Scheduled(p, "left_behind_child", self._since(3), {
                            "guardian": carers[0].name if carers else contact.name,
                            "guardian_phone": (carers[0].phone if carers else "") or contact.phone or self._phone(),
                            "parents_work_place": contact.address}))
                    elif self.age(p) >= 60:
                        out.append(Scheduled(p, "left_behind_elderly", self._since(3), {
                            "children_work_place": contact.address, "children_phone": contact.phone or self._phone()}))
        by_age = lambda p: 1 + self.age(p) / 25  # noqa: E731 - disability and hardship grow with age
        for p in self._pick(residents, 0.025, by_age):
            kind = r.choices(("视力", "听力", "言语", "肢体", "智力", "精神", "多重"), (14, 24, 2, 30, 7, 7, 16))[0]
            grade = r.choices(("一级", "二级", "三级", "四级"), (8, 17, 30, 45))[0]
            out.append(Scheduled(p, "disabled", self._since(15), {"disability_type": kind, "disability_grade": grade}))
        public = {id(p) for h in self.households if h.tenure == "public" for p in h.members}
        for p in self._pick(residents, 0.02, lambda p: by_age(p) * (4 if id(p) in public else 1)):
            out.append(Scheduled(p, "subsistence", self._since(6), {
                "certificate_no": f"LSDB{self.today.year - r.randint(0, 5)}{r.randrange(10000):04d}",
                "monthly_amount": r.choice((420, 480, 550, 600, 650, 720))}))
        out += self._rare(residents)
        return out

    def _pick(self, people: list[Person], share: float, weight, least: int = 1) -> list[Person]:
        """`share` of `people` (at least `least`), drawn without replacement by weight."""
        n = min(len(people), max(least, round(len(self.people) * share)))
        keys = sorted(((self.rng.random() ** (1 / weight(p)), i) for i, p in enumerate(people)), reverse=True)
        return [people[i] for _, i in keys[:n]]

    def _rare(self, residents: list[Person]) -> list[Scheduled]:
        r, out = self.rng, []
        adults = [p for p in residents if 18 <= self.age(p) <= 60]
        male = lambda p: 6 if p.gender == "M" else 1  # noqa: E731
        one = lambda p: 1  # noqa: E731
        for p in self._pick(adults, RARE["community_correction"], male):
            months = r.choice((6, 8, 10, 12, 18, 24, 36))
            start = self.today - timedelta(days=r.randint(20, months * 30 - 10))
            out.append(Scheduled(p, "community_correction", start, {
                "term": f"{months // 12}年{months % 12}个月" if months % 12 and months > 12 else
                        f"{months // 12}年" if months >= 12 else f"{months}个月",
                "start_date": start.isoformat(), "end_date": (start + timedelta(days=months * 30)).isoformat(),
                "offence": r.choice(("危险驾驶罪", "盗窃罪", "交通肇事罪", "诈骗罪", "故意伤害罪", "开设赌场罪")),
                "supervisor": self.names.next()}))
        for p in self._pick(adults, RARE["released_prisoner"], male):
            released = self.today - timedelta(days=r.randint(60, 5 * 365))
            out.append(Scheduled(p, "released_prisoner", released, {
                "release_date": released.isoformat(), "offence": r.choice(("盗窃罪", "抢劫罪", "故意伤害罪", "诈骗罪")),
                "placement": r.choice(("已就业", "灵活就业", "务农", "待安置"))}))
        for p in self._pick(adults, RARE["mental_disorder"], one):
            guardian = next((m for m in p.household.members if m is not p and m.lives and self.age(m) >= 18), None)
            out.append(Scheduled(p, "mental_disorder", self._since(8), {
                "guardian": guardian.name if guardian else p.name[0] + self._given(),
                "guardian_phone": (guardian.phone if guardian else "") or self._phone(),
                "danger_level": r.choices((0, 1, 2, 3, 4, 5), (55, 25, 12, 6, 1.5, 0.5))[0],
                "diagnosis": r.choice(("精神分裂症", "双相情感障碍", "偏执性精神病", "分裂情感性障碍",
                                       "癫痫所致精神障碍"))}))
        for p in self._pick([p for p in adults if self.age(p) <= 55], RARE["drug_user"], male):
            start = self._since(4)
            out.append(Scheduled(p, "drug_user", start, {
                "status": r.choices(("社区戒毒", "社区康复", "戒断三年未复吸"), (3, 4, 3))[0],
                "start_date": start.isoformat()}))
        for p in self._pick([p for p in residents if self.age(p) >= 35], RARE["key_petitioner"], one):
            out.append(Scheduled(p, "key_petitioner", self._since(3), {
                "matter": r.choice(("房屋征收补偿", "劳资纠纷欠薪", "物业服务纠纷", "医疗纠纷", "征地补偿")),
                "risk_level": r.choices(("低", "中", "高"), (5, 4, 1))[0]}))
        for p in self._pick([p for p in residents if 12 <= self.age(p) <= 25], RARE["key_youth"], male):
            parent = next((m for m in p.household.members if self.age(m) - self.age(p) >= 18), None)
            out.append(Scheduled(p, "key_youth", self._since(2), {
                "category": r.choice(("闲散青少年", "不良行为青少年", "服刑人员未成年子女")),
                "guardian": parent.name if parent else ""}))
        for p in self._pick([p for p in residents if self.age(p) >= 75], RARE["missing_prone"], one):
            out.append(Scheduled(p, "missing_prone", self._since(3), {
                "condition": r.choice(("阿尔茨海默病，记忆力差", "老年认知障碍，曾走失一次",
                                       "血管性痴呆，外出易迷路"))}))
        for p in self._pick([p for p in residents if self.age(p) >= 40], RARE["entitled"], male):
            note = r.choice(("退役军人", "伤残军人", "烈士遗属"))
            out.append(Scheduled(p, "entitled", self._since(20), {"note": note}))
        return out

    def write_tags(self, chosen: list[Scheduled]) -> None:
        sources = {"disabled": "区残联残疾人名册", "subsistence": "区民政局低保名册",
                   "five_guarantees": "区民政局特困供养名册",
                   "community_correction": "司法所移交", "released_prisoner": "司法所安置帮教名册",
                   "mental_disorder": "区卫健局严重精神障碍患者名册", "drug_user": "公安禁毒部门通报",
                   "entitled": "区退役军人事务局名册"}
        dated, made = [], []
        seen: set[tuple[int, str]] = set()
        for n, s in enumerate(chosen, start=1):
            if (s.person.rid, s.code) in seen:
                continue
            seen.add((s.person.rid, s.code))
            source = sources.get(s.code)
            tag = add_tag(self.db, self.ctx, self.principal(s.person.grid_code), s.person.rid, s.code, s.details,
                          reason=f"{source}导入" if source else "网格员走访核实",
                          source="import" if source else "manual")
            tagged_at = datetime.combine(s.since, time(10), LOCAL).astimezone(UTC)
            dated.append({"tid": tag.id, "at": tagged_at})
            made.append(tag)
            if n % 500 == 0:
                self.progress(f"标签 {n}/{len(chosen)}")
        # The register is new but the groups are not: a tag dates from when the person joined the group,
        # and the visit schedule (from the tag's date until the first visit) follows from that.
        self.db.flush()
        tags, events = ResidentTag.__table__, TagEvent.__table__
        self.db.execute(update(tags).where(tags.c.id == bindparam("tid"))
                        .values(created_at=bindparam("at"), updated_at=bindparam("at")), dated)
        self.db.execute(update(events).where(events.c.resident_tag_id == bindparam("tid"))
                        .values(created_at=bindparam("at")), dated)
        for tag in made:
            self.db.expire(tag)
        self.counts["tag"] = len(dated)

    # --- visits and services ---

    def write_visits(self, chosen: list[Scheduled]) -> None:
        """A year of visits done on schedule (a day or two early or late); a few people were last
        visited longer ago than their schedule allows, so their next visit is already overdue."""
        r = self.rng
        every = dict(self.db.execute(select(TagKind.code, TagKind.visit_days).where(TagKind.active.is_(True))).all())
        workers = visits.grid_workers(self.db)
        scheduled = [s for s in chosen if every.get(s.code)]
        late = {id(s) for s in r.sample(scheduled, max(1, round(len(scheduled) * 0.025)))} if scheduled else set()
        year_ago = self.today - timedelta(days=365)
        rows = []
        for s in scheduled:
            days, p = every[s.code], s.person
            stop = self.today - timedelta(days=days + r.randint(1, 10)) if id(s) in late else self.today
            due = visits.next_due_date(max(s.since, year_ago - timedelta(days=r.randrange(days))), days)
            lon, lat = (p.household.house["building"].lon, p.household.house["building"].lat) \
                if p.household.house else self.point_in(p.household.grid)
            while True:
                day = due + timedelta(days=r.choice((-2, -1, -1, 0, 0, 0, 0, 1, 3)))
                if day >= stop:
                    break
                at = datetime.combine(day, time(r.randint(8, 17), r.randrange(60)), LOCAL).astimezone(UTC)
                finding = r.choice(FINDINGS) if r.random() < 0.3 else "情况正常"
                worker = workers.get(p.grid_code)
                rows.append({
                    "resident_id": p.rid, "tag_code": s.code, "worker_id": worker, "grid_code": p.grid_code,
                    "region_path": p.household.grid.path, "due_date": due, "status": "done", "visited_at": at,
                    "lon": round(lon + r.uniform(-5e-5, 5e-5), 7), "lat": round(lat + r.uniform(-5e-5, 5e-5), 7),
                    "place": p.address or p.household.grid.name,
                    "met": r.choices(("本人", "家属", "邻居", "未见到"), (80, 12, 3, 5))[0],
                    "findings": finding, "follow_up": "下次走访时回访" if finding != "情况正常" else "",
                    "done_by": worker, "created_at": at, "version": 1})
                due = visits.next_due_date(day, days)
        for start in range(0, len(rows), 5000):
            self.db.execute(insert(Visit), rows[start:start + 5000])
        self.counts["visit"] = len(rows)
        made = visits.generate_due_visits(self.db, self.today, self.settings.timezone)
        self.counts["visit_due"] = made.created
        self.counts["visit_overdue"] = self.db.scalar(
            select(func.count()).where(Visit.status == "due", Visit.due_date < self.today))

    def write_services(self, count: int) -> None:
        r = self.rng
        locator = GridLocator()
        by_grid: dict[str, list[Person]] = {}
        for p in self.people:
            if p.lives:
                by_grid.setdefault(p.grid_code, []).append(p)
        grids = [g for g in self.grids if g.code in self.workers]
        weights = [5 + len(by_grid.get(g.code, [])) for g in grids]
        roles = list(SERVICE_WEIGHTS)
        now = datetime.now(UTC)
        for n in range(count):
            grid = r.choices(grids, weights)[0]
            day = self.today - timedelta(days=r.randint(1, 365))
            if day.weekday() >= 5 and r.random() < 0.7:  # most services are given on working days
                day -= timedelta(days=day.weekday() - 4)
            served = datetime.combine(day, time(r.randint(8, 17), r.randrange(60)), LOCAL).astimezone(UTC)
            role = r.choices(roles, [SERVICE_WEIGHTS[k] for k in roles])[0]
            title = r.choice(SERVICES[role])
            people = by_grid.get(grid.code)
            person = r.choice(people) if people and r.random() < 0.6 else None
            lon, lat = self.point_in(grid)
            data = visits.NewService(role=role, title=title, content=f"{title}，已完成。", served_at=served,
                                     resident_id=person.rid if person else None, lon=lon, lat=lat)
            visits.create_service(self.db, self.principal(grid.code), locator, data, now=now)
            if n % 1000 == 0:
                self.progress(f"服务记录 {n}/{count}")
        self.counts["service"] = count

    def merge_civil_affairs(self, chosen: list[Scheduled]) -> None:
        """The civil-affairs bureau's list names people already on the register: they merge into one
        record each, which then lists both departments as sources."""
        seen: set[int] = set()
        people = [s.person for s in chosen if s.code in ("subsistence", "five_guarantees")
                  and not (s.person.rid in seen or seen.add(s.person.rid))]
        for start in range(0, len(people), 1000):
            upsert_residents(self.db, self.ctx, [self._checked(p) for p in people[start:start + 1000]],
                             "芦淞区民政局", None)

    def build(self, count: int) -> dict[str, int]:
        self.grid_paths = GridPaths(self.db)
        # The generator runs as the installation's operator, like `gridgov` on the command line.
        self.system = Principal(user_id=0, username="demo", display_name="演示数据", role="admin",
                                region_code="", region_path="/", department_id=None)
        self.progress("人口：生成家庭")
        self.generate(count)
        self.place()
        self.addresses()
        self.write_residents()
        self.progress("人口：房屋")
        self.write_houses()
        self.write_residences()
        self.progress("人口：标签")
        chosen = self.choose_tags()
        self.write_tags(chosen)
        self.merge_civil_affairs(chosen)
        self.progress("人口：走访")
        self.write_visits(chosen)
        self.progress("人口：服务记录")
        self.write_services(round(count * SERVICES_PER_RESIDENT))
        self.db.flush()
        return dict(self.counts)


def _shown(problems) -> str:
    return "; ".join(f"{key}: {problem.render('zh')}" for key, problem in problems.items())


def build_population(db: Session, settings: Settings, count: int, seed: int,
                     progress: Callable[[str], None] = lambda _m: None) -> dict[str, int]:
    """About `count` residents with their houses, tags, visits and services, unless the register
    already has people (then nothing: a second `gridgov demo` changes nothing)."""
    if count <= 0 or db.scalar(select(Resident.id).limit(1)) is not None:
        return {}
    return Population(db, settings, seed, progress).build(count)
