"""`core.db.write_new`: one Core INSERT for a new object, which the session then holds as loaded."""

from __future__ import annotations

from sqlalchemy import event, select

from gridgov.cases.models import Case, CaseEvent
from gridgov.core.db import write_new


class Statements:
    """The first word of each statement the engine runs while in the `with` block."""

    def __init__(self, engine) -> None:
        self.engine, self.seen = engine, []

    def _record(self, conn, cursor, statement, *_args) -> None:
        self.seen.append(statement.split()[0])

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.seen

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_a_new_object_is_written_once_and_held_as_loaded(app, sessions):
    engine = app.state.engine
    with sessions() as db:
        case_id = db.scalar(select(Case.id).order_by(Case.id))
        with Statements(engine) as seen:
            ev = CaseEvent(case_id=case_id, action="report", to_state="reported")
            write_new(db, ev)
            assert seen == ["INSERT"]
            # Unset columns took their defaults, the key came back: reading them asks nothing.
            assert ev.id and ev.comment == "" and ev.data == {} and ev.created_at is not None
            assert ev.from_state == "" and ev.actor_id is None
            assert seen == ["INSERT"]
            assert db.get(CaseEvent, ev.id) is ev  # in the identity map, as persistent
            ev.comment = "改过"
            db.flush()  # an ordinary UPDATE of a persistent object
            assert seen == ["INSERT", "UPDATE"]
        db.commit()
    with sessions() as db:
        again = db.get(CaseEvent, ev.id)
        assert (again.case_id, again.action, again.comment, again.data) == (case_id, "report", "改过", {})
        db.delete(again)
        db.commit()


def test_a_given_key_is_written_as_given(app, sessions):
    with sessions() as db:
        case_id = db.scalar(select(Case.id).order_by(Case.id))
        taken = db.scalar(select(CaseEvent.id).order_by(CaseEvent.id.desc()))
        ev = CaseEvent(id=taken + 1000, case_id=case_id, action="report", to_state="reported")
        write_new(db, ev)
        assert db.scalar(select(CaseEvent.action).where(CaseEvent.id == taken + 1000)) == "report"
        db.rollback()
        assert db.scalar(select(CaseEvent.id).where(CaseEvent.id == taken + 1000)) is None
