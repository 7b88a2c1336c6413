"""Utlämnande av allmän handling, pure: a request for documents as a case of its own, the
masked copy of a requested document, and the decision.

A request (`utlämna <dnr> [<nr>]`) is diarised as a case of kind REQUEST with its own diary
number, linked both ways to the case it asks for, and the registrators are reminded within
office hours the same day until a decision is recorded: a request is handled promptly
("skyndsamt", TF 2 kap. 15 §; JO 4209-09 — normally the same day). The secrecy marking of a
document is a warning, not a decision: every request is assessed anew, so the copy made here
is a proposal the registrator reads before anything leaves.

The masked copy replaces, with "[maskerat <paragraf>]" (the paragraph of the document's own
marking, else its kind's default, e.g. OSL 25:1 for health care, 26:1 for social services):
every personnummer and samordningsnummer, every name of the directory's people, and the
value of every line that names a private person or identifies one (NAME_LABELS: "Namn:",
"Patient:", "Brukare:", "Anhörig:" …).

The decision (`utlämna <dnr> beslut lämnas ut | lämnas ut med maskering | avslag <skäl>`)
is an event (who, when, which decision, which paragraph, why) and closes the request. A
refusal needs its reason, and the answer reminds the registrator that the requester may ask
for the authority's own decision, which can be appealed to the administrative court of
appeal (OSL 6 kap. 7 och 8 §§).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from bot.domain.case import DOC_REQUEST, REQUEST, Case, Document, Event
from bot.domain.org import Organisation
from bot.domain.redact import PLACEHOLDER, redact
from bot.domain.records import replace_names, secrecy_of
from bot.errors import DomainError
from bot.texts import t

REQUESTED, DECIDED = "disclosure_requested", "disclosure_decided"
RELEASED, MASKED, REFUSED = "released", "masked", "refused"
DECISIONS = (RELEASED, MASKED, REFUSED)
STEP = "disclosure"                    # the reminder step of an undecided request

# Lines whose value names or identifies a private person (a patient, a client, a relative):
# the label stays, the rest of the line is masked (the next line when the label ends its own,
# as a form is often written). Case does not matter; "Patientens namn:" and "- Brukare :"
# count too. Staff's contact lines (Telefon:, E-post:) are left alone: they
# are the authority's own, and a directory name in them is masked anyway.
NAME_LABELS = (
    "namn", "fullständigt namn", "patient", "patientens namn", "brukare", "brukarens namn",
    "anhörig", "anhöriga", "närstående", "kontaktperson", "klient", "vårdtagare", "boende",
    "den enskilde", "kund", "elev", "god man", "förvaltare", "vårdnadshavare",
    "personnummer", "pnr", "samordningsnummer", "födelsedatum", "född", "adress", "hemadress",
)
_LABEL_LINE = re.compile(
    r"(?P<label>(?<![\w-])(?:" + "|".join(re.escape(label).replace(r"\ ", r"\s+")
                                          for label in sorted(NAME_LABELS, key=len, reverse=True))
    + r")[ \t]*:)[ \t]*(?:\r?\n[ \t]*)?(?P<value>\S[^\n]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Request:
    """What a request case asks for: the requested case and its documents (None: all)."""
    number: str
    documents: tuple[int, ...] | None


# --------------------------------------------------------------------------- masking
def short_paragraph(paragraph: str | None) -> str | None:
    """"OSL 25 kap. 1 §" -> "OSL 25:1"; "OSL 25 kap. 1 §, OSL 26 kap. 1 §" -> "OSL 25:1, 26:1"."""
    if not paragraph:
        return None
    parts = re.findall(r"(\d{1,2})\s*kap\.\s*(\d{1,2})(?:\s+([a-z]))?\s*§", paragraph)
    if not parts:
        return paragraph
    return "OSL " + ", ".join(f"{c}:{s}{' ' + letter if letter else ''}" for c, s, letter in parts)


def mask_label(paragraph: str | None) -> str:
    """The text that replaces what is masked: "[maskerat OSL 25:1]" ("[maskerat]" when the
    document carries no paragraph)."""
    short = short_paragraph(paragraph)
    return f"[maskerat {short}]" if short else "[maskerat]"


_NAME_WORD = re.compile(r"(?<![\w-])[A-ZÅÄÖÉÜ][\w'-]{2,}")


def named_in(text: str) -> set[str]:
    """The names a document gives on its name lines ("Patient: Greta Gustavsson, dotter" ->
    {"Greta", "Gustavsson"}): capitalised words of three letters or more, so that the same
    person is masked where the running text or the subject names them again."""
    found: set[str] = set()
    for line in _LABEL_LINE.finditer(text):
        found |= set(_NAME_WORD.findall(line["value"]))
    return found


def mask_text(org: Organisation, text: str, paragraph: str | None,
              names: set[str] | frozenset[str] = frozenset()) -> str:
    """A copy of `text` for release: the values of name lines, every personnummer, every
    name of the directory and every one of `names` (named_in of the whole document) replaced
    by the mask label."""
    label = mask_label(paragraph)
    text = _LABEL_LINE.sub(lambda m: f"{m['label']} {label}", text)
    text = redact(text).replace(PLACEHOLDER, label)
    for name in sorted(names, key=lambda n: (-len(n), n)):
        text = re.sub(rf"(?<![\w-]){re.escape(name)}s?(?![\w-])", lambda _: label, text)
    return replace_names(org, text, label)


# --------------------------------------------------------------------------- the request
def request_of(case: Case) -> Request | None:
    """What a request case asks for (None for any other case)."""
    if case.kind != REQUEST:
        return None
    for event in case.events:
        if event.what == REQUESTED and "case" in event.details:
            documents = event.details.get("documents")
            return Request(event.details["case"], tuple(documents) if documents else None)
    return None


def decision_of(case: Case) -> dict[str, Any] | None:
    """The recorded decision: {"decision", "paragraph", "reason", "by", "at"}, or None."""
    for event in reversed(case.events):
        if event.what == DECIDED and "decision" in event.details:
            return {**event.details, "by": event.who, "at": event.at}
    return None


def requested_documents(case: Case, documents: tuple[int, ...] | None) -> list[Document]:
    """The requested case's documents a request names (all of them for None)."""
    if documents is None:
        return list(case.documents)
    return [d for d in case.documents if d.no in documents]


def paragraph_for(org: Organisation, case: Case, documents: tuple[int, ...] | None) -> str | None:
    """The paragraphs the requested documents are marked with, in order, each once (None:
    every one of them is public)."""
    found: list[str] = []
    for document in requested_documents(case, documents):
        paragraph = secrecy_of(org, case, document)
        for part in (paragraph.split(", ") if paragraph else ()):
            if part not in found:
                found.append(part)
    return ", ".join(found) or None


def open_request(*, number: str, key: int, requested: Case, documents: tuple[int, ...] | None,
                 actor: str, channel: str, now_iso: str, org: Organisation) -> Case:
    """The new request case, linked to the requested one (which the caller links back with
    `note_request`). Refused when a named document does not exist."""
    lang = org.language
    if requested.kind == REQUEST:
        raise DomainError(t(lang, "refused_request_of_request", number=requested.number))
    for no in documents or ():
        if not any(d.no == no for d in requested.documents):
            raise DomainError(t(lang, "refused_no_document", number=requested.number, no=no))
    which = (t(lang, "request_documents_all") if documents is None else
             t(lang, "request_documents_some", numbers=", ".join(str(n) for n in documents)))
    title = t(lang, "request_title", number=requested.number, documents=which)
    document = Document(no=1, type=DOC_REQUEST, received=now_iso,
                        sender=t(lang, "request_party"), subject=title)
    case = Case(number=number, key=key, kind=REQUEST, title=title, status="diarised",
                created=now_iso, status_since={"diarised": now_iso}, documents=[document],
                links=[requested.number], public_title=title)
    case.events.append(Event(now_iso, actor, channel, "diarised", {"kind": REQUEST,
                                                                   "document": 1}))
    case.events.append(Event(now_iso, actor, channel, REQUESTED, {
        "case": requested.number, "documents": list(documents) if documents else None}))
    return case


def note_request(requested: Case, request: Case, actor: str, channel: str, now_iso: str,
                 documents: tuple[int, ...] | None) -> None:
    """The requested case names the request (a link and an event), in place."""
    if request.number not in requested.links:
        requested.links.append(request.number)
    requested.events.append(Event(now_iso, actor, channel, REQUESTED, {
        "request": request.number, "documents": list(documents) if documents else None}))


def note_decision(requested: Case, request: Case, decision: dict[str, Any], actor: str,
                  channel: str, now_iso: str) -> None:
    """The requested case records what was decided on the request, in place."""
    requested.events.append(Event(now_iso, actor, channel, DECIDED, {
        "request": request.number, "decision": decision["decision"],
        "paragraph": decision.get("paragraph")}))


def decide(case: Case, decision: str, reason: str | None, paragraph: str | None, *,
           actor: str, channel: str, now_iso: str, org: Organisation) -> str:
    """Record the decision on a request case (in place) and close it; the confirmation."""
    lang = org.language
    if case.kind != REQUEST:
        raise DomainError(t(lang, "refused_not_request", number=case.number))
    if case.is_closed:
        raise DomainError(t(lang, "refused_request_decided", number=case.number))
    if decision not in DECISIONS:
        raise DomainError(t(lang, "refused_disclosure_decision"))
    reason = redact(" ".join((reason or "").split())) or None
    if decision == REFUSED and not reason:
        raise DomainError(t(lang, "refused_disclosure_reason", number=case.number))
    if decision == RELEASED:
        paragraph = None
    case.events.append(Event(now_iso, actor, channel, DECIDED, {
        "decision": decision, "paragraph": paragraph, "reason": reason}))
    words = t(lang, f"disclosure_{decision}")
    case.close_reason = f"{words}: {reason}" if reason else words
    previous = case.status
    case.status = "closed"
    case.status_since["closed"] = now_iso
    case.events.append(Event(now_iso, actor, channel, "status", {"from": previous,
                                                                 "to": "closed"}))
    message = t(lang, "done_disclosure", number=case.number, decision=words,
                paragraph=f" ({paragraph})" if paragraph and decision != RELEASED else "")
    if decision == REFUSED:
        message += " " + t(lang, "disclosure_appeal")
    return message


# --------------------------------------------------------------------------- status
def summary(org: Organisation, case: Case, when: Callable[[str], str],
            name: Callable[[str], str]) -> list[tuple[str, str]]:
    """(label, text) lines for status and the web case page: on a request case what it asks
    for and its decision (or that it waits, since when); on a requested case each request
    made for it and how it ended. `when` shows a stored moment, `name` a person."""
    lang = org.language
    request = request_of(case)
    if request is not None:
        decided = decision_of(case)
        if decided is None:
            hours = ", ".join(str(h) for h in org.records.request_reminders)
            state = t(lang, "disclosure_waiting", since=when(case.created), hours=hours)
        else:
            state = t(lang, f"disclosure_{decided['decision']}")
            if decided.get("paragraph") and decided["decision"] != RELEASED:
                state += f" ({decided['paragraph']})"
            if decided.get("reason"):
                state += f": {decided['reason']}"
            state += " – " + t(lang, "disclosure_by", who=name(decided["by"]),
                               at=when(decided["at"]))
        return [(t(lang, "label_disclosure_request"), case.title),
                (t(lang, "label_disclosure_decision"), state)]
    outcomes = {e.details.get("request"): e.details for e in case.events
                if e.what == DECIDED and e.details.get("request")}
    lines = []
    for event in case.events:
        number = event.details.get("request") if event.what == REQUESTED else None
        if not number:
            continue
        outcome = outcomes.get(number)
        state = (t(lang, f"disclosure_{outcome['decision']}") if outcome
                 else t(lang, "disclosure_open"))
        lines.append((t(lang, "label_disclosure_request"), f"{number} ({when(event.at)}): {state}"))
    return lines
