"""The calendar API and the admin page through the real app (SQLite and PostgreSQL).

The demo database is shared by the session, so these tests only touch far-off years (2093–2095)
and clear them before and after."""

from __future__ import annotations

import re

import pytest

from gridgov.accounts.roles import ROLES
from gridgov.workcal import service
from gridgov.workcal.views import PERMISSION
from tests.web.test_pages import PAGE_HEADERS, login

YEARS = (2093, 2094, 2095)
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def api(app, client, sessions, monkeypatch):
    """The app, with the test years cleared before and after."""
    assert PERMISSION in ROLES["admin"].permissions

    def clear() -> None:
        with sessions() as db:
            for year in YEARS:
                service.clear_year(db, year)
            db.commit()

    clear()
    yield client
    clear()


ENTRY_2093 = {"holidays": [{"date": "2093-02-04", "until": "2093-02-10", "name": "春节"}],
              "workdays": [{"date": "2093-02-14", "name": "春节调休"}], "note": "国办发明电〔2092〕1号"}


# --- API ---

def test_reading_a_year_needs_a_login_and_says_when_it_falls_back(api, auth):
    assert api.get("/api/v1/calendar/2095").status_code == 401
    r = api.get("/api/v1/calendar/2095", headers=auth("wg43020300100101"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["year"], body["source"], body["fallback"], body["days"]) == (2095, "none", True, [])
    assert body["known_by_package"] is False
    assert api.get("/api/v1/calendar/1900", headers=auth("admin")).status_code == 422


def test_only_admins_enter_a_year(api, auth):
    r = api.put("/api/v1/calendar/2093", json=ENTRY_2093, headers=auth("dispatcher"))
    assert r.status_code == 403
    assert api.get("/api/v1/calendar/2093", headers=auth("dispatcher")).json()["fallback"] is True
    r = api.put("/api/v1/calendar/2093", json=ENTRY_2093, headers=auth("admin"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["source"], body["fallback"], body["holidays"], body["workdays"]) == ("admin", False, 5, 1)
    assert body["updated_by"] == "admin" and body["note"] == ENTRY_2093["note"]
    days = {d["date"]: (d["kind"], d["name"], d["weekday"]) for d in body["days"]}
    assert days == {"2093-02-04": ("holiday", "春节", 3), "2093-02-05": ("holiday", "春节", 4),
                    "2093-02-06": ("holiday", "春节", 5), "2093-02-09": ("holiday", "春节", 1),
                    "2093-02-10": ("holiday", "春节", 2), "2093-02-14": ("workday", "春节调休", 6)}
    again = api.get("/api/v1/calendar/2093", headers=auth("wg43020300100101")).json()
    assert again["days"] == body["days"] and again["source"] == "admin"
    # A PUT replaces the year.
    r = api.put("/api/v1/calendar/2093", json={"holidays": [{"date": "2093-10-01", "name": "国庆节"}]},
                headers=auth("admin"))
    assert [d["date"] for d in r.json()["days"]] == ["2093-10-01"]


@pytest.mark.parametrize(("entry", "field", "text"), [
    ({"holidays": [{"date": "2093-02-07"}]}, "holidays", "2093-02-07 是周末"),
    ({"workdays": [{"date": "2093-02-09"}]}, "workdays", "2093-02-09 是周一至周五"),
    ({"holidays": [{"date": "2094-02-09"}]}, "holidays", "2094-02-09 不在 2093 年内"),
    ({"holidays": [{"date": "2093-02-10", "until": "2093-02-09"}]}, "holidays", "日期范围不正确"),
    ({"holidays": [{"date": "2093-02-31"}]}, "holidays.0.date", ""),
])
def test_nonsense_entries_are_refused_with_the_reason(api, auth, entry, field, text):
    r = api.put("/api/v1/calendar/2093", json=entry, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert text in r.json()["error"]["fields"][field]
    assert api.get("/api/v1/calendar/2093", headers=auth("admin")).json()["fallback"] is True


def test_errors_read_in_english_too(api, auth):
    r = api.put("/api/v1/calendar/2093", json={"holidays": [{"date": "2093-02-07"}]},
                headers={**auth("admin"), "Accept-Language": "en"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["holidays"] == (
        "2093-02-07 is a weekend day, already a day off: only weekdays off are entered as holidays")


def test_deadline_uses_the_entered_year_and_reports_fallback_years(api, auth):
    api.put("/api/v1/calendar/2093", json=ENTRY_2093, headers=auth("admin"))
    who = auth("wg43020300100101")
    r = api.get("/api/v1/calendar/deadline", params={"start": "2093-02-03T17:00:00+08:00", "amount": 1,
                                                     "unit": "work_days"}, headers=who)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deadline"] == "2093-02-11T09:00:00Z"  # 1 h on the 3rd, holiday to the 10th, 7 h on the 11th
    assert body["deadline_local"] == "2093-02-11T17:00:00+08:00"
    assert (body["fallback_years"], body["unit_label"], body["timezone"]) == ([], "工作日", "Asia/Shanghai")
    # A make-up Saturday is a working day.
    r = api.get("/api/v1/calendar/deadline", params={"start": "2093-02-13T17:00", "amount": 2,
                                                     "unit": "work_hours"}, headers=who)
    assert r.json()["deadline_local"] == "2093-02-14T09:00:00+08:00"  # naive start: read in Asia/Shanghai
    # No data for 2095: Monday–Friday, and it says so.
    r = api.get("/api/v1/calendar/deadline", params={"start": "2095-02-03T17:00:00+08:00", "amount": 1,
                                                     "unit": "work_days"}, headers=who)
    assert r.json()["deadline_local"] == "2095-02-04T17:00:00+08:00"
    assert r.json()["fallback_years"] == [2095]
    r = api.get("/api/v1/calendar/deadline", params={"start": "2095-02-03T17:00:00+08:00", "amount": 1,
                                                     "unit": "calendar_days"}, headers=who)
    assert r.json()["deadline_local"] == "2095-02-04T17:00:00+08:00" and r.json()["fallback_years"] == []


def test_deadline_with_a_time_gives_the_light(api, auth):
    who = auth("wg43020300100101")
    base = {"start": "2095-02-07T08:00:00+08:00", "amount": 10, "unit": "work_hours"}
    lights = {}
    for at, hours in [("2095-02-07T15:00:00+08:00", 5), ("2095-02-08T09:00:00+08:00", 9),
                      ("2095-02-08T11:00:00+08:00", 11)]:
        body = api.get("/api/v1/calendar/deadline", params={**base, "at": at}, headers=who).json()
        assert body["elapsed"] == hours
        lights[hours] = (body["fraction"], body["light"])
    assert lights == {5: (0.5, "green"), 9: (0.9, "yellow"), 11: (1.1, "red")}


@pytest.mark.parametrize("params", [
    {"start": "2093-02-03T17:00:00+08:00", "amount": 1, "unit": "fortnights"},
    {"start": "2093-02-03T17:00:00+08:00", "amount": -1, "unit": "work_days"},
    {"start": "yesterday", "amount": 1, "unit": "work_days"},
    {"start": "2199-12-01T09:00:00+08:00", "amount": 90000, "unit": "work_days"},
])
def test_bad_deadline_questions_are_refused(api, auth, params):
    r = api.get("/api/v1/calendar/deadline", params=params, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"


# --- the page ---

def csrf(html: str) -> str:
    return CSRF.search(html).group(1)


def test_the_page_warns_when_a_year_falls_back_and_an_admin_fills_it_in(api):
    login(api, "admin")
    page = api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS)
    assert page.status_code == 200
    assert 'data-testid="fallback-banner"' in page.text and "2095 年没有节假日安排数据" in page.text
    assert 'data-testid="day-form"' in page.text
    token = csrf(page.text)

    def post(**form):
        return api.post("/admin/calendar/2095", data={"csrf_token": token, **form}, headers=PAGE_HEADERS,
                        follow_redirects=False)

    r = post(action="add", kind="holiday", date="2095-02-07", until="2095-02-11", name="春节")
    assert r.status_code == 303 and r.headers["location"] == "/admin/calendar?year=2095&saved=1"
    page = api.get("/admin/calendar?year=2095&saved=1", headers=PAGE_HEADERS)
    assert "fallback-banner" not in page.text and "已保存" in page.text
    assert re.findall(r'data-day="([\d-]+)" data-kind="holiday"', page.text) == [
        "2095-02-07", "2095-02-08", "2095-02-09", "2095-02-10", "2095-02-11"]
    assert 'data-source="admin"' in page.text
    assert post(action="add", kind="workday", date="2095-02-12", name="春节调休").status_code == 303
    assert post(action="remove", day="2095-02-09").status_code == 303
    with api.app.state.sessions() as db:
        status = service.year_status(db, 2095)
    assert [(d.day.isoformat(), d.kind) for d in status.days] == [
        ("2095-02-07", "holiday"), ("2095-02-08", "holiday"), ("2095-02-10", "holiday"), ("2095-02-11", "holiday"),
        ("2095-02-12", "workday")]
    assert status.updated_by == "admin"
    # A Saturday "holiday" is refused, naming the day; nothing changes.
    r = post(action="add", kind="holiday", date="2095-02-05", name="x")
    assert r.status_code == 422
    assert "2095-02-05 是周末" in r.text and 'data-testid="errors"' in r.text
    r = post(action="add", kind="holiday", date="not-a-date")
    assert r.status_code == 422 and "日期格式不正确" in r.text
    # Clearing the year brings the warning back; confirming an empty year removes it.
    assert post(action="clear").status_code == 303
    assert "fallback-banner" in api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS).text
    assert post(action="confirm").status_code == 303
    page = api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS)
    assert "fallback-banner" not in page.text and 'data-source="admin"' in page.text


def test_the_page_form_needs_the_csrf_token(api):
    login(api, "admin")
    r = api.post("/admin/calendar/2095", data={"action": "confirm"}, headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 403
    with api.app.state.sessions() as db:
        assert service.year_status(db, 2095).fallback


def test_staff_see_the_calendar_but_cannot_change_it(api):
    assert api.get("/admin/calendar", headers=PAGE_HEADERS, follow_redirects=False).status_code == 303
    login(api, "wg43020300100101")
    page = api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS)
    assert page.status_code == 200 and "fallback-banner" in page.text
    assert "day-form" not in page.text and "clear-year" not in page.text
    r = api.post("/admin/calendar/2095", data={"csrf_token": csrf(page.text), "action": "confirm"},
                 headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 403
    with api.app.state.sessions() as db:
        assert service.year_status(db, 2095).fallback


def test_the_page_computes_a_deadline_and_reads_in_english(api):
    login(api, "admin")
    page = api.get("/admin/calendar", params={"year": 2095, "start": "2095-02-03T17:00", "amount": "1",
                                              "unit": "work_days"}, headers=PAGE_HEADERS)
    assert page.status_code == 200
    assert re.search(r'data-testid="deadline-result">[^<]*<strong>2095-02-04 17:00</strong>', page.text)
    assert 'data-testid="deadline-fallback"' in page.text
    bad = api.get("/admin/calendar", params={"year": 2095, "start": "x", "amount": "1", "unit": "work_days"},
                  headers=PAGE_HEADERS)
    assert bad.status_code == 200 and "请填写开始时间" in bad.text
    english = api.get("/admin/calendar?year=2095&lang=en", headers=PAGE_HEADERS)
    assert "No holiday schedule for 2095" in english.text
    assert "Working calendar" in english.text


def test_every_string_on_the_page_has_an_english_entry():
    from pathlib import Path

    from gridgov.core.i18n import EN
    from gridgov.workcal.calendar import UNITS

    template = (Path(service.__file__).parents[1] / "web/templates/workcal/calendar.html").read_text(encoding="utf-8")
    texts = set(re.findall(r'_\(\s*["\']([^"\']+)["\']', template))
    texts |= set(service.SOURCE_LABELS.values()) | set(service.KIND_LABELS.values()) | set(service.WEEKDAYS)
    texts |= set(UNITS.values())
    assert texts and not sorted(t for t in texts if t not in EN)


def test_editing_a_year_on_the_page_keeps_the_note_entered_with_it(api, auth):
    # The page's forms carry no note: adding or removing one day must not erase the notice number
    # an admin entered with the year through the API or the CLI.
    assert api.put("/api/v1/calendar/2093", json=ENTRY_2093, headers=auth("admin")).status_code == 200
    login(api, "admin")
    token = csrf(api.get("/admin/calendar?year=2093", headers=PAGE_HEADERS).text)
    for form in ({"action": "add", "kind": "holiday", "date": "2093-10-01", "name": "国庆节"},
                 {"action": "remove", "day": "2093-02-09"}, {"action": "confirm"}):
        r = api.post("/admin/calendar/2093", data={"csrf_token": token, **form}, headers=PAGE_HEADERS,
                     follow_redirects=False)
        assert r.status_code == 303, r.text
        with api.app.state.sessions() as db:
            assert service.year_status(db, 2093).note == ENTRY_2093["note"], form


def test_the_fallback_of_the_elapsed_time_is_said_too(api, auth):
    # The deadline falls in 2093, which has data; the time elapsed up to `at` runs into 2094, which
    # has none and was counted Monday–Friday: the answer must say so.
    api.put("/api/v1/calendar/2093", json=ENTRY_2093, headers=auth("admin"))
    r = api.get("/api/v1/calendar/deadline", params={"start": "2093-12-30T09:00:00+08:00", "amount": 1,
                                                     "unit": "work_days", "at": "2094-01-05T09:00:00+08:00"},
                headers=auth("wg43020300100101"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deadline_local"] == "2093-12-31T09:00:00+08:00" and body["light"] == "red"
    assert body["fallback_years"] == [2094]


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "1960-01-04T09:00:00+08:00", "amount": 1, "unit": "work_days"}, "start"),
    ({"start": "2093-01-05T09:00:00+08:00", "amount": 1, "unit": "work_days", "at": "2250-01-01T09:00:00"}, "at"),
    ({"start": "2199-12-01T09:00:00+08:00", "amount": 90000, "unit": "work_days"}, "amount"),
])
def test_a_deadline_question_out_of_range_names_the_field_at_fault(api, auth, params, field):
    r = api.get("/api/v1/calendar/deadline", params=params, headers=auth("admin"))
    assert r.status_code == 422, r.text
    assert list(r.json()["error"]["fields"]) == [field]
    assert "1970–2199" in r.json()["error"]["fields"][field]


def version(api) -> tuple[int, str]:
    with api.app.state.sessions() as db:
        return service.calendar_version(db)


def test_removing_a_day_the_year_does_not_list_is_refused_and_changes_nothing(api):
    # A stale page (another admin removed the day) or another year's day: it used to be "saved",
    # recording a year without data as a confirmed plain Monday–Friday and hiding the warning.
    login(api, "admin")
    token = csrf(api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS).text)
    before = version(api)
    for year, day in ((2095, "2095-05-01"), (2095, "2094-10-01")):
        r = api.post(f"/admin/calendar/{year}", data={"csrf_token": token, "action": "remove", "day": day},
                     headers=PAGE_HEADERS, follow_redirects=False)
        assert r.status_code == 422
        assert f"{day} 不是 2095 年登记的放假日或调休上班日" in r.text and 'data-testid="fallback-banner"' in r.text
    with api.app.state.sessions() as db:
        assert service.year_status(db, 2095).fallback
    assert version(api) == before  # running deadlines are not recounted for nothing


def test_a_holiday_range_of_weekend_days_only_is_refused_not_saved_as_an_empty_year(api, auth):
    login(api, "admin")
    token = csrf(api.get("/admin/calendar?year=2095", headers=PAGE_HEADERS).text)
    r = api.post("/admin/calendar/2095", data={"csrf_token": token, "action": "add", "kind": "holiday",
                                                "date": "2095-02-05", "until": "2095-02-06", "name": "春节"},
                 headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 422 and "2095-02-05..2095-02-06 都是周六、周日" in r.text
    r = api.put("/api/v1/calendar/2095", json={"holidays": [{"date": "2095-02-12", "until": "2095-02-13"}]},
                headers={**auth("admin"), "Accept-Language": "en"})
    assert r.status_code == 422
    assert r.json()["error"]["fields"]["holidays"] == (
        "2095-02-12..2095-02-13 are all Saturdays and Sundays, days off anyway: there is no holiday to enter")
    with api.app.state.sessions() as db:
        assert service.year_status(db, 2095).fallback


def test_every_page_edit_moves_the_calendar_version_the_recount_follows(api):
    from gridgov.cases.recount import calendar_mark

    settings = api.app.state.settings

    def mark() -> str:
        with api.app.state.sessions() as db:
            return calendar_mark(db, settings)

    login(api, "admin")
    token = csrf(api.get("/admin/calendar?year=2094", headers=PAGE_HEADERS).text)
    for form in ({"action": "add", "kind": "holiday", "date": "2094-03-03", "until": "2094-03-09", "name": "测试"},
                 {"action": "add", "kind": "workday", "date": "2094-03-07"},
                 {"action": "remove", "day": "2094-03-04"}, {"action": "clear"}, {"action": "confirm"}):
        before = mark()
        r = api.post("/admin/calendar/2094", data={"csrf_token": token, **form}, headers=PAGE_HEADERS,
                     follow_redirects=False)
        assert r.status_code == 303, r.text
        assert mark() != before, form
    with api.app.state.sessions() as db:
        status = service.year_status(db, 2094)
    assert (status.source, status.days) == ("admin", [])
