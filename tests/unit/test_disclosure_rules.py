"""Utlämnande, the pure parts (issue 25): the grammar of `utlämna`, the masking of a copy,
the office-hours clock of a request and its reminder moments, the reminder's wording, and
the [records] request_reminders setting."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.chat.render import plain_text, reminder_view
from bot.commands import parse
from bot.domain import disclosure as dis
from bot.domain.case import Case, Document
from bot.errors import ConfigError
from bot.settings import load_organisation
from reminders.calendar import BusinessCalendar
from reminders.rules import due_reminders, request_moments
from tests.conftest import EXAMPLE_CONFIG

STHLM = ZoneInfo("Europe/Stockholm")


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=STHLM)


# ------------------------------------------------------------------------- grammar
@pytest.mark.parametrize("text,args", [
    ("utlämna VOK 2026/42", {"document": None}),
    ("utlamna 2026/42 2", {"document": 2}),
    ("disclose vok-2026-0042 3", {"document": 3}),
])
def test_a_request_names_a_case_and_maybe_a_document(org, text, args):
    command = parse(text, org)
    assert command.name == "disclose" and command.args == args
    assert command.number.format(4) == "VOK 2026/0042"


@pytest.mark.parametrize("text,decision,paragraph,reason", [
    ("utlämna 2026/43 beslut lämnas ut", "released", None, None),
    ("utlämna 2026/43 beslut Lämnas ut med maskering", "masked", None, None),
    ("utlämna 2026/43 beslut lämnas ut med maskering 26:1", "masked", "OSL 26 kap. 1 §", None),
    ("utlämna 2026/43 beslut avslag OSL 25:1 uppgift om hälsa", "refused", "OSL 25 kap. 1 §",
     "uppgift om hälsa"),
    ("utlämna 2026/43 beslut avslag handlingen finns inte", "refused", None,
     "handlingen finns inte"),
    ("disclose 2026/43 decision released masked", "masked", None, None),
    ("disclose 2026/43 decision refused secret", "refused", None, "secret"),
])
def test_the_decision_grammar(org, text, decision, paragraph, reason):
    command = parse(text, org)
    assert command.name == "disclose_decision", command.error
    assert command.args == {"decision": decision, "paragraph": paragraph, "reason": reason}


@pytest.mark.parametrize("text,says", [
    ("utlämna 2026/43 beslut avslag", "behöver ett skäl"),
    ("utlämna 2026/43 beslut kanske", "«lämnas ut»"),
    ("utlämna 2026/43 handling två", "handlingens nummer"),
    ("utlämna", "diarienummer"),
])
def test_a_bad_request_says_what_is_wrong_and_how(org, text, says):
    command = parse(text, org)
    assert command.name == "help" and says in command.error, command.error
    if text != "utlämna":
        assert "utlämna <dnr> [<nr>]" in command.error


# ------------------------------------------------------------------------- masking
def test_name_lines_personnummer_and_directory_names_are_masked_with_the_paragraph(org):
    text = ("- Brukare : Olle Olsson\nPATIENTENS NAMN: Olle\nAnhöriga:Karin och Per\n"
            "Kontakt via Anna Anderssons telefon. Pnr 19121212-1212.\n"
            "Namnbyte: ingen\nTelefon: 08-123 45 67\nHändelse: fall i hallen")
    masked = dis.mask_text(org, text, "OSL 26 kap. 1 §")
    assert masked.splitlines() == [
        "- Brukare : [maskerat OSL 26:1]", "PATIENTENS NAMN: [maskerat OSL 26:1]",
        "Anhöriga: [maskerat OSL 26:1]",
        "Kontakt via [maskerat OSL 26:1] telefon. Pnr [maskerat OSL 26:1].",
        "Namnbyte: ingen", "Telefon: 08-123 45 67", "Händelse: fall i hallen"]


def test_a_value_on_the_line_after_its_label_is_masked_too(org):
    masked = dis.mask_text(org, "Namn:\n  Olle Olsson\nHändelse: fall\n\nAdress:\n\nSlut", None)
    assert masked == "Namn: [maskerat]\nHändelse: fall\n\nAdress:\n\nSlut"


def test_a_name_given_on_a_name_line_is_masked_wherever_it_comes_again(org):
    text = "Brukare: Olle Olsson, sonen Per\nOlle föll; Olles son Per ringde. Ollebo och olle står kvar."
    names = dis.named_in("Avvikelse Olle Olsson\n" + text)
    assert names == {"Olle", "Olsson", "Per"}
    assert dis.mask_text(org, "Avvikelse Olle Olsson", None, names) == \
        "Avvikelse [maskerat] [maskerat]"
    assert dis.mask_text(org, text, None, names).splitlines() == [
        "Brukare: [maskerat]",
        "[maskerat] föll; [maskerat] son [maskerat] ringde. Ollebo och olle står kvar."]


def test_the_mask_names_the_documents_paragraph_in_short():
    assert dis.mask_label("OSL 25 kap. 1 §") == "[maskerat OSL 25:1]"
    assert dis.mask_label("OSL 25 kap. 1 §, OSL 26 kap. 1 §") == "[maskerat OSL 25:1, 26:1]"
    assert dis.mask_label("OSL 26 kap. 1 a §") == "[maskerat OSL 26:1 a]"
    assert dis.mask_label(None) == "[maskerat]"


# ------------------------------------------------------------------------- the clock
@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar("Europe/Stockholm")


def test_office_hours_count_only_office_time(cal):
    assert cal.add_office_hours(at(7, 9), 2) == at(7, 11)
    assert cal.add_office_hours(at(7, 15), 2) == at(8, 8, 30)        # 1.5 h Mon, 0.5 h Tue
    assert cal.add_office_hours(at(11, 16), 4) == at(14, 11, 30)     # Friday to Monday
    assert cal.add_office_hours(at(7, 6), 2) == at(7, 10)            # before office: from 08:00
    assert cal.add_office_hours(at(12, 12), 0) == at(14, 8)          # Saturday: Monday morning


def request_case(created: datetime, *, closed: bool = False) -> Case:
    return Case(number="VOK 2026/0043", key=2026000043, kind="request", title="Begäran",
                status="closed" if closed else "diarised", created=created.isoformat(),
                documents=[Document(1, "request", created.isoformat(), "enskild", "Begäran")])


def test_a_request_reminds_the_registrators_after_2_and_4_office_hours_then_every_4(org, cal):
    case = request_case(at(7, 9))
    assert [m.astimezone(STHLM) for m in request_moments(case, at(8, 12), cal, org)] == [
        at(7, 11), at(7, 13), at(8, 8, 30)]                          # 2, 4, 8 office hours
    assert due_reminders(case, at(7, 10, 59), cal, org) == []
    due = due_reminders(case, at(7, 13, 5), cal, org)
    assert [(d.recipient, d.step, d.marker) for d in due] == [
        ("rut", "disclosure", "2026-12-07T13:00+01:00")]
    assert due[0].deadline == at(7, 16, 30), "skyndsamt: the day it came in"
    assert due_reminders(case, at(7, 17), cal, org) == [], "not outside office hours"
    assert due_reminders(request_case(at(7, 9), closed=True), at(7, 13, 5), cal, org) == []


def test_the_hours_come_from_the_configuration(org, cal):
    org = replace(org, records=replace(org.records, request_reminders=(1,)))
    moments = request_moments(request_case(at(7, 9)), at(7, 12, 30), cal, org)
    assert [m.astimezone(STHLM) for m in moments] == [at(7, 10), at(7, 11), at(7, 12)]


def test_the_reminder_says_it_waits_for_a_decision_not_that_it_is_late(org, cal):
    case = request_case(at(7, 9))
    view = reminder_view(org, case, step="disclosure", level="reminder",
                         deadline=at(7, 16, 30), calendar_local=cal.local, owners=["rut"])
    text = plain_text(org, view)
    assert "väntar på beslut" in text and "2026-12-07 09:00" in text
    assert "utlämna VOK 2026/0043 beslut" in text and "Försenat" not in text


@pytest.mark.parametrize("value", ["[]", "[4, 2]", "[0]", '["två"]', "3"])
def test_a_bad_request_reminders_setting_is_refused_in_swedish(tmp_path, value):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "# request_reminders = [2, 4]", f"request_reminders = {value}", 1)
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_organisation(path)
    assert caught.value.key == "records.request_reminders"
    assert "kontorstimmar" in caught.value.problem


def test_request_reminders_read_from_the_file(tmp_path):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "# request_reminders = [2, 4]", "request_reminders = [1, 3]", 1)
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    assert load_organisation(path).records.request_reminders == (1, 3)
