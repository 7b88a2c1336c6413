"""EmailNotifier: notifications by e-mail for people with no chat id (DESIGN §5).

Plain text only (the same rendering as the console), so nothing from outside can become
markup; sent through the configured MailSender (SMTP or Graph) from the functional
mailbox, marked automatic so out-of-office replies do not come back into the diary.
"""
from __future__ import annotations

import email.policy
import hashlib
import logging
from email.message import EmailMessage
from typing import Any

from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.errors import DeliveryError
from bot.ports import MailSender
from bot.texts import t

log = logging.getLogger(__name__)


def notification_message_id(notification_id: str, mailbox: str) -> str:
    digest = hashlib.sha256(notification_id.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.avisering@{mailbox.split('@')[1]}>"


class EmailNotifier:
    channel = "email"

    def __init__(self, org: Organisation, sender: MailSender):
        self.org = org
        self.sender = sender

    def build(self, notification: dict[str, Any]) -> EmailMessage:
        person = self.org.people.get(notification["recipient"])
        if person is None:
            raise DeliveryError(f"ingen e-postadress för {notification['recipient']}")
        view = notification.get("view") or {}
        lang = self.org.language
        number = notification.get("diary_number")
        headline = view.get("headline") or t(lang, "email_subject_default")
        message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
        message["From"] = self.org.mailbox
        message["To"] = person.email
        message["Subject"] = redact(f"{number} {headline}" if number else headline)
        # fixed by the outbox id: a resend after a crash is the same message to the
        # recipient's server and mail client, never a second one
        message["Message-ID"] = notification_message_id(notification["id"], self.org.mailbox)
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        # the idempotency key travels along, so a mail client (or a person) can spot a repeat
        message["X-Avvikelsebot-Notification"] = notification["id"]
        message.set_content(redact(notification["text"]) + "\n\n" + t(lang, "email_footer"))
        return message

    def send(self, notification: dict[str, Any]) -> dict[str, Any]:
        message = self.build(notification)
        message_id = self.sender.send(message)
        log.info("e-postnotis %s till %s", notification.get("diary_number") or "",
                 notification["recipient"])
        return {"message_id": message_id}
