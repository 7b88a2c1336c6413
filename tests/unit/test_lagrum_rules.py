"""Issue 26, pure rules: the law a case is handled under (HSL, SoL, LSS) and who that makes
investigate and assess Lex Maria / Lex Sarah; complaints from the public and suppliers'
medical-device safety notices as kinds of their own (classification, steps, closing)."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from bot.commands import parse
from bot.domain.access import Actor
from bot.domain.case import (COMPLAINT, FSN, INCOMING, OUTGOING, Case, Document, iso)
from bot.domain.lagrum import case_lagrum, decide_lagrum
from bot.domain.org import HSL, LSS, SOL
from bot.domain.process import (AddDocument, Close, Context, MarkSent, Register, SetLagrum,
                                SetUnit, apply, current_step, fsn_closing, lex_step, open_case)
from bot.errors import DomainError, PermissionDenied
from bot.mail.classify import NEW_CASE, TRIAGE, classify, parse_overrides
from bot.mail.parse import parse_mail
from tests.fakes.mail import make_mail

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
NUMBER = "VOK 2026/0001"
PRIVATE = "Karin Nilsson <karin.nilsson72@gmail.com>"
REGION = "Lisa Larsson <lisa.larsson@regionexempel.se>"
SUPPLIER = "Kvalitet <kvalitet@medicinteknik.example>"


def with_region_hsl(org):
    """The example organisation with the region's deviations marked as health care."""
    counterparts = dict(org.counterparts)
    counterparts["region-exempel"] = dataclasses.replace(counterparts["region-exempel"],
                                                         lagrum=HSL)
    return dataclasses.replace(org, counterparts=counterparts)


def with_unit(org, unit_id: str, **changes):
    units = dict(org.units)
    units[unit_id] = dataclasses.replace(units[unit_id], **changes)
    return dataclasses.replace(org, units=units)


def ctx(org, who: str | Actor = "rut", now: datetime = T0 + timedelta(hours=1)) -> Context:
    actor = who if isinstance(who, Actor) else Actor.person(who)
    return Context(org, actor, "slack", now)


def opened(org, kind: str = INCOMING, *, unit: str | None = "hemtjanst-norr",
           counterpart: str | None = "region-exempel", lagrum: str | None = None,
           sender: str = "lisa.larsson@regionexempel.se", subject: str = "Avvikelse"):
    document = Document(no=1, type="deviation", received=iso(T0), sender=sender,
                        subject=subject, message_id="first@example")
    return open_case(number=NUMBER, key=2026_000_001, kind=kind, title=subject,
                     document=document, unit=unit, counterpart=counterpart, severity=None,
                     conversation_id=None, ctx=ctx(org, Actor.mail(sender), T0), lagrum=lagrum)


# --------------------------------------------------------------------------- deciding the law
@pytest.mark.parametrize("unit,counterpart,override,kind,expected", [
    ("hemsjukvard", "region-exempel", None, INCOMING, (HSL, "unit")),      # health care
    ("hemtjanst-norr", "region-exempel", None, INCOMING, (SOL, "unit")),   # social services
    # a unit with both kinds of care: the counterpart decides (the region: HSL)
    ("solgarden", "region-exempel", None, INCOMING, (HSL, "counterpart")),
    # ... and when it says nothing, nothing does: undecided, handled as before
    ("solgarden", "apoteket", None, INCOMING, (None, None)),
    (None, "region-exempel", None, INCOMING, (HSL, "counterpart")),         # unit not known yet
    (None, None, None, OUTGOING, (None, None)),
    # the registrator's Lagrum: line wins over everything
    ("hemsjukvard", "region-exempel", LSS, INCOMING, (LSS, "registrator")),
    # a device notice is health care whatever the unit
    ("hemtjanst-norr", "medicinteknik", None, FSN, (HSL, "kind")),
])
def test_the_law_is_decided_in_order(org, unit, counterpart, override, kind, expected):
    org = with_region_hsl(org)
    assert decide_lagrum(org, kind=kind, unit=unit, counterpart=counterpart,
                         override=override) == expected


def test_a_units_own_lagrum_beats_its_care(org):
    org = with_unit(org, "hemtjanst-soder", lagrum=LSS)     # e.g. an LSS group home
    assert decide_lagrum(org, kind=INCOMING, unit="hemtjanst-soder",
                         counterpart="region-exempel") == (LSS, "unit")


def test_a_case_from_0_3_0_without_lagrum_is_read_by_its_unit(org):
    """A record written before issue 26 has no lagrum fields: read gracefully, derived."""
    stored = opened(org, unit="hemsjukvard").case.to_dict()
    del stored["lagrum"], stored["lagrum_by"], stored["fsn_closing"]
    case = Case.from_dict(stored)
    assert (case.lagrum, case.lagrum_by) == (None, None)
    assert case_lagrum(case, org) == HSL
    registered = apply(case, Register(), ctx(org, "anna")).case
    assert current_step(registered, org).owners == ("maria",)


def test_the_case_stores_its_law_and_where_it_came_from(org):
    case = opened(org, unit="hemsjukvard").case
    assert (case.lagrum, case.lagrum_by) == (HSL, "unit")
    assert Case.from_dict(case.to_dict()).lagrum == HSL


# --------------------------------------------------------------------------- who investigates
def test_hsl_investigation_goes_to_the_units_licensed_contact(org):
    case = opened(org, unit="hemsjukvard").case
    outcome = apply(case, Register(), ctx(org, "anna"))
    assert current_step(outcome.case, org).name == "respond"
    assert current_step(outcome.case, org).owners == ("maria",)
    # the licensed contact is told the investigation is theirs
    assert [(n.event, [r.person for r in n.recipients]) for n in outcome.notices] == [
        ("investigate", ["maria"])]


def test_sol_and_lss_investigation_goes_to_the_enhetschef(org):
    sol = apply(opened(org, unit="hemtjanst-norr").case, Register(), ctx(org, "anna"))
    assert current_step(sol.case, org).owners == ("anna",) and sol.notices == []
    lss = apply(opened(org, unit="hemsjukvard", lagrum=LSS).case, Register(), ctx(org, "anna"))
    assert current_step(lss.case, org).owners == ("anna", "david")


def test_without_a_configured_licensed_contact_the_subscribed_ma_investigates(org):
    org = with_unit(org, "hemsjukvard", licensed=None)
    case = apply(opened(org, unit="hemsjukvard").case, Register(), ctx(org, "anna")).case
    assert current_step(case, org).owners == ("maria",)      # subscribed to every unit


def test_lex_follows_the_law_not_only_the_units_care(org):
    """Solgården has both kinds of care: an HSL case asks the MA only (Lex Maria), an SoL
    case the SAS only (Lex Sarah); undecided, both as before."""
    org = with_region_hsl(org)
    hsl = opened(org, unit="solgarden", subject="Allvarlig vårdskada").case
    assert hsl.lex_requested["assessors"] == ["maria"]
    sol = opened(org, unit="solgarden", lagrum=SOL, subject="Allvarlig vårdskada").case
    assert sol.lex_requested["assessors"] == ["sven"]
    both = opened(org, unit="solgarden", counterpart="apoteket", subject="Allvarlig vårdskada").case
    assert both.lex_requested["assessors"] == ["maria", "sven"]
    assert lex_step(hsl, org).owners == ("maria",)


def test_lex_escalation_follows_the_law(org):
    org = dataclasses.replace(org, patient_safety=dataclasses.replace(
        org.patient_safety, escalate_maria=("david",), escalate_sarah=("cecilia",)))
    assert org.lex_escalation("solgarden", ("maria",), HSL) == ["david"]
    assert org.lex_escalation("solgarden", ("sven",), LSS) == ["cecilia"]
    assert org.lex_escalation("solgarden", ("maria", "sven")) == ["david", "cecilia"]


# --------------------------------------------------------------------------- the lagrum command
def test_lagrum_command_is_parsed_loosely_and_refuses_other_words(org):
    command = parse("lagrum VOK 2026/42 sol", org)
    assert (command.name, command.action) == ("lagrum", SetLagrum(SOL))
    assert parse("lag VOK 2026/42 LSS", org).name == "help"          # not a verb
    refused = parse("lagrum VOK 2026/42 socialtjänst", org)
    assert refused.name == "help" and "HSL, SoL, LSS" in refused.error


def test_lagrum_command_is_audited_and_sticks_when_the_unit_changes(org):
    case = opened(org, unit="hemsjukvard").case
    changed = apply(case, SetLagrum(SOL), ctx(org, "rut")).case
    assert (changed.lagrum, changed.lagrum_by) == (SOL, "registrator")
    event = changed.events[-1]
    assert (event.what, event.who, event.details) == (
        "lagrum", "rut", {"from": HSL, "to": SOL, "by": "registrator"})
    moved = apply(changed, SetUnit("hemtjanst-norr"), ctx(org, "rut")).case
    assert moved.lagrum == SOL                     # the registrator's choice stays


def test_a_derived_law_follows_the_unit(org):
    case = opened(org, unit="hemtjanst-norr").case
    moved = apply(case, SetUnit("hemsjukvard"), ctx(org, "rut")).case
    assert (moved.lagrum, moved.lagrum_by) == (HSL, "unit")
    assert moved.events[-1].details["lagrum_from"] == SOL
    assert moved.events[-1].details["lagrum_to"] == HSL


def test_a_manager_may_not_change_the_law(org):
    case = opened(org, unit="hemtjanst-norr").case
    with pytest.raises(PermissionDenied):
        apply(case, SetLagrum(HSL), ctx(org, "anna"))


# --------------------------------------------------------------------------- the Lagrum: line
def test_the_registrators_lagrum_line_is_read():
    assert parse_overrides("Lagrum: LSS\nEnhet: Hemtjänst Norr", "VOK").lagrum == LSS
    assert parse_overrides("**Lagrum:** hsl (delegerad insats)", "VOK").lagrum == HSL
    assert parse_overrides("Lagrum: socialtjänstlagen", "VOK").lagrum is None
    assert parse_overrides("Typ: klagomål", "VOK").kind == COMPLAINT
    assert parse_overrides("Typ: säkerhetsmeddelande", "VOK").kind == FSN


# --------------------------------------------------------------------------- classification
class Diary:
    def seen(self, key): return False
    def seen_hash(self, key): return None
    def by_number(self, number): return None
    def by_message_ids(self, ids): return None
    def by_conversation(self, cid): return None


def decide(org, *, sender: str, subject: str, body: str):
    return classify(parse_mail(make_mail(sender=sender, subject=subject, body=body)), org, Diary())


@pytest.mark.parametrize("subject,body", [
    ("Klagomål på hemtjänsten", "Hej! Min pappa får inte sin dusch på torsdagar. /Karin"),
    ("Synpunkter", "Jag vill lämna en synpunkt på bemötandet på Solgården."),
    ("Fråga", "Jag har ett klagomål: personalen kom två timmar för sent till mamma."),
])
def test_a_private_sender_with_a_complaint_is_a_complaint(org, subject, body):
    decision = decide(org, sender=PRIVATE, subject=subject, body=body)
    assert (decision.outcome, decision.kind, decision.counterpart) == (NEW_CASE, COMPLAINT, None)


def test_a_complaint_that_also_says_avvikelse_is_still_a_complaint(org):
    decision = decide(org, sender=PRIVATE, subject="Klagomål",
                      body="Det var en avvikelse när min mamma inte fick sin medicin.")
    assert decision.kind == COMPLAINT


@pytest.mark.parametrize("sender,subject,body,kind", [
    # a region's deviation that quotes a complaint below its own text: the region's deviation
    (REGION, "Sv: Avvikelse Hemtjänst Norr",
     "Hej, vi skickar avvikelsen vidare.\n\n-----Ursprungligt meddelande-----\n"
     "Från: Karin\nÄmne: Klagomål på hemtjänsten\n\nJag vill lämna ett klagomål.", INCOMING),
    # a region writing "klagomål" in its own text is still a counterpart, never the public
    (REGION, "Klagomål från patientnämnden", "Patientnämnden har fått ett klagomål.", INCOMING),
    # our own staff speaking of a complaint: an outgoing deviation if anything
    ("Maria Medicinsson <maria.medicinsson@exempelby.se>", "Avvikelse",
     "Anhörig har framfört klagomål; vi rapporterar avvikelsen till regionen.", OUTGOING),
])
def test_look_alikes_that_are_not_complaints(org, sender, subject, body, kind):
    assert decide(org, sender=sender, subject=subject, body=body).kind == kind


def test_a_private_sender_quoting_a_complaint_word_only_is_not_a_complaint(org):
    """The words count only in what the sender wrote: a reply with our letter quoted below."""
    decision = decide(org, sender=PRIVATE, subject="Sv: Ert ärende",
                      body="Tack för svaret.\n\n> Vi har tagit emot ditt klagomål.")
    assert decision.outcome == TRIAGE


@pytest.mark.parametrize("subject", ["Brådskande säkerhetsmeddelande – infusionspump X200",
                                     "Urgent Field Safety Notice FSN-2026-014",
                                     "FSN: Lyftsele modell 4"])
def test_a_suppliers_safety_notice_is_an_fsn(org, subject):
    decision = decide(org, sender=SUPPLIER, subject=subject, body="Se bifogat meddelande.")
    assert (decision.outcome, decision.kind, decision.counterpart) == (
        NEW_CASE, FSN, "medicinteknik")


def test_a_safety_notice_from_a_non_supplier_is_not_an_fsn(org):
    """Only a counterpart marked supplier: the region forwarding one is its deviation."""
    assert decide(org, sender=REGION, subject="Säkerhetsmeddelande infusionspump",
                  body="För kännedom.").kind == INCOMING
    # from the public (or a phisher), "Field Safety Notice" is no device notice: triage
    assert decide(org, sender=PRIVATE, subject="Field Safety Notice",
                  body="Click here").outcome == TRIAGE


def test_a_supplier_mail_without_a_notice_is_its_deviation(org):
    assert decide(org, sender=SUPPLIER, subject="Avvikelse leverans",
                  body="Leveransen försenad.").kind == INCOMING


# --------------------------------------------------------------------------- the kinds' steps
def test_a_complaint_is_answered_then_closed_with_its_own_deadline(org):
    org = dataclasses.replace(org, deadlines=dataclasses.replace(org.deadlines, complaint_answer=7))
    outcome = opened(org, COMPLAINT, counterpart=None, sender="karin.nilsson72@gmail.com")
    case = outcome.case
    assert [(n.event, [r.person for r in n.recipients if r.role == "act"])
            for n in outcome.notices] == [("complaint_diarised", ["anna"])]
    step = current_step(case, org)
    assert (step.name, step.owners, step.days) == ("answer", ("anna",), 7)
    # the unit's manager marks the answer sent (for other kinds only oversight may)
    answered = apply(case, MarkSent(), ctx(org, "anna")).case
    assert answered.status == "answered"
    assert current_step(answered, org).name == "close"
    closed = apply(answered, Close(), ctx(org, "anna")).case
    assert closed.is_closed


def test_fsn_goes_to_the_licensed_contact_and_asks_no_lex(org):
    outcome = opened(org, FSN, unit="hemsjukvard", counterpart="medicinteknik",
                     sender="kvalitet@medicinteknik.example",
                     subject="Säkerhetsmeddelande: risk för allvarlig skada")
    step = current_step(outcome.case, org)
    assert (step.name, step.owners) == ("fsn", ("maria",))
    assert [n.event for n in outcome.notices] == ["fsn_diarised"]       # no lex_requested
    assert outcome.case.lex_requested is None
    later = apply(outcome.case, AddDocument(Document(2, "supplement", iso(T0), "x@y.se",
                                                     "allvarlig skada"), False), ctx(org)).case
    assert later.lex_requested is None


@pytest.mark.parametrize("reason", [None, "klart", "svar till leverantören skickat",
                                    "Läkemedelsverket nej"])
def test_fsn_closing_without_both_facts_is_refused_in_swedish(org, reason):
    case = opened(org, FSN, unit="hemsjukvard", counterpart="medicinteknik").case
    with pytest.raises(DomainError) as refusal:
        apply(case, Close(reason), ctx(org, "maria"))
    assert "svar till leverantören skickat" in str(refusal.value)
    assert "Läkemedelsverket" in str(refusal.value)


def test_fsn_closes_with_the_supplier_answered_and_a_yes_or_no(org):
    case = opened(org, FSN, unit="hemsjukvard", counterpart="medicinteknik").case
    outcome = apply(case, Close("svar till leverantören skickat, Läkemedelsverket: nej; "
                                "inga pumpar av modellen hos oss"), ctx(org, "maria"))
    closed = outcome.case
    assert closed.is_closed and "ingen rapport till Läkemedelsverket" in outcome.message
    assert closed.fsn_closing["supplier_answered"] is True
    assert closed.fsn_closing["lmv_reported"] is False
    assert closed.close_reason == "inga pumpar av modellen hos oss"
    assert closed.events[-1].details["lmv_reported"] is False


@pytest.mark.parametrize("text,reported,rest", [
    ("leverantörssvar skickat, lmv ja", True, ""),
    ("Svar till leverantören skickat. Rapport till Läkemedelsverket: ja. Två sängar bytta", True,
     "Två sängar bytta"),
    ("supplier answered, MPA no", False, ""),
])
def test_fsn_closing_facts(text, reported, rest):
    facts, left = fsn_closing(text)
    assert facts == {"supplier_answered": True, "lmv_reported": reported}
    assert left.strip(". ") == rest


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("old, new, key, problem", [
    ('licensed = "maria"', 'licensed = "anna"', "units[4].licensed", "har inte rollen ma"),
    ('licensed = "maria"', 'licensed = "marie"', "units[4].licensed", "okänd person 'marie'"),
    ('licensed = "maria"', 'licensed = "maria"\nlagrum = "sol lss"', "units[4].lagrum",
     "'HSL', 'SoL', 'LSS'"),
    ('supplier = true', 'supplier = "ja"', "counterparts[5].supplier", "true eller false"),
    ('fsn = 10 ', 'fsn = "tio" ', "deadlines.fsn", "heltal"),
    ('"klagomål" = "2.3.3', '"klagomal" = "2.3.3', "records.classification.klagomal", "okänd typ"),
])
def test_bad_issue_26_settings_are_refused_in_swedish(tmp_path, old, new, key, problem):
    from bot.errors import ConfigError
    from bot.settings import load_organisation
    from tests.conftest import EXAMPLE_CONFIG
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "org.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_organisation(path)
    assert caught.value.key == key
    assert problem in str(caught.value)


def test_the_settings_of_issue_26_are_read(org):
    assert org.units["hemsjukvard"].licensed == "maria"
    assert org.counterparts["medicinteknik"].supplier is True
    assert (org.deadlines.complaint_answer, org.deadlines.fsn) == (10, 10)


def test_the_public_diary_names_no_complainant(org):
    """A complaint came in from a private person: shown as such, never by name or address;
    our answer (from our side) is drawn up here."""
    from bot.domain.process import document_type
    from bot.domain.records import is_received, party_of, public_title
    case = opened(org, COMPLAINT, counterpart=None, sender="karin.nilsson72@gmail.com").case
    first = case.documents[0]
    assert is_received(case, first)
    assert party_of(org, case, first, True) == "enskild person"
    assert public_title(org, case) == "Klagomål från enskild person, Hemtjänst Norr"
    assert document_type(COMPLAINT, True, False) == "response"
    answer = Document(no=2, type="response", received=iso(T0), sender="anna.andersson@exempelby.se",
                      subject="Svar")
    assert not is_received(case, answer)
    assert party_of(org, case, answer, False) == "Hemtjänst Norr"


def test_oversight_may_close_a_wrongly_diarised_fsn_without_the_facts(org):
    """A supplier's mail that was no safety notice: registrator, MA or SAS close it as
    wrongly diarised (DESIGN §3); a manager may not, and other words are still refused."""
    case = opened(org, FSN, unit="hemsjukvard", counterpart="medicinteknik").case
    closed = apply(case, Close("felaktigt diarierad, ett vanligt nyhetsbrev"), ctx(org, "rut")).case
    assert closed.is_closed and closed.fsn_closing is None
    with pytest.raises(DomainError):
        apply(case, Close("felaktigt diarierad"), ctx(org, "anna"))
    with pytest.raises(DomainError):
        apply(case, Close("inte aktuellt"), ctx(org, "rut"))


def test_a_complaint_the_registrator_forwards_is_classified_as_the_original(org):
    """The complainant wrote to the registrator's own address; forwarded, the original's
    private sender makes it a complaint, and the registrator's lines still count."""
    body = ("Lagrum: LSS\n\n________________________________\n"
            "Från: Karin Nilsson <karin.nilsson72@gmail.com>\n"
            "Skickat: den 17 november 2026 15:41\nTill: Rut Registrator <rut.registrator@exempelby.se>\n"
            "Ämne: Synpunkter på Hemtjänst Söder\n\nJag vill lämna synpunkter på bemötandet.\n")
    decision = decide(org, sender="Rut Registrator <rut.registrator@exempelby.se>",
                      subject="VB: Synpunkter på Hemtjänst Söder", body=body)
    assert (decision.outcome, decision.kind, decision.unit, decision.lagrum) == (
        NEW_CASE, COMPLAINT, "hemtjanst-soder", LSS)
    assert decision.sender == "karin.nilsson72@gmail.com" and decision.forwarded_by == "rut"


def test_an_investigation_under_way_that_becomes_hsl_is_handed_to_the_licensed_contact(org):
    registered = apply(opened(org, unit="hemtjanst-norr").case, Register(), ctx(org, "anna")).case
    outcome = apply(registered, SetLagrum(HSL), ctx(org, "rut"))
    assert current_step(outcome.case, org).owners == ("maria",)
    assert [(n.event, [r.person for r in n.recipients]) for n in outcome.notices] == [
        ("investigate", ["maria"])]
    # before registration nothing is under way: no notice (the register step is the manager's)
    early = apply(opened(org, unit="hemtjanst-norr").case, SetLagrum(HSL), ctx(org, "rut"))
    assert early.notices == []
