"""Issue 16, the pure parts: the grammar of anteckning, länka, sök, lex and ivo; the Lex step
and the words that ask for it; who assesses by the unit's kind of care; the configuration;
`hjälp` per role."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.commands import parse
from bot.domain import process as proc
from bot.domain.access import Actor
from bot.domain.case import DOC_DEVIATION, INCOMING, Document, iso
from bot.errors import ConfigError, PermissionDenied
from bot.help import help_text
from bot.settings import load_organisation
from tests.conftest import EXAMPLE_CONFIG

T0 = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)


def opened(org, *, unit="hemsjukvard", severity=None, subject="Avvikelse: fel dos"):
    document = Document(no=1, type=DOC_DEVIATION, received=iso(T0), sender="x@regionexempel.se",
                        subject=subject)
    return proc.open_case(number="VOK 2026/0001", key=2026_000_001, kind=INCOMING, title=subject,
                          document=document, unit=unit, counterpart="region-exempel",
                          severity=severity, conversation_id=None,
                          ctx=proc.Context(org, Actor.mail("x@regionexempel.se"), "mail", T0))


# --------------------------------------------------------------------------- grammar
def test_lex_grammar_with_and_without_ivos_reference(org):
    command = parse("lex VOK 2026/1 maria Fel dos gavs, risk för vårdskada ivo 3.5.1-9/2026", org)
    assert command.action == proc.RecordLex("maria", "Fel dos gavs, risk för vårdskada", "3.5.1-9/2026")
    assert parse("lex 2026/1 ingen Ingen skada", org).action == proc.RecordLex("ingen", "Ingen skada")
    assert parse("lex 2026/1 none No harm", org).action == proc.RecordLex("ingen", "No harm")
    bad = parse("lex 2026/1 kanske Vet inte", org)
    assert bad.name == "help" and "maria, sarah eller ingen" in bad.error
    assert parse("ivo 2026/1 3.5.1-9/2026", org).action == proc.RecordIvo("3.5.1-9/2026")
    assert parse("ivo 2026/1", org).name == "help"


def test_note_link_and_search_grammar(org):
    assert parse("anteckning 2026/1 Ringde regionen", org).action == proc.AddNote("Ringde regionen")
    assert parse("länka 2026/1 VOK 2026/7", org).action == proc.Link("VOK 2026/0007")
    search = parse("sök dosapoteket oktober", org)
    assert (search.name, search.args, search.read_only) == ("search", {"text": "dosapoteket oktober"}, True)
    assert parse("sök ab", org).name == "help"


# --------------------------------------------------------------------------- the Lex step
def test_serious_words_and_red_ask_the_assessors_of_the_units_kind_of_care(org):
    plain = opened(org)
    assert plain.case.lex_requested is None and proc.lex_step(plain.case, org) is None
    worded = opened(org, subject="Avvikelse: ALLVARLIG VÅRDSKADA vid hembesök")
    assert worded.case.lex_requested["assessors"] == ["maria"]           # health care: the MA
    assert [n.event for n in worded.notices] == ["incoming_diarised", "lex_requested"]
    step = proc.lex_step(worded.case, org)
    assert (step.name, step.owners, step.days) == ("lex", ("maria",), 2)
    red_social = opened(org, unit="hemtjanst-norr", severity="red")
    assert red_social.case.lex_requested["assessors"] == ["sven"]        # social services: SAS
    assert opened(org, unit="solgarden", severity="red").case.lex_requested["assessors"] == [
        "maria", "sven"]                                                 # both kinds of care


def test_a_decision_ends_the_step_and_only_ma_or_sas_make_it(org):
    case = opened(org, severity="red").case
    ctx = proc.Context(org, Actor.person("maria"), "slack", T0)
    with pytest.raises(PermissionDenied):
        proc.apply(case, proc.RecordLex("ingen", "Ingen skada"),
                   proc.Context(org, Actor.person("anna"), "slack", T0))
    decided = proc.apply(case, proc.RecordLex("ingen", "Ingen skada 19121212-1212"), ctx).case
    assert proc.lex_step(decided, org) is None
    assert "19121212" not in decided.lex_decision["reason"]
    assert decided.lex_decision["at"] == iso(T0) and decided.lex_decision["by"] == "maria"


def test_signals_serious_harm_is_case_blind_and_configurable():
    assert proc.signals_serious_harm(["Brukaren AVLED"], ("avled",))
    assert not proc.signals_serious_harm(["Brukaren mår bra"], ("avled",))


# --------------------------------------------------------------------------- configuration
def test_patient_safety_configuration(tmp_path, org):
    assert org.units["hemsjukvard"].care == "hälso- och sjukvård"
    assert org.patient_safety.assess_days == 2 and "avled" in org.patient_safety.serious_words
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    path = tmp_path / "org.toml"
    path.write_text(text.replace('assess_days = 2', 'assess_days = 4').replace(
        '"missförhållande", "lex maria", "lex sarah"]', '"Fallskada"]'), encoding="utf-8")
    custom = load_organisation(path)
    assert custom.patient_safety.assess_days == 4 and "fallskada" in custom.patient_safety.serious_words
    path.write_text(text.replace('care = "båda"', 'care = "sjukvård"', 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_organisation(path)
    assert caught.value.key.endswith(".care") and "socialtjänst" in caught.value.problem


def test_help_shows_lex_to_ma_and_sas_only():
    assert "lex <dnr> maria|sarah|ingen" in help_text("sv", ["ma"])
    assert "ivo <dnr> <referens>" in help_text("sv", ["sas"])
    assert "lex <dnr>" not in help_text("sv", ["manager"])
    assert "lex <dnr>" not in help_text("sv", ["registrator"])


# --------------------------------------------------------------------------- kvittera
def _escalations(case, org, cal, day: int, month: int = 11):
    from reminders.rules import due_reminders
    now = datetime(2026, month, day, 8, 0, tzinfo=cal.tz)
    return [(d.recipient, d.due.date().isoformat()) for d in due_reminders(case, now, cal, org)
            if d.level == "escalation" and d.step == "register"]


def test_an_acknowledged_escalation_stops_and_starts_again_if_the_step_stays_open(org):
    from reminders.calendar import BusinessCalendar
    cal = BusinessCalendar("Europe/Stockholm")
    case = opened(org, unit="hemtjanst-norr").case          # register by Wed 18, escalate Mon 23
    assert _escalations(case, org, cal, 23) == [("maria", "2026-11-23"), ("sven", "2026-11-23")]
    assert _escalations(case, org, cal, 25) == [("maria", "2026-11-25"), ("sven", "2026-11-25")]
    acked = proc.apply(case, proc.Acknowledge(), proc.Context(
        org, Actor.person("sven"), "slack", datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))).case
    assert acked.acks == [{"step": "register", "by": "sven", "at": "2026-11-23T09:00:00+00:00"}]
    assert _escalations(acked, org, cal, 24) == []           # acknowledged: no repeat
    assert _escalations(acked, org, cal, 25) == []
    # still open three business days after (Thu 26): the chain starts again
    assert _escalations(acked, org, cal, 26) == [("maria", "2026-11-26"), ("sven", "2026-11-26")]
    # the owner's own reminders never stop for an acknowledgement
    from reminders.rules import due_reminders
    now = datetime(2026, 11, 25, 8, 0, tzinfo=cal.tz)
    assert [d.recipient for d in due_reminders(acked, now, cal, org) if d.level == "reminder"] == ["anna"]
    # a step done is a step done: the next step's escalations are its own
    registered = proc.apply(acked, proc.Register(), proc.Context(
        org, Actor.person("anna"), "slack", datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc))).case
    assert _escalations(registered, org, cal, 25) == []


def test_kvittera_grammar_access_and_the_button_on_an_escalation(org):
    from bot.chat.render import notification_view, reminder_view
    assert parse("kvittera VOK 2026/1", org).action == proc.Acknowledge()
    case = opened(org, unit="hemtjanst-norr", severity="red").case
    with pytest.raises(PermissionDenied):                    # not Bengt's unit
        proc.apply(case, proc.Acknowledge(), proc.Context(org, Actor.person("bengt"), "slack", T0))
    view = reminder_view(org, case, step="register", level="escalation", deadline=T0,
                         calendar_local=lambda d: d, owners=["anna"])
    assert [(a["id"], a["command"]) for a in view["actions"]] == [("acknowledge", "kvittera VOK 2026/0001")]
    assert "kvittera VOK 2026/0001" in view["commands"]
    copy = notification_view(org, case, "incoming_diarised", "info", None)
    assert [a["command"] for a in copy["actions"]] == ["kvittera VOK 2026/0001"]
    green = opened(org, unit="hemtjanst-norr", severity="green").case
    assert notification_view(org, green, "incoming_diarised", "info", None)["actions"] == []
