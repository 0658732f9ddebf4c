"""In Debian's chromium: a grid worker reports an event with a photo, a handler signs and
reports back, the grid worker verifies, the dispatcher sees it closed."""

from __future__ import annotations

import struct
import zlib

import httpx
import pytest
import shapely
from sqlalchemy import func, select

from gridgov.accounts.models import User
from gridgov.cases.models import Case, CaseAttachment
from gridgov.catalog.models import CatalogItem
from gridgov.regions.models import Region

pytestmark = pytest.mark.browser
WORKER, GRID = "wg43020300300201", "43020300300201"


def tiny_png(path) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xb7\x1c\x1c" * 8 for _ in range(8))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def log_in(browser, live_server, username):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    return context, page


def take(page, action: str, comment: str = "", photo=None) -> None:
    form = page.locator(f"form[data-action={action}]")
    details = page.locator(f"details:has(form[data-action={action}])")
    if details.get_attribute("open") is None:
        details.locator("summary").click()
    if comment:
        form.locator("textarea[name=comment]").fill(comment)
    if photo is not None:
        form.locator("input[name=photos]").set_input_files(str(photo))
    form.locator("button.primary").click()
    page.wait_for_load_state("load")


def test_report_handle_verify_close_in_the_browser(browser, live_server, sessions, tmp_path):
    photo = tmp_path / "scene.png"
    tiny_png(photo)
    with sessions() as db:
        grid = shapely.from_geojson(db.get(Region, GRID).geometry)
        item = db.scalars(select(CatalogItem).where(CatalogItem.handling_level == "district")
                          .order_by(CatalogItem.code)).first()
    inside = shapely.Polygon(grid.exterior).buffer(-0.0003).representative_point()

    worker_ctx, page = log_in(browser, live_server, WORKER)
    page.goto(f"{live_server}/cases/new")
    page.fill("textarea[name=description]", "浏览器测试：人行道上有暴露垃圾")
    page.select_option("select[name=item_code]", item.code)
    page.wait_for_function("window.gridgovPickMap !== undefined")
    page.wait_for_timeout(500)  # the grid layer fits the view
    x, y = page.evaluate("([lat, lon]) => { const p = window.gridgovPickMap.map.latLngToContainerPoint([lat, lon]);"
                         " return [p.x, p.y]; }", [inside.y, inside.x])
    box = page.locator("#pick-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    assert page.input_value("#lon") != ""
    page.set_input_files("input[name=photos]", str(photo))
    page.click("form[data-testid=report-form] button[type=submit]")
    page.wait_for_url(f"{live_server}/cases/*")
    case_id = int(page.url.rstrip("/").split("/")[-1])
    assert page.locator("[data-testid=state]").inner_text() == "待受理"
    assert page.locator("img[data-kind=before]").count() == 1

    with sessions() as db:
        case = db.get(Case, case_id)
        assert case.grid_code == GRID
        handler = db.get(User, case.handler_id).username
    dispatcher_ctx, desk = log_in(browser, live_server, "dispatcher")
    desk.goto(f"{live_server}/cases/{case_id}")
    # The case map outlines the grids around it, the case's own one named and in view.
    desk.wait_for_selector("#case-map[data-grids]")
    assert int(desk.get_attribute("#case-map", "data-grids")) > 1
    assert desk.locator("#case-map path.grid.own").count() == 1
    assert GRID in desk.locator("#case-map .leaflet-tooltip").inner_text()
    take(desk, "register")
    take(desk, "dispatch")
    assert desk.locator("[data-testid=state]").inner_text() == "待签收"

    handler_ctx, office = log_in(browser, live_server, handler)
    office.goto(f"{live_server}/cases?mine=to_sign")
    office.click(f"tr[data-case='{case_id}'] a")
    take(office, "sign")
    take(office, "report_back", "垃圾已清运，路面已冲洗", photo)
    assert office.locator("[data-testid=state]").inner_text() == "待核查"

    page.goto(f"{live_server}/cases?mine=to_verify")
    page.click(f"tr[data-case='{case_id}'] a")
    take(page, "verify", "现场核查，已清理干净")

    desk.goto(f"{live_server}/cases/{case_id}")
    take(desk, "close")
    assert desk.locator("[data-testid=state]").inner_text() == "已结案"
    steps = desk.locator("[data-testid=timeline] li").evaluate_all("els => els.map(e => e.dataset.action)")
    assert steps == ["report", "register", "dispatch", "sign", "report_back", "verify", "close"]
    with sessions() as db:
        kinds = sorted(db.scalars(select(CaseAttachment.kind).where(CaseAttachment.case_id == case_id)))
    assert kinds == ["after", "before"]
    for ctx in (worker_ctx, dispatcher_ctx, handler_ctx):
        ctx.close()


def test_the_report_form_takes_the_phones_position_or_says_it_failed(browser, live_server, sessions):
    with sessions() as db:
        spot = shapely.from_geojson(db.get(Region, GRID).geometry).representative_point()
    context, page = log_in(browser, live_server, WORKER)
    context.grant_permissions(["geolocation"])
    context.set_geolocation({"longitude": spot.x, "latitude": spot.y})
    page.goto(f"{live_server}/cases/new")
    page.click("#gps")
    page.wait_for_function("document.getElementById('lon').value !== ''")
    assert abs(float(page.input_value("#lon")) - spot.x) < 1e-6
    assert abs(float(page.input_value("#lat")) - spot.y) < 1e-6
    context.close()

    # No permission for the position: the worker is told to pick the point, in their language.
    context, page = log_in(browser, live_server, WORKER)
    page.goto(f"{live_server}/cases/new?lang=en")
    page.click("#gps")
    page.wait_for_function("document.getElementById('where').textContent.startsWith('GPS failed')")
    assert page.input_value("#lon") == ""
    context.close()


def test_hotline_entry_and_calling_back_in_the_browser(browser, live_server, sessions):
    """The district dispatcher registers a 12345 call with the caller's number, sees it masked on the
    case page, and reveals it with a reason to call back."""
    from gridgov.core.audit import AuditEntry

    with sessions() as db:
        grid = shapely.from_geojson(db.get(Region, GRID).geometry)
    inside = shapely.Polygon(grid.exterior).buffer(-0.0003).representative_point()
    context, page = log_in(browser, live_server, "dispatcher")
    page.goto(f"{live_server}/cases/new")
    assert page.locator("h1").inner_text() == "登记事件（12345 热线）"
    page.fill("textarea[name=description]", "来电反映：小区门口井盖缺失，夜间危险")
    page.fill("input[name=reporter_name]", "孙来电")
    page.fill("input[name=reporter_phone]", "139 1234 5678")
    page.wait_for_function("window.gridgovPickMap !== undefined")
    page.wait_for_timeout(500)
    x, y = page.evaluate("([lat, lon]) => { const p = window.gridgovPickMap.map.latLngToContainerPoint([lat, lon]);"
                         " return [p.x, p.y]; }", [inside.y, inside.x])
    box = page.locator("#pick-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.click("form[data-testid=report-form] button[type=submit]")
    page.wait_for_url(f"{live_server}/cases/*")
    case_id = int(page.url.rstrip("/").split("/")[-1])
    assert page.locator("[data-testid=caller]").inner_text() == "孙来电 · 139****5678"
    assert "13912345678" not in page.content()
    page.click("#caller-phone summary")
    page.fill("#caller-phone input[name=reason]", "回访来电群众")
    page.click("#caller-phone button")
    assert page.locator("[data-testid=revealed-phone]").inner_text() == "来电号码 13912345678"
    context.close()
    with sessions() as db:
        case = db.get(Case, case_id)
        assert (case.source, case.reporter_name, case.reporter_phone_masked) == ("hotline", "孙来电", "139****5678")
        entry = db.scalars(select(AuditEntry).where(AuditEntry.object_type == "case",
                                                    AuditEntry.object_id == str(case_id))).one()
        assert entry.reason == "回访来电群众"


def test_the_console_map_draws_the_grids_and_colours_a_cluster_by_its_most_urgent_case(browser, live_server,
                                                                                       sessions):
    with sessions() as db:
        grid = shapely.from_geojson(db.get(Region, GRID).geometry)
        grids = db.scalar(select(func.count()).select_from(Region).where(Region.level == "grid"))
    spot = shapely.Polygon(grid.exterior).buffer(-0.0003).representative_point()
    with httpx.Client(base_url=live_server, timeout=10) as web:
        token = web.post("/api/v1/auth/token", data={"username": WORKER, "password": "demo-2026"}).json()
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        bodies = [{"description": f"聚合颜色测试 {n}", "lon": spot.x + n * 1e-5, "lat": spot.y} for n in range(3)]
        made = [web.post("/api/v1/cases", headers=bearer, json=body).json()["id"] for body in bodies]
    with sessions() as db:
        db.get(Case, made[0]).light = "red"  # overdue; the other two are on time
        db.commit()

    ctx, page = log_in(browser, live_server, "dispatcher")
    page.goto(f"{live_server}/console")
    page.wait_for_selector("#case-map[data-loaded][data-grids]")
    assert page.get_attribute("#case-map", "data-grids") == str(grids)
    assert page.locator("#case-map .leaflet-overlay-pane path").count() >= grids
    clusters = page.evaluate("""([lon, lat]) => {
        const { cluster } = window.gridgovConsole;
        const worst = (ms) => ["red", "yellow"].find((l) => ms.some((m) => m.options.light === l)) || "green";
        const shown = new Set(cluster.getLayers().map((m) => cluster.getVisibleParent(m)));
        const wrong = [...shown].filter((p) => p && p.getAllChildMarkers
            && !p._icon.classList.contains(worst(p.getAllChildMarkers()))).length;
        const mine = cluster.getLayers().filter((m) => Math.abs(m.getLatLng().lng - lon) < 1e-4
                                                      && Math.abs(m.getLatLng().lat - lat) < 1e-4);
        const parent = cluster.getVisibleParent(mine[0]);
        return { wrong, mine: mine.length, clustered: !!(parent && parent.getAllChildMarkers),
                 cls: parent && parent._icon ? parent._icon.className : "" };
    }""", [spot.x, spot.y])
    assert clusters["wrong"] == 0
    assert clusters["mine"] == 3 and clusters["clustered"]
    assert "red" in clusters["cls"].split()
    ctx.close()


def test_the_console_shows_a_new_report_without_a_reload(browser, live_server, sessions):
    """The dispatcher's console is live: a case a grid worker reports elsewhere appears in its list
    and on its map through the server-sent events, while the page stays as it is (no reload)."""
    with sessions() as db:
        grid = shapely.from_geojson(db.get(Region, GRID).geometry)
    spot = shapely.Polygon(grid.exterior).buffer(-0.0003).representative_point()
    ctx, page = log_in(browser, live_server, "dispatcher")
    page.goto(f"{live_server}/console")
    page.wait_for_selector("#case-map[data-loaded]")
    page.wait_for_function("() => !document.getElementById('live').classList.contains('offline')")
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads
    shown_before = int(page.get_attribute("#case-map", "data-loaded"))

    with httpx.Client(base_url=live_server, timeout=10) as web:
        token = web.post("/api/v1/auth/token", data={"username": WORKER, "password": "demo-2026"}).json()
        made = web.post("/api/v1/cases", headers={"Authorization": f"Bearer {token['access_token']}"},
                        json={"description": "控制台实时测试：人行道井盖缺失", "lon": spot.x, "lat": spot.y}).json()

    page.wait_for_selector(f"#rows a[href='/cases/{made['id']}']", timeout=15000)
    assert made["number"] in page.locator("#rows").inner_text()
    page.wait_for_function("(n) => Number(document.getElementById('case-map').dataset.loaded) > n",
                           arg=shown_before, timeout=15000)
    assert page.evaluate("() => window.sameDocument") is True
    ctx.close()
