"""Inline forwards: find the quoted header block a mail client writes into the body.

Outlook (and Gmail, Apple Mail, Thunderbird, ...) forward "inline" by writing a
block like

    -----Ursprungligt meddelande-----
    Från: Lisa Larsson <lisa.larsson@regionexempel.se>
    Skickat: den 3 november 2026 09:14
    Till: Registrator VOK <registrator.vok@exempelby.se>
    Ämne: Avvikelse – läkemedel Hemtjänst Norr

into the text. find_inline_forward() recognises the first such block (Swedish
and English labels, plus the Scandinavian/German look-alikes that show up in
the same offices) and splits the text into what the forwarder wrote, the
original's header facts and the original's body. Pure string work; never raises
on str input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.domain.address import canonical


@dataclass(frozen=True)
class InlineForward:
    own_text: str          # what the forwarder wrote above the block
    sender_name: str
    sender_address: str    # canonical bare address (bot.domain.address), "" if none found
    sent: str              # the date text as written
    subject: str
    body: str              # the text below the header block
    # the address as written (look-alike detection); not part of equality: it says the same
    sender_written: str = field(default="", compare=False)


# label (case-insensitive) -> field
_LABELS: dict[str, str] = {}
for _field, _names in {
    # Swedish and English first; the rest are the neighbours' clients that turn up in the same inboxes
    "from": ("från", "from", "fra", "von", "avsändare", "de", "van"),
    "sent": ("skickat", "sent", "datum", "date", "sendt", "dato", "gesendet", "skickades",
             "envoyé", "enviado", "fecha", "verzonden"),
    "to": ("till", "to", "til", "an", "mottagare", "à", "para", "aan"),
    "cc": ("kopia", "cc", "kopi", "bcc", "hemlig kopia", "blindkopia"),
    "subject": ("ämne", "subject", "emne", "betreff", "rubrik", "objet", "asunto", "assunto", "onderwerp"),
    "other": ("reply-to", "svara till", "svar till", "importance", "prioritet", "priority",
              "attachments", "bifogade filer", "bilagor", "vedlegg", "anhänge"),
}.items():
    for _n in _names:
        _LABELS[_n] = _field

_LABEL_ALT = "|".join(sorted((re.escape(n) for n in _LABELS), key=len, reverse=True))

# "Från: x", "*Från:* x", "**From:** x", "From:\tx", "*From*: x". The quantifiers never give
# back (possessive: neighbours match different characters, so the result is the same) and the
# value runs to the end of the line, its trailing blanks cut in _header: a line of blanks
# costs one pass, not one try per way of sharing the blanks between the quantifiers.
_HEADER_RE = re.compile(
    rf"^[ \t]*+\*{{0,2}}+[ \t]*+(?P<label>{_LABEL_ALT})[ \t]*+\*{{0,2}}+[ \t]*+:[ \t]*+\*{{0,2}}+[ \t]*+(?P<value>.*)$",
    re.IGNORECASE,
)
_QUOTE_RE = re.compile(r"^((?:[ \t]*+>)++[ \t]?)")

_SEP_PHRASES = (
    "ursprungligt meddelande", "originalmeddelande", "vidarebefordrat meddelande", "vidarebefordrat mejl",
    "vidarebefordrat e-postmeddelande", "original message", "forwarded message", "forwarded e-mail",
    "begin forwarded message", "början på vidarebefordrat meddelande", "oprindelig meddelelse",
    "videresendt meddelelse", "opprinnelig melding", "videresendt melding", "ursprüngliche nachricht",
    "weitergeleitete nachricht",
)
_SEP_ALT = "|".join(re.escape(p) for p in _SEP_PHRASES)
_SEPARATOR_RES = (
    re.compile(r"^[ \t]*[_\-=]{8,}[ \t]*$"),                                   # ______ / ------ lines
    # "-----Ursprungligt meddelande-----", "-------- Oprindelig besked --------", "-----Mensaje original-----"
    re.compile(r"^[ \t]*[-=_]{2,}[ \t]*[^-=_\s][^-=_]{0,48}[ \t]*[-=_]{2,}[ \t]*$"),
    re.compile(rf"^[ \t]*\*?(?:{_SEP_ALT})\*?[ \t]*:?[ \t]*$", re.I),
)
# Yahoo puts the separator and the whole header block on one line.
_INLINE_BLOCK_RE = re.compile(rf"^(?P<sep>[ \t]*[-=_]{{2,}}[ \t]*(?:{_SEP_ALT})[ \t]*[-=_]{{2,}})[ \t]*(?P<rest>\S.*)$", re.I)
_INLINE_SPLIT_RE = re.compile(
    r"(?=(?:Från|Till|Kopia|Skickat|Datum|Ämne|From|To|Cc|Sent|Date|Subject):[ \t])"
)

_OTHER_HEADER_RE = re.compile(r"^[ \t]*[A-Za-z][A-Za-z0-9-]*:[ \t]")
# any characters but delimiters: a look-alike (Cyrillic а, a combining mark) must be read
# whole, never cut down to the ASCII address it imitates; tried only where a run of such
# characters starts (where the leftmost match starts anyway), so a long run without "@" is
# read once, not once per character of it
_EMAIL_RE = re.compile(r"(?<![^\s<>\[\]()\"',;:@*])"
                       r"[^\s<>\[\]()\"',;:@*]++@[^\s<>\[\]()\"',;:@.*]+(?:\.[^\s<>\[\]()\"',;:@.*]+)+")

MAX_CONTINUATION = 3  # wrapped header values (long To: lines, split From: lines)


@dataclass
class _Line:
    raw: str
    prefix: str   # quote prefix ("> ") or ""
    content: str  # the line without the quote prefix


def _split_quote(line: str) -> _Line:
    m = _QUOTE_RE.match(line)
    prefix = m.group(1) if m else ""
    return _Line(line, prefix, line[len(prefix):].replace("\u00a0", " "))


def _header(line: _Line) -> tuple[str, str] | None:
    m = _HEADER_RE.match(line.content)
    if not m:
        return None
    return _LABELS[m.group("label").lower()], m.group("value").rstrip(" \t")


def _is_separator(line: _Line) -> bool:
    return any(r.match(line.content) for r in _SEPARATOR_RES)


def _is_blank(line: _Line) -> bool:
    return not line.content.strip()


def _explode_inline_blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        m = _INLINE_BLOCK_RE.match(line)
        if m:
            parts = [p.strip() for p in _INLINE_SPLIT_RE.split(m.group("rest")) if p.strip()]
            if len(parts) >= 2:
                out.append(m.group("sep"))
                out.extend(parts)
                continue
        out.append(line)
    return out


def find_inline_forward(text: str) -> InlineForward | None:
    """The first inline-forwarded header block in `text`, or None."""
    if not text or not isinstance(text, str):
        return None
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    raw_lines = _explode_inline_blocks(text.split("\n"))
    lines = [_split_quote(ln) for ln in raw_lines]
    n = len(lines)
    i = 0
    while i < n:
        if _header(lines[i]) is None:
            i += 1
            continue
        found = _read_block(lines, i)
        if found is None:
            i += 1
            continue
        fields, end = found
        if _plausible(lines, i, fields):
            return _build(lines, i, end, fields)
        i = end
    return None


def _plausible(lines: list[_Line], start: int, fields: dict[str, str]) -> bool:
    """Guard against form-like text ("Från: Hemtjänst Norr / Ämne: Läkemedel") that is no forward:
    a real block has an address in From:, or a separator line above it, or the full Outlook set."""
    if _EMAIL_RE.search(fields.get("from", "")):
        return True
    if "sent" in fields and "to" in fields:
        return True
    return _separator_above(lines, start) < start


def _separator_above(lines: list[_Line], start: int) -> int:
    """Index of the topmost separator line directly above `start` (blank lines allowed), else start."""
    cut = start
    k = start - 1
    while k >= 0 and (_is_blank(lines[k]) or _is_separator(lines[k])):
        if _is_separator(lines[k]):
            cut = k
        k -= 1
    return cut


def _read_block(lines: list[_Line], start: int) -> tuple[dict[str, str], int] | None:
    """Consecutive header lines from `start`; (fields, index after block) if From+Subject present."""
    prefix = lines[start].prefix.strip()
    fields: dict[str, str] = {}
    last: str | None = None
    j = start
    n = len(lines)
    while j < n:
        line = lines[j]
        if line.prefix.strip() != prefix:
            break
        h = _header(line)
        if h is not None:
            key, value = h
            if key in fields and key != "other":
                break  # a second From:/Subject: starts another block
            fields[key] = value.strip()
            last = key
            j += 1
            continue
        if _is_blank(line) or last is None:
            break
        # a wrapped value: accepted only when another header line follows shortly, and never a line
        # that looks like some other "Label: value" header (Message-Id:, X-Mailer: ...)
        k = j
        while k < n and k - j < MAX_CONTINUATION and not _is_blank(lines[k]) and _header(lines[k]) is None \
                and not _OTHER_HEADER_RE.match(lines[k].content) and lines[k].prefix.strip() == prefix:
            k += 1
        if k < n and k > j and _header(lines[k]) is not None and lines[k].prefix.strip() == prefix:
            extra = " ".join(lines[x].content.strip() for x in range(j, k))
            fields[last] = f"{fields[last]} {extra}".strip()
            j = k
            continue
        break
    if "from" in fields and "subject" in fields:
        return fields, j
    return None


def _build(lines: list[_Line], start: int, end: int, fields: dict[str, str]) -> InlineForward:
    # own text ends before the separator line(s) directly above the block
    cut = _separator_above(lines, start)
    own_text = "\n".join(ln.raw for ln in lines[:cut]).strip()

    prefix = lines[start].prefix
    body_lines = []
    for ln in lines[end:]:
        if prefix and ln.raw.startswith(prefix):
            body_lines.append(ln.raw[len(prefix):])
        elif prefix and ln.raw.rstrip() == prefix.rstrip():
            body_lines.append("")
        else:
            body_lines.append(ln.raw)
    body = "\n".join(body_lines).replace("\ufeff", "").strip()

    name, address = _split_address(fields.get("from", ""))
    found = _EMAIL_RE.search(fields.get("from", ""))
    return InlineForward(
        own_text=own_text,
        sender_name=name,
        sender_address=address,
        sender_written=found.group(0).strip(".") if found else "",
        sent=" ".join(fields.get("sent", "").split()),
        subject=" ".join(fields.get("subject", "").split()),
        body=body,
    )


def _split_address(value: str) -> tuple[str, str]:
    """'Lisa Larsson <lisa@x.se>', '"L" <l@x>', 'Lisa [mailto:l@x]', 'l@x', 'Lisa' -> (name, addr)."""
    value = value.strip().strip("*").strip()
    m = _EMAIL_RE.search(value)
    address = canonical(m.group(0).strip(".")) if m else ""
    name = re.split(r"[<\[(]", value, maxsplit=1)[0]
    name = re.sub(r"mailto:\S*", "", name)
    name = name.strip().strip("\"'").strip()
    if "@" in name:
        name = ""
    name = " ".join(name.split())
    return name, address
