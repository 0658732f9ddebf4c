"""In Debian's chromium: a grid worker finds a resident by pinyin initials, logs a visit and turns
what they found into a case; a community admin reveals the ID number with a reason."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import select

from gridgov.cases.models import Case
from gridgov.core.audit import AuditEntry
from gridgov.regions.models import Region
from gridgov.visits.models import Visit
from tests.cases.test_browser import log_in
from tests.people.conftest import fake_id, fake_phone

pytestmark = pytest.mark.browser
GRID = "43020300500101"
WORKER, COMMUNITY = "wg" + GRID, "sq" + GRID[:12]


def test_find_by_initials_visit_and_report_a_finding(browser, live_server, client, auth, sessions):
    number = fake_id("19420815")
    r = client.post("/api/v1/residents", headers=auth(WORKER), json={
        "name": "欧阳秋菊", "id_number": number, "grid_code": GRID, "phone": fake_phone(), "address": "庆云路12号"})
    assert r.status_code == 201, r.text
    resident_id = r.json()["resident"]["id"]

    with sessions() as db:
        spot = shapely.from_geojson(db.get(Region, GRID).geometry).representative_point()
    # The phone's GPS, inside the worker's grid: the finding becomes a case at that point.
    context, page = log_in(browser, live_server, WORKER)
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"longitude": spot.x, "latitude": spot.y})
    page.click("nav.mainnav >> text=实有人口")
    page.fill("[data-testid=q]", "oyqj")
    page.keyboard.press("Enter")
    row = page.locator(f"[data-testid=results] tr[data-id='{resident_id}']")
    assert row.locator("mark").inner_text() == "欧阳秋菊"
    assert number not in page.content()
    row.locator("a").click()
    page.wait_for_url(f"{live_server}/people/{resident_id}")
    assert page.locator("[data-testid=id-number]").inner_text() == number[:4] + "*" * 10 + number[-4:]
    assert page.locator("#revealed").count() == 0  # a grid worker may not reveal

    page.click("[data-testid=log-visit]")
    # Until the page has loaded, visits.js (at its end) has not run and a click on 使用定位 does nothing.
    page.wait_for_url(f"{live_server}/visits/new?resident_id={resident_id}")
    form = page.locator("[data-testid=visit-form]")
    page.click("#gps")
    page.wait_for_function("document.getElementById('lon').value !== ''")
    form.locator("input[name=place]").fill("家中")
    form.locator("input[name=met]").fill("本人")
    form.locator("textarea[name=findings]").fill("楼道堆放大量纸箱杂物，堵塞消防通道")
    form.locator("button.primary").click()
    page.wait_for_load_state("load")
    assert "楼道堆放大量纸箱杂物" in page.locator("[data-testid=findings]").inner_text()
    page.click("[data-testid=to-case]")
    page.wait_for_url(f"{live_server}/cases/*")
    assert "楼道堆放大量纸箱杂物" in page.content()
    context.close()

    with sessions() as db:
        visit = db.scalars(select(Visit).where(Visit.resident_id == resident_id)).one()
        case = db.get(Case, visit.case_id)
        assert visit.status == "done" and case is not None and case.grid_code == GRID
        assert "楼道堆放大量纸箱杂物" in case.description


def test_community_admin_reveals_with_a_reason(browser, live_server, client, auth, sessions):
    number = fake_id("19661102")
    r = client.post("/api/v1/residents", headers=auth(WORKER), json={
        "name": "查看号码", "id_number": number, "grid_code": GRID})
    resident_id = r.json()["resident"]["id"]
    context, page = log_in(browser, live_server, COMMUNITY)
    page.goto(f"{live_server}/people/{resident_id}")
    assert number not in page.content()
    page.click("#revealed summary")
    page.fill("#revealed input[name=reason]", "办理高龄补贴核对身份")
    page.click("#revealed button")
    assert page.locator("[data-testid=revealed]").inner_text().count(number) == 1
    context.close()
    with sessions() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.object_id == str(resident_id))).one()
        assert entry.action == "reveal" and entry.reason == "办理高龄补贴核对身份"


def test_a_grid_worker_adds_a_building_and_a_home(browser, live_server, sessions):
    from gridgov.people.models import Building, House

    name = f"浏览器测试小区{fake_id()[-5:]}栋"
    context, page = log_in(browser, live_server, WORKER)
    page.goto(f"{live_server}/houses")
    page.click("[data-testid=new-building] summary")
    form = page.locator("[data-testid=new-building] form")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=address]").fill("建设中路 8 号")
    form.locator("input[name=floors]").fill("6")
    form.locator("button").click()
    page.wait_for_url(f"{live_server}/buildings/*")
    assert page.locator("h1").inner_text().startswith(name)
    form = page.locator("[data-testid=new-house] form")  # open: the building has no homes yet
    form.locator("input[name=room]").fill("")
    form.locator("button").click()  # the browser asks for the room number first
    assert page.locator("[data-testid=rooms]").count() == 0
    form.locator("input[name=unit]").fill("1")
    form.locator("input[name=room]").fill("302")
    form.locator("input[name=floor]").fill("3")
    form.locator("input[name=area_m2]").fill("86.5")
    form.locator("select[name=use]").select_option("住宅")
    form.locator("input[name=rented]").check()
    form.locator("button").click()
    page.wait_for_selector("[data-testid=rooms]")
    assert "302" in page.locator("[data-testid=rooms]").inner_text()
    form = page.locator("[data-testid=new-house] form")
    page.click("[data-testid=new-house] summary")
    form.locator("input[name=unit]").fill("1")
    form.locator("input[name=room]").fill("302")
    form.locator("button").click()
    page.wait_for_selector("[data-testid=new-house] .field-error, [data-testid=new-house] .alert")
    context.close()
    with sessions() as db:
        building = db.scalar(select(Building).where(Building.name == name))
        assert (building.grid_code, building.address, building.floors) == (GRID, "建设中路 8 号", 6)
        homes = db.scalars(select(House).where(House.building_id == building.id)).all()
        assert [(h.unit, h.room, h.floor, h.area_m2, h.use, h.rented) for h in homes] == [
            ("1", "302", 3, 86.5, "住宅", True)]


def test_an_import_on_the_page_shows_its_progress_and_the_bad_rows_to_download(browser, live_server, sessions,
                                                                                 tmp_path):
    """A community admin uploads 3 good rows and 1 with a wrong check digit, good rows only: the run's
    page follows it to the end by itself and offers the error workbook, which names the bad row and why.
    (A resent form is tests/people/test_import_resend.py's: chromium sends a double click once.)"""
    import io

    from openpyxl import load_workbook

    from gridgov.people.models import ImportRun
    from tests.people.excel_helpers import person, residents_xlsx

    good = [fake_id("19500101"), fake_id("19600202"), fake_id("19700303")]
    bad = fake_id("19800404")
    bad = bad[:-1] + ("0" if bad[-1] != "0" else "1")  # its check character no longer matches
    name = f"页面导入{fake_id()[-6:]}.xlsx"
    path = tmp_path / name
    path.write_bytes(residents_xlsx([person(n, GRID, name=f"导入{i}") for i, n in enumerate(good)]
                                    + [person(bad, GRID, name="号码错")]))

    context, page = log_in(browser, live_server, COMMUNITY)
    page.goto(f"{live_server}/people/import")
    form = page.locator("[data-testid=import-form]")
    form.locator("input[name=source]").fill("民政局")
    form.locator("input[name=mode][value=good_rows]").check()
    form.locator("input[name=file]").set_input_files(str(path))
    form.locator("button.primary").click()
    page.wait_for_url(f"{live_server}/people/import/*")
    page.wait_for_selector("[data-testid=import-progress][data-status=done]", timeout=30000)
    assert page.locator("[data-testid=imported]").inner_text() == "3"
    assert page.locator("[data-testid=bad]").inner_text() == "1"
    with page.expect_download() as download:
        page.click("[data-testid=error-download]")
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes()))["错误明细"]
    reasons = [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert len(reasons) == 1 and "校验" in reasons[0]
    context.close()
    with sessions() as db:
        runs = db.scalars(select(ImportRun).where(ImportRun.filename == name)).all()
        assert [(r.source, r.mode, r.imported_rows) for r in runs] == [("民政局", "good_rows", 3)]
