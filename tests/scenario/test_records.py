"""Records management (issue 25): a secrecy marking per document (a default by the case's
kind and the unit's care, changed by the registrator with `sekretess`), a public title beside
the real one (`publik`), and the public diary (`diarium --offentlig`) that shows for each
document only what OSL 5 kap. 2 § asks, leaving out sender and description where a document
is marked secret — never a personnummer, a patient's name or a mail's subject."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

from bot import cli
from bot.domain.access import Actor
from bot.domain.records import parse_paragraph
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

PNR = "19121212-1212"
PATIENT = "Greta Gustavsson"


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "slack")


def utc(day: int, hour: int = 8) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


def diarise(bot) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse {PATIENT} {PNR} fel dos, Hemtjänst Norr",
        body=f"Patienten {PATIENT} ({PNR}) fick fel dos.", message_id="<rec-1@regionexempel.se>",
        date=utc(16)))
    assert result["outcome"] == "new_case", result
    answer = bot.services.ingest_mail(make_mail(
        sender="Anna Andersson <anna.andersson@exempelby.se>",
        subject=f"SV: {result['diary_number']} svar om {PATIENT}", body="Vi har gått igenom rutinen.",
        message_id="<rec-2@exempelby.se>", date=utc(17)))
    assert answer["outcome"] == "added_to_case", answer
    return result["diary_number"]


def diarium(settings, capsys, *extra) -> str:
    capsys.readouterr()
    assert cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "diarium", "--offentlig", "--från", "2026-11-01", "--till", "2026-11-30",
                     *extra]) == 0
    return capsys.readouterr().out


def test_paragraphs_are_read_as_people_write_them():
    assert parse_paragraph("25:1") == "OSL 25 kap. 1 §"
    assert parse_paragraph("OSL 26 kap. 1 §") == "OSL 26 kap. 1 §"
    assert parse_paragraph("26 kap 1 a §") == "OSL 26 kap. 1 a §"
    assert parse_paragraph("offentlig") == "offentlig"
    assert parse_paragraph("hemligt") is None


def test_a_new_document_carries_the_default_marking_for_the_units_care(bot):
    number = diarise(bot)
    status = bot.services.status_json(bot.store.get_case_by_text(number))
    # Hemtjänst Norr is socialtjänst: OSL 26 kap. 1 §, on both documents
    assert [d["secrecy"] for d in status["documents"]] == ["OSL 26 kap. 1 §"] * 2
    assert status["public_title"] == "Inkommande avvikelse från Region Exempel, Hemtjänst Norr"
    text = say(bot, "rut", f"status {number}").text
    assert "Sekretess: OSL 26 kap. 1 §" in text and PNR not in text


def test_only_the_registrator_marks_and_every_change_is_an_event(bot):
    number = diarise(bot)
    denied = say(bot, "anna", f"sekretess {number} 2 offentlig")
    assert not denied.ok and "Bara registrator" in denied.text
    done = say(bot, "rut", f"sekretess {number} 2 offentlig")
    assert done.ok and "varning" in done.text
    case = bot.store.get_case_by_text(number)
    event = case.events[-1]
    assert event.what == "secrecy" and event.who == "rut" and event.details["to"] is None
    assert case.documents[1].secrecy["by"] == "rut" and case.documents[1].secrecy["at"]
    assert say(bot, "rut", f"sekretess {number} 1 25:1").ok
    assert bot.store.get_case_by_text(number).documents[0].secrecy["paragraph"] == "OSL 25 kap. 1 §"
    bad = say(bot, "rut", f"sekretess {number} 1 hemligt")
    assert not bad.ok and "25:1" in bad.text
    assert not say(bot, "rut", f"sekretess {number} 9 25:1").ok
    odd = say(bot, "rut", f"sekretess {number} ² 25:1")        # "²".isdigit(), int("²") fails
    assert not odd.ok and "handlingens nummer" in odd.text


def test_the_public_title_never_names_a_person(bot):
    number = diarise(bot)
    reply = say(bot, "rut", f"publik {number} Fel dos till Anna Anderssons brukare {PNR}")
    assert reply.ok
    title = bot.store.get_case_by_text(number).public_title
    assert "Anna" not in title and "Andersson" not in title and PNR not in title
    assert not say(bot, "anna", f"publik {number} Något annat").ok


def test_the_public_diary_shows_what_osl_5_2_asks_and_nothing_secret(bot, settings, capsys):
    number = diarise(bot)
    assert say(bot, "rut", f"sekretess {number} 2 offentlig").ok     # the unit's answer
    bot.close()
    rows = list(csv.reader(io.StringIO(diarium(settings, capsys, "--csv"))))
    assert rows[0][:3] == ["datum", "diarienummer", "handling"]
    first, second = rows[1], rows[2]
    assert first[:4] == ["2026-11-16", number, "1", "inkommen"]
    assert first[4] == "" and first[5] == "" and first[6] == "OSL 26 kap. 1 §"   # secret
    assert second[:2] == ["2026-11-17", number]
    assert second[4] == "Hemtjänst Norr" and second[5].startswith("Svar:") and second[6] == ""
    whole = diarium(settings, capsys) + diarium(settings, capsys, "--json")
    for secret in (PNR, "121212", PATIENT, "Greta", "Gustavsson", "lisa.larsson", "Lisa",
                   "fel dos", "Anna"):
        assert secret not in whole, secret
    listed = json.loads(diarium(settings, capsys, "--json"))
    assert [r["document"] for r in listed] == [1, 2]


def test_the_diary_period_is_inclusive_and_bad_dates_are_refused(bot, settings, capsys):
    diarise(bot)
    bot.close()
    capsys.readouterr()
    base = ["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir), "diarium"]
    assert cli.main([*base, "--offentlig", "--från", "2026-11-17", "--till", "2026-11-17",
                     "--json"]) == 0
    assert [r["document"] for r in json.loads(capsys.readouterr().out)] == [2]
    assert cli.main([*base, "--offentlig", "--från", "17/11", "--till", "2026-11-17"]) == 2
    assert cli.main([*base, "--från", "2026-11-01", "--till", "2026-11-30"]) == 2
