"""Cases, documents, actions and audit events as plain data.

A case is stored as a dict (to_dict/from_dict) so the store can keep it in TinyDB
without knowing its shape. Times are ISO 8601 strings with offset, in UTC.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

INCOMING, OUTGOING = "incoming", "outgoing"
# issue 26: "synpunkter och klagomål" from the public, and a supplier's medical-device safety
# notice (säkerhetsmeddelande, Field Safety Notice)
COMPLAINT, FSN = "klagomål", "fsn"
KINDS = (INCOMING, OUTGOING, COMPLAINT, FSN)   # the deviation kinds (reports, statistics)
# a request for official documents (begäran om utlämnande av allmän handling): a case of its
# own, beside the deviations, with a clock in office hours (bot.domain.disclosure)
REQUEST = "request"

# status names per kind, in process order (DESIGN §3)
STATUSES = {
    INCOMING: ("diarised", "registered", "response_received", "response_sent", "closed"),
    OUTGOING: ("diarised", "sent", "response_received", "closed"),
    COMPLAINT: ("diarised", "answered", "closed"),
    FSN: ("diarised", "closed"),
    REQUEST: ("diarised", "closed"),
}
CLOSED = "closed"

DOC_DEVIATION, DOC_RESPONSE, DOC_SUPPLEMENT, DOC_SENT = "deviation", "response", "supplement", "sent"
DOC_REMINDER = "reminder"          # `påminn`: the reminder the bot sent to the counterpart
# a note written in chat (FL 27 §: what was said on the phone is documented); its text is `subject`
DOC_NOTE = "note"
DOC_REQUEST = "request"            # the request for documents that opened a request case

# channels through which something can happen (audit trail)
CH_MAIL, CH_CLI, CH_SLACK, CH_TEAMS, CH_SYSTEM = "mail", "cli", "slack", "teams", "system"


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


@dataclass
class Document:
    no: int
    type: str
    received: str
    sender: str
    subject: str                       # redacted
    message_id: str | None = None
    raw: str | None = None             # path of the raw bytes, relative to the data directory
    attachments: list[str] = field(default_factory=list)
    # its own secrecy marking {"paragraph" (None = public), "by", "at"}; None: the default
    # for the case's kind (bot.domain.records)
    secrecy: dict[str, Any] | None = None


@dataclass
class Action:
    no: int
    text: str
    owner: str | None
    due: str | None                    # ISO date
    created: str
    done: str | None = None
    done_by: str | None = None

    @property
    def is_open(self) -> bool:
        return self.done is None


@dataclass
class Event:
    at: str
    who: str                           # person id, "mail:<address>" or "system"
    channel: str
    what: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Snooze:
    step: str
    until: str                         # ISO date: reminders resume on this day
    reason: str
    by: str


@dataclass
class Case:
    number: str                        # formatted diary number, e.g. "VOK 2026/0042"
    key: int                           # DiaryNumber.key
    kind: str
    title: str
    status: str
    created: str                       # arrival of the first document: start of every deadline
    unit: str | None = None
    counterpart: str | None = None
    severity: str | None = None        # green | yellow | red | None (unassessed)
    status_since: dict[str, str] = field(default_factory=dict)
    documents: list[Document] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    snoozes: list[Snooze] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)   # ids of every mail in or sent from the case
    conversation_ids: list[str] = field(default_factory=list)
    close_reason: str | None = None
    links: list[str] = field(default_factory=list)   # related cases (a new one opened by a mail to this)
    # when `ingest --quiet-import` diarised it from a backlog: no notifications then, and no
    # reminder for a deadline that had passed by that moment
    imported: str | None = None
    reference: str | None = None     # the counterpart's own case number for it
    # Lex Maria / Lex Sarah: asked {"at", "reason", "assessors"}; decided {"decision",
    # "reason", "by", "at", "ivo"} (decision maria | sarah | ingen; ivo = IVO's reference)
    lex_requested: dict[str, Any] | None = None
    lex_decision: dict[str, Any] | None = None
    # `kvittera`: {"step", "by", "at"}; the step's escalations stop for a while
    acks: list[dict[str, Any]] = field(default_factory=list)
    # the title the public diary shows (no names, no personnummer); None: made of the kind,
    # counterpart and unit (bot.domain.records.public_title)
    public_title: str | None = None
    # `spärra`: {"reason", "by", "at"} keeps the case from culling (gallring) until lifted
    hold: dict[str, Any] | None = None
    # HSL | SoL | LSS (bot.domain.lagrum), and where it came from: "unit", "counterpart",
    # "kind" or "registrator". None in a record from 0.3.0: derived from its unit when read
    lagrum: str | None = None
    lagrum_by: str | None = None
    # a closed fsn case: {"supplier_answered": True, "lmv_reported": bool, "by", "at"}
    fsn_closing: dict[str, Any] | None = None

    @property
    def is_closed(self) -> bool:
        return self.status == CLOSED

    @property
    def year(self) -> int:
        return self.key // 1_000_000

    def open_actions(self) -> list[Action]:
        return [a for a in self.actions if a.is_open]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Case":
        data = dict(data)
        data["documents"] = [Document(**d) for d in data.get("documents", [])]
        data["actions"] = [Action(**a) for a in data.get("actions", [])]
        data["events"] = [Event(**e) for e in data.get("events", [])]
        data["snoozes"] = [Snooze(**s) for s in data.get("snoozes", [])]
        return cls(**data)
