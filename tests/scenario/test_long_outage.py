"""A Slack outage longer than every retry budget loses no notification (issue 22).

The outage day: Slack (the local fake Web API) refuses every connection for 10 hours of the
injected clock while deviations arrive and reminders run. Each notification ends delivered on
Slack after it came back or visibly handed to e-mail (the fallback mail, recorded by the fake
mail sender, says it was meant for Slack and why it comes by mail), none `failed`, none lost,
none delivered twice; /readyz is 503 with a reason while items are failed or waiting long,
and 200 once they are handled. Decided by durable state (the outbox rows, the fake Slack's
conversations, the recorded mails), never by sleeps.
"""
from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from bot.app import build
from bot.chat.slack import notification_ref
from bot.ops.health import BotProbe
from bot.settings import Settings, load_organisation
from bot.usecases.outbox import MAX_ATTEMPTS
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import SECRET, USERS, slack_config

OUTAGE = timedelta(hours=10)
STEP = timedelta(minutes=2)
MAIL_EVERY = timedelta(minutes=20)
STALE_AFTER = 600.0


def deviation(n: int) -> bytes:
    unit = ("Hemtjänst Norr", "Hemtjänst Söder")[n % 2]
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {unit}, händelse {n}",
                     body=f"Vi anmäler en avvikelse nummer {n}: utebliven insulindos.",
                     message_id=f"<outage-{n}@regionexempel.se>")


def make_bot(tmp_path, clock, api: FakeSlackApi, *, email: bool = True,
             database_url: str | None = None):
    config = slack_config(tmp_path)
    env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": api.url, "SLACK_PORT": "0"}
    if database_url:
        env["DATABASE_URL"] = database_url
    if email:       # the e-mail channel on (the fake sender stands in for the SMTP server)
        env["SMTP_HOST"] = "127.0.0.1"
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=load_organisation(config),
                        env=env)
    sender = FakeMailSender()
    return build(settings, clock=clock, sender=sender), sender


def originals(bot) -> list[dict]:
    return [n for n in bot.store.outbox() if not n["id"].startswith("fallback:")]


def slack_refs(api: FakeSlackApi) -> list[str]:
    return [(m.get("metadata") or {}).get("event_payload", {}).get("ref")
            for messages in api.messages.values() for m in messages]


def ready(probe: BotProbe) -> tuple[bool, dict]:
    return probe.readiness()


def step(bot, clock) -> None:
    bot.poll_mailbox()                       # an empty maildir: the mailbox is healthy
    bot.services.deliver_outbox()
    bot.services.run_reminders()
    clock.set(clock.now() + STEP)


@pytest.fixture(params=["tinydb", "postgresql"])
def store_url(request):
    """Both stores (the real PostgreSQL from tests/realparts: fails, never skips)."""
    return request.getfixturevalue("database_url") if request.param == "postgresql" else None


def test_the_outage_day_ends_with_every_notification_on_slack_or_by_mail(tmp_path, clock, store_url):
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api, database_url=store_url)
        probe = BotProbe(bot, STALE_AFTER)
        try:
            # the day before: two cases, delivered, so that the outage day has reminders too
            clock.set(clock.now() - timedelta(days=7))
            for n in range(2):
                bot.services.ingest_mail(deviation(100 + n))
            bot.services.deliver_outbox()
            before = {n["id"] for n in originals(bot) if n["state"] == "sent"}
            clock.set(clock.now() + timedelta(days=7) - timedelta(hours=2))  # Monday 07:30 local

            api.go_down()
            start, next_mail, n = clock.now(), clock.now(), 0
            seen_failed_reason = seen_backlog_reason = False
            while clock.now() - start < OUTAGE:
                if clock.now() >= next_mail:
                    bot.services.ingest_mail(deviation(n))
                    n, next_mail = n + 1, next_mail + MAIL_EVERY
                step(bot, clock)
                if clock.now().minute < 2:        # a scrape of /readyz every hour
                    ok, body = ready(probe)
                    reasons = " ".join(body["reasons"])
                    seen_backlog_reason |= "väntar på att levereras" in reasons
                    seen_failed_reason |= "gick inte fram" in reasons
                    assert not ok
            assert seen_backlog_reason, "/readyz never said notifications are waiting"
            # the unit channel's posts cannot go by mail: they wait, failed, and say so
            assert seen_failed_reason, "/readyz never said notifications failed"
            failed_during = [x for x in originals(bot) if x["state"] == "failed"]
            assert failed_during and {x["recipient"] for x in failed_during} <= {"unit:hemtjanst-norr"}
            metrics = bot.metrics.registry
            assert metrics.get_sample_value("avvikelsebot_outbox_notifications",
                                            {"state": "failed"}) == len(failed_during)
            assert metrics.get_sample_value("avvikelsebot_outbox_notifications",
                                            {"state": "overdue"}) > 0
            handed = [x for x in originals(bot) if x["state"] == "fallback"]
            assert handed, "nothing was handed to e-mail in ten hours"

            api.come_back()
            back = clock.now()
            # more than a probe interval and a back-off after the kännedom copies' next
            # bundle time (08:00 the next business day, issue 24)
            deadline = back + timedelta(hours=16) + timedelta(hours=2)
            while any(x["state"] != "sent" and x["state"] != "fallback" for x in bot.store.outbox()):
                assert clock.now() < deadline, [
                    (x["id"], x["state"]) for x in bot.store.outbox() if x["state"] not in ("sent", "fallback")]
                step(bot, clock)
            ok, body = ready(probe)
            assert ok, body
            assert body["checks"]["outbox"]["failed"] == 0

            items = {x["id"]: x for x in bot.store.outbox()}
            day = [x for x in originals(bot) if x["id"] not in before]
            on_slack = [x for x in day if x["state"] == "sent" and x["channel"] == "slack"]
            by_mail = [x for x in day if x["state"] == "fallback"]
            direct_mail = [x for x in day if x["state"] == "sent" and x["channel"] == "email"]
            assert len(on_slack) + len(by_mail) + len(direct_mail) == len(day)   # none lost
            assert not [x for x in day if x["state"] == "failed"]
            # handed to e-mail: a mail that says so went out for each, and none on Slack too
            mails = {m["X-Avvikelsebot-Notification"]: m for m in sender.sent}
            refs = slack_refs(api)
            for item in by_mail:
                assert item["attempts"] >= MAX_ATTEMPTS
                for fallback_id in item["fallback_to"]:
                    assert items[fallback_id]["state"] == "sent"
                    # alone, or with the rest of its bundle in one mail (issue 24)
                    body_text = mails[items[fallback_id].get("bundle") or fallback_id].get_content()
                    assert "skulle ha kommit" in body_text and "Slack" in body_text
                    assert "med e-post" in body_text
                assert notification_ref(item.get("bundle") or item["id"]) not in refs
            # delivered late on Slack exactly once each (alone, or in its bundle's one post)
            for item in on_slack:
                assert refs.count(notification_ref(item.get("bundle") or item["id"])) == 1
            late = [x for x in on_slack if x["sent_at"] >= back.isoformat()[:19]]
            assert len(late) >= len(failed_during)
            figures = {"notifications": len(day), "delivered_late_on_slack": len(late),
                       "of_which_failed_unit_posts_requeued": len(failed_during),
                       "on_slack_in_time": len(on_slack) - len(late), "via_email": len(by_mail),
                       "email_direct": len(direct_mail), "failed": 0, "lost": 0,
                       "mails": n, "fallback_mails": sum(len(x["fallback_to"]) for x in by_mail),
                       "events": dict(Counter(x["event"] for x in day)),
                       "slack_items": len(on_slack) + len(by_mail)}
            print("OUTAGE DAY", "postgresql" if store_url else "tinydb", json.dumps(figures))
            assert len(day) >= 60
        finally:
            bot.close()


def test_the_fallback_mail_goes_once_when_the_bot_is_killed_after_claiming_it(tmp_path, clock):
    """Claim, act, record: the hand-over and the mail's queueing are one transaction; a
    process killed after claiming the mail leaves it to the next, which sends it with the
    Message-ID fixed by its id (one message to the recipient's server), and records it once."""
    from bot.chat.email import notification_message_id
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api)
        try:
            api.go_down()
            bot.services.ingest_mail(deviation(1))
            start = clock.now()
            while not bot.store.outbox(state="fallback"):
                assert clock.now() - start < timedelta(hours=4), "never handed to e-mail"
                step(bot, clock)
            handed = bot.store.outbox(state="fallback")
            mails = [x for x in bot.store.outbox() if x["id"].startswith("fallback:")]
            assert sorted(m["id"] for m in mails) == sorted(i for x in handed for i in x["fallback_to"])
            assert all(m["state"] == "pending" for m in mails)
            bot.services.outbox._claim(None)     # claimed (durably "sending") ... and killed
            assert all(bot.store.notification(m["id"])["state"] == "sending" for m in mails)
            assert not [m for m in sender.sent if m["X-Avvikelsebot-Notification"].startswith("fallback:")]
        finally:
            bot.close()
        again, sender = make_bot(tmp_path, clock, api)
        try:
            clock.set(clock.now() + timedelta(minutes=1))
            again.services.deliver_outbox()
            again.services.deliver_outbox()
            sent = [m for m in sender.sent if m["X-Avvikelsebot-Notification"].startswith("fallback:")]
            ids = [m["X-Avvikelsebot-Notification"] for m in sent]
            assert all(ids.count(m["id"]) == 1 for m in mails), ids      # each once
            mailbox = again.settings.org.mailbox
            for message in sent:
                assert message["Message-ID"] == notification_message_id(
                    message["X-Avvikelsebot-Notification"], mailbox)
            assert all(again.store.notification(m["id"])["state"] == "sent" for m in mails)
            assert all(again.store.notification(x["id"])["state"] == "fallback" for x in handed)
            assert not [r for r in slack_refs(api) if r in {notification_ref(x["id"]) for x in handed}]
        finally:
            again.close()


def test_a_person_without_an_address_is_reached_through_the_registrators(tmp_path, clock):
    """The organisation file requires an address today; a directory without one (a person
    whose address was removed) still loses nothing: the registrators get it, and are told
    whom it was meant for."""
    from dataclasses import replace
    with FakeSlackApi(USERS) as api:
        bot, sender = make_bot(tmp_path, clock, api)
        try:
            people = bot.services.org.people
            people["anna"] = replace(people["anna"], email="")
            api.go_down()
            bot.services.ingest_mail(deviation(2))      # Hemtjänst Norr: anna manages it
            start = clock.now()
            while not [x for x in bot.store.outbox(state="fallback") if x["recipient"] == "anna"]:
                assert clock.now() - start < timedelta(hours=4), "never handed to e-mail"
                step(bot, clock)
            [item] = [x for x in bot.store.outbox(state="fallback") if x["recipient"] == "anna"]
            bot.services.deliver_outbox()
            to = {bot.store.notification(i)["recipient"] for i in item["fallback_to"]}
            assert to == set(bot.services.org.registrators())
            [mail] = [m for m in sender.sent
                      if m["X-Avvikelsebot-Notification"] in item["fallback_to"]]
            assert "Anna Andersson" in mail.get_content() and "ingen e-postadress" in mail.get_content()
        finally:
            bot.close()
