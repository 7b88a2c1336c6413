"""`report` for people: the year's figures on a fixed diary match golden files in Swedish and
English, as text, Markdown, CSV and xlsx; the CLI serves them; no personnummer gets out.

The golden files were checked by hand against the comments in tests/report_cases.py.
After a deliberate change of wording, rewrite them with AVVIKELSEBOT_UPDATE_GOLDEN=1 and
read the diff before committing it.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot import cli
from bot.domain.redact import contains_personnummer
from bot.domain.org import Unit
from bot.report import build_report, render_csv, render_markdown, render_text, tables
from bot.report_xlsx import render_xlsx
from reminders.calendar import BusinessCalendar
from tests.conftest import EXAMPLE_CONFIG
from tests.report_cases import REPORT_NOW, fixed_cases, make_case

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("AVVIKELSEBOT_UPDATE_GOLDEN") == "1"


def calendar_of(org) -> BusinessCalendar:
    return BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                            org.office_hours.closed_days)


def report_for(org, lang: str = "sv", year: int = 2026, cases=None):
    org = dataclasses.replace(org, language=lang)
    return build_report(fixed_cases() if cases is None else cases, org, calendar_of(org), year,
                        REPORT_NOW)


def xlsx_cells(data: bytes) -> dict[str, list[list]]:
    book = load_workbook(io.BytesIO(data))
    return {sheet.title: [list(row) for row in sheet.iter_rows(values_only=True)]
            for sheet in book.worksheets}


def matches_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_bytes(actual.encode("utf-8"))
    assert actual == path.read_bytes().decode("utf-8"), f"differs from {path}"


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_text_matches_golden(org, lang):
    matches_golden(f"report_2026_{lang}.txt", render_text(report_for(org, lang)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_csv_matches_golden(org, lang):
    matches_golden(f"report_2026_{lang}.csv", render_csv(report_for(org, lang)))


def test_markdown_matches_golden(org):
    matches_golden("report_2026_sv.md", render_markdown(report_for(org)))


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_xlsx_cells_match_golden(org, lang):
    cells = xlsx_cells(render_xlsx(report_for(org, lang)))
    matches_golden(f"report_2026_{lang}.xlsx.json",
                   json.dumps(cells, ensure_ascii=False, indent=1) + "\n")


def test_figures_a_reader_checks_first(org):
    """The numbers worked out by hand in tests/report_cases.py, asserted one by one so a
    wrong golden file cannot hide them."""
    report = report_for(org)
    assert (report.total, report.previous_total) == (11, 5)
    assert [m.count for m in report.inflow] == [1, 2, 1, 1, 0, 2, 0, 0, 0, 1, 1, 2]
    assert [m.previous for m in report.inflow] == [1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1]
    assert (report.open_at_end, report.overdue_at_end) == (7, 6)
    steps = {s.step: s for s in report.steps}
    assert (steps["register"].count, steps["register"].within_deadline) == (4, 3)
    assert steps["respond"].median_business_days == 4
    assert steps["external_response"].median_business_days == 24      # 15 and 33
    assert steps["external_response"].median_calendar_days == 33.5     # 21 and 46
    assert steps["close"].within_deadline == 3 and steps["close"].count == 5
    answers = {a.counterpart: (a.sent, a.answered, a.answered_in_time) for a in report.answer_rates}
    assert answers == {"Dosapoteket Norden": (2, 1, 1), "Vårdcentralen Torget": (1, 1, 0)}
    assert report.by_unit[-1].name == "Okänd enhet"
    assert [(c.name, c.count) for c in report.overdue_by_unit][0] == ("Hemtjänst Norr", 3)
    # Lex: asked for 2026/1, 2026/8 and 2026/10; 2026/1 reported (Lex Sarah, with IVO's
    # reference), 2026/8 not reported, 2026/10 not assessed
    assert [c.count for c in report.lex] == [3, 2, 0, 1, 1, 1, 1]


def test_plurals_and_units_in_text(org):
    sv, en = render_text(report_for(org, "sv")), render_text(report_for(org, "en"))
    assert "januari    1 ärende " in sv and "februari   2 ärenden " in sv
    assert not re.search(r"(?<![\d,])1 ärenden", sv) and not re.search(r"(?<![\d.])1 cases", en)
    assert "median 1 arbetsdag (1 kalenderdag)" in sv
    assert "median 4 arbetsdagar (4 kalenderdagar)" in sv
    assert "median 1 business day (1 calendar day)" in en
    assert "hemtjanst-norr" not in sv and "send_response" not in sv and "yellow" not in sv


def test_a_current_year_is_reported_as_of_now(org):
    """Before the year is over, "open at the year's end" is "open now" and says so."""
    org = dataclasses.replace(org, language="sv")
    from datetime import datetime, timezone
    now = datetime(2026, 6, 1, 10, 0, tzinfo=timezone.utc)
    report = build_report(fixed_cases(), org, calendar_of(org), 2026, now)
    assert not report.year_complete and report.as_of == now
    assert "Den 2026-06-01: 3 ärenden öppna, varav 3 ärenden försenade." in render_text(report)
    # open on 1 June: 2025/0005 (registered), 2026/0003 (registered), 2026/0005 (sent);
    # the ones closed by then and the ones that had not yet arrived are not
    assert (report.open_at_end, report.overdue_at_end) == (3, 3)


def test_no_personnummer_in_any_output(org):
    """A unit name with a personnummer (a careless edit of the organisation file) and the
    title of a case from an old store that kept one: neither leaves the report unredacted."""
    unit = Unit(id="pnr-enhet", name="Enhet för 19121212-1212", managers=("anna",))
    org = dataclasses.replace(org, units={**org.units, unit.id: unit})
    cases = fixed_cases() + [make_case(2026, 12, "incoming", "2026-05-04T08:00:00+00:00",
                                       unit="pnr-enhet", counterpart="region-exempel",
                                       title="Fall 19121212-1212")]
    report = report_for(org, cases=cases)
    cells = xlsx_cells(render_xlsx(report))
    outputs = [render_text(report), render_markdown(report), render_csv(report),
               json.dumps(cells, ensure_ascii=False)]
    for output in outputs:
        assert not contains_personnummer(output)
        assert "[personnummer]" in output


def test_csv_is_one_long_table_a_spreadsheet_reads(org):
    rows = list(csv.reader(io.StringIO(render_csv(report_for(org)))))
    assert rows[0] == ["avsnitt", "post", "mått", "värde"]
    assert all(len(row) == 4 for row in rows)
    assert ["inflow", "februari", "2026", "2"] in rows
    assert ["steps", "Motpartens svarstid", "Median (arbetsdagar)", "24.0"] in rows


def test_xlsx_holds_numbers_as_numbers(org):
    report = report_for(org)
    cells = xlsx_cells(render_xlsx(report))
    steps_sheet = next(rows for title, rows in cells.items() if title.startswith("Handläggningstid"))
    assert steps_sheet[1][0] == "Steg"
    row = next(r for r in steps_sheet if r[0] == "Motpartens svarstid")
    assert row[1] == 2 and row[2] == 24.0 and row[7] == 50.0
    assert len(cells) == len(tables(report))


# --------------------------------------------------------------------------- the CLI
@pytest.fixture
def diary(bot, settings):
    """The fixed cases in a real store, which the CLI opens read-only."""
    for case in fixed_cases():
        bot.store.put_case(case)
    bot.store.commit()
    bot.close()
    return settings


def run_cli(settings, capsys, *args) -> tuple[int, bytes, str]:
    code = cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "report", *args])
    out, err = capsys.readouterr()
    return code, out.encode(), err


def test_cli_report_text_and_csv(diary, org, capsys):
    # 2025 is over whatever the machine's clock says, so its figures do not depend on it
    expected = report_for(org, year=2025)
    code, out, _ = run_cli(diary, capsys, "--year", "2025")
    assert code == 0
    assert out.decode() == render_text(expected)
    assert "Underlag: 5 ärenden (2024: 0 ärenden, förändring +5)." in out.decode()
    code, out, _ = run_cli(diary, capsys, "--year", "2025", "--format", "csv")
    assert code == 0
    assert out.decode() == render_csv(expected)


def test_cli_report_xlsx_to_a_file(diary, org, tmp_path, capsys):
    target = tmp_path / "rapport.xlsx"
    code, _, err = run_cli(diary, capsys, "--year", "2025", "--format", "xlsx",
                           "--output", str(target))
    assert code == 0
    assert "rapport.xlsx" in err
    assert xlsx_cells(target.read_bytes()) == xlsx_cells(render_xlsx(report_for(org, year=2025)))


def test_cli_refuses_xlsx_to_a_terminal(diary, capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, err = run_cli(diary, capsys, "--year", "2025", "--format", "xlsx")
    assert code == 2 and out == b""
    assert "--output" in err


def test_the_90th_percentile_is_a_real_cases_time():
    """Nearest rank (issue 24): cases of 10 and 20 days give 20, never an interpolated 18."""
    from bot.report import _p90
    assert _p90([10, 20]) == 20.0
    assert _p90([10] * 9 + [30]) == 10.0          # 9 of 10 took at most 10 days
    assert _p90([10] * 8 + [30, 40]) == 30.0
    assert _p90([7]) == 7.0 and _p90([]) is None


def test_the_report_splits_by_lagrum_and_counts_the_new_kinds_apart(org):
    """Issue 26. The fixed diary: Kommunal hemsjukvård's 2 cases are HSL by its care, the 5 of
    Hemtjänst Norr and Söder SoL; Solgården's and Björkhagen's (both kinds of care) and the
    case without a unit are undecided, until the region says its deviations are HSL."""
    figures = {c.name: c.count for c in report_for(org).by_lagrum}
    assert figures == {"HSL": 2, "SoL": 5, "LSS": 0, "Ej bestämt": 4}
    region = dataclasses.replace(org.counterparts["region-exempel"], lagrum="HSL")
    marked = dataclasses.replace(org, counterparts={**org.counterparts, "region-exempel": region})
    assert {c.name: c.count for c in report_for(marked).by_lagrum} == {
        "HSL": 3, "SoL": 5, "LSS": 0, "Ej bestämt": 3}
    complaint = make_case(2026, 90, "klagomål", "2026-10-05T08:00:00+00:00",
                          unit="hemtjanst-norr", counterpart=None,
                          answered="2026-10-09T08:00:00+00:00")
    kinds = {c.name: c.count for c in report_for(org, cases=[*fixed_cases(), complaint]).by_kind}
    assert kinds["Klagomål"] == 1 and kinds["Säkerhetsmeddelande (FSN)"] == 0
    steps = {s.step: s for s in report_for(org, cases=[*fixed_cases(), complaint]).steps}
    assert (steps["answer"].count, steps["answer"].median_business_days,
            steps["answer"].within_deadline) == (1, 4.0, 1)
