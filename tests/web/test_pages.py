"""Pages through the real app: each role's home and navigation, the region browser, the
English switch, the demo banner, and no reference to any outside host."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

PAGE_HEADERS = {"Accept": "text/html", "Accept-Language": "zh-CN"}


def login(client, username: str, password: str = "demo-2026") -> None:
    page = client.get("/login", headers=PAGE_HEADERS)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"},
                    headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 303, r.text


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action", "data-geojson", "data-tiles") and value:
                self.urls.append(value)


def outside_references(html: str) -> list[str]:
    parser = Links()
    parser.feed(html)
    found = [u for u in parser.urls if re.match(r"^(https?:)?//", u)]
    # Inline CSS and scripts too: url(...) and fetch targets with a host.
    found += re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", html)
    found += re.findall(r"['\"]((?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^'\"]*)['\"]", html)
    return found


@pytest.mark.parametrize(("username", "nav_in", "nav_out"), [
    ("wg43020300100101", ["区划与网格"], ["用户管理", "部门"]),
    ("sq430203001001", ["区划与网格", "用户管理"], ["部门"]),
    ("jd430203001", ["区划与网格", "部门", "用户管理"], []),
    ("bmcgj01", ["区划与网格", "部门"], ["用户管理"]),
    ("admin", ["区划与网格", "部门", "用户管理"], []),
])
def test_navigation_follows_the_role(client, username, nav_in, nav_out):
    login(client, username)
    r = client.get("/", headers=PAGE_HEADERS)
    assert r.status_code == 200
    nav = re.search(r'<nav class="mainnav"[^>]*>(.*?)</nav>', r.text, re.S).group(1)
    for label in nav_in:
        assert label in nav
    for label in nav_out:
        assert label not in nav


def test_grid_worker_home_shows_their_grid(client):
    login(client, "wg43020300100101")
    r = client.get("/", headers=PAGE_HEADERS)
    assert "我的网格" in r.text
    assert "43020300100101" in r.text
    assert "贺家土街道" in r.text


def test_department_handler_home_lists_the_areas_they_answer_for(client):
    login(client, "bmcgj02")
    r = client.get("/", headers=PAGE_HEADERS)
    assert "负责区划" in r.text
    assert "贺家土街道" in r.text  # bmcgj02 answers for the first street in the demo


def test_pages_need_a_login_and_redirect_to_it(client):
    r = client.get("/regions", headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login?next=/regions")


def test_region_browser_shows_the_tree_and_the_map_source(client):
    login(client, "jd430203002")
    r = client.get("/regions", headers=PAGE_HEADERS)
    assert r.status_code == 200
    assert 'data-geojson="/api/v1/regions/430203002/grids.geojson"' in r.text
    assert "建设街道" in r.text
    assert "贺家土街道" not in r.text.split("<main", 1)[1]  # another street is not in the tree
    other = client.get("/regions?code=430203001", headers=PAGE_HEADERS)
    assert other.status_code == 403
    assert "超出您的管辖范围" in other.text


def test_grids_geojson_carries_what_the_map_popup_shows(client, auth):
    r = client.get("/api/v1/regions/430203001001/grids.geojson", headers=auth("sq430203001001"))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    assert features and all(f["properties"]["community_code"] == "430203001001" for f in features)
    first = features[0]["properties"]
    assert first["street_name"] == "贺家土街道"
    assert len(first["grid_workers"]) == 1
    assert features[0]["geometry"]["type"] == "Polygon"


def test_english_switch_sets_a_cookie_and_translates(client):
    login(client, "dispatcher")
    r = client.get("/lang/en?next=/", headers=PAGE_HEADERS, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "lang=en" in r.headers["set-cookie"]
    client.cookies.set("lang", "en")
    page = client.get("/", headers={"Accept": "text/html"})
    assert "Regions &amp; grids" in page.text or "Regions & grids" in page.text
    assert "District dispatcher" in page.text
    # English punctuation, and the data's own words for a township translated too.
    assert "Welcome, 吴鑫杰</h1>" in page.text and "Role: District dispatcher" in page.text
    assert "：" not in page.text.split("<main")[1] and "<td>Town</td>" in page.text
    client.cookies.set("lang", "zh")
    page = client.get("/", headers={"Accept": "text/html"})
    assert "区划与网格" in page.text and "欢迎，吴鑫杰</h1>" in page.text and "角色：区指挥中心调度员" in page.text


def test_demo_banner_and_demo_logins_on_a_demo_database(client):
    r = client.get("/login", headers=PAGE_HEADERS)
    assert "演示数据" in r.text
    assert "demo-2026" in r.text
    assert "wg43020300100101" in r.text


def test_no_page_references_an_outside_host(client):
    pages = ["/login", "/docs"]
    login(client, "admin")
    pages += ["/", "/regions", "/regions?code=430203100", "/admin/users", "/admin/users/new", "/departments",
              "/departments/1", "/admin/users/1", "/does-not-exist"]
    for path in pages:
        r = client.get(path, headers=PAGE_HEADERS)
        assert r.status_code in (200, 404), (path, r.status_code)
        assert outside_references(r.text) == [], path
    for asset in ("/static/app.css", "/static/map.js"):
        assert outside_references(client.get(asset).text) == [], asset


def test_the_outside_reference_check_catches_one():
    assert outside_references('<script src="https://cdn.example.com/x.js"></script>')
    assert outside_references("<link href='//fonts.example.org/a.css'>")
    assert outside_references("<div style=\"background:url(http://tiles.example.com/1.png)\"></div>")
    assert outside_references('<a href="/regions">x</a>') == []


def test_api_docs_are_served_with_local_assets(client):
    r = client.get("/docs", headers=PAGE_HEADERS)
    assert r.status_code == 200
    assert "/static/vendor/swagger/swagger-ui-bundle.js" in r.text
    assert client.get("/static/vendor/swagger/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/api/v1/grids/locate" in spec["paths"]


def test_unknown_page_is_a_friendly_html_404(client):
    login(client, "dispatcher")
    r = client.get("/no/such/page", headers=PAGE_HEADERS)
    assert r.status_code == 404
    assert "页面不存在" in r.text
    assert "Traceback" not in r.text


def test_pages_show_times_on_the_installations_clock(client, app, auth, sessions, monkeypatch):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.cases.test_lifecycle import GRID, WORKER, item_at, point_in

    lon, lat = point_in(sessions, GRID)
    case = client.post("/api/v1/cases", headers=auth(WORKER), json={
        "description": "时区测试：路灯不亮", "lon": lon, "lat": lat, "item_code": item_at(sessions, "district").code})
    assert case.status_code == 201, case.text
    created = datetime.fromisoformat(case.json()["created_at"])
    login(client, "dispatcher")
    for zone in ("Asia/Shanghai", "Asia/Urumqi"):
        monkeypatch.setattr(app.state.settings, "timezone", zone)
        page = client.get(f"/cases/{case.json()['id']}", headers=PAGE_HEADERS)
        assert created.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") in page.text, zone
