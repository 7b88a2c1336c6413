"""Mail intake (DESIGN §4): every mail gets exactly one outcome, stored durably with its raw
bytes and its notifications before the mailbox is told the mail was handled."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from bot.chat.render import triage_view
from bot.domain.access import Actor
from bot.domain.address import same_address
from bot.domain.case import CH_MAIL, DOC_DEVIATION, INCOMING, Document, iso
from bot.domain import process as proc
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.process import Context
from bot.domain.redact import redact
from bot.errors import DatabaseUnavailable
from bot.mail.classify import (ADDED, COMMAND, COMMAND_REPLY, DUPLICATE, NEW_CASE, TRIAGE, CaseRef,
                               Decision, Detector, classify)
from bot.ports import CaseStore
from bot.texts import t
from bot.usecases.base import Deps, Notices, Reply, _item

log = logging.getLogger(__name__)

GROUP_COMMIT = 50   # mails per durable write when ingesting a batch
# a command by mail runs once per (person, command, case) within this window: the same
# mail sent again (a new Message-ID, a client's retry, a forward to the mailbox) answers
# "redan gjort"; remembered in the store's adapter state, so across restarts too
COMMAND_ONCE_WINDOW = timedelta(hours=24)
COMMAND_ONCE_PREFIX = "command-by-mail:"
GROUP_BYTES = 8 * 1024 * 1024   # ... or fewer, when they are large


def _next_group(iterator) -> list:
    group, size = [], 0
    for item in iterator:
        group.append(item)
        size += len(item[0])
        if len(group) >= GROUP_COMMIT or size >= GROUP_BYTES:
            break
    return group


class StoreCaseLookup:
    """The intake rules' view of the diary (bot.mail.classify.CaseLookup) on the store."""

    def __init__(self, store: CaseStore, series: str):
        self.store, self.series = store, series

    def seen(self, duplicate_key: str) -> bool:
        return self.store.mail_seen(duplicate_key) is not None

    def seen_hash(self, duplicate_key: str) -> str | None:
        record = self.store.mail_seen(duplicate_key)
        return record.get("content_hash") if record else None

    def by_number(self, number: DiaryNumber) -> CaseRef | None:
        case = self.store.get_case(number)
        if case is None:
            return None
        return CaseRef(number=case.number, kind=case.kind, unit=case.unit,
                       counterpart=case.counterpart, closed=case.is_closed, title=case.title)

    def by_text(self, number: str | None) -> CaseRef | None:
        parsed = parse_diary_number(number, self.series) if number else None
        return self.by_number(parsed) if parsed else None

    def by_message_ids(self, ids: tuple[str, ...]) -> CaseRef | None:
        for mid in reversed(ids):  # the nearest reference first
            ref = self.by_text(self.store.case_for_message_id(mid))
            if ref:
                return ref
        return None

    def by_conversation(self, conversation_id: str) -> CaseRef | None:
        return self.by_text(self.store.case_for_conversation(conversation_id))

    def by_reference(self, counterpart: str, reference: str) -> CaseRef | None:
        """An open case of this counterpart that carries their case number."""
        for case in self.store.open_cases():
            if case.counterpart == counterpart and case.reference == reference:
                return self.by_text(case.number)
        return None


class SilentNotices(Notices):
    """A backlog import: cases are diarised and saved, nobody is told."""

    def queue_notice(self, case, notice, now) -> None:
        return None

    def queue(self, person_id: str, event: str, view: dict, key: str, now: datetime, *,
              urgent: bool = False) -> bool:
        return False


class Intake:
    def __init__(self, deps: Deps, notices: Notices):
        self.deps, self.notices = deps, notices
        self.detector = Detector(deps.org)
        self.lookup = StoreCaseLookup(deps.store, deps.org.series)
        # the chat commands' use case (Commands.handle), set when both exist: a command that
        # comes by mail runs through the same permission checks as one typed in chat
        self.run_command: Callable[[Actor, str, str], Reply] | None = None
        self.quiet = False      # ingest --quiet-import: see ingest_many

    def ingest(self, raw: bytes, *, arrived: datetime | None = None,
               conversation_id: str | None = None) -> dict[str, Any]:
        """One mail through intake; durable when this returns."""
        with self.deps.uow:
            return self._ingest(raw, arrived, conversation_id)

    def ingest_many(self, items: Iterable[tuple[bytes, datetime | None, str | None]],
                    on_durable: Callable[[list[dict]], None] | None = None, *,
                    quiet: bool = False) -> list[dict[str, Any]]:
        """quiet: a backlog import. Nobody is notified, a new case is marked imported (so no
        reminder comes for a deadline that had passed by then), and an old answer to a
        notification runs no command."""
        loud = self.notices
        if quiet:
            self.notices, self.quiet = SilentNotices(self.deps), True
        try:
            return self._ingest_many(items, on_durable)
        finally:
            self.notices, self.quiet = loud, False

    def _ingest_many(self, items: Iterable[tuple[bytes, datetime | None, str | None]],
                     on_durable: Callable[[list[dict]], None] | None) -> list[dict[str, Any]]:
        """Group commit: one durable write per group of GROUP_COMMIT mails (or GROUP_BYTES of
        them, so memory stays bounded); on_durable(results) after each. The mails of a group
        are read (from IMAP, Graph, files) before the store is locked: no network call ever
        happens inside a transaction. A mail that fails unexpectedly gets a `triage` outcome
        of its own (its raw bytes are kept) and the batch goes on."""
        results: list[dict[str, Any]] = []
        iterator = iter(items)
        while True:
            group = _next_group(iterator)
            if not group:
                return results
            with self.deps.uow:
                pending = [self._ingest_guarded(raw, arrived, conversation_id)
                           for raw, arrived, conversation_id in group]
            group.clear()
            if on_durable:
                on_durable(pending)
            results += pending

    def _ingest_guarded(self, raw: bytes, arrived: datetime | None,
                        conversation_id: str | None) -> dict[str, Any]:
        try:
            with self.deps.uow:          # a savepoint: a failure undoes this mail only
                return self._ingest(raw, arrived, conversation_id)
        except DatabaseUnavailable:      # not this mail's fault: the group stays in the mailbox
            raise
        except Exception as exc:
            log.exception("intaget misslyckades för ett mejl; det går till registrator")
            with self.deps.uow:
                return self._failed(raw, arrived, exc)

    def _failed(self, raw: bytes, arrived: datetime | None, exc: Exception) -> dict[str, Any]:
        import hashlib
        now = self.deps.clock.now()
        sha = hashlib.sha256(raw).hexdigest()
        arrival = arrived or now
        raw_path = self.deps.store.keep_raw(raw, sha, arrival)
        key = "sha256:" + sha
        reason = f"internt fel vid intaget ({type(exc).__name__})"
        triage_id = "T" + sha[:8]
        view = triage_view(self.deps.org, sender="?", subject="", reason=reason, suggestion=None,
                           key=key, triage_id=triage_id, units=list(self.deps.org.units))
        for person in self.deps.org.registrators():
            self.notices.queue(person, "triage", view, f"triage:{key}:{person}", now)
        self.deps.store.record_mail({
            "key": key, "outcome": TRIAGE, "number": None, "triage_id": triage_id,
            "message_id": None, "conversation_id": None, "received": iso(arrival), "at": iso(now),
            "raw": raw_path, "reason": reason, "sender": "", "subject": "", "content_hash": sha})
        return {"message_id": None, "outcome": TRIAGE, "diary_number": None, "kind": None,
                "unit": None, "counterpart": None, "severity": None, "document": None,
                "reason": reason}

    def _ingest(self, raw: bytes, arrived: datetime | None,
                conversation_id: str | None) -> dict[str, Any]:
        from bot.mail.parse import parse_mail  # MIME and HTML libraries: only intake needs them
        store, org = self.deps.store, self.deps.org
        now = self.deps.clock.now()
        mail = parse_mail(raw, conversation_id=conversation_id)
        from bot.mail.arrival import arrival_time  # mailsec: plausible mailbox time first
        arrival = arrival_time(mail, arrived, now)  # mailsec: never the sender's clock when the mailbox has one
        try:
            decision = classify(mail, org, self.lookup, self.detector)
        except Exception:  # a rule bug must not lose the mail: it goes to a person
            log.exception("classification failed for %s", mail.duplicate_key)
            decision = Decision(TRIAGE, "internt fel vid klassificering", sender=mail.sender_address,
                                title=redact(mail.subject))
        if self.quiet and decision.outcome == COMMAND:   # history: never run now
            decision = replace(decision, outcome=TRIAGE,
                               reason=t(org.language, "reason_imported_command", command=decision.command))
        if decision.outcome == DUPLICATE:
            log.info("duplicate %s", mail.duplicate_key)
            return _result(mail, decision, None)
        raw_path = store.keep_raw(raw, mail.content_hash, arrival)
        document = Document(no=1, type=decision.document or DOC_DEVIATION, received=iso(arrival),
                            sender=decision.sender or mail.sender_address,
                            subject=redact(mail.subject), message_id=mail.message_id, raw=raw_path,
                            attachments=[redact(a.filename) for a in mail.attachments])
        ctx = self.context(Actor.mail(document.sender), CH_MAIL, now)
        # words of serious harm in the text ask the MA/SAS for a Lex Maria/Lex Sarah assessment
        serious = proc.signals_serious_harm([mail.subject, mail.text],
                                            org.patient_safety.serious_words)
        number = None
        if decision.outcome == NEW_CASE:
            number = self.new_case(decision, document, conversation_id, ctx, serious=serious)
        elif decision.outcome == ADDED:
            number = self.add_to_case(decision, document, conversation_id, ctx, serious=serious)
        elif decision.outcome == COMMAND:
            number, repeat = self._command_by_mail(decision, mail, now)
            if repeat:
                decision = replace(decision, reason=repeat)
        if decision.outcome == NEW_CASE and number and not self.quiet:
            self._receipt(decision, mail, number, now)
        triage_id = None
        if decision.outcome == TRIAGE:
            triage_id = "T" + mail.content_hash[:8]
            self._triage(decision, mail, triage_id, now)
        store.record_mail({
            "key": decision.record_key or mail.duplicate_key,  # mailsec: reused Message-ID kept by hash
            "outcome": decision.outcome, "number": number,
            "triage_id": triage_id,
            "content_hash": mail.fingerprint or mail.content_hash,  # mailsec: transit headers do not count
            "message_id": mail.message_id, "conversation_id": conversation_id,
            "received": iso(arrival), "at": iso(now), "raw": raw_path, "reason": decision.reason,
            "sender": document.sender, "subject": document.subject,
            **({"command": decision.command, "person": decision.person}
               if decision.outcome == COMMAND else {})})
        log.info("intake %s -> %s %s", mail.duplicate_key[:60], decision.outcome, number or "")
        return _result(mail, decision, number)

    def _command_by_mail(self, decision: Decision, mail, now: datetime) -> tuple[str | None, str | None]:
        """Run the command a verified person of ours answered a notification with, and
        queue the answer to them by mail, threaded to their mail. The mail itself never
        becomes a document of the case (a one-word answer must not reach a counterpart).
        The same command from the same person on the same case within COMMAND_ONCE_WINDOW
        runs once: the repeat is answered "redan gjort" (the intake reason, second value)."""
        import hashlib
        from bot.commands import parse
        assert decision.command and decision.person and self.run_command is not None
        org, store = self.deps.org, self.deps.store
        command = parse(decision.command, org)
        parsed = command.number
        number = parsed.format(org.digits) if parsed else None
        person = org.people[decision.person]
        # the command as written names its case (the diary number or triage id filled in);
        # a question (status, sök) changes nothing and is answered every time
        said = " ".join(decision.command.split()).casefold()
        key = COMMAND_ONCE_PREFIX + hashlib.sha256(
            f"{person.id}\n{said}".encode("utf-8")).hexdigest()[:40]
        done = None if command.read_only else store.get_state(key)
        repeat = None
        if done and _within(done.get("at"), now, COMMAND_ONCE_WINDOW):
            at = self.deps.calendar.local(datetime.fromisoformat(done["at"])).strftime("%Y-%m-%d %H:%M")
            hours = int(COMMAND_ONCE_WINDOW.total_seconds() // 3600)
            reply = Reply(t(org.language, "command_already_done", command=decision.command,
                            at=at, hours=hours))
            repeat = t(org.language, "reason_command_repeat", command=decision.command[:60],
                       person=person.name, at=at)
        else:
            reply = self.run_command(Actor.person(decision.person), decision.command, CH_MAIL)
            if reply.ok and not command.read_only:
                store.set_state(key, {"at": iso(now), "person": person.id,
                                      "command": redact(decision.command),
                                      "message_id": mail.message_id})
        channel = "email" if self.deps.channels.get("email") else self.notices.channel_for(person)
        view = {"event": COMMAND_REPLY, "role": "act", "number": number,
                "in_reply_to": mail.message_id, "references": list(mail.references),
                "subject": redact(mail.subject), "thread_index": mail.headers.get("thread-index")}
        text = t(org.language, "email_command_reply_head", command=decision.command) + "\n" + reply.text
        self.deps.store.add_notification(_item(f"command:{mail.duplicate_key}:{person.id}",
                                               person.id, channel, number, COMMAND_REPLY,
                                               redact(text), view, now))
        log.info("kommando per e-post från %s: %s (%s)", person.id, decision.command,
                 "redan gjort" if repeat else "ok" if reply.ok else "nekat")
        return number, repeat

    def _receipt(self, decision: Decision, mail, number: str, now: datetime) -> None:
        """A counterpart that opted in gets our diary number for the deviation it sent: only
        to its own sender (not to a mail a registrator forwarded, never to our own address;
        automatic mail never gets this far), as an outbox job like `skicka`'s."""
        import hashlib
        from bot.mail.outgoing import build_receipt_mail
        from bot.usecases.outbox import COUNTERPART
        org, store = self.deps.org, self.deps.store
        counterpart = org.counterparts.get(decision.counterpart or "")
        sender = decision.sender
        if (counterpart is None or not counterpart.receipt or decision.kind != INCOMING
                or decision.forwarded_by or not sender or same_address(sender, org.mailbox)
                or org.is_internal(sender) or self.deps.sender is None):
            return
        case = store.get_case_by_text(number)
        assert case is not None
        message = build_receipt_mail(org, case, sender, mail.message_id, mail.subject,
                                     mail.headers.get("thread-index"), now)
        message_id = str(message["Message-ID"]).strip("<>")
        raw = message.as_bytes()
        raw_path = store.keep_raw(raw, hashlib.sha256(raw).hexdigest(), now)
        store.add_notification({
            "id": f"{number}:receipt", "recipient": counterpart.id, "channel": COUNTERPART,
            "diary_number": number, "event": "receipt",
            "text": t(org.language, "receipt_queued", address=sender), "view": {},
            "state": "pending", "created": iso(now), "attempts": 0, "next_attempt": iso(now),
            "job": {"raw": raw_path, "message_id": message_id, "to": sender, "kind": "receipt",
                    "subject": redact(str(message["Subject"])), "by": None, "channel": "system"}})

    def context(self, actor: Actor, channel: str, now: datetime) -> Context:
        return Context(self.deps.org, actor, channel, now, self.deps.store.subscriptions())

    def new_case(self, decision: Decision, document: Document, conversation_id: str | None,
                 ctx: Context, *, serious: bool = False) -> str:
        org = self.deps.org
        year = self.deps.calendar.local(datetime.fromisoformat(document.received)).year
        number = self.deps.store.next_number(year)
        outcome = proc.open_case(
            number=number.format(org.digits), key=number.key, kind=decision.kind or INCOMING,
            title=decision.title, document=document, unit=decision.unit,
            counterpart=decision.counterpart, severity=decision.severity,
            conversation_id=conversation_id, ctx=ctx, serious=serious, lagrum=decision.lagrum)
        if self.quiet:
            outcome.case.imported = iso(ctx.now)
        outcome.case.reference = decision.reference
        if decision.linked:
            old = self.deps.store.get_case_by_text(decision.linked)
            if old is not None:
                proc.link_cases(outcome.case, old, ctx)
                self.deps.store.put_case(old)
        self.notices.save(outcome, ctx.now)
        return outcome.case.number

    def add_to_case(self, decision: Decision, document: Document, conversation_id: str | None,
                    ctx: Context, *, serious: bool = False) -> str:
        assert decision.case is not None
        case = self.deps.store.get_case_by_text(decision.case.number)
        if case is None:
            raise LookupError(decision.case.number)
        document.no = len(case.documents) + 1
        outcome = proc.apply(case, proc.AddDocument(document, decision.sender_internal,
                                                    conversation_id, decision.severity,
                                                    serious), ctx)
        if decision.reference and not outcome.case.reference:
            outcome.case.reference = decision.reference
        if (decision.lagrum and not outcome.case.is_closed
                and outcome.case.lagrum != decision.lagrum):
            # the registrator's `Lagrum:` line on a mail to the case: as the `lagrum` command
            changed = proc.apply(outcome.case, proc.SetLagrum(decision.lagrum), ctx)
            outcome = proc.Outcome(changed.case, outcome.notices + changed.notices)
        self.notices.save(outcome, ctx.now)
        return case.number

    def _triage(self, decision: Decision, mail, triage_id: str, now: datetime) -> None:
        org = self.deps.org
        view = triage_view(org, sender=decision.sender or mail.sender_address,
                           subject=mail.subject, reason=decision.reason,
                           suggestion=decision.case.number if decision.case else None,
                           key=mail.duplicate_key, triage_id=triage_id,
                           units=list(decision.unit_candidates) or list(org.units))
        for person in org.registrators():
            self.notices.queue(person, "triage", view,
                               f"triage:{decision.record_key or mail.duplicate_key}:{person}", now)


def _within(at: Any, now: datetime, window: timedelta) -> bool:
    try:
        return now - datetime.fromisoformat(str(at)) < window
    except (TypeError, ValueError):
        return False


def _result(mail, decision: Decision, number: str | None) -> dict[str, Any]:
    return {"message_id": mail.message_id, "outcome": decision.outcome, "diary_number": number,
            "kind": decision.kind, "unit": decision.unit, "counterpart": decision.counterpart,
            "severity": decision.severity, "document": decision.document
            if decision.outcome in (NEW_CASE, ADDED) else None, "reason": decision.reason}
