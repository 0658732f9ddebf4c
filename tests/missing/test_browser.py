"""In Debian's chromium: a grid worker reports a registered person missing by clicking where they
were last seen, adds a sighting on the alert's map, and the police close the alert as found."""

from __future__ import annotations

import pytest

from tests.cases.test_browser import log_in
from tests.visits.conftest import GRID, WORKER, point_in

pytestmark = pytest.mark.browser
POLICE = "bmgaj01"


def test_report_missing_on_the_map_add_a_sighting_and_the_police_close_it(browser, live_server, client, auth,
                                                                          resident, sessions):
    home_lon, home_lat = point_in(sessions, GRID)
    r = client.post("/api/v1/missing", headers=auth(WORKER), json={
        "resident_id": resident("浏览器走失测试"), "description": "身高160厘米，灰色外套", "condition": "认知障碍",
        "guardian_name": "赵监护", "guardian_phone": "13907331234", "home_lon": home_lon, "home_lat": home_lat})
    assert r.status_code == 201, r.text
    person_id = r.json()["id"]

    context, page = log_in(browser, live_server, WORKER)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))  # the alert map once threw before drawing anything
    page.goto(f"{live_server}/missing/{person_id}")
    form = page.locator("[data-testid=report-form]")
    page.wait_for_selector("[data-testid=report-form] .pick-map.leaflet-container")
    form.locator(".pick-map").click()  # the map opens on the home: the person was last seen near it
    assert form.locator(".pick-lon").input_value() != ""
    lon, lat = float(form.locator(".pick-lon").input_value()), float(form.locator(".pick-lat").input_value())
    assert abs(lon - home_lon) < 0.002 and abs(lat - home_lat) < 0.002
    assert form.locator(".pick-where").inner_text() == f"{lon:.6f}, {lat:.6f}"
    form.locator("input[name=place]").fill("菜市场门口")
    form.locator("button.primary").click()
    page.wait_for_url(f"{live_server}/missing/alerts/*")
    alert_url = page.url
    assert page.locator("[data-testid=status]").inner_text() == "寻找中"
    assert "13907331234" not in page.content()  # the guardian's phone stays masked for a grid worker
    page.wait_for_selector("#alert-map .leaflet-overlay-pane path")
    assert page.locator("#alert-map .leaflet-overlay-pane path").count() >= 3  # radius, last seen, home

    sighting = page.locator("[data-testid=sighting-form]")
    page.locator("#alert-map").click(position={"x": 60, "y": 40})
    assert sighting.locator(".pick-lon").input_value() != ""
    sighting.locator("input[name=place]").fill("公交站")
    sighting.locator("textarea[name=note]").fill("有人看到往东走")
    sighting.locator("button.primary").click()
    page.wait_for_load_state("load")
    kinds = page.locator("[data-testid=timeline] li").evaluate_all("(li) => li.map((x) => x.dataset.kind)")
    assert kinds == ["report", "sighting"]
    assert "有人看到往东走" in page.locator("[data-testid=timeline]").inner_text()
    assert errors == []
    context.close()

    context, page = log_in(browser, live_server, POLICE)
    page.goto(alert_url)
    page.locator("summary", has_text="已找到").click()
    found = page.locator("[data-testid=found-form]")
    found.locator("input[name=place]").fill("公园东门")
    found.locator("textarea[name=note]").fill("家属已接回")
    found.locator("button.primary").click()
    page.wait_for_load_state("load")
    assert page.locator("[data-testid=status]").inner_text() == "已找到"
    assert page.locator("[data-testid=sighting-form]").count() == 0  # a closed alert takes no more sightings
    kinds = page.locator("[data-testid=timeline] li").evaluate_all("(li) => li.map((x) => x.dataset.kind)")
    assert kinds == ["report", "sighting", "found"]
    context.close()
