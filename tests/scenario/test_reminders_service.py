"""Reminders, escalations and the digest through the services, the store and real restarts."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.domain.access import Actor
from reminders.scheduler import start_scheduler
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))
DEVIATION = dict(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                 subject="Avvikelse – fel dos, Hemtjänst Norr",
                 body="Avvikelse hos Hemtjänst Norr.", message_id="<rem-1@regionexempel.se>",
                 date=datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc))


def utc(day: int, hour: int = 7, minute: int = 0, month: int = 11) -> datetime:
    """08:00 in Stockholm is 07:00 UTC in winter."""
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def steps(results: list[dict]) -> list[dict]:
    """The reminders and escalations of a scan (the weekly digest aside)."""
    return [r for r in results if r["level"] != "digest"]


def reminders_in(outbox: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((n["event"], n["recipient"], n["diary_number"]) for n in outbox
                  if n["event"] in ("reminder", "escalation"))


def test_reminder_repeat_escalation_each_once(bot, clock):
    bot.services.ingest_mail(make_mail(**DEVIATION))      # Mon 16 Nov; register by Wed 18
    assert steps(bot.services.run_reminders(utc(18))) == []   # deadline day: nothing yet
    first = steps(bot.services.run_reminders(utc(19)))
    assert [(r["recipient"], r["level"], r["step"]) for r in first] == [("anna", "reminder", "register")]
    note = [n for n in bot.store.outbox() if n["event"] == "reminder"][0]
    assert note["text"].startswith("«Avvikelse – fel dos, Hemtjänst Norr»")
    assert "onsdag 18 november" in note["text"] and "registrerad VOK 2026/0001" in note["text"]

    assert all(r["already_sent"] for r in bot.services.run_reminders(utc(19, 12)))
    assert [n["event"] for n in bot.store.outbox()].count("digest") == 3  # once this week
    bot.services.run_reminders(utc(20))                   # Friday: same reminder, not again
    assert reminders_in(bot.store.outbox()) == [("reminder", "anna", "VOK 2026/0001")]

    bot.services.run_reminders(utc(23))                   # Monday: repeat + escalation (18 + 3)
    assert reminders_in(bot.store.outbox()) == [
        ("escalation", "maria", "VOK 2026/0001"), ("escalation", "sven", "VOK 2026/0001"),
        ("reminder", "anna", "VOK 2026/0001"), ("reminder", "anna", "VOK 2026/0001")]


def test_nothing_outside_office_hours_and_nothing_once_the_step_is_done(bot):
    bot.services.ingest_mail(make_mail(**DEVIATION))
    assert bot.services.run_reminders(utc(19, 6, 59)) == []      # 07:59 local
    assert bot.services.run_reminders(utc(21, 10)) == []         # Saturday
    bot.services.handle_command(Actor.person("anna"), "registrerad VOK 2026/1", "cli")
    assert steps(bot.services.run_reminders(utc(19))) == []      # respond is due 30 Nov
    assert steps(bot.services.run_reminders(utc(1, month=12)))[0]["step"] == "respond"


def test_the_weekly_digest_goes_once_to_people_with_open_cases(bot):
    bot.services.ingest_mail(make_mail(**DEVIATION))
    bot.services.run_reminders(utc(23))
    bot.services.run_reminders(utc(24))
    digests = [n for n in bot.store.outbox() if n["event"] == "digest"]
    assert sorted(n["recipient"] for n in digests) == ["anna", "maria", "sven"]
    assert "FÖRSENAT" in digests[0]["text"]


SCAN = textwrap.dedent("""
    import os, signal, sys
    from datetime import datetime
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings, load_organisation
    from tests.fakes.notifier import FakeNotifier
    from pathlib import Path
    config, data, moment = Path(sys.argv[1]), Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3])
    org = load_organisation(config)
    bot = build(Settings(config_path=config, data_dir=data, org=org, env={}),
                clock=FixedClock(moment), notifiers={"console": FakeNotifier()})
    if sys.argv[4] == "ingest":
        bot.services.ingest_mail(open(sys.argv[5], "rb").read())
    else:
        bot.services.run_reminders()
    os.kill(os.getpid(), signal.SIGKILL)   # no clean shutdown, ever
""")


def _killed_scan(tmp_path, data: Path, moment: datetime, *extra: str) -> None:
    done = subprocess.run([sys.executable, "-c", SCAN, str(EXAMPLE_CONFIG), str(data),
                           moment.isoformat(), *(extra or ("scan",))],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr


def _outbox(data: Path) -> list[dict]:
    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "outbox",
                           "--json"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_restart_never_sends_twice_and_downtime_catches_up_once(tmp_path):
    data = tmp_path / "data"
    mail = tmp_path / "m.eml"
    mail.write_bytes(make_mail(**DEVIATION))
    _killed_scan(tmp_path, data, utc(16, 9), "ingest", str(mail))
    _killed_scan(tmp_path, data, utc(19))
    assert reminders_in(_outbox(data)) == [("reminder", "anna", "VOK 2026/0001")]
    _killed_scan(tmp_path, data, utc(19, 9))              # restarted the same morning
    assert reminders_in(_outbox(data)) == [("reminder", "anna", "VOK 2026/0001")]
    # down from Thursday until Wednesday 25th: the 23rd's repeat is caught up once,
    # together with the escalation, not once per missed day
    _killed_scan(tmp_path, data, utc(25, 9))
    assert reminders_in(_outbox(data)) == [
        ("escalation", "maria", "VOK 2026/0001"), ("escalation", "sven", "VOK 2026/0001"),
        ("reminder", "anna", "VOK 2026/0001"), ("reminder", "anna", "VOK 2026/0001")]


def test_reminders_at_is_a_dry_run(tmp_path):
    data = tmp_path / "data"
    mail = tmp_path / "m.eml"
    mail.write_bytes(make_mail(**DEVIATION))
    subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "ingest", str(mail)],
                   check=True, capture_output=True)
    before = _outbox(data)
    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "reminders",
                           "--at", "2026-11-23T08:00", "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    due = json.loads(done.stdout)
    assert {(d["recipient"], d["level"]) for d in due if d["step"] == "register"} == {
        ("anna", "reminder"), ("maria", "escalation"), ("sven", "escalation")}
    for item in due:
        assert {"diary_number", "recipient", "step", "level", "due"} <= set(item)
    assert _outbox(data) == before
    text = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "reminders",
                           "--at", "2026-11-21"], capture_output=True, text=True).stdout
    assert "utanför kontorstid" in text


def test_the_scheduler_scans_inside_the_event_loop(bot, clock, notifier):
    bot.services.ingest_mail(make_mail(**DEVIATION))
    clock.set(utc(19, 8))

    async def scenario() -> None:
        scheduler = start_scheduler(bot, minutes=60)
        try:
            for _ in range(100):
                if any(n["event"] == "reminder" for n in bot.store.outbox()):
                    return
                await asyncio.sleep(0.05)
        finally:
            scheduler.shutdown(wait=False)

    asyncio.run(scenario())
    # queued by the scan in the loop; it waits for anna's bundle (issue 24), then goes
    assert [n["recipient"] for n in bot.store.outbox() if n["event"] == "reminder"] == ["anna"]
    clock.set(utc(19, 8) + timedelta(minutes=10))
    bot.services.deliver_outbox()
    [reminder] = [n for n in bot.store.outbox() if n["event"] == "reminder"]
    assert reminder["id"] in notifier.items()          # alone, or in anna's bundle
    assert {n["recipient"] for n in notifier.sent} >= {"anna"}
