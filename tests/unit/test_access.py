"""Who may see and do what (DESIGN §7), on the sample organisation:

rut registrator · maria MA (all units) · sven SAS · anna manager of Hemtjänst Norr and
Kommunal hemsjukvård · bengt manager of Hemtjänst Söder · cecilia Solgården · david
Björkhagen and hemsjukvård.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.domain import access
from bot.domain.access import Actor
from bot.domain.case import (DOC_DEVIATION, DOC_RESPONSE, DOC_SENT, INCOMING, Case, Document,
                             iso)
from bot.domain.process import (AddAction, AddDocument, Assess, Close, Context, MarkSent, RecordSent, Register,
                                SetCounterpart, SetTitle, SetUnit, apply, open_case)
from bot.errors import PermissionDenied

NOW = datetime(2026, 11, 16, 10, 0, tzinfo=timezone.utc)
UNITS = ["hemtjanst-norr", "hemtjanst-soder", "solgarden", "bjorkhagen", "hemsjukvard", None]
OPERATIONS = [access.MANAGE, access.SEND, access.MARK_SENT, access.ROUTE, access.CLOSE]


def case_for(org, unit: str | None, seq: int = 42) -> Case:
    document = Document(no=1, type=DOC_DEVIATION, received=iso(NOW),
                        sender="lisa.larsson@regionexempel.se", subject="Avvikelse",
                        message_id=f"m{seq}@regionexempel.se")
    return open_case(number=f"VOK 2026/{seq:04d}", key=2026_000_000 + seq, kind=INCOMING,
                     title="Fel dos", document=document, unit=unit, counterpart="region-exempel",
                     severity=None, conversation_id=None,
                     ctx=Context(org, Actor.mail(document.sender), "mail", NOW)).case


def looks_swedish(text: str) -> bool:
    return any(word in text for word in ("Bara", "behörighet", "Du ", "får", "kan"))


# --------------------------------------------------------------------------- seeing
VISIBLE = {
    "rut": set(UNITS), "maria": set(UNITS), "sven": set(UNITS),
    "anna": {"hemtjanst-norr", "hemsjukvard"},
    "bengt": {"hemtjanst-soder"},
    "cecilia": {"solgarden"},
    "david": {"bjorkhagen", "hemsjukvard"},
    "okand": set(),
}


@pytest.mark.parametrize("person", sorted(VISIBLE))
@pytest.mark.parametrize("unit", UNITS, ids=[u or "no-unit" for u in UNITS])
def test_who_sees_which_case(org, person, unit):
    case = case_for(org, unit)
    expected = unit in VISIBLE[person]
    assert access.can_view(org, Actor.person(person), case) is expected
    if expected:
        access.require_view(org, Actor.person(person), case)
    else:
        with pytest.raises(PermissionDenied):
            access.require_view(org, Actor.person(person), case)


@pytest.mark.parametrize("channel", [u for u in UNITS if u])
@pytest.mark.parametrize("unit", UNITS, ids=[u or "no-unit" for u in UNITS])
def test_a_unit_channel_sees_only_its_unit(org, channel, unit):
    assert access.can_view(org, Actor.channel(channel), case_for(org, unit)) is (unit == channel)


def test_view_refusal_names_the_case(org):
    with pytest.raises(PermissionDenied) as info:
        access.require_view(org, Actor.person("bengt"), case_for(org, "hemtjanst-norr"))
    assert str(info.value) == "Du har inte behörighet till VOK 2026/0042."


@pytest.mark.parametrize("actor", [Actor.mail("lisa.larsson@regionexempel.se"), Actor.system()])
def test_mail_intake_and_the_bot_itself_reach_every_case(org, actor):
    for unit in UNITS:
        case = case_for(org, unit)
        assert access.can_view(org, actor, case)
        for operation in OPERATIONS:
            access.require(org, actor, operation, case)


# --------------------------------------------------------------------------- acting
def allowed(person: str, operation: str, unit: str | None) -> bool:
    oversight = person in ("rut", "maria", "sven")
    manager = unit in VISIBLE.get(person, set()) and not oversight
    return {
        access.MANAGE: oversight or manager,
        access.CLOSE: oversight or manager,
        access.SEND: person == "rut",
        access.MARK_SENT: oversight,
        access.ROUTE: oversight,
    }[operation]


@pytest.mark.parametrize("person", ["rut", "maria", "sven", "anna", "bengt", "david"])
@pytest.mark.parametrize("operation", OPERATIONS)
def test_who_may_do_what(org, person, operation):
    for unit in UNITS:
        case = case_for(org, unit)
        if allowed(person, operation, unit):
            access.require(org, Actor.person(person), operation, case)
        else:
            with pytest.raises(PermissionDenied) as info:
                access.require(org, Actor.person(person), operation, case)
            message = str(info.value)
            assert "VOK 2026/0042" in message, message
            assert looks_swedish(message), message


@pytest.mark.parametrize("operation,words", [
    (access.SEND, "Bara registrator skickar VOK 2026/0042 till motparten."),
    (access.MARK_SENT, "Bara registrator, MA eller SAS kan markera VOK 2026/0042 som skickat."),
    (access.ROUTE, "Bara registrator, MA eller SAS kan ändra enhet eller motpart för VOK 2026/0042."),
    (access.MANAGE, "Bara enhetens chef, registrator, MA eller SAS får ändra VOK 2026/0042."),
    (access.CLOSE, "Bara enhetens chef, registrator, MA eller SAS får avsluta VOK 2026/0042."),
])
def test_refusal_texts(org, operation, words):
    with pytest.raises(PermissionDenied) as info:
        access.require(org, Actor.person("bengt"), operation, case_for(org, "hemtjanst-norr"))
    assert str(info.value) == words


@pytest.mark.parametrize("operation", OPERATIONS)
def test_an_unknown_person_gets_a_polite_refusal(org, operation):
    case = case_for(org, "hemtjanst-norr")
    for check in (lambda: access.require(org, Actor.person("okand"), operation, case),
                  lambda: access.require_view(org, Actor.person("okand"), case)):
        with pytest.raises(PermissionDenied) as info:
            check()
        message = str(info.value)
        assert "katalog" in message and "Kontakta registrator" in message
        assert "VOK" not in message, "a stranger does not learn which cases exist"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_unit_channel_may_look_but_not_act(org, operation):
    case = case_for(org, "hemtjanst-norr")
    with pytest.raises(PermissionDenied) as info:
        access.require(org, Actor.channel("hemtjanst-norr"), operation, case)
    message = str(info.value)
    assert "VOK 2026/0042" in message and looks_swedish(message)
    assert "katalog" not in message, "the channel is known; it is just not a person"


# --------------------------------------------------------------------------- through apply
def ctx(org, who: str) -> Context:
    return Context(org, Actor.person(who), "slack", NOW)


def sent_doc() -> RecordSent:
    return RecordSent(Document(no=2, type=DOC_SENT, received=iso(NOW),
                               sender="registrator.vok@exempelby.se", subject="VOK 2026/0042"),
                      "patientsakerhet@regionexempel.se")


@pytest.mark.parametrize("who,command", [
    ("bengt", Register()), ("bengt", Assess("red")), ("bengt", AddAction("Ring")),
    ("bengt", SetTitle("Ny")), ("bengt", Close("fel")),
    ("anna", sent_doc()), ("maria", sent_doc()), ("sven", sent_doc()),
    ("anna", MarkSent()), ("anna", SetUnit("solgarden")), ("anna", SetCounterpart("sjukhuset")),
    ("okand", Register()),
])
def test_apply_checks_permissions_and_changes_nothing(org, who, command):
    case = case_for(org, "hemtjanst-norr")
    before = case.to_dict()
    with pytest.raises(PermissionDenied) as info:
        apply(case, command, ctx(org, who))
    assert case.to_dict() == before
    assert looks_swedish(str(info.value))


@pytest.mark.parametrize("who,command", [
    ("anna", Register()), ("anna", Assess("red")), ("anna", AddAction("Ring")),
    ("david", Register()),
    ("rut", sent_doc()), ("rut", MarkSent()), ("maria", MarkSent()), ("sven", MarkSent()),
    ("rut", SetUnit("solgarden")), ("maria", SetCounterpart("sjukhuset")),
    ("sven", SetUnit("solgarden")), ("maria", Register()), ("sven", Close("dubblett")),
])
def test_apply_lets_the_right_people_act(org, who, command):
    unit = "hemsjukvard" if who == "david" else "hemtjanst-norr"
    case = case_for(org, unit)
    if isinstance(command, RecordSent):     # the bot sends the unit's response on
        answer = Document(no=2, type=DOC_RESPONSE, received=iso(NOW),
                          sender="anna.andersson@exempelby.se", subject="SV: VOK 2026/0042")
        case = apply(case, AddDocument(answer, sender_internal=True),
                     Context(org, Actor.mail(answer.sender), "mail", NOW)).case
    apply(case, command, ctx(org, who))
