"""`påminn <dnr>`: the registrator chases the counterpart. The reminder goes once, from the
functional mailbox, in the thread of the mail `skicka` sent (In-Reply-To, References,
Thread-Index continued), and is diarised in the case when it has gone."""
from __future__ import annotations

from bot.app import build
from bot.domain.access import Actor
from bot.mail import threadindex as ti
from tests.fakes.mail import make_mail

ANNA = "Anna Andersson <anna.andersson@exempelby.se>"


def outgoing_case_sent(bot, sender) -> str:
    bot.services.ingest_mail(make_mail(
        sender=ANNA, subject="Avvikelse till Region Exempel – utskrivning utan läkemedelslista",
        body="Vi vill rapportera en avvikelse till Region Exempel: brukaren kom hem utan lista."))
    number = "VOK 2026/0001"
    assert bot.store.get_case_by_text(number).kind == "outgoing"
    assert bot.services.handle_command(Actor.person("rut"), f"skicka {number}", "cli").ok
    bot.services.deliver_outbox()
    assert len(sender.sent) == 1
    return number


def test_remind_sends_one_threaded_reminder_and_diarises_it(settings, clock, notifier, sender):
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        number = outgoing_case_sent(bot, sender)
        first = sender.sent[0]
        reply = bot.services.handle_command(Actor.person("rut"), f"påminn {number}", "cli")
        assert reply.ok and "påminnelsen" in reply.text
        again = bot.services.handle_command(Actor.person("rut"), f"påminn {number}", "cli")
        assert not again.ok                                   # one at a time
        bot.services.deliver_outbox()
        bot.services.deliver_outbox()
        assert len(sender.sent) == 2                          # reached the counterpart once
        reminder = sender.sent[1]
        assert reminder["To"] == "patientsakerhet@regionexempel.se"
        assert reminder["From"] == "registrator.vok@exempelby.se"
        assert str(reminder["Subject"]).startswith(f"Påminnelse: {number}")
        assert reminder["In-Reply-To"] == first["Message-ID"]
        assert ti.parse(reminder["Thread-Index"])[:-5] == ti.parse(first["Thread-Index"])
        assert "ännu inte fått ert svar" in reminder.get_content()
        case = bot.store.get_case_by_text(number)
        assert [d.type for d in case.documents] == ["deviation", "sent", "reminder"]
        assert case.status == "sent"                          # still waiting for them
        status = bot.services.handle_command(Actor.person("rut"), f"status {number}", "cli")
        assert "påminnelse" in status.text
    finally:
        bot.close()


def test_only_the_registrator_reminds_and_only_a_case_waiting_for_the_counterpart(
        settings, clock, notifier, sender):
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject="Avvikelse Hemtjänst Norr", body="Vi anmäler en avvikelse."))
        refused = bot.services.handle_command(Actor.person("rut"), "påminn VOK 2026/0001", "cli")
        assert not refused.ok and "väntar inte på svar" in refused.text
        denied = bot.services.handle_command(Actor.person("anna"), "påminn VOK 2026/0001", "cli")
        assert not denied.ok
        assert sender.sent == []
    finally:
        bot.close()


def test_the_overdue_reminder_offers_a_remind_button_that_works(settings, clock, notifier, sender):
    from datetime import timedelta
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        number = outgoing_case_sent(bot, sender)
        later = clock.now() + timedelta(days=35)          # past the 20 working days
        clock.set(later.replace(hour=8, minute=30) + timedelta(days=(7 - later.weekday()) % 7))
        bot.services.run_reminders()
        overdue = [n for n in bot.store.outbox() if n["event"] == "reminder"
                   and n["diary_number"] == number]
        assert overdue
        button = [a for a in overdue[0]["view"]["actions"] if a["id"] == "remind"][0]
        assert button["command"] == f"påminn {number}" and "påminn" in overdue[0]["text"]
        assert bot.services.handle_command(Actor.person("rut"), button["command"], "slack").ok
        bot.services.deliver_outbox()
        assert [d.type for d in bot.store.get_case_by_text(number).documents][-1] == "reminder"
    finally:
        bot.close()
