"""Personnummer from Skatteverket's test lists, in the formats people write them, never reach a
title, a notification, a status answer or the CLI: checked through the whole intake pipeline."""
from __future__ import annotations

import json

from bot.domain.access import Actor
from tests.fakes.mail import make_mail


def _formats(pnr: str) -> list[str]:
    short = pnr[2:]
    return [pnr, f"{pnr[:8]}-{pnr[8:]}", short, f"{short[:6]}-{short[6:]}", f"{short[:6]}+{short[6:]}"]


def test_numbers_in_subject_and_body_are_redacted_everywhere(bot, corpora):
    pins = json.loads((corpora / "personnummer" / "allPins.json").read_text())
    coords = json.loads((corpora / "personnummer" / "allCoords.json").read_text())
    sample = pins[::997] + coords[::97]           # spread over every year and both kinds
    for i, pnr in enumerate(sample):
        written = _formats(pnr)[i % 5]
        result = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject=f"Avvikelse för {written} – Hemtjänst Norr",
            body=f"Brukaren {written} fick fel dos. Avvikelse.", message_id=f"<pnr-{i}@regionexempel.se>"))
        case = bot.store.get_case_by_text(result["diary_number"])
        assert case.title == "Avvikelse för [personnummer] – Hemtjänst Norr", (written, case.title)
        status = bot.services.handle_command(Actor.person("rut"), f"status {case.number}", "cli").text
        assert written not in status and "[personnummer]" in status
    texts = " ".join(n["text"] for n in bot.store.outbox())
    for pnr in sample:
        for written in _formats(pnr):
            assert written not in texts
    assert "[personnummer]" in texts
