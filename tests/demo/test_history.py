"""The demo's year of cases (`gridgov.demo.history`), built through the app's own services: a
case rated 不满意 is handled again rather than left open for the rest of the year."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from gridgov.cases.models import Case, CaseEvent
from gridgov.core.db import utcnow
from gridgov.demo.history import History


def test_a_case_rated_unsatisfied_goes_round_again(app, sessions):
    with sessions() as db:
        first_new = (db.scalar(select(Case.id).order_by(Case.id.desc()).limit(1)) or 0) + 1
        outer = db.begin_nested()  # the extra history is rolled back: other tests share the database
        try:
            made = History(db, app.state.settings, seed=7, progress=lambda _m: None).build(250, days=365)
            assert made > 200
            events: dict[int, list[CaseEvent]] = {}
            for e in db.scalars(select(CaseEvent).where(CaseEvent.case_id >= first_new).order_by(CaseEvent.id)):
                events.setdefault(e.case_id, []).append(e)
            reopened = {cid: [e.action for e in evs] for cid, evs in events.items()
                        if any(e.action == "evaluate" and (e.data or {}).get("satisfaction") == "unsatisfied"
                               for e in evs)}
            assert len(reopened) >= 4
            went_again = [cid for cid, actions in reopened.items()
                          if "report_back" in actions[actions.index("evaluate"):]]
            # All of them but the few reopened in the last days (at most a couple of 250 cases).
            assert len(went_again) >= len(reopened) - 2
            # Still open a month after it came in: only what was rated 不满意 a second time.
            month_ago = utcnow() - timedelta(days=30)
            stale = db.scalars(select(Case.id).where(Case.id >= first_new, Case.created_at < month_ago,
                                                     Case.closed_at.is_(None))).all()
            assert len(stale) <= 1
        finally:
            outer.rollback()
