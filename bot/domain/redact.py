"""Redact Swedish personnummer and samordningsnummer from free text.

Every title and notification the bot produces passes through ``redact`` before
it leaves the process, so that a personal identity number typed into an
e-mail never reaches a chat channel.

Recognised forms (digit boundaries required on both sides, so a number that is
part of a longer digit run, e.g. a 14-digit reference, is left alone)::

    YYYYMMDDNNNC   YYYYMMDD-NNNC   YYYYMMDD+NNNC   YYYYMMDD NNNC
    YYMMDDNNNC     YYMMDD-NNNC     YYMMDD+NNNC     YYMMDD NNNC

The separator may also be an en dash or a minus sign (mail clients and word
processors "autocorrect" the hyphen) or a no-break space (HTML-to-text).

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

import re

__all__ = ["PLACEHOLDER", "redact", "contains_personnummer", "is_personnummer"]

PLACEHOLDER = "[personnummer]"

# Days per month; February allows 29 when the year (or century) is unknown.
_MAX_DAY = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

# Hyphen, plus, space, en dash, minus sign, no-break space, narrow no-break space.
_SEPARATORS = "-+ \u2013\u2212\u00a0\u202f"

# A run of 6 or 8 digits (YYMMDD / YYYYMMDD), an optional separator, then 4 digits,
# with no digit directly before or after.  The pattern starts with a character
# class (the "no digit before" test is a lookbehind *after* the first digit) so
# that the regex engine can skip quickly over text without digits.
_CANDIDATE = re.compile(
    r"(?P<head>[0-9](?<![0-9]{2})[0-9]{5}(?:[0-9]{2})?)"
    r"[" + re.escape(_SEPARATORS) + r"]?"
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


def is_personnummer(candidate: str) -> bool:
    """True if the whole string is one personnummer/samordningsnummer in a recognised form."""
    m = _CANDIDATE.fullmatch(candidate)
    return m is not None and _valid(m["head"], m["tail"])


def _replace(m: re.Match[str]) -> str:
    if _valid(m["head"], m["tail"]):
        return PLACEHOLDER
    return m.group(0)


def redact(text: str) -> str:
    """Replace every personnummer and samordningsnummer in ``text`` with ``[personnummer]``."""
    if not text:
        return text
    return _CANDIDATE.sub(_replace, text)


def contains_personnummer(text: str) -> bool:
    """True if ``text`` contains at least one personnummer or samordningsnummer."""
    if not text:
        return False
    for m in _CANDIDATE.finditer(text):
        if _valid(m["head"], m["tail"]):
            return True
    return False
