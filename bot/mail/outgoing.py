"""The mail `skicka` sends to a counterpart (DESIGN §8)."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from datetime import datetime, timezone
from email.parser import BytesHeaderParser
from email.utils import make_msgid
from typing import Callable

from bot.chat.render import case_labels
from bot.domain.case import DOC_REMINDER, DOC_SENT, INCOMING, Case
from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.mail.threadindex import thread_headers
from bot.texts import t


def build_outgoing_mail(org: Organisation, case: Case, to: str,
                        read_raw: Callable[[str], bytes],
                        now: datetime | None = None) -> EmailMessage:
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
    # Outlook groups by Thread-Index: continue the counterpart's, when its mail had one
    answered = [d for d in case.documents if d.message_id == (thread[-1] if thread else None)]
    parent = _thread_index(read_raw, answered[-1].raw) if answered and answered[-1].raw else None
    for name, value in thread_headers(str(message["Subject"]), parent, now or datetime.now(timezone.utc),
                                      str(message["Message-ID"])).items():
        message[name] = value
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
            raw = read_raw(doc.raw)
            attached = email.message_from_bytes(raw, policy=email.policy.default)
            message.add_attachment(attached)   # message/rfc822, as mail clients forward
    return message


def _thread_index(read_raw: Callable[[str], bytes], raw_path: str) -> str | None:
    try:
        headers = BytesHeaderParser(policy=email.policy.default).parsebytes(read_raw(raw_path))
    except (OSError, ValueError):
        return None
    value = headers.get("Thread-Index")
    return str(value) if value else None


def build_reminder_mail(org: Organisation, case: Case, to: str, read_raw: Callable[[str], bytes],
                        now: datetime, sent: str) -> EmailMessage:
    """`påminn`: a short reminder from the functional mailbox, in the thread of the mail
    `skicka` sent (In-Reply-To, References and its Thread-Index continued). No documents:
    the counterpart has them."""
    lang = org.language
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = org.mailbox
    message["To"] = to
    message["Subject"] = t(lang, "reminder_mail_subject", number=case.number, title=redact(case.title))
    message["Message-ID"] = make_msgid(domain=org.mailbox.split("@")[1])
    message["Auto-Submitted"] = "auto-generated"
    ours = [d for d in case.documents if d.type in (DOC_SENT, DOC_REMINDER) and d.message_id]
    thread = [d.message_id for d in case.documents if d.message_id]
    if ours:
        message["In-Reply-To"] = f"<{ours[-1].message_id}>"
        message["References"] = " ".join(f"<{m}>" for m in thread)
    parent = _thread_index(read_raw, ours[-1].raw) if ours and ours[-1].raw else None
    topic = f"{case.number} {redact(case.title)}"
    for name, value in thread_headers(topic, parent, now, str(message["Message-ID"])).items():
        message[name] = value
    message.set_content(t(lang, "reminder_mail_body", number=case.number, sent=sent)
                        + "\n\n" + org.name)
    return message


def build_receipt_mail(org: Organisation, case: Case, to: str, answered_id: str | None,
                       answered_subject: str, parent_index: str | None,
                       now: datetime) -> EmailMessage:
    """The receipt a counterpart opted in to: our diary number, in their thread, marked as
    an automatic reply (RFC 3834) so no auto-responder answers it. Never their mail's body."""
    lang = org.language
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = org.mailbox
    message["To"] = to
    subject = redact(f"{t(lang, 'email_reply_prefix')} {answered_subject}".strip())
    if case.number not in subject:
        subject += f" [{case.number}]"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=org.mailbox.split("@")[1])
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"
    if answered_id:
        message["In-Reply-To"] = f"<{answered_id}>"
        message["References"] = f"<{answered_id}>"
    topic = redact(answered_subject) or case.number
    for name, value in thread_headers(topic, parent_index, now, str(message["Message-ID"])).items():
        message[name] = value
    reference = (" " + t(lang, "receipt_reference", reference=case.reference)) if case.reference else ""
    message.set_content(t(lang, "receipt_body", number=case.number, reference=reference)
                        + "\n\n" + org.name)
    return message
