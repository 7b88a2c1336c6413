"""Failed notifications come back (issue 22): retried on their channel when it answers again,
re-queued by `outbox --retry` (also beside a running `run`), and /readyz is not ready while
any is failed. Decided by durable state: outbox rows, the fake Slack's conversations, the
`outbox --json` answer."""
from __future__ import annotations

import json

import pytest
from datetime import timedelta

from bot.app import build
from bot.chat.slack import notification_ref
from bot.ops.health import BotProbe
from bot.settings import Settings, load_organisation
from tests.conftest import EXAMPLE_CONFIG, round_the_clock_config
from tests.fakes.mail import make_mail
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_cli import DEVIATION, cli
from tests.scenario.test_cli_beside_run import start_run, stop, wait_until
from tests.scenario.test_long_outage import deviation, make_bot, slack_refs, step
from tests.scenario.test_slack import USERS


def test_without_email_failed_items_go_out_on_slack_when_it_answers_again(tmp_path, clock):
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api, email=False)
        probe = BotProbe(bot, 600.0)
        try:
            api.go_down()
            for n in range(3):
                bot.services.ingest_mail(deviation(n))
            start = clock.now()
            while clock.now() - start < timedelta(hours=4):     # longer than every retry
                step(bot, clock)
            failed = [x for x in bot.store.outbox() if x["state"] == "failed"]
            assert failed and all(x["channel"] == "slack" for x in failed)
            ok, body = probe.readiness()
            assert not ok and body["checks"]["outbox"]["failed"] == len(failed)
            assert any("gick inte fram" in reason for reason in body["reasons"])

            api.come_back()
            deadline = clock.now() + timedelta(minutes=20)      # the next probe finds it back
            while [x for x in bot.store.outbox() if x["state"] != "sent"]:
                assert clock.now() < deadline, "the failed items were not retried"
                step(bot, clock)
            refs = slack_refs(api)
            for item in failed:
                assert refs.count(notification_ref(item["id"])) == 1   # once, not twice
            assert sender.sent == []
            ok, body = probe.readiness()
            assert ok, body
        finally:
            bot.close()


def test_outbox_retry_requeues_failed_and_makes_waiting_due(tmp_path, clock):
    with FakeSlackApi(USERS) as api:
        bot, _ = make_bot(tmp_path, clock, api, email=False)
        try:
            api.go_down()
            bot.services.ingest_mail(deviation(1))
            start = clock.now()
            while clock.now() - start < timedelta(hours=3):
                step(bot, clock)
            failed = {x["id"] for x in bot.store.outbox() if x["state"] == "failed"}
            assert failed
            api.come_back()
            counts = bot.services.retry_outbox()
            assert counts["failed"] == len(failed)
            assert {x["id"] for x in bot.store.outbox() if x["state"] == "pending"} >= failed
            bot.services.deliver_outbox()
            assert not [x for x in bot.store.outbox() if x["state"] != "sent"]
        finally:
            bot.close()


def _failed_item(data, clock_now) -> str:
    """A notification left failed by an earlier process: a Slack user the bot could not
    reach (not retried by itself; an administrator's `outbox --retry` does)."""
    config = EXAMPLE_CONFIG
    settings = Settings(config_path=config, data_dir=data, org=load_organisation(config), env={})
    bot = build(settings)
    try:
        with bot.services.uow as store:
            store.add_notification({
                "id": "retry-me", "recipient": "anna", "channel": "slack", "diary_number": None,
                "event": "digest", "text": "Sammanfattning", "view": {}, "state": "failed",
                "created": "2026-11-16T08:00:00+00:00", "attempts": 8, "unreachable": True,
                "next_attempt": "2026-11-16T08:00:00+00:00",
                "failed_at": "2026-11-16T10:00:00+00:00"})
    finally:
        bot.close()
    return "retry-me"


def _state(data, item_id: str) -> str:
    done = cli(data, "outbox", "--json")
    assert done.returncode == 0, done.stderr
    return next(x["state"] for x in json.loads(done.stdout) if x["text"] == "Sammanfattning")


def test_outbox_retry_reaches_a_running_run(tmp_path):
    data = tmp_path / "data"
    _failed_item(data, None)
    # `run` on the real clock: notices at any hour, else the new case's wait for the morning
    runner = start_run(data, round_the_clock_config(tmp_path / "etc"))
    try:
        from bot.mail.maildir import MaildirMailSource
        MaildirMailSource(data / "inbox").deliver(make_mail(**DEVIATION))
        # run has delivered a round (the new case's notifications went out) ...
        wait_until(lambda: any(x["state"] == "sent" and x["event"] == "incoming_diarised"
                               for x in json.loads(cli(data, "outbox", "--json").stdout)))
        assert _state(data, "retry-me") == "failed"          # ... and left this one alone
        done = cli(data, "outbox", "--retry")
        assert done.returncode == 0, done.stderr
        assert "1 misslyckade aviseringar köades igen" in done.stdout
        wait_until(lambda: _state(data, "retry-me") == "sent")
    finally:
        stop(runner)


def test_outbox_retry_without_run(tmp_path):
    data = tmp_path / "data"
    _failed_item(data, None)
    done = cli(data, "outbox", "--retry", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"failed": 1, "pending": 0}
    assert _state(data, "retry-me") == "pending"


def test_a_unit_post_slack_refuses_waits_on_slack_for_outbox_retry(tmp_path, clock):
    """The bot not invited to the unit's channel: the post cannot go by mail, so it waits,
    failed, on its own channel (not retried by itself); once fixed, `outbox --retry` posts it
    there."""
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api)
        try:
            api.fail("chat.postMessage", status=200, error="not_in_channel", times=50)
            bot.services.ingest_mail(deviation(2))              # Hemtjänst Norr
            step(bot, clock)        # every post refused: people go by e-mail, the unit's waits
            with api._lock:         # the channel fixed
                api._scripts.clear()
            for _ in range(2):
                step(bot, clock)
            [post] = [x for x in bot.store.outbox() if x["recipient"].startswith("unit:")]
            if post["state"] != "failed":
                pytest.fail(f"the refused post is {post['state']}")
            assert post["channel"] == "slack"
            clock.set(clock.now() + timedelta(hours=1))
            step(bot, clock)
            assert bot.store.notification(post["id"])["state"] == "failed"   # not by itself
            assert bot.services.retry_outbox()["failed"] == 1
            bot.services.deliver_outbox()
            assert bot.store.notification(post["id"])["state"] == "sent"
            assert slack_refs(api).count(notification_ref(post["id"])) == 1
        finally:
            bot.close()


def test_a_failed_skicka_mail_is_not_sent_again_by_itself(tmp_path, clock):
    """`skicka`'s mail that failed: the registrators were told and may have acted, so the
    outbox never sends it again by itself (no probe, no re-queue); only `outbox --retry` does."""
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api)
        try:
            with bot.services.uow as store:
                store.add_notification({
                    "id": "send:VOK 2026/0001:1", "recipient": "rut", "channel": "counterpart",
                    "diary_number": "VOK 2026/0001", "event": "send", "text": "", "view": {},
                    "state": "failed", "created": clock.now().isoformat(), "attempts": 8,
                    "next_attempt": clock.now().isoformat(), "job": {}})
            bot.services.ingest_mail(deviation(1))       # other mail goes out meanwhile
            for _ in range(40):                          # more than a probe interval
                step(bot, clock)
            item = bot.store.notification("send:VOK 2026/0001:1")
            assert item["state"] == "failed" and "claimed_at" not in item
            assert bot.services.retry_outbox()["failed"] == 1
        finally:
            bot.close()
