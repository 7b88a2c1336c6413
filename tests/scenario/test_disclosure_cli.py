"""`avvikelsebot utlämna <dnr> [<nr>] --till MAPP --as PERSON` (issue 25): given an ordinary
case it diarises the request (a case of its own) and writes the masked copy as text and PDF,
0600, into the folder; given the request case it writes the copy again; anyone but the
registrator is refused before anything is diarised or written."""
from __future__ import annotations

import io
import json
import stat
from datetime import datetime, timezone

import pypdf

from bot import cli
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

PNR = "19121212-1212"


def utlamna(settings, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(["--config", str(EXAMPLE_CONFIG), "--data", str(settings.data_dir),
                     "utlämna", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_cli_diarises_the_request_and_writes_the_masked_copy(bot, settings, capsys,
                                                                  tmp_path):
    when = datetime(2026, 11, 16, 8, tzinfo=timezone.utc)
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse fel dos Gustavsson, Solgårdens särskilda boende",
        body=(f"Patient: Greta Gustavsson, {PNR}\nBrukare: Greta G.\nGreta mår bra nu.\n"
              "Sjuksköterskan Cecilia Carlsson upptäckte felet vid kvällsmedicineringen.\n"
              "Dosen gavs två gånger; läkare kontaktades direkt.\n"),
        message_id="<utl-cli@regionexempel.se>", date=when), arrived=when)
    number = result["diary_number"]
    bot.close()                                 # the command line takes the writer lock
    target = tmp_path / "ut"

    code, _, err = utlamna(settings, capsys, number, "1", "--till", str(target), "--as", "anna")
    assert code != 0 and "registrator" in err.casefold()
    assert not target.exists()
    store = TinyDbCaseStore(settings.data_dir, readonly=True)
    assert [c.number for c in store.all_cases()] == [number], "a refusal diarises nothing"
    store.close()

    code, out, err = utlamna(settings, capsys, number, "1", "--till", str(target), "--as", "rut",
                             "--json")
    assert code == 0, out
    assert "VOK 2026/0002" in err                 # the request's own number
    assert json.loads(out)["case"] == number      # stdout is the JSON alone
    files = sorted(p.name for p in target.iterdir())
    assert files == ["VOK-2026-0001-handling-1.pdf", "VOK-2026-0001-handling-1.txt"]
    for path in target.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = (target / "VOK-2026-0001-handling-1.txt").read_text(encoding="utf-8")
    pdf = pypdf.PdfReader(io.BytesIO((target / "VOK-2026-0001-handling-1.pdf").read_bytes()))
    pdf_text = " ".join(" ".join(p.extract_text().split()) for p in pdf.pages)
    for shown in (text, pdf_text):
        for secret in (PNR, "19121212", "Greta", "Gustavsson", "Cecilia", "Carlsson"):
            assert secret not in shown, (secret, shown)
        # Solgården is health care and social services both: both paragraphs
        assert "Patient: [maskerat OSL 25:1, 26:1]" in shown
        assert "Dosen gavs två gånger; läkare kontaktades direkt." in shown
        assert "upptäckte felet vid kvällsmedicineringen" in shown

    # the request case itself: the same copy again, nothing new diarised
    again = tmp_path / "igen"
    code, out, _ = utlamna(settings, capsys, "VOK 2026/0002", "--till", str(again), "--as", "rut")
    assert code == 0
    assert f"Maskerad kopia av {number}" in out and len(list(again.iterdir())) == 2
    store = TinyDbCaseStore(settings.data_dir, readonly=True)
    assert len(list(store.all_cases())) == 2
    store.close()
