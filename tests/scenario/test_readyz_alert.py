"""/readyz is not ready from the moment the registrator is told the mailbox cannot be read,
not minutes later (issue 22 item 9): both read the same durable mailbox-health record."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

from bot.app import MAIL_WAIT_SECONDS, build
from bot.ops.health import health_server
from bot.settings import Settings, load_organisation
from tests.conftest import EXAMPLE_CONFIG
from tests.scenario.test_mailbox_health import FlakyMailbox


def test_readyz_is_not_ready_when_the_registrator_is_alerted_not_later(tmp_path, clock, notifier, sender):
    config = tmp_path / "org.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        "mailbox_alert_minutes = 15", "mailbox_alert_minutes = 1", 1), encoding="utf-8")
    settings = Settings(config_path=config, data_dir=tmp_path / "data",
                        org=load_organisation(config), env={})
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    mailbox = FlakyMailbox([])
    mailbox.up = True
    bot.mail = mailbox
    readiness = health_server(bot, mail_wait_seconds=MAIL_WAIT_SECONDS).readiness

    def alerted():
        return [n for n in bot.store.outbox() if n["event"] == "mailbox_down"]

    async def until(check, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "not in time"
            await asyncio.sleep(0.02)

    async def main():
        stop_ = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=0.01, stop=stop_))
        await until(lambda: bot.metrics.mailbox.last_success is not None)
        assert (await asyncio.to_thread(readiness))[0]
        mailbox.up = False
        attempts = mailbox.attempts
        await until(lambda: mailbox.attempts >= attempts + 2)
        clock.set(clock.now() + timedelta(seconds=61))    # the alert time (1 min), not 10 min
        await until(alerted)
        ok, body = await asyncio.to_thread(readiness)
        assert not ok
        assert any("registratorn har larmats" in r for r in body["reasons"]), body
        assert body["checks"]["mailbox"]["ok"] is False
        mailbox.up = True
        await until(lambda: [n for n in bot.store.outbox() if n["event"] == "mailbox_up"])
        stop_.set()
        await asyncio.wait_for(task, 10)
        ok, body = await asyncio.to_thread(readiness)
        assert ok, body

    try:
        asyncio.run(main())
    finally:
        bot.close()
