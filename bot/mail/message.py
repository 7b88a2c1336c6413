"""InboundMail: what intake needs to know about one mail, already decoded.

Produced by bot.mail.parse.parse_mail() from raw bytes; consumed by the pure
classification rules in bot.mail.classify. Plain data only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int


VERIFIED, FAILED, UNVERIFIED = "verified", "failed", "unverified"


@dataclass(frozen=True)
class SenderVerdict:
    """What the trusted receiving server said about the From: address (DESIGN §8)."""
    status: str                       # verified | failed | unverified
    why: str = ""                     # short and technical: "dmarc=fail", "AuthAs: Internal"
    authserv_id: str = ""             # whose verdict it is ("exchange-online" for Exchange's)


@dataclass(frozen=True)
class InboundMail:
    # identity
    message_id: str | None            # without angle brackets, as in the header; None when absent
    content_hash: str                 # sha256 hex of the raw bytes (duplicate key without Message-ID)
    # sha256 hex of the body (after the header block, CR removed): the same mail delivered
    # again with other transit headers (Received, Delivered-To) keeps it, another mail
    # reusing a Message-ID does not. What the store keeps to tell the two apart.
    fingerprint: str = ""
    in_reply_to: tuple[str, ...] = ()  # message ids without angle brackets
    references: tuple[str, ...] = ()
    conversation_id: str | None = None  # Graph conversationId when the source knows one

    # people
    sender_address: str = ""          # canonical bare address from From: ("" when missing;
    #                                   bot.domain.address.canonical: never str.lower())
    sender_written: str = ""          # the same address as written (look-alike detection)
    sender_name: str = ""
    to: tuple[str, ...] = ()          # lower-cased bare addresses (To + Cc)

    # content, decoded (RFC 2047 headers, any charset, HTML already turned into text)
    subject: str = ""
    text: str = ""                    # the readable body as plain text
    attachments: tuple[Attachment, ...] = ()

    # times (timezone-aware)
    date: datetime | None = None      # Date: header
    received: datetime | None = None  # date of the topmost Received: header

    # header facts for the automatic-mail rule
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased name -> first value
    content_type: str = "text/plain"  # top-level content type, lower-case
    report_type: str | None = None    # multipart/report's report-type (delivery-status, disposition-notification)

    # forwards
    attached_messages: tuple["InboundMail", ...] = ()  # parts of type message/rfc822, parsed
    defects: tuple[str, ...] = ()     # what the parser had to repair; never raises instead

    # sender authenticity: the trace headers in order, top first (Authentication-Results,
    # Received, Exchange's X-MS-Exchange-Organization-AuthAs/-AuthSource), lower-cased name
    # and unfolded value; the number of From: addresses (more than one is a spoofing trick)
    trace: tuple[tuple[str, str], ...] = ()
    from_count: int = 0
    verdict: SenderVerdict | None = None  # set by parse_mail when given the trusted ids

    @property
    def duplicate_key(self) -> str:
        return f"mid:{self.message_id.lower()}" if self.message_id else f"sha:{self.content_hash}"

    @property
    def thread_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.in_reply_to, *self.references)))
