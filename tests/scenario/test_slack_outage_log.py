"""A day of `run` with a mailbox that answers and a Slack that is down for an hour produces
a log a person can read in a minute (issue 14, "Done when").

The day is simulated minute by minute the way the run loop works (read the mailbox,
deliver the outbox, the reminder scan every five minutes) on a FixedClock, so the outbox's
real back-off decides when each retry happens. Slack is the local fake Web API, which stops
listening for the hour: every call is refused (ECONNREFUSED) as when Slack is unreachable.

The outage is told once per channel, down and up (bot/ops/metrics.ChannelWatch); the
outbox adds one line per delayed notification at its first failed attempt, never one per
retry; slack_sdk's own per-request error line is filtered (handlers/slack.py).
"""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

from bot.app import build
from bot.chat.slack import notification_ref
from bot.mail.maildir import MaildirMailSource
from bot.ports import FixedClock
from bot.settings import Settings, load_organisation
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import SECRET, USERS, slack_config

START = datetime(2026, 11, 16, 6, 0, tzinfo=timezone.utc)        # Monday 07:00 in Stockholm
DOWN, UP = START + timedelta(hours=3), START + timedelta(hours=4)  # 10:00–11:00 local


def test_a_day_with_slack_down_for_an_hour_reads_in_a_minute(tmp_path, caplog):
    caplog.set_level(logging.INFO)          # what `run` logs
    with FakeSlackApi(USERS) as slack:
        config = slack_config(tmp_path)
        settings = Settings(config_path=config, data_dir=tmp_path / "data",
                            org=load_organisation(config),
                            env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                                 "SLACK_API_URL": slack.url, "HEALTH_PORT": "off"})
        clock = FixedClock(START)
        bot = build(settings, clock=clock, sender=FakeMailSender())
        inbox = MaildirMailSource(tmp_path / "data" / "inbox")
        mails = 0
        try:
            # the day, and Tuesday morning: the MA's and SAS's kännedom copies of the
            # afternoon go in their 08:00 bundle (issue 24)
            for minute in range(26 * 60):
                now = clock.now()
                if now == DOWN:
                    slack.go_down()
                if now == UP:
                    slack.come_back()
                local_hour = now.hour + 1
                if minute < 24 * 60 and 8 <= local_hour < 16 and minute % 20 == 0:  # 24 a day
                    mails += 1
                    inbox.deliver(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                            subject=f"Avvikelse Hemtjänst Norr, händelse {mails}",
                                            body="Vi anmäler en avvikelse."))
                bot.poll_mailbox()
                bot.services.deliver_outbox()
                if minute % 5 == 0:
                    bot.services.run_reminders()
                    bot.services.deliver_outbox()
                clock.set(now + timedelta(minutes=1))
            outbox = [*bot.store.outbox(), *bot.store.outbox_history()]   # live and delivered
        finally:
            bot.close()

    records = [r for r in caplog.records if r.name != "aiohttp.access"]
    text = "\n".join(logging.Formatter("%(levelname)s %(name)s %(message)s").format(r) for r in records)
    # nothing was lost: every notification went out once, after the outage too
    assert mails == 24
    assert [n for n in outbox if n["state"] != "sent"] == []
    posted = [c for c in slack.calls if c.method == "chat.postMessage"]
    refs = [c.params["metadata"]["event_payload"]["ref"] for c in posted]
    assert len(posted) == len(set(refs))
    on_slack = [n for n in outbox if n["channel"] == "slack"]
    assert len(on_slack) >= 2 * mails
    # one post per item, or per bundle of items (issue 24)
    assert set(refs) == {notification_ref(n.get("bundle") or n["id"]) for n in on_slack}

    # a log a person reads in a minute
    assert "Traceback" not in text and not [r for r in records if r.exc_info]
    assert len(records) <= 150, text
    problems = [r for r in records if r.levelno >= logging.WARNING]
    [down] = [r for r in problems if r.name == "bot.ops.metrics"]
    assert down.getMessage().startswith("slack: leveranserna misslyckas (Slack: ConnectionRefusedError)")
    retries = [r.getMessage() for r in problems if r is not down]
    delayed = [n for n in outbox if n["attempts"] > 1]
    assert 0 < len(retries) <= len(delayed), text            # per notification, not per attempt
    assert all(re.search(r"\(försök 1,", line) for line in retries), text
    [recovered] = [r for r in records if "leveranserna fungerar igen" in r.getMessage()]
    assert recovered.getMessage().startswith("slack: leveranserna fungerar igen efter 6")  # ~60+ min
