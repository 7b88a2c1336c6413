"""The registrator's triage choices, the buttons every notification carries, the unit
channel posts and the outbox's fall-back when a person cannot be reached in chat."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.errors import DeliveryError, Unreachable
from bot.settings import Settings, load_organisation
from bot.commands import parse
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

QUESTION = dict(sender="Okänd Person <okand.person@gmail.com>", subject="Fråga om min mammas hjälp",
                body="Hej, vem ska jag prata med om min mammas hemtjänst?")


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "slack")


def triage(bot, **mail) -> dict:
    result = bot.services.ingest_mail(make_mail(**{**QUESTION, **mail}))
    assert result["outcome"] == "triage", result
    prompt = [n for n in bot.store.outbox() if n["event"] == "triage"][-1]
    return prompt


def fill(command: str, unit: str = "hemtjanst-norr") -> str:
    return command.format(unit=unit, until="2026-11-25", reason="väntar på journalkopia")


# ---------------------------------------------------------------------------- triage
def test_triage_prompt_names_the_mail_and_offers_three_choices(bot):
    prompt = triage(bot)
    view = prompt["view"]
    assert prompt["recipient"] == "rut"
    assert view["triage_id"] in prompt["text"]          # typed commands need the id too
    assert [a["id"] for a in view["actions"]] == ["triage_new", "triage_dismiss"]
    new = view["actions"][0]
    assert new["input"] == "unit" and {c["value"] for c in new["choices"]} == set(bot.settings.org.units)
    for action in view["actions"]:
        assert parse(fill(action["command"]), bot.settings.org).name.startswith("triage_")


def test_registrator_diarises_a_triaged_mail_for_a_unit(bot):
    view = triage(bot)["view"]
    reply = say(bot, "rut", fill(view["actions"][0]["command"]))
    assert reply.ok and "VOK 2026/0001" in reply.text
    case = bot.store.get_case_by_text("VOK 2026/0001")
    assert (case.kind, case.unit, case.status) == ("incoming", "hemtjanst-norr", "diarised")
    assert case.documents[0].raw and case.documents[0].sender == "okand.person@gmail.com"
    assert any(n["recipient"] == "anna" and n["diary_number"] == "VOK 2026/0001"
               for n in bot.store.outbox())            # the manager is told, as for any case
    again = say(bot, "rut", f"avfärda {view['triage_id']}")
    assert not again.ok and "redan hanterat" in again.text and "Rut" in again.text


def test_a_reply_to_a_diarised_triage_mail_is_recognised_as_its_thread(bot):
    view = triage(bot, message_id="<fraga-1@gmail.com>")["view"]
    say(bot, "rut", f"diarisera {view['triage_id']} HT Norr")
    bot.services.ingest_mail(make_mail(
        sender="Okänd Person <okand.person@gmail.com>", subject="Re: Fråga om min mammas hjälp",
        body="Tack för svaret.", in_reply_to="<fraga-1@gmail.com>"))
    # the sender is no known counterpart, so rule 4 asks the registrator, suggesting the case
    prompt = [n for n in bot.store.outbox() if n["event"] == "triage"][-1]
    assert prompt["view"]["number"] == "VOK 2026/0001"


def test_attach_a_triaged_mail_to_the_suggested_case(bot):
    bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", message_id="<avv-1@regionexempel.se>",
        subject="Avvikelse Hemtjänst Norr – utebliven insulindos", body="Vi anmäler en avvikelse."))
    # a stranger writes in the case's thread: intake suggests the case but does not file it
    prompt = triage(bot, subject="SV: VOK 2026/0001 utebliven insulindos", body="Jag är anhörig.")
    view = prompt["view"]
    attach = next(a for a in view["actions"] if a["id"] == "triage_attach")
    assert view["number"] == "VOK 2026/0001"
    reply = say(bot, "rut", attach["command"])
    assert reply.ok, reply.text
    case = bot.store.get_case_by_text("VOK 2026/0001")
    assert [d.sender for d in case.documents][-1] == "okand.person@gmail.com"
    assert case.documents[-1].type == "supplement"


def test_dismissing_keeps_the_mail_and_records_who(bot):
    view = triage(bot)["view"]
    reply = say(bot, "maria", f"avfärda {view['triage_id']} reklam")
    assert reply.ok
    record = bot.store.triage_record(view["triage_id"])
    assert record["resolved"]["by"] == "maria" and record["resolved"]["reason"] == "reklam"
    assert (bot.store.data_dir / record["raw"]).exists()
    assert bot.store.open_cases() == []


def test_only_oversight_roles_handle_triage(bot):
    view = triage(bot)["view"]
    reply = say(bot, "anna", fill(view["actions"][0]["command"]))
    assert not reply.ok and "registrator" in reply.text
    assert bot.store.triage_record(view["triage_id"]).get("resolved") is None


def test_unknown_triage_id_is_refused_politely(bot):
    reply = say(bot, "rut", "avfärda T00000000")
    assert not reply.ok and "T00000000" in reply.text


# ---------------------------------------------------------------------------- buttons
@pytest.fixture
def case(bot):
    bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", message_id="<avv-1@regionexempel.se>",
        subject="Avvikelse Hemtjänst Norr – utebliven insulindos", body="Vi anmäler en avvikelse."))
    return bot.store.get_case_by_text("VOK 2026/0001")


def test_the_managers_notification_carries_the_next_steps_as_buttons(bot, case):
    item = next(n for n in bot.store.outbox() if n["recipient"] == "anna")
    ids = [a["id"] for a in item["view"]["actions"]]
    assert ids == ["register", "assess_green", "assess_yellow", "assess_red", "snooze"]
    copy = next(n for n in bot.store.outbox() if n["recipient"] == "maria")
    assert copy["view"]["actions"] == []                 # för kännedom: nothing to press


def test_every_button_is_a_valid_command_that_acts(bot, case):
    item = next(n for n in bot.store.outbox() if n["recipient"] == "anna")
    for action in item["view"]["actions"]:
        assert parse(fill(action["command"]), bot.settings.org).error is None, action
    register = item["view"]["actions"][0]
    assert say(bot, "anna", register["command"]).ok
    assert bot.store.get_case_by_text("VOK 2026/0001").status == "registered"


def test_a_button_pressed_by_someone_not_allowed_changes_nothing(bot, case):
    item = next(n for n in bot.store.outbox() if n["recipient"] == "anna")
    reply = say(bot, "bengt", item["view"]["actions"][0]["command"])
    assert not reply.ok
    assert bot.store.get_case_by_text("VOK 2026/0001").status == "diarised"


def test_snooze_button_fills_date_and_reason(bot, case):
    item = next(n for n in bot.store.outbox() if n["recipient"] == "anna")
    snooze = next(a for a in item["view"]["actions"] if a["id"] == "snooze")
    assert snooze["input"] == "snooze"
    assert say(bot, "anna", fill(snooze["command"])).ok
    assert bot.store.get_case_by_text("VOK 2026/0001").events[-1].what == "snoozed"


# ---------------------------------------------------------------------------- unit channels and fall-back
@pytest.fixture
def chat_bot(tmp_path, clock):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('managers = ["anna"]', 'managers = ["anna"]\nslack_channel = "C0NORR"', 1)
    config = tmp_path / "org.toml"
    config.write_text(text, encoding="utf-8")
    org = load_organisation(config)
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=org,
                        env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "s"})
    slack = FakeNotifier("slack")
    wired = build(settings, notifiers={"console": FakeNotifier(), "slack": slack}, clock=clock,
                  sender=None)
    wired.slack = slack
    yield wired
    wired.close()


def test_a_unit_with_a_channel_gets_an_information_post(chat_bot):
    chat_bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse Hemtjänst Norr – utebliven insulindos", body="Vi anmäler en avvikelse."))
    posts = [n for n in chat_bot.store.outbox() if n["recipient"] == "unit:hemtjanst-norr"]
    assert len(posts) == 1 and posts[0]["channel"] == "slack"
    assert posts[0]["view"]["role"] == "info" and posts[0]["view"]["actions"] == []
    chat_bot.services.deliver_outbox()
    assert [n["recipient"] for n in chat_bot.slack.sent] == ["unit:hemtjanst-norr"]


def test_delivery_facts_are_kept_to_update_the_message_later(bot, case):
    bot.services.deliver_outbox()
    sent = [n for n in bot.store.outbox() if n["state"] == "sent"]
    assert sent and all("delivery" in n for n in sent)


def test_retry_after_from_the_chat_service_is_honoured(bot, case, notifier, clock):
    notifier.fail_times, notifier.error = 1, DeliveryError("429", retry_after=7)
    bot.services.deliver_outbox()
    # (the kännedom copies wait for their bundle, issue 24: not what this is about)
    waiting = [n for n in bot.store.outbox("pending") if not n.get("bundlable")]
    assert len(waiting) == 1
    assert waiting[0]["next_attempt"] == (clock.now() + timedelta(seconds=7)).isoformat()


class TeamsNotInstalled(FakeNotifier):
    """Teams as it is before a person opened the app: no conversation to write to."""

    def __init__(self, unreachable: set[str]):
        super().__init__("teams")
        self.unreachable = unreachable

    def send(self, notification):
        if notification["recipient"] in self.unreachable:
            raise Unreachable("ingen konversation med personen")
        return super().send(notification)


def test_unreachable_person_gets_email_and_the_registrator_is_told_once(tmp_path, clock):
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for person in ("anna", "rut", "maria"):
        text = text.replace(f'id = "{person}"', f'id = "{person}"\nteams = "29:{person}"', 1)
    config = tmp_path / "org.toml"
    config.write_text(text, encoding="utf-8")
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=load_organisation(config),
                        env={"TEAMS_ANONYMOUS": "true", "SMTP_HOST": "127.0.0.1"})
    teams, mail = TeamsNotInstalled({"anna"}), FakeNotifier("email")
    bot = build(settings, notifiers={"console": FakeNotifier(), "teams": teams, "email": mail},
                clock=clock, sender=FakeMailSender())
    try:
        for n in (1, 2):
            bot.services.ingest_mail(make_mail(
                sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                subject=f"Avvikelse Hemtjänst Norr – händelse {n}", body="Vi anmäler en avvikelse."))
        bot.services.deliver_outbox()
        bot.services.deliver_outbox()
        assert [n["diary_number"] for n in mail.to("anna")] == ["VOK 2026/0001", "VOK 2026/0002"]
        told = [n for n in teams.sent if n["event"] == "unreachable"]
        assert [n["recipient"] for n in told] == ["rut"]
        assert "Anna Andersson" in told[0]["text"] and "e-post" in told[0]["text"]
        # maria's two kännedom copies go at 13:00, as one bundled message (issue 24)
        clock.set(clock.now() + timedelta(hours=4))
        bot.services.deliver_outbox()
        assert {n["recipient"] for n in teams.sent} == {"rut", "maria"}
        [bundle] = teams.to("maria")
        assert len(bundle["members"]) == 2
    finally:
        bot.close()
