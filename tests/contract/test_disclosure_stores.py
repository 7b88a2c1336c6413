"""Utlämnande (issue 25), on TinyDB and PostgreSQL: a request for documents becomes a case
of its own with its own diary number, linked both ways; the registrators are reminded in
office hours the same day (after 2 and 4 office hours, each moment once) until the decision
is recorded; the masked copy leaves no personnummer, no directory name and no value of a
`Namn:`-style line, in its text or its PDF, and keeps the rest; the decision is an event that
closes the request, a refusal needs its reason and tells of the appealable decision; only the
registrator may do any of it."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pypdf
import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.domain.diary import parse_diary_number
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

# Monday 7 December 2026; Stockholm is UTC+1 in winter, office hours 08:00-16:30
def utc(hour: int, minute: int = 0, day: int = 7) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=timezone.utc)


BODY = """Hej,
vid morgonbesöket föll brukaren i badrummet och fick ett sår på armen.
Namn: Kalle Karlsson
Personnummer: 19121212-1212
Anhörig: Lotta Lindqvist, dotter
Patientens namn : Kalle Karlsson
Enhetschef Anna Andersson är informerad, och Bengts rapport följer.
Samordningsnummer i löptext: 19121272-1219 också.
Åtgärd: larmet flyttas närmare sängen.
"""
SECRETS = ("19121212-1212", "19121212", "19121272", "Kalle", "Karlsson", "Lotta", "Lindqvist",
           "Anna", "Andersson", "Bengt")
KEPT = ("föll brukaren i badrummet", "Åtgärd: larmet flyttas närmare sängen", "Namn:",
        "Anhörig:", "[maskerat OSL 26:1]")


@pytest.fixture(params=["tinydb", "postgresql"])
def office(request, org, tmp_path):
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org, env={})
    if request.param == "tinydb":
        store = TinyDbCaseStore(settings.data_dir)
    else:
        store = PostgresCaseStore(request.getfixturevalue("database_url"))
    clock = FixedClock(utc(8))
    bot = build(settings, notifiers={"console": FakeNotifier()}, store=store, clock=clock,
                sender=FakeMailSender())
    yield bot, clock
    bot.close()


def say(bot, who: str, text: str, ok: bool = True):
    reply = bot.services.handle_command(Actor.person(who), text, "slack")
    assert reply.ok is ok, reply.text
    return reply.text


def deviation(bot) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse fall Hemtjänst Norr", body=BODY,
        message_id="<utl-1@regionexempel.se>", date=utc(7)), arrived=utc(7))
    assert result["outcome"] == "new_case", result
    return result["diary_number"]


def disclosure_reminders(bot, when: datetime) -> list[dict]:
    return [r for r in bot.services.run_reminders(when) if r["step"] == "disclosure"]


def test_a_request_is_a_case_reminded_in_hours_masked_and_decided(office):
    bot, clock = office
    number = deviation(bot)
    clock.set(utc(8))                                 # 09:00 local
    refused = say(bot, "anna", f"utlämna {number} 1", ok=False)
    assert "registrator" in refused.casefold()
    answer = say(bot, "rut", f"utlämna {number} 1")
    request = "VOK 2026/0002"
    assert request in answer, "a refused request used no diary number"
    case = bot.store.get_case_by_text(request)
    assert case.kind == "request" and case.status == "diarised" and case.links == [number]
    assert request in bot.store.get_case_by_text(number).links
    status = say(bot, "rut", f"status {request}")
    assert number in status and "väntar sedan 2026-12-07 09:00" in status

    # the clock runs in office hours: nothing before two hours, then once per moment
    assert disclosure_reminders(bot, utc(9, 59)) == []
    first = disclosure_reminders(bot, utc(10, 5))         # 11:05 local
    assert [(r["recipient"], r["already_sent"]) for r in first] == [("rut", False)]
    assert [r["already_sent"] for r in disclosure_reminders(bot, utc(11, 30))] == [True]
    second = disclosure_reminders(bot, utc(12, 0))       # 13:00 local = 4 office hours
    assert [(r["recipient"], r["already_sent"]) for r in second] == [("rut", False)]
    assert disclosure_reminders(bot, utc(17)) == [], "nothing outside office hours"

    # the masked copy: text and PDF, both without the secrets, with the rest
    source, copies = bot.services.disclosure.copies(Actor.person("rut"),
                                                    parse_diary_number(request, "VOK"))
    assert source.number == number and len(copies) == 1
    copy = copies[0]
    assert copy.paragraph == "OSL 26 kap. 1 §"          # Hemtjänst Norr: socialtjänst
    pdf_text = "\n".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(copy.pdf)).pages)
    for text in (copy.text, pdf_text):
        for secret in SECRETS:
            assert secret not in text, (secret, text)
        for kept in KEPT:
            assert kept in " ".join(text.split()) or kept in text, (kept, text)
    with pytest.raises(Exception, match="registrator"):
        bot.services.disclosure.copies(Actor.person("anna"), parse_diary_number(number, "VOK"))

    # the decision: a refusal needs its reason; a request closes only by its decision
    say(bot, "rut", f"utlämna {request} beslut avslag", ok=False)
    say(bot, "rut", f"avsluta {request} klar", ok=False)
    say(bot, "rut", f"utlämna {number} beslut lämnas ut", ok=False)   # not a request
    done = say(bot, "rut", f"utlämna {request} beslut lämnas ut med maskering")
    assert "lämnas ut med maskering (OSL 26 kap. 1 §)" in done
    case = bot.store.get_case_by_text(request)
    decided = [e for e in case.events if e.what == "disclosure_decided"]
    assert case.status == "closed" and len(decided) == 1
    assert decided[0].who == "rut" and decided[0].details["decision"] == "masked"
    assert decided[0].details["paragraph"] == "OSL 26 kap. 1 §"
    assert "lämnas ut med maskering (OSL 26 kap. 1 §) – Rut Registrator" in say(
        bot, "rut", f"status {request}")
    assert f"{request} (2026-12-07 09:00 +01:00): lämnas ut med maskering" in say(
        bot, "rut", f"status {number}")
    say(bot, "rut", f"utlämna {request} beslut lämnas ut", ok=False)   # decided once
    assert disclosure_reminders(bot, utc(15)) == []


def test_a_refusal_says_why_and_that_an_appealable_decision_can_be_asked_for(office):
    bot, clock = office
    number = deviation(bot)
    say(bot, "rut", f"utlämna {number}")
    done = say(bot, "rut", "utlämna VOK 2026/0002 beslut avslag 25:1 uppgift om hälsotillstånd")
    assert "avslag (OSL 25 kap. 1 §)" in done and "kammarrätten" in done
    case = bot.store.get_case_by_text("VOK 2026/0002")
    event = next(e for e in case.events if e.what == "disclosure_decided")
    assert event.details == {"decision": "refused", "paragraph": "OSL 25 kap. 1 §",
                             "reason": "uppgift om hälsotillstånd"}
    assert case.close_reason == "avslag: uppgift om hälsotillstånd"
