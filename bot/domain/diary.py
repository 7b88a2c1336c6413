"""Diary numbers: `<series> <year>/<seq>`, e.g. VOK 2026/0042.

Unique, never reused, gapless per series and year: the next number is taken from a
counter stored in the same durable write as the case it numbers (see bot.store).
People write them loosely; parsing accepts VOK 2026/42, vok 2026/0042, VOK-2026-0042.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, order=True)
class DiaryNumber:
    year: int
    seq: int
    series: str = "VOK"

    def format(self, digits: int = 4) -> str:
        return f"{self.series} {self.year}/{self.seq:0{digits}d}"

    @property
    def key(self) -> int:
        """A stable integer for storage (TinyDB document ids)."""
        return self.year * 1_000_000 + self.seq

    @classmethod
    def from_key(cls, key: int, series: str) -> "DiaryNumber":
        return cls(year=key // 1_000_000, seq=key % 1_000_000, series=series)


@lru_cache(maxsize=16)
def _pattern(series: str, series_required: bool) -> re.Pattern[str]:
    prefix = rf"{re.escape(series)}[\s_-]*"
    if not series_required:
        prefix = f"(?:{prefix})?"
    return re.compile(
        rf"(?<![\w/]){prefix}(?P<year>(?:19|20|21)\d\d)\s*[/-]\s*(?P<seq>\d{{1,8}})(?![\d/])",
        re.IGNORECASE)


def find_diary_numbers(text: str, series: str) -> list[DiaryNumber]:
    """Every diary number of our series in free text (subject, body), in order, no repeats."""
    found: dict[DiaryNumber, None] = {}     # ordered, and a set: one look-up per number
    for m in _pattern(series, True).finditer(text or ""):
        number = DiaryNumber(int(m["year"]), int(m["seq"]), series)
        if number.seq > 0:
            found.setdefault(number)
    return list(found)


def parse_diary_number(text: str, series: str) -> DiaryNumber | None:
    """A diary number typed in a command: the series may be left out (`2026/42`)."""
    m = _pattern(series, False).fullmatch(" ".join((text or "").split()))
    if not m or int(m["seq"]) == 0:
        return None
    return DiaryNumber(int(m["year"]), int(m["seq"]), series)


def strip_diary_numbers(text: str, series: str) -> str:
    """The text with our diary numbers removed (for titles)."""
    return _pattern(series, True).sub(" ", text or "")
