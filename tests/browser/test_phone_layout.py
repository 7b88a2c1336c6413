"""The web overview on a phone (issue 24): headless Chromium emulating a 390×844 phone over a
busy office's diary (long unit names, long subjects, 140 open cases of one unit, most overdue)
and the fixed two years the report draws. On the list, a case, the unit page and the report:
the page never scrolls sideways, the overdue mark, the status and the deadline are on the
screen, and the charts' text is at least 12 px as drawn. FAILS when Chromium cannot start."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.browser.test_pages_in_chromium import browser, click_and_wait  # noqa: F401
from tests.report_cases import fixed_cases
from tests.web_support import LONG_UNIT, WebProcess, busy_office, fill_busy_diary

WIDTH, HEIGHT = 390, 844


@pytest.fixture(scope="module")
def phone_site(tmp_path_factory):
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings, load_organisation
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    folder = tmp_path_factory.mktemp("phone")
    config = busy_office(folder)
    org = load_organisation(config)
    data = folder / "data"
    settings = Settings(config_path=config, data_dir=data, org=org, env={})
    now = datetime.now(timezone.utc)
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(now),
                sender=FakeMailSender())
    for case in fixed_cases():
        bot.store.put_case(case)
    bot.store.commit()
    numbers = fill_busy_diary(bot, org, now, count=140, first_seq=500)
    bot.close()
    server = WebProcess(data, config=config).start()
    yield settings, server, numbers
    server.stop()


def as_phone(driver) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 3, "mobile": True})


MEASURE = """
const inner = window.innerWidth;
const box = el => { const r = el.getBoundingClientRect();
  return {left: r.left, right: r.right, width: r.width, text: el.textContent.trim().slice(0, 60)}; };
return {
  inner: inner, scroll: document.documentElement.scrollWidth,
  body: document.body.scrollWidth,
  late: [...document.querySelectorAll('.late')].map(box),
  status: [...document.querySelectorAll('.status')].map(box),
  deadline: [...document.querySelectorAll('.deadline')].map(box),
  charts: [...document.querySelectorAll('svg.chart')].filter(s => s.getClientRects().length)
    .flatMap(s => { const scale = s.getScreenCTM().a;
      return [...s.querySelectorAll('text')].map(t => ({
        css: parseFloat(getComputedStyle(t).fontSize),
        drawn: parseFloat(getComputedStyle(t).fontSize) * scale,
        text: t.textContent.slice(0, 30)})); }),
};
"""


def measured(driver, path: str, server) -> dict:
    """The page's widths and boxes. A phone widens its layout viewport to what overflows
    (innerWidth would then grow with the page), so every width is held to the phone's 390."""
    driver.get(server.url + path)
    page = driver.execute_script(MEASURE)
    assert page["inner"] == WIDTH, (path, page["inner"], page["scroll"])
    return page


SHOTS: list = []


@pytest.fixture(scope="module", autouse=True)
def shots(tmp_path_factory):
    """Screenshots for people to look at, in the test's artefact folder (phone-shots*)."""
    SHOTS.append(tmp_path_factory.mktemp("phone-shots"))


def keep(driver, name: str) -> None:
    driver.get_screenshot_as_file(str(SHOTS[-1] / name))


def on_screen(boxes: list[dict], inner: float) -> list[dict]:
    """The boxes that are not wholly on the screen's width (or not shown at all)."""
    return [b for b in boxes if b["width"] <= 0 or b["left"] < 0 or b["right"] > inner + 0.5]


@pytest.fixture
def phone(browser, phone_site):  # noqa: F811
    settings, server, _ = phone_site
    as_phone(browser)
    browser.get(server.link(settings, "rut"))
    click_and_wait(browser, ("id", "signin"))
    return browser


def test_the_list_fits_a_phone(phone, phone_site):
    _, server, _ = phone_site
    for path in ("/arenden", "/arenden?enhet=hemtjanst-norr&forsenade=1", "/arenden?sida=2"):
        page = measured(phone, path, server)
        assert page["scroll"] <= WIDTH, (path, page["scroll"])
        assert page["late"] and page["status"] and page["deadline"], path
        for kind in ("late", "status", "deadline"):
            assert on_screen(page[kind], WIDTH) == [], (path, kind)
    keep(phone, "phone-list.png")


def test_a_case_fits_a_phone(phone, phone_site):
    _, server, numbers = phone_site
    year, seq = numbers[0].split()[1].split("/")
    page = measured(phone, f"/arenden/{year}/{int(seq)}", server)
    assert page["scroll"] <= WIDTH, page["scroll"]
    assert page["late"] and page["status"] and page["deadline"]
    for kind in ("late", "status", "deadline"):
        assert on_screen(page[kind], WIDTH) == [], kind
    assert LONG_UNIT in phone.page_source
    keep(phone, "phone-case.png")


def test_the_unit_page_fits_a_phone_and_is_paged(phone, phone_site):
    _, server, _ = phone_site
    page = measured(phone, "/enheter/hemtjanst-norr", server)
    assert page["scroll"] <= WIDTH, page["scroll"]
    assert page["late"] and page["status"] and page["deadline"]
    for kind in ("late", "status", "deadline"):
        assert on_screen(page[kind], WIDTH) == [], kind
    rows = phone.find_elements("css selector", "table.cases tbody tr")
    assert 0 < len(rows) <= 50
    assert phone.find_element("css selector", "nav.pages a[rel=next]")
    keep(phone, "phone-unit.png")


def test_the_report_fits_a_phone_and_its_charts_are_readable(phone, phone_site):
    _, server, _ = phone_site
    for path in ("/rapport", "/rapport?ar=2025"):
        page = measured(phone, path, server)
        assert page["scroll"] <= WIDTH, (path, page["scroll"])
        assert len({c["text"] for c in page["charts"]}) > 10, (path, page["charts"][:3])
        small = [c for c in page["charts"] if c["css"] < 12 or c["drawn"] < 12]
        assert small == [], (path, small[:5])
    keep(phone, "phone-report.png")
    # the figures' tables too, opened
    for summary in phone.find_elements("css selector", "details summary"):
        summary.click()
    assert phone.execute_script(
        f"return document.documentElement.scrollWidth <= {WIDTH} && window.innerWidth == {WIDTH}")


def test_a_case_link_followed_from_another_site_opens_the_case_for_a_signed_in_person(
        phone, phone_site):
    """A notification's link clicked in Slack or Teams is a navigation from another site: the
    browser leaves the SameSite=Strict session cookie at home on that first request. The page
    then loads itself again from our own site, with the cookie, and shows the case."""
    from selenium.webdriver.support.ui import WebDriverWait
    _, server, numbers = phone_site
    year, seq = numbers[0].split()[1].split("/")
    target = f"{server.url}/arenden/{year}/{int(seq)}"
    phone.get(f"data:text/html,<a id='go' href='{target}'>{numbers[0]}</a>")
    phone.find_element("id", "go").click()
    WebDriverWait(phone, 15).until(
        lambda d: d.current_url == target and numbers[0] in d.find_element("tag name", "h1").text)


def test_a_case_link_for_someone_signed_out_leads_through_sign_in_back_to_the_case(
        browser, phone_site):  # noqa: F811
    from selenium.webdriver.support.ui import WebDriverWait
    settings, server, numbers = phone_site
    year, seq = numbers[0].split()[1].split("/")
    target = f"{server.url}/arenden/{year}/{int(seq)}"
    browser.get(f"data:text/html,<a id='go' href='{target}'>{numbers[0]}</a>")
    browser.find_element("id", "go").click()
    WebDriverWait(browser, 15).until(
        lambda d: "Logga in för att se diariet" in d.find_element("tag name", "h1").text)
    browser.get(server.link(settings, "rut"))          # the ordinary link from `webb`
    click_and_wait(browser, ("id", "signin"))
    assert browser.current_url == target
    assert numbers[0] in browser.find_element("tag name", "h1").text
