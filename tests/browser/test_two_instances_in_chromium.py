"""Two web instances on one PostgreSQL database, as behind a load balancer, in Debian's
headless Chromium: the browser alternates between them (two ports of 127.0.0.1 share the
cookie, as two instances behind one name do). Signed in by a link on A, the list on B, a case
on A, another on B, signed out on B: then A refuses the same cookie. The link, used on A, is
refused on B, and `logg` shows the reads of both instances in one export, in order.
FAILS (never skips) when Chromium or PostgreSQL cannot start."""
from __future__ import annotations

from datetime import datetime, timezone

from tests.browser.test_pages_in_chromium import browser, click_and_wait, serious_violations  # noqa: F401
from tests.contract.test_web_state_postgres import database_diary, logg
from tests.web_support import WebProcess

COOKIE = "avvikelsebot_session"


def test_two_instances_sign_in_and_log_reads_as_one(browser, org, database_url,  # noqa: F811
                                                     tmp_path):
    settings = database_diary(org, tmp_path, database_url)
    env = {"DATABASE_URL": database_url}
    a = WebProcess(tmp_path / "a", env=env).start()
    b = WebProcess(tmp_path / "b", env=env).start()
    try:
        link = a.link(settings, "rut")
        browser.get(link)                                              # the link, on A
        click_and_wait(browser, ("id", "signin"))
        assert browser.current_url == a.url + "/arenden"
        assert "Inloggad som Rut Registrator" in browser.page_source

        browser.get(b.url + "/arenden")                                # the list, on B
        assert browser.find_element("tag name", "h1").text != "Logga in för att se diariet"
        assert "Inloggad som Rut Registrator" in browser.page_source
        numbers = [e.text for e in browser.find_elements("css selector",
                                                         "table.cases td:first-child a")]
        assert "VOK 2027/0001" in numbers and "VOK 2026/0001" in numbers

        browser.get(a.url + "/arenden/2026/1")                         # a case, on A
        assert browser.find_element("tag name", "h1").text.startswith("VOK 2026/0001")
        browser.get(b.url + "/arenden/2027/1")                         # another, on B
        assert browser.find_element("tag name", "h1").text.startswith("VOK 2027/0001")
        assert serious_violations(browser) == []
        cookie = browser.get_cookie(COOKIE)
        assert cookie is not None

        click_and_wait(browser, ("css selector", "form.signout button"))   # sign out, on B
        assert browser.current_url == b.url + "/inloggning"
        # the same cookie again (kept by someone, or a second tab): A refuses it too
        browser.add_cookie({"name": COOKIE, "value": cookie["value"], "path": "/"})
        browser.get(a.url + "/arenden")
        assert browser.find_element("tag name", "h1").text == "Logga in för att se diariet"
        assert "VOK 2026/0001" not in browser.page_source

        browser.delete_all_cookies()
        browser.get(b.url + "/inloggning/" + link.rsplit("/", 1)[1])  # the used link, on B
        click_and_wait(browser, ("id", "signin"))
        assert "redan använd eller för gammal" in browser.find_element("id", "refused").text
    finally:
        a.stop()
        b.stop()
    today = datetime.now(timezone.utc).date().isoformat()
    table = logg(settings, today)
    assert [r[1:4] for r in table[1:]] == [["rut", "VOK 2026/0001", "case"],
                                           ["rut", "VOK 2027/0001", "case"]]
