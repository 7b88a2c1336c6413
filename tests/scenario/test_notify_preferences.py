"""Issue 24: `avisering omedelbart | samlat TT:MM | tyst`. A manager who batches at 15:00
gets nothing before 15:00 and everything at 15:00, a red case still at once; the setting is
kept with its history on both stores, and `hjälp` shows it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.domain.notify import PREFIX
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import cli

MONDAY_0930 = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)    # 09:30 in Stockholm


def local(hour: int, minute: int = 0, day: int = 16) -> datetime:
    """A moment on November `day` 2026, Stockholm wall time (UTC+1)."""
    return datetime(2026, 11, day, hour - 1, minute, tzinfo=timezone.utc)


def say(bot, who: str, text: str, channel: str = "slack"):
    return bot.services.handle_command(Actor.person(who), text, channel)


def deviation(bot, n: int, *, red: bool = False) -> str:
    body = "Allvarlighetsgrad: röd\nBrukaren föll." if red else "Utebliven insats."
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse {n} – Hemtjänst Norr", body=body,
        message_id=f"<pref-{n}@regionexempel.se>", date=MONDAY_0930))
    assert result["outcome"] == "new_case"
    return result["diary_number"]


def delivered_to(bot, notifier, person: str, at: datetime) -> list[str]:
    bot.clock.set(at)
    bot.services.deliver_outbox()
    return [n["diary_number"] for n in notifier.to(person)]


def test_batched_at_15_gets_nothing_before_and_everything_at_15(bot, clock, notifier):
    reply = say(bot, "anna", "avisering samlat 15:00")
    assert reply.ok and "samlat 15:00" in reply.text and "kl. 15:00" in reply.text
    numbers = [deviation(bot, n) for n in range(1, 4)]
    assert delivered_to(bot, notifier, "anna", local(9, 31)) == []
    # the held items say until when, in the outbox
    held = [n for n in bot.store.outbox() if n["recipient"] == "anna"]
    assert {n["held_until"] for n in held} == {"2026-11-16T14:00:00+00:00"}
    clock.set(local(11))
    red = deviation(bot, 4, red=True)                                    # a red case: at once
    assert delivered_to(bot, notifier, "anna", local(11, 1)) == [red]
    assert "sven" in {n["recipient"] for n in notifier.sent if n["event"] == "lex_requested"}
    assert delivered_to(bot, notifier, "anna", local(14, 59)) == [red]
    at_15 = delivered_to(bot, notifier, "anna", local(15))
    assert at_15[0] == red and sorted(at_15[1:]) == sorted(numbers)
    # others, who chose nothing, got theirs at once as before
    assert notifier.to("sven") or notifier.to("maria")


def test_batched_after_the_time_waits_for_the_next_business_day(bot, clock, notifier):
    assert say(bot, "anna", "avisering samlat 09:00").ok
    clock.set(local(16, 0, day=20))                                       # Friday 16:00
    deviation(bot, 1)
    assert delivered_to(bot, notifier, "anna", local(23, 0, day=20)) == []
    assert delivered_to(bot, notifier, "anna", local(8, 59, day=23)) == []   # Monday
    assert len(delivered_to(bot, notifier, "anna", local(9, 0, day=23))) == 1


def test_immediate_outside_working_hours_waits_for_the_morning(bot, clock, notifier):
    assert say(bot, "anna", "avisering omedelbart").ok
    clock.set(local(19))
    deviation(bot, 1)
    assert delivered_to(bot, notifier, "anna", local(22)) == []
    assert len(delivered_to(bot, notifier, "anna", local(8, 0, day=17))) == 1


def test_quiet_is_recorded_never_sent_and_the_digest_still_comes(bot, clock, notifier, tmp_path):
    assert say(bot, "anna", "avisering tyst").ok
    deviation(bot, 1)
    assert delivered_to(bot, notifier, "anna", local(9, 31)) == []
    muted = [n for n in bot.store.outbox() if n["recipient"] == "anna"]
    assert [n["state"] for n in muted] == ["muted"] and muted[0]["preference"] == "tyst"
    assert delivered_to(bot, notifier, "anna", local(15, 0, day=18)) == []
    # the case is there for her all the same
    assert "Avvikelse 1" in say(bot, "anna", "mina").text
    # Monday's digest is the summary a quiet person gets
    bot.services.run_reminders(local(8, 5, day=23))
    # (it waits its bundle window, [notifications] bundle_minutes, for reminders to join it)
    got = delivered_to(bot, notifier, "anna", local(8, 16, day=23))
    assert [n["event"] for n in notifier.to("anna")] == ["digest"] and len(got) == 1


def test_a_named_channel_is_kept_apart(bot, clock, notifier):
    # Anna's channel here is the console: a Slack setting does not touch it
    assert say(bot, "anna", "avisering slack tyst").ok
    deviation(bot, 1)
    assert len(delivered_to(bot, notifier, "anna", local(9, 31))) == 1


def test_hjalp_shows_the_setting_and_avisering_its_history(bot, clock):
    before = say(bot, "anna", "hjälp").text
    assert "avisering [kanal] omedelbart|samlat TT:MM|tyst|dygnet runt" in before
    assert "Din avisering i konsolen: standard: omedelbart" in before
    assert say(bot, "anna", "avisering samlat 15:00").ok
    clock.set(local(10))
    assert say(bot, "anna", "avisering tyst", channel="email").ok
    assert "Din avisering i konsolen: tyst (arbetstid 08:00–16:30, kontorets)" in \
        say(bot, "anna", "hjälp").text
    overview = say(bot, "anna", "avisering").text
    assert "2026-11-16 09:30 anna (konsolen): standard: omedelbart → samlat 15:00" in overview
    assert "2026-11-16 10:00 anna (konsolen): samlat 15:00 → tyst" in overview


def test_hjalp_in_english(settings, clock, notifier):
    from dataclasses import replace
    english = replace(settings, org=replace(settings.org, language="en"))
    bot = build(english, notifiers={"console": notifier}, clock=clock)
    try:
        assert say(bot, "anna", "avisering samlat 15:00").text.startswith(
            "Notifications on the console: samlat 15:00 (was default: omedelbart).")
        assert "Your notifications on the console: samlat 15:00" in say(bot, "anna", "help").text
    finally:
        bot.close()


@pytest.fixture(params=["tinydb", "postgresql"])
def reopenable(request, settings, clock, notifier):
    """make() -> a bot on this test's one store (TinyDB data directory or PostgreSQL)."""
    bots = []

    def make():
        store = None
        if request.param == "postgresql":
            from bot.store.postgres import PostgresCaseStore
            store = PostgresCaseStore(request.getfixturevalue("database_url"))
        made = build(settings, notifiers={"console": notifier}, clock=clock, store=store)
        bots.append(made)
        return made
    yield make
    for made in bots:
        made.close()


def test_the_change_is_kept_durably_on_both_stores(reopenable, clock):
    first = reopenable()
    assert say(first, "anna", "avisering samlat 15:00").ok
    first.close()
    again = reopenable()
    state = again.store.get_state(PREFIX + "anna")
    assert state["channels"] == {"console": {"mode": "batched", "at": "15:00"}}
    assert state["history"] == [{"at": MONDAY_0930.isoformat(), "by": "anna", "via": "slack",
                                 "channel": "console", "old": "standard", "new": "samlat 15:00"}]
    assert "samlat 15:00" in say(again, "anna", "hjälp").text
    deviation(again, 1)
    assert {n["held_until"] for n in again.store.outbox() if n["recipient"] == "anna"} == {
        (MONDAY_0930.replace(hour=14, minute=0)).isoformat()}


def test_the_dry_run_says_when_it_would_be_delivered(tmp_path):
    data = tmp_path / "data"
    assert cli(data, "command", "--as", "anna", "avisering samlat 15:00").returncode == 0
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse – Hemtjänst Norr", body="Utebliven insats.",
                               date=datetime(2026, 1, 5, 9, tzinfo=timezone.utc)))
    assert cli(data, "ingest", str(mail)).returncode == 0
    shown = cli(data, "reminders", "--at", "2026-01-12T09:00:00+01:00")
    assert shown.returncode == 0, shown.stderr
    line = next(l for l in shown.stdout.splitlines() if "anna" in l)
    assert "levereras 2026-01-12 15:00 +01:00 (samlat 15:00)" in line
    as_json = cli(data, "reminders", "--at", "2026-01-12T09:00:00+01:00", "--json")
    import json
    item = next(d for d in json.loads(as_json.stdout) if d["recipient"] == "anna")
    assert item["preference"] == "samlat 15:00" and item["delivery"].startswith("2026-01-12T15:00")


def test_a_held_item_is_not_a_late_one_for_readyz(org, tmp_path, clock):
    """/readyz is 503 when a notification waits longer than the alert time; an item held
    until 15:00 by `avisering samlat` waits from 15:00, not from its creation."""
    import asyncio
    from bot.mail.maildir import MaildirMailSource
    from tests.fakes.mail import FakeMailSender
    from tests.scenario.test_health_endpoints import (DEVIATION, get_json, health_settings,
                                                      running, until)
    bot = build(health_settings(org, tmp_path), clock=clock, sender=FakeMailSender())
    assert say(bot, "anna", "avisering samlat 15:00").ok
    inbox = MaildirMailSource(tmp_path / "data" / "inbox")

    def others_sent() -> bool:
        return all(n["state"] not in ("pending", "sending") for n in bot.store.outbox()
                   if n["recipient"] != "anna")

    async def main():
        async with running(bot) as health:
            inbox.deliver(make_mail(**DEVIATION))
            await until(lambda: any(n["recipient"] == "anna" for n in bot.store.outbox())
                        and all(n["state"] != "pending" for n in bot.store.outbox()
                                if n["recipient"] != "anna"), "the others delivered")
            # (the clock jumps hours ahead: the mailbox looks unread, and what became due
            # meanwhile, the MA's and SAS's kännedom copies held to 13:00, looks late, until
            # the next mailbox and outbox rounds; each check waits for both, so the only
            # question left is anna's held item)
            clock.set(local(14, 30))                          # five hours later, still held
            await until(lambda: bot.metrics.mailbox.last_success == clock.now()
                        and others_sent(), "a mailbox round and the others delivered")
            status, ready = await get_json(health, "/readyz")
            assert status == 200, ready
            assert [n["state"] for n in bot.store.outbox() if n["recipient"] == "anna"] == ["pending"]
            clock.set(local(15, 20))                          # due at 15:00, and delivered
            await until(lambda: [n["state"] for n in bot.store.outbox()
                                 if n["recipient"] == "anna"] == ["sent"] and others_sent()
                        and bot.metrics.mailbox.last_success == clock.now(),
                        "delivered at 15, and a mailbox round")
            status, ready = await get_json(health, "/readyz")
            assert status == 200, ready

    asyncio.run(main())


# ---------------------------------------------------------------- the shipped default (issue 24)
SATURDAY_2200 = local(22, day=21)
MONDAY_0800 = local(8, day=23)                   # the example's [office_hours] start


def arrives(bot, n: int, *, red: bool = False) -> str:
    """A deviation mail for Hemtjänst Norr (Anna manages it) arriving now."""
    body = "Allvarlighetsgrad: röd\nBrukaren föll." if red else "Utebliven insats."
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse {n} – Hemtjänst Norr", body=body,
        message_id=f"<default-{n}@regionexempel.se>", date=bot.clock.now()))
    assert result["outcome"] == "new_case"
    return result["diary_number"]


def test_the_shipped_default_is_quiet_outside_working_hours(bot, clock, notifier, org):
    """The example config says `default = "omedelbart"`: Anna, who chose nothing, gets a
    case that arrives Saturday 22:00 on Monday at 08:00, when the office opens; a red one,
    and the bot's own alarm (the mailbox cannot be read), at once."""
    assert org.notify_default == "omedelbart"
    assert "Din avisering i konsolen: standard: omedelbart" in say(bot, "anna", "hjälp").text
    clock.set(SATURDAY_2200)
    quiet = arrives(bot, 1)
    red = arrives(bot, 2, red=True)
    assert delivered_to(bot, notifier, "anna", SATURDAY_2200 + timedelta(minutes=1)) == [red]
    held = [n for n in bot.store.outbox() if n["recipient"] == "anna" and n["diary_number"] == quiet]
    assert held and {n["held_until"] for n in held} == {MONDAY_0800.isoformat()}
    assert {n["preference"] for n in held} == {"omedelbart"}
    # the bot's own alarm to the registrator: at once, on a Saturday night
    clock.set(SATURDAY_2200 + timedelta(minutes=2))
    assert bot.services.record_mailbox_health(False, "connection refused") is None
    clock.set(SATURDAY_2200 + timedelta(minutes=2 + org.mailbox_alert_minutes))
    assert bot.services.record_mailbox_health(False, "connection refused") == "mailbox_down"
    bot.services.deliver_outbox()
    assert [n["event"] for n in notifier.to("rut") if n["event"] == "mailbox_down"] == ["mailbox_down"]
    # nothing more for Anna on Sunday or before 08:00 on Monday; at 08:00 the case
    assert delivered_to(bot, notifier, "anna", local(12, day=22)) == [red]
    assert delivered_to(bot, notifier, "anna", MONDAY_0800 - timedelta(minutes=1)) == [red]
    assert delivered_to(bot, notifier, "anna", MONDAY_0800) == [red, quiet]


def test_round_the_clock_delivers_at_once_at_any_hour(settings, clock, notifier):
    """`default = "dygnet runt"` (an office with staff round the clock): Saturday 22:00 at once."""
    from dataclasses import replace
    from bot.settings import load_organisation
    from tests.conftest import round_the_clock_config
    config = round_the_clock_config(settings.data_dir.parent / "config")
    org = load_organisation(config)
    assert org.notify_default == "dygnet runt"
    clock.set(SATURDAY_2200)
    bot = build(replace(settings, config_path=config, org=org), notifiers={"console": notifier},
                clock=clock)
    try:
        number = arrives(bot, 1)
        assert delivered_to(bot, notifier, "anna", SATURDAY_2200) == [number]
        assert not any(n.get("held_until") for n in bot.store.outbox())
        assert "Din avisering i konsolen: standard: dygnet runt" in say(bot, "anna", "hjälp").text
        assert say(bot, "anna", "avisering omedelbart").ok     # her own choice still counts
        arrives(bot, 2)
        assert delivered_to(bot, notifier, "anna", SATURDAY_2200 + timedelta(minutes=1)) == [number]
    finally:
        bot.close()
