"""The use cases: ingest mail, handle a command, deliver the outbox.

Every entry point (CLI, Maildir watcher, Slack, Teams) calls one of these. The rules
are pure (bot.domain, bot.mail.classify, handlers.commands); this module loads, applies,
stores and commits, and turns domain errors into replies.
"""
from __future__ import annotations

import email
import email.policy
import functools
import hashlib
import logging
import threading
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Iterable

from bot.chat.render import (case_labels, digest_view, notification_view, plain_text,
                             mailbox_view, reminder_view, triage_view, unreachable_view)
from bot.domain import access
from bot.domain.access import Actor
from bot.domain.case import (CH_MAIL, DOC_DEVIATION, DOC_SENT, INCOMING, Case, Document, iso)
from bot.domain.org import ALL_UNITS, Organisation, Person
from bot.domain import process as proc
from bot.domain.process import Context, Notice, Outcome, current_step, step_deadline
from bot.domain.health import MailboxHealth, next_health
from bot.domain.redact import redact
from bot.errors import BotError, DeliveryError, DomainError, PermissionDenied, Unreachable
from bot.mail.classify import ADDED, DUPLICATE, NEW_CASE, TRIAGE, Decision, Detector, classify
from bot.ports import Clock, MailSender, Notifier
from bot.store.repository import TinyDbCaseStore
from bot.texts import long_date, t
from handlers.commands import Command, parse
from reminders.calendar import BusinessCalendar
from reminders.rules import digest_key, due_reminders, weekly_digest_due

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
GROUP_COMMIT = 50   # mails per durable write when ingesting a batch
HEALTH_KEY = "health:mailbox"
# case events a unit's team channel is told about (for information)
UNIT_POST_EVENTS = frozenset({"incoming_diarised", "unit_assigned", "outgoing_diarised",
                              "response_incoming", "response_outgoing"})


def _serialised(method):
    """The store is not thread-safe: one use case at a time (the run loop calls from threads)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)
    return wrapper


@dataclass(frozen=True)
class Reply:
    text: str
    ok: bool = True


class Services:
    def __init__(self, org: Organisation, store: TinyDbCaseStore, calendar: BusinessCalendar,
                 clock: Clock, notifiers: dict[str, Notifier] | None = None,
                 channels: dict[str, bool] | None = None, sender: MailSender | None = None):
        self.org, self.store, self.calendar, self.clock = org, store, calendar, clock
        self.notifiers = notifiers or {}
        self.channels = channels or {"console": True}
        self.sender = sender
        self.detector = Detector(org)
        self.lock = threading.RLock()

    # ================================================================== mail intake
    @_serialised
    def ingest_mail(self, raw: bytes, *, arrived: datetime | None = None,
                    conversation_id: str | None = None, commit: bool = True) -> dict[str, Any]:
        """One mail through intake; durable when this returns (unless commit=False)."""
        result = self._ingest(raw, arrived, conversation_id)
        if commit:
            self.store.commit()
        return result

    @_serialised
    def ingest_many(self, items: Iterable[tuple[bytes, datetime | None, str | None]],
                    on_durable=None) -> list[dict[str, Any]]:
        """Group commit: one durable write per GROUP_COMMIT mails; on_durable(results) after each."""
        results, pending = [], []
        for raw, arrived, conversation_id in items:
            pending.append(self._ingest(raw, arrived, conversation_id))
            if len(pending) >= GROUP_COMMIT:
                self.store.commit()
                if on_durable:
                    on_durable(pending)
                results += pending
                pending = []
        self.store.commit()
        if on_durable and pending:
            on_durable(pending)
        return results + pending

    def _ingest(self, raw: bytes, arrived: datetime | None,
                conversation_id: str | None) -> dict[str, Any]:
        from bot.mail.parse import parse_mail  # MIME and HTML libraries: only intake needs them
        now = self.clock.now()
        mail = parse_mail(raw, conversation_id=conversation_id)
        arrival = arrived or mail.received or mail.date or now
        try:
            decision = classify(mail, self.org, self.store, self.detector)
        except Exception:  # a rule bug must not lose the mail: it goes to a person
            log.exception("classification failed for %s", mail.duplicate_key)
            decision = Decision(TRIAGE, "internt fel vid klassificering", sender=mail.sender_address,
                                title=redact(mail.subject))
        if decision.outcome == DUPLICATE:
            log.info("duplicate %s", mail.duplicate_key)
            return _result(mail, decision, None)
        raw_path = self.store.keep_raw(raw, mail.content_hash, arrival)
        document = Document(no=1, type=decision.document or DOC_DEVIATION, received=iso(arrival),
                            sender=decision.sender or mail.sender_address,
                            subject=redact(mail.subject), message_id=mail.message_id, raw=raw_path,
                            attachments=[redact(a.filename) for a in mail.attachments])
        ctx = self._context(Actor.mail(document.sender), CH_MAIL, now)
        number = None
        if decision.outcome == NEW_CASE:
            number = self._new_case(decision, document, conversation_id, ctx)
        elif decision.outcome == ADDED:
            number = self._add_to_case(decision, document, conversation_id, ctx)
        triage_id = None
        if decision.outcome == TRIAGE:
            triage_id = "T" + mail.content_hash[:8]
            self._triage(decision, mail, triage_id, now)
        self.store.record_mail({
            "key": mail.duplicate_key, "outcome": decision.outcome, "number": number,
            "triage_id": triage_id,
            "message_id": mail.message_id, "conversation_id": conversation_id,
            "received": iso(arrival), "at": iso(now), "raw": raw_path, "reason": decision.reason,
            "sender": document.sender, "subject": document.subject})
        log.info("intake %s -> %s %s", mail.duplicate_key[:60], decision.outcome, number or "")
        return _result(mail, decision, number)

    def _new_case(self, decision: Decision, document: Document, conversation_id: str | None,
                  ctx: Context) -> str:
        year = self.calendar.local(datetime.fromisoformat(document.received)).year
        number = self.store.next_number(year)
        outcome = proc.open_case(
            number=number.format(self.org.digits), key=number.key, kind=decision.kind,
            title=decision.title, document=document, unit=decision.unit,
            counterpart=decision.counterpart, severity=decision.severity,
            conversation_id=conversation_id, ctx=ctx)
        self._save(outcome, ctx.now)
        return outcome.case.number

    def _add_to_case(self, decision: Decision, document: Document, conversation_id: str | None,
                     ctx: Context) -> str:
        case = self.store.get_case_by_text(decision.case.number)
        document.no = len(case.documents) + 1
        outcome = proc.apply(case, proc.AddDocument(document, decision.sender_internal,
                                                    conversation_id), ctx)
        if decision.severity and not outcome.case.severity:
            outcome.case.severity = decision.severity
        self._save(outcome, ctx.now)
        return case.number

    def _triage(self, decision: Decision, mail, triage_id: str, now: datetime) -> None:
        view = triage_view(self.org, sender=decision.sender or mail.sender_address,
                           subject=mail.subject, reason=decision.reason,
                           suggestion=decision.case.number if decision.case else None,
                           key=mail.duplicate_key, triage_id=triage_id,
                           units=list(decision.unit_candidates) or list(self.org.units))
        for person in self.org.registrators():
            self._queue(person, "triage", view, f"triage:{mail.duplicate_key}:{person}", now)

    # ================================================================== outbox
    def _save(self, outcome: Outcome, now: datetime) -> None:
        """The case and its notifications in the same (uncommitted) write."""
        self.store.put_case(outcome.case)
        for notice in outcome.notices:
            self._queue_notice(outcome.case, notice, now)

    def _queue_notice(self, case: Case, notice: Notice, now: datetime) -> None:
        deadline = step_deadline(case, self.org, self.calendar)
        for recipient in notice.recipients:
            view = notification_view(self.org, case, notice.event, recipient.role, deadline,
                                     self.calendar.local)
            key = f"{case.number}:{notice.event}:{len(case.events)}:{recipient.person}"
            self._queue(recipient.person, notice.event, view, key, now)
        if notice.event in UNIT_POST_EVENTS:
            self._queue_unit_post(case, notice.event, deadline, now)

    def _queue_unit_post(self, case: Case, event: str, deadline, now: datetime) -> None:
        """The unit's team channel sees its cases come and go (DESIGN §5), for information."""
        unit = self.org.units.get(case.unit or "")
        if unit is None:
            return
        channel = ("slack" if unit.slack_channel and self.channels.get("slack") else
                   "teams" if unit.teams_channel and self.channels.get("teams") else None)
        if channel is None:
            return
        view = notification_view(self.org, case, event, "info", deadline, self.calendar.local)
        self.store.add_notification({
            "id": f"{case.number}:{event}:{len(case.events)}:unit:{unit.id}",
            "recipient": f"unit:{unit.id}", "channel": channel, "diary_number": case.number,
            "event": event, "text": plain_text(self.org, view), "view": view, "state": "pending",
            "created": iso(now), "attempts": 0, "next_attempt": iso(now)})

    def _queue(self, person_id: str, event: str, view: dict, key: str, now: datetime) -> None:
        person = self.org.people.get(person_id)
        if person is None:
            return
        self.store.add_notification({
            "id": key, "recipient": person_id, "channel": self.channel_for(person),
            "diary_number": view.get("number"), "event": event,
            "text": plain_text(self.org, view), "view": view, "state": "pending",
            "created": iso(now), "attempts": 0, "next_attempt": iso(now)})

    def channel_for(self, person: Person) -> str:
        """The first channel the person has that is configured (DESIGN §5)."""
        if person.slack and self.channels.get("slack"):
            return "slack"
        if person.teams and self.channels.get("teams"):
            return "teams"
        if self.channels.get("email"):
            return "email"
        return "console"

    @_serialised
    def deliver_outbox(self) -> dict[str, int]:
        """Send what is due; each result is committed before the next send."""
        now = self.clock.now()
        counts = {"sent": 0, "retry": 0, "failed": 0}
        for item in sorted(self.store.outbox("pending"), key=lambda n: n["created"]):
            if item["next_attempt"] > iso(now):
                continue
            notifier = self.notifiers.get(item["channel"]) or self.notifiers.get("console")
            try:
                if notifier is None:
                    raise DeliveryError(f"ingen kanal {item['channel']}")
                delivery = notifier.send(item)
            except Unreachable as exc:
                self._fall_back(item, exc, now)
                counts["retry"] += 1
            except DeliveryError as exc:
                attempts = item["attempts"] + 1
                state = "failed" if attempts >= MAX_ATTEMPTS else "pending"
                delay = (exc.retry_after if exc.retry_after is not None
                         else min(30 * 2 ** attempts, 3600))
                self.store.update_notification(item["id"], {
                    "attempts": attempts, "state": state, "error": str(exc)[:200],
                    "next_attempt": iso(now + timedelta(seconds=delay))})
                counts["failed" if state == "failed" else "retry"] += 1
                log.warning("delivery of %s failed (%d): %s", item["id"], attempts, exc)
            else:
                fields = {"state": "sent", "sent_at": iso(now), "attempts": item["attempts"] + 1}
                if delivery:
                    fields["delivery"] = delivery   # e.g. where the chat message is, to update it
                self.store.update_notification(item["id"], fields)
                counts["sent"] += 1
            self.store.commit()
        return counts

    def _fall_back(self, item: dict, exc: Unreachable, now: datetime) -> None:
        """The person cannot be reached on the chat channel (yet): e-mail instead, and the
        registrator is told once per person and channel, so someone can fix it."""
        fallback = "email" if self.channels.get("email") else "console"
        log.warning("%s not reachable on %s (%s): falling back to %s", item["recipient"],
                    item["channel"], exc, fallback)
        self.store.update_notification(item["id"], {
            "channel": fallback, "fallback_from": item["channel"], "error": str(exc)[:200]})
        person = self.org.people.get(item["recipient"])
        recipient = item["recipient"]
        unit = self.org.units.get(recipient[5:]) if recipient.startswith("unit:") else None
        if unit is not None:
            # a team channel has no e-mail: the post is dropped, the registrator told
            self.store.update_notification(item["id"], {"state": "failed"})
        if item.get("fallback_from") or (person or unit) is None:
            return
        name = person.name if person else unit.name
        view = unreachable_view(self.org, name, item["channel"], fallback)
        for registrator in self.org.registrators():
            if person is None or registrator != person.id:
                self._queue(registrator, "unreachable", view,
                            f"unreachable:{item['recipient']}:{item['channel']}:{registrator}", now)

    # ================================================================== mailbox health
    @_serialised
    def record_mailbox_health(self, ok: bool, error: str = "", mailbox: str = "") -> str | None:
        """After each mailbox round: tell the registrator once when the mailbox has been
        unreadable for organisation.mailbox_alert_minutes, and once when it recovers."""
        now = self.clock.now()
        before = MailboxHealth.from_dict(self.store.get_state(HEALTH_KEY))
        after, event = next_health(before, ok=ok, error=redact(error)[:200], now=now,
                                   alert_after=timedelta(minutes=self.org.mailbox_alert_minutes))
        if after == before:
            return None
        self.store.set_state(HEALTH_KEY, after.to_dict())
        if event:
            since = before.failing_since or after.failing_since
            local = self.calendar.local(datetime.fromisoformat(since))
            view = mailbox_view(self.org, event, mailbox=mailbox or self.org.mailbox,
                                since=f"{local:%Y-%m-%d %H:%M}", error=after.error or before.error)
            for registrator in self.org.registrators():
                self._queue(registrator, event, view, f"{event}:{since}:{registrator}", now)
            log.warning("brevlådan: %s (%s)", event, after.error or before.error)
        self.store.commit()
        return event

    # ================================================================== commands
    def _context(self, actor: Actor, channel: str, now: datetime) -> Context:
        return Context(self.org, actor, channel, now, self.store.subscriptions())

    @_serialised
    def handle_command(self, actor: Actor, text: str, channel: str) -> Reply:
        lang = self.org.language
        # anyone not in the directory gets nothing but a polite refusal (DESIGN §7)
        if actor.kind == "unknown" or (actor.kind == "person" and actor.id not in self.org.people):
            return Reply(t(lang, "denied_unknown"), ok=False)
        command = parse(text, self.org)
        if command.name == "help":
            body = t(lang, "help")
            return Reply(f"{command.error}\n\n{body}" if command.error else body, ok=not command.error)
        try:
            return self._run_command(actor, command, channel)
        except DomainError as refusal:
            if self.store.dirty:
                self.store.rollback()
            return Reply(str(refusal), ok=False)
        except BotError as error:
            if self.store.dirty:
                self.store.rollback()
            log.error("command %s failed: %s", command.name, error)
            return Reply(str(error), ok=False)

    def _run_command(self, actor: Actor, command: Command, channel: str) -> Reply:
        lang, now = self.org.language, self.clock.now()
        if command.name in ("mine", "open", "overdue"):
            return Reply(self.list_text(self._query(actor, command)))
        if command.name in ("subscribe", "unsubscribe"):
            return self._subscription(actor, command)
        if command.name.startswith("triage_"):
            return self._resolve_triage(actor, command, channel, now)
        case = self.store.get_case(command.number)
        if case is None:
            raise DomainError(t(lang, "refused_no_case", number=command.number.format(self.org.digits)))
        access.require_view(self.org, actor, case)
        if command.name == "status":
            return Reply(self.status_text(case))
        ctx = self._context(actor, channel, now)
        if command.name == "send":
            outcome = self._send(case, ctx)
        else:
            outcome = proc.apply(case, _domain_command(command), ctx)
        self._save(outcome, now)
        self.store.commit()
        return Reply(outcome.message)

    def _subscription(self, actor: Actor, command: Command) -> Reply:
        lang = self.org.language
        if actor.kind != "person":
            return Reply(t(lang, "denied_unknown"), ok=False)
        unit = command.args["unit"]
        units = t(lang, "all_units") if unit == ALL_UNITS else self.org.units[unit].name
        person = self.org.people[actor.id]
        may_follow = person.has_oversight or unit in self.org.units_managed_by(person.id)
        if command.name == "subscribe" and not may_follow:
            # a copy carries title, unit and counterpart: only for cases the person may see
            return Reply(t(lang, "denied_subscribe", units=units), ok=False)
        if command.name == "subscribe":
            self.store.subscribe(actor.id, unit)
            self.store.commit()
            return Reply(t(lang, "done_subscribed", units=units))
        if self.store.unsubscribe(actor.id, unit):
            self.store.commit()
            return Reply(t(lang, "done_unsubscribed", units=units))
        return Reply(t(lang, "not_subscribed", units=units), ok=False)

    # ------------------------------------------------------------------ triage
    def _resolve_triage(self, actor: Actor, command: Command, channel: str,
                        now: datetime) -> Reply:
        """The registrator's choice for a mail intake could not place: diarise it as a new
        case, add it to a case, or dismiss it. Decided once; the mail's record keeps who and
        when, and the raw mail stays where intake kept it."""
        lang, triage_id = self.org.language, command.args["triage"]
        person = self.org.people.get(actor.id) if actor.kind == "person" else None
        if person is None or not person.has_oversight:
            raise PermissionDenied(t(lang, "denied_triage"))
        record = self.store.triage_record(triage_id)
        if record is None:
            raise DomainError(t(lang, "refused_no_triage", id=triage_id))
        if record.get("resolved"):
            done = record["resolved"]
            who = self.org.people[done["by"]].name if done["by"] in self.org.people else done["by"]
            raise DomainError(t(lang, "refused_triage_done", id=triage_id, what=done["what"], who=who))
        ctx = self._context(actor, channel, now)
        if command.name == "triage_dismiss":
            number, what = None, t(lang, "triage_done_dismiss")
            reply = t(lang, "done_triage_dismiss", id=triage_id)
        elif command.name == "triage_new":
            number = self._diarise_triaged(record, command.args["unit"], ctx)
            what, reply = (t(lang, "triage_done_new", number=number),
                           t(lang, "done_triage_new", id=triage_id, number=number))
        else:
            number = self._attach_triaged(record, command.number, ctx)
            what, reply = (t(lang, "triage_done_attach", number=number),
                           t(lang, "done_triage_attach", id=triage_id, number=number))
        record.update(number=number, resolved={
            "by": actor.id, "at": iso(now), "channel": channel, "action": command.name,
            "what": what, "reason": command.args.get("reason")})
        self.store.record_mail(record)
        self.store.commit()
        return Reply(reply)

    def _triaged_document(self, record: dict):
        from bot.mail.parse import parse_mail
        raw = (self.store.data_dir / record["raw"]).read_bytes()
        mail = parse_mail(raw, conversation_id=record.get("conversation_id"))
        document = Document(no=1, type=DOC_DEVIATION, received=record["received"],
                            sender=record.get("sender") or mail.sender_address,
                            subject=redact(mail.subject), message_id=mail.message_id,
                            raw=record["raw"], attachments=[redact(a.filename) for a in mail.attachments])
        return mail, document

    def _diarise_triaged(self, record: dict, unit: str | None, ctx: Context) -> str:
        """A new case as the registrator says: incoming from an outside sender, outgoing from
        one of ours; the counterpart from the sender's domain when it is one we know."""
        from bot.mail.classify import make_title
        mail, document = self._triaged_document(record)
        internal = self.org.is_internal(document.sender)
        counterpart = None if internal else self.org.counterpart_by_address(document.sender)
        kind = "outgoing" if internal else INCOMING
        decision = Decision(NEW_CASE, "", kind=kind, unit=unit,
                            counterpart=counterpart.id if counterpart else None,
                            title=make_title(mail.subject, self.org.series, mail.subject or "–"),
                            document=DOC_DEVIATION, sender=document.sender)
        return self._new_case(decision, document, record.get("conversation_id"), ctx)

    def _attach_triaged(self, record: dict, number, ctx: Context) -> str:
        case = self.store.get_case(number)
        if case is None:
            raise DomainError(t(self.org.language, "refused_no_case",
                                number=number.format(self.org.digits)))
        access.require_view(self.org, ctx.actor, case)
        _, document = self._triaged_document(record)
        internal = self.org.is_internal(document.sender)
        counterpart = self.org.counterpart_by_address(document.sender)
        document.type = proc.document_type(case.kind, internal, counterpart is not None
                                           and counterpart.id == case.counterpart)
        decision = Decision(ADDED, "", case=self.store.by_number(number), document=document.type,
                            sender=document.sender, sender_internal=internal)
        return self._add_to_case(decision, document, record.get("conversation_id"), ctx)

    def _send(self, case: Case, ctx: Context) -> Outcome:
        lang = self.org.language
        access.require(self.org, ctx.actor, access.SEND, case)
        counterpart = self.org.counterparts.get(case.counterpart or "")
        if counterpart is None or not counterpart.address:
            raise DomainError(t(lang, "refused_no_counterpart_address", number=case.number))
        if self.sender is None:
            raise DomainError(t(lang, "refused_no_sender", number=case.number))
        message = build_outgoing_mail(self.org, case, counterpart.address, self.store.data_dir)
        document = Document(no=len(case.documents) + 1, type=DOC_SENT, received=iso(ctx.now),
                            sender=self.org.mailbox, subject=redact(str(message["Subject"])),
                            message_id=str(message["Message-ID"]).strip("<>"))
        # apply is pure and refuses (already sent, closed) before anything leaves
        outcome = proc.apply(case, proc.RecordSent(document, counterpart.address), ctx)
        self.sender.send(message)
        # the diary keeps what went out, byte for byte, like what came in
        raw = message.as_bytes()
        document.raw = self.store.keep_raw(raw, hashlib.sha256(raw).hexdigest(), ctx.now)
        return outcome

    # ================================================================== queries
    def visible_cases(self, actor: Actor, *, include_closed: bool = False) -> list[Case]:
        source = self.store.all_cases() if include_closed else self.store.open_cases()
        return [c for c in source if access.can_view(self.org, actor, c)]

    def _query(self, actor: Actor, command: Command) -> list[Case]:
        cases = self.visible_cases(actor)
        if command.name == "mine":
            cases = [c for c in cases if actor.id in self._responsible(c)]
        elif command.name == "open" and command.args.get("unit"):
            cases = [c for c in cases if c.unit == command.args["unit"]]
        elif command.name == "overdue":
            cases = [c for c in cases if self.is_overdue(c)]
        return sorted(cases, key=lambda c: (not self.is_overdue(c), c.key))

    def _responsible(self, case: Case) -> set[str]:
        step = current_step(case, self.org)
        return set(step.owners if step else ()) | set(self.org.managers_of(case.unit))

    def is_overdue(self, case: Case, now: datetime | None = None) -> bool:
        deadline = step_deadline(case, self.org, self.calendar)
        return deadline is not None and (now or self.clock.now()) > deadline

    def list_text(self, cases: list[Case]) -> str:
        lang = self.org.language
        if not cases:
            return t(lang, "no_cases")
        lines = [t(lang, "list_header", count=len(cases))]
        lines += [self._list_line(case) for case in cases]
        return "\n".join(lines)

    def _list_line(self, case: Case, now: datetime | None = None) -> str:
        labels = case_labels(self.org, case)
        mark = f" – {t(self.org.language, 'overdue_mark')}" if self.is_overdue(case, now) else ""
        return f"{case.number} «{labels['title']}» · {labels['unit']} · {labels['status']}{mark}"

    def deadline_text(self, case: Case) -> str | None:
        step = current_step(case, self.org)
        deadline = step_deadline(case, self.org, self.calendar)
        if step is None or deadline is None:
            return None
        lang = self.org.language
        key = "status_deadline_overdue" if self.is_overdue(case) else "status_deadline"
        return t(lang, key, step=t(lang, f"step_{step.name}"),
                 deadline=long_date(lang, self.calendar.local(deadline).date()))

    def status_text(self, case: Case) -> str:
        lang = self.org.language
        labels = case_labels(self.org, case)
        lines = [f"«{labels['title']}»",
                 f"{case.number} · {labels['kind']} · {t(lang, 'label_status')}: {labels['status']}",
                 f"{t(lang, 'label_unit')}: {labels['unit']} · "
                 f"{t(lang, 'label_counterpart')}: {labels['counterpart']} · "
                 f"{t(lang, 'label_severity')}: {labels['severity']}"]
        deadline = self.deadline_text(case)
        if deadline:
            lines.append(f"{t(lang, 'label_deadline')}: {deadline}")
        lines.append(f"{t(lang, 'label_documents')}:")
        for doc in case.documents:
            lines.append(f"  {doc.no}. {t(lang, 'doc_' + doc.type)} "
                         f"{self.calendar.local(datetime.fromisoformat(doc.received)):%Y-%m-%d %H:%M}"
                         f" {t(lang, 'status_from', sender=doc.sender)}")
        if case.actions:
            lines.append(f"{t(lang, 'label_actions')}:")
            for action in case.actions:
                state = (t(lang, "action_state_done") if action.done else
                         t(lang, "action_state_due", due=action.due) if action.due else
                         t(lang, "action_state_open"))
                lines.append(f"  {action.no}. {action.text} ({state})")
        return redact("\n".join(lines))

    def status_json(self, case: Case, *, events: bool = True) -> dict[str, Any]:
        step = current_step(case, self.org)
        deadline = step_deadline(case, self.org, self.calendar)
        data = {
            "diary_number": case.number, "kind": case.kind, "title": redact(case.title),
            "status": case.status, "unit": case.unit, "counterpart": case.counterpart,
            "severity": case.severity, "managers": self.org.managers_of(case.unit),
            "created": case.created,
            "deadline": {"step": step.name, "owners": list(step.owners), "due": iso(deadline),
                         "overdue": self.is_overdue(case)} if step else None,
            "documents": [{"no": d.no, "type": d.type, "received": d.received, "sender": d.sender,
                           "subject": redact(d.subject), "message_id": d.message_id}
                          for d in case.documents],
            "actions": [{"no": a.no, "text": a.text, "owner": a.owner, "due": a.due,
                         "done": a.done} for a in case.actions],
            "close_reason": case.close_reason,
        }
        if events:
            data["events"] = [{"at": e.at, "who": e.who, "channel": e.channel, "what": e.what,
                               "details": e.details} for e in case.events]
        return data

    # ================================================================== reminders
    @_serialised
    def run_reminders(self, now: datetime | None = None, *, dry_run: bool = False) -> list[dict]:
        """Queue every reminder, escalation and weekly digest due at `now` that was not queued
        before. Marker and notification land in the same write: a restart never sends one
        twice, and a downtime only delays it to the next scan in office hours."""
        now = now or self.clock.now()
        subscriptions = self.store.subscriptions()
        results: list[dict] = []
        open_cases = self.store.open_cases()
        for case in open_cases:
            for due in due_reminders(case, now, self.calendar, self.org, subscriptions):
                already = self.store.has_marker(due.key)
                results.append({"diary_number": due.number, "recipient": due.recipient,
                                "step": due.step, "level": due.level, "due": iso(due.due),
                                "deadline": iso(due.deadline), "already_sent": already})
                if not dry_run and not already:
                    self._queue_reminder(case, due, now)
        results += self._digests(open_cases, now, subscriptions, dry_run)
        if not dry_run:
            self.store.commit()
        return results

    def _queue_reminder(self, case: Case, due, now: datetime) -> None:
        step = current_step(case, self.org)
        owners = list(step.owners) if step else []
        view = reminder_view(self.org, case, step=due.step, level=due.level, deadline=due.deadline,
                             calendar_local=self.calendar.local, owners=owners)
        self._queue(due.recipient, due.level, view, due.key, now)
        self.store.set_marker(due.key, {"at": iso(now)})

    def _digests(self, open_cases: list[Case], now: datetime, subscriptions,
                 dry_run: bool) -> list[dict]:
        monday = weekly_digest_due(now, self.calendar)
        if monday is None:
            return []
        results = []
        for person in self.org.people.values():
            if not person.roles & {"manager", "ma", "sas"}:
                continue
            mine = [c for c in open_cases if self._in_digest(person, c, subscriptions)]
            if not mine:
                continue  # nobody is pinged for nothing
            key = digest_key(person.id, monday)
            already = self.store.has_marker(key)
            results.append({"diary_number": None, "recipient": person.id, "step": "digest",
                            "level": "digest", "due": iso(self.calendar.office_start(monday)),
                            "deadline": None, "already_sent": already})
            if dry_run or already:
                continue
            mine.sort(key=lambda c: (not self.is_overdue(c, now), c.key))
            overdue = sum(1 for c in mine if self.is_overdue(c, now))
            lines = [self._list_line(c, now) for c in mine]
            self._queue(person.id, "digest", digest_view(self.org, lines, len(mine), overdue), key, now)
            self.store.set_marker(key, {"at": iso(now)})
        return results

    def _in_digest(self, person: Person, case: Case, subscriptions) -> bool:
        if "manager" in person.roles and person.id in self.org.managers_of(case.unit):
            return True
        return bool(person.roles & {"ma", "sas"}) and person.id in self.org.subscribers_of(
            case.unit, subscriptions)

    # ================================================================== report
    def report(self, year: int | None = None) -> dict[str, Any]:
        cases = list(self.store.all_cases(year))
        counts: dict[str, dict[str, int]] = {"kind": {}, "unit": {}, "counterpart": {},
                                             "severity": {}, "status": {}}
        durations: dict[str, list[float]] = {}
        for case in cases:
            for field, value in (("kind", case.kind), ("unit", case.unit or "okänd"),
                                 ("counterpart", case.counterpart or "okänd"),
                                 ("severity", case.severity or "unassessed"),
                                 ("status", case.status)):
                counts[field][value] = counts[field].get(value, 0) + 1
            for step, days in _step_durations(case):
                durations.setdefault(step, []).append(days)
        steps = {step: {"count": len(v), "median_days": round(statistics.median(v), 1),
                        "p90_days": round(_percentile(v, 90), 1)}
                 for step, v in sorted(durations.items())}
        overdue = sorted(c.number for c in cases if not c.is_closed and self.is_overdue(c))
        return {"year": year, "cases": len(cases), "counts": counts, "steps": steps,
                "overdue": overdue}


# ---------------------------------------------------------------------------- helpers
def _result(mail, decision: Decision, number: str | None) -> dict[str, Any]:
    return {"message_id": mail.message_id, "outcome": decision.outcome, "diary_number": number,
            "kind": decision.kind, "unit": decision.unit, "counterpart": decision.counterpart,
            "severity": decision.severity, "document": decision.document
            if decision.outcome in (NEW_CASE, ADDED) else None, "reason": decision.reason}


def _domain_command(command: Command):
    a = command.args
    return {
        "register": lambda: proc.Register(),
        "assess": lambda: proc.Assess(a["severity"]),
        "mark_sent": lambda: proc.MarkSent(),
        "close": lambda: proc.Close(a.get("reason")),
        "action": lambda: proc.AddAction(a["text"], a.get("due")),
        "action_done": lambda: proc.CompleteAction(a["no"]),
        "unit": lambda: proc.SetUnit(a["unit"]),
        "counterpart": lambda: proc.SetCounterpart(a["counterpart"]),
        "title": lambda: proc.SetTitle(a["title"]),
        "snooze": lambda: proc.SnoozeStep(a["until"], a["reason"]),
    }[command.name]()


_STEP_SPANS = {  # (kind, from status, to status) -> step name, for the report
    (INCOMING, "diarised", "registered"): "register",
    (INCOMING, "diarised", "response_received"): "respond",
    (INCOMING, "response_received", "response_sent"): "send_response",
    (INCOMING, "response_sent", "closed"): "close",
    ("outgoing", "diarised", "sent"): "send",
    ("outgoing", "sent", "response_received"): "external_response",
    ("outgoing", "response_received", "closed"): "close",
}


def _step_durations(case: Case) -> list[tuple[str, float]]:
    result = []
    for (kind, start, end), step in _STEP_SPANS.items():
        if kind == case.kind and start in case.status_since and end in case.status_since:
            began = datetime.fromisoformat(case.status_since[start])
            ended = datetime.fromisoformat(case.status_since[end])
            result.append((step, max((ended - began).total_seconds() / 86400, 0.0)))
    return result


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def build_outgoing_mail(org: Organisation, case: Case, to: str, data_dir) -> EmailMessage:
    """The mail `skicka` sends: diary number in the subject, the case's own documents
    attached, threaded to the counterpart's mail, marked as automatic (DESIGN §8)."""
    # 998, not 78: the stock policy would RFC 2047-encode a long In-Reply-To, which breaks
    # threading in the counterpart's mail client
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = org.mailbox
    message["To"] = to
    message["Subject"] = f"{case.number} {redact(case.title)}"
    message["Message-ID"] = make_msgid(domain=org.mailbox.split("@")[1])
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    thread = [d.message_id for d in case.documents
              if d.message_id and not org.is_internal(d.sender) and d.type != DOC_SENT]
    if thread:
        message["In-Reply-To"] = f"<{thread[-1]}>"
        message["References"] = " ".join(f"<{m}>" for m in thread)
    labels = case_labels(org, case)
    lang = org.language
    message.set_content("\n".join([
        f"{labels['kind']} {case.number}: {labels['title']}",
        f"{t(lang, 'label_unit')}: {labels['unit']}",
        f"{t(lang, 'label_severity')}: {labels['severity']}",
        "",
        "Handlingarna i ärendet bifogas." if lang == "sv" else "The case's documents are attached.",
        f"Ange {case.number} i ämnesraden när ni svarar." if lang == "sv"
        else f"Please keep {case.number} in the subject when you reply.",
        "", org.name]))
    for doc in case.documents:
        # our own documents go out; the counterpart already has what it sent us
        if doc.raw and (org.is_internal(doc.sender) or case.kind != INCOMING):
            raw = (data_dir / doc.raw).read_bytes()
            attached = email.message_from_bytes(raw, policy=email.policy.default)
            message.add_attachment(attached)   # message/rfc822, as mail clients forward
    return message
