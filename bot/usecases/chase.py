"""Chasing the counterpart (issue 13): the reminder mail `påminn` sends, and the automatic
one on the agreed day. Both are outbox jobs on the counterpart channel, like `skicka`'s: the
mail is composed and kept now, sent once by the outbox, and diarised when it has gone."""
from __future__ import annotations

import hashlib
from datetime import datetime

from bot.domain import process as proc
from bot.domain.case import DOC_REMINDER, DOC_SENT, Case, iso
from bot.domain.redact import redact
from bot.errors import DomainError
from bot.texts import long_date, t
from bot.usecases.base import Deps
from bot.usecases.outbox import COUNTERPART


def in_flight(deps: Deps, case: Case) -> bool:
    """A mail to the counterpart of this case is still on its way."""
    return any(n["channel"] == COUNTERPART and n["diary_number"] == case.number
               and n["state"] in ("pending", "sending") for n in deps.store.outbox())


def reminded_since_sent(case: Case) -> bool:
    sent = [d.received for d in case.documents if d.type == DOC_SENT]
    return bool(sent) and any(d.type == DOC_REMINDER and d.received >= sent[-1]
                              for d in case.documents)


def queue_reminder(deps: Deps, case: Case, by: str | None, channel: str, now: datetime) -> str:
    """Compose and queue the reminder; the text to answer with. The caller checked the
    permission; this checks the case waits for the counterpart and nothing is on its way."""
    from bot.mail.outgoing import build_reminder_mail
    org, lang, store = deps.org, deps.lang, deps.store
    if not proc.may_remind(case):
        raise DomainError(t(lang, "refused_remind_not_waiting", number=case.number))
    counterpart = org.counterparts.get(case.counterpart or "")
    if counterpart is None or not counterpart.address:
        raise DomainError(t(lang, "refused_no_counterpart_address", number=case.number))
    if deps.sender is None:
        raise DomainError(t(lang, "refused_no_sender", number=case.number))
    if in_flight(deps, case):
        raise DomainError(t(lang, "refused_send_in_progress", number=case.number))
    sent_at = case.status_since.get("sent") or case.created
    sent = long_date(lang, deps.calendar.local(datetime.fromisoformat(sent_at)).date())
    message = build_reminder_mail(org, case, counterpart.address, store.read_raw, now, sent)
    message_id = str(message["Message-ID"]).strip("<>")
    raw = message.as_bytes()
    raw_path = store.keep_raw(raw, hashlib.sha256(raw).hexdigest(), now)
    text = t(lang, "done_remind_queued", number=case.number, address=counterpart.address)
    store.add_notification({
        "id": f"{case.number}:remind:{message_id}", "recipient": counterpart.id,
        "channel": COUNTERPART, "diary_number": case.number, "event": "remind",
        "text": text, "view": {}, "state": "pending", "created": iso(now), "attempts": 0,
        "next_attempt": iso(now),
        "job": {"raw": raw_path, "message_id": message_id, "to": counterpart.address,
                "kind": "remind", "subject": redact(str(message["Subject"])), "by": by,
                "channel": channel}})
    return text
