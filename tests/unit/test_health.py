"""When the registrator hears that the mailbox cannot be read: once after the configured
time, once when it recovers, never for a short blip."""
from datetime import datetime, timedelta, timezone

from bot.domain.health import MailboxHealth, next_health

T0 = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)
LIMIT = timedelta(minutes=15)


def step(health, ok, minutes):
    return next_health(health, ok=ok, error="" if ok else "servern svarar inte",
                       now=T0 + timedelta(minutes=minutes), alert_after=LIMIT)


def test_healthy_stays_quiet():
    assert step(MailboxHealth(), True, 0) == (MailboxHealth(), None)


def test_a_short_outage_tells_nobody():
    health, event = step(MailboxHealth(), False, 0)
    assert event is None and health.failing_since == T0.isoformat()
    health, event = step(health, False, 14)
    assert event is None
    assert step(health, True, 14.5) == (MailboxHealth(), None)


def test_long_outage_alerts_once_and_recovery_is_told():
    health, _ = step(MailboxHealth(), False, 0)
    health, event = step(health, False, 15)
    assert event == "mailbox_down" and health.alerted
    for minute in (16, 60, 600):
        health, event = step(health, False, minute)
        assert event is None
    health, event = step(health, True, 601)
    assert event == "mailbox_up" and health == MailboxHealth()


def test_round_trip_through_dict():
    health, _ = step(MailboxHealth(), False, 0)
    assert MailboxHealth.from_dict(health.to_dict()) == health
