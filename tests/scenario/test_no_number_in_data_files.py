"""No personnummer in any file the bot writes outside raw/ (issue 12): ids, addresses,
subjects and attachment names are redacted before they are stored, and every comparison
(duplicates, threads) is made between the redacted forms."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta

from bot.domain.access import Actor
from tests.fakes.mail import make_mail

NUMBERS = ("19121212-1212", "191212121212", "121212-1212", "1212121212")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", unicodedata.normalize("NFKC", text))


def _leaks(data) -> list[str]:
    found = []
    for path in data.rglob("*"):
        if not path.is_file() or "raw" in path.relative_to(data).parts:
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        if any(n in text for n in NUMBERS) or "191212121212" in _digits(text):
            found.append(str(path.relative_to(data)))
    return found


def test_a_mail_full_of_numbers_leaves_none_in_the_data_directory(bot, clock):
    raw = make_mail(sender="19121212-1212 <191212121212@regionexempel.se>",
                    subject="Avvikelse för 19121212-1212 i Hemtjänst Norr",
                    body="Brukare 19121212-1212 fick fel dos.",
                    message_id="<19121212-1212@regionexempel.se>",
                    in_reply_to="<121212-1212.tidigare@regionexempel.se>")
    result = bot.services.ingest_mail(raw)
    assert result["outcome"] == "new_case"
    assert "1212" not in (result["message_id"] or "")
    again = bot.services.ingest_mail(raw)
    assert again["outcome"] == "duplicate", "the redacted Message-ID still finds the first"
    reply = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Re: ert ärende",
                      body="Mer information.", message_id="<svar-9@regionexempel.se>",
                      in_reply_to="<19121212-1212@regionexempel.se>")
    threaded = bot.services.ingest_mail(reply)
    assert threaded["diary_number"] == result["diary_number"], "threads match on the redacted id"
    bot.services.handle_command(Actor.person("anna"), f"avsluta {result['diary_number']} klart", "cli")
    bot.services.deliver_outbox()
    clock.set(clock.now() + timedelta(hours=1))
    bot.services.housekeep(force=True)
    bot.close()
    assert _leaks(bot.settings.data_dir) == []
