"""Notifications link to their case's web page, and a sign-in link lands on the page it was
made for (issue 24). The web is a real `avvikelsebot web` process over HTTP; the chat and the
notifications go through the composition root with fake notifiers."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest

from bot.app import build
from bot.chat.render import plain_text
from bot.chat.slack import notification_blocks
from bot.chat.teams import adaptive_card
from bot.domain.access import Actor
from bot.ports import FixedClock
from bot.settings import Settings
from bot.web.auth import LoginLinks
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender
from tests.fakes.notifier import FakeNotifier
from tests.web_support import Client, WebProcess

ARRIVED = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)
BASE = "https://avvikelser.exempelby.se"
WEB_ON = {"WEB_PORT": "8089", "WEB_BASE_URL": BASE}


def mail(n: int = 1) -> bytes:
    message = EmailMessage()
    message["From"] = "Patientsäkerhet <avvikelse@regionexempel.se>"
    message["To"] = "registrator.vok@exempelby.se"
    message["Subject"] = f"Avvikelse Hemtjänst Norr fel dos {n}"
    message["Message-ID"] = f"<links-{n}@regionexempel.se>"
    message["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
    message.set_content("Patienten fick fel dos.\nAllvarlighetsgrad: gul\n")
    return message.as_bytes()


def a_bot(org, data, env):
    console = FakeNotifier()
    bot = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env=env),
                notifiers={"console": console}, clock=FixedClock(ARRIVED), sender=FakeMailSender())
    return bot, console


def case_page(number: str) -> str:
    year, seq = number.split()[1].split("/")
    return f"/arenden/{year}/{int(seq)}"


# ------------------------------------------------------------------ notifications
def test_every_case_notification_links_to_its_web_page_when_the_web_is_on(org, tmp_path):
    bot, console = a_bot(org, tmp_path / "on", WEB_ON)
    try:
        number = bot.services.ingest_many([(mail(), ARRIVED, None)])[0]["diary_number"]
        bot.services.deliver_outbox()
        about = [n for n in console.sent if n["view"].get("number") == number]
        assert about, console.sent
        url = BASE + case_page(number)
        for notification in about:
            assert notification["view"]["url"] == url
            assert f"Öppna ärendet i webben: {url}" in notification["text"]   # console, e-mail
        view = about[0]["view"]
        slack = json.dumps(notification_blocks(view, "sv"), ensure_ascii=False)
        assert f"<{url}|Öppna ärendet i webben>" in slack
        teams = json.dumps(adaptive_card(org, view, "n1"), ensure_ascii=False)
        assert f"[Öppna ärendet i webben]({url})" in teams
        # a reminder of the same case links the same way
        later = datetime(2027, 1, 12, 9, 0, tzinfo=timezone.utc)
        bot.services.run_reminders(later)
        reminders = [n for n in bot.store.outbox()
                     if n["event"] in ("reminder", "escalation")]
        assert reminders and all(n["view"]["url"] == url for n in reminders)
    finally:
        bot.close()


def test_without_the_web_a_notification_has_no_link(org, tmp_path):
    bot, console = a_bot(org, tmp_path / "off", {})
    try:
        bot.services.ingest_many([(mail(), ARRIVED, None)])
        bot.services.deliver_outbox()
        assert console.sent and all("url" not in n["view"] for n in console.sent)
        assert all("webben" not in n["text"] for n in console.sent)
        assert "webben" not in plain_text(org, console.sent[0]["view"])
    finally:
        bot.close()


# ------------------------------------------------------------------ sign-in targets
def test_webb_with_a_number_gives_a_link_to_that_case_and_refuses_another_site(org, tmp_path):
    bot, _ = a_bot(org, tmp_path / "chat", WEB_ON)
    try:
        anna = Actor.person("anna")
        reply = bot.services.handle_command(anna, "webb VOK 2026/0001", "slack")
        assert reply.ok and f"{BASE}/inloggning/" in reply.text
        tokens = json.loads((tmp_path / "chat" / "web" / "login-tokens.json").read_text())
        assert [e.get("next") for e in tokens.values()] == ["/arenden/2026/1"]
        for hostile in ("webb //evil.example/arenden", "webb /\\evil.example",
                        "webb https://evil.example/", "webb /arenden\u202e"):
            refused = bot.services.handle_command(anna, hostile, "slack")
            assert not refused.ok and "/inloggning/" not in refused.text, hostile
        assert len(json.loads((tmp_path / "chat" / "web" / "login-tokens.json").read_text())) == 1
    finally:
        bot.close()


def test_a_link_refuses_a_target_on_another_site(org, tmp_path):
    links = LoginLinks(Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path, org=org, env=WEB_ON))
    for target in ("https://evil.example/", "//evil.example", "/\\evil.example", "javascript:x",
                   "/inloggning/abc"):
        with pytest.raises(ValueError):
            links.issue_login_link("anna", ARRIVED, target)


@pytest.fixture(scope="module")
def site(tmp_path_factory, org):
    data = tmp_path_factory.mktemp("links") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot, _ = a_bot(org, data, {})
    number = bot.services.ingest_many([(mail(), ARRIVED, None)])[0]["diary_number"]
    noted = bot.services.handle_command(Actor.person("anna"), f"anteckning {number} Ringde anhörig",
                                        "slack")
    assert noted.ok, noted
    bot.close()
    server = WebProcess(data).start()
    yield settings, server, number
    server.stop()


def local_link(server, url: str) -> str:
    return server.url + urlsplit(url).path


def test_a_sign_in_link_made_for_a_case_lands_on_that_case(site):
    settings, server, number = site
    link = LoginLinks(settings).issue_login_link("sven", datetime.now(timezone.utc),
                                                 case_page(number))
    client = Client(server.url)
    signed = client.sign_in(local_link(server, link))
    assert signed.status == 303 and signed.headers["location"] == case_page(number)
    page = client.get(signed.headers["location"])
    assert page.status == 200 and number in page.body


def test_a_link_without_a_target_lands_on_the_list(site):
    settings, server, _ = site
    signed = Client(server.url).sign_in(server.link(settings, "sven"))
    assert signed.status == 303 and signed.headers["location"] == "/arenden"


def test_a_tampered_target_in_the_token_file_never_leaves_the_site(site):
    settings, server, _ = site
    links = LoginLinks(settings)
    link = links.issue_login_link("sven", datetime.now(timezone.utc), "/arenden")
    path = links.tokens.path
    tokens = json.loads(path.read_text())
    for entry in tokens.values():
        if entry.get("next") == "/arenden" and entry["used"] is None:
            entry["next"] = "//evil.example/x"
    path.write_text(json.dumps(tokens))
    signed = Client(server.url).sign_in(local_link(server, link))
    assert signed.status == 303 and signed.headers["location"] == "/arenden"


def test_a_signed_out_visit_to_a_case_comes_back_to_it_after_signing_in(site):
    """The case link of a notification, opened by someone not signed in: the page says how
    to get a link, and the ordinary `webb` link then lands on the case, not on the list."""
    settings, server, number = site
    browser = Client(server.url)
    # followed from Slack: another site, so the browser leaves Strict cookies at home; the
    # page loads itself again from here, which would carry a session
    bounce = browser.request("GET", case_page(number), headers={"Sec-Fetch-Site": "cross-site"})
    assert bounce.status == 200 and 'http-equiv="refresh"' in bounce.body
    assert number not in bounce.body
    needed = browser.request("GET", case_page(number), headers={"Sec-Fetch-Site": "same-origin"})
    assert needed.status == 401 and "tillbaka till den här sidan" in needed.body
    assert number not in needed.body
    signed = browser.sign_in(server.link(settings, "sven"))
    assert signed.status == 303 and signed.headers["location"] == case_page(number)
    assert browser.get(case_page(number)).status == 200


def test_a_signed_in_person_following_a_case_link_from_chat_sees_the_case(site):
    settings, server, number = site
    browser = Client(server.url)
    browser.sign_in(server.link(settings, "sven"))
    # a real browser sends no Strict cookie here; the bounce page is what it would get, and
    # this client (which sends it anyway) simply sees the case
    page = browser.request("GET", case_page(number), headers={"Sec-Fetch-Site": "cross-site"})
    assert page.status == 200 and number in page.body


def test_web_link_on_the_command_line_takes_a_number_and_refuses_another_site(tmp_path, org):
    from tests.scenario.test_cli_admin import run
    done = run(tmp_path, "web-link", "--as", "anna", "--next", "VOK 2026/0012", env=WEB_ON)
    assert done.returncode == 0, done.stderr
    tokens = json.loads((tmp_path / "data" / "web" / "login-tokens.json").read_text())
    assert [e.get("next") for e in tokens.values()] == ["/arenden/2026/12"]
    refused = run(tmp_path, "web-link", "--as", "anna", "--next", "https://evil.example/",
                  env=WEB_ON)
    assert refused.returncode == 2 and "evil.example" in refused.stderr
    assert "inloggning" not in refused.stdout


# ------------------------------------------------------------------ a note's author
def test_a_note_shows_its_author_by_name_on_the_case_page(site):
    settings, server, number = site
    browser = Client(server.url)
    browser.sign_in(server.link(settings, "sven"))
    page = browser.get(case_page(number))
    row = next(r for r in page.body.split("<tr>") if "Ringde anhörig" in r)
    assert "Anna Andersson" in row and "<td>anna</td>" not in row, row


def test_a_note_shows_its_author_by_name_in_status(org, tmp_path):
    bot, _ = a_bot(org, tmp_path / "status", {})
    try:
        number = bot.services.ingest_many([(mail(), ARRIVED, None)])[0]["diary_number"]
        anna = Actor.person("anna")
        assert bot.services.handle_command(anna, f"anteckning {number} Ringde anhörig", "slack").ok
        text = bot.services.handle_command(anna, f"status {number}", "slack").text
        assert "från Anna Andersson: Ringde anhörig" in text
        case = next(c for c in bot.store.all_cases() if c.number == number)
        note = bot.services.status_json(case)["documents"][-1]
        assert note["type"] == "note" and note["author"] == "Anna Andersson"
    finally:
        bot.close()


def test_a_failed_send_to_the_registrator_links_to_its_case(org):
    from bot.chat.render import send_failed_view, with_web_link
    view = with_web_link(org, send_failed_view(org, "VOK 2026/0007", "x@region.se", "550"), BASE)
    assert view["url"] == f"{BASE}/arenden/2026/7"
    assert f"Öppna ärendet i webben: {BASE}/arenden/2026/7" in plain_text(org, view)
    triage = with_web_link(org, {"event": "triage", "number": "VOK 2026/0007"}, BASE)
    assert "url" not in triage                   # a triage prompt's number is a suggestion
