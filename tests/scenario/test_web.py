"""The web overview over HTTP, against a real `avvikelsebot web` process: who sees what,
sign-in links that work once and for minutes, redaction and escaping, the read log."""
from __future__ import annotations

import csv
import io
import json
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest

from bot import cli
from bot.domain.redact import contains_personnummer
from bot.web.auth import LoginTokens
from bot.web.diary import DiaryIndex, Filters, can_view_row
from bot.domain.access import Actor, can_view
from reminders.calendar import BusinessCalendar
from tests.conftest import EXAMPLE_CONFIG
from tests.report_cases import fixed_cases
from tests.web_support import PNR, Client, WebProcess, fill_diary


@pytest.fixture(scope="module")
def site(tmp_path_factory, org):
    """One web process over one diary for the module (starting it is the slow part)."""
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.conftest import MONDAY
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    data = tmp_path_factory.mktemp("web") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(MONDAY),
                sender=FakeMailSender())
    fill_diary(bot)
    bot.close()
    server = WebProcess(data).start()
    yield settings, server
    server.stop()


def signed_in(site, person: str) -> Client:
    settings, server = site
    client = Client(server.url)
    page = client.sign_in(server.link(settings, person))
    assert page.status == 303 and page.headers["location"] == "/arenden"
    return client


def test_nobody_sees_anything_without_signing_in(site):
    _, server = site
    client = Client(server.url)
    for path in ("/arenden", "/arenden/2026/1", "/rapport", "/enheter/hemtjanst-norr"):
        page = client.get(path)
        assert page.status == 401, path
        assert "VOK 2026" not in page.body and "webb" in page.body


def test_the_session_cookie_is_http_only_strict_and_short(site):
    settings, server = site
    client = Client(server.url)
    link = server.link(settings, "rut")
    first = client.get(link[len(server.url):])           # a mail scanner's GET spends nothing
    assert first.status == 200 and not client.cookie
    page = client.sign_in(link)
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie                 # plain http on 127.0.0.1; https turns it on


def test_a_link_works_once(site):
    settings, server = site
    link = server.link(settings, "rut")
    assert Client(server.url).sign_in(link).status == 303
    again = Client(server.url).sign_in(link)
    assert again.status == 403 and "redan använd eller för gammal" in again.body


def test_an_expired_link_is_refused(site):
    settings, server = site
    link = server.link(settings, "rut", now=datetime.now(timezone.utc) - timedelta(minutes=11))
    page = Client(server.url).sign_in(link)
    assert page.status == 403 and not page.headers.get("set-cookie")


def test_nobody_outside_the_directory_gets_a_link(site, capsys):
    settings, _ = site
    code = cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "web-link", "--as", "okand.person@example.com"])
    assert code == 2 and "finns inte i organisationsfilen" in capsys.readouterr().err


def test_web_link_prints_a_working_link(site, capsys):
    settings, server = site
    assert cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "web-link", "--as", "maria"]) == 0
    printed = capsys.readouterr().out
    assert "gäller i 10 minuter" in printed
    path = printed.split("http://127.0.0.1:8080", 1)[1].split()[0]
    assert Client(server.url).sign_in(path).status == 303


def test_tokens_are_stored_hashed(site):
    settings, server = site
    link = server.link(settings, "rut")
    token = link.rsplit("/", 1)[1]
    stored = (settings.data_dir / "web" / "login-tokens.json").read_text()
    assert token not in stored
    assert stat.S_IMODE(os.stat(settings.data_dir / "web" / "login-tokens.json").st_mode) == 0o600


def test_a_manager_sees_only_their_units(site):
    anna = signed_in(site, "anna")        # Hemtjänst Norr and Kommunal hemsjukvård
    listing = anna.get("/arenden?ar=2026").body
    assert "VOK 2026/0001" in listing and "VOK 2026/0004" in listing
    assert "VOK 2026/0002" not in listing and "VOK 2026/0003" not in listing
    # another unit's case by URL: the same answer as a case that does not exist
    other, missing = anna.get("/arenden/2026/2"), anna.get("/arenden/2026/999")
    assert other.status == missing.status == 404
    assert other.body == missing.body
    assert anna.get("/enheter/hemtjanst-soder").status == 404
    assert anna.get("/enheter/hemtjanst-norr").status == 200


def test_filters_and_search(site):
    rut = signed_in(site, "rut")
    soder = rut.get("/arenden?enhet=hemtjanst-soder").body
    assert "VOK 2026/0002" in soder and "VOK 2025/0005" in soder and "VOK 2026/0001" not in soder
    assert "2 ärenden matchar" in soder
    overdue = rut.get("/arenden?forsenade=1&ar=2026").body
    assert "VOK 2026/0003" in overdue and "VOK 2026/0001" not in overdue
    # search by the counterpart's reference (in the mail's subject) and by a loose number
    assert "VOK 2027/0001" in rut.get("/arenden?sok=rx-4711").body
    found = rut.get("/arenden?sok=2026%2F2").body
    assert "VOK 2026/0002" in found and "1 ärende matchar" in found


def test_pages_are_redacted_and_escaped(site):
    rut = signed_in(site, "rut")
    case = rut.get("/arenden/2027/1")
    assert case.status == 200
    assert "&lt;b&gt;fel dos&lt;/b&gt;" in case.body and "<b>fel dos" not in case.body
    mail = rut.get("/arenden/2027/1/handlingar/1")
    assert mail.status == 200
    assert "[personnummer]" in mail.body and PNR not in mail.body
    assert not contains_personnummer(mail.body)
    assert "<script>" not in mail.body and "&lt;script&gt;" in mail.body
    assert "default-src 'none'" in mail.headers["content-security-policy"]
    attachment = rut.get("/arenden/2027/1/handlingar/1/bilagor/0")
    assert attachment.headers["content-type"] == "application/octet-stream"
    assert attachment.headers["content-disposition"].startswith("attachment;")


def test_managers_see_mail_metadata_only(site):
    anna = signed_in(site, "anna")
    case = anna.get("/arenden/2027/1")
    assert case.status == 200 and "/handlingar/1" not in case.body
    assert "bara för registrator, MA och SAS" in case.body
    assert anna.get("/arenden/2027/1/handlingar/1").status == 403
    assert anna.get("/arenden/2027/1/handlingar/1/bilagor/0").status == 403


def test_every_case_and_mail_view_is_in_the_read_log(site, capsys):
    settings, _ = site
    sven = signed_in(site, "sven")
    assert sven.get("/arenden/2026/1").status == 200
    assert sven.get("/arenden/2027/1/handlingar/1").status == 200
    assert sven.get("/arenden/2027/1/handlingar/1/bilagor/0").status == 200
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    path = settings.data_dir / "readlog" / f"{month}.jsonl"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    mine = [(e["case"], e["what"], e["channel"]) for e in entries if e["person"] == "sven"]
    assert mine[-3:] == [("VOK 2026/0001", "case", "webb"), ("VOK 2027/0001", "mail", "webb"),
                         ("VOK 2027/0001", "attachment", "webb")]
    today = datetime.now(timezone.utc).date().isoformat()
    capsys.readouterr()
    assert cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "logg", "--from", today, "--to", today]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["tid", "person", "ärende", "vad", "kanal", "handling", "detalj"]
    assert ["sven", "VOK 2027/0001", "attachment", "webb", "1", "rapport.html"] in \
        [r[1:] for r in rows[1:]]


def test_the_report_page_has_the_charts(site):
    rut = signed_in(site, "rut")
    page = rut.get("/rapport?ar=2026").body
    for chart in ("chart-inflow", "chart-steps", "chart-overdue"):
        assert f'id="{chart}"' in page
    assert "11 ärenden (2025: 5 ärenden" in page


# --------------------------------------------------------------------------- pure parts
def test_row_access_matches_the_chat_rule(org):
    """The list filters rows with the same answer can_view gives on the whole case."""
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    index = DiaryIndex.build(fixed_cases(), org, calendar)
    cases = {c.key: c for c in fixed_cases()}
    now = datetime(2027, 1, 15, tzinfo=timezone.utc)
    for person in [*org.people, "stranger"]:
        shown = {r.key for r in index.query(Filters(), index.visible(org, person), now)}
        expected = {k for k, c in cases.items() if can_view(org, Actor.person(person), c)}
        assert shown == expected, person
        assert all(can_view_row(org, person, r) == (r.key in expected) for r in index.rows)


def test_a_token_is_redeemed_once_across_two_stores(tmp_path):
    """Two processes share the token file: the second redemption finds it used."""
    now = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)
    token = LoginTokens(tmp_path).issue("rut", now)
    assert LoginTokens(tmp_path).redeem(token, now + timedelta(minutes=1)) == "rut"
    assert LoginTokens(tmp_path).redeem(token, now + timedelta(minutes=2)) is None
    late = LoginTokens(tmp_path).issue("rut", now)
    assert LoginTokens(tmp_path).redeem(late, now + timedelta(minutes=10)) is None
    assert LoginTokens(tmp_path).redeem("nonsense", now) is None


def test_a_bundles_link_lists_exactly_its_cases(site):
    """The link at the end of a bundled notification ("… och 37 till", issue 24)."""
    rut = signed_in(site, "rut")
    listing = rut.get("/arenden?nr=VOK-2026-0001,VOK-2026-0003,inte-ett-nummer").body
    assert "VOK 2026/0001" in listing and "VOK 2026/0003" in listing
    assert "VOK 2026/0002" not in listing and "2 ärenden matchar" in listing
    anna = signed_in(site, "anna")            # still only what the person may see
    mine = anna.get("/arenden?nr=VOK-2026-0001,VOK-2026-0002").body
    assert "VOK 2026/0001" in mine and "VOK 2026/0002" not in mine
