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
