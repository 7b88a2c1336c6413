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
from datetime import datetime, timezone
from urllib.parse import quote

from bot.chat.render import BUNDLE, bundle_text
from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.errors import DeliveryError
from bot.mail.classify import _REPLY_PREFIX, COMMAND_REPLY, COMMAND_TOKEN
from bot.mail.threadindex import thread_headers
from bot.ports import MailSender
from bot.texts import t

log = logging.getLogger(__name__)


def answer_commands(view: dict[str, Any], number: str | None) -> list[dict[str, str]]:
    """What one can answer a notification with: each button's command without the diary
    number (or triage id) the notification already names, and the full command for a
    mailto: link. Buttons that need a free text (snooze's date and reason) are left out."""
    triage_id = view.get("triage_id")
    result = []
    for action in view.get("actions") or []:
        full = str(action.get("command") or "").replace(" {unit}", "")
        if not full or "{" in full:
            continue
        named = f" {triage_id}" if triage_id else f" {number}" if number else ""
        word = full.replace(named, "", 1) if named else full
        result.append({"word": " ".join(word.split()), "full": full})
    return result


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
        if view.get("event") == COMMAND_REPLY:
            self._as_answer(message, view)
            message.set_content(redact(notification["text"]) + "\n\n" + t(lang, "email_footer_auto"))
        elif view.get("event") == BUNDLE:
            message["Subject"] = redact(headline)
            message["Auto-Submitted"] = "auto-generated"
            message.set_content(bundle_text(self.org, view, self.row_answers) + "\n\n"
                                + t(lang, "bundle_answer_how") + "\n\n"
                                + t(lang, "email_footer_auto"))
        else:
            subject = f"{number} {headline}" if number else headline
            if view.get("triage_id"):       # so that "avfärda" alone can name the mail
                subject += f" [{view['triage_id']}]"
            message["Subject"] = redact(subject)
            message["Auto-Submitted"] = "auto-generated"
            message.set_content(redact(notification["text"]) + "\n\n"
                                + self.how_to_answer(view, number) + t(lang, "email_footer_auto"))
        # fixed by the outbox id: a resend after a crash is the same message to the
        # recipient's server and mail client, never a second one; its form (<hash.avisering@…>)
        # is how intake knows an answer to it (bot.mail.classify.answers_notification)
        message["Message-ID"] = notification_message_id(notification["id"], self.org.mailbox)
        created = notification.get("created")
        moment = datetime.fromisoformat(created) if created else datetime.now(timezone.utc)
        topic = _REPLY_PREFIX.sub("", str(message["Subject"])).strip()
        for name, value in thread_headers(topic, view.get("thread_index"), moment,
                                          notification["id"]).items():
            message[name] = value
        message["X-Auto-Response-Suppress"] = "All"
        # the idempotency key travels along, so a mail client (or a person) can spot a repeat
        message["X-Avvikelsebot-Notification"] = notification["id"]
        return message

    def _as_answer(self, message: EmailMessage, view: dict[str, Any]) -> None:
        """The answer to a command that came by mail: threaded to that mail, and marked as
        an automatic reply so that no auto-responder answers it back (RFC 3834)."""
        message["Subject"] = redact(f"{t(self.org.language, 'email_reply_prefix')} {view.get('subject') or ''}".strip())
        if view.get("in_reply_to"):
            message["In-Reply-To"] = f"<{view['in_reply_to']}>"
            refs = [*view.get("references", []), view["in_reply_to"]]
            message["References"] = " ".join(f"<{r}>" for r in dict.fromkeys(refs))
        message["Auto-Submitted"] = "auto-replied"

    def _mailto(self, command: str) -> str:
        return (f"mailto:{self.org.mailbox}?subject="
                f"{quote(COMMAND_TOKEN + ' ' + command, safe='')}&body={quote(command, safe='')}")

    def row_answers(self, row: dict[str, Any]) -> list[str]:
        """A bundle's row by e-mail: a mailto: line per button of that case, the whole
        command with its diary number (one mail answers one case)."""
        lines = []
        for action in row.get("actions") or []:
            full = " ".join(str(action.get("command") or "").split())
            if full and "{" not in full:
                lines.append(f"- {full}: {self._mailto(full)}")
        return lines

    def how_to_answer(self, view: dict[str, Any], number: str | None) -> str:
        """The notification's buttons as answer words and mailto: links to the functional
        mailbox; "" when it offers nothing to do."""
        lang = self.org.language
        lines = []
        for command in answer_commands(view, number):
            word = command["word"].upper()
            link = (f"mailto:{self.org.mailbox}?subject="
                    f"{quote(COMMAND_TOKEN + ' ' + command['full'], safe='')}"
                    f"&body={quote(command['full'], safe='')}")
            key = "email_answer_line" if " " not in word else "email_answer_line_words"
            lines.append("- " + t(lang, key, word=word, link=link))
        if not lines:
            return ""
        example = answer_commands(view, number)[0]["word"].upper()
        return "\n".join([t(lang, "email_answer_how", example=example), *lines, "", ""])

    def send(self, notification: dict[str, Any]) -> dict[str, Any]:
        message = self.build(notification)
        message_id = self.sender.send(message)
        log.info("e-postnotis %s till %s", notification.get("diary_number") or "",
                 notification["recipient"])
        return {"message_id": message_id}
