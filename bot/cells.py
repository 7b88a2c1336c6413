"""A cell of a spreadsheet export (CSV, xlsx) that can never run as a formula.

Excel, LibreOffice and Google Sheets read a cell that starts with = + - @ as a formula, also
after leading blanks, a tab or a line break (CWE-1236, "CSV injection"): an attachment named
`=HYPERLINK("http://…")` in the read log would be a live link. Every text cell of every export
passes here; numbers stay numbers.
"""
from __future__ import annotations

import unicodedata

_TRIGGERS = ("=", "+", "-", "@")
_BLANKS = " \t\r\n\x0b\x0c\u00a0\u3000"


def safe_cell(text: str) -> str:
    """The text, with an apostrophe in front when a spreadsheet would read it as a formula.
    Fullwidth look-alikes (＝ ＋ － ＠) count: some spreadsheet programs fold them."""
    start = unicodedata.normalize("NFKC", text.lstrip(_BLANKS)[:1])
    if start in _TRIGGERS or (text[:1] in "\t\r\n" and text.strip()):
        return "'" + text
    return text
