"""The run loop on a mailbox that cannot be read: the mail stays where it is, the loop
backs off and keeps trying, the registrator is told once after mailbox_alert_minutes and
once when it can be read again."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bot.errors import MailSourceError
from tests.fakes.mail import make_mail


class FlakyMailbox:
    """A mailbox whose server is down until `up` is set."""

    def __init__(self, mails):
        self.mails = list(mails)
        self.up = False
        self.acknowledged = []
        self.attempts = 0

    def fetch(self):
        self.attempts += 1
        if not self.up:
            raise MailSourceError("IMAP 127.0.0.1:993: servern svarar inte (ConnectionRefusedError)")
        return [(raw, None, str(i), None) for i, raw in enumerate(self.mails)
                if str(i) not in self.acknowledged]

    def acknowledge(self, source_id):
        self.acknowledged.append(source_id)

    def describe(self):
        return {"source": "test", "mailbox": "registrator.vok@exempelby.se"}


def test_outage_is_told_once_and_recovery_too(bot, clock, notifier):
    mailbox = FlakyMailbox([make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                      subject="Avvikelse Hemtjänst Norr", body="Vi anmäler.")])
    bot.mail = mailbox

    def told(event):
        return [n for n in bot.store.outbox() if n["event"] == event]

    async def until(check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "not in time"
            await asyncio.sleep(0.02)

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=0.01, stop=stop))
        await until(lambda: mailbox.attempts >= 3)
        assert told("mailbox_down") == []                  # a blip tells nobody
        clock.set(clock.now() + timedelta(minutes=16))
        await until(lambda: told("mailbox_down"))
        attempts = mailbox.attempts
        await until(lambda: mailbox.attempts >= attempts + 2)
        assert len(told("mailbox_down")) == 1               # still down: not told again
        mailbox.up = True
        await until(lambda: told("mailbox_up") and mailbox.acknowledged)
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(main())
    [down] = told("mailbox_down")
    assert down["recipient"] == "rut" and "servern svarar inte" in down["text"]
    assert "Inga mejl försvinner" in down["text"]
    assert [n["recipient"] for n in told("mailbox_up")] == ["rut"]
    assert bot.store.get_case_by_text("VOK 2026/0001") is not None
