"""Mail intake rules (DESIGN §4), pure: a decoded mail + the organisation + what the diary
knows -> one Decision with its outcome and the reason for it.

The rules run in order: duplicate, automatic mail, registrator forward (unwrap and
classify the original), reference to a case, new case, triage.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from bot.domain.address import LookAlikes, canonical_domain, same_address, shown
from bot.domain.case import COMPLAINT, FSN, INCOMING, OUTGOING
from bot.domain.diary import DiaryNumber, find_diary_numbers, strip_diary_numbers
from bot.domain.org import Organisation, parse_lagrum
from bot.domain.process import document_type
from bot.domain.redact import redact
from bot.mail.authenticity import judge
from bot.mail.forward import find_inline_forward
from bot.mail.message import FAILED, UNVERIFIED, VERIFIED, InboundMail, SenderVerdict
from bot.texts import t

NEW_CASE, ADDED, DUPLICATE, IGNORED, TRIAGE, COMMAND = (
    "new_case", "added_to_case", "duplicate", "ignored", "triage", "command")
OUTCOMES = (NEW_CASE, ADDED, DUPLICATE, IGNORED, TRIAGE, COMMAND)


@dataclass(frozen=True)
class CaseRef:
    """What the rules need to know about an existing case."""
    number: str
    kind: str
    unit: str | None
    counterpart: str | None
    closed: bool = False
    title: str = ""


class CaseLookup(Protocol):
    def seen(self, duplicate_key: str) -> bool: ...
    # the body fingerprint (InboundMail.fingerprint) of the mail first recorded under this
    # key, or None when the key is unknown or it was not stored (older records)
    def seen_hash(self, duplicate_key: str) -> str | None: ...
    def by_number(self, number: DiaryNumber) -> CaseRef | None: ...
    def by_message_ids(self, ids: tuple[str, ...]) -> CaseRef | None: ...
    def by_conversation(self, conversation_id: str) -> CaseRef | None: ...


@dataclass(frozen=True)
class Overrides:
    """Lines in the registrator's own text that overrule detection."""
    unit: str | None = None          # the text as written
    case: DiaryNumber | None = None
    kind: str | None = None
    severity: str | None = None
    lagrum: str | None = None        # HSL | SoL | LSS (issue 26)


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str
    case: CaseRef | None = None      # the case it went to (added) or the suggestion (triage)
    kind: str | None = None
    unit: str | None = None
    unit_candidates: tuple[str, ...] = ()
    counterpart: str | None = None
    severity: str | None = None
    title: str = ""
    document: str | None = None      # deviation | response | supplement
    sender: str = ""                 # the original sender (after unwrapping a forward)
    sender_internal: bool = False
    forwarded_by: str | None = None
    thread_ids: tuple[str, ...] = field(default=())
    authenticity: str = UNVERIFIED   # the sender verdict: verified | failed | unverified
    # the key to record this mail under when it is not mail.duplicate_key: a reused
    # Message-ID with other content is kept under its content hash ("sha:<hex>")
    record_key: str | None = None
    # outcome COMMAND: the command line as it will run (the diary number or triage id the
    # notification named filled in) and the person who runs it
    command: str | None = None
    person: str | None = None
    linked: str | None = None        # outcome NEW_CASE: the closed case this one is linked to
    reference: str | None = None     # the counterpart's own case number, found by its pattern
    lagrum: str | None = None        # the registrator's `Lagrum:` line (a new case, or the case named)


# --------------------------------------------------------------------------- rule 2
# what mail clients put before (or instead of) the original subject of an automatic mail;
# "Frånvaro" only as such a prefix, so that "Frånvaro av kvällsbesök" stays a deviation
_AUTO_SUBJECT = re.compile(
    r"(?:autosvar|automatiskt svar|automatic reply|autoreply|frånvaro|undeliverable|olevererbart"
    r"|läst|read|returned mail)\s*:|frånvaromeddelande|frånvaro\s*$|out of office"
    r"|delivery status notification|mail delivery failed", re.IGNORECASE)
_AUTO_SENDERS = ("mailer-daemon", "postmaster")


def automatic_reason(mail: InboundMail, *, reports_expected: bool = False) -> str | None:
    """Why the mail is automatic, or None. reports_expected: the sender is a counterpart
    whose reporting system marks its reports as generated (automated_reports = true); its
    `Auto-Submitted: auto-generated`, `X-Auto-Response-Suppress` and `Precedence: bulk` do
    not make a report automatic, while auto-replies, bounces and lists still do."""
    h = mail.headers
    auto = h.get("auto-submitted", "").strip().lower()
    if auto and not auto.startswith("no") and not (
            reports_expected and auto.split(";", 1)[0].strip() == "auto-generated"):
        return f"Auto-Submitted: {auto}"
    for name in ("x-auto-response-suppress", "x-autoreply", "x-autorespond"):
        if name in h and not (reports_expected and name == "x-auto-response-suppress"):
            return name
    precedence = h.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply") and not (
            reports_expected and precedence == "bulk"):
        return f"Precedence: {precedence}"
    for name in ("list-unsubscribe", "list-id"):
        if name in h:
            return name
    if mail.content_type == "multipart/report" or mail.report_type:
        return f"multipart/report {mail.report_type or ''}".strip()
    local = mail.sender_address.split("@", 1)[0]
    if local in _AUTO_SENDERS:
        return f"avsändare {local}"
    if _AUTO_SUBJECT.match(mail.subject.strip()):
        return f"ämne «{mail.subject[:40]}»"
    return None


# --------------------------------------------------------------------------- rule 3
_FORWARD_PREFIX = re.compile(r"^\s*(?:(?:vb|fwd?|vs|wg)\s*:)", re.IGNORECASE)
_OVERRIDE_KEYS = {
    "enhet": "unit", "unit": "unit",
    "ärende": "case", "arende": "case", "case": "case", "dnr": "case", "diarienummer": "case",
    "diarienr": "case",
    "typ": "kind", "type": "kind",
    "allvarlighetsgrad": "severity", "severity": "severity",
    "lagrum": "lagrum", "lag": "lagrum",
}
# "Enhet: X", "**Enhet:** X", "*Enhet*: X" on a line of its own. Possessive quantifiers and a
# value to the end of the line (its blanks cut in parse_overrides): linear on long blank runs
_OVERRIDE = re.compile(
    rf"^[ \t]*+\**+(?P<key>{'|'.join(_OVERRIDE_KEYS)})\**+[ \t]*+:[ \t]*+\**+[ \t]*+"
    r"(?P<value>.+)$", re.IGNORECASE | re.MULTILINE)
_KIND_WORDS = {"utgående": OUTGOING, "utgaende": OUTGOING, "outgoing": OUTGOING,
               "inkommande": INCOMING, "incoming": INCOMING,
               "klagomål": COMPLAINT, "klagomal": COMPLAINT, "synpunkt": COMPLAINT,
               "synpunkter": COMPLAINT, "complaint": COMPLAINT,
               "fsn": FSN, "säkerhetsmeddelande": FSN, "sakerhetsmeddelande": FSN}
_SEVERITY_WORDS = {"röd": "red", "rod": "red", "red": "red", "gul": "yellow", "yellow": "yellow",
                   "grön": "green", "gron": "green", "green": "green"}
_TRAILING = " \t.,;:!"


def _first_word(value: str) -> str:
    """'utgående avvikelse' -> 'utgående', 'Röd (MA:s bedömning)' -> 'röd'."""
    words = value.split()
    return words[0].strip(_TRAILING + "()").lower() if words else ""


def parse_overrides(text: str, series: str) -> Overrides:
    """The registrator's override lines; the first line of each kind counts."""
    values: dict[str, Any] = {}
    for m in _OVERRIDE.finditer(text or ""):
        what, value = _OVERRIDE_KEYS[m["key"].lower()], m["value"].strip(_TRAILING + "*")
        if what == "unit" and value:
            values.setdefault("unit", value)
        elif what == "case":
            numbers = find_diary_numbers(value, series)
            if numbers:
                values.setdefault("case", numbers[0])
        elif what == "kind" and _first_word(value) in _KIND_WORDS:
            values.setdefault("kind", _KIND_WORDS[_first_word(value)])
        elif what == "severity" and _first_word(value) in _SEVERITY_WORDS:
            values.setdefault("severity", _SEVERITY_WORDS[_first_word(value)])
        elif what == "lagrum" and parse_lagrum(value):
            values.setdefault("lagrum", parse_lagrum(value))
    return Overrides(**values)


@dataclass(frozen=True)
class _Original:
    """The mail that is classified: the mail itself, or what a registrator forwarded."""
    sender: str
    subject: str
    text: str
    thread_ids: tuple[str, ...]
    written: str = ""         # the sender's address as written (look-alike detection)


def _unwrap(mail: InboundMail) -> tuple[_Original | None, str]:
    """The forwarded original and the registrator's own text, or (None, text) if none found."""
    if mail.attached_messages:
        inner = mail.attached_messages[0]
        return _Original(inner.sender_address, inner.subject, inner.text, inner.thread_ids,
                         inner.sender_written), mail.text
    inline = find_inline_forward(mail.text)
    if inline is not None:
        return _Original(inline.sender_address, inline.subject, inline.body, (),
                         inline.sender_written), inline.own_text
    return None, mail.text


def _is_forward(mail: InboundMail) -> bool:
    return bool(_FORWARD_PREFIX.match(mail.subject) or mail.attached_messages
                or find_inline_forward(mail.text) is not None)


# --------------------------------------------------------------------------- detection
# any inflection, and compounds: "avvikelsen", "avvikelser", "läkemedelsavvikelse", "avvikelserapport"
_DEVIATION = re.compile(r"avvikelse\w*|\bavvikande\b", re.IGNORECASE)
# the colour within a few words after the keyword; "bedöm" in every form and compound
# (bedömd, bedömts, bedömer, bedömning, riskbedömning, allvarlighetsbedömning)
# ("bedöm" may sit inside a word, so what follows it in the word is bounded: a text that is
# one long word of "bedöm…" would otherwise be read to its end once per occurrence)
_SEVERITY = re.compile(
    r"(?:\ballvarlighetsgrad\w*+|\bkategori\w*+|bedöm\w{0,40}+|\bseverity)\b\W+"
    r"(?:\w+\W+){0,3}?(?P<word>röd|rött|gul|gult|grön|grönt|red|yellow|green)\b", re.IGNORECASE)
_REPLY_PREFIX = re.compile(
    r"^\s*+(?:(?:sv|vb|re|fw|fwd|aw|wg|antw|svar|vs|tr)\s*+(?:\[\d+\])?+\s*+:\s*+)+", re.IGNORECASE)


def _name_pattern(name: str) -> str:
    """A name whose words may be split by any whitespace (wrapped lines, no-break spaces)."""
    return r"\s+".join(re.escape(word) for word in name.split())


def _words_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    """Whole words, case-insensitive, also in the genitive ("Solgårdens", "Hemtjänst Norrs")."""
    alternatives = "|".join(_name_pattern(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})s?(?!\w)", re.IGNORECASE)


class Detector:
    """Precompiled name patterns of one organisation (build once, use for every mail)."""

    def __init__(self, org: Organisation):
        self.org = org
        self.units = [(u.id, _words_pattern(u.names)) for u in org.units.values()]
        self.counterparts = [(c.id, _words_pattern(c.names)) for c in org.counterparts.values()]
        self._lookalikes: LookAlikes | None = None

    @property
    def lookalikes(self) -> LookAlikes:
        """Built on the first mail (it loads the confusables' library; a CLI command that
        reads no mail never pays for it)."""
        if self._lookalikes is None:
            self._lookalikes = self.org.lookalikes()
        return self._lookalikes

    def units_in(self, text: str) -> list[str]:
        return [uid for uid, pattern in self.units if pattern.search(text)]

    def counterparts_in(self, text: str) -> list[str]:
        return [cid for cid, pattern in self.counterparts if pattern.search(text)]


_SEVERITY_FORMS = {"röd": "red", "rött": "red", "red": "red", "gul": "yellow", "gult": "yellow",
                   "yellow": "yellow", "grön": "green", "grönt": "green", "green": "green"}


def detect_severity(text: str) -> str | None:
    m = _SEVERITY.search(text or "")
    return _SEVERITY_FORMS[m["word"].lower()] if m else None


_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


def make_title(subject: str, series: str, fallback: str) -> str:
    """The subject without reply prefixes, our diary numbers (and the brackets or prefixes
    they leave behind) and personal identity numbers."""
    title = _REPLY_PREFIX.sub("", subject or "")
    title = _EMPTY_BRACKETS.sub(" ", strip_diary_numbers(title, series))
    title = _REPLY_PREFIX.sub("", " ".join(title.split()).strip(" -–—:;,."))
    title = redact(title)
    return title or fallback


def mentions_deviation(text: str) -> bool:
    return bool(_DEVIATION.search(text or ""))


# issue 26: "synpunkter och klagomål" (any inflection: klagomålet, synpunkten, synpunkter)
_COMPLAINT = re.compile(r"\b(?:klagomål\w*|synpunkt\w*)", re.IGNORECASE)
# a medical-device safety notice: "Säkerhetsmeddelande", "Brådskande säkerhetsmeddelande",
# "Field Safety Notice", "FSN" as a word (not inside "FSN123" or a longer token)
_FSN = re.compile(r"säkerhetsmeddelande\w*|\bfield\s+safety\s+notice\w*|(?<![\w-])FSN\b",
                  re.IGNORECASE)


def mentions_complaint(text: str) -> bool:
    return bool(_COMPLAINT.search(text or ""))


def mentions_fsn(text: str) -> bool:
    return bool(_FSN.search(text or ""))


# --------------------------------------------------------------------------- classify
def classify(mail: InboundMail, org: Organisation, lookup: CaseLookup,
             detector: Detector | None = None) -> Decision:
    lang = org.language
    detector = detector or Detector(org)

    verdict = sender_verdict(mail, org)

    # 1. duplicate; a reused Message-ID with other content is kept, and a person looks
    reused = _reused_message_id(mail, lookup, org)
    if reused is not None:
        return reused
    if lookup.seen(mail.duplicate_key):
        return Decision(DUPLICATE, t(lang, "reason_duplicate", key=mail.duplicate_key[:80]))
    common: dict[str, Any] = dict(sender=mail.sender_address, authenticity=verdict.status,
                  title=make_title(mail.subject, org.series, ""))

    # 1b. a look-alike of one of our addresses, our domains or a counterpart's: not that
    # sender (it is another address), and most likely pretending to be; a person looks
    imitated = detector.lookalikes.of(mail.sender_written or mail.sender_address)
    if imitated:
        return Decision(TRIAGE, t(lang, "reason_lookalike", known=imitated,
                                  sender=shown(mail.sender_written or mail.sender_address)),
                        **common)

    # 2. the bot's own address (forged from outside: triage), automatic mail
    if same_address(mail.sender_address, org.mailbox):
        if verdict.status == FAILED:
            return Decision(TRIAGE, t(lang, "reason_own_address_forged", why=verdict.why), **common)
        return Decision(IGNORED, t(lang, "reason_own_address"), authenticity=verdict.status)
    counterpart = org.counterpart_by_address(mail.sender_address)
    why = automatic_reason(mail, reports_expected=bool(
        counterpart and counterpart.automated_reports and verdict.status != FAILED))
    if why:
        return Decision(IGNORED, t(lang, "reason_auto", why=why), authenticity=verdict.status)

    # 2b. a sender the trusted receiver says is forged is not that sender: no case, no
    # forward, no override line; the registrator decides
    if verdict.status == FAILED:
        return Decision(TRIAGE, t(lang, "reason_sender_failed", sender=mail.sender_address or "?",
                                  why=verdict.why), **common)

    # 2c. an answer to one of our notifications: a command, or a person looks; never the case
    sender_person = org.person_by_email(mail.sender_address)
    if answers_notification(mail, org):
        return _notification_answer(mail, org, verdict, sender_person, common, lookup)

    # 3. registrator forward: classify the original
    forwarded_by = None
    overrides = Overrides()
    original = _Original(mail.sender_address, mail.subject, mail.text, mail.thread_ids)
    registrator = bool(sender_person and "registrator" in sender_person.roles)
    if registrator and not _believed(verdict, org) and (
            _is_forward(mail) or parse_overrides(mail.text, org.series) != Overrides()):
        # the registrator's powers (forward unwrapped, override lines obeyed) need a sender
        # the trusted server verified: "none" or no result is not enough
        return Decision(TRIAGE, t(lang, "reason_registrator_unverified", sender=mail.sender_address,
                                  why=verdict.why or t(lang, "why_no_trusted_receiver")), **common)
    if sender_person and "registrator" in sender_person.roles and _is_forward(mail):
        unwrapped, own_text = _unwrap(mail)
        overrides = parse_overrides(own_text, org.series)
        forwarded_by = sender_person.id
        if unwrapped is None or not unwrapped.sender:
            if overrides.case is None and overrides.kind is None:
                return Decision(TRIAGE, t(lang, "reason_forward_unreadable"),
                                forwarded_by=forwarded_by, **common)
        else:
            original = _Original(unwrapped.sender, unwrapped.subject or mail.subject,
                                 unwrapped.text, unwrapped.thread_ids or mail.thread_ids,
                                 unwrapped.written)
    elif sender_person and "registrator" in sender_person.roles:
        overrides = parse_overrides(mail.text, org.series)

    if forwarded_by and original.sender != mail.sender_address:
        written = original.written or original.sender     # as written, else as read
        imitated = detector.lookalikes.of(written)
        if imitated:
            return Decision(TRIAGE, t(lang, "reason_lookalike", known=imitated,
                                      sender=shown(written)),
                            forwarded_by=forwarded_by, **common)
    decision = _classify_original(mail, original, overrides, forwarded_by, org, lookup, detector,
                                  unverified=None if _believed(verdict, org) else (
                                      verdict.why or t(lang, "why_no_trusted_receiver")))
    cp = org.counterpart_by_address(decision.sender)
    if decision.outcome in (NEW_CASE, ADDED) and cp is not None and decision.counterpart == cp.id:
        decision = replace(decision, reference=counterpart_reference(
            cp, f"{original.subject}\n{original.text}"))
    return replace(decision, authenticity=verdict.status)


# --------------------------------------------------------------------------- rule 2c
# the Message-ID every e-mail notification carries (bot.chat.email.notification_message_id)
_NOTIFICATION_ID = re.compile(r"^[0-9a-f]{32}\.avisering@(?P<domain>[^>\s]+)$", re.IGNORECASE)
# the token the notifications' mailto: links put in the subject (texts "mailto_subject")
COMMAND_TOKEN = "[kommando]"
# the event of the mail that answers a command that came by mail
COMMAND_REPLY = "command_reply"
_TRIAGE_TOKEN = re.compile(r"\[(T[0-9a-f]{8})\]", re.IGNORECASE)
# where a mail client starts quoting what is answered
_QUOTE_START = re.compile(
    r"^(?:>|-{2,}\s*(?:original|ursprungligt)|_{5,}|(?:från|from|skickat|sent|den|on)\b.*"
    r"(?:skrev|wrote|:)\s*$)", re.IGNORECASE)


def answers_notification(mail: InboundMail, org: Organisation) -> bool:
    """A reply to one of our e-mail notifications (its Message-ID in In-Reply-To or
    References), or a mail written from a notification's mailto: link (the token)."""
    domain = canonical_domain(org.mailbox.split("@", 1)[1])
    for mid in mail.thread_ids:
        m = _NOTIFICATION_ID.match(mid.strip().strip("<>"))
        if m and canonical_domain(m["domain"]) == domain:
            return True
    return COMMAND_TOKEN in mail.subject.lower()


def first_own_line(text: str) -> str:
    """The first line the sender wrote: not empty, not quoted, not a quote header."""
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if _QUOTE_START.match(line):
            return ""
        return line
    return ""


def command_in_answer(line: str, subject: str, org: Organisation):
    """The grammar's command in the first line of an answer, with the diary number (or the
    triage id) the notification's subject names filled in when the line leaves it out:
    "registrerad" answers "VOK 2026/0001 Ny inkommande avvikelse". None when the line does
    not start with a command word; a help Command with the error when it does but is wrong."""
    from bot.commands import is_command_word, parse
    words = line.replace(COMMAND_TOKEN, " ").split()
    if not words or not is_command_word(words[0]):
        return None
    words[0] = words[0].rstrip(".!,:").lower()  # "Registrerad." is the command too
    line = " ".join(words)
    command = parse(line, org)
    if command.error is None:
        return line, command
    fills = [m.group(0) for m in [_TRIAGE_TOKEN.search(subject)] if m]
    fills = [f.strip("[]") for f in fills]
    fills += [n.format(org.digits) for n in find_diary_numbers(subject, org.series)[:1]]
    if len(fills) == 2:        # "koppla" answering a triage mail: its id and the suggested case
        fills.append(" ".join(fills))
    # after the verb; after "åtgärd klar" (else "klar 2" would be a new action's text)
    at = 2 if len(words) > 1 and words[1].casefold() in ("klar", "done") else 1
    for fill in fills:
        candidate = " ".join([*words[:at], fill, *words[at:]])
        filled = parse(candidate, org)
        if filled.error is None:
            return candidate, filled
    return line, command


def _notification_answer(mail: InboundMail, org: Organisation, verdict: SenderVerdict,
                         person, common: dict[str, Any], lookup: CaseLookup) -> Decision:
    """Rule 2c: only a verified person of ours runs a command by mail (the same check as a
    chat sign-in: From: alone proves nothing); any other answer goes to the registrator,
    with the case the notification named suggested (one click to add it, if it is the
    unit's response)."""
    lang = org.language
    found = command_in_answer(first_own_line(mail.text), mail.subject, org)
    if found is None:
        numbers = find_diary_numbers(mail.subject, org.series)
        ref = lookup.by_number(numbers[0]) if numbers else None
        return Decision(TRIAGE, t(lang, "reason_notification_answer"), case=ref, **common)
    line, _ = found
    if person is None:
        return Decision(TRIAGE, t(lang, "reason_command_stranger", command=line[:60]), **common)
    if verdict.status != VERIFIED:
        return Decision(TRIAGE, t(lang, "reason_command_unverified", command=line[:60],
                                  why=verdict.why or t(lang, "why_no_trusted_receiver")), **common)
    return Decision(COMMAND, t(lang, "reason_command", command=line[:60], person=person.name),
                    command=line, person=person.id, **common)


def sender_verdict(mail: InboundMail, org: Organisation) -> SenderVerdict:
    """The verdict parse_mail put on the mail, else judged now with the organisation's
    trusted authserv-ids (none configured: unverified, and intake behaves as before)."""
    if mail.verdict is not None:
        return mail.verdict
    return judge(mail, org.trusted_authserv_ids)


def _reused_message_id(mail: InboundMail, lookup: CaseLookup, org: Organisation) -> Decision | None:
    """Same Message-ID as a mail already handled, other bytes: not a duplicate (DESIGN §4
    rule 1 keeps the first), so it is kept under its content hash and triaged. Seen again
    (the mailbox re-delivers it), it is a duplicate of that triaged copy."""
    if not mail.message_id or not lookup.seen(mail.duplicate_key):
        return None
    seen_hash = getattr(lookup, "seen_hash", None)    # stores without it: plain duplicate
    first = seen_hash(mail.duplicate_key) if seen_hash else None
    if not first or first in (mail.fingerprint, mail.content_hash):
        return None               # the same mail again (other Received: headers at most)
    own_key = f"sha:{mail.content_hash}"
    if lookup.seen(own_key):
        return Decision(DUPLICATE, t(org.language, "reason_duplicate", key=own_key[:80]),
                        record_key=own_key)
    return Decision(TRIAGE, t(org.language, "reason_reused_message_id"), sender=mail.sender_address,
                    title=make_title(mail.subject, org.series, ""), record_key=own_key)


def _believed(verdict: SenderVerdict, org: Organisation) -> bool:
    """May the sender's address grant a privileged effect (a unit's response filed into a
    case, the registrator's forward and override lines)? With a trusted receiving server
    configured only when it verified the sender (`none`, or no result, is not enough);
    without one, From: is believed as before (check-config says so)."""
    return verdict.status == VERIFIED or not org.trusted_authserv_ids


def _classify_original(mail: InboundMail, original: _Original, overrides: Overrides,
                       forwarded_by: str | None, org: Organisation, lookup: CaseLookup,
                       detector: Detector, unverified: str | None = None) -> Decision:
    lang = org.language
    sender = original.sender
    internal = org.is_internal(sender)
    counterpart = org.counterpart_by_address(sender)
    searchable = f"{original.subject}\n{original.text}"
    common: dict[str, Any] = dict(sender=sender, sender_internal=internal, forwarded_by=forwarded_by,
                  thread_ids=original.thread_ids)

    # 4. reference to a case
    unit_override, bad_unit = _unit_override(overrides, org)
    numbers = [overrides.case] if overrides.case else find_diary_numbers(searchable, org.series)
    if numbers:
        number = numbers[0]
        ref = lookup.by_number(number)
        if ref is None:
            return Decision(TRIAGE, t(lang, "reason_unknown_number", number=number.format(org.digits)),
                            title=make_title(original.subject, org.series, ""), **common)
        return _to_case(ref, t(lang, "reason_number", number=ref.number), overrides, org,
                        trusted=overrides.case is not None, counterpart=counterpart, unverified=unverified,
                        **common)
    ref = lookup.by_message_ids(original.thread_ids) if original.thread_ids else None
    if ref is None and mail.conversation_id:
        ref = lookup.by_conversation(mail.conversation_id)
        reason = t(lang, "reason_conversation", number=ref.number) if ref else ""
    else:
        reason = t(lang, "reason_thread", number=ref.number) if ref else ""
    if ref is not None:
        why = new_topic(original.subject, original.text, ref, org, detector)
        if why:
            return Decision(TRIAGE, t(lang, "reason_new_topic", number=ref.number, why=why),
                            case=ref, title=make_title(original.subject, org.series, ""), **common)
        return _to_case(ref, reason, overrides, org, trusted=False, counterpart=counterpart,
                        unverified=unverified, **common)
    # their own case number, as the counterpart's pattern finds it
    theirs = counterpart_reference(counterpart, searchable)
    by_reference = getattr(lookup, "by_reference", None)   # lookups without it: no match
    ref = by_reference(counterpart.id, theirs) if theirs and by_reference and counterpart else None
    if ref is not None:
        return _to_case(ref, t(lang, "reason_reference", number=ref.number, reference=theirs),
                        overrides, org, trusted=False, counterpart=counterpart, unverified=unverified,
                        **common)

    # 5. new case
    if bad_unit:
        return Decision(TRIAGE, t(lang, "reason_override_unit", unit=overrides.unit),
                        title=make_title(original.subject, org.series, ""), **common)
    deviation = mentions_deviation(searchable)
    # the kinds of issue 26 are decided by what the sender wrote, never by a text they quote
    # (a region answering "Sv: Klagomål …" with our letter below stays the region's deviation)
    own = f"{original.subject}\n{own_text(original.text)}"
    kind = None
    reason = ""
    if overrides.kind:
        kind, reason = overrides.kind, t(lang, _KIND_REASON[overrides.kind], sender=sender,
                                         counterpart=counterpart.name if counterpart else sender)
    elif counterpart is not None and counterpart.supplier and mentions_fsn(own):
        kind, reason = FSN, t(lang, "reason_new_fsn", counterpart=counterpart.name, sender=sender)
    elif sender and not internal and counterpart is None and mentions_complaint(own):
        # "synpunkter och klagomål" from the public: a private address, no counterpart's
        kind, reason = COMPLAINT, t(lang, "reason_new_complaint", sender=sender)
    elif counterpart is not None:
        kind, reason = INCOMING, t(lang, "reason_new_counterpart", counterpart=counterpart.name)
    elif deviation and sender and not internal:
        kind, reason = INCOMING, t(lang, "reason_new_incoming", sender=sender)
    elif deviation and internal:
        kind, reason = OUTGOING, t(lang, "reason_new_outgoing", sender=sender)
    if kind is None:
        # 6. everything else
        return Decision(TRIAGE, t(lang, "reason_not_deviation"),
                        title=make_title(original.subject, org.series, ""), **common)

    units = detector.units_in(searchable)
    unit = unit_override or (units[0] if len(units) == 1 else None)
    if kind in (INCOMING, FSN):
        cp_id = counterpart.id if counterpart else None
    elif kind == COMPLAINT:
        cp_id = None               # a member of the public is no counterpart
    else:
        mentioned = detector.counterparts_in(searchable)
        cp_id = mentioned[0] if len(mentioned) == 1 else None
    cp_name = org.counterparts[cp_id].name if cp_id else t(lang, "unknown_counterpart")
    fallback = {INCOMING: f"Avvikelse från {cp_name}", OUTGOING: f"Avvikelse till {cp_name}",
                COMPLAINT: t(lang, "title_complaint"),
                FSN: t(lang, "title_fsn", counterpart=cp_name)}[kind]
    return Decision(
        NEW_CASE, reason, kind=kind, unit=unit, unit_candidates=tuple(units), counterpart=cp_id,
        severity=overrides.severity or detect_severity(searchable),
        title=make_title(original.subject, org.series, fallback),
        document="deviation", lagrum=overrides.lagrum, **common)


_KIND_REASON = {INCOMING: "reason_new_incoming", OUTGOING: "reason_new_outgoing",
                COMPLAINT: "reason_new_complaint", FSN: "reason_new_fsn"}


def _to_closed_case(ref: CaseRef, org: Organisation, common: dict[str, Any]) -> Decision:
    """A counterpart writes to a case that is closed: a new case linked to it (default), or
    the registrator decides ([mail] closed_case = "triage"); never filed silently."""
    lang = org.language
    if org.closed_case == "triage":
        return Decision(TRIAGE, t(lang, "reason_closed_case_triage", number=ref.number), **common)
    return Decision(NEW_CASE, t(lang, "reason_closed_case_new", number=ref.number),
                    document="deviation", title=ref.title, linked=ref.number,
                    **{**common, "case": None})


# "en ny avvikelse", "inte samma som förra", "ett nytt ärende", "a new incident"
_NEW_MATTER = re.compile(
    r"\b(?:ny|nytt|en annan|ett annat)\s+(?:avvikelse\w*|ärende\w*|händelse\w*)|\binte\s+samma\b"
    r"|\bnew\s+(?:deviation|incident|case)\b|\bnot\s+the\s+same\b", re.IGNORECASE)
SIMILAR_TITLE = 0.6     # difflib ratio at which a subject is the case's own topic


def own_text(text: str) -> str:
    """What the sender wrote above the quoted mail."""
    lines = []
    for line in (text or "").splitlines():
        if _QUOTE_START.match(line.strip()):
            break
        lines.append(line)
    return "\n".join(lines)


def new_topic(subject: str, text: str, ref: CaseRef, org: Organisation,
              detector: Detector) -> str | None:
    """Why a mail that threads to a case (and names no diary number) is a new matter, or
    None: people open a new request by answering the last mail and editing the subject. It
    needs a subject unlike the case's title, and a unit other than the case's or words that
    say it is new ("ny avvikelse", "inte samma")."""
    import difflib
    if not ref.title:
        return None
    title = make_title(subject, org.series, "").casefold()
    if difflib.SequenceMatcher(None, title, ref.title.casefold()).ratio() >= SIMILAR_TITLE:
        return None
    own = f"{subject}\n{own_text(text)}"
    m = _NEW_MATTER.search(own)
    if m:
        return f"«{m.group(0)}»"
    others = [u for u in detector.units_in(own) if u != ref.unit]
    if others:
        return org.units[others[0]].name
    return None


def counterpart_reference(counterpart, text: str) -> str | None:
    """The counterpart's own case number in the text, by its configured pattern."""
    if counterpart is None or not counterpart.reference:
        return None
    m = re.search(counterpart.reference, text or "")
    if m is None:
        return None
    found = m.group(1) if m.groups() else m.group(0)
    return redact(found.strip())[:80] or None


def _unit_override(overrides: Overrides, org: Organisation) -> tuple[str | None, bool]:
    if not overrides.unit:
        return None, False
    unit = org.unit_by_name(overrides.unit)
    return (unit.id, False) if unit else (None, True)


def _to_case(ref: CaseRef, reason: str, overrides: Overrides, org: Organisation, *, trusted: bool,
             counterpart, sender: str, sender_internal: bool, forwarded_by: str | None,
             thread_ids: tuple[str, ...], unverified: str | None = None) -> Decision:
    """Rule 4's sender check: internal senders and the case's counterpart only, and (with a
    trusted receiving server) only when it verified them, unless a verified registrator
    forwarded the mail or named the case."""
    belongs = sender_internal or (counterpart is not None and counterpart.id == ref.counterpart)
    common: dict[str, Any] = dict(case=ref, sender=sender, sender_internal=sender_internal,
                  forwarded_by=forwarded_by, thread_ids=thread_ids, kind=ref.kind,
                  unit=ref.unit, counterpart=ref.counterpart)
    if not belongs and not trusted:
        return Decision(TRIAGE, t(org.language, "reason_foreign_sender", sender=sender or "?",
                                  number=ref.number), **common)
    if not trusted and not forwarded_by and unverified is not None:
        return Decision(TRIAGE, t(org.language, "reason_sender_unverified", sender=sender or "?",
                                  number=ref.number, why=unverified), **common)
    from_counterpart = counterpart is not None and counterpart.id == ref.counterpart
    if ref.closed and from_counterpart and org.closed_case != "supplement":
        return _to_closed_case(ref, org, common)
    doc = document_type(ref.kind, sender_internal, from_counterpart)
    return Decision(ADDED, reason, document=doc, severity=overrides.severity,
                    lagrum=overrides.lagrum, **common)

