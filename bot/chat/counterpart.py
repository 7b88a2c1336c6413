"""CounterpartMailer: the outbox's channel for mail to a counterpart (`skicka`).

The mail was composed, given its Message-ID and kept byte for byte in raw/ when the command
ran; this sends exactly those bytes through the configured MailSender (SMTP, Graph or the
pickup folder). A send found in flight after a crash goes out again with the same
Message-ID, unless the sender can tell it already went (Graph: the Sent Items folder).
"""
from __future__ import annotations

import email
import email.policy
import logging
from typing import Any, Callable

from bot.ports import MailSender

log = logging.getLogger(__name__)


class CounterpartMailer:
    channel = "counterpart"

    def __init__(self, sender: MailSender, read_raw: Callable[[str], bytes]):
        self.sender = sender
        self.read_raw = read_raw

    def send(self, item: dict[str, Any]) -> dict[str, Any]:
        job = item["job"]
        message = email.message_from_bytes(self.read_raw(job["raw"]), policy=email.policy.default)
        message_id = self.sender.send(message)   # type: ignore[arg-type]
        log.info("skickat %s till motparten", item.get("diary_number"))
        return {"message_id": message_id or job["message_id"]}

    def delivered(self, item: dict[str, Any]) -> dict[str, Any] | None:
        already_sent = getattr(self.sender, "already_sent", None)
        if already_sent is None:
            return None
        message_id = item["job"]["message_id"]
        return {"message_id": message_id} if already_sent(message_id) else None
