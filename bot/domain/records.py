"""Records management (offentlighet och sekretess), pure: the secrecy marking of a document,
the public title of a case, and the public diary (OSL 5 kap. 2 §).

A secrecy marking (sekretessmarkering) names the paragraph of offentlighets- och
sekretesslagen that may apply, when and by whom it was marked. It is a warning, not a
decision: every request for a document is assessed anew. A document without a marking of its
own carries the organisation's default for its case's kind ([records] secrecy): `auto` gives
OSL 25 kap. 1 § (hälso- och sjukvård) or 26 kap. 1 § (socialtjänst) by the unit's `care`, both
for a unit with both or no unit yet.

The public diary holds, per document, what OSL 5 kap. 2 § asks: the date it came in or was
drawn up, the diary number, from whom it came or to whom it went, and a short description —
the last two left out when the document is marked secret. The description is never the mail's
subject (it may name a patient): it is the case's public title with the document's type.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from bot.domain.case import (COMPLAINT, DOC_NOTE, DOC_REQUEST, FSN, INCOMING, REQUEST, Case,
                             Document, from_iso)
from bot.domain.org import CARE_HEALTH, CARE_SOCIAL, Organisation
from bot.domain.redact import redact
from bot.texts import t

PUBLIC = "offentlig"
AUTO = "auto"
OSL_HEALTH = "OSL 25 kap. 1 §"       # hälso- och sjukvård: uppgift om enskilds hälsotillstånd
OSL_SOCIAL = "OSL 26 kap. 1 §"       # socialtjänst: uppgift om enskilds personliga förhållanden
_PARAGRAPH = re.compile(
    r"^(?:osl\s*)?(?P<chapter>\d{1,2})\s*(?::|kap\.?)\s*(?P<section>\d{1,2})\s*(?P<letter>[a-z])?"
    r"\s*§?$", re.IGNORECASE)
_PUBLIC_WORDS = ("offentlig", "offentligt", "public", "ingen")


def parse_paragraph(text: str) -> str | None:
    """"25:1", "OSL 25:1", "25 kap. 1 §", "26 kap 1 a §" → "OSL 25 kap. 1 §" (normalised);
    "offentlig" → PUBLIC; anything else → None (not understood)."""
    cleaned = " ".join(text.split()).strip(" .,")
    if cleaned.casefold() in _PUBLIC_WORDS:
        return PUBLIC
    found = _PARAGRAPH.match(cleaned)
    if not found:
        return None
    letter = f" {found['letter'].lower()}" if found["letter"] else ""
    return f"OSL {int(found['chapter'])} kap. {int(found['section'])}{letter} §"


def default_secrecy(org: Organisation, case: Case) -> str | None:
    """The marking a document of this case gets when nobody marked it: None = public."""
    rule = org.records.secrecy.get(case.kind, AUTO)
    if rule == PUBLIC:
        return None
    if rule != AUTO:
        return rule
    unit = org.units.get(case.unit or "")
    care = unit.care if unit else None
    if care == CARE_HEALTH:
        return OSL_HEALTH
    if care == CARE_SOCIAL:
        return OSL_SOCIAL
    return f"{OSL_HEALTH}, {OSL_SOCIAL}"


def secrecy_of(org: Organisation, case: Case, document: Document) -> str | None:
    """The paragraph a document is marked with (its own marking, else the default); None =
    public."""
    if document.secrecy is not None:
        return document.secrecy.get("paragraph")
    return default_secrecy(org, case)


def marking(paragraph: str | None, by: str, at: datetime) -> dict[str, Any]:
    """A document's own marking: what, who, when (from_iso/iso round trip)."""
    return {"paragraph": paragraph, "by": by, "at": at.isoformat(timespec="seconds")}


def mask_names(org: Organisation, text: str) -> str:
    """A public text without personnummer and without the names of the directory's people."""
    return replace_names(org, redact(" ".join(text.split())), "[namn]")


def replace_names(org: Organisation, text: str, placeholder: str) -> str:
    """`text` with every name of the directory's people (whole names first, then each part of
    three letters or more, a genitive s too) replaced by `placeholder`."""
    for person in org.people.values():
        # the whole name before its parts (a set's order changes from run to run: "Anna
        # Andersson" came out "[namn]" or "[namn] [namn]")
        for name in sorted({person.name, *person.name.split()}, key=lambda n: (-len(n), n)):
            if len(name) >= 3:
                text = re.sub(rf"(?<!\w){re.escape(name)}s?(?!\w)", lambda _: placeholder,
                              text, flags=re.IGNORECASE)
    return text


def public_title(org: Organisation, case: Case) -> str:
    """The title the public diary shows: the registrator's, else one made of the kind, the
    counterpart and the unit (names of organisations, never of people)."""
    if case.public_title:
        return case.public_title
    lang = org.language
    counterpart = org.counterparts.get(case.counterpart or "")
    unit = org.units.get(case.unit or "")
    if case.kind == COMPLAINT:       # from the public: a private person, never named
        other = t(lang, "party_private")
    else:
        other = counterpart.name if counterpart else t(lang, "unknown_counterpart")
    return t(lang, "public_title_default", kind=t(lang, f"kind_{case.kind}"),
             counterpart=other,
             unit=unit.name if unit else t(lang, "unknown_unit"))


@dataclass(frozen=True)
class DiaryRow:
    """One document in the public diary (OSL 5 kap. 2 §)."""
    day: date                      # came in / drawn up (the organisation's date)
    number: str
    document: int
    direction: str                 # "in" (received) | "upp" (drawn up here or sent)
    party: str | None              # from whom / to whom; None when secret
    description: str | None        # None when secret
    secrecy: str | None            # the paragraph, None = public

    def as_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "diary_number": self.number,
                "document": self.document, "direction": self.direction, "party": self.party,
                "description": self.description, "secrecy": self.secrecy}


def public_diary(org: Organisation, cases: Iterable[Case], start: date,
                 end: date) -> list[DiaryRow]:
    """Every document that came in or was drawn up from start to end (inclusive, local
    dates), oldest first; sender and description left out where the document is secret."""
    zone = ZoneInfo(org.timezone)
    rows = []
    for case in cases:
        title = None
        for document in case.documents:
            day = from_iso(document.received).astimezone(zone).date()
            if not start <= day <= end:
                continue
            paragraph = secrecy_of(org, case, document)
            if title is None:
                title = mask_names(org, public_title(org, case))
            received = is_received(case, document)
            description = None if paragraph else t(
                org.language, "public_diary_description",
                type=t(org.language, f"doc_{document.type}").capitalize(), title=title)
            rows.append(DiaryRow(day, case.number, document.no,
                                 "in" if received else "upp",
                                 None if paragraph else party_of(org, case, document, received),
                                 description, paragraph))
    rows.sort(key=lambda r: (r.day, r.number, r.document))
    return rows


def is_received(case: Case, document: Document) -> bool:
    """Came in from outside (the counterpart's deviation or answer), or drawn up / sent here."""
    if document.type == DOC_NOTE or document.type in ("sent", "reminder"):
        return False
    if case.kind in (INCOMING, COMPLAINT, FSN):
        # a complaint or a safety notice came in, as do the complainant's or supplier's later
        # mails; our own answer (a response from our side) is drawn up here
        return document.type in ("deviation", "supplement")
    if case.kind == REQUEST:
        return document.type == DOC_REQUEST
    return document.type == "response"


def party_of(org: Organisation, case: Case, document: Document, received: bool) -> str:
    """The other party by organisation, never a person's address: the counterpart for what
    came in or went out to it, our unit for what was drawn up inside."""
    if case.kind == REQUEST and received:
        # a requester need not say who they are (TF 2 kap. 18 §): never a person's name here
        return t(org.language, "request_party")
    counterpart = org.counterparts.get(case.counterpart or "")
    if case.kind == COMPLAINT and (received or document.type in ("sent", "reminder")):
        return t(org.language, "party_private")
    if received or document.type in ("sent", "reminder"):
        return counterpart.name if counterpart else t(org.language, "unknown_counterpart")
    unit = org.units.get(case.unit or "")
    return unit.name if unit else org.name
