"""A command by mail runs once per (person, command, case) within 24 hours (issue 23,
item 8): the same command mail again with a new Message-ID is answered "Redan gjort" and
changes nothing, also after a restart; a day later it runs again."""
from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import build
from bot.domain.case import DOC_NOTE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
CASE1 = "VOK 2026/0001"
MX = "mx.exempelby.se"
ANNA = "anna.andersson@exempelby.se"


def command_mail(line: str, message_id: str, sender: str = ANNA) -> bytes:
    domain = sender.rsplit("@", 1)[1]
    return (f"Authentication-Results: {MX}; dmarc=pass (p=reject dis=none) header.from={domain}\r\n"
            f"Received: from ws-1.example (ws-1.example [198.51.100.7])\r\n"
            f"\tby {MX} (Postfix) with ESMTPS id 4Cf1; Mon, 16 Nov 2026 10:00:00 +0100\r\n"
            f"From: Anna Andersson <{sender}>\r\n"
            f"To: registrator.vok@exempelby.se\r\n"
            f"Subject: [kommando] {CASE1}\r\n"
            f"Date: Mon, 16 Nov 2026 10:00:00 +0100\r\n"
            f"Message-ID: <{message_id}@exempelby.se>\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{line}\r\n").encode("utf-8")


@pytest.fixture
def trusted_settings(settings):
    return dataclasses.replace(settings, org=dataclasses.replace(
        settings.org, trusted_authserv_ids=(MX,)))


def make(trusted_settings, clock, notifier, sender):
    return build(trusted_settings, notifiers={"console": notifier}, clock=clock, sender=sender)


def notes(bot) -> list[str]:
    return [d.subject for d in bot.store.get_case_by_text(CASE1).documents if d.type == DOC_NOTE]


def replies(bot) -> list[str]:
    return [n["text"] for n in bot.store.outbox() if n["event"] == "command_reply"]


def test_the_same_command_mail_again_is_answered_already_done(trusted_settings, clock, notifier,
                                                              sender):
    bot = make(trusted_settings, clock, notifier, sender)
    try:
        assert bot.services.ingest_mail((FIXTURES / "incoming_region.eml").read_bytes())[
            "diary_number"] == CASE1
        line = f"anteckning {CASE1} Ringt anhöriga, de är informerade"
        first = bot.services.ingest_mail(command_mail(line, "first"))
        assert first["outcome"] == "command", first
        assert len(notes(bot)) == 1

        clock.set(clock.now() + timedelta(hours=2))
        again = bot.services.ingest_mail(command_mail(line, "second"))    # a new Message-ID
        assert again["outcome"] == "command"
        assert "redan gjort" in again["reason"], again["reason"]
        assert len(notes(bot)) == 1, "the note was not written twice"
        assert any("redan gjort" in text for text in replies(bot)), replies(bot)
        # spacing and case of the command word do not make it another command
        bot.services.ingest_mail(command_mail(line.replace("anteckning", "Anteckning  "), "third"))
        assert len(notes(bot)) == 1
        # another command on the same case is another command
        other = bot.services.ingest_mail(command_mail(f"anteckning {CASE1} Nytt samtal", "fourth"))
        assert "redan gjort" not in other["reason"]
        assert len(notes(bot)) == 2
        # a question changes nothing and is answered each time
        for mid in ("q1", "q2"):
            asked = bot.services.ingest_mail(command_mail(f"status {CASE1}", mid))
            assert asked["outcome"] == "command" and "redan gjort" not in asked["reason"]
    finally:
        bot.close()

    # durable: a restarted bot remembers it
    clock.set(clock.now() + timedelta(hours=20))
    bot = make(trusted_settings, clock, notifier, sender)
    try:
        again = bot.services.ingest_mail(command_mail(line, "fifth"))
        assert "redan gjort" in again["reason"]
        assert len(notes(bot)) == 2
        # after the window it is a new request and runs
        clock.set(clock.now() + timedelta(hours=3))
        later = bot.services.ingest_mail(command_mail(line, "sixth"))
        assert later["outcome"] == "command" and "redan gjort" not in later["reason"]
        assert len(notes(bot)) == 3
    finally:
        bot.close()


def test_a_refused_command_is_not_remembered_as_done(trusted_settings, clock, notifier, sender):
    """Nothing ran, so nothing is 'already done': the same mail later is tried again."""
    bot = make(trusted_settings, clock, notifier, sender)
    try:
        line = f"anteckning {CASE1} Ringt"          # no such case yet: refused
        first = bot.services.ingest_mail(command_mail(line, "r1"))
        assert first["outcome"] == "command"
        bot.services.ingest_mail((FIXTURES / "incoming_region.eml").read_bytes())
        again = bot.services.ingest_mail(command_mail(line, "r2"))
        assert "redan gjort" not in again["reason"]
        assert len(notes(bot)) == 1
    finally:
        bot.close()
