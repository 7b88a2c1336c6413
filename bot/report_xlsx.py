"""The year's report as an Excel workbook (openpyxl): one sheet per section, numbers as
numbers so the figures can be charted and summed where the patientsäkerhetsberättelse
is written."""
from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.cells import safe_cell
from bot.domain.redact import redact
from bot.report import Report, tables
from bot.texts import t

# Excel refuses sheet names over 31 characters and with any of []:*?/\
_SHEET_FORBIDDEN = str.maketrans({c: " " for c in "[]:*?/\\"})


def render_xlsx(report: Report) -> bytes:
    lang = report.language
    book = Workbook()
    book.remove(book.active)
    for table in tables(report):
        sheet = book.create_sheet(_sheet_name(table.title))
        sheet.append([_text(table.title)])
        sheet["A1"].font = Font(bold=True, size=13)
        sheet.append([_text(h) for h in table.header])
        for cell in sheet[2]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append([_text(v) if isinstance(v, str) else v for v in row])
        if not table.rows:
            sheet.append([t(lang, "report_none")])
        for index, header in enumerate(table.header, start=1):
            longest = max([len(str(header))] + [len(str(r[index - 1])) for r in table.rows])
            sheet.column_dimensions[get_column_letter(index)].width = min(60, longest + 2)
        sheet.freeze_panes = "A3"
    book.properties.title = _text(t(lang, "report_title", year=report.year,
                                    organisation=report.organisation))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_name(title: str) -> str:
    return redact(title).translate(_SHEET_FORBIDDEN)[:31]


def _text(value: str) -> str:
    """Redacted, and never read as a formula: a name from the configuration stays text."""
    return safe_cell(redact(value))
