"""A plain text as a PDF (fpdf2): the masked copy of a requested document (utlämna --till).

The PDF's core font Helvetica is written in WinAnsi (Windows-1252), which has every letter
Swedish needs (åäö, é, ü, §, – and the typographic quotes), so no font file ships. A
character outside it is read as its compatibility form (NFKC: a fullwidth digit, a
ligature) and otherwise written as "?": the copy never fails on a strange character.
"""
from __future__ import annotations

import unicodedata

_ENCODING = "windows-1252"


def _printable(text: str) -> str:
    out = []
    for char in text:
        if char in "\n\t":
            out.append("    " if char == "\t" else char)
            continue
        if not char.isprintable():
            continue
        for candidate in (char, unicodedata.normalize("NFKC", char)):
            try:
                candidate.encode(_ENCODING)
            except UnicodeEncodeError:
                continue
            out.append(candidate)
            break
        else:
            out.append("?")
    return "".join(out)


def text_pdf(title: str, text: str) -> bytes:
    """An A4 PDF of `text` (lines as they are, long ones wrapped), `title` as its heading
    and its document title."""
    from fpdf import FPDF
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = _ENCODING
    pdf.set_title(_printable(title))
    pdf.set_creator("Avvikelsebot")
    pdf.set_auto_page_break(True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=13)
    pdf.multi_cell(0, 7, _printable(title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", size=10)
    for line in _printable(text).split("\n"):
        if line.strip():
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.ln(5)
    return bytes(pdf.output())
