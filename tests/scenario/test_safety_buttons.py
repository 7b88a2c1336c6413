"""Issue 16: the Kvittera button through the generic view actions, as Slack Block Kit and as a
Teams Adaptive Card, and what a press does."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from bot.chat.slack import COMMAND, action_blocks
from bot.chat.teams import adaptive_card
from bot.domain.access import Actor
from tests.fakes.mail import make_mail


def utc(day: int, hour: int = 7) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


def test_the_kvittera_button_on_an_escalation_in_slack_and_teams_stops_the_repeat(bot, clock):
    bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse – utebliven insats, Hemtjänst Norr", body="Avvikelse.",
        message_id="<btn-1@regionexempel.se>", date=utc(16, 8)))
    bot.services.run_reminders(utc(23))
    escalation = next(n for n in bot.store.outbox()
                      if n["event"] == "escalation" and n["recipient"] == "maria")
    view = escalation["view"]

    buttons = [e for b in action_blocks(view["actions"]) for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (f"{COMMAND}0:acknowledge", "kvittera VOK 2026/0001")]
    card = json.dumps(adaptive_card(bot.settings.org, view, escalation["id"]), ensure_ascii=False)
    assert '"command": "kvittera VOK 2026/0001"' in card and "Kvittera" in card

    clock.set(utc(23, 9))
    pressed = bot.services.handle_command(Actor.person("maria"), buttons[0]["value"], "slack")
    assert pressed.ok
    bot.services.run_reminders(utc(25))
    assert sorted(n["created"][:10] for n in bot.store.outbox() if n["event"] == "escalation") == [
        "2026-11-23", "2026-11-23"]
