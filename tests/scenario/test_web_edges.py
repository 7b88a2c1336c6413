"""The web overview at its edges (issue 23): a page of another site cannot sign anyone in or
out, direction controls from a subject never reorder what a page shows, a download name is
redacted like the page, odd numbers in a URL are a 404 and never a 500, a refused look is in
the read log, and the server does not name its library. Over real HTTP to `avvikelsebot web`."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from email.message import EmailMessage

import pytest

from bot.domain.redact import contains_personnummer
from tests.conftest import EXAMPLE_CONFIG
from tests.web_support import Client, WebProcess

RLO = "\u202e"
ARRIVED = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)


def mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Patientsäkerhet <avvikelse@regionexempel.se>"
    message["To"] = "registrator.vok@exempelby.se"
    message["Subject"] = f"Avvikelse Hemtjänst Norr {RLO}fdp.exe{chr(0x202c)} bilaga"
    message["Message-ID"] = "<edges-1@regionexempel.se>"
    message["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
    message.set_content(f"Se bilagan {RLO}gnidrocer.exe\n")
    message.add_attachment(b"journal", maintype="text", subtype="plain",
                           filename="journal 121212-1212.txt")
    return message.as_bytes()


@pytest.fixture(scope="module")
def site(tmp_path_factory, org):
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    data = tmp_path_factory.mktemp("edges") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(ARRIVED),
                sender=FakeMailSender())
    result = bot.services.ingest_many([(mail(), ARRIVED, None)])[0]
    assert result["outcome"] == "new_case", result
    bot.close()
    server = WebProcess(data).start()
    yield settings, server, result["diary_number"]
    server.stop()


def case_path(number: str) -> str:
    year, seq = number.split()[1].split("/")
    return f"/arenden/{year}/{int(seq)}"


def signed_in(site, person: str) -> Client:
    settings, server, _ = site
    client = Client(server.url)
    page = client.sign_in(server.link(settings, person))
    assert page.status == 303, page
    return client


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Origin": "null"},
])
def test_a_page_of_another_site_cannot_sign_anyone_in(site, headers):
    settings, server, _ = site
    victim = Client(server.url)
    link = server.link(settings, "sven")                     # the attacker's own link
    page = victim.request("POST", link[len(server.url):], headers=headers)
    assert page.status == 403 and not victim.cookie
    # the link was not spent by the refused request: its owner can still use it
    assert Client(server.url).sign_in(link).status == 303


def test_sign_in_from_the_page_itself_works(site):
    settings, server, _ = site
    client = Client(server.url)
    link = server.link(settings, "sven")
    page = client.request("POST", link[len(server.url):],
                          headers={"Origin": server.url, "Sec-Fetch-Site": "same-origin"})
    assert page.status == 303 and client.cookie


def test_sign_out_from_another_site_is_refused_and_a_real_one_ends_the_session(site):
    sven = signed_in(site, "sven")
    refused = sven.request("POST", "/utloggning", headers={"Origin": "https://evil.example"})
    assert refused.status == 403
    assert sven.get("/arenden").status == 200
    cookie = sven.cookie
    assert sven.request("POST", "/utloggning", headers={"Sec-Fetch-Site": "same-origin"}).status == 303
    stale = Client(site[1].url)
    stale.cookie = cookie                                     # the old session id, kept
    assert stale.get("/arenden").status == 401


def test_direction_controls_never_reach_a_page(site):
    _, _, number = site
    rut = signed_in(site, "rut")
    for path in ("/arenden", case_path(number), case_path(number) + "/handlingar/1"):
        page = rut.get(path)
        assert page.status == 200, path
        assert RLO not in page.body and "\u202c" not in page.body, path


def test_a_download_name_is_redacted_like_the_page(site):
    _, _, number = site
    rut = signed_in(site, "rut")
    page = rut.get(case_path(number) + "/handlingar/1/bilagor/0")
    assert page.status == 200
    disposition = page.headers["content-disposition"]
    assert not contains_personnummer(disposition) and "personnummer" in disposition


@pytest.mark.parametrize("path", ["/arenden?ar=" + "9" * 5000, "/arenden?sida=" + "9" * 5000,
                                  "/rapport?ar=" + "9" * 5000, "/arenden?ar=%C2%B2",
                                  "/arenden?sida=%C2%B2",
                                  "/arenden/2026/1/handlingar/" + "1" * 5000,
                                  "/arenden/2026/1/handlingar/1/bilagor/" + "1" * 5000],
                         ids=["year-5000-digits", "page-5000-digits", "report-5000-digits",
                              "year-superscript", "page-superscript", "document-5000-digits",
                              "attachment-5000-digits"])
def test_odd_numbers_in_a_url_are_never_a_server_error(site, path):
    rut = signed_in(site, "rut")
    assert rut.get(path).status in (200, 404)


def test_a_refused_look_is_in_the_read_log(site):
    settings, _, number = site
    bengt = signed_in(site, "bengt")                          # manager of another unit
    assert bengt.get(case_path(number)).status == 404
    month = datetime.now(timezone.utc).strftime("%Y-%m")
    entries = [json.loads(line) for line in
               (settings.data_dir / "readlog" / f"{month}.jsonl").read_text().splitlines()]
    assert any(e["person"] == "bengt" and e["case"] == number and e["what"] == "refused"
               for e in entries)


def test_the_server_does_not_name_its_library(site):
    client = Client(site[1].url)
    for path in ("/arenden", "/inloggning", "/static/style.css", "/finns-inte"):
        server = client.get(path).headers.get("server", "")
        assert "aiohttp" not in server.lower() and "python" not in server.lower(), (path, server)
