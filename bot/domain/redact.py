"""Redact Swedish personnummer and samordningsnummer from free text.

Every title and notification the bot produces passes through ``redact`` before
it leaves the process, so that a personal identity number typed into an
e-mail never reaches a chat channel.

Recognised forms (digit boundaries required on both sides, so a number that is
part of a longer digit run, e.g. a 14-digit reference, is left alone)::

    YYYYMMDDNNNC   YYYYMMDD-NNNC   YYYYMMDD+NNNC   YYYYMMDD NNNC
    YYMMDDNNNC     YYMMDD-NNNC     YYMMDD+NNNC     YYMMDD NNNC

The text is normalised before matching, because a number reaches us through mail
clients, word processors and HTML-to-text converters that change it without changing
what it says: Unicode NFKC (fullwidth digits, no-break spaces), every dash and minus
sign read as a hyphen, soft hyphens and zero-width characters dropped, and spaces
allowed around the separator (``19121212 - 1212``).  The replacement removes the
*original* characters, whatever the normalisation did to them.

A candidate is redacted only if it is a plausible identity number:

* Luhn check digit over the 10-digit form ``YYMMDDNNN`` + ``C``;
* serial ``NNN`` is not ``000``;
* personnummer: month 01-12 and a real day of that month (with the 12-digit
  form the century is known and the full calendar date is checked; with the
  10-digit form 29 February is always accepted);
* samordningsnummer (day + 60): day 60-91 and month 00-12;
* 12-digit form: century 18, 19 or 20.

This rejects organisation numbers (their "month" digits are >= 20), ordinary
dates, phone numbers with the usual spacing and diary numbers.  A bare
10-digit string that happens to look like a valid number (a mobile number
written without spaces, say) will be redacted: some over-redaction is the
price of not leaking.

Why not the ``personnummer`` package?  It validates the date of a
samordningsnummer as a calendar date (day - 60), so it rejects the month-00 /
day-60 samordningsnummer that Skatteverket actually issues when the birth date
is unknown -- they are in Skatteverket's own test data (e.g. ``191500722390``).
Redaction must err on the side of removing such numbers, so validation is done
here by hand, with the stdlib only.
"""
from __future__ import annotations

import bisect
import functools
import re
import unicodedata

__all__ = ["PLACEHOLDER", "redact", "contains_personnummer", "is_personnummer",
           "strip_control", "clean_for_terminal"]

PLACEHOLDER = "[personnummer]"

# Days per month; February allows 29 when the year (or century) is unknown.
_MAX_DAY = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Read as a hyphen: hyphens, dashes and minus signs (NFKC leaves most of them alone).
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")
# Dropped: soft hyphen, zero-width space/non-joiner/joiner, word joiner, BOM, and the
# invisible separators/times a converter may leave inside a number.
_INVISIBLE = frozenset("\u00ad\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u180e")

# A run of 6 or 8 digits (YYMMDD / YYYYMMDD), an optional separator (a hyphen or plus,
# with up to three spaces either side, or up to three spaces alone), then 4 digits, with
# no digit directly before or after.  The pattern starts with a character class (the
# "no digit before" test is a lookbehind *after* the first digit) so that the regex
# engine skips quickly over text without digits.
_CANDIDATE = re.compile(
    r"(?P<head>[0-9](?<![0-9]{2})[0-9]{5}(?:[0-9]{2})?)"
    r"(?:[ \t]{0,3}[-+][ \t]{0,3}|[ \t]{1,3})?"
    r"(?P<tail>[0-9]{4})"
    r"(?![0-9])"
)

# Luhn: doubled value (digit sum) for digits at even positions of YYMMDDNNN.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i in range(9):
        d = ord(ten[i]) - 48
        total += _DOUBLED[d] if i % 2 == 0 else d
    return (10 - total % 10) % 10 == ord(ten[9]) - 48


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _valid(head: str, tail: str) -> bool:
    """head is YYMMDD or YYYYMMDD, tail is NNNC."""
    if len(head) == 8:
        century: str | None = head[:2]
        if century not in ("18", "19", "20"):
            return False
        date = head[2:]
    else:
        century = None
        date = head
    month = int(date[2:4])
    day = int(date[4:6])
    if month > 12 or tail[:3] == "000":
        return False
    if day >= 60:  # samordningsnummer
        if day > 91:
            return False
    else:  # personnummer
        if month == 0 or day == 0 or day > _MAX_DAY[month]:
            return False
        if century is not None and month == 2 and day == 29:
            if not _is_leap(int(century + date[:2])):
                return False
    return _luhn_ok(date + tail)


# An escape as repr() and JSON write it (argparse quotes a bad value with %r; a log line may
# carry repr of a header): read as the character it stands for, so "19121212\\u2010-1212"
# cannot slip through as text the matcher does not see as a dash.
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})")


# What the matcher must look at one character at a time: a non-ASCII character, or an escape.
# Everything between two of these is plain ASCII and is read as it is (the fast path: a
# Swedish text is mostly ASCII, and is scanned in C, not character by character).
_SPECIAL = re.compile(_ESCAPE.pattern + r"|[^\x00-\x7f]")


@functools.lru_cache(maxsize=4096)
def _read_as(char: str) -> str:
    """What one character is to the matcher: itself, a hyphen, a space, its NFKC form, or
    nothing (an invisible character)."""
    if char.isascii():
        return char
    if char in _INVISIBLE:
        return ""
    if char in _DASHES:
        return "-"
    replaced = unicodedata.normalize("NFKC", char)
    if replaced in _DASHES:
        return "-"
    return " " if replaced.isspace() else replaced


class _Origin:
    """Where each character of the normalised text came from in the original: pieces that
    are copied (a position maps to the same offset in the original) and pieces that replace
    an original span (every position maps to that whole span)."""

    def __init__(self) -> None:
        self.starts: list[int] = []          # normalised start of each piece
        self.pieces: list[tuple[int, int, bool]] = []   # original start, end, copied?

    def add(self, normal_start: int, start: int, end: int, copied: bool) -> None:
        self.starts.append(normal_start)
        self.pieces.append((start, end, copied))

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The original span from normalised character `first` to `last` (inclusive)."""
        return self._at(first)[0], self._at(last)[1]

    def _at(self, index: int) -> tuple[int, int]:
        piece = bisect.bisect_right(self.starts, index) - 1
        start, end, copied = self.pieces[piece]
        if copied:
            at = start + index - self.starts[piece]
            return at, at + 1
        return start, end


def _normalise(text: str) -> tuple[str, _Origin | None]:
    """The text as the matcher reads it, and where its characters came from (None when
    nothing changed: plain ASCII without escapes)."""
    if text.isascii() and "\\" not in text:
        return text, None
    out: list[str] = []
    origin = _Origin()
    length, position = 0, 0

    def copy(start: int, end: int) -> None:
        nonlocal length
        if start < end:
            origin.add(length, start, end, True)
            out.append(text[start:end])
            length += end - start

    for m in _SPECIAL.finditer(text):
        token = m.group(0)
        if len(token) == 1:
            replaced = _read_as(token)
            if replaced == token:           # read as itself (å, é): part of the copied run
                continue
        else:                               # an escape: the character it stands for
            try:
                replaced = _read_as(chr(int(token[2:], 16)))
            except (ValueError, OverflowError):
                continue                    # not a character: copied as it is
        copy(position, m.start())
        position = m.end()
        if replaced:
            origin.add(length, m.start(), m.end(), False)
            out.append(replaced)
            length += len(replaced)
    copy(position, len(text))
    return "".join(out), origin


_INVISIBLE_RUN = re.compile("[" + "".join(sorted(_INVISIBLE)) + "]+")
_SIX_DIGITS = re.compile(r"[0-9]{6}")


def _may_hold_number(text: str) -> bool:
    """False when no number can be in the text: it has no run of six digits, however its
    characters are read (NFKC of the whole text has the same digit runs as NFKC character
    by character: digits are starters, nothing composes with them). Escapes are read one
    by one, so a text with a backslash always takes the careful path."""
    if "\\" in text:
        return True
    if text.isascii():
        return _SIX_DIGITS.search(text) is not None
    visible = _INVISIBLE_RUN.sub("", text)
    return _SIX_DIGITS.search(unicodedata.normalize("NFKC", visible)) is not None


def _matches(text: str):
    """(start, end) in the original text of every personnummer, left to right."""
    if not _may_hold_number(text):
        return
    normal, origin = _normalise(text)
    for m in _CANDIDATE.finditer(normal):
        if _valid(m["head"], m["tail"]):
            if origin is None:
                yield m.start(), m.end()
            else:
                yield origin.span(m.start(), m.end() - 1)


def is_personnummer(candidate: str) -> bool:
    """True if the whole string is one personnummer/samordningsnummer in a recognised form."""
    m = _CANDIDATE.fullmatch(_normalise(candidate.strip())[0])
    return m is not None and _valid(m["head"], m["tail"])


def redact(text: str) -> str:
    """Replace every personnummer and samordningsnummer in ``text`` with ``[personnummer]``."""
    if not text:
        return text
    parts: list[str] = []
    last = 0
    for start, end in _matches(text):
        parts.append(text[last:start])
        parts.append(PLACEHOLDER)
        last = end
    if not parts:
        return text
    parts.append(text[last:])
    return "".join(parts)


def contains_personnummer(text: str) -> bool:
    """True if ``text`` contains at least one personnummer or samordningsnummer."""
    if not text:
        return False
    return next(iter(_matches(text)), None) is not None


# ------------------------------------------------------------------- terminal safety
# Escape sequences (CSI, OSC, DCS/PM/APC strings, two-character ESC sequences), then
# any other C0/C1 control character or DEL; newline and tab stay, and so does a carriage
# return right before a newline (CSV's line ending).  Bidirectional
# overrides and isolates go too: they make a terminal show text in another order than
# it is ("Trojan source").
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"                      # CSI ... final byte
    r"|\x1b[\]PX^_][^\x07\x1b\n]*(?:\x07|\x1b\\)?"  # OSC/DCS/SOS/PM/APC up to its end
    r"|\x9b[0-?]*[ -/]*[@-~]"                        # the same CSI as one 8-bit byte
    r"|\x1b[ -/]*[0-~]?"                            # other ESC sequences, a lone ESC
    r"|\r(?!\n)"                                     # a carriage return that rewrites the line
    r"|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]",  # C0, DEL, C1, bidi
)


def strip_control(text: str) -> str:
    """``text`` without terminal control sequences or control characters (keeps \\n, \\t, \\r\\n)."""
    if not text or (text.isprintable() and "\x1b" not in text):
        return text
    return _CONTROL.sub("", text)


def clean_for_terminal(text: str) -> str:
    """What may be shown to a person on a terminal or in a log: redacted, no control codes."""
    # controls first: an escape code inside a number must not hide it from the matcher
    return redact(strip_control(text))
