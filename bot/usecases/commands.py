"""Chat commands and button presses (DESIGN §7), the same for Slack, Teams, e-mail and the CLI:
text -> the grammar's command -> permission check -> the pure process -> one unit of work."""
from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Callable

from bot.commands import Command, parse
from bot.domain import access
from bot.domain import process as proc
from bot.domain.access import Actor
from bot.domain.case import DOC_DEVIATION, INCOMING, Case, Document, iso
from bot.domain.diary import DiaryNumber
from bot.domain.org import ALL_UNITS
from bot.domain.process import Context, Outcome
from bot.domain.redact import redact
from bot.errors import BotError, DomainError, PermissionDenied
from bot.help import help_text
from bot.mail.classify import ADDED, NEW_CASE, Decision
from bot.texts import t, tn
from bot.usecases.base import Deps, Notices, Reply
from bot.usecases.intake import Intake
from bot.usecases.outbox import COUNTERPART
from bot.usecases.queries import Queries

log = logging.getLogger(__name__)


# issues a personal one-time sign-in link to the web overview:
# (person id, now, the page to land on or None) -> (url, minutes)
LoginLink = Callable[[str, datetime, str | None], tuple[str, int]]


class Commands:
    def __init__(self, deps: Deps, notices: Notices, intake: Intake, queries: Queries):
        self.deps, self.notices, self.intake, self.queries = deps, notices, intake, queries
        self.login_link: LoginLink | None = None      # set by the composition root when the web is on

    def handle(self, actor: Actor, text: str, channel: str, *, private: bool = True) -> Reply:
        """`private`: the answer is seen by the asker alone (a DM, an ephemeral Slack reply,
        Teams personal chat) — a sign-in link is never given anywhere else."""
        lang = self.deps.lang
        org = self.deps.org
        # anyone not in the directory gets nothing but a polite refusal (DESIGN §7)
        if actor.kind == "unknown" or (actor.kind == "person" and actor.id not in org.people):
            return Reply(t(lang, "denied_unknown"), ok=False)
        command = parse(text, org)
        if command.name == "help":
            setting = None
            if actor.kind == "person":
                with self.deps.uow:          # the person's `avisering`, read like any command
                    setting = self._notify_setting(actor)
            body = help_text(lang, org.people[actor.id].roles if actor.kind == "person" else (),
                             setting)
            return Reply(f"{command.error}\n\n{body}" if command.error else body, ok=not command.error)
        if command.name == "web":
            return self._web_link(actor, private, command.args.get("next"))
        try:
            with self.deps.uow:
                return self._run(actor, command, channel)
        except DomainError as refusal:
            return Reply(str(refusal), ok=False)
        except BotError as error:
            log.error("kommandot %s misslyckades: %s", command.name, error)
            return Reply(str(error), ok=False)

    def _run(self, actor: Actor, command: Command, channel: str) -> Reply:
        lang, now, store = self.deps.lang, self.deps.clock.now(), self.deps.store
        if command.name in ("mine", "open", "overdue"):
            return Reply(self.queries.list_text(self.queries.query(actor, command)))
        if command.name == "search":
            return Reply(self.queries.search_text(actor, command.args["text"]))
        if command.name == "absence":
            return self._absence(actor, command, now)
        if command.name == "notify":
            return self._notify(actor, command, channel, now)
        if command.name in ("subscribe", "unsubscribe"):
            return self._subscription(actor, command)
        if command.name.startswith("triage_"):
            return self._resolve_triage(actor, command, channel, now)
        if command.name == "close" and command.args.get("numbers"):
            return self._close_many(actor, command, channel, now)
        assert command.number is not None
        case = store.get_case(command.number)
        if case is None:
            raise DomainError(t(lang, "refused_no_case",
                                number=command.number.format(self.deps.org.digits)))
        access.require_view(self.deps.org, actor, case)
        if command.name == "status":
            return Reply(self.queries.status_text(case))
        if command.name in ("disclose", "disclose_decision"):
            return self._disclose(actor, case, command, channel)
        ctx = self.intake.context(actor, channel, now)
        if command.name == "send":
            return self._send(case, ctx)
        if command.name == "remind":
            return self._remind(case, ctx)
        if command.name == "link":
            return self._link(case, command, ctx)
        if command.action is None:     # a grammar bug, not the user's: logged with the trace
            raise TypeError(f"the grammar gave {command.name} no process command")
        outcome = proc.apply(case, command.action, ctx)
        self.notices.save(outcome, now)
        return Reply(outcome.message)

    def _close_many(self, actor: Actor, command: Command, channel: str, now: datetime) -> Reply:
        """`avsluta` of several cases: each checked and closed as if alone, in one unit of
        work; what is refused is said per case and the rest is closed. The kännedom copies
        queue per case and reach each follower as one bundled message."""
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        ctx = self.intake.context(actor, channel, now)
        closed: list[str] = []
        refused: list[str] = []
        for number in command.args["numbers"]:
            case = store.get_case(number)
            try:
                if case is None:
                    raise DomainError(t(lang, "refused_no_case", number=number.format(org.digits)))
                access.require_view(org, actor, case)
                outcome = proc.apply(case, command.action, ctx)
            except DomainError as refusal:     # PermissionDenied too: this case only
                refused.append(str(refusal))
                continue
            self.notices.save(outcome, now)
            closed.append(case.number)
        lines = [tn(lang, "done_closed_many", len(closed), numbers=", ".join(closed))] if closed else []
        if refused:
            lines += [t(lang, "refused_closed_many", count=len(refused)), *refused]
        return Reply("\n".join(lines), ok=not refused)

    def _web_link(self, actor: Actor, private: bool, target: str | None = None) -> Reply:
        lang = self.deps.lang
        if actor.kind != "person":
            return Reply(t(lang, "denied_unknown"), ok=False)
        if not private:
            return Reply(t(lang, "web_link_private_only"), ok=False)
        if self.login_link is None:
            return Reply(t(lang, "web_not_configured"), ok=False)
        url, minutes = self.login_link(actor.id, self.deps.clock.now(), target)
        return Reply(t(lang, "web_link_line", minutes=minutes, url=url))

    # ------------------------------------------------------------------ subscriptions
    def _subscription(self, actor: Actor, command: Command) -> Reply:
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        if actor.kind != "person":
            return Reply(t(lang, "denied_unknown"), ok=False)
        unit = command.args["unit"]
        units = t(lang, "all_units") if unit == ALL_UNITS else org.units[unit].name
        person = org.people[actor.id]
        may_follow = person.has_oversight or unit in org.units_managed_by(person.id)
        if command.name == "subscribe" and not may_follow:
            # a copy carries title, unit and counterpart: only for cases the person may see
            return Reply(t(lang, "denied_subscribe", units=units), ok=False)
        in_file = any(s.person == actor.id and unit in s.units for s in org.subscriptions)
        if command.name == "subscribe":
            if in_file and not store.subscription_overrides().get((actor.id, unit), {}).get("paused"):
                return Reply(t(lang, "done_subscribed", units=units))
            store.subscribe(actor.id, unit)
            return Reply(t(lang, "done_subscribed", units=units))
        # a subscription from the organisation file is paused (the file stays the default)
        if store.unsubscribe(actor.id, unit, pause=False) or (
                in_file and store.unsubscribe(actor.id, unit, pause=True)):
            return Reply(t(lang, "done_unsubscribed", units=units))
        return Reply(t(lang, "not_subscribed", units=units), ok=False)

    # ------------------------------------------------------------------ frånvaro
    def _absence(self, actor: Actor, command: Command, now: datetime) -> Reply:
        """A person says they are away; their notifications and reminders go to the stand-in
        meanwhile (Notices.queue), saying on whose behalf."""
        from bot.domain.absence import STATE_PREFIX, Absence, unit_stand_in, units_hidden_from
        org, lang = self.deps.org, self.deps.lang
        if actor.kind != "person":
            return Reply(t(lang, "denied_unknown"), ok=False)
        args = command.args
        if args.get("cancel"):
            return self._absence_over(actor, now)
        stand_in = args["stand_in"] or unit_stand_in(org, actor.id)
        if stand_in is None:
            raise DomainError(t(lang, "refused_absence_no_stand_in"))
        if stand_in == actor.id:
            raise DomainError(t(lang, "refused_absence_self"))
        hidden = units_hidden_from(org, actor.id, stand_in)
        if hidden:
            names = ", ".join(org.units[u].name for u in hidden if u in org.units) or \
                t(lang, "refused_absence_all_cases")
            raise DomainError(t(lang, "refused_absence_cannot_see",
                                name=org.people[stand_in].name, units=names))
        if args["end"] < self.deps.calendar.local(now).date():
            raise DomainError(t(lang, "refused_absence_past"))
        absence = Absence(actor.id, args["start"], args["end"], stand_in)
        self.deps.store.set_state(STATE_PREFIX + actor.id, absence.to_state())
        self._absence_audit(actor.id, now, "set", absence.to_state())
        return Reply(t(lang, "done_absence", start=args["start"].isoformat(),
                       end=args["end"].isoformat(), name=org.people[stand_in].name))

    # ------------------------------------------------------------------ avisering
    def _notify(self, actor: Actor, command: Command, via: str, now: datetime) -> Reply:
        """`avisering [kanal] omedelbart|samlat TT:MM|tyst|dygnet runt`: the person's preference for a
        channel (their own channel when none is named), kept in the store's state with the
        change in its history (who, when, old → new); `avisering` alone shows both."""
        from bot.domain import notify
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        if actor.kind != "person":
            return Reply(t(lang, "denied_unknown"), ok=False)
        person = org.people[actor.id]
        channel = command.args["channel"] or self.notices.channel_for(person)
        preference = command.args["preference"]
        key = notify.PREFIX + actor.id
        if preference is None:
            return Reply(self._notify_overview(actor.id, store.get_state(key)))
        state = notify.with_change(store.get_state(key), actor.id, channel, preference,
                                   actor.audit_name, via, now)
        store.set_state(key, state)
        change = state["history"][-1]
        log.info("avisering: %s satte %s till %s (tidigare %s)", actor.id, channel,
                 change["new"], change["old"])
        reply = t(lang, "done_notify", channel=t(lang, f"notify_channel_{channel}"),
                  new=self._preference_text(change["new"]), old=self._preference_text(change["old"]))
        return Reply(reply + " " + t(lang, f"notify_means_{preference.mode}",
                                     time=change["new"].removeprefix("samlat ")))

    def _preference_text(self, word: str) -> str:
        from bot.domain.notify import DEFAULT_WORD
        if word == DEFAULT_WORD:
            default = self.notices.default_preference()
            return t(self.deps.lang, "notify_default_word",
                     default=default.word() if default else t(self.deps.lang, "notify_at_once_any_hour"))
        return word

    def _notify_setting(self, actor: Actor) -> str:
        """The person's current setting on their channel, for `hjälp` and `avisering`."""
        person = self.deps.org.people[actor.id]
        channel = self.notices.channel_for(person)
        from bot.domain.notify import preference_for, PREFIX
        own = preference_for(self.deps.store.get_state(PREFIX + actor.id), channel)
        word = own.word() if own else self._preference_text("standard")
        hours = self.notices.working_hours(actor.id)
        return t(self.deps.lang, "notify_setting", channel=t(self.deps.lang, f"notify_channel_{channel}"),
                 setting=word, start=f"{hours.start:%H:%M}", end=f"{hours.end:%H:%M}",
                 source=t(self.deps.lang, f"notify_hours_{hours.source}"))

    def _notify_overview(self, person_id: str, state: dict | None) -> str:
        lang = self.deps.lang
        lines = [self._notify_setting(Actor.person(person_id))]
        for channel, saved in sorted(((state or {}).get("channels") or {}).items()):
            from bot.domain.notify import Preference
            preference = Preference.from_state(saved)
            if preference is not None:
                lines.append("  " + t(lang, "notify_channel_line",
                                      channel=t(lang, f"notify_channel_{channel}"),
                                      setting=preference.word()))
        history = ((state or {}).get("history") or [])[-5:]
        if history:
            lines.append(t(lang, "notify_history"))
            tz = self.deps.calendar.tz
            for change in history:
                at = datetime.fromisoformat(change["at"]).astimezone(tz)
                lines.append("  " + t(lang, "notify_history_line", at=f"{at:%Y-%m-%d %H:%M}",
                                      by=change["by"], channel=t(lang, f"notify_channel_{change['channel']}"),
                                      old=self._preference_text(change["old"]),
                                      new=self._preference_text(change["new"])))
        lines.append(t(lang, "usage", usage=t(lang, "usage_notify")))
        return "\n".join(lines)
    def _absence_over(self, actor: Actor, now: datetime) -> Reply:
        """`frånvaro av` (issue 26): the recorded absence ends, and an Outlook period of
        automatic replies on now is set aside, so the notifications go to the person again."""
        from bot.domain.absence import (OUTLOOK_PREFIX, STATE_PREFIX, Absence,
                                        effective_absence, outlook_period)
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        local = self.deps.calendar.local
        manual = store.get_state(STATE_PREFIX + actor.id)
        outlook = store.get_state(OUTLOOK_PREFIX + actor.id) if org.outlook_absence else None
        if effective_absence(actor.id, manual, outlook, now, local, org.timezone) is None:
            raise DomainError(t(lang, "refused_absence_none"))
        recorded = Absence.from_state(manual)
        manual_on = recorded is not None and recorded.covers(local(now).date())
        outlook_on = effective_absence(actor.id, None, outlook, now, local, org.timezone) is not None
        dismissed = outlook_period((outlook or {}).get("replies")) if outlook_on else \
            (manual or {}).get("dismissed_outlook")
        if manual_on:
            state = {"person": actor.id, "cancelled": iso(now), "dismissed_outlook": dismissed}
        else:     # only Outlook's period ends: an absence planned for later stays
            state = {**(manual or {"person": actor.id}), "dismissed_outlook": dismissed}
        store.set_state(STATE_PREFIX + actor.id, state)
        self._absence_audit(actor.id, now, "cancelled", {
            "absence": (manual or {}) if manual_on else None,
            "outlook_period": dismissed if outlook_on else None})
        text = t(lang, "done_absence_cancelled")
        return Reply(text + (" " + t(lang, "done_absence_cancelled_outlook") if outlook_on else ""))

    def _absence_audit(self, person: str, now: datetime, what: str, details: dict) -> None:
        """Who said they were away or back, when: a trail per person in the store state
        (absence is no case's business, so it is not a case event), and a log line."""
        key = f"absence-audit:{person}"
        trail = (self.deps.store.get_state(key) or {}).get("events", [])
        trail = [*trail, {"at": iso(now), "by": person, "what": what, "details": details}][-100:]
        self.deps.store.set_state(key, {"events": trail})
        log.info("frånvaro %s för %s", "avslutad" if what == "cancelled" else "registrerad", person)

    # ------------------------------------------------------------------ länka
    def _link(self, case: Case, command: Command, ctx: Context) -> Reply:
        """Both cases get the link, in the same unit of work; the person must be allowed to
        change both (a link shows one case's number in the other's status)."""
        org, store = self.deps.org, self.deps.store
        other = store.get_case(command.args["other"])
        if other is None:
            raise DomainError(t(org.language, "refused_no_case",
                                number=command.args["other"].format(org.digits)))
        access.require_view(org, ctx.actor, other)
        first = proc.apply(case, command.action, ctx)
        second = proc.apply(other, proc.Link(case.number), ctx)
        self.notices.save(first, ctx.now)
        self.notices.save(second, ctx.now)
        return Reply(first.message)

    # ------------------------------------------------------------------ utlämna
    def _disclose(self, actor: Actor, case: Case, command: Command, channel: str) -> Reply:
        """A request for documents (a case of its own) or the decision on one."""
        from bot.usecases.disclosure import Disclosure
        disclosure = Disclosure(self.deps)
        args = command.args
        if command.name == "disclose":
            return Reply(disclosure.open(actor, case, args["document"], channel))
        return Reply(disclosure.decide(actor, case, args["decision"], args["reason"],
                                       args["paragraph"], channel))

    # ------------------------------------------------------------------ skicka
    def _send(self, case: Case, ctx: Context) -> Reply:
        """The mail is composed, given its Message-ID and kept in raw/ now; the outbox sends
        it and the case advances when the send is recorded (exactly once, DESIGN §11)."""
        from bot.mail.outgoing import build_outgoing_mail
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        access.require(org, ctx.actor, access.SEND, case)
        counterpart = org.counterparts.get(case.counterpart or "")
        if counterpart is None or not counterpart.address:
            raise DomainError(t(lang, "refused_no_counterpart_address", number=case.number))
        if self.deps.sender is None:
            raise DomainError(t(lang, "refused_no_sender", number=case.number))
        if any(n["channel"] == COUNTERPART and n["diary_number"] == case.number
               and n["state"] in ("pending", "sending") for n in store.outbox()):
            raise DomainError(t(lang, "refused_send_in_progress", number=case.number))
        message = build_outgoing_mail(org, case, counterpart.address, store.read_raw, ctx.now)
        message_id = str(message["Message-ID"]).strip("<>")
        document = Document(no=len(case.documents) + 1, type="sent", received=iso(ctx.now),
                            sender=org.mailbox, subject=redact(str(message["Subject"])),
                            message_id=message_id)
        # apply is pure and refuses (already sent, closed) before anything is queued
        proc.apply(case, proc.RecordSent(document, counterpart.address), ctx)
        raw = message.as_bytes()
        raw_path = store.keep_raw(raw, hashlib.sha256(raw).hexdigest(), ctx.now)
        store.add_notification({
            "id": f"{case.number}:send:{message_id}", "recipient": counterpart.id,
            "channel": COUNTERPART, "diary_number": case.number, "event": "send",
            "text": t(lang, "done_send_queued", number=case.number, address=counterpart.address),
            "view": {}, "state": "pending", "created": iso(ctx.now), "attempts": 0,
            "next_attempt": iso(ctx.now),
            "job": {"raw": raw_path, "message_id": message_id, "to": counterpart.address,
                    "subject": document.subject, "by": ctx.actor.id, "channel": ctx.channel}})
        return Reply(t(lang, "done_send_queued", number=case.number, address=counterpart.address))

    # ------------------------------------------------------------------ påminn
    def _remind(self, case: Case, ctx: Context) -> Reply:
        """A reminder to the counterpart (bot.usecases.chase), by the registrator."""
        from bot.usecases.chase import queue_reminder
        access.require(self.deps.org, ctx.actor, access.SEND, case)
        return Reply(queue_reminder(self.deps, case, ctx.actor.id, ctx.channel, ctx.now))

    # ------------------------------------------------------------------ triage
    def _resolve_triage(self, actor: Actor, command: Command, channel: str,
                        now: datetime) -> Reply:
        """The registrator's choice for a mail intake could not place: diarise it as a new
        case, add it to a case, or dismiss it. Decided once; the mail's record keeps who and
        when, and the raw mail stays where intake kept it."""
        org, lang, store = self.deps.org, self.deps.lang, self.deps.store
        triage_id = command.args["triage"]
        person = org.people.get(actor.id) if actor.kind == "person" else None
        if person is None or not person.has_oversight:
            raise PermissionDenied(t(lang, "denied_triage"))
        record = store.triage_record(triage_id)
        if record is None:
            raise DomainError(t(lang, "refused_no_triage", id=triage_id))
        if record.get("resolved"):
            done = record["resolved"]
            who = org.people[done["by"]].name if done["by"] in org.people else done["by"]
            raise DomainError(t(lang, "refused_triage_done", id=triage_id, what=done["what"], who=who))
        ctx = self.intake.context(actor, channel, now)
        if command.name == "triage_dismiss":
            number, what = None, t(lang, "triage_done_dismiss")
            reply = t(lang, "done_triage_dismiss", id=triage_id)
        elif command.name == "triage_new":
            number = self._diarise_triaged(record, command.args["unit"], ctx)
            what, reply = (t(lang, "triage_done_new", number=number),
                           t(lang, "done_triage_new", id=triage_id, number=number))
        else:
            assert command.number is not None
            number = self._attach_triaged(record, command.number, ctx)
            what, reply = (t(lang, "triage_done_attach", number=number),
                           t(lang, "done_triage_attach", id=triage_id, number=number))
        record.update(number=number, resolved={
            "by": actor.id, "at": iso(now), "channel": channel, "action": command.name,
            "what": what, "reason": command.args.get("reason")})
        store.record_mail(record)
        return Reply(reply)

    def _triaged_document(self, record: dict):
        from bot.mail.parse import parse_mail
        raw = self.deps.store.read_raw(record["raw"])
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
        org = self.deps.org
        mail, document = self._triaged_document(record)
        internal = org.is_internal(document.sender)
        counterpart = None if internal else org.counterpart_by_address(document.sender)
        kind = "outgoing" if internal else INCOMING
        decision = Decision(NEW_CASE, "", kind=kind, unit=unit,
                            counterpart=counterpart.id if counterpart else None,
                            title=make_title(mail.subject, org.series, mail.subject or "–"),
                            document=DOC_DEVIATION, sender=document.sender)
        return self.intake.new_case(decision, document, record.get("conversation_id"), ctx)

    def _attach_triaged(self, record: dict, number: DiaryNumber, ctx: Context) -> str:
        org, store = self.deps.org, self.deps.store
        case = store.get_case(number)
        if case is None:
            raise DomainError(t(org.language, "refused_no_case", number=number.format(org.digits)))
        access.require_view(org, ctx.actor, case)
        _, document = self._triaged_document(record)
        internal = org.is_internal(document.sender)
        counterpart = org.counterpart_by_address(document.sender)
        document.type = proc.document_type(case.kind, internal, counterpart is not None
                                           and counterpart.id == case.counterpart)
        decision = Decision(ADDED, "", case=self.intake.lookup.by_number(number),
                            document=document.type, sender=document.sender,
                            sender_internal=internal)
        return self.intake.add_to_case(decision, document, record.get("conversation_id"), ctx)


def outcome_message(outcome: Outcome) -> str:
    return outcome.message
