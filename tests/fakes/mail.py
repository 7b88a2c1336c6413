"""FakeMailSender and a small builder for realistic test mails."""
from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

# Mail clients fold long headers at spaces; the stdlib's default (78) instead RFC 2047-encodes
# a long In-Reply-To/References (Exchange message ids are ~90 characters), which no client does.
_POLICY = email.policy.default.clone(max_line_length=998)


class FakeMailSender:
    def __init__(self):
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        return str(message["Message-ID"])


def make_mail(*, sender: str, subject: str, body: str, to: str = "registrator.vok@exempelby.se",
              date: datetime | None = None, message_id: str | None = "auto",
              headers: dict[str, str] | None = None, in_reply_to: str | None = None) -> bytes:
    msg = EmailMessage(policy=_POLICY)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc))
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1].strip(">"))
    elif message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg)
