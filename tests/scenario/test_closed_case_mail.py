"""A counterpart's mail to a closed case is never filed silently: by default it opens a new
case linked to the old one, and both say so; `[mail] closed_case` can make it triage or a
supplement as before."""
from __future__ import annotations

import dataclasses

import pytest

from bot.app import build
from bot.domain.access import Actor
from tests.fakes.mail import make_mail

LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"
OLD = "VOK 2026/0001"


def closed_case(bot) -> str:
    """Region Exempel's deviation, closed by the MA with a reason; its first Message-ID."""
    bot.services.ingest_mail(make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr – fall",
                                       body="Vi anmäler en avvikelse.", message_id="<first@regionexempel.se>"))
    reply = bot.services.handle_command(Actor.person("maria"), f"avsluta {OLD} dubblett", "cli")
    assert reply.ok, reply.text
    return "<first@regionexempel.se>"


def mail_to_closed(thread: str) -> bytes:
    return make_mail(sender=LISA, subject="SV: Avvikelse Hemtjänst Norr – fall",
                     body="Vi har fått nya uppgifter om händelsen.", in_reply_to=thread)


def make_bot(org, settings, clock, notifier, sender, mode: str):
    settings = dataclasses.replace(settings, org=dataclasses.replace(org, closed_case=mode))
    return build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)


def test_a_counterparts_mail_to_a_closed_case_opens_a_new_linked_case(org, settings, clock,
                                                                     notifier, sender):
    bot = make_bot(org, settings, clock, notifier, sender, "new_linked")
    try:
        result = bot.services.ingest_mail(mail_to_closed(closed_case(bot)))
        assert result["outcome"] == "new_case" and result["diary_number"] == "VOK 2026/0002"
        new, old = bot.store.get_case_by_text("VOK 2026/0002"), bot.store.get_case_by_text(OLD)
        assert new.links == [OLD] and old.links == ["VOK 2026/0002"]
        assert old.status == "closed" and len(old.documents) == 1
        assert new.unit == old.unit and new.counterpart == "region-exempel"
        status = bot.services.handle_command(Actor.person("rut"), "status VOK 2026/0002", "cli")
        assert f"Kopplat till: {OLD}" in status.text
        told = [n for n in bot.store.outbox() if n["diary_number"] == "VOK 2026/0002"]
        assert told and all(f"Kopplat till: {OLD}" in n["text"] for n in told)
    finally:
        bot.close()


@pytest.mark.parametrize("mode,outcome,documents", [("triage", "triage", 1),
                                                     ("supplement", "added_to_case", 2)])
def test_the_organisation_chooses_what_a_mail_to_a_closed_case_does(org, settings, clock, notifier,
                                                                   sender, mode, outcome, documents):
    bot = make_bot(org, settings, clock, notifier, sender, mode)
    try:
        result = bot.services.ingest_mail(mail_to_closed(closed_case(bot)))
        assert result["outcome"] == outcome
        assert len(bot.store.get_case_by_text(OLD).documents) == documents
        assert len(list(bot.store.all_cases())) == 1
    finally:
        bot.close()


def test_closed_case_setting_is_checked(tmp_path):
    from bot.errors import ConfigError
    from bot.settings import load_organisation
    from tests.conftest import EXAMPLE_CONFIG
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        'closed_case = "new_linked"', 'closed_case = "nytt"')
    path = tmp_path / "org.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="closed_case"):
        load_organisation(path)
