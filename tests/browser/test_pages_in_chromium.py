"""The real pages in Debian's headless Chromium, driven by Selenium through Debian's
chromedriver (no browser download; Selenium Manager is never asked): sign in by a one-time
link, filter, open a case, see the charts; the access and link rules as a browser meets
them; and axe-core finds no serious or critical accessibility violation on any page.

Screenshots of the list, a case and the report are written to the test's artefact folder
(and copied to $AVVIKELSEBOT_SCREENSHOTS when set). A test here FAILS when Chromium cannot
start: `.ci/run` installs chromium and chromium-driver."""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG, MONDAY
from tests.web_support import WebProcess, fill_diary

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"


@pytest.fixture(scope="module")
def site(tmp_path_factory, org):
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    data = tmp_path_factory.mktemp("browser") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(MONDAY),
                sender=FakeMailSender())
    fill_diary(bot)
    bot.close()
    server = WebProcess(data).start()
    yield settings, server
    server.stop()


@pytest.fixture
def browser():
    """Headless Chromium from Debian; a missing or broken one fails the test, never skips."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1100", "--lang=sv-SE"):
        options.add_argument(argument)
    try:
        # an explicit driver path: Selenium Manager is not consulted, nothing is downloaded
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:
        pytest.fail(f"headless Chromium did not start: {exc}")
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def screenshot(driver, artefacts: Path, name: str) -> Path:
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(900, height + 40), 4000))
    path = artefacts / name
    driver.get_screenshot_as_file(str(path))
    copy_to = os.environ.get("AVVIKELSEBOT_SCREENSHOTS")
    if copy_to:
        Path(copy_to).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(copy_to) / name)
    driver.set_window_size(1280, 1100)
    return path


def serious_violations(driver) -> list[dict]:
    """axe-core run inside the page; only what it rates serious or critical."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
        ".catch(e => done({error: String(e)}));")
    assert not isinstance(result, dict), result
    return [v for v in result if v["impact"] in ("serious", "critical")]


def click_and_wait(driver, locator: tuple[str, str]) -> None:
    """Click something that loads a new page, and wait until the old page is gone."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    # The old page is marked, and the wait is for a complete page without the mark. (Waiting
    # for the old <html> element to go stale fails now and then: chromedriver may answer
    # "Node with given id does not belong to the document" while the page is swapped.)
    driver.execute_script("window.__leaving = true")
    driver.find_element(*locator).click()
    WebDriverWait(driver, 15, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script(
            "return window.__leaving === undefined && document.readyState === 'complete'"))


def sign_in(driver, site, person: str, now: datetime | None = None) -> None:
    settings, server = site
    driver.get(server.link(settings, person, now))
    click_and_wait(driver, ("id", "signin"))


def test_sign_in_filter_open_a_case_and_see_the_charts(browser, site, artefacts):
    from selenium.webdriver.support.ui import Select
    _, server = site
    browser.get(server.link(site[0], "rut"))
    assert browser.find_element("tag name", "h1").text == "Logga in"
    assert serious_violations(browser) == []
    click_and_wait(browser, ("id", "signin"))
    assert browser.current_url == server.url + "/arenden"
    assert "Inloggad som Rut Registrator" in browser.page_source
    assert serious_violations(browser) == []

    Select(browser.find_element("id", "enhet")).select_by_visible_text("Hemtjänst Söder")
    click_and_wait(browser, ("id", "filter"))
    numbers = [a.text for a in browser.find_elements("css selector", "table.cases td:first-child a")]
    assert numbers == ["VOK 2026/0002", "VOK 2025/0005"]
    browser.find_element("id", "forsenade").click()      # the filters stay as chosen
    click_and_wait(browser, ("id", "filter"))
    numbers = [a.text for a in browser.find_elements("css selector", "table.cases td:first-child a")]
    assert numbers == ["VOK 2025/0005"]                  # registered in 2025, never answered
    assert "enhet=hemtjanst-soder" in browser.current_url and "forsenade=1" in browser.current_url
    browser.get(server.url + "/arenden")
    screenshot(browser, artefacts, "list.png")

    browser.get(server.url + "/arenden?sok=RX-4711")
    click_and_wait(browser, ("link text", "VOK 2027/0001"))
    heading = browser.find_element("tag name", "h1").text
    assert heading == "VOK 2027/0001 Avvikelse Hemtjänst Norr <b>fel dos</b> – Er ref RX-4711"
    timeline = browser.find_element("css selector", "ol.timeline").text
    assert "e-post från avvikelse@regionexempel.se" in timeline
    assert serious_violations(browser) == []
    screenshot(browser, artefacts, "case.png")

    click_and_wait(browser, ("link text", heading.split(" ", 2)[2]))
    text = browser.find_element("css selector", "pre.mailtext").text
    assert "Patienten [personnummer] fick fel dos." in text
    assert browser.execute_script("return document.querySelectorAll('main script').length") == 0
    assert serious_violations(browser) == []

    browser.get(server.url + "/enheter/hemtjanst-norr")
    assert serious_violations(browser) == []

    click_and_wait(browser, ("link text", "Rapport"))
    Select(browser.find_element("id", "ar")).select_by_visible_text("2026")
    click_and_wait(browser, ("css selector", "form.filters button"))
    for chart in ("chart-inflow", "chart-steps", "chart-overdue"):
        svg = browser.find_element("id", chart)
        assert svg.is_displayed() and svg.size["height"] > 100, chart
        assert browser.execute_script(
            "return arguments[0].querySelectorAll('rect').length", svg) > 3, chart
    assert serious_violations(browser) == []
    screenshot(browser, artefacts, "report.png")


def test_a_manager_cannot_open_another_units_case_by_url(browser, site):
    _, server = site
    sign_in(browser, site, "anna")
    browser.get(server.url + "/arenden/2026/1")
    assert browser.find_element("tag name", "h1").text.startswith("VOK 2026/0001")
    browser.get(server.url + "/arenden/2026/2")           # Hemtjänst Söder: not Anna's
    assert browser.find_element("tag name", "h1").text == "Ärendet finns inte"
    assert "VOK 2026/0002" not in browser.page_source
    assert serious_violations(browser) == []


def test_a_reused_or_expired_link_is_refused(browser, site):
    settings, server = site
    link = server.link(settings, "maria")
    browser.get(link)
    click_and_wait(browser, ("id", "signin"))
    assert browser.current_url.endswith("/arenden")
    browser.delete_all_cookies()
    browser.get(link)
    click_and_wait(browser, ("id", "signin"))
    assert "redan använd eller för gammal" in browser.find_element("id", "refused").text
    assert serious_violations(browser) == []
    browser.get(server.url + "/arenden")
    assert browser.find_element("tag name", "h1").text == "Logga in för att se diariet"

    sign_in(browser, site, "maria", now=datetime.now(timezone.utc) - timedelta(minutes=11))
    assert browser.find_elements("id", "refused")
    browser.get(server.url + "/arenden")
    assert "VOK 2026" not in browser.page_source
