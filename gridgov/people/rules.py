"""Rule-based tagging: the register proposes, a person confirms (see tagging.decide_proposal).

Each rule is one SQL query over the register, so the nightly run costs the same whether it looks
at one imported batch or the whole district.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from gridgov.people import tagging
from gridgov.people.models import Residence, Resident

ELDERLY_AGE = 60


def _years_before(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _living(today: date):
    return (Residence.relation.in_(("居住", "租住")),
            or_(Residence.end_date.is_(None), Residence.end_date >= today),
            or_(Residence.start_date.is_(None), Residence.start_date <= today))


def _households(today: date, people: list[int] | None):
    """Per house: how many live there now, and the youngest one's birth date (only the houses of
    `people` when given, so a batch does not aggregate the whole register)."""
    stmt = (select(Residence.house_id, func.count(func.distinct(Residence.resident_id)).label("n"),
                   func.max(Resident.birth_date).label("youngest"))
            .join(Resident, Resident.id == Residence.resident_id).where(*_living(today)))
    if people is not None:
        stmt = stmt.where(Residence.house_id.in_(select(Residence.house_id).where(Residence.resident_id.in_(people))))
    return stmt.group_by(Residence.house_id).subquery()


def _elderly_in(today: date, household_ok, people: list[int] | None = None) -> Select:
    households = _households(today, people)
    cutoff = _years_before(today, ELDERLY_AGE)
    return (select(Resident.id).distinct()
            .join(Residence, Residence.resident_id == Resident.id)
            .join(households, households.c.house_id == Residence.house_id)
            .where(*_living(today), Resident.birth_date <= cutoff, household_ok(households, cutoff),
                   *([Resident.id.in_(people)] if people is not None else [])))


@dataclass(frozen=True)
class Rule:
    name: str
    tag: str
    reason: str  # why the register proposes it, as the confirming person reads it
    query: Callable[[date, list[int] | None], Select]


RULES = [
    Rule("living_alone", "living_alone", f"年满 {ELDERLY_AGE} 岁且是其住房的唯一居住人",
         lambda today, people: _elderly_in(today, lambda h, _cutoff: h.c.n == 1, people)),
    Rule("empty_nest", "empty_nest", f"年满 {ELDERLY_AGE} 岁且同住的人都已年满 {ELDERLY_AGE} 岁",
         lambda today, people: _elderly_in(today, lambda h, cutoff: (h.c.n >= 2) & (h.c.youngest <= cutoff),
                                           people)),
]


def run_rules(db: Session, resident_ids: list[int] | None = None, today: date | None = None) -> dict[str, int]:
    """Proposes each rule's tag for the people it matches (all, or only `resident_ids`);
    returns how many proposals each rule made."""
    today = today or date.today()
    made: dict[str, int] = {}
    for rule in RULES:
        if resident_ids is not None:
            ids: list[int] = []
            for start in range(0, len(resident_ids), 500):
                ids += db.scalars(rule.query(today, resident_ids[start:start + 500])).all()
        else:
            ids = list(db.scalars(rule.query(today, None)))
        made[rule.name] = tagging.propose(db, sorted(ids), rule.tag, rule.name, rule.reason)
    return made
