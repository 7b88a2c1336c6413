"""Graph's Retry-After is honoured on every call, sendMail included, and the retry happens
when the time is up (issue 22, item 7): through the real O365 and msal code against the
local Graph, which refuses every matching request until the Retry-After it gave has passed
(FakeGraphServer.throttle), as Graph does."""
from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from datetime import datetime, timezone

import pytest

from bot.app import build
from bot.chat.email import EmailNotifier
from bot.mail.graph import GraphMailSender, GraphMailSource, RetryPolicy
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.mail import make_mail
from tests.fakes.notifier import FakeNotifier

RETRY_AFTER = 8


@pytest.fixture
def graph():
    with FakeGraphServer() as server:
        yield server


@pytest.fixture
def graph_settings(settings, graph):
    # these bots run on the real clock: notices at any hour ("dygnet runt"), else the example's
    # "omedelbart" holds the notification mail in the evening and at weekends
    return dataclasses.replace(settings, env=graph.env(),     # GRAPH_POLL_SECONDS: 15
                               org=dataclasses.replace(settings.org, notify_default="dygnet runt"))


def deviation(n: int) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {n} – utebliven insulindos, Hemtjänst Norr",
                     body="Vi rapporterar en avvikelse inom Hemtjänst Norr.",
                     date=datetime(2026, 11, 16, 7, n, tzinfo=timezone.utc),
                     message_id=f"<avvikelse-{n}@regionexempel.se>")


class Running:
    """The bot's real run loop (default poll interval) in a thread of its own."""

    def __init__(self, bot):
        self.bot, self.loop = bot, asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete,
                                       args=(self._run(),), daemon=True)

    async def _run(self):
        self.stop = asyncio.Event()
        await self.bot.run_forever(stop=self.stop)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(30)
        self.bot.close()


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _bot(graph_settings, graph, retry: RetryPolicy | None = None):
    sender = GraphMailSender.from_settings(graph_settings, verify=graph.ca_path, retry=retry)
    source = GraphMailSource.from_settings(graph_settings, verify=graph.ca_path, retry=retry)
    bot = build(graph_settings, mail=source, sender=sender, notifiers={"console": FakeNotifier(),
                                          "email": EmailNotifier(graph_settings.org, sender)})
    assert bot.services.channels.get("email")
    return bot


# a Retry-After a call may sleep through (≤ RetryPolicy.max_wait), and a longer one than a
# call may block for, which the caller must schedule (the outbox item's next attempt, the
# mail source's next read)
SLEPT, SCHEDULED = RetryPolicy(), RetryPolicy(max_wait=2.0)


@pytest.mark.parametrize("retry, http_date", [(SLEPT, False), (SCHEDULED, False), (SLEPT, True)],
                         ids=["slept", "scheduled", "http-date"])
def test_a_throttled_notification_mail_is_sent_when_retry_after_is_up_and_once(
        graph, graph_settings, retry, http_date):
    graph.throttle(RETRY_AFTER, method="POST", path=r"/sendMail$", http_date=http_date)
    graph.add_message(deviation(1))
    with Running(_bot(graph_settings, graph, retry)) as running:
        assert wait_for(lambda: graph.graph_requests("POST", r"/sendMail$"), 15), "nothing sent"
        first = graph.graph_requests("POST", r"/sendMail$")[0]
        assert first.status == 429
        assert wait_for(lambda: graph.sent, RETRY_AFTER + 4), (
            f"not sent within {RETRY_AFTER + 4} s of the 429: "
            f"{[r.status for r in graph.graph_requests('POST', r'/sendMail$')]}")
        sent_at = min(r.at for r in graph.graph_requests("POST", r"/sendMail$") if r.status == 202)
        assert RETRY_AFTER - 0.5 <= sent_at - first.at <= RETRY_AFTER + 4
        # (the MA's and SAS's kännedom copies wait for their bundle at 08:00/13:00 of a
        # business day, issue 24: this is about the mails that go at once)
        queued = [n for n in running.bot.store.outbox() if n["channel"] == "email"
                  and not n.get("bundlable")]
        assert wait_for(lambda: len(graph.sent) == len(queued), 10)
        assert wait_for(lambda: all(n["state"] == "sent" for n in running.bot.store.outbox()
                                    if n["channel"] == "email" and not n.get("bundlable")), 10)
    message_ids = [m.split(b"Message-ID:", 1)[1].split(b"\n", 1)[0].strip() for m in graph.sent]
    assert len(message_ids) == len(set(message_ids)) == len(queued)
    refused = [r for r in graph.graph_requests("POST", r"/sendMail$") if r.status == 429]
    assert all(r.at - first.at < RETRY_AFTER for r in refused)   # no retry before its time


@pytest.mark.parametrize("retry", [SLEPT, SCHEDULED], ids=["slept", "scheduled"])
def test_a_throttled_delta_query_is_read_when_retry_after_is_up(graph, graph_settings, retry):
    graph.throttle(RETRY_AFTER, method="GET", path=r"/delta$")
    graph.add_message(deviation(1))
    with Running(_bot(graph_settings, graph, retry)) as running:
        assert wait_for(lambda: graph.graph_requests("GET", r"/delta$"), 15)
        first = graph.graph_requests("GET", r"/delta$")[0]
        assert first.status == 429
        assert wait_for(lambda: running.bot.store.get_case_by_text("VOK 2026/0001") is not None,
                        RETRY_AFTER + 4), "the mail was not read within Retry-After + 4 s"
        read = min(r.at for r in graph.graph_requests("GET", r"/delta$") if r.status == 200)
        assert RETRY_AFTER - 0.5 <= read - first.at <= RETRY_AFTER + 4
    refused = [r for r in graph.graph_requests("GET", r"/delta$") if r.status == 429]
    assert all(r.at - first.at < RETRY_AFTER for r in refused)
