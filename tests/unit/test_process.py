"""The pure process of DESIGN §3: every transition of both kinds, every refusal, close rules,
audit events, owners and deadlines of the current step, and who is told (Notice).

Cases are built with open_case and moved with apply; no store, no clock, no I/O.
"""
from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.domain.access import Actor
from bot.domain.case import (CLOSED, DOC_DEVIATION, DOC_RESPONSE, DOC_SENT, DOC_SUPPLEMENT,
                             INCOMING, OUTGOING, Case, Document, iso)
from bot.domain.process import (AddAction, AddDocument, Assess, Close, CompleteAction, Context,
                                MarkSent, RecordSent, Recipient, Register, SetCounterpart,
                                SetTitle, SetUnit, SnoozeStep, apply, current_step, open_case,
                                step_deadline)
from bot.errors import DomainError, PermissionDenied
from reminders.calendar import BusinessCalendar

STHLM = ZoneInfo("Europe/Stockholm")
NUMBER = "VOK 2026/0001"
# Monday 16 November 2026, 09:30 in Stockholm: the deviation arrives
T0 = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)
LISA = "lisa.larsson@regionexempel.se"
ANNA_MAIL = "anna.andersson@exempelby.se"


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar("Europe/Stockholm")


# --------------------------------------------------------------------------- helpers
def ctx(org, who: str | Actor = "anna", now: datetime = T0 + timedelta(hours=1),
        channel: str = "slack", subscriptions=()) -> Context:
    actor = who if isinstance(who, Actor) else Actor.person(who)
    return Context(org, actor, channel, now, tuple(subscriptions))


def first_document(kind: str, received: datetime = T0) -> Document:
    sender = LISA if kind == INCOMING else ANNA_MAIL
    return Document(no=1, type=DOC_DEVIATION, received=iso(received), sender=sender,
                    subject="Avvikelse: fall vid hembesök", message_id=f"first@{sender.split('@')[1]}")


def new(org, kind: str = INCOMING, *, unit: str | None = "hemtjanst-norr",
        severity: str | None = None, received: datetime = T0, counterpart="region-exempel",
        actor: Actor | None = None, subscriptions=()):
    """open_case -> Outcome, as mail intake would call it."""
    document = first_document(kind, received)
    actor = actor or Actor.mail(document.sender)
    return open_case(number=NUMBER, key=2026_000_001, kind=kind, title="Fall vid hembesök",
                     document=document, unit=unit, counterpart=counterpart, severity=severity,
                     conversation_id=None,
                     ctx=Context(org, actor, "mail", received, tuple(subscriptions)))


def response(case: Case, *, sender: str, received: datetime) -> AddDocument:
    internal = sender.endswith("@exempelby.se")
    doc = Document(no=len(case.documents) + 1, type=DOC_RESPONSE, received=iso(received),
                   sender=sender, subject=f"SV: {NUMBER}", message_id=f"resp{len(case.documents)}@x")
    return AddDocument(doc, sender_internal=internal)


def sent_document(case: Case, now: datetime) -> RecordSent:
    doc = Document(no=len(case.documents) + 1, type=DOC_SENT, received=iso(now),
                   sender="registrator.vok@exempelby.se", subject=f"{NUMBER} Fall vid hembesök",
                   message_id="sent@exempelby.se")
    return RecordSent(doc, "patientsakerhet@regionexempel.se")


def mail_actor(address: str) -> Actor:
    return Actor.mail(address)


# (kind, status) -> how to get there from the previous status: (actor, command factory, when)
DAY = timedelta(days=1)
INCOMING_PATH = [
    ("registered", "rut", lambda c, now: Register()),
    ("response_received", mail_actor(ANNA_MAIL), lambda c, now: response(c, sender=ANNA_MAIL, received=now)),
    ("response_sent", "rut", lambda c, now: MarkSent()),
    ("closed", "rut", lambda c, now: Close()),
]
OUTGOING_PATH = [
    ("sent", "rut", lambda c, now: MarkSent()),
    ("response_received", mail_actor(LISA), lambda c, now: response(c, sender=LISA, received=now)),
    ("closed", "rut", lambda c, now: Close()),
]


def reach(org, kind: str, status: str, **kw) -> Case:
    """A case of `kind` moved along the happy path to `status`, one business day per step."""
    case = new(org, kind, **kw).case
    now = datetime.fromisoformat(case.created)
    for target, who, make in (INCOMING_PATH if kind == INCOMING else OUTGOING_PATH):
        if case.status == status:
            break
        now += DAY
        case = apply(case, make(case, now), ctx(org, who, now)).case
        assert case.status == target
    assert case.status == status
    return case


def refused(case: Case, command, c: Context) -> str:
    before = copy.deepcopy(case.to_dict())
    with pytest.raises(DomainError) as info:
        apply(case, command, c)
    assert case.to_dict() == before, "a refused command must not touch the case"
    return str(info.value)


# --------------------------------------------------------------------------- transitions
ALLOWED = [
    # kind, from, actor, command, to
    (INCOMING, "diarised", "anna", lambda c, n: Register(), "registered"),
    (INCOMING, "diarised", "rut", lambda c, n: Register(), "registered"),
    (INCOMING, "registered", mail_actor(ANNA_MAIL),
     lambda c, n: response(c, sender=ANNA_MAIL, received=n), "response_received"),
    # steps reported by mail may skip steps: the response arrives before `registrerad`
    (INCOMING, "diarised", mail_actor(ANNA_MAIL),
     lambda c, n: response(c, sender=ANNA_MAIL, received=n), "response_received"),
    (INCOMING, "response_received", "rut", lambda c, n: MarkSent(), "response_sent"),
    (INCOMING, "response_received", "maria", lambda c, n: MarkSent(), "response_sent"),
    (INCOMING, "response_received", "sven", lambda c, n: MarkSent(), "response_sent"),
    (INCOMING, "response_received", "rut", lambda c, n: sent_document(c, n), "response_sent"),
    # the response went out from the unit directly: `skickad` on a registered case
    (INCOMING, "registered", "rut", lambda c, n: MarkSent(), "response_sent"),
    (INCOMING, "response_sent", "anna", lambda c, n: Close(), "closed"),
    (OUTGOING, "diarised", "rut", lambda c, n: MarkSent(), "sent"),
    (OUTGOING, "diarised", "rut", lambda c, n: sent_document(c, n), "sent"),
    (OUTGOING, "sent", mail_actor(LISA), lambda c, n: response(c, sender=LISA, received=n),
     "response_received"),
    # sent outside the bot and nobody said so: the counterpart's answer still moves it on
    (OUTGOING, "diarised", mail_actor(LISA), lambda c, n: response(c, sender=LISA, received=n),
     "response_received"),
    (OUTGOING, "response_received", "anna", lambda c, n: Close(), "closed"),
]


def _id(row) -> str:
    kind, start, who, _, end = row
    who = who if isinstance(who, str) else who.audit_name
    return f"{kind}:{start}->{end}:{who}"


@pytest.mark.parametrize("kind,start,who,make,end", ALLOWED, ids=[_id(r) for r in ALLOWED])
def test_allowed_transition(org, kind, start, who, make, end):
    case = reach(org, kind, start)
    now = T0 + timedelta(days=10, hours=2)
    before = copy.deepcopy(case.to_dict())
    c = ctx(org, who, now, channel="teams")
    outcome = apply(case, make(case, now), c)

    assert outcome.case.status == end
    assert outcome.case.status_since[end] == iso(now)
    assert case.to_dict() == before, "apply must return a copy, never mutate its input"
    assert outcome.case is not case
    # the audit trail: who, when, through which channel, what changed
    move = [e for e in outcome.case.events[len(case.events):] if e.what == "status"]
    assert len(move) == 1
    assert move[0].who == c.actor.audit_name
    assert move[0].at == iso(now)
    assert move[0].channel == "teams"
    assert move[0].details["from"] == start and move[0].details["to"] == end


def test_record_sent_files_the_sent_mail_in_the_case(org):
    case = reach(org, INCOMING, "response_received")
    now = T0 + timedelta(days=3)
    outcome = apply(case, sent_document(case, now), ctx(org, "rut", now))
    assert outcome.case.documents[-1].type == DOC_SENT
    assert "sent@exempelby.se" in outcome.case.message_ids
    assert NUMBER in outcome.message and "patientsakerhet@regionexempel.se" in outcome.message
    whats = [e.what for e in outcome.case.events[len(case.events):]]
    assert whats == ["document", "status"]


N = NUMBER
REFUSED = [
    # kind, status, actor, command, words the refusal must contain
    (INCOMING, "registered", "anna", lambda c, n: Register(), [N, "redan registrerat"]),
    (INCOMING, "response_sent", "anna", lambda c, n: Register(), [N, "redan registrerat"]),
    (OUTGOING, "diarised", "rut", lambda c, n: Register(), [N, "utgående"]),
    (INCOMING, "response_sent", "rut", lambda c, n: MarkSent(), [N, "redan skickat"]),
    (INCOMING, "response_sent", "rut", lambda c, n: sent_document(c, n), [N, "redan skickat"]),
    (OUTGOING, "sent", "rut", lambda c, n: MarkSent(), [N, "redan skickat"]),
    (OUTGOING, "sent", "rut", lambda c, n: sent_document(c, n), [N, "redan skickat"]),
    (OUTGOING, "response_received", "rut", lambda c, n: MarkSent(), [N, "redan skickat"]),
    (INCOMING, "closed", "rut", lambda c, n: Close("dubblett"), [N, "redan avslutat"]),
    # the bot sends the unit's response on: before it has arrived there is nothing to send
    (INCOMING, "diarised", "rut", lambda c, n: sent_document(c, n), [N, "inget att skicka", "skickad"]),
    (INCOMING, "registered", "rut", lambda c, n: sent_document(c, n), [N, "inget att skicka"]),
    (INCOMING, "registered", "anna", lambda c, n: Assess("purple"), ["röd, gul eller grön"]),
    (INCOMING, "registered", "anna", lambda c, n: Assess("röd"), ["röd, gul eller grön"]),
    (INCOMING, "registered", "anna", lambda c, n: CompleteAction(7), [N, "ingen åtgärd nr 7"]),
    (INCOMING, "registered", "anna", lambda c, n: AddAction("   "), ["åtgärden"]),
    (INCOMING, "registered", "anna", lambda c, n: SetTitle("  "), ["Rubriken"]),
    (INCOMING, "registered", "rut", lambda c, n: SetUnit("hemtjanst-vaster"), ["hemtjanst-vaster"]),
    (INCOMING, "registered", "rut", lambda c, n: SetCounterpart("nasa"), ["nasa"]),
    (INCOMING, "registered", "anna", lambda c, n: SnoozeStep(date(2026, 12, 7), "  "), ["orsak"]),
    (INCOMING, "registered", "anna",
     lambda c, n: SnoozeStep(n.date() - timedelta(days=1), "semester"), ["framåt i tiden"]),
    (INCOMING, "registered", "anna", lambda c, n: SnoozeStep(n.date(), "semester"), ["framåt i tiden"]),
]


@pytest.mark.parametrize("kind,status,who,make,words", REFUSED,
                         ids=[f"{r[0]}:{r[1]}:{i}" for i, r in enumerate(REFUSED)])
def test_refused_transition(org, kind, status, who, make, words):
    case = reach(org, kind, status)
    now = T0 + timedelta(days=10)
    message = refused(case, make(case, now), ctx(org, who, now))
    for word in words:
        assert word in message


ON_CLOSED = [
    lambda c, n: Register(), lambda c, n: Assess("red"), lambda c, n: MarkSent(),
    lambda c, n: sent_document(c, n), lambda c, n: Close(), lambda c, n: Close("dubblett"),
    lambda c, n: AddAction("ring anhörig"), lambda c, n: CompleteAction(1),
    lambda c, n: SetUnit("solgarden"), lambda c, n: SetCounterpart("sjukhuset"),
    lambda c, n: SetTitle("Ny rubrik"), lambda c, n: SnoozeStep(date(2027, 1, 15), "semester"),
]


@pytest.mark.parametrize("kind", [INCOMING, OUTGOING])
@pytest.mark.parametrize("make", ON_CLOSED, ids=[
    "register", "assess", "mark_sent", "record_sent", "close", "close_reason", "add_action",
    "complete_action", "set_unit", "set_counterpart", "set_title", "snooze"])
def test_nothing_but_documents_on_a_closed_case(org, kind, make):
    case = reach(org, kind, CLOSED)
    now = T0 + timedelta(days=20)
    message = refused(case, make(case, now), ctx(org, "rut", now))
    assert message == f"{NUMBER} är redan avslutat."


@pytest.mark.parametrize("who,command", [("anna", Register()), ("anna", AddAction("Ring")),
                                         ("maria", MarkSent()), ("sven", SetUnit("solgarden"))])
def test_everyone_allowed_is_told_the_case_is_closed(org, who, command):
    case = reach(org, INCOMING, CLOSED)
    assert refused(case, command, ctx(org, who)) == f"{NUMBER} är redan avslutat."


@pytest.mark.parametrize("kind", [INCOMING, OUTGOING])
def test_a_closed_case_still_takes_documents(org, kind):
    case = reach(org, kind, CLOSED)
    now = T0 + timedelta(days=20)
    late = response(case, sender=ANNA_MAIL if kind == INCOMING else LISA, received=now)
    outcome = apply(case, late, ctx(org, mail_actor(late.document.sender), now, channel="mail"))
    assert outcome.case.status == CLOSED
    assert outcome.case.documents[-1].no == late.document.no
    assert outcome.case.events[-1].what == "document"
    assert outcome.case.events[-1].channel == "mail"


def test_later_responses_do_not_move_the_case_back(org):
    case = reach(org, INCOMING, "response_sent")
    now = T0 + timedelta(days=8)
    outcome = apply(case, response(case, sender=ANNA_MAIL, received=now),
                    ctx(org, mail_actor(ANNA_MAIL), now))
    assert outcome.case.status == "response_sent"


def test_supplement_from_a_stranger_does_not_move_the_case(org):
    case = reach(org, INCOMING, "registered")
    now = T0 + timedelta(days=3)
    doc = Document(no=2, type=DOC_SUPPLEMENT, received=iso(now), sender=LISA,
                   subject="Komplettering", message_id="supp@regionexempel.se")
    outcome = apply(case, AddDocument(doc, sender_internal=False), ctx(org, mail_actor(LISA), now))
    assert outcome.case.status == "registered"
    assert [n.event for n in outcome.notices] == ["supplement"]
    assert outcome.notices[0].recipients == (Recipient("anna", "act"),)


# --------------------------------------------------------------------------- assess, actions, snooze
def test_assess_records_old_and_new_severity(org):
    case = reach(org, INCOMING, "registered")
    now = T0 + timedelta(days=2)
    outcome = apply(case, Assess("red"), ctx(org, "anna", now))
    assert outcome.case.severity == "red"
    event = outcome.case.events[-2]          # then red asks for a Lex assessment (test_safety_rules)
    assert outcome.case.events[-1].what == "lex_requested"
    assert (event.what, event.who, event.at, event.details) == (
        "assessed", "anna", iso(now), {"from": None, "to": "red"})
    assert outcome.message == f"{NUMBER} är bedömt som Röd."
    again = apply(outcome.case, Assess("green"), ctx(org, "maria", now + DAY))
    assert again.case.events[-1].details == {"from": "red", "to": "green"}


def test_actions_are_numbered_completed_and_audited(org):
    case = reach(org, INCOMING, "registered")
    now = T0 + timedelta(days=2)
    c = ctx(org, "anna", now)
    case = apply(case, AddAction("Ring   anhörig", date(2026, 12, 1)), c).case
    case = apply(case, AddAction("Gå igenom rutinen"), c).case
    assert [(a.no, a.text, a.due, a.owner) for a in case.actions] == [
        (1, "Ring anhörig", "2026-12-01", "anna"), (2, "Gå igenom rutinen", None, "anna")]
    assert case.events[-1].details == {"no": 2, "text": "Gå igenom rutinen", "due": None}
    done = apply(case, CompleteAction(1), ctx(org, "maria", now + DAY))
    assert done.case.actions[0].done == iso(now + DAY) and done.case.actions[0].done_by == "maria"
    assert case.actions[0].done is None, "input untouched"
    assert (done.case.events[-1].what, done.case.events[-1].who) == ("action_done", "maria")
    message = refused(done.case, CompleteAction(1), ctx(org, "anna", now + DAY))
    assert message == f"Åtgärd 1 i {NUMBER} är redan klar."
    assert refused(done.case, CompleteAction(3), ctx(org, "anna", now + DAY)) == \
        f"{NUMBER} har ingen åtgärd nr 3."


def test_snooze_is_logged_with_step_date_and_reason(org):
    case = reach(org, INCOMING, "registered")
    now = T0 + timedelta(days=2)
    outcome = apply(case, SnoozeStep(date(2026, 12, 7), "väntar på journal"), ctx(org, "anna", now))
    snooze = outcome.case.snoozes[-1]
    assert (snooze.step, snooze.until, snooze.reason, snooze.by) == (
        "respond", "2026-12-07", "väntar på journal", "anna")
    assert outcome.case.events[-1].details == {
        "step": "respond", "until": "2026-12-07", "reason": "väntar på journal"}


def test_snooze_to_today_in_stockholm_is_refused_even_if_utc_is_still_yesterday(org):
    case = reach(org, INCOMING, "registered")
    now = datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc)     # 7 December 00:30 in Stockholm
    assert refused(case, SnoozeStep(date(2026, 12, 7), "semester"), ctx(org, "anna", now)) == \
        "Datumet måste ligga framåt i tiden."
    later = apply(case, SnoozeStep(date(2026, 12, 8), "semester"), ctx(org, "anna", now))
    assert later.case.snoozes[-1].until == "2026-12-08"


@pytest.mark.parametrize("make,what", [
    (lambda c: SetTitle("Fall  i badrummet"), "title"),
    (lambda c: SetUnit("hemtjanst-soder"), "unit"),
    (lambda c: SetCounterpart("sjukhuset"), "counterpart"),
])
def test_routing_and_title_changes_are_audited(org, make, what):
    case = reach(org, INCOMING, "registered")
    now = T0 + timedelta(days=2)
    outcome = apply(case, make(case), ctx(org, "rut", now, channel="cli"))
    event = outcome.case.events[-1]
    assert (event.what, event.who, event.at, event.channel) == (what, "rut", iso(now), "cli")
    assert event.details["from"] != event.details["to"]


def test_title_is_redacted(org):
    case = reach(org, INCOMING, "registered")
    outcome = apply(case, SetTitle("Fall för 19121212-1212 i badrummet"), ctx(org, "anna"))
    assert "1212" not in outcome.case.title and "[personnummer]" in outcome.case.title


# --------------------------------------------------------------------------- closing
def test_manager_closes_at_the_closing_step(org):
    for kind, status in ((INCOMING, "response_sent"), (OUTGOING, "response_received")):
        case = reach(org, kind, status)
        outcome = apply(case, Close(), ctx(org, "anna", T0 + DAY * 10))
        assert outcome.case.status == CLOSED
        assert outcome.message == f"{NUMBER} är avslutat."
        assert outcome.case.events[-1].details == {"from": status, "to": CLOSED}


@pytest.mark.parametrize("kind,status", [(INCOMING, "diarised"), (INCOMING, "registered"),
                                         (INCOMING, "response_received"), (OUTGOING, "diarised"),
                                         (OUTGOING, "sent")])
@pytest.mark.parametrize("reason", [None, "dubblett"])
def test_manager_may_not_close_early(org, kind, status, reason):
    case = reach(org, kind, status)
    message = refused(case, Close(reason), ctx(org, "anna"))
    assert NUMBER in message
    assert "registrator, MA eller SAS" in message and "i förtid" in message


@pytest.mark.parametrize("who", ["rut", "maria", "sven"])
@pytest.mark.parametrize("kind,status", [(INCOMING, "diarised"), (INCOMING, "registered"),
                                         (INCOMING, "response_received"), (OUTGOING, "diarised"),
                                         (OUTGOING, "sent")])
def test_oversight_closes_early_only_with_a_reason(org, who, kind, status):
    case = reach(org, kind, status)
    message = refused(case, Close(), ctx(org, who))
    assert NUMBER in message and "orsak" in message
    assert "orsak" in refused(case, Close("   "), ctx(org, who))
    now = T0 + DAY * 3
    outcome = apply(case, Close("felaktigt diarierad"), ctx(org, who, now, channel="cli"))
    assert outcome.case.status == CLOSED
    assert outcome.case.close_reason == "felaktigt diarierad"
    event = outcome.case.events[-1]
    assert (event.what, event.who, event.at, event.channel) == ("status", who, iso(now), "cli")
    assert event.details == {"from": status, "to": CLOSED, "reason": "felaktigt diarierad"}


def test_other_units_manager_may_not_close(org):
    case = reach(org, INCOMING, "response_sent")
    with pytest.raises(PermissionDenied) as info:
        apply(case, Close(), ctx(org, "bengt"))
    assert NUMBER in str(info.value)


def with_actions(org, kind: str, status: str) -> Case:
    case = reach(org, kind, status)
    c = ctx(org, "anna", T0 + DAY)
    case = apply(case, AddAction("Ring anhörig"), c).case
    case = apply(case, AddAction("Uppdatera genomförandeplanen", date(2026, 12, 1)), c).case
    case = apply(case, AddAction("Informera personalgruppen"), c).case
    return apply(case, CompleteAction(2), c).case


@pytest.mark.parametrize("who,kind,status", [
    ("anna", INCOMING, "response_sent"), ("anna", OUTGOING, "response_received"),
    ("rut", INCOMING, "response_sent"), ("maria", OUTGOING, "response_received")])
def test_open_actions_block_closing_and_are_named(org, who, kind, status):
    case = with_actions(org, kind, status)
    message = refused(case, Close(), ctx(org, who))
    assert NUMBER in message
    assert "1. Ring anhörig" in message and "3. Informera personalgruppen" in message
    assert "Uppdatera genomförandeplanen" not in message, "a done action is not open"


@pytest.mark.parametrize("who", ["anna", "rut"])
def test_open_actions_close_with_a_reason_kept_in_the_audit_trail(org, who):
    case = with_actions(org, INCOMING, "response_sent")
    now = T0 + DAY * 12
    outcome = apply(case, Close("åtgärderna följs upp i kvalitetsarbetet"), ctx(org, who, now))
    assert outcome.case.status == CLOSED
    event = outcome.case.events[-1]
    assert event.who == who and event.at == iso(now)
    assert event.details["reason"] == "åtgärderna följs upp i kvalitetsarbetet"
    assert [a.no for a in outcome.case.open_actions()] == [1, 3], "closing does not tick actions"


def test_close_reason_is_redacted(org):
    case = reach(org, INCOMING, "diarised")
    outcome = apply(case, Close("fel person 19121212-1212"), ctx(org, "rut"))
    assert "1212-1212" not in outcome.case.close_reason
    assert "1212-1212" not in str(outcome.case.events[-1].details)


# --------------------------------------------------------------------------- audit
EVERY_CHANGE = [
    (INCOMING, "diarised", "anna", lambda c, n: Register(), "status"),
    (INCOMING, "registered", "anna", lambda c, n: Assess("yellow"), "assessed"),
    (INCOMING, "registered", "anna", lambda c, n: AddAction("Ring anhörig"), "action_added"),
    (INCOMING, "registered", "rut", lambda c, n: SetUnit("solgarden"), "unit"),
    (INCOMING, "registered", "sven", lambda c, n: SetCounterpart("sjukhuset"), "counterpart"),
    (INCOMING, "registered", "anna", lambda c, n: SetTitle("Ny rubrik"), "title"),
    (INCOMING, "registered", "anna", lambda c, n: SnoozeStep(date(2027, 1, 15), "semester"), "snoozed"),
    (INCOMING, "response_received", "rut", lambda c, n: MarkSent(), "status"),
    (INCOMING, "response_received", "rut", lambda c, n: sent_document(c, n), "status"),
    (INCOMING, "response_sent", "anna", lambda c, n: Close(), "status"),
    (OUTGOING, "diarised", "maria", lambda c, n: Close("dubblett"), "status"),
    (OUTGOING, "sent", mail_actor(LISA), lambda c, n: response(c, sender=LISA, received=n), "status"),
]


@pytest.mark.parametrize("kind,status,who,make,what", EVERY_CHANGE,
                         ids=[f"{r[4]}-{i}" for i, r in enumerate(EVERY_CHANGE)])
def test_every_change_appends_an_audit_event(org, kind, status, who, make, what):
    case = reach(org, kind, status)
    now = datetime(2026, 12, 2, 13, 14, 15, tzinfo=timezone.utc)
    c = ctx(org, who, now, channel="teams")
    outcome = apply(case, make(case, now), c)
    added = outcome.case.events[len(case.events):]
    assert added, "no audit event"
    assert outcome.case.events[:len(case.events)] == case.events, "the trail is append-only"
    assert added[-1].what == what
    for event in added:
        assert event.who == c.actor.audit_name
        assert event.at == "2026-12-02T13:14:15+00:00"
        assert event.channel == "teams"


def test_open_case_records_a_diarised_event(org):
    case = new(org, severity="red").case
    event = case.events[0]
    assert (event.what, event.who, event.channel, event.at) == ("diarised", f"mail:{LISA}", "mail",
                                                                iso(T0))
    assert event.details == {"kind": INCOMING, "unit": "hemtjanst-norr",
                             "counterpart": "region-exempel", "severity": "red", "document": 1}
    assert case.status == "diarised" and case.status_since == {"diarised": iso(T0)}
    assert case.message_ids == ["first@regionexempel.se"]


def test_open_case_redacts_the_title(org):
    document = first_document(INCOMING)
    case = open_case(number=NUMBER, key=2026_000_001, kind=INCOMING,
                     title="Fall 19121212-1212 i hemmet", document=document, unit=None,
                     counterpart=None, severity=None, conversation_id="conv-1",
                     ctx=ctx(org, Actor.mail(LISA), T0, channel="mail")).case
    assert "[personnummer]" in case.title and "1212-1212" not in case.title
    assert case.conversation_ids == ["conv-1"]


# --------------------------------------------------------------------------- steps and deadlines
def local_end_of_day(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T23:59:59").replace(tzinfo=STHLM)


STEPS = [
    # kind, status, severity, step, owners, deadline (local date, end of day)
    (INCOMING, "diarised", None, "register", ("anna",), "2026-11-18"),          # Mon + 2
    (INCOMING, "registered", None, "respond", ("anna",), "2026-11-30"),         # 10 from diarised
    (INCOMING, "registered", "red", "respond", ("anna",), "2026-11-23"),        # 5
    (INCOMING, "registered", "yellow", "respond", ("anna",), "2026-11-30"),     # 10
    (INCOMING, "registered", "green", "respond", ("anna",), "2026-12-14"),      # 20
    (INCOMING, "response_received", None, "send_response", ("rut",), "2026-11-19"),  # Wed 18 + 1
    (INCOMING, "response_sent", None, "close", ("anna",), "2026-11-26"),        # Thu 19 + 5
    (OUTGOING, "diarised", None, "send", ("rut",), "2026-11-17"),               # Mon + 1
    (OUTGOING, "sent", None, "external_response", ("rut",), "2026-12-15"),      # Tue 17 + 20
    (OUTGOING, "response_received", None, "close", ("anna",), "2026-11-25"),    # Wed 18 + 5
]


@pytest.mark.parametrize("kind,status,severity,step,owners,deadline", STEPS,
                         ids=[f"{r[0]}:{r[1]}:{r[2]}" for r in STEPS])
def test_current_step_owner_and_deadline(org, cal, kind, status, severity, step, owners, deadline):
    case = reach(org, kind, status, severity=severity)
    found = current_step(case, org)
    assert (found.name, found.owners) == (step, owners)
    assert step_deadline(case, org, cal) == local_end_of_day(deadline)


def test_respond_counts_from_diarised_not_from_registered(org, cal):
    case = new(org).case
    late = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
    registered = apply(case, Register(), ctx(org, "anna", late)).case
    assert current_step(registered, org).started == case.created
    assert step_deadline(registered, org, cal) == local_end_of_day("2026-11-30")


def test_a_severity_change_moves_the_respond_deadline(org, cal):
    case = reach(org, INCOMING, "registered")
    assert step_deadline(case, org, cal) == local_end_of_day("2026-11-30")
    red = apply(case, Assess("red"), ctx(org, "anna", T0 + DAY)).case
    assert step_deadline(red, org, cal) == local_end_of_day("2026-11-23")
    green = apply(red, Assess("green"), ctx(org, "anna", T0 + DAY * 2)).case
    assert step_deadline(green, org, cal) == local_end_of_day("2026-12-14")


@pytest.mark.parametrize("unit,owners", [
    ("hemsjukvard", ("anna", "david")), ("hemtjanst-soder", ("bengt",)), (None, ("rut",))])
def test_manager_steps_without_a_manager_go_to_the_registrator(org, unit, owners):
    for status in ("diarised", "registered", "response_sent"):
        case = reach(org, INCOMING, status, unit=unit)
        if unit == "hemsjukvard" and status == "registered":
            # issue 26: a health-care unit's case is HSL; its investigation is the MA's
            assert current_step(case, org).owners == ("maria",)
            continue
        assert current_step(case, org).owners == owners
    assert current_step(reach(org, OUTGOING, "response_received", unit=unit), org).owners == owners


def test_unit_without_managers_goes_to_the_registrator(org):
    from dataclasses import replace
    from bot.domain.org import Unit
    lonely = replace(org, units={**org.units, "ny": Unit("ny", "Nya enheten")})
    case = reach(lonely, INCOMING, "diarised", unit="ny")
    assert current_step(case, lonely).owners == ("rut",)


def test_closed_case_has_no_step(org, cal):
    case = reach(org, INCOMING, CLOSED)
    assert current_step(case, org) is None
    assert step_deadline(case, org, cal) is None


# Around Christmas 2026: Tue 22, Wed 23 (the org's closed day, not in the bare calendar),
# Thu 24 julafton, Fri 25 juldagen, Sat 26 annandag jul, Sun 27, Mon 28, Tue 29, Wed 30,
# Thu 31 nyårsafton, Fri 1 Jan nyårsdagen, Sat 2, Sun 3, Mon 4, Tue 5, Wed 6 trettondedag.
XMAS = datetime(2026, 12, 22, 9, 0, tzinfo=timezone.utc)         # Tuesday 10:00 in Stockholm


@pytest.mark.parametrize("severity,status,deadline", [
    (None, "diarised", "2026-12-28"),       # register 2: Wed 23, Mon 28
    ("red", "registered", "2027-01-04"),    # 23, 28, 29, 30, Mon 4 Jan
    ("yellow", "registered", "2027-01-12"),  # ... 4, 5, 7, 8, 11, Tue 12
])
def test_deadlines_skip_the_christmas_holidays(org, cal, severity, status, deadline):
    case = reach(org, INCOMING, status, severity=severity, received=XMAS)
    assert step_deadline(case, org, cal) == local_end_of_day(deadline)


def test_the_organisations_closed_day_counts_too(org):
    office = BusinessCalendar("Europe/Stockholm", closed_days=org.office_hours.closed_days)
    case = reach(org, INCOMING, "diarised", received=XMAS)
    assert step_deadline(case, org, office) == local_end_of_day("2026-12-29")   # 28, 29


def test_deadline_counts_from_the_local_date(org, cal):
    # 23:30 UTC on Tuesday 22 December is already Wednesday 23 December in Stockholm
    late = datetime(2026, 12, 22, 23, 30, tzinfo=timezone.utc)
    case = reach(org, INCOMING, "diarised", received=late)
    assert step_deadline(case, org, cal) == local_end_of_day("2026-12-29")   # 28, 29


@pytest.mark.parametrize("kind,sender,step,deadline", [
    (INCOMING, ANNA_MAIL, "send_response", "2026-11-19"),      # arrived Wed 18 + 1
    (OUTGOING, LISA, "close", "2026-11-25"),                   # arrived Wed 18 + 5
])
def test_a_response_starts_its_deadline_on_arrival_not_on_processing(org, cal, kind, sender, step,
                                                                     deadline):
    # a backlog is ingested a week late: the diary's inkom date is the mailbox's arrival time
    case = reach(org, kind, "registered" if kind == INCOMING else "sent")
    arrived = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)
    processed = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    outcome = apply(case, response(case, sender=sender, received=arrived),
                    ctx(org, mail_actor(sender), processed, channel="mail"))
    assert outcome.case.status_since["response_received"] == iso(arrived)
    assert outcome.case.events[-1].at == iso(processed), "the audit trail says when the bot did it"
    assert current_step(outcome.case, org).name == step
    assert step_deadline(outcome.case, org, cal) == local_end_of_day(deadline)


def test_send_response_counts_from_response_received(org, cal):
    case = reach(org, INCOMING, "registered")
    thursday = datetime(2026, 12, 23, 14, 0, tzinfo=timezone.utc)
    case = apply(case, response(case, sender=ANNA_MAIL, received=thursday),
                 ctx(org, mail_actor(ANNA_MAIL), thursday)).case
    assert current_step(case, org).name == "send_response"
    assert step_deadline(case, org, cal) == local_end_of_day("2026-12-28")


# --------------------------------------------------------------------------- notices
def notice_of(outcome):
    assert len(outcome.notices) == 1
    return outcome.notices[0]


@pytest.mark.parametrize("unit,act,info", [
    ("hemtjanst-norr", ["anna"], ["maria", "sven"]),
    ("hemtjanst-soder", ["bengt"], ["maria", "sven"]),
    ("solgarden", ["cecilia"], ["maria"]),
    ("hemsjukvard", ["anna", "david"], ["maria"]),
])
def test_new_incoming_case_tells_managers_and_subscribers(org, unit, act, info):
    notice = notice_of(new(org, unit=unit))
    assert notice.event == "incoming_diarised" and notice.number == NUMBER
    assert notice.recipients == tuple([Recipient(p, "act") for p in act] +
                                      [Recipient(p, "info") for p in info])


def test_new_incoming_case_without_unit_goes_to_the_registrator(org):
    notice = notice_of(new(org, unit=None))
    assert notice.event == "incoming_diarised_no_unit"
    assert notice.recipients == (Recipient("rut", "act"), Recipient("maria", "info"))


def test_new_outgoing_case_goes_to_the_registrator(org):
    notice = notice_of(new(org, OUTGOING, unit="solgarden"))
    assert notice.event == "outgoing_diarised"
    assert notice.recipients == (Recipient("rut", "act"), Recipient("maria", "info"))


def test_chat_subscriptions_add_info_copies(org):
    from bot.domain.org import Subscription
    notice = notice_of(new(org, unit="solgarden",
                           subscriptions=[Subscription("bengt", ("solgarden",))]))
    assert Recipient("bengt", "info") in notice.recipients


def test_the_sender_gets_no_info_copy_of_their_own_deviation(org):
    # maria (MA, subscribed to all units) mails in an outgoing deviation herself
    maria = "maria.medicinsson@exempelby.se"
    notice = notice_of(new(org, OUTGOING, unit="hemtjanst-norr", actor=Actor.mail(maria)))
    assert notice.recipients == (Recipient("rut", "act"), Recipient("sven", "info"))


def test_the_responder_gets_no_info_copy_of_their_own_response(org):
    case = reach(org, INCOMING, "registered")
    sven = "sven.samordnare@exempelby.se"
    now = T0 + DAY * 2
    notice = notice_of(apply(case, response(case, sender=sven, received=now),
                             ctx(org, Actor.mail(sven), now)))
    assert notice.event == "response_incoming"
    assert notice.recipients == (Recipient("rut", "act"), Recipient("maria", "info"))


def test_counterpart_response_on_outgoing_case_goes_to_the_managers(org):
    case = reach(org, OUTGOING, "sent")
    now = T0 + DAY * 5
    notice = notice_of(apply(case, response(case, sender=LISA, received=now),
                             ctx(org, Actor.mail(LISA), now)))
    assert notice.event == "response_outgoing"
    assert notice.recipients == (Recipient("anna", "act"), Recipient("maria", "info"),
                                 Recipient("sven", "info"))


@pytest.mark.parametrize("who,unit,expected", [
    ("rut", "hemtjanst-norr", [Recipient("anna", "act"), Recipient("sven", "info")]),
    ("rut", "solgarden", [Recipient("cecilia", "act")]),
    ("maria", "hemtjanst-soder", [Recipient("bengt", "act"), Recipient("sven", "info")]),
    # the person who picks the unit gets no copy of their own choice
    ("sven", "hemtjanst-norr", [Recipient("anna", "act")]),
])
def test_set_unit_from_none_tells_the_new_unit(org, who, unit, expected):
    case = new(org, unit=None).case
    outcome = apply(case, SetUnit(unit), ctx(org, who))
    notice = notice_of(outcome)
    assert notice.event == "unit_assigned"
    assert list(notice.recipients) == expected, "maria (all units) already had it"
    assert outcome.case.unit == unit
    assert outcome.message == f"{NUMBER} hör nu till {org.units[unit].name}."


def test_set_unit_between_units_does_not_repeat_copies(org):
    case = new(org, unit="hemtjanst-norr").case
    notice = notice_of(apply(case, SetUnit("hemtjanst-soder"), ctx(org, "rut")))
    assert notice.recipients == (Recipient("bengt", "act"),), "sven and maria already had it"


def test_set_unit_to_the_same_unit_tells_nobody(org):
    case = new(org, unit="hemtjanst-norr").case
    assert apply(case, SetUnit("hemtjanst-norr"), ctx(org, "rut")).notices == []


def test_commands_tell_nobody(org):
    case = reach(org, INCOMING, "diarised")
    # (red asks the MA/SAS for a Lex assessment: tests/unit/test_safety_rules.py)
    for command, who in ((Register(), "anna"), (Assess("yellow"), "anna"), (MarkSent(), "rut")):
        outcome = apply(case, command, ctx(org, who))
        assert outcome.notices == []


def test_a_close_tells_the_units_followers_for_information(org):
    """Issue 24: the MA/SAS who follow the unit see a case go (kännedom, bundled: a bulk
    `avsluta` is one message to each); the closer gets no copy, the managers nothing."""
    case = reach(org, INCOMING, "diarised")
    [notice] = apply(case, Close("dubblett"), ctx(org, "rut")).notices
    assert notice.event == "closed" and {r.role for r in notice.recipients} == {"info"}
    assert {r.person for r in notice.recipients} == set(org.subscribers_of(case.unit))
    [by_maria] = apply(case, Close("dubblett"), ctx(org, "maria")).notices
    assert "maria" not in {r.person for r in by_maria.recipients}
