"""A chat channel that is down: the outbox keeps retrying, the log says so once when it
stops and once when it works again, and Slack's SDK does not add a line per attempt."""
from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest

from bot.errors import DeliveryError
from bot.ops.metrics import metered
from handlers.slack import create_slack
from tests.fakes.mail import make_mail
from tests.fakes.notifier import FakeNotifier
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import ANNA_DM, USERS, make_bot


def deviation(n: int) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse Hemtjänst Norr, händelse {n}", body="Vi anmäler en avvikelse.")


def test_an_outage_is_one_line_down_and_one_line_up_however_many_retries(bot, clock, caplog):
    down = FakeNotifier(fail_times=12, error=DeliveryError("Slack: ConnectionRefusedError"))
    bot.notifiers["console"] = down
    metered(bot.notifiers, bot.metrics, bot.clock)
    caplog.set_level(logging.INFO)
    for n in range(3):
        bot.services.ingest_mail(deviation(n))
    start = clock.now()
    queued = sorted(n["id"] for n in bot.store.outbox())
    assert len(queued) == 9                    # three notifications per case
    # bundling (issue 24): the MA's and SAS's kännedom copies wait for 13:00 and go as one
    # message each; counted per outbox item, every one delivered once
    while sorted(down.items()) != queued:
        bot.services.deliver_outbox()
        clock.set(clock.now() + timedelta(minutes=1))
        assert clock.now() - start < timedelta(hours=5), "never delivered"
    assert len(down.sent) == 5                 # anna's three at once, maria's and sven's bundles
    lines = [r for r in caplog.records if r.name == "bot.ops.metrics"]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"]
    assert lines[0].getMessage() == ("console: leveranserna misslyckas (Slack: ConnectionRefusedError); "
                                     "utkorgen försöker igen med ökande väntetid")
    assert lines[1].getMessage().startswith("console: leveranserna fungerar igen efter ")
    # recipients are served in parallel: a failed attempt that raced the first success may
    # be left out of the line, never counted twice
    failures = int(re.search(r"\((\d+) misslyckade försök\)", lines[1].getMessage()).group(1))
    assert 1 <= failures <= 12
    assert bot.metrics.registry.get_sample_value(
        "avvikelsebot_deliveries_total", {"channel": "console", "result": "error"}) == 12


def test_slack_refusing_connections_is_a_translated_error_without_the_sdks_own_line(tmp_path, clock, caplog):
    with FakeSlackApi(USERS) as api:
        bot = make_bot(tmp_path, clock, api)
        try:
            caplog.set_level(logging.DEBUG)
            notifier = bot.slack.notifier
            bot.services.ingest_mail(deviation(1))
            [item] = [n for n in bot.store.outbox() if n["recipient"] == "anna"]
            api.go_down()
            with pytest.raises(DeliveryError) as refused:
                notifier.send(item)
            assert str(refused.value) == "Slack: ConnectionRefusedError"
            assert not [r for r in caplog.records if r.name.startswith("slack_sdk") and r.levelno >= logging.ERROR]
            api.come_back()
            assert notifier.send(item)["channel"] == ANNA_DM
        finally:
            bot.close()


def test_the_quiet_sdk_logger_still_passes_other_slack_sdk_lines(tmp_path, clock, caplog):
    with FakeSlackApi(USERS) as api:
        bot = make_bot(tmp_path, clock, api)
        bot.close()
        client = create_slack(bot.settings, bot.services).notifier.client
    caplog.set_level(logging.DEBUG)
    client.logger.error("something else the SDK reports")
    client.logger.error("Failed to send a request to Slack API server: <urlopen error refused>")
    assert [r.getMessage() for r in caplog.records] == ["something else the SDK reports"]
