"""A request for documents among the other records (issue 25): the web case pages of the
request and of the requested case show the request and the decision; the public diary lists
the request with "enskild" as its sender and no name; a year with a request is archived with
ERMS files that validate; the year's report and lists still work with a request in them."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from lxml import etree

from bot import cli
from bot.app import build
from bot.domain.access import Actor
from bot.ports import FixedClock
from bot.settings import Settings
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier
from tests.web_support import Client, WebProcess

SCHEMA = REPO / "bot" / "archive" / "schema" / "ERMS_v3.xsd"
WHEN = datetime(2026, 12, 7, 8, tzinfo=timezone.utc)


def say(bot, who: str, text: str) -> str:
    reply = bot.services.handle_command(Actor.person(who), text, "slack")
    assert reply.ok, reply.text
    return reply.text


def diary(org, tmp_path) -> Settings:
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(WHEN),
                sender=FakeMailSender())
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse Greta Gustavsson 19121212-1212 Hemtjänst Norr",
        body="Namn: Greta Gustavsson\nFallet skedde i hallen.\n",
        message_id="<utl-web@regionexempel.se>", date=WHEN), arrived=WHEN)
    assert result["diary_number"] == "VOK 2026/0001"
    say(bot, "rut", "utlämna VOK 2026/0001")
    say(bot, "rut", "utlämna VOK 2026/0002 beslut avslag uppgifter om enskilds förhållanden")
    assert "VOK 2026/0002" in bot.services.list_text(bot.store.open_cases()
                                                     + [bot.store.get_case_by_text("VOK 2026/0002")])
    report = bot.services.report(2026)
    assert report["counts"]["kind"] == {"incoming": 1, "request": 1}
    bot.close()
    return settings


def test_the_web_pages_show_the_request_and_its_decision(org, tmp_path):
    settings = diary(org, tmp_path)
    server = WebProcess(settings.data_dir).start()
    try:
        rut = Client(server.url)
        assert rut.sign_in(server.link(settings, "rut")).status == 303
        request = rut.get("/arenden/2026/2")
        assert request.status == 200
        assert "Beslut om utlämnande" in request.body
        assert ("avslag (OSL 26 kap. 1 §): uppgifter om enskilds förhållanden – Rut "
                "Registrator 2026-12-07 09:00") in request.body
        assert "VOK 2026/0001" in request.body and "Greta" not in request.body
        requested = rut.get("/arenden/2026/1")
        assert requested.status == 200
        assert "VOK 2026/0002" in requested.body and "Begäran om allmän handling" in requested.body
        for path in ("/arenden", "/rapport"):
            assert rut.get(path).status == 200, path
    finally:
        server.stop()


def test_the_public_diary_and_the_archive_take_the_request(org, tmp_path, capsys):
    settings = diary(org, tmp_path)
    base = ["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir)]
    capsys.readouterr()
    assert cli.main([*base, "diarium", "--offentlig", "--från", "2026-12-01",
                     "--till", "2026-12-31"]) == 0
    out = capsys.readouterr().out
    line = next(l for l in out.splitlines() if "VOK 2026/0002:1" in l)
    assert "enskild" in line and "Begäran om utlämnande av allmän handling: VOK 2026/0001" in line
    assert "Greta" not in out and "19121212" not in out
    assert cli.main([*base, "arkivera", "--år", "2026", "--till", str(tmp_path / "ut")]) == 0
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    files = sorted((tmp_path / "ut" / "VOK-2026" / "metadata" / "descriptive").glob("*.xml"))
    assert len(files) == 2
    for path in files:
        document = etree.parse(str(path))
        assert schema.validate(document), (path.name, schema.error_log)
        assert b"Greta" not in Path(path).read_bytes()
