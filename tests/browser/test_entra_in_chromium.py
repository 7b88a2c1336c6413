"""Sign-in with Entra ID in Debian's headless Chromium (issue 26): the SameSite rules of a real
browser decide whether it works. The provider sends the browser back from another site, so
the flow cookie must be SameSite=Lax, and the Strict session cookie must be in use only after
a navigation that starts on our own page. The local OIDC provider (tests/fakes/entra_oidc.py)
is trusted by its certificate's key only (--ignore-certificate-errors-spki-list).

A test here FAILS when Chromium cannot start, like tests/browser/test_pages_in_chromium.py."""
from __future__ import annotations

import base64
import hashlib
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.browser.test_pages_in_chromium import serious_violations
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.entra_oidc import FakeEntra
from tests.realparts.dovecot import free_port
from tests.web_support import WebProcess, fill_diary

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CASE_PAGE = "/arenden/2027/1"


@pytest.fixture(scope="module")
def entra():
    # another site than the web's 127.0.0.1, with a sign-in page whose button the person presses
    with FakeEntra(host="localhost", interactive=True) as provider:
        yield provider


@pytest.fixture(scope="module")
def site(tmp_path_factory, org, entra):
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.conftest import MONDAY
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    data = tmp_path_factory.mktemp("entra-browser") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(MONDAY),
                sender=FakeMailSender())
    fill_diary(bot)
    bot.close()
    port = free_port()
    entra.redirect_uris.add(f"http://127.0.0.1:{port}/inloggning/entra/svar")
    server = WebProcess(data, env={"WEB_PORT": str(port), **entra.env()}).start()
    yield server
    server.stop()


def spki_hash(certificate_path: str) -> str:
    cert = x509.load_pem_x509_certificate(open(certificate_path, "rb").read())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def browser(entra):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.fail(f"{path} is missing: apt-get install -y chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1100", "--lang=sv-SE",
                     f"--ignore-certificate-errors-spki-list={spki_hash(entra.ca_path)}"):
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    except Exception as exc:
        pytest.fail(f"headless Chromium did not start: {exc}")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait_for(driver, condition, seconds: float = 15):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait
    WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(condition)


def test_sign_in_with_microsoft_ends_on_the_page_asked_for(browser, site, entra):
    entra.sign_in_as("rut.registrator@exempelby.se")
    browser.get(site.url + CASE_PAGE)
    assert "Logga in för att se diariet" in browser.page_source
    assert serious_violations(browser) == []
    browser.find_element("id", "entra-signin").click()
    wait_for(browser, lambda d: d.current_url.startswith(entra.origin))
    browser.find_element("id", "idSIButton9").click()       # at "Microsoft"
    wait_for(browser, lambda d: d.current_url == site.url + CASE_PAGE
             and "VOK 2027/0001" in d.page_source)
    assert "Inloggad som Rut Registrator" in browser.page_source
    names = {c["name"]: c for c in browser.get_cookies()}
    assert names["avvikelsebot_session"]["sameSite"] == "Strict"
    assert "avvikelsebot_entra" not in names                 # the flow's key is spent
    browser.get(site.url + "/rapport")                       # the session holds for the next page
    assert "Inloggad som Rut Registrator" in browser.page_source


def test_someone_outside_the_directory_sees_why_in_swedish(browser, site, entra):
    entra.sign_in_as("okand.person@exempelby.se")
    browser.get(site.url + "/arenden")
    browser.find_element("id", "entra-signin").click()
    wait_for(browser, lambda d: d.current_url.startswith(entra.origin))
    browser.find_element("id", "idSIButton9").click()
    wait_for(browser, lambda d: "Inloggningen gick inte" in d.page_source)
    refused = browser.find_element("id", "refused").text
    assert "okand.person@exempelby.se" in refused and "finns inte i Avvikelsebots katalog" in refused
    assert serious_violations(browser) == []
    browser.get(site.url + "/arenden")
    assert "Logga in för att se diariet" in browser.page_source
