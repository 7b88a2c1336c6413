"""Teams end to end: real activity JSON from ../shared/corpora/teams-botframework is posted to
the running aiohttp endpoint (Agents SDK, anonymous mode on 127.0.0.1), and what the bot
says comes back on a local fake Bot Connector (`serviceUrl` -> 127.0.0.1): replies,
proactive cards, card updates. The diary is a real TinyDB store in tmp_path."""
from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import struct
from argparse import Namespace
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bot.app import Bot, build
from bot.chat.teams import adaptive_card, escape_markdown, escape_message
from bot.cli import cmd_check_config
from bot.settings import Settings
from bot.texts import t
from handlers.teams import TeamsFrontend, create_teams
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.mail import make_mail
from tests.fakes.notifier import FakeNotifier

NUMBER = "VOK 2026/0001"
TITLE = "Avvikelse Hemtjänst Norr – utebliven insulindos"
BOT = {"id": "28:0b6fe6d1-fece-44f7-9a48-56465e2d5ab8", "name": "Avvikelsebot"}
TENANT = "50612dbb-0237-4969-b378-8d42590f9c00"
# Anna is configured with her AAD object id, Bengt with his Teams user id: both forms work
ANNA = {"id": "29:17bUvCasIPKfQIXHvNzcPjD86fwm6GkWc1PvCGP2-NSkNb7AyGYpjQ7Xw-XgTwaHW5JxZ4KMNDxn1kcL8fwX1Nw",
        "name": "Anna Andersson", "aadObjectId": "b15a9416-0ad3-4172-9210-7beb711d3f70"}
BENGT = {"id": "29:1uMVvhoAyfTqdMsyvHL0qlJTTfQF9MOUSI8_cQts2kdSWEZVDyJO2jz-CsNOhQcdYq1Bw4cHT0__O6XDj4AZ-Jw",
         "name": "Bengt Berg", "aadObjectId": "c5e99701-2a32-49c1-a660-4629ceeb8c61"}
STRANGER = {"id": "29:1stranger", "name": "Okänd Person", "aadObjectId": "00000000-0000-0000-0000-0000000000aa"}
NORR_CHANNEL = "19:6848757105754c8981c67612732d9aa7@thread.tacv2"
CHATS = {"anna": "a:1anna-personal-chat", "bengt": "a:1bengt-personal-chat",
         "stranger": "a:1stranger-personal-chat"}


def _corpus(corpora: Path, relative: str) -> dict:
    return json.loads((corpora / "teams-botframework" / relative).read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- the harness
@dataclass
class Teams:
    bot: Bot
    frontend: TeamsFrontend
    connector: FakeBotConnector
    fallback: FakeNotifier          # the console: where unreachable people's notices end up
    corpora: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.frontend.port}/api/messages"

    async def post(self, activity: dict, headers: dict | None = None) -> tuple[int, object]:
        async with aiohttp.ClientSession() as session:
            async with session.post(self.url, json=activity, headers=headers or {}) as response:
                text = await response.text()
                return response.status, (json.loads(text) if text else None)

    async def deliver(self) -> dict:
        return await asyncio.to_thread(self.bot.services.deliver_outbox)

    async def ingest_deviation(self, subject: str = TITLE, number: str = NUMBER) -> dict:
        raw = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=subject,
                        body="Hej,\nvi vill anmäla en avvikelse: brukaren fick inte sin insulindos.\n"
                             "Mvh Lisa Larsson, patientsäkerhetssamordnare")
        result = await asyncio.to_thread(self.bot.services.ingest_mail, raw)
        assert (result["outcome"], result["diary_number"], result["unit"]) == \
            ("new_case", number, "hemtjanst-norr"), result
        return result

    def case(self):
        return self.bot.store.get_case_by_text(NUMBER)

    def cards_sent_to(self, conversation_id: str):
        return [c for c in self.connector.sent if c.conversation_id == conversation_id and c.cards]

    def texts_to(self, conversation_id: str):
        return [c for c in self.connector.to_conversation(conversation_id) if not c.cards]

    def outbox(self, recipient: str) -> list[dict]:
        return [n for n in self.bot.store.outbox() if n["recipient"] == recipient]

    # --- activities, from the corpus, addressed to this bot and the fake connector ------
    def _addressed(self, activity: dict, who: dict, chat: str | None) -> dict:
        activity = copy.deepcopy(activity)
        activity.update(serviceUrl=self.connector.url, channelId="msteams", recipient=BOT,
                        **{"from": who})
        if chat:
            activity["conversation"] = {"id": chat, "conversationType": "personal", "tenantId": TENANT}
            activity.pop("channelData", None)
        return activity

    def installed(self, who: dict, chat: str) -> dict:
        activity = _corpus(self.corpora, "teams-net-api-tests/Activity/Conversation/ConversationUpdateActivity.json")
        activity = self._addressed(activity, who, chat)
        activity.pop("membersRemoved", None)
        activity["membersAdded"] = [BOT]
        return activity

    def personal_message(self, who: dict, chat: str, text: str) -> dict:
        activity = _corpus(self.corpora, "agents-for-python/payload.json")
        activity.pop("delivery_mode")   # Teams itself never asks for replies in the response
        activity = self._addressed(activity, who, chat)
        activity.update(text=text, id="1763285400001")
        return activity

    def channel_mention(self, who: dict, text: str) -> dict:
        """The real channel message of the corpus (a thread reply with an <at> mention)."""
        activity = _corpus(self.corpora, "teams-net-activity-json-from-tests/TeamsActivityTests_04_json.json")
        activity = self._addressed(activity, who, chat=None)
        activity["text"] = f"<at>{BOT['name']}</at> {text}"
        activity["entities"][0] = {"type": "mention", "text": f"<at>{BOT['name']}</at>",
                                   "mentioned": BOT}
        return activity

    def press(self, who: dict, chat: str, card_id: str, action: dict, inputs: dict | None = None) -> dict:
        """Action.Execute on a card: the invoke of the corpus with this card's data."""
        activity = _corpus(self.corpora, "teams-net-activity-json-from-tests/TeamsActivityTests_03_jsonInvoke.json")
        activity = self._addressed(activity, who, chat)
        activity["replyToId"] = card_id
        activity["value"]["action"] = {"type": "Action.Execute", "title": action["title"],
                                       "verb": action["verb"], "data": {**action["data"], **(inputs or {})}}
        return activity

    def submit(self, who: dict, chat: str, card_id: str, action: dict, inputs: dict | None = None) -> dict:
        """The same button on a client without Universal Actions: its Action.Submit fallback
        arrives as a message whose value is the fallback's data and the inputs (no text)."""
        fallback = action["fallback"]
        assert fallback["type"] == "Action.Submit"
        activity = self.personal_message(who, chat, "")
        activity.pop("text")
        activity.update(replyToId=card_id, value={**fallback["data"], **(inputs or {})})
        return activity


@pytest.fixture
def teams_org(org):
    people = dict(org.people)
    people["anna"] = dataclasses.replace(people["anna"], teams=ANNA["aadObjectId"])
    people["bengt"] = dataclasses.replace(people["bengt"], teams=BENGT["id"])
    units = dict(org.units)
    units["hemtjanst-norr"] = dataclasses.replace(units["hemtjanst-norr"], teams_channel=NORR_CHANNEL)
    return dataclasses.replace(org, people=people, units=units)


@pytest.fixture
def teams_settings(teams_org, tmp_path) -> Settings:
    return Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=teams_org,
                    env={"TEAMS_ANONYMOUS": "true", "TEAMS_PORT": "0"})


@asynccontextmanager
async def running(settings: Settings, clock, corpora: Path, connector: FakeBotConnector | None = None):
    """The bot as `run` wires it from the settings, with the Teams endpoint started."""
    own_connector = connector is None
    connector = connector or await FakeBotConnector().start()
    bot = build(settings, clock=clock)
    fallback = FakeNotifier()
    bot.notifiers["console"] = fallback
    frontend = next(f for f in bot.frontends if f.channel == "teams")
    try:
        await frontend.start()
        yield Teams(bot, frontend, connector, fallback, corpora)
    finally:
        await frontend.stop()
        if own_connector:
            await connector.stop()
        bot.close()


def scenario(settings, clock, corpora):
    """Run an async test body against a running bot."""
    def run(body):
        async def main():
            async with running(settings, clock, corpora) as teams:
                await body(teams)
        asyncio.run(main())
    return run


@pytest.fixture
def run_teams(teams_settings, clock, corpora):
    return scenario(teams_settings, clock, corpora)


def card_text(card: dict) -> str:
    """Everything a card shows (texts, facts, button titles), one line each."""
    if isinstance(card, list):
        return "\n".join(card_text(c) for c in card)
    if not isinstance(card, dict):
        return ""
    shown = [str(card[k]) for k in ("text", "title", "value") if isinstance(card.get(k), str)]
    shown += [card_text(v) for v in card.values() if isinstance(v, (dict, list))]
    return "\n".join(s for s in shown if s)


def button(card: dict, title: str) -> dict:
    for action in card.get("actions", []):
        if action["title"] == title:
            return action
    raise AssertionError(f"no button {title!r} on the card: {[a['title'] for a in card.get('actions', [])]}")


async def card_for_anna(teams: Teams) -> tuple[dict, str]:
    """Anna installs the app, a deviation for her unit is diarised and delivered."""
    status, _ = await teams.post(teams.installed(ANNA, CHATS["anna"]))
    assert status in (200, 202)
    await teams.ingest_deviation()
    await teams.deliver()
    [sent] = teams.cards_sent_to(CHATS["anna"])
    [card] = sent.cards
    return card, sent.answered_id


# ---------------------------------------------------------------------------- install, notify
def test_install_stores_the_reference_and_a_diarised_deviation_reaches_the_manager_as_a_card(run_teams):
    async def body(teams: Teams):
        status, _ = await teams.post(teams.installed(ANNA, CHATS["anna"]))
        assert status in (200, 202)
        [welcome] = teams.texts_to(CHATS["anna"])
        assert "Avvikelsebot" in welcome.text
        assert teams.frontend.refs.recipients() == ["anna"]

        await teams.ingest_deviation()
        counts = await teams.deliver()
        assert counts["failed"] == 0

        [sent] = teams.cards_sent_to(CHATS["anna"])
        assert sent.authorization is None   # anonymous mode: no token leaves the machine
        [card] = sent.cards
        shown = card_text(card)
        for fact in (NUMBER, "utebliven insulindos", "Region Exempel", "Hemtjänst Norr", "Ej bedömd"):
            assert fact in shown
        assert [a["title"] for a in card["actions"]] == \
            ["Registrerad", "Bedöm Grön", "Bedöm Gul", "Bedöm Röd", "Snooza"]
        assert button(card, "Registrerad")["type"] == "Action.Execute"
        [item] = [n for n in teams.outbox("anna") if n["event"] == "incoming_diarised"]
        assert item["state"] == "sent"
        assert item["delivery"] == {"activity_id": sent.answered_id, "conversation_id": CHATS["anna"]}
    run_teams(body)


def test_the_reference_survives_a_restart(teams_settings, clock, corpora):
    async def main():
        connector = await FakeBotConnector().start()
        try:
            async with running(teams_settings, clock, corpora, connector) as teams:
                await teams.post(teams.installed(ANNA, CHATS["anna"]))
            async with running(teams_settings, clock, corpora, connector) as restarted:
                await restarted.ingest_deviation()
                await restarted.deliver()
                assert len(restarted.cards_sent_to(CHATS["anna"])) == 1
        finally:
            await connector.stop()
    asyncio.run(main())


def test_a_person_who_never_opened_the_app_gets_mail_and_the_registrator_is_told_once(run_teams):
    async def body(teams: Teams):
        await teams.ingest_deviation()
        await teams.ingest_deviation("Avvikelse Hemtjänst Norr – fallolycka", "VOK 2026/0002")
        await teams.deliver()
        await teams.deliver()
        assert teams.connector.sent == []
        to_anna = [n for n in teams.fallback.sent if n["recipient"] == "anna"]
        assert [(n["event"], n["diary_number"]) for n in to_anna] == \
            [("incoming_diarised", NUMBER), ("incoming_diarised", "VOK 2026/0002")]
        told = [n for n in teams.fallback.sent if n["recipient"] == "rut" and n["event"] == "unreachable"]
        about_anna = [n for n in told if "Anna Andersson" in n["text"]]
        assert len(about_anna) == 1 and "Teams" in about_anna[0]["text"]
        # the unit's channel never talked to the bot either: told once, its posts dropped
        [about_unit] = [n for n in told if n not in about_anna]
        assert "Hemtjänst Norr" in about_unit["text"]
    run_teams(body)


# ---------------------------------------------------------------------------- card actions
def test_a_card_action_advances_the_case_and_updates_the_card(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        status, answer = await teams.post(teams.press(ANNA, CHATS["anna"], card_id, button(card, "Registrerad")))
        assert status == 200
        assert teams.case().status == "registered"
        assert teams.case().events[-1].channel == "teams"

        [update] = teams.connector.updates
        assert (update.conversation_id, update.activity_id) == (CHATS["anna"], card_id)
        [updated] = update.cards
        shown = card_text(updated)
        assert "✔ Anna Andersson" in shown and "registrerat" in shown and "2026-11-16 09:30" in shown
        assert NUMBER in shown and "utebliven insulindos" in shown
        assert "actions" not in updated                  # done: no buttons left to press
        assert answer["type"] == "application/vnd.microsoft.card.adaptive"
        assert answer["value"] == updated                # the presser sees it at once
    run_teams(body)


def test_a_severity_button_and_a_snooze_with_inputs(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        await teams.post(teams.press(ANNA, CHATS["anna"], card_id, button(card, "Bedöm Röd")))
        assert teams.case().severity == "red"

        snooze = button(card, "Snooza")
        assert snooze["type"] == "Action.ShowCard"
        inner = snooze["card"]
        assert [i["type"] for i in inner["body"]] == ["Input.Date", "Input.Text"]
        [execute] = inner["actions"]
        status, answer = await teams.post(teams.press(ANNA, CHATS["anna"], card_id, execute))
        assert answer["type"] == "application/vnd.microsoft.activity.message"
        assert answer["value"] == t("sv", "teams_pick_date")     # nothing chosen: nothing done

        until, reason = (i["id"] for i in inner["body"])
        await teams.post(teams.press(ANNA, CHATS["anna"], card_id, execute,
                                     {until: "2026-11-25", reason: "väntar på journalkopia"}))
        [snoozed] = teams.case().snoozes
        assert (snoozed.until, snoozed.reason) == ("2026-11-25", "väntar på journalkopia")
        assert "2026-11-25" in card_text(teams.connector.updates[-1].cards[0])
    run_teams(body)


def test_an_unauthorised_press_changes_nothing(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        before = teams.case().to_dict()
        # Bengt manages another unit; the card was forwarded to him or he forged the press
        await teams.post(teams.installed(BENGT, CHATS["bengt"]))
        status, answer = await teams.post(teams.press(BENGT, CHATS["bengt"], card_id, button(card, "Registrerad")))
        assert status == 200
        assert answer["type"] == "application/vnd.microsoft.activity.message"
        assert answer["value"] == t("sv", "denied_view", number=NUMBER)
        # someone who is not in the directory at all
        status, answer = await teams.post(teams.press(STRANGER, CHATS["stranger"], card_id, button(card, "Bedöm Röd")))
        assert answer["value"] == t("sv", "denied_unknown")

        assert teams.case().to_dict() == before
        assert teams.connector.updates == []           # the card is unchanged
    run_teams(body)


def test_card_data_sent_from_another_message_shows_only_who_did_what(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        [welcome] = teams.texts_to(CHATS["anna"])
        # the card's data replayed on another message: the notification is not shown there
        await teams.post(teams.press(ANNA, CHATS["anna"], welcome.answered_id, button(card, "Registrerad")))
        [update] = teams.connector.updates
        assert update.activity_id == welcome.answered_id
        shown = card_text(update.cards[0])
        assert "✔ Anna Andersson" in shown and "utebliven insulindos" not in shown
    run_teams(body)


def test_the_registrator_diarises_a_triaged_mail_by_picking_the_unit_on_the_card(teams_org, tmp_path,
                                                                                   clock, corpora):
    rut = {"id": "29:1rut-registrator", "name": "Rut Registrator",
           "aadObjectId": "0f9e8d7c-6b5a-4938-2716-05f4e3d2c1b0"}
    people = {**teams_org.people, "rut": dataclasses.replace(teams_org.people["rut"], teams=rut["aadObjectId"])}
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data",
                        org=dataclasses.replace(teams_org, people=people),
                        env={"TEAMS_ANONYMOUS": "true", "TEAMS_PORT": "0"})

    async def body(teams: Teams):
        await teams.post(teams.installed(rut, "a:1rut-personal-chat"))
        raw = make_mail(sender="Okänd Person <okand.person@gmail.com>", subject="Fråga om min mammas hjälp",
                        body="Hej, vem ska jag prata med om min mammas hemtjänst?")
        assert (await asyncio.to_thread(teams.bot.services.ingest_mail, raw))["outcome"] == "triage"
        await teams.deliver()
        [prompt] = teams.cards_sent_to("a:1rut-personal-chat")
        card = prompt.cards[0]
        assert "Fråga om min mammas hjälp" in card_text(card)
        pick = button(card, "Diarieför som ny avvikelse")
        [choice] = pick["card"]["body"]
        assert choice["type"] == "Input.ChoiceSet"
        assert {"title": "Hemtjänst Norr", "value": "hemtjanst-norr"} in choice["choices"]
        button(card, "Ingen avvikelse")

        [execute] = pick["card"]["actions"]
        # Anna is no registrator: the same press from her changes nothing
        await teams.post(teams.installed(ANNA, CHATS["anna"]))
        status, refused = await teams.post(teams.press(ANNA, CHATS["anna"], prompt.answered_id, execute,
                                                       {choice["id"]: "hemtjanst-norr"}))
        assert refused["value"] == t("sv", "denied_triage") and teams.case() is None

        await teams.post(teams.press(rut, "a:1rut-personal-chat", prompt.answered_id, execute,
                                     {choice["id"]: "hemtjanst-norr"}))
        assert teams.case().unit == "hemtjanst-norr"
        [update] = teams.connector.updates
        shown = card_text(update.cards[0])
        assert "✔ Rut Registrator" in shown and NUMBER in shown and "actions" not in update.cards[0]
    scenario(settings, clock, corpora)(body)


# ---------------------------------------------------------------------------- commands
def test_commands_in_personal_chat_and_by_mention_in_the_unit_channel(run_teams):
    async def body(teams: Teams):
        await teams.ingest_deviation()
        await teams.post(teams.personal_message(ANNA, CHATS["anna"], "status VOK 2026/1"))
        [reply] = teams.connector.to_conversation(CHATS["anna"])
        assert reply.kind == "reply" and reply.activity_id == "1763285400001"
        assert NUMBER in reply.text and "utebliven insulindos" in reply.text

        # in the unit's channel a question is answered as the channel sees it, by mention
        await teams.post(teams.channel_mention(STRANGER, "status VOK 2026/0001"))
        [in_channel] = [c for c in teams.connector.replies if c.conversation_id.startswith(NORR_CHANNEL)]
        assert "utebliven insulindos" in in_channel.text
        # ... and a change needs a person with the right to make it
        await teams.post(teams.channel_mention(STRANGER, "registrerad VOK 2026/0001"))
        assert teams.connector.replies[-1].text == escape_message(t("sv", "denied_unknown"))
        await teams.post(teams.channel_mention(ANNA, "registrerad VOK 2026/0001"))
        assert teams.case().status == "registered"

        # the unit channel is now reachable: its next post goes to the channel, not the thread
        assert "unit:hemtjanst-norr" in teams.frontend.refs.recipients()
        await teams.post(teams.personal_message(ANNA, CHATS["anna"], "bedöm VOK 2026/0001 gul"))
        assert teams.case().severity == "yellow"
    run_teams(body)


def test_unit_channel_posts_and_questions_in_other_conversations(run_teams):
    async def body(teams: Teams):
        await teams.post(teams.channel_mention(ANNA, "hjälp"))
        await teams.ingest_deviation()
        await teams.deliver()
        [post] = [c for c in teams.connector.sent if c.conversation_id == NORR_CHANNEL]
        assert NUMBER in card_text(post.cards[0]) and "actions" not in post.cards[0]   # för kännedom

        other = teams.channel_mention(ANNA, "status VOK 2026/0001")
        other["channelData"]["channel"]["id"] = other["channelData"]["teamsChannelId"] = "19:other@thread.tacv2"
        other["conversation"]["id"] = "19:other@thread.tacv2;messageid=1"
        await teams.post(other)
        [answer] = teams.connector.to_conversation("19:other@thread.tacv2;messageid=1")
        assert answer.text == escape_message(t("sv", "teams_private_only"))
    run_teams(body)


# ---------------------------------------------------------------------------- delivery errors
def test_throttling_is_retried_after_the_connectors_retry_after(run_teams):
    async def body(teams: Teams):
        await teams.post(teams.installed(ANNA, CHATS["anna"]))
        await teams.ingest_deviation()
        teams.connector.fail_next(429, {"Retry-After": "7"}, times=10)
        await teams.deliver()
        [item] = [n for n in teams.outbox("anna") if n["event"] == "incoming_diarised"]
        assert item["state"] == "pending" and "429" in item["error"]
        assert item["next_attempt"] == "2026-11-16T08:30:07+00:00"
    run_teams(body)


# ---------------------------------------------------------------------------- security
def test_an_invalid_bearer_token_is_refused_with_401(run_teams):
    async def body(teams: Teams):
        message = teams.personal_message(ANNA, CHATS["anna"], "mina")
        status, _ = await teams.post(message, headers={"Authorization": "Bearer not-a-valid-jwt"})
        assert status == 401
        assert teams.connector.calls == []
        assert teams.frontend.refs.recipients() == []
    run_teams(body)


def test_without_anonymous_mode_a_request_without_a_token_is_refused(teams_org, tmp_path, clock, corpora):
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=teams_org,
                        env={"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
                             "TEAMS_CLIENT_SECRET": "not-a-real-secret",
                             "TEAMS_TENANT_ID": "66666666-7777-8888-9999-000000000000",
                             "TEAMS_PORT": "0"})
    bot = build(settings, clock=clock)

    async def main():
        connector = await FakeBotConnector().start()
        frontend = create_teams(settings, bot.services, host="127.0.0.1")
        await frontend.start()
        try:
            teams = Teams(bot, frontend, connector, FakeNotifier(), corpora)
            status, _ = await teams.post(teams.personal_message(ANNA, CHATS["anna"], "mina"))
            assert status == 401
            assert connector.calls == []
        finally:
            await frontend.stop()
            await connector.stop()
    try:
        assert not bot.frontends[0].config.anonymous and bot.frontends[0].host == "127.0.0.1"
        asyncio.run(main())
    finally:
        bot.close()


def test_jwt_validation_needs_the_whole_app_registration(teams_org, tmp_path, clock):
    from bot.errors import ConfigError
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=teams_org,
                        env={"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555"})
    with pytest.raises(ConfigError) as refused:
        build(settings, clock=clock)
    assert refused.value.key == "TEAMS_CLIENT_SECRET"


def test_check_config_warns_loudly_about_anonymous_teams(teams_settings, capsys):
    cmd_check_config(teams_settings, Namespace(json=False))
    out = capsys.readouterr().out
    assert t("sv", "cli_warning", warning=t("sv", "cli_warn_teams_anonymous")) in out


def test_check_config_names_a_missing_teams_secret(teams_org, tmp_path):
    from bot.errors import ConfigError
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=teams_org,
                        env={"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
                             "TEAMS_TENANT_ID": "66666666-7777-8888-9999-000000000000"})
    with pytest.raises(ConfigError) as refused:
        cmd_check_config(settings, Namespace(json=True))
    assert refused.value.key == "TEAMS_CLIENT_SECRET"


# ---------------------------------------------------------------------------- escaping
def test_text_from_outside_cannot_format_link_or_mention_in_teams(teams_org):
    evil = "**Brådskande** [klicka här](https://evil.example) <at>Alla</at> 19121212-1212"
    view = {"event": "incoming_diarised", "role": "act", "headline": "Ny avvikelse", "number": NUMBER,
            "title": evil, "kind": "Inkommande", "counterpart": "_x_", "unit": "Hemtjänst Norr",
            "severity": "Ej bedömd", "status": "Diarierad", "todo": "- gör det", "actions": []}
    shown = card_text(adaptive_card(teams_org, view, "n1"))
    assert "\\*\\*Brådskande\\*\\*" in shown and "\\[klicka här\\](https://evil.example)" in shown
    assert "19121212-1212" not in shown and "\\[personnummer\\]" in shown
    assert "\\_x\\_" in shown and "\\- gör det" in shown
    message = escape_message("<at>Alla</at> & *fet*\nrad två")
    assert message == "&lt;at&gt;Alla&lt;/at&gt; &amp; \\*fet\\*<br>rad två"
    assert escape_markdown("VOK 2026/0001 · 2026-11-20") == "VOK 2026/0001 · 2026-11-20"


# ---------------------------------------------------------------------------- the app package
def _png_size_and_colour(path: Path) -> tuple[int, int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, _, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


def test_the_teams_app_package_can_be_uploaded():
    folder = REPO / "config" / "teams"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert _png_size_and_colour(folder / "color.png")[:2] == (192, 192)
    width, height, colour_type = _png_size_and_colour(folder / "outline.png")
    assert (width, height, colour_type) == (32, 32, 6)   # RGBA: white on transparent
    [bot] = manifest["bots"]
    assert set(bot["scopes"]) == {"personal", "team"}
    assert len(manifest["name"]["short"]) <= 30 and len(manifest["description"]["short"]) <= 80
    for command_list in bot["commandLists"]:
        assert len(command_list["commands"]) <= 10
        assert all(len(c["title"]) <= 32 for c in command_list["commands"])


# ---------------------------------------------------------------------------- older clients
def executes(card: dict) -> list[dict]:
    """Every Action.Execute of a card, also those inside an Action.ShowCard."""
    found = []
    for action in card.get("actions", []):
        if action["type"] == "Action.Execute":
            found.append(action)
        elif action["type"] == "Action.ShowCard":
            found += executes(action["card"])
    return found


def test_cards_use_the_version_teams_asks_for_and_each_execute_falls_back_to_a_submit(run_teams):
    async def body(teams: Teams):
        card, _ = await card_for_anna(teams)
        assert card["version"] == "1.5"
        found = executes(card)
        assert len(found) == 5          # Registrerad, three severities, Snooza's inner button
        for execute in found:
            fallback = execute["fallback"]
            assert fallback["type"] == "Action.Submit" and fallback["title"] == execute["title"]
            assert fallback["data"] == {**execute["data"], "verb": execute["verb"]}
            assert fallback.get("style") == execute.get("style")
    run_teams(body)


def test_a_press_from_a_client_without_universal_actions_does_the_same(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        status, _ = await teams.post(teams.submit(ANNA, CHATS["anna"], card_id, button(card, "Registrerad")))
        assert status in (200, 202)
        assert teams.case().status == "registered" and teams.case().events[-1].channel == "teams"
        [update] = teams.connector.updates
        assert (update.conversation_id, update.activity_id) == (CHATS["anna"], card_id)
        shown = card_text(update.cards[0])
        assert "✔ Anna Andersson" in shown and "registrerat" in shown and NUMBER in shown
        assert "actions" not in update.cards[0]
        assert teams.connector.replies == []              # the updated card is the answer

        # the snooze form's inputs come along in the value, as with Execute
        await teams.post(teams.installed(ANNA, CHATS["anna"]))
        await teams.ingest_deviation("Avvikelse Hemtjänst Norr – fallolycka", "VOK 2026/0002")
        await teams.deliver()
        second = teams.cards_sent_to(CHATS["anna"])[-1]
        snooze = button(second.cards[0], "Snooza")
        [execute] = snooze["card"]["actions"]
        until, reason = (i["id"] for i in snooze["card"]["body"])
        await teams.post(teams.submit(ANNA, CHATS["anna"], second.answered_id, execute,
                                      {until: "2026-11-25", reason: "väntar på journalkopia"}))
        [snoozed] = teams.bot.store.get_case_by_text("VOK 2026/0002").snoozes
        assert (snoozed.until, snoozed.reason) == ("2026-11-25", "väntar på journalkopia")
    run_teams(body)


def test_an_unauthorised_submit_changes_nothing_and_says_why(run_teams):
    async def body(teams: Teams):
        card, card_id = await card_for_anna(teams)
        before = teams.case().to_dict()
        await teams.post(teams.installed(BENGT, CHATS["bengt"]))
        status, _ = await teams.post(teams.submit(BENGT, CHATS["bengt"], card_id, button(card, "Registrerad")))
        assert status in (200, 202)
        [refusal] = teams.connector.replies
        assert refusal.conversation_id == CHATS["bengt"]
        assert refusal.text == escape_message(t("sv", "denied_view", number=NUMBER))
        await teams.post(teams.submit(STRANGER, CHATS["stranger"], card_id, button(card, "Bedöm Röd")))
        assert teams.connector.replies[-1].text == escape_message(t("sv", "denied_unknown"))
        assert teams.case().to_dict() == before
        assert teams.connector.updates == []
    run_teams(body)
