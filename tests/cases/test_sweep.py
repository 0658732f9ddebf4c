"""The deadline sweep (`gridgov.cases.sweep`): which cases it turns, what it writes for them
(events, the automatic 黄牌督办, notifications to the holders) and what it leaves alone, also
when two sweeps run at once.

Every test sweeps the shared demo database, so other tests' due cases may be swept too: the
assertions look only at the cases the test made.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import shapely
from sqlalchemy import select, text

from gridgov.accounts.models import User
from gridgov.cases import sweep
from gridgov.cases.clock import light_at
from gridgov.cases.holders import holders
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.sweep import sweep_lights, sweep_until_done
from gridgov.catalog.models import CatalogItem
from gridgov.core.db import utcnow
from gridgov.notify.models import OutboxMessage
from gridgov.regions.models import Region
from gridgov.workcal.calendar import clock_light

WORKER = "wg43020300200301"
GRID = "43020300200301"
LIGHT_TOPICS = ("case.light_red", "case.light_yellow")


@pytest.fixture
def make_case(client, auth, sessions):
    """A case made through the API, then set to the given columns (state, clock, light, card)."""
    with sessions() as db:
        geom = shapely.from_geojson(db.get(Region, GRID).geometry)
        code = db.scalars(select(CatalogItem.code).where(CatalogItem.handling_level == "district")
                          .order_by(CatalogItem.code)).first()
    point = shapely.Polygon(geom.exterior).buffer(-0.0004).representative_point()

    def make(**columns) -> int:
        body = {"description": f"测试事件 {uuid.uuid4().hex[:6]}：路边暴露垃圾" + "很长" * 120,
                "lon": point.x, "lat": point.y, "item_code": code}
        r = client.post("/api/v1/cases", json=body, headers=auth(WORKER))
        assert r.status_code == 201, r.text
        with sessions() as db:
            case = db.get(Case, r.json()["id"])
            for key, value in columns.items():
                setattr(case, key, value)
            db.commit()
            return case.id

    return make


def overdue(now, **columns) -> dict:
    return {"warn_at": now - timedelta(hours=1), "deadline": now - timedelta(minutes=1), **columns}


def warned(now, **columns) -> dict:
    return {"warn_at": now - timedelta(minutes=1), "deadline": now + timedelta(hours=1), "light": "green", **columns}


def light_messages(db, case_id: int) -> list[OutboxMessage]:
    return list(db.scalars(select(OutboxMessage).where(OutboxMessage.link == f"/cases/{case_id}",
                                                       OutboxMessage.topic.in_(LIGHT_TOPICS))
                           .order_by(OutboxMessage.user_id)))


def overdue_events(db, case_id: int) -> list[CaseEvent]:
    return list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.action == "overdue")))


def test_the_sweep_writes_events_cards_and_notifications_for_the_holders(make_case, sessions):
    now = utcnow()
    with sessions() as db:
        handler = db.scalar(select(User.id).where(User.role == "dept_handler").order_by(User.id))
        grid_worker = db.scalar(select(User.id).where(User.username == WORKER))
    handling = make_case(**overdue(now, state="handling", handler_id=handler, supervision=""))
    to_verify = make_case(**overdue(now, state="handled", supervision="normal"))
    red_card = make_case(**overdue(now, state="reported", supervision="red", light="yellow"))
    yellow_card = make_case(**overdue(now, state="registered", supervision="yellow"))
    turning_yellow = make_case(**warned(now, state="handling", handler_id=handler, supervision="normal"))
    green = make_case(warn_at=now + timedelta(minutes=1), deadline=now + timedelta(hours=1), light="green")
    deferred = make_case(**overdue(now, state="deferred", paused_state="handling", paused_at=now - timedelta(days=1),
                                   light="green"))
    paused_yellow = make_case(**warned(now, state="handling", handler_id=handler, paused_at=now - timedelta(hours=2)))
    mine = [handling, to_verify, red_card, yellow_card, turning_yellow, green, deferred, paused_yellow]
    with sessions() as db:
        before = {c.id: (c.version, c.updated_at) for c in db.scalars(select(Case).where(Case.id.in_(mine)))}

    with sessions() as db:
        report = sweep_lights(db, now)
        db.commit()

    red = [handling, to_verify, red_card, yellow_card]
    assert sorted(set(report.red) & set(mine)) == sorted(red)
    assert set(report.yellow) & set(mine) == {turning_yellow}
    with sessions() as db:
        cases = {c.id: c for c in db.scalars(select(Case).where(Case.id.in_(mine)))}
        expected = {handling: ("red", "yellow"), to_verify: ("red", "yellow"), red_card: ("red", "red"),
                    yellow_card: ("red", "yellow"), turning_yellow: ("yellow", "normal"), green: ("green", ""),
                    deferred: ("green", ""), paused_yellow: ("green", "")}
        assert {i: (c.light, c.supervision) for i, c in cases.items()} == expected
        for i, c in cases.items():
            assert c.version == before[i][0]  # the sweep is no action: a form open on the case stays valid
            assert (c.updated_at > before[i][1]) == (i in red + [turning_yellow]), i

        for i in red:
            carded = i in (handling, to_verify)
            [ev] = overdue_events(db, i)
            assert (ev.actor_id, ev.from_state, ev.to_state, ev.created_at) == (None, cases[i].state, cases[i].state,
                                                                                 now)
            assert ev.comment == ("已超时（红灯），自动黄牌督办" if carded else "已超时（红灯）")
            assert ev.data == {"light": "red", "auto_supervision": carded}
        for i in (turning_yellow, green, deferred, paused_yellow):
            assert overdue_events(db, i) == []

        who = holders(db, [cases[i] for i in red + [turning_yellow]])
        assert who[handling] == who[turning_yellow] == [handler]
        assert grid_worker in who[to_verify]
        assert who[red_card] and who[yellow_card]  # the district's dispatchers
        for i in red + [turning_yellow]:
            c = cases[i]
            messages = light_messages(db, i)
            assert [m.user_id for m in messages] == sorted(who[i])
            word = "即将超时（已用 80% 时限）" if i == turning_yellow else "已超时"
            for m in messages:
                assert (m.topic, m.channel, m.title, m.body, m.status, m.attempts, m.last_error) == (
                    f"case.light_{c.light}", "inbox", f"事件 {c.number} {word}", c.description[:200], "pending", 0, "")
                assert m.payload == {"case_id": i, "number": c.number, "state": c.state}
                assert m.next_attempt_at == m.created_at == now and m.sent_at is None
        for i in (green, deferred, paused_yellow):
            assert light_messages(db, i) == []

    with sessions() as db:
        again = sweep_lights(db, now)
        db.commit()
    assert not set(again.red + again.yellow) & set(mine)
    with sessions() as db:
        assert [len(overdue_events(db, i)) for i in red] == [1, 1, 1, 1]
        assert sum(len(light_messages(db, i)) for i in red + [turning_yellow]) == sum(
            len(who[i]) for i in red + [turning_yellow])


def test_a_yellow_case_going_red_gets_its_red_event_and_notification(make_case, sessions):
    now = utcnow()
    case_id = make_case(**warned(now, state="reported", deadline=now + timedelta(minutes=1)))
    with sessions() as db:
        assert case_id in sweep_lights(db, now).yellow
        db.commit()
    later = now + timedelta(minutes=2)  # not much later: every case due by then is swept too
    with sessions() as db:
        assert case_id in sweep_until_done(sessions, later).red
        case = db.get(Case, case_id)
        assert (case.light, case.supervision) == ("red", "yellow")
        assert [e.data["auto_supervision"] for e in overdue_events(db, case_id)] == [True]
        assert sorted({m.topic for m in light_messages(db, case_id)}) == ["case.light_red", "case.light_yellow"]


def test_at_its_deadline_a_case_is_still_yellow_and_red_only_past_it(make_case, sessions):
    # DESIGN §4: red *past* 100 % — the same boundary as the calendar page's clock_light.
    now = utcnow()
    case_id = make_case(**warned(now, state="reported", deadline=now))
    with sessions() as db:
        report = sweep_lights(db, now)
        assert case_id in report.yellow and case_id not in report.red
        case = db.get(Case, case_id)
        assert (case.light, light_at(case, now), light_at(case, now + timedelta(microseconds=1))) == (
            "yellow", "yellow", "red")
        db.commit()
    assert clock_light(60, 60) == "yellow" and clock_light(61, 60) == "red"


def test_cases_already_in_the_session_show_the_new_light(make_case, sessions):
    now = utcnow()
    red, yellow = make_case(**overdue(now, state="reported")), make_case(**warned(now, state="reported"))
    with sessions() as db:
        loaded = {i: db.get(Case, i) for i in (red, yellow)}
        assert [loaded[i].light for i in (red, yellow)] == ["green", "green"]
        sweep_lights(db, now)
        assert (loaded[red].light, loaded[red].supervision) == ("red", "yellow")
        assert loaded[yellow].light == "yellow"
        db.commit()


def test_two_sweeps_at_once_share_the_work(make_case, sessions, backend):
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: a second sweep waits for the first instead of running with it")
    now = utcnow()
    sweep_until_done(sessions, now)  # whatever else is due, so that the claims below are of these cases only
    mine = [make_case(**overdue(now, state="reported")) for _ in range(3)]
    mine += [make_case(**warned(now, state="reported")) for _ in range(3)]
    first, second = sessions(), sessions()
    try:
        # Were the claims to wait for each other's locks, the second sweep fails instead of hanging.
        second.execute(text("SET LOCAL lock_timeout = '5s'"))
        a = sweep_lights(first, now, limit=2)  # claims two red and two yellow and holds them
        b = sweep_lights(second, now)  # skips those, takes the rest
        assert len(a.red) == len(a.yellow) == 2 and len(b.red) == len(b.yellow) == 1
        assert sorted(a.red + a.yellow + b.red + b.yellow) == sorted(mine)
        second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    with sessions() as db:
        assert not set(sweep_lights(db, now).red) & set(mine)
        db.commit()
        assert [len(overdue_events(db, i)) for i in mine] == [1, 1, 1, 0, 0, 0]
        cases = list(db.scalars(select(Case).where(Case.id.in_(mine)).order_by(Case.id)))
        who = holders(db, cases)
        assert [len(light_messages(db, c.id)) for c in cases] == [len(who[c.id]) for c in cases]
        assert all(who[c.id] for c in cases)


def test_a_sweep_whose_cases_changed_after_its_claim_writes_nothing_for_them(make_case, sessions, monkeypatch):
    """On SQLite a claim locks nothing: between a sweep's claim and its updates another sweep (the
    in-process worker beside `gridgov worker`) may turn the same cases, or a user may defer one.
    The updates then find them no longer due, and nothing is written twice. (On PostgreSQL the
    claim holds the rows, and the second sweep skips them.)"""
    now = utcnow()
    sweep_until_done(sessions, now)
    mine = [make_case(**overdue(now, state="reported")), make_case(**warned(now, state="reported"))]
    deferred = make_case(**overdue(now, state="reported"))
    claim = sweep._claim
    meanwhile = []

    def claim_then_others_act(db, *args):
        ids = claim(db, *args)
        if not meanwhile:
            meanwhile.append(True)
            with sessions() as other:
                if other.bind.dialect.name == "sqlite":  # (PostgreSQL: the claim holds the row)
                    other.get(Case, deferred).paused_at = now
                    other.commit()
                sweep_lights(other, now)  # on SQLite it turns the same cases; on PostgreSQL it skips them
                other.commit()
        return ids

    monkeypatch.setattr(sweep, "_claim", claim_then_others_act)
    with sessions() as db:
        sweep_lights(db, now)
        db.commit()
    monkeypatch.undo()
    with sessions() as db:
        assert [len(overdue_events(db, i)) for i in mine] == [1, 0]
        cases = list(db.scalars(select(Case).where(Case.id.in_(mine)).order_by(Case.id)))
        assert [c.light for c in cases] == ["red", "yellow"]
        who = holders(db, cases)
        assert [len(light_messages(db, c.id)) for c in cases] == [len(who[c.id]) for c in cases]
        if db.bind.dialect.name == "sqlite":
            assert db.get(Case, deferred).light == "green" and overdue_events(db, deferred) == []
