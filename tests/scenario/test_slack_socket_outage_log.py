"""Slack's Socket Mode reconnect noise is one line when the connection goes and one when it
is back (issue 22, item 6): the SDK's own client, pointed at the local Slack, which drops the
websocket and refuses every connection for a while, as when Slack is unreachable. The SDK
retries every ping interval (10 s in `run`; 0.1 s here) and logged one ERROR line with a
traceback per attempt (~7,000 a day)."""
from __future__ import annotations

import asyncio
import io
import logging

import pytest

from bot.logs import setup_logging
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import USERS, make_bot

OUTAGE_SECONDS = 6.0
PING = 0.1


@pytest.fixture
def service_log():
    """The log `run` writes: bot.logs.setup_logging at INFO, into a string."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(logging.INFO, "text", stream=stream)
    yield stream
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def test_a_socket_mode_outage_is_one_line_down_and_one_line_back(tmp_path, clock, service_log):
    with FakeSlackApi(USERS) as slack:
        bot = make_bot(tmp_path, clock, slack, SLACK_APP_TOKEN="xapp-test", SLACK_SIGNING_SECRET="")
        bot.slack.ping_interval = PING

        async def scenario():
            await bot.slack.start()
            try:
                await slack.wait_for_async(lambda: slack.connected)
                opened = len(slack.calls_to("apps.connections.open"))
                slack.go_down(drop_sockets=True)
                await asyncio.sleep(OUTAGE_SECONDS)       # the outage: every attempt refused
                slack.come_back()
                await slack.wait_for_async(lambda: slack.connected, timeout=15)
                await slack.wait_for_async(
                    lambda: "is back" in service_log.getvalue(), timeout=5)
                return opened
            finally:
                await bot.slack.stop()

        try:
            assert bot.slack.mode == "socket"
            asyncio.run(scenario())
        finally:
            bot.close()

    lines = service_log.getvalue().splitlines()
    socket = [line for line in lines if "Socket Mode connection" in line]
    assert len(socket) == 2, "\n".join(lines)
    down, back = socket
    assert "WARNING" in down and "is down" in down and "Connect call failed" in down
    assert "INFO" in back and "is back after" in back
    attempts = int(back.split("(")[-1].split()[0])
    assert attempts >= 3, back                          # the SDK did retry, quietly
    sdk = [line for line in lines if "slack_sdk" in line or "slack_bolt" in line]
    assert sdk == socket or all("Socket Mode connection" in line for line in sdk), "\n".join(sdk)
    assert "Traceback" not in service_log.getvalue() and "Retrying" not in service_log.getvalue()
    assert len(lines) <= 8, "\n".join(lines)
