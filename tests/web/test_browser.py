"""In Debian's chromium, through Playwright: a grid worker logs in and sees their grid on the map."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_grid_worker_logs_in_and_sees_their_grid_highlighted(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    outside: list[str] = []
    context.on("request", lambda req: None if req.url.startswith(live_server) else outside.append(req.url))
    page = context.new_page()
    page.goto(f"{live_server}/regions")
    assert "/login" in page.url
    page.fill("input[name=username]", "wg43020300100101")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/regions")
    page.wait_for_selector("#map[data-loaded]")
    assert page.get_attribute("#map", "data-loaded") == "1"  # only their own grid is theirs to see
    own = page.locator("path.grid.own")
    assert own.count() == 1
    assert own.get_attribute("stroke") == "#b71c1c"
    info = page.locator("[data-testid=grid-info]")
    assert "43020300100101" in info.inner_text()
    assert "贺家土街道" in info.inner_text()
    assert page.locator("[data-testid=who]").inner_text().endswith("网格员")
    assert outside == []
    context.close()


def test_dispatcher_clicks_a_grid_and_sees_its_community_street_and_worker(browser, live_server):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(f"{live_server}/login?next=/regions%3Fcode%3D430203100")
    page.fill("input[name=username]", "dispatcher")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("#map[data-loaded]")
    assert int(page.get_attribute("#map", "data-loaded")) > 30  # 白关镇's grids
    page.locator("path.grid").first.click(force=True)
    info = page.locator("[data-testid=grid-info]")
    info.locator("dl").wait_for()
    text = info.inner_text()
    assert "白关镇" in text
    assert "430203100" in text
    assert "网格员" in text
    context.close()


def test_on_a_phone_the_grid_worker_reaches_the_pages_through_the_menu_and_reads_cases_as_cards(
        browser, live_server, client, auth, sessions):
    from tests.cases.test_lifecycle import item_at, point_in

    lon, lat = point_in(sessions, "43020300100101")
    r = client.post("/api/v1/cases", json={"description": "手机上查看：路边暴露垃圾", "lon": lon, "lat": lat,
                                           "item_code": item_at(sessions, "district").code},
                    headers=auth("wg43020300100101"))
    assert r.status_code == 201, r.text
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "wg43020300100101")
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    cases_link = page.locator("#mainnav a[href='/cases']")
    assert not cases_link.is_visible()  # folded away on a narrow screen
    page.click("[data-testid=menu-toggle]")
    assert page.get_attribute("[data-testid=menu-toggle]", "aria-expanded") == "true"
    cases_link.click()
    page.wait_for_url(f"{live_server}/cases*")
    rows = page.locator("table.cases tbody tr")
    assert rows.count() >= 1
    assert not page.locator("table.cases thead").is_visible()
    first = rows.first.bounding_box()
    assert first["width"] <= 390 and first["height"] > 100  # one card per case, its fields one under another
    assert "状态" in rows.first.locator("td[data-label='状态']").evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off the screen
    context.close()
