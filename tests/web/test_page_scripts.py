"""In Debian's chromium: every page in each role's menu, and the first record each list links to,
loads without a script error, a console error or a failed request of its own. A map page can look
fine in an HTTP test and draw nothing in a browser (the missing-person alert map once threw before
drawing); this walks them all, in Chinese and, for two roles, in English."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

# One account of each kind of staff in the demo district.
ROLES = ["admin", "leader", "dispatcher", "jd430203002", "sq430203002003", "wg43020300200301", "bmgaj01"]
ENGLISH = ["dispatcher", "wg43020300200301"]
# Links from a list to one record: followed once per kind of record and role.
RECORD = re.compile(r"^/(cases|people|houses|buildings|visits|missing|missing/alerts|departments|admin/users)/\d+$")


def _walk(browser, live_server, username: str, locale: str) -> dict[str, list[str]]:
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 860})
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    here = {"url": ""}

    def note(text: str) -> None:
        problems.setdefault(here["url"], []).append(text)

    page.on("pageerror", lambda e: note(f"script error: {e}"))
    page.on("console", lambda m: note(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("response", lambda r: note(f"{r.status} {r.url}")
            if r.status >= 400 and r.url.startswith(live_server) else None)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo-2026")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    menu = page.locator("nav.mainnav a").evaluate_all("(a) => a.map((x) => x.getAttribute('href'))")
    assert menu, f"{username} has no menu"
    followed: set[str] = set()
    for path in menu:
        here["url"] = path
        page.goto(f"{live_server}{path}")
        page.wait_for_load_state("load")
        page.wait_for_timeout(300)  # maps and charts draw after load
        links = page.locator("main a[href]").evaluate_all("(a) => a.map((x) => x.getAttribute('href'))")
        for link in links:
            kind = RECORD.match(link.split("?")[0])
            if kind and kind.group(1) not in followed:
                followed.add(kind.group(1))
                here["url"] = link
                page.goto(f"{live_server}{link}")
                page.wait_for_load_state("load")
                page.wait_for_timeout(300)
                break
    context.close()
    return problems


@pytest.mark.parametrize("username", ROLES)
def test_every_menu_page_and_a_record_of_each_list_load_without_errors(browser, live_server, username):
    assert _walk(browser, live_server, username, "zh-CN") == {}


@pytest.mark.parametrize("username", ENGLISH)
def test_the_pages_load_without_errors_in_english(browser, live_server, username):
    assert _walk(browser, live_server, username, "en-US") == {}
