"""Receipts, opt-in per counterpart: our diary number back to the sender of a deviation, in
its thread, marked as an automatic reply; never the mail's body, never to automatic mail,
never for a supplement, never during a backlog import."""
from __future__ import annotations

import dataclasses

from bot.app import build
from tests.fakes.mail import make_mail

LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"
BODY = "Brukaren 19121212-1212 fick fel dos. Vi anmäler en avvikelse."


def with_receipts(org, settings, on: bool = True):
    region = dataclasses.replace(org.counterparts["region-exempel"], receipt=on)
    org = dataclasses.replace(org, counterparts={**org.counterparts, "region-exempel": region})
    return dataclasses.replace(settings, org=org)


def test_a_counterpart_that_opted_in_gets_a_receipt_with_the_diary_number(org, settings, clock,
                                                                          notifier, sender):
    bot = build(with_receipts(org, settings), notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        deviation = make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr", body=BODY,
                              message_id="<dev-1@regionexempel.se>",
                              headers={"Thread-Index": "AcZz/Jx3fOmU3yjDQGCrFi6YzT6K5A=="})
        assert bot.services.ingest_mail(deviation)["diary_number"] == "VOK 2026/0001"
        # a supplement and an out-of-office get none
        bot.services.ingest_mail(make_mail(sender=LISA, subject="SV: VOK 2026/0001 komplettering",
                                           body="Mer information."))
        bot.services.ingest_mail(make_mail(sender=LISA, subject="Automatiskt svar: Avvikelse",
                                           body="Jag är borta.", headers={"Auto-Submitted": "auto-replied"}))
        bot.services.deliver_outbox()
        bot.services.deliver_outbox()
        receipts = [m for m in sender.sent if m["To"] == "lisa.larsson@regionexempel.se"]
        assert len(receipts) == 1
        receipt = receipts[0]
        assert receipt["Auto-Submitted"] == "auto-replied"
        assert receipt["In-Reply-To"] == "<dev-1@regionexempel.se>"
        assert receipt["Thread-Index"].startswith("AcZz/Jx3fOmU3yjDQGCrFi6YzT6K5")
        text = receipt.get_content()
        assert "diarierad som VOK 2026/0001" in text
        assert "19121212" not in receipt.as_string() and "fel dos" not in text
        # the receipt is not a document of the case
        assert [d.type for d in bot.store.get_case_by_text("VOK 2026/0001").documents] == [
            "deviation", "supplement"]
    finally:
        bot.close()


def test_without_opting_in_no_receipt(org, settings, clock, notifier, sender):
    bot = build(with_receipts(org, settings, on=False), notifiers={"console": notifier}, clock=clock,
                sender=sender)
    try:
        bot.services.ingest_mail(make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr", body=BODY))
        bot.services.deliver_outbox()
        assert sender.sent == []
    finally:
        bot.close()


def test_a_backlog_import_sends_no_receipts(org, settings, clock, notifier, sender):
    bot = build(with_receipts(org, settings), notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        raw = make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr", body=BODY)
        bot.services.ingest_many([(raw, None, None)], quiet=True)
        bot.services.deliver_outbox()
        assert sender.sent == [] and bot.store.outbox() == []
    finally:
        bot.close()


def test_the_counterparts_reference_is_stored_shown_in_the_receipt_and_joins_later_mail(
        org, settings, clock, notifier, sender):
    from bot.domain.access import Actor
    region = dataclasses.replace(org.counterparts["region-exempel"], receipt=True,
                                 reference=r"Ärende\s+(RS-\d+)")
    org = dataclasses.replace(org, counterparts={**org.counterparts, "region-exempel": region})
    bot = build(dataclasses.replace(settings, org=org), notifiers={"console": notifier},
                clock=clock, sender=sender)
    try:
        bot.services.ingest_mail(make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr (Ärende RS-4711)",
                                           body="Vi anmäler en avvikelse."))
        case = bot.store.get_case_by_text("VOK 2026/0001")
        assert case.reference == "RS-4711"
        status = bot.services.handle_command(Actor.person("rut"), "status VOK 2026/0001", "cli")
        assert "Motpartens referens: RS-4711" in status.text
        bot.services.deliver_outbox()
        assert "Er referens: RS-4711." in sender.sent[0].get_content()
        # a new mail (no diary number, no thread) that names their reference joins the case
        later = bot.services.ingest_mail(make_mail(
            sender=LISA, subject="Komplettering Ärende RS-4711", body="Här kommer mer."))
        assert later["outcome"] == "added_to_case" and later["diary_number"] == "VOK 2026/0001"
    finally:
        bot.close()
