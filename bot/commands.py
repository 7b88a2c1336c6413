"""The chat command grammar (DESIGN §7), shared by Slack, Teams and the CLI.

parse(text, org) -> Command, pure. A mistyped or incomplete command gives a Command
named "help" whose `error` says what was wrong and suggests the nearest word; callers
answer with that, never with a traceback.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date

from bot.domain.address import same_address
from bot.domain import process as proc
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.org import ALL_UNITS, LAGRUM, Organisation, parse_lagrum
from bot.domain.records import PUBLIC, parse_paragraph
from bot.domain.redact import redact
from bot.domain.weblink import case_path, local_target
from bot.texts import t

# canonical name -> words people type (Swedish first, English aliases)
VERBS: dict[str, tuple[str, ...]] = {
    "status": ("status", "läge"),
    "mine": ("mina", "mine", "my"),
    "open": ("öppna", "oppna", "open"),
    "overdue": ("försenade", "forsenade", "overdue", "late"),
    "register": ("registrerad", "registrera", "registered", "register"),
    "assess": ("bedöm", "bedom", "assess"),
    "send": ("skicka", "send"),
    "remind": ("påminn", "paminn", "remind"),
    "mark_sent": ("skickad", "sent"),
    "close": ("avsluta", "close"),
    "action": ("åtgärd", "atgard", "action"),
    "unit": ("enhet", "unit"),
    "counterpart": ("motpart", "counterpart"),
    "title": ("rubrik", "title"),
    "snooze": ("snooza", "snooze"),
    "subscribe": ("prenumerera", "subscribe"),
    "unsubscribe": ("avprenumerera", "unsubscribe"),
    "triage_new": ("diarisera", "diarise", "diarize"),
    "triage_attach": ("koppla", "attach"),
    "triage_dismiss": ("avfärda", "avfarda", "dismiss"),
    "web": ("webb", "web"),
    "note": ("anteckning", "anteckna", "note"),
    "link": ("länka", "lanka", "link"),
    "search": ("sök", "sok", "search"),
    "lex": ("lex",),
    "ivo": ("ivo",),
    "acknowledge": ("kvittera", "ack", "acknowledge"),
    "absence": ("frånvaro", "franvaro", "away", "absence"),
    "secrecy": ("sekretess", "secrecy"),
    "public_title": ("publik", "offentligrubrik", "public"),
    "hold": ("spärra", "sparra", "hold"),
    "notify": ("avisering", "aviseringar", "notifications", "notify"),
    "lagrum": ("lagrum", "law"),
    "disclose": ("utlämna", "utlamna", "disclose"),
    "help": ("hjälp", "hjalp", "help", "?"),
}
_WORD_TO_VERB = {word: verb for verb, words in VERBS.items() for word in words}
USAGE = {"status", "register", "assess", "send", "remind", "mark_sent", "close", "action", "unit",
         "counterpart", "title", "snooze", "subscribe", "unsubscribe", "open",
         "triage_new", "triage_attach", "triage_dismiss",
         "note", "link", "search", "lex", "ivo", "acknowledge", "absence",
         "secrecy", "public_title", "hold", "notify", "lagrum", "disclose"}  # usage_<verb> texts
_SEVERITY = {"röd": "red", "rod": "red", "red": "red", "gul": "yellow", "yellow": "yellow",
             "grön": "green", "gron": "green", "green": "green"}
_ALL = ("alla", "all", "*")
READ_ONLY = frozenset({"status", "mine", "open", "overdue", "help", "web", "search"})
SEARCH_MIN = 3                        # characters: fewer would match half the diary


@dataclass(frozen=True)
class Command:
    name: str
    number: DiaryNumber | None = None
    args: dict = field(default_factory=dict)
    error: str | None = None          # with name "help": what was wrong
    # for a command that changes a case: the process's own command (bot.domain.process),
    # built here, so the use case applies it as it is
    action: object | None = None

    @property
    def read_only(self) -> bool:
        return self.name in READ_ONLY


class _Refusal(Exception):
    pass


def parse(text: str, org: Organisation) -> Command:
    text = _strip_mention(" ".join((text or "").split()))
    if not text:
        return Command("help")
    word, _, rest = text.partition(" ")
    verb = _WORD_TO_VERB.get(word.casefold().strip(":,"))
    lang = org.language
    if verb is None:
        return Command("help", error=redact(_unknown_word(lang, word)))
    try:
        return _PARSERS[verb](verb, rest.strip(), org)
    except _Refusal as refusal:
        message = str(refusal)
        if verb in USAGE:
            message += " " + t(lang, "usage", usage=t(lang, f"usage_{verb}"))
        return Command("help", error=redact(message))   # errors quote what was typed


def is_command_word(word: str) -> bool:
    """Does this word start a command (for a mail's first line: a command, or prose)?"""
    return word.casefold().strip(":,.!") in _WORD_TO_VERB


def _strip_mention(text: str) -> str:
    """`@Avvikelsebot status …`, `<@U123> status …`, `/avvikelse status …` -> `status …`."""
    return re.sub(r"^(?:<@[^>]+>|@\S+|/avvikelse)\s*", "", text, flags=re.IGNORECASE)


def _shown(text: str, limit: int = 40) -> str:
    """What was typed, quoted back in an error: never a whole pasted mail."""
    return text if len(text) <= limit else text[:limit] + "…"


def _unknown_word(lang: str, word: str) -> str:
    message = t(lang, "unknown_command", word=_shown(word))
    close = difflib.get_close_matches(word.casefold(), list(_WORD_TO_VERB), n=1, cutoff=0.6)
    if close:
        message += " " + t(lang, "did_you_mean", suggestion=close[0])
    return message


_NUMBER_AT_START = re.compile(
    r"^(?P<num>(?:[A-Za-zÅÄÖåäö]{1,10}[\s_-]*)?\d{4}\s*[/-]\s*\d{1,8})[.,;:!?]*(?:\s+|$)")


def _take_number(rest: str, org: Organisation) -> tuple[DiaryNumber, str]:
    if not rest:
        raise _Refusal(t(org.language, "missing_number"))
    m = _NUMBER_AT_START.match(rest)
    number = parse_diary_number(m["num"], org.series) if m else None
    if number is None:
        raise _Refusal(t(org.language, "bad_number", text=_shown(rest.split(" ")[0])))
    assert m is not None
    return number, rest[m.end():].strip()


def _date(text: str, lang: str) -> date:
    if not text:
        raise _Refusal(t(lang, "missing_date"))
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _Refusal(t(lang, "bad_date", text=_shown(text))) from None


def _unit_id(text: str, org: Organisation, allow_all: bool = False) -> str:
    if allow_all and text.casefold() in _ALL:
        return ALL_UNITS
    unit = org.unit_by_name(text)
    if unit is None:
        units = ", ".join(u.name for u in org.units.values())
        if not text:
            raise _Refusal(t(org.language, "missing_unit", units=units))
        raise _Refusal(t(org.language, "bad_unit", text=_shown(text), units=units))
    return unit.id


def _no_args(verb: str, rest: str, org: Organisation) -> Command:
    return Command(verb)


def _web(verb: str, rest: str, org: Organisation) -> Command:
    """webb [nummer | /sida]: a sign-in link, landing on the case (or page) when given."""
    if not rest:
        return Command(verb)
    if rest.startswith("/"):
        target = local_target(rest.split(" ")[0])
        if target is None:
            raise _Refusal(t(org.language, "web_link_bad_target", text=_shown(rest.split(" ")[0])))
        return Command(verb, args={"next": target})
    number, _ = _take_number(rest, org)
    return Command(verb, number, args={"next": case_path(number.key)})


def _number_only(verb: str, rest: str, org: Organisation) -> Command:
    number, _ = _take_number(rest, org)
    action = {"register": proc.Register(), "mark_sent": proc.MarkSent(),
              "acknowledge": proc.Acknowledge()}.get(verb)
    return Command(verb, number, action=action)


def _open(verb: str, rest: str, org: Organisation) -> Command:
    return Command(verb, args={"unit": _unit_id(rest, org) if rest else None})


def _assess(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    severity = _SEVERITY.get(rest.casefold())
    if severity is None:
        raise _Refusal(t(org.language, "refused_severity"))
    return Command(verb, number, {"severity": severity}, action=proc.Assess(severity))


def _close(verb: str, rest: str, org: Organisation) -> Command:
    """`avsluta VOK 2026/1[, VOK 2026/2 …] [orsak]`: one case, or several with one reason."""
    number, reason = _take_number(rest, org)
    numbers = [number]
    while _NUMBER_AT_START.match(reason):
        more, reason = _take_number(reason, org)
        numbers.append(more)
    args: dict = {"reason": reason or None}
    if len(numbers) > 1:
        args["numbers"] = list(dict.fromkeys(numbers))
    return Command(verb, number, args, action=proc.Close(reason or None))


_DUE = re.compile(r"(?:^|\s+)(?:senast|due|by)\s+(\S+)\s*$", re.IGNORECASE)


def _action(verb: str, rest: str, org: Organisation) -> Command:
    first, _, after = rest.partition(" ")
    if first.casefold() in ("klar", "done"):
        number, rest = _take_number(after.strip(), org)
        if not re.fullmatch(r"[0-9]{1,6}", rest):
            raise _Refusal(t(org.language, "bad_action_no", text=_shown(rest)) if rest
                           else t(org.language, "missing_action_no"))
        return Command("action_done", number, {"no": int(rest)},
                       action=proc.CompleteAction(int(rest)))
    number, rest = _take_number(rest, org)
    due = None
    m = _DUE.search(rest)
    if m:
        due, rest = _date(m[1], org.language), rest[:m.start()].strip()
    if not rest:
        raise _Refusal(t(org.language, "refused_action_text"))
    return Command(verb, number, {"text": rest, "due": due}, action=proc.AddAction(rest, due))


def _unit(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    unit = _unit_id(rest, org)
    return Command(verb, number, {"unit": unit}, action=proc.SetUnit(unit))


def _counterpart(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    wanted = rest.casefold()
    for cp in org.counterparts.values():
        if wanted == cp.id or wanted in (n.casefold() for n in cp.names):
            return Command(verb, number, {"counterpart": cp.id}, action=proc.SetCounterpart(cp.id))
    raise _Refusal(t(org.language, "bad_counterpart", text=_shown(rest) or "–",
                     counterparts=", ".join(c.name for c in org.counterparts.values())))


def _title(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    if not rest:
        raise _Refusal(t(org.language, "refused_title"))
    return Command(verb, number, {"title": rest}, action=proc.SetTitle(rest))


def _secrecy(verb: str, rest: str, org: Organisation) -> Command:
    """`sekretess <dnr> <nr> <paragraf>|offentlig`: a document's secrecy marking."""
    number, rest = _take_number(rest, org)
    document, _, paragraph_text = rest.partition(" ")
    if not re.fullmatch(r"[0-9]{1,4}", document) or not paragraph_text.strip():
        raise _Refusal(t(org.language, "refused_secrecy_syntax"))
    paragraph = parse_paragraph(paragraph_text)
    if paragraph is None:
        raise _Refusal(t(org.language, "refused_secrecy_paragraph", text=_shown(paragraph_text)))
    marked = None if paragraph == PUBLIC else paragraph
    return Command(verb, number, {"document": int(document), "paragraph": marked},
                   action=proc.MarkSecrecy(int(document), marked))


def _public_title(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    if not rest:
        raise _Refusal(t(org.language, "refused_title"))
    return Command(verb, number, {"title": rest}, action=proc.SetPublicTitle(rest))


def _hold(verb: str, rest: str, org: Organisation) -> Command:
    """`spärra <dnr> <orsak>` keeps a case from culling; `spärra <dnr> av` lifts it."""
    number, rest = _take_number(rest, org)
    if not rest:
        raise _Refusal(t(org.language, "refused_hold_reason"))
    lift = rest.casefold() in ("av", "off", "häv", "hav")
    return Command(verb, number, {"reason": None if lift else rest},
                   action=proc.Hold(None if lift else rest))


def _lagrum(verb: str, rest: str, org: Organisation) -> Command:
    """`lagrum <dnr> HSL|SoL|LSS`: the law the case is handled under (issue 26)."""
    number, rest = _take_number(rest, org)
    law = parse_lagrum(rest) if len(rest.split()) == 1 else None
    if law is None:
        raise _Refusal(t(org.language, "refused_lagrum", laws=", ".join(LAGRUM)))
    return Command(verb, number, {"lagrum": law}, action=proc.SetLagrum(law))


# `utlämna <dnr> beslut …`: the decision words, Swedish and English (longest first)
_DISCLOSURE_DECISIONS = (
    (("lämnas ut med maskering", "lamnas ut med maskering", "maskerad", "maskerat",
      "med maskering", "released masked", "masked", "release masked"), "masked"),
    (("lämnas ut", "lamnas ut", "utlämnas", "utlamnas", "released", "release"), "released"),
    (("avslag", "avslås", "avslas", "refused", "refuse"), "refused"),
)
_DECISION_WORD = ("beslut", "decision")
_PARAGRAPH_FIRST = re.compile(r"^(?:osl\s*)?(\d{1,2}\s*:\s*\d{1,2}(?:\s*[a-z](?![\w]))?)(?:\s+|$)",
                              re.IGNORECASE)


def _disclose(verb: str, rest: str, org: Organisation) -> Command:
    """`utlämna <dnr> [<nr>]`: a request for the case's documents (or one of them) becomes a
    request case; `utlämna <dnr> beslut lämnas ut | lämnas ut med maskering [paragraf] |
    avslag [paragraf] <skäl>` records the decision on a request case."""
    lang = org.language
    number, rest = _take_number(rest, org)
    first, _, after = rest.partition(" ")
    if first.casefold() in _DECISION_WORD:
        text = " ".join(after.split())
        folded = text.casefold()
        for words, decision in _DISCLOSURE_DECISIONS:
            word = next((w for w in words if folded == w or folded.startswith(w + " ")), None)
            if word is not None:
                break
        else:
            raise _Refusal(t(lang, "refused_disclosure_decision"))
        remainder = text[len(word):].strip()
        paragraph = None
        found = _PARAGRAPH_FIRST.match(remainder)
        if found and decision != "released":
            paragraph = parse_paragraph(found[1])
            remainder = remainder[found.end():].strip()
        if decision == "refused" and not remainder:
            raise _Refusal(t(lang, "refused_disclosure_reason", number=number.format(org.digits)))
        return Command("disclose_decision", number, {"decision": decision, "paragraph": paragraph,
                                                     "reason": remainder or None})
    if rest and not re.fullmatch(r"[0-9]{1,4}", rest):
        raise _Refusal(t(lang, "refused_disclosure_syntax"))
    return Command(verb, number, {"document": int(rest) if rest else None})


def _snooze(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    when, _, reason = rest.partition(" ")
    until = _date(when, org.language)
    if not reason.strip():
        raise _Refusal(t(org.language, "refused_snooze_reason"))
    return Command(verb, number, {"until": until, "reason": reason.strip()},
                   action=proc.SnoozeStep(until, reason.strip()))


def _subscription(verb: str, rest: str, org: Organisation) -> Command:
    return Command(verb, args={"unit": _unit_id(rest, org, allow_all=True)})


def _note(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    if not rest:
        raise _Refusal(t(org.language, "refused_note_text"))
    return Command(verb, number, {"text": rest}, action=proc.AddNote(rest))


def _link(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    other, _ = _take_number(rest, org)
    return Command(verb, number, {"other": other}, action=proc.Link(other.format(org.digits)))


def _search(verb: str, rest: str, org: Organisation) -> Command:
    if len(rest) < SEARCH_MIN:
        raise _Refusal(t(org.language, "refused_search_short", min=SEARCH_MIN))
    return Command(verb, args={"text": rest})


_LEX = {"maria": "maria", "sarah": "sarah", "ingen": "ingen", "none": "ingen"}
_IVO_AT_END = re.compile(r"\s+ivo[:]?\s+(\S+)\s*$", re.IGNORECASE)


def _lex(verb: str, rest: str, org: Organisation) -> Command:
    """lex <dnr> maria|sarah|ingen <motivering> [ivo <referens>]"""
    number, rest = _take_number(rest, org)
    word, _, reason = rest.partition(" ")
    decision = _LEX.get(word.casefold())
    if decision is None:
        raise _Refusal(t(org.language, "refused_lex_decision"))
    ivo = None
    m = _IVO_AT_END.search(" " + reason)
    if m:
        ivo, reason = m[1], (" " + reason)[:m.start()].strip()
    if not reason.strip():
        raise _Refusal(t(org.language, "refused_lex_reason", number=number.format(org.digits)))
    return Command(verb, number, {"decision": decision, "reason": reason.strip(), "ivo": ivo},
                   action=proc.RecordLex(decision, reason.strip(), ivo))


def _ivo(verb: str, rest: str, org: Organisation) -> Command:
    number, rest = _take_number(rest, org)
    if not rest:
        raise _Refusal(t(org.language, "refused_ivo_reference", number=number.format(org.digits)))
    return Command(verb, number, {"reference": rest}, action=proc.RecordIvo(rest))


_ABSENCE_OFF = ("av", "slut", "avsluta", "off", "end", "cancel")


def _absence(verb: str, rest: str, org: Organisation) -> Command:
    """frånvaro <från> <till> [ersättare]: dates ÅÅÅÅ-MM-DD, the stand-in by id or name;
    frånvaro av (slut): back again, notifications to the person (issue 26)."""
    if rest.strip().casefold() in _ABSENCE_OFF:
        return Command(verb, args={"cancel": True})
    start_text, _, rest = rest.partition(" ")
    end_text, _, who = rest.strip().partition(" ")
    start, end = _date(start_text, org.language), _date(end_text, org.language)
    if end < start:
        raise _Refusal(t(org.language, "refused_absence_order"))
    stand_in = None
    if who.strip():
        wanted = who.strip().casefold()
        person = next((p for p in org.people.values()
                       if wanted in (p.id.casefold(), p.name.casefold())
                       or same_address(who.strip(), p.email)), None)
        if person is None:
            raise _Refusal(t(org.language, "refused_absence_stand_in", text=_shown(who.strip())))
        stand_in = person.id
    return Command(verb, args={"start": start, "end": end, "stand_in": stand_in})


# the channels a preference may name (`avisering slack samlat 15:00`)
NOTIFY_CHANNELS = {"slack": "slack", "teams": "teams", "e-post": "email", "epost": "email",
                   "mejl": "email", "email": "email", "e-mail": "email", "mail": "email"}


def _notify(verb: str, rest: str, org: Organisation) -> Command:
    """avisering [kanal] omedelbart | samlat TT:MM | tyst | dygnet runt; `avisering` alone shows the
    setting and its history."""
    from bot.domain.notify import BATCHED, parse_preference
    if not rest:
        return Command(verb, args={"channel": None, "preference": None})
    first, _, after = rest.partition(" ")
    channel = NOTIFY_CHANNELS.get(first.casefold())
    if channel is not None:
        rest = after.strip()
    preference = parse_preference(rest)
    if preference is None:
        raise _Refusal(t(org.language, "refused_notify_syntax", text=_shown(rest) or "–"))
    hours = org.office_hours
    if preference.mode == BATCHED and preference.at is not None and not (
            hours.start <= preference.at < hours.end):
        raise _Refusal(t(org.language, "refused_notify_time", time=f"{preference.at:%H:%M}",
                         start=f"{hours.start:%H:%M}", end=f"{hours.end:%H:%M}"))
    return Command(verb, args={"channel": channel, "preference": preference})


_TRIAGE_ID = re.compile(r"^T[0-9a-f]{8}$", re.IGNORECASE)


def _take_triage_id(rest: str, org: Organisation) -> tuple[str, str]:
    """A mail in triage is named by its short id (shown in the triage prompt): T1a2b3c4d."""
    first, _, after = rest.partition(" ")
    if not first:
        raise _Refusal(t(org.language, "missing_triage_id"))
    if not _TRIAGE_ID.match(first):
        raise _Refusal(t(org.language, "bad_triage_id", text=_shown(first)))
    return "T" + first[1:].lower(), after.strip()


def _triage_new(verb: str, rest: str, org: Organisation) -> Command:
    triage_id, rest = _take_triage_id(rest, org)
    return Command(verb, args={"triage": triage_id, "unit": _unit_id(rest, org) if rest else None})


def _triage_attach(verb: str, rest: str, org: Organisation) -> Command:
    triage_id, rest = _take_triage_id(rest, org)
    number, _ = _take_number(rest, org)
    return Command(verb, number, {"triage": triage_id})


def _triage_dismiss(verb: str, rest: str, org: Organisation) -> Command:
    triage_id, reason = _take_triage_id(rest, org)
    return Command(verb, args={"triage": triage_id, "reason": reason or None})


_PARSERS = {
    "status": _number_only, "mine": _no_args, "open": _open, "overdue": _no_args,
    "register": _number_only, "assess": _assess, "send": _number_only, "remind": _number_only,
    "mark_sent": _number_only, "close": _close, "action": _action, "unit": _unit,
    "counterpart": _counterpart, "title": _title, "snooze": _snooze,
    "subscribe": _subscription, "unsubscribe": _subscription, "help": _no_args,
    "triage_new": _triage_new, "triage_attach": _triage_attach, "triage_dismiss": _triage_dismiss,
    "web": _web,
    "note": _note, "link": _link, "search": _search, "lex": _lex, "ivo": _ivo, "acknowledge": _number_only, "absence": _absence,
    "secrecy": _secrecy, "public_title": _public_title, "hold": _hold, "lagrum": _lagrum,
    "notify": _notify,
    "disclose": _disclose,
}
