"""The two case processes of DESIGN §3 as one pure function.

    apply(case, command, ctx) -> Outcome(case, notices)

It checks permissions and status rules, records an audit event for every change and
returns who must be told (Notice). It never mutates its input and does no I/O.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Protocol
from zoneinfo import ZoneInfo

from bot.domain import access
from bot.domain.access import Actor
from bot.domain.case import (CLOSED, COMPLAINT, DOC_NOTE, DOC_RESPONSE, DOC_SENT,
                             DOC_SUPPLEMENT, FSN, INCOMING, OUTGOING, REQUEST, Action, Case, Document,
                             Event, Snooze, from_iso, iso)
from bot.domain.lagrum import BY_REGISTRATOR, case_lagrum, decide_lagrum, rederive
from bot.domain.org import HSL, LAGRUM, SEVERITIES, Organisation, Subscription
from bot.domain.redact import redact
from bot.errors import DomainError
from bot.texts import t, tn


class Calendar(Protocol):
    def deadline(self, start: datetime, n: int) -> datetime: ...


# --------------------------------------------------------------------------- steps
@dataclass(frozen=True)
class Step:
    """The next thing to happen in a case: who owns it and from when its deadline runs."""
    name: str
    owners: tuple[str, ...]          # person ids; never empty (registrator when nobody else)
    started: str                     # ISO time the deadline counts from
    days: int                        # business days (calendar days when calendar_days)
    calendar_days: bool = False      # a counterpart's agreement in calendar days


def deadline_of(step: Step, calendar: Calendar) -> datetime:
    """The end of the step's last day: the n-th business day after its start, or for an
    agreement in calendar days the n-th day (moved to the next business day when it is not one)."""
    started = datetime.fromisoformat(step.started)
    if step.calendar_days:
        return calendar.deadline(started + timedelta(days=step.days), 0)
    return calendar.deadline(started, step.days)


def current_step(case: Case, org: Organisation) -> Step | None:
    if case.is_closed or case.kind == REQUEST:
        return None          # a request's clock runs in office hours (reminders.rules)
    d = org.deadlines
    managers = tuple(org.managers_of(case.unit)) or tuple(org.registrators())
    registrators = tuple(org.registrators())
    since = case.status_since
    table = {
        (INCOMING, "diarised"): ("register", managers, case.created, d.register),
        (INCOMING, "registered"): ("respond", investigators(case, org), case.created,
                                   d.respond_days(case.severity)),
        (INCOMING, "response_received"): ("send_response", registrators,
                                          since.get("response_received", case.created), d.send_response),
        (INCOMING, "response_sent"): ("close", managers, since.get("response_sent", case.created), d.close),
        (OUTGOING, "diarised"): ("send", registrators, case.created, d.send_response),
        (OUTGOING, "sent"): ("external_response", registrators, since.get("sent", case.created),
                             d.external_response),   # or the counterpart's agreement, below
        (OUTGOING, "response_received"): ("close", managers,
                                          since.get("response_received", case.created), d.close),
        (COMPLAINT, "diarised"): ("answer", managers, case.created, d.complaint_answer),
        (COMPLAINT, "answered"): ("close", managers, since.get("answered", case.created), d.close),
        (FSN, "diarised"): ("fsn", tuple(org.licensed_contact(case.unit)), case.created, d.fsn),
    }
    name, owners, started, days = table[(case.kind, case.status)]
    agreement = _agreement(case, org) if name == "external_response" else None
    if agreement is not None:
        return Step(name, owners, started, agreement[0], calendar_days=agreement[1])
    return Step(name, owners, started, days)


def investigators(case: Case, org: Organisation) -> tuple[str, ...]:
    """Who investigates (the `respond` step): under HSL the unit's licensed contact (the MA),
    under SoL and LSS, or while the law is undecided, the enhetschef (issue 26)."""
    if case_lagrum(case, org) == HSL:
        return tuple(org.licensed_contact(case.unit))
    return tuple(org.managers_of(case.unit)) or tuple(org.registrators())


def _agreement(case: Case, org: Organisation) -> tuple[int, bool] | None:
    counterpart = org.counterparts.get(case.counterpart or "")
    return counterpart.answer_within if counterpart else None
LEX_STEP = "lex"
LEX_DECISIONS = ("maria", "sarah", "ingen")


def lex_step(case: Case, org: Organisation) -> Step | None:
    """The Lex Maria / Lex Sarah assessment, a step beside the case's own: open from the
    moment it was asked for until a decision is recorded (or the case is closed)."""
    asked = case.lex_requested
    if case.is_closed or not asked or case.lex_decision:
        return None
    owners = tuple(asked.get("assessors") or org.lex_assessors(case.unit, case_lagrum(case, org)))
    return Step(LEX_STEP, owners, asked["at"], org.patient_safety.assess_days)


def signals_serious_harm(texts: list[str], words: tuple[str, ...]) -> bool:
    """Does the mail speak of serious harm (a configured word anywhere, any case)?"""
    folded = " ".join(texts).casefold()
    return any(word in folded for word in words)


def step_deadline(case: Case, org: Organisation, calendar: Calendar) -> datetime | None:
    step = current_step(case, org)
    if step is None:
        return None
    return deadline_of(step, calendar)


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class Register:
    pass


@dataclass(frozen=True)
class Assess:
    severity: str


@dataclass(frozen=True)
class MarkSent:
    """`skickad`: the registrator sent it outside the bot."""


@dataclass(frozen=True)
class RecordSent:
    """`skicka`: the bot sent the mail; the sent mail is diarised in the case."""
    document: Document
    recipient: str


@dataclass(frozen=True)
class RecordReminder:
    """`påminn`: the bot reminded the counterpart; the reminder is diarised in the case."""
    document: Document
    recipient: str


@dataclass(frozen=True)
class Close:
    reason: str | None = None


@dataclass(frozen=True)
class AddAction:
    text: str
    due: date | None = None
    owner: str | None = None


@dataclass(frozen=True)
class CompleteAction:
    no: int


@dataclass(frozen=True)
class SetUnit:
    unit: str


@dataclass(frozen=True)
class SetCounterpart:
    counterpart: str


@dataclass(frozen=True)
class SetLagrum:
    """`lagrum`: the registrator says which law the case is handled under (HSL, SoL, LSS)."""
    lagrum: str


@dataclass(frozen=True)
class SetTitle:
    title: str


@dataclass(frozen=True)
class MarkSecrecy:
    """`sekretess`: a document's secrecy marking (None = public), by the registrator."""
    document: int
    paragraph: str | None


@dataclass(frozen=True)
class SetPublicTitle:
    """`publik`: the title the public diary shows."""
    title: str


@dataclass(frozen=True)
class Hold:
    """`spärra`: the case is kept from culling (gallring) until the hold is lifted."""
    reason: str | None             # None: lift the hold


@dataclass(frozen=True)
class SnoozeStep:
    until: date
    reason: str


@dataclass(frozen=True)
class AddDocument:
    """Mail intake files a mail in an existing case (response or supplement)."""
    document: Document
    sender_internal: bool
    conversation_id: str | None = None
    severity: str | None = None      # a registrator's "Allvarlighetsgrad:" line on the mail
    serious: bool = False            # the mail's text signals serious harm (signals_serious_harm)


@dataclass(frozen=True)
class RecordLex:
    """`lex`: the MA's or SAS's assessment: report to IVO under Lex Maria or Lex Sarah, or not."""
    decision: str                    # maria | sarah | ingen
    reason: str
    ivo: str | None = None           # IVO's reference, once the report is made


@dataclass(frozen=True)
class RecordIvo:
    """`ivo`: IVO's reference for a report already decided."""
    reference: str


@dataclass(frozen=True)
class Acknowledge:
    """`kvittera`: seen, someone is on it: the open steps' escalations stop for a while."""


@dataclass(frozen=True)
class AddNote:
    """`anteckning`: something that happened outside mail (a phone call), diarised as a note."""
    text: str


@dataclass(frozen=True)
class Link:
    """`länka`: this case is related to another; the use case applies it to both cases."""
    other: str                       # the other case's formatted diary number


# --------------------------------------------------------------------------- outcome
@dataclass(frozen=True)
class Recipient:
    person: str
    role: str                        # act | info


@dataclass(frozen=True)
class Notice:
    """Someone must be told something about a case; rendered later from the catalog."""
    event: str
    number: str
    recipients: tuple[Recipient, ...]


@dataclass
class Outcome:
    case: Case
    notices: list[Notice] = field(default_factory=list)
    message: str = ""                # a short confirmation for the person who acted


@dataclass(frozen=True)
class Context:
    org: Organisation
    actor: Actor
    channel: str
    now: datetime
    subscriptions: tuple[Subscription, ...] = ()   # made in chat, on top of the configured ones


def acting_person(ctx: Context) -> str | None:
    """The person behind the actor: a chat user, or the sender of a mail (MA mailing in an
    outgoing deviation, a manager mailing the unit's response), so they get no copy of it."""
    if ctx.actor.kind == "person":
        return ctx.actor.id
    if ctx.actor.kind == "mail":
        person = ctx.org.person_by_email(ctx.actor.id)
        return person.id if person else None
    return None


def recipients(act: list[str], info: list[str], skip: str | None = None) -> tuple[Recipient, ...]:
    """Act wins over info; nobody twice; the person who caused it gets no copy."""
    result = [Recipient(p, "act") for p in dict.fromkeys(act)]
    result += [Recipient(p, "info") for p in dict.fromkeys(info) if p not in act and p != skip]
    return tuple(result)


# --------------------------------------------------------------------------- new cases
def open_case(*, number: str, key: int, kind: str, title: str, document: Document,
              unit: str | None, counterpart: str | None, severity: str | None,
              conversation_id: str | None, ctx: Context, serious: bool = False,
              lagrum: str | None = None) -> Outcome:
    """A new case from its first document (mail intake); `serious` when its text signals
    serious harm (the body is the intake's to read); `lagrum` the registrator's `Lagrum:` line."""
    now = iso(ctx.now)
    law, law_by = decide_lagrum(ctx.org, kind=kind, unit=unit, counterpart=counterpart,
                                override=lagrum)
    case = Case(number=number, key=key, kind=kind, title=redact(title), status="diarised",
                created=document.received, unit=unit, counterpart=counterpart, severity=severity,
                status_since={"diarised": document.received}, documents=[document],
                lagrum=law, lagrum_by=law_by)
    if document.message_id:
        case.message_ids.append(document.message_id)
    if conversation_id:
        case.conversation_ids.append(conversation_id)
    case.events.append(Event(now, ctx.actor.audit_name, ctx.channel, "diarised", {
        "kind": kind, "unit": unit, "counterpart": counterpart, "severity": severity,
        "document": document.no}))
    org = ctx.org
    subscribers = org.subscribers_of(unit, ctx.subscriptions)
    skip = acting_person(ctx)
    if kind == INCOMING:
        act = org.managers_of(unit) or org.registrators()
        event = "incoming_diarised" if unit else "incoming_diarised_no_unit"
    elif kind == COMPLAINT:
        act = org.managers_of(unit) or org.registrators()
        event = "complaint_diarised" if unit else "complaint_diarised_no_unit"
    elif kind == FSN:
        # the licensed contact handles it; the unit's managers (the registrators while the
        # unit is unknown) hear of it
        act = org.licensed_contact(unit)
        subscribers = [*(org.managers_of(unit) or org.registrators()), *subscribers]
        event = "fsn_diarised"
    else:
        act = org.registrators()
        event = "outgoing_diarised"
    notices = [Notice(event, number, recipients(act, subscribers, skip))]
    if kind == FSN:
        # a supplier's notice of a risk is no incident of ours: no Lex assessment is asked
        return Outcome(case, notices)
    if serious or severity == "red" or signals_serious_harm(
            [title, document.subject], org.patient_safety.serious_words):
        notices += _request_lex(case, ctx, "red" if severity == "red" else "words")
    return Outcome(case, notices)


# --------------------------------------------------------------------------- apply
def apply(case: Case, command: object, ctx: Context) -> Outcome:
    handler: Callable[[Case, Any, Context], Outcome] | None = _HANDLERS.get(type(command))
    if handler is None:
        raise TypeError(f"unknown command {command!r}")
    operation = _OPERATIONS[type(command)]
    if operation:
        access.require(ctx.org, ctx.actor, operation, case)
    # a closed case still takes mail, notes, links and the Lex decision (what is learnt later is documented, FL 27 §)
    # the records keeper's markings (secrecy, public title, a hold on culling) outlive the case
    if case.is_closed and type(command) not in (AddDocument, AddNote, Link, RecordLex, RecordIvo,
                                                MarkSecrecy, SetPublicTitle, Hold):
        raise DomainError(t(ctx.org.language, "refused_closed", number=case.number))
    if case.kind == REQUEST and type(command) is Close:
        # a request is closed by its decision (`utlämna <dnr> beslut …`), never without one
        raise DomainError(t(ctx.org.language, "refused_request_close", number=case.number))
    new = copy.deepcopy(case)
    return handler(new, command, ctx)


def _event(case: Case, ctx: Context, what: str, **details) -> None:
    case.events.append(Event(iso(ctx.now), ctx.actor.audit_name, ctx.channel, what, details))


def link_cases(new: Case, old: Case, ctx: Context) -> None:
    """A new case opened by a mail to a closed one: each names the other, with an event."""
    for case, other in ((new, old), (old, new)):
        if other.number not in case.links:
            case.links.append(other.number)
            _event(case, ctx, "linked", number=other.number)


def _move(case: Case, ctx: Context, status: str, since: str | None = None) -> None:
    """`since` starts the next deadline: a mail's arrival (DESIGN §4), else now."""
    previous = case.status
    case.status = status
    case.status_since[status] = since or iso(ctx.now)
    _event(case, ctx, "status", **{"from": previous, "to": status})


def _register(case: Case, cmd: Register, ctx: Context) -> Outcome:
    lang = ctx.org.language
    if case.kind != INCOMING:
        raise DomainError(t(lang, "refused_register_outgoing", number=case.number))
    if case.status != "diarised":
        raise DomainError(t(lang, "refused_already_registered", number=case.number))
    _move(case, ctx, "registered")
    # under HSL the licensed contact investigates: told now, unless it is they who registered
    notices = []
    if case_lagrum(case, ctx.org) == HSL:
        act = [p for p in investigators(case, ctx.org) if p != acting_person(ctx)]
        if act:
            notices.append(Notice("investigate", case.number, recipients(act, [])))
    return Outcome(case, notices, message=t(lang, "done_registered", number=case.number))


def _assess(case: Case, cmd: Assess, ctx: Context) -> Outcome:
    if cmd.severity not in SEVERITIES:
        raise DomainError(t(ctx.org.language, "refused_severity"))
    previous = case.severity
    case.severity = cmd.severity
    _event(case, ctx, "assessed", **{"from": previous, "to": cmd.severity})
    notices = _request_lex(case, ctx, "red") if cmd.severity == "red" else []
    return Outcome(case, notices, message=t(ctx.org.language, "done_assessed", number=case.number,
                                   severity=t(ctx.org.language, f"severity_{cmd.severity}")))


def _request_lex(case: Case, ctx: Context, reason: str) -> list[Notice]:
    """Ask the MA/SAS for a Lex Maria / Lex Sarah assessment, once per case."""
    if case.lex_requested or case.lex_decision:
        return []
    assessors = ctx.org.lex_assessors(case.unit, case_lagrum(case, ctx.org))
    case.lex_requested = {"at": iso(ctx.now), "reason": reason, "assessors": assessors}
    _event(case, ctx, "lex_requested", reason=reason, assessors=assessors)
    return [Notice("lex_requested", case.number, recipients(assessors, []))]


def _sent_target(case: Case, lang: str) -> str:
    if case.kind == INCOMING and case.status in ("diarised", "registered", "response_received"):
        return "response_sent"
    if case.kind == OUTGOING and case.status == "diarised":
        return "sent"
    if case.kind == COMPLAINT and case.status == "diarised":
        return "answered"          # the answer to the complainant was sent
    raise DomainError(t(lang, "refused_already_sent", number=case.number))


def _mark_sent(case: Case, cmd: MarkSent, ctx: Context) -> Outcome:
    _move(case, ctx, _sent_target(case, ctx.org.language))
    return Outcome(case, message=t(ctx.org.language, "done_marked_sent", number=case.number))


def _record_sent(case: Case, cmd: RecordSent, ctx: Context) -> Outcome:
    target = _sent_target(case, ctx.org.language)
    if case.kind == INCOMING and not any(d.type == DOC_RESPONSE for d in case.documents):
        # the bot sends the unit's response on; before it arrives there is nothing to send
        raise DomainError(t(ctx.org.language, "refused_no_response", number=case.number))
    case.documents.append(cmd.document)
    if cmd.document.message_id:
        case.message_ids.append(cmd.document.message_id)
    _event(case, ctx, "document", no=cmd.document.no, type=DOC_SENT)
    _move(case, ctx, target)
    return Outcome(case, message=t(ctx.org.language, "done_sent", number=case.number,
                                   address=cmd.recipient))


def may_remind(case: Case) -> bool:
    """The counterpart owes us an answer: our deviation went to them, theirs has not come."""
    return case.kind == OUTGOING and case.status == "sent"


def _record_reminder(case: Case, cmd: RecordReminder, ctx: Context) -> Outcome:
    if not may_remind(case):
        raise DomainError(t(ctx.org.language, "refused_remind_not_waiting", number=case.number))
    case.documents.append(cmd.document)
    if cmd.document.message_id:
        case.message_ids.append(cmd.document.message_id)
    _event(case, ctx, "document", no=cmd.document.no, type=cmd.document.type)
    return Outcome(case, message=t(ctx.org.language, "done_reminded", number=case.number,
                                   address=cmd.recipient))


def _close(case: Case, cmd: Close, ctx: Context) -> Outcome:
    lang, org = ctx.org.language, ctx.org
    person = org.people.get(ctx.actor.id)
    reason = (cmd.reason or "").strip() or None
    at_closing_step = (case.kind, case.status) in ((INCOMING, "response_sent"),
                                                    (OUTGOING, "response_received"),
                                                    (COMPLAINT, "answered"), (FSN, "diarised"))
    fsn = None
    wrongly = bool(reason and _WRONGLY_DIARISED.search(reason) and person and person.has_oversight)
    if case.kind == FSN and not wrongly:
        # a device notice closes only with the supplier answered and a yes/no on a report
        # to Läkemedelsverket (issue 26); what else is written is the reason. Only oversight
        # closing one that was no notice at all ("felaktigt diarierad", "dubblett") is exempt
        fsn, reason = fsn_closing(reason or "")
        if fsn is None:
            raise DomainError(t(lang, "refused_close_fsn", number=case.number))
        reason = reason or None
    if not at_closing_step:
        if not (person and person.has_oversight):
            raise DomainError(t(lang, "refused_close_early_role", number=case.number))
        if not reason:
            raise DomainError(t(lang, "refused_close_early_reason", number=case.number))
    open_actions = case.open_actions()
    if open_actions and not reason:
        listing = "; ".join(f"{a.no}. {a.text}" for a in open_actions)
        raise DomainError(tn(lang, "refused_close_open_actions", len(open_actions),
                             number=case.number, actions=listing))
    case.close_reason = redact(reason) if reason else None
    if fsn is not None:
        case.fsn_closing = {**fsn, "by": ctx.actor.audit_name, "at": iso(ctx.now)}
    _move(case, ctx, CLOSED)
    if reason:
        case.events[-1].details["reason"] = case.close_reason
    # those who follow the unit see the case go, för kännedom (bundled: a bulk close is
    # one message to each of them, bot.domain.bundling)
    info = org.subscribers_of(case.unit, ctx.subscriptions)
    notices = [Notice("closed", case.number, who)] if (
        who := recipients([], info, acting_person(ctx))) else []
    if fsn is not None:
        case.events[-1].details.update(fsn)
        return Outcome(case, notices, message=t(lang, "done_closed_fsn", number=case.number,
                                                lmv=t(lang, "fsn_lmv_yes" if fsn["lmv_reported"]
                                                      else "fsn_lmv_no")))
    return Outcome(case, notices, message=t(lang, "done_closed", number=case.number))


# what registrator, MA or SAS write when a case should never have been one (DESIGN §3)
_WRONGLY_DIARISED = re.compile(r"\b(?:fel(?:aktigt)?\s*diarie\w*|dubblett\w*|duplicate|"
                               r"wrongly\s+diari[sz]ed)", re.IGNORECASE)


# "svar till leverantören skickat" (also "svar till leverantör skickat", "leverantörssvar
# skickat", "supplier answered"); "läkemedelsverket ja|nej" (also "LV: nej", "lmv ja",
# "anmält till Läkemedelsverket: ja", "mpa yes|no")
_FSN_SUPPLIER = re.compile(
    r"svar(?:et)?\s+till\s+leverantör(?:en)?\s+(?:är\s+)?skickat|leverantörssvar(?:et)?\s+skickat"
    r"|supplier\s+answered|answer\s+to\s+(?:the\s+)?supplier\s+sent", re.IGNORECASE)
_FSN_LMV = re.compile(
    r"(?:\b(?:rapport|anmäl|report)\w*\s+(?:till|to)\s+)?\b(?:läkemedelsverket|lmv|lv|mpa)\s*:?\s*"
    r"(?P<answer>ja|nej|yes|no)\b", re.IGNORECASE)


def fsn_closing(text: str) -> tuple[dict[str, Any] | None, str]:
    """The facts an fsn case closes with, and what is left of the text as the reason:
    ({"supplier_answered": True, "lmv_reported": bool}, rest), or (None, text) when either
    is missing."""
    supplier = _FSN_SUPPLIER.search(text)
    lmv = _FSN_LMV.search(text)
    if supplier is None or lmv is None:
        return None, text
    reported = lmv["answer"].casefold() in ("ja", "yes")
    rest = text
    for m in sorted((supplier, lmv), key=lambda m: m.start(), reverse=True):
        rest = rest[:m.start()] + " " + rest[m.end():]
    rest = " ".join(rest.split()).strip(" ,;.:-–")
    return {"supplier_answered": True, "lmv_reported": reported}, rest


def _add_action(case: Case, cmd: AddAction, ctx: Context) -> Outcome:
    text = redact(" ".join(cmd.text.split()))
    if not text:
        raise DomainError(t(ctx.org.language, "refused_action_text"))
    owner = cmd.owner or (ctx.actor.id if ctx.actor.kind == "person" else None)
    action = Action(no=len(case.actions) + 1, text=text, owner=owner,
                    due=cmd.due.isoformat() if cmd.due else None, created=iso(ctx.now))
    case.actions.append(action)
    _event(case, ctx, "action_added", no=action.no, text=text, due=action.due)
    return Outcome(case, message=t(ctx.org.language, "done_action_added", number=case.number,
                                   no=action.no))


def _complete_action(case: Case, cmd: CompleteAction, ctx: Context) -> Outcome:
    lang = ctx.org.language
    action = next((a for a in case.actions if a.no == cmd.no), None)
    if action is None:
        raise DomainError(t(lang, "refused_no_such_action", number=case.number, no=cmd.no))
    if not action.is_open:
        raise DomainError(t(lang, "refused_action_done", number=case.number, no=cmd.no))
    action.done, action.done_by = iso(ctx.now), ctx.actor.audit_name
    _event(case, ctx, "action_done", no=cmd.no)
    return Outcome(case, message=t(lang, "done_action_done", number=case.number, no=cmd.no))


def _set_unit(case: Case, cmd: SetUnit, ctx: Context) -> Outcome:
    org = ctx.org
    if cmd.unit not in org.units:
        raise DomainError(t(org.language, "refused_unknown_unit", unit=cmd.unit))
    previous = case.unit
    case.unit = cmd.unit
    _event(case, ctx, "unit", **{"from": previous, "to": cmd.unit})
    _follow_lagrum(case, ctx)
    notices = []
    if previous != cmd.unit:
        # the new unit's people hear of the case now; those who follow every unit already did
        already = set(org.subscribers_of(previous, ctx.subscriptions)) if previous else set(
            org.subscribers_of(None, ctx.subscriptions))
        info = [p for p in org.subscribers_of(cmd.unit, ctx.subscriptions) if p not in already]
        act = org.managers_of(cmd.unit) if case.kind in (INCOMING, COMPLAINT) or case.status == "response_received" else []
        if case.kind == FSN:
            act = org.licensed_contact(cmd.unit)
        if act or info:
            notices.append(Notice("unit_assigned", case.number,
                                  recipients(act, info, acting_person(ctx))))
    return Outcome(case, notices, t(org.language, "done_unit", number=case.number,
                                    unit=org.units[cmd.unit].name))


def _set_counterpart(case: Case, cmd: SetCounterpart, ctx: Context) -> Outcome:
    org = ctx.org
    if cmd.counterpart not in org.counterparts:
        raise DomainError(t(org.language, "refused_unknown_counterpart", counterpart=cmd.counterpart))
    previous = case.counterpart
    case.counterpart = cmd.counterpart
    _event(case, ctx, "counterpart", **{"from": previous, "to": cmd.counterpart})
    _follow_lagrum(case, ctx)
    return Outcome(case, message=t(org.language, "done_counterpart", number=case.number,
                                   counterpart=org.counterparts[cmd.counterpart].name))


def _follow_lagrum(case: Case, ctx: Context) -> None:
    """A derived law follows a new unit or counterpart (bot.domain.lagrum.rederive); a change
    is written in the unit's or counterpart's event just recorded (one change, one event)."""
    previous = case.lagrum
    case.lagrum, case.lagrum_by = rederive(case, ctx.org)
    if case.lagrum != previous:
        case.events[-1].details.update(lagrum_from=previous, lagrum_to=case.lagrum)


def _set_lagrum(case: Case, cmd: SetLagrum, ctx: Context) -> Outcome:
    lang = ctx.org.language
    if cmd.lagrum not in LAGRUM:
        raise DomainError(t(lang, "refused_lagrum", laws=", ".join(LAGRUM)))
    previous = case_lagrum(case, ctx.org)
    before = investigators(case, ctx.org)
    case.lagrum, case.lagrum_by = cmd.lagrum, BY_REGISTRATOR
    _event(case, ctx, "lagrum", **{"from": previous, "to": cmd.lagrum, "by": BY_REGISTRATOR})
    notices = []
    if case.kind == INCOMING and case.status == "registered" and cmd.lagrum == HSL:
        # the investigation under way moves to the licensed contact: told now
        act = [p for p in investigators(case, ctx.org)
               if p not in before and p != acting_person(ctx)]
        if act:
            notices.append(Notice("investigate", case.number, recipients(act, [])))
    return Outcome(case, notices, t(lang, "done_lagrum", number=case.number, lagrum=cmd.lagrum))


def _set_title(case: Case, cmd: SetTitle, ctx: Context) -> Outcome:
    title = redact(" ".join(cmd.title.split()))
    if not title:
        raise DomainError(t(ctx.org.language, "refused_title"))
    previous = case.title
    case.title = title
    _event(case, ctx, "title", **{"from": previous, "to": title})
    return Outcome(case, message=t(ctx.org.language, "done_title", number=case.number))


def _mark_secrecy(case: Case, cmd: MarkSecrecy, ctx: Context) -> Outcome:
    from bot.domain.records import marking
    lang = ctx.org.language
    document = next((d for d in case.documents if d.no == cmd.document), None)
    if document is None:
        raise DomainError(t(lang, "refused_no_document", number=case.number, no=cmd.document))
    previous = document.secrecy.get("paragraph") if document.secrecy else None
    document.secrecy = marking(cmd.paragraph, ctx.actor.audit_name, ctx.now)
    _event(case, ctx, "secrecy", document=cmd.document, **{"from": previous, "to": cmd.paragraph})
    return Outcome(case, message=t(lang, "done_secrecy", number=case.number, no=cmd.document,
                                   paragraph=cmd.paragraph or t(lang, "secrecy_public")))


def _set_public_title(case: Case, cmd: SetPublicTitle, ctx: Context) -> Outcome:
    from bot.domain.records import mask_names
    title = mask_names(ctx.org, cmd.title)
    if not title:
        raise DomainError(t(ctx.org.language, "refused_title"))
    previous = case.public_title
    case.public_title = title
    _event(case, ctx, "public_title", **{"from": previous, "to": title})
    return Outcome(case, message=t(ctx.org.language, "done_public_title", number=case.number,
                                   title=title))


def _hold(case: Case, cmd: Hold, ctx: Context) -> Outcome:
    lang = ctx.org.language
    if cmd.reason is None:
        if case.hold is None:
            raise DomainError(t(lang, "refused_not_held", number=case.number))
        case.hold = None
        _event(case, ctx, "hold_lifted")
        return Outcome(case, message=t(lang, "done_hold_lifted", number=case.number))
    reason = redact(" ".join(cmd.reason.split()))
    if not reason:
        raise DomainError(t(lang, "refused_hold_reason"))
    case.hold = {"reason": reason, "by": ctx.actor.audit_name, "at": iso(ctx.now)}
    _event(case, ctx, "hold", reason=reason)
    return Outcome(case, message=t(lang, "done_hold", number=case.number))


def _local_today(ctx: Context) -> date:
    """Today in the organisation's time zone (naive times are UTC, as everywhere)."""
    return from_iso(iso(ctx.now)).astimezone(ZoneInfo(ctx.org.timezone)).date()


def _snooze(case: Case, cmd: SnoozeStep, ctx: Context) -> Outcome:
    lang = ctx.org.language
    step = current_step(case, ctx.org)
    if step is None:           # nothing left to remind of
        raise DomainError(t(lang, "refused_closed", number=case.number))
    reason = redact(" ".join(cmd.reason.split()))
    if not reason:
        raise DomainError(t(lang, "refused_snooze_reason"))
    if cmd.until <= _local_today(ctx):
        raise DomainError(t(lang, "refused_snooze_past"))
    case.snoozes.append(Snooze(step=step.name, until=cmd.until.isoformat(), reason=reason,
                               by=ctx.actor.audit_name))
    _event(case, ctx, "snoozed", step=step.name, until=cmd.until.isoformat(), reason=reason)
    return Outcome(case, message=t(lang, "done_snoozed", number=case.number,
                                   until=cmd.until.isoformat()))


def _add_document(case: Case, cmd: AddDocument, ctx: Context) -> Outcome:
    org, doc = ctx.org, cmd.document
    case.documents.append(doc)
    if doc.message_id and doc.message_id not in case.message_ids:
        case.message_ids.append(doc.message_id)
    if cmd.conversation_id and cmd.conversation_id not in case.conversation_ids:
        case.conversation_ids.append(cmd.conversation_id)
    _event(case, ctx, "document", no=doc.no, type=doc.type)
    if cmd.severity in SEVERITIES and not case.severity:
        case.severity = cmd.severity
        _event(case, ctx, "assessed", **{"from": None, "to": cmd.severity, "source": "mail"})
    lex_notices: list[Notice] = []
    if not case.is_closed and case.kind != FSN and (case.severity == "red" or cmd.serious or signals_serious_harm(
            [doc.subject], org.patient_safety.serious_words)):
        lex_notices = _request_lex(case, ctx, "red" if case.severity == "red" else "words")
    subscribers = org.subscribers_of(case.unit, ctx.subscriptions)
    managers = org.managers_of(case.unit) or org.registrators()
    skip = acting_person(ctx)
    notices: list[Notice] = []
    if doc.type == DOC_RESPONSE and case.kind == INCOMING:
        if case.status in ("diarised", "registered"):
            _move(case, ctx, "response_received", since=doc.received)
        notices.append(Notice("response_incoming", case.number,
                              recipients(org.registrators(), subscribers, skip)))
    elif doc.type == DOC_RESPONSE and case.kind == OUTGOING:
        if case.status in ("diarised", "sent"):
            _move(case, ctx, "response_received", since=doc.received)
        notices.append(Notice("response_outgoing", case.number,
                              recipients(managers, subscribers, skip)))
    else:
        notices.append(Notice("supplement", case.number, recipients(managers, [])))
    return Outcome(case, notices + lex_notices)


def _record_lex(case: Case, cmd: RecordLex, ctx: Context) -> Outcome:
    lang = ctx.org.language
    if cmd.decision not in LEX_DECISIONS:
        raise DomainError(t(lang, "refused_lex_decision"))
    reason = redact(" ".join(cmd.reason.split()))
    if not reason:
        raise DomainError(t(lang, "refused_lex_reason", number=case.number))
    ivo = redact(cmd.ivo.strip()) if cmd.ivo and cmd.ivo.strip() else None
    if ivo and cmd.decision == "ingen":
        raise DomainError(t(lang, "refused_ivo_without_report", number=case.number))
    previous = case.lex_decision
    case.lex_decision = {"decision": cmd.decision, "reason": reason, "by": ctx.actor.audit_name,
                         "at": iso(ctx.now), "ivo": ivo}
    _event(case, ctx, "lex_decided", decision=cmd.decision, reason=reason, ivo=ivo,
           previous=previous["decision"] if previous else None)
    key = "done_lex_none" if cmd.decision == "ingen" else (
        "done_lex_report_ivo" if ivo else "done_lex_report")
    return Outcome(case, message=t(lang, key, number=case.number, ivo=ivo or "",
                                   law=t(lang, f"lex_{cmd.decision}")))


def _record_ivo(case: Case, cmd: RecordIvo, ctx: Context) -> Outcome:
    lang = ctx.org.language
    decision = case.lex_decision
    if not decision or decision["decision"] == "ingen":
        raise DomainError(t(lang, "refused_ivo_without_report", number=case.number))
    reference = redact(" ".join(cmd.reference.split()))
    if not reference:
        raise DomainError(t(lang, "refused_ivo_reference", number=case.number))
    case.lex_decision = {**decision, "ivo": reference}
    _event(case, ctx, "ivo_reference", ivo=reference)
    return Outcome(case, message=t(lang, "done_ivo", number=case.number, ivo=reference))


def _acknowledge(case: Case, cmd: Acknowledge, ctx: Context) -> Outcome:
    lang, org = ctx.org.language, ctx.org
    steps = [s for s in (current_step(case, org), lex_step(case, org)) if s is not None]
    if not steps:
        raise DomainError(t(lang, "refused_closed", number=case.number))
    for step in steps:
        case.acks.append({"step": step.name, "by": ctx.actor.audit_name, "at": iso(ctx.now)})
    _event(case, ctx, "acknowledged", steps=[s.name for s in steps])
    return Outcome(case, message=t(lang, "done_acknowledged", number=case.number,
                                   days=org.deadlines.acknowledged_for))


def _add_note(case: Case, cmd: AddNote, ctx: Context) -> Outcome:
    text = redact(" ".join(cmd.text.split()))
    if not text:
        raise DomainError(t(ctx.org.language, "refused_note_text"))
    document = Document(no=len(case.documents) + 1, type=DOC_NOTE, received=iso(ctx.now),
                        sender=ctx.actor.audit_name, subject=text)
    case.documents.append(document)
    _event(case, ctx, "document", no=document.no, type=DOC_NOTE)
    return Outcome(case, message=t(ctx.org.language, "done_note", number=case.number,
                                   no=document.no))


def _link(case: Case, cmd: Link, ctx: Context) -> Outcome:
    lang = ctx.org.language
    if cmd.other == case.number:
        raise DomainError(t(lang, "refused_link_self", number=case.number))
    if cmd.other in case.links:
        raise DomainError(t(lang, "refused_link_exists", number=case.number, other=cmd.other))
    case.links.append(cmd.other)
    _event(case, ctx, "linked", other=cmd.other)
    return Outcome(case, message=t(lang, "done_linked", number=case.number, other=cmd.other))


def document_type(kind: str, sender_internal: bool, sender_is_counterpart: bool) -> str:
    """DESIGN §4: response from our side on an incoming case, from the counterpart on an outgoing one."""
    if kind == INCOMING and sender_internal:
        return DOC_RESPONSE
    if kind == OUTGOING and sender_is_counterpart:
        return DOC_RESPONSE
    if kind in (COMPLAINT, FSN) and sender_internal:
        return DOC_RESPONSE          # our answer to the complainant or the supplier, drawn up here
    return DOC_SUPPLEMENT


_HANDLERS: dict[type, Callable[[Case, Any, Context], Outcome]] = {
    Register: _register, Assess: _assess, MarkSent: _mark_sent, RecordSent: _record_sent,
    RecordReminder: _record_reminder,
    Close: _close, AddAction: _add_action, CompleteAction: _complete_action, SetUnit: _set_unit,
    SetCounterpart: _set_counterpart, SetTitle: _set_title, SetLagrum: _set_lagrum, SnoozeStep: _snooze,
    AddDocument: _add_document, AddNote: _add_note, Link: _link, RecordLex: _record_lex,
    RecordIvo: _record_ivo, Acknowledge: _acknowledge,
    MarkSecrecy: _mark_secrecy, SetPublicTitle: _set_public_title, Hold: _hold,
}
_OPERATIONS = {
    Register: access.MANAGE, Assess: access.MANAGE, MarkSent: access.MARK_SENT,
    RecordSent: access.SEND, RecordReminder: access.SEND, Close: access.CLOSE, AddAction: access.MANAGE,
    CompleteAction: access.MANAGE, SetUnit: access.ROUTE, SetCounterpart: access.ROUTE,
    SetLagrum: access.ROUTE,
    SetTitle: access.MANAGE, SnoozeStep: access.MANAGE, AddDocument: None,
    AddNote: access.MANAGE, Link: access.MANAGE, RecordLex: access.LEX, RecordIvo: access.LEX,
    Acknowledge: access.MANAGE,
    MarkSecrecy: access.RECORDS, SetPublicTitle: access.RECORDS, Hold: access.RECORDS,
}
assert set(_HANDLERS) == set(_OPERATIONS)
