"""/healthz, /readyz and /metrics of a running bot, fetched over real HTTP from 127.0.0.1:
the bot is built from settings like `run` builds it and runs its real loop (maildir source,
console channel, the reminder scan); the mailbox and the chat channel are made to fail
the way a server outage looks to the bot."""
from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build
from bot.domain.org import Notifications
from bot.errors import ConfigError, DeliveryError, MailSourceError
from bot.mail.maildir import MaildirMailSource
from bot.ops.health import HealthServer
from bot.ops.metrics import metered
from bot.settings import Settings
from bot.texts import t
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

DEVIATION = dict(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                 subject="Avvikelse Hemtjänst Norr – utebliven insulindos",
                 body="Vi anmäler en avvikelse: brukaren fick inte sin insulindos.")


def with_console(bot, console: FakeNotifier) -> FakeNotifier:
    """The console channel replaced by a recording fake, metered like the one build() made."""
    bot.notifiers["console"] = console
    metered(bot.notifiers, bot.metrics, bot.clock)
    return console


def health_settings(org, tmp_path, **env) -> Settings:
    # every notification its own message at once (bundling off, issue 24): these tests
    # count deliveries and failures per item; held bundles and /readyz are tested in
    # tests/scenario/test_bundling.py
    org = replace(org, notifications=Notifications(bundle_minutes=0))
    return Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                    env={"HEALTH_PORT": "0", **env})


class DownMailbox:
    """A mailbox whose server refuses us until `up` is set; then it is the real maildir."""

    def __init__(self, maildir: MaildirMailSource):
        self.maildir, self.up = maildir, False

    def fetch(self):
        if not self.up:
            raise MailSourceError("IMAP 127.0.0.1:993: servern svarar inte (ConnectionRefusedError)")
        return self.maildir.fetch()

    def acknowledge(self, source_id):
        self.maildir.acknowledge(source_id)


async def until(check, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not in time: {what}"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def running(bot, poll_seconds: float = 0.02):
    """The bot's own run loop, until the block ends; yields its health server."""
    stop = asyncio.Event()
    task = asyncio.create_task(bot.run_forever(poll_seconds=poll_seconds, stop=stop))
    [health] = [f for f in bot.frontends if isinstance(f, HealthServer)]
    try:
        await until(lambda: health.listening or task.done(), "the health server listens")
        assert not task.done(), task.exception()
        yield health
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        bot.close()


async def get(health: HealthServer, path: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{health.port}{path}") as response:
            return response.status, response.headers.get("Content-Type", ""), await response.text()


async def get_json(health: HealthServer, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{health.port}{path}") as response:
            return response.status, await response.json()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """The scraped samples, parsed by prometheus_client's own parser."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def failed_deliveries(bot) -> float:
    return bot.metrics.registry.get_sample_value(
        "avvikelsebot_deliveries_total", {"channel": "console", "result": "error"}) or 0.0


# ---------------------------------------------------------------------------- happy path
def test_a_running_bot_is_alive_ready_and_counts_what_it_does(org, tmp_path, clock):
    bot = build(health_settings(org, tmp_path), clock=clock, sender=FakeMailSender())
    console = with_console(bot, FakeNotifier())
    inbox = MaildirMailSource(tmp_path / "data" / "inbox")

    async def main():
        async with running(bot) as health:
            assert health.host == "127.0.0.1"
            status, _, text = await get(health, "/healthz")
            assert status == 200 and '"ok"' in text

            await until(lambda: bot.metrics.mailbox.last_success is not None, "a mailbox round")
            status, ready = await get_json(health, "/readyz")
            assert status == 200 and ready["ready"] is True and ready["reasons"] == []
            assert ready["checks"]["mailbox"]["source"] == "maildir"
            # any local caller may ask: the data directory's place on disk is not told
            assert ready["checks"]["mailbox"]["mailbox"] == "inbox"
            _, _, raw = await get(health, "/readyz")
            assert str(tmp_path) not in raw
            assert ready["checks"]["mailbox"]["last_success"] == "2026-11-16T09:30:00+01:00"
            assert ready["checks"]["outbox"] == {"ok": True, "pending": 0, "failed": 0,
                                                 "oldest_pending": None, "oldest_pending_seconds": 0.0}

            inbox.deliver(make_mail(**DEVIATION, message_id="<h-1@regionexempel.se>"))
            inbox.deliver(make_mail(**DEVIATION, message_id="<h-1@regionexempel.se>"))
            await until(lambda: len(console.sent) >= 3, "the notifications of the new case")
            status, content_type, text = await get(health, "/metrics")
        assert status == 200 and content_type.startswith("text/plain")
        scraped = samples(text)
        assert scraped[("avvikelsebot_mails_total", (("outcome", "new_case"),))] == 1
        assert scraped[("avvikelsebot_mails_total", (("outcome", "duplicate"),))] == 1
        assert scraped[("avvikelsebot_mails_total", (("outcome", "triage"),))] == 0
        sent = scraped[("avvikelsebot_deliveries_total", (("channel", "console"), ("result", "sent")))]
        assert sent == len(console.sent)
        assert scraped[("avvikelsebot_delivery_latency_seconds_count", (("channel", "console"),))] == sent
        assert scraped[("avvikelsebot_mailbox_up", ())] == 1
        assert scraped[("avvikelsebot_mailbox_last_success_timestamp_seconds", ())] == clock.now().timestamp()
        assert scraped[("avvikelsebot_mailbox_lag_seconds", ())] == 0
        assert scraped[("avvikelsebot_reminder_scans_total", (("result", "ok"),))] >= 1
        assert ("avvikelsebot_outbox_notifications", (("state", "pending"),)) in scraped

    asyncio.run(main())


# ---------------------------------------------------------------------------- not ready
def test_readyz_says_why_while_the_mailbox_cannot_be_read_and_recovers(org, tmp_path, clock):
    bot = build(health_settings(org, tmp_path), clock=clock, sender=FakeMailSender())
    with_console(bot, FakeNotifier())
    bot.mail = DownMailbox(MaildirMailSource(tmp_path / "data" / "inbox"))

    async def main():
        async with running(bot) as health:
            await until(lambda: bot.metrics.mailbox.failing_since is not None, "a failed round")
            status, _, text = await get(health, "/healthz")
            assert status == 200                              # alive, though not ready
            status, ready = await get_json(health, "/readyz")
            assert status == 503 and ready["ready"] is False
            mailbox = ready["checks"]["mailbox"]
            assert mailbox["ok"] is False and "servern svarar inte" in mailbox["error"]
            assert ready["reasons"] == [t("sv", "ready_mailbox_failing", since="2026-11-16T09:30:00+01:00",
                                          error=mailbox["error"])]
            _, _, text = await get(health, "/metrics")
            assert samples(text)[("avvikelsebot_mailbox_up", ())] == 0

            bot.mail.up = True
            await until(lambda: bot.metrics.mailbox.failing_since is None, "a good round")
            status, ready = await get_json(health, "/readyz")
            assert status == 200 and ready["checks"]["mailbox"]["error"] is None

            # a mailbox that was read once but not since the alert time is not ready either
            bot.mail.up = False
            clock.set(clock.now() + timedelta(minutes=16))
            await until(lambda: bot.metrics.mailbox.failing_since == clock.now(), "a failed round")
            status, ready = await get_json(health, "/readyz")
            assert status == 503
            assert ready["checks"]["mailbox"]["last_success"] == "2026-11-16T09:30:00+01:00"

    asyncio.run(main())


def test_readyz_reports_an_outbox_that_cannot_deliver(org, tmp_path, clock):
    bot = build(health_settings(org, tmp_path), clock=clock, sender=FakeMailSender())
    with_console(bot, FakeNotifier(fail_times=10_000, error=DeliveryError("Slack: ClientConnectorError")))
    inbox = MaildirMailSource(tmp_path / "data" / "inbox")

    async def main():
        async with running(bot) as health:
            inbox.deliver(make_mail(**DEVIATION))
            await until(lambda: inbox.pending() == 0 and failed_deliveries(bot) >= 1, "a failed delivery")
            status, ready = await get_json(health, "/readyz")
            assert status == 200                              # a blip is not an outage
            pending = ready["checks"]["outbox"]["pending"]
            assert pending >= 3 and ready["checks"]["outbox"]["failed"] == 0

            clock.set(clock.now() + timedelta(minutes=16))
            await until(lambda: bot.metrics.mailbox.last_success == clock.now(), "a mailbox round")
            status, ready = await get_json(health, "/readyz")
            assert status == 503 and ready["checks"]["outbox"]["ok"] is False
            assert ready["checks"]["mailbox"]["ok"] is True
            assert ready["reasons"] == [t("sv", "ready_outbox_backlog", count=pending,
                                          since="2026-11-16T09:30:00+01:00")]
            _, _, text = await get(health, "/metrics")
        scraped = samples(text)
        assert scraped[("avvikelsebot_outbox_notifications", (("state", "pending"),))] == pending
        assert scraped[("avvikelsebot_deliveries_total", (("channel", "console"), ("result", "error")))] >= 3

    asyncio.run(main())


# ---------------------------------------------------------------------------- configuration
def test_health_port_off_means_no_listener_and_a_bad_bind_names_the_variable(org, tmp_path, clock):
    bot = build(health_settings(org, tmp_path, HEALTH_PORT="off"), clock=clock)
    try:
        assert not [f for f in bot.frontends if isinstance(f, HealthServer)]
    finally:
        bot.close()
    with pytest.raises(ConfigError) as refused:
        build(health_settings(org, tmp_path / "b", HEALTH_BIND="localhost.example"), clock=clock)
    assert refused.value.key == "HEALTH_BIND"
    with pytest.raises(ConfigError) as refused:
        build(health_settings(org, tmp_path / "c", HEALTH_PORT="9464x"), clock=clock)
    assert refused.value.key == "HEALTH_PORT"


def test_a_taken_health_port_is_one_error_line_and_the_bot_keeps_working(org, tmp_path, clock, caplog):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    bot = build(health_settings(org, tmp_path, HEALTH_PORT=str(port)), clock=clock,
                sender=FakeMailSender())
    console = with_console(bot, FakeNotifier())
    inbox = MaildirMailSource(tmp_path / "data" / "inbox")
    [health] = [f for f in bot.frontends if isinstance(f, HealthServer)]

    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=0.02, stop=stop))
        try:
            inbox.deliver(make_mail(**DEVIATION))
            await until(lambda: console.sent or task.done(), "a notification")
            assert not task.done() and not health.listening
        finally:
            stop.set()
            await asyncio.wait_for(task, 20)
    try:
        asyncio.run(main())
    finally:
        bot.close()
        taken.close()
    errors = [r for r in caplog.records if r.name == "bot.ops.health" and r.levelname == "ERROR"]
    assert len(errors) == 1 and f"127.0.0.1:{port}" in errors[0].getMessage()
    assert errors[0].exc_info is None
