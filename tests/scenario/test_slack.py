"""Slack end to end: the real bolt AsyncApp of `create_slack`, signed HTTP requests and
Socket Mode envelopes in, its WebClient pointed at a local fake Slack Web API that records
every call. What a manager, a registrator and a stranger would see and what the diary keeps."""
from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from urllib.parse import parse_qsl

import aiohttp
import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import build
from bot.chat.slack import SlackNotifier, action_blocks, escape
from bot.errors import ConfigError, DeliveryError, Unreachable
from bot.ops.metrics import unwrapped
from bot.settings import Settings, load_organisation
from handlers.slack import BOT_EVENTS, BOT_SCOPES, SLASH_COMMAND, SlackFrontend, create_slack
from tests.conftest import EXAMPLE_CONFIG, REPO, round_the_clock
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.slack_api import BOT_ID, BOT_USER, TEAM, FakeSlackApi, form, interaction, signed_headers

SECRET = "test-signing-secret-0123456789abcdef"
NUMBER = "VOK 2026/0001"
TITLE = "Avvikelse Hemtjänst Norr – utebliven insulindos"
ANNA_DM, RUT_DM, NORR = "DU0ANNA", "DU0RUT", "C0NORR"
USERS = {   # the workspace: ids configured for anna, bengt and rut; maria found by e-mail
    "U0ANNA": {"email": "anna.andersson@exempelby.se", "name": "anna"},
    "U0BENGT": {"email": "bengt.berg@exempelby.se", "name": "bengt"},
    "U0RUT": {"email": "rut.registrator@exempelby.se", "name": "rut"},
    "U0MARIA": {"email": "Maria.Medicinsson@exempelby.se", "name": "maria"},
    "U0OKAND": {"email": "okand.person@gmail.com", "name": "okand"},   # not in the directory
}
FORM = "application/x-www-form-urlencoded"


# ---------------------------------------------------------------------------- set-up
def slack_config(tmp_path, *, any_hour: bool = False):
    """The example with Slack ids; `any_hour`: notices at once at any hour, for a `run` on the
    real clock (tests.conftest.round_the_clock)."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    if any_hour:
        text = round_the_clock(text)
    for person, user in (("anna", "U0ANNA"), ("bengt", "U0BENGT"), ("rut", "U0RUT")):
        text = text.replace(f'id = "{person}"', f'id = "{person}"\nslack = "{user}"', 1)
    text = text.replace('managers = ["anna"]', f'managers = ["anna"]\nslack_channel = "{NORR}"', 1)
    config = tmp_path / "org.toml"
    config.write_text(text, encoding="utf-8")
    return config


def slack_pending(bot) -> list[dict]:
    """The Slack items waiting (the MA's and SAS's kännedom copies by console wait for their
    bundle at 13:00, issue 24: not what these tests are about)."""
    return [n for n in bot.store.outbox("pending") if n["channel"] == "slack"]


def make_bot(tmp_path, clock, api: FakeSlackApi, **env):
    config = slack_config(tmp_path)
    settings = Settings(config_path=config, data_dir=tmp_path / "data", org=load_organisation(config),
                        env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                             "SLACK_API_URL": api.url, "SLACK_PORT": "0", **env})
    bot = build(settings, clock=clock, sender=FakeMailSender())
    bot.slack = next(f for f in bot.frontends if f.channel == "slack")
    return bot


@pytest.fixture
def slack_api():
    with FakeSlackApi(USERS) as api:
        yield api


@pytest.fixture
def slack_bot(tmp_path, clock, slack_api):
    bot = make_bot(tmp_path, clock, slack_api)
    yield bot
    bot.close()


@pytest.fixture
def diarised(slack_bot, slack_api):
    """An incoming deviation for Hemtjänst Norr, delivered: returns Anna's DM as Slack keeps it."""
    slack_bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=TITLE,
        message_id="<avv-1@regionexempel.se>", body="Vi anmäler en avvikelse: utebliven insulindos."))
    slack_bot.services.deliver_outbox()
    return slack_api.conversation(ANNA_DM)[-1]


def run(coroutine):
    return asyncio.run(coroutine)


async def settle():
    """Let the listeners finish what they do after their ack (bolt runs them as tasks)."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=10)


async def dispatch(bot, body: str, content_type: str = FORM, secret: str = SECRET):
    """A signed HTTP request from Slack through the bolt app."""
    request = AsyncBoltRequest(body=body, headers=signed_headers(secret, body, content_type))
    response = await bot.slack.app.async_dispatch(request)
    await settle()
    return response


def slash(api, user: str, text: str, channel: str = "C0RANDOM") -> str:
    return form({"token": "legacy", "team_id": TEAM, "team_domain": "exempelby",
                 "channel_id": channel, "channel_name": "allmant", "user_id": user,
                 "user_name": user.lower(), "command": "/avvikelse", "text": text,
                 "api_app_id": "A0AVV", "response_url": api.response_url(f"cmd-{user}"),
                 "trigger_id": "1.2.trigger"})


def event(kind: str, **fields) -> str:
    return json.dumps({"token": "legacy", "team_id": TEAM, "api_app_id": "A0AVV",
                       "type": "event_callback", "event_id": "Ev0001", "event_time": 1763283000,
                       "event": {"type": kind, "event_ts": "1763283000.000100", **fields}})


def find_element(message: dict, label: str) -> tuple[dict, dict]:
    for block in message["blocks"]:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            text = (element.get("text") or element.get("placeholder") or {}).get("text")
            if text == label:
                return block, element
    raise AssertionError(f"no element {label!r} in the message")


def press(api, channel: str, message: dict, label: str, user: str, *, choose: str | None = None,
          home: bool = False) -> str:
    """What Slack posts when someone presses a button (or picks an option) in a message."""
    if home:
        block, element = {"block_id": "h0"}, next(
            b["accessory"] for b in message["blocks"] if b.get("accessory", {}).get("text", {}).get("text") == label)
    else:
        block, element = find_element(message, label)
    action = {"action_id": element["action_id"], "block_id": block.get("block_id", "b0"),
              "type": element["type"], "action_ts": "1763283600.000200"}
    if element["type"] == "button":
        action.update(value=element["value"], text=element["text"])
    else:
        action["selected_option"] = next(o for o in element["options"] if o["value"] == choose)
    payload = {"type": "block_actions", "user": {"id": user, "username": user, "team_id": TEAM},
               "api_app_id": "A0AVV", "token": "legacy", "trigger_id": "1.2.trigger",
               "team": {"id": TEAM, "domain": "exempelby"}, "actions": [action]}
    if home:
        payload.update(container={"type": "view", "view_id": "V1"},
                       view={"id": "V1", "type": "home", "blocks": message["blocks"]})
    else:
        payload.update(container={"type": "message", "message_ts": message["ts"],
                                  "channel_id": channel, "is_ephemeral": False},
                       channel={"id": channel, "name": "directmessage"},
                       message={"type": "message", "ts": message["ts"], "text": message["text"],
                                "blocks": message["blocks"], "bot_id": BOT_ID, "user": BOT_USER},
                       response_url=api.response_url("press"))
    return interaction(payload)


def mrkdwn_texts(blocks: list[dict]) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(blocks)
    return found


def case_of(bot):
    return bot.store.get_case_by_text(NUMBER)


# ---------------------------------------------------------------------------- notifications
def test_a_diarised_deviation_gives_the_manager_a_dm_and_the_unit_channel_a_post(
        slack_bot, slack_api, diarised):
    dm = diarised
    assert dm["blocks"][0] == {"type": "header", "text": {"type": "plain_text", "text": TITLE,
                                                          "emoji": False}}     # the title first
    facts = "\n".join(mrkdwn_texts(dm["blocks"]))
    for fact in (NUMBER, "Inkommande avvikelse", "Region Exempel", "Hemtjänst Norr", "Ej bedömd",
                 "Diarierad", "*Att göra:* Registrera avvikelsen i verksamhetssystemet senast"):
        assert fact in facts
    buttons = [e["text"]["text"] for b in dm["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == ["Registrerad", "Bedöm Grön", "Bedöm Gul", "Bedöm Röd", "Snooza"]
    assert NUMBER in dm["text"] and TITLE in dm["text"]             # the fallback is always set
    assert [c.params["users"] for c in slack_api.calls_to("conversations.open")] == ["U0ANNA"]

    [post] = slack_api.conversation(NORR)
    assert post["blocks"][0]["text"]["text"] == TITLE
    assert "*För kännedom:*" in "\n".join(mrkdwn_texts(post["blocks"]))
    assert not [b for b in post["blocks"] if b["type"] == "actions"]   # nothing to press there

    sent = {n["recipient"]: n for n in slack_bot.store.outbox() if n["channel"] == "slack"}
    assert sent["anna"]["state"] == "sent"
    assert sent["anna"]["delivery"] == {"channel": ANNA_DM, "ts": dm["ts"]}
    assert sent["unit:hemtjanst-norr"]["delivery"] == {"channel": NORR, "ts": post["ts"]}


def test_outside_text_is_shown_not_obeyed(slack_bot, slack_api):
    subject = "Avvikelse Hemtjänst Norr <!channel> <@U0BENGT> <https://x.example|klicka här> & co"
    slack_bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=subject,
        body="Vi anmäler en avvikelse."))
    slack_bot.services.deliver_outbox()
    dm = slack_api.conversation(ANNA_DM)[-1]
    shown = mrkdwn_texts(dm["blocks"]) + [dm["text"]]
    for raw in ("<!channel>", "<@U0BENGT>", "<https://x.example|klicka här>"):
        assert not any(raw in text for text in shown), raw
    assert any("&lt;!channel&gt; &lt;@U0BENGT&gt; &lt;https://x.example|klicka här&gt; &amp; co"
               in text for text in shown)
    assert dm["blocks"][0]["text"]["type"] == "plain_text"   # Slack parses nothing in plain_text
    assert escape("a <b> & c") == "a &lt;b&gt; &amp; c"


def test_rate_limited_post_is_retried_after_retry_after(slack_bot, slack_api, clock):
    slack_api.fail("chat.postMessage", status=429, retry_after=7)
    slack_bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=TITLE, body="Avvikelse."))
    slack_bot.services.deliver_outbox()
    [waiting] = slack_pending(slack_bot)
    assert waiting["next_attempt"] == (clock.now() + timedelta(seconds=7)).isoformat()
    clock.set(clock.now() + timedelta(seconds=6))
    slack_bot.services.deliver_outbox()
    assert slack_pending(slack_bot)                    # not before Slack said
    clock.set(clock.now() + timedelta(seconds=2))
    slack_bot.services.deliver_outbox()
    assert not slack_pending(slack_bot)
    assert len(slack_api.conversation(ANNA_DM)) == 1 and len(slack_api.conversation(NORR)) == 1


def test_a_post_whose_answer_was_lost_is_not_posted_again(slack_bot, slack_api, clock):
    slack_api.fail("chat.postMessage", status=500, error="internal_error", perform=True)
    slack_bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=TITLE, body="Avvikelse."))
    slack_bot.services.deliver_outbox()
    clock.set(clock.now() + timedelta(hours=1))
    slack_bot.services.deliver_outbox()
    assert not slack_pending(slack_bot)
    posted = slack_api.conversation(ANNA_DM) + slack_api.conversation(NORR)
    assert len(posted) == 2                             # one each: the retry found its earlier post
    assert len(slack_api.calls_to("chat.postMessage")) == 2
    assert len(slack_api.calls_to("conversations.history")) == 1
    everything = [*slack_bot.store.outbox_history(), *slack_bot.store.outbox()]  # moved out or live
    delivered = [n["delivery"]["ts"] for n in everything if n["channel"] == "slack"]
    assert sorted(delivered) == sorted(m["ts"] for m in posted)


def test_person_without_a_configured_id_is_found_by_email_or_is_unreachable(slack_bot, slack_api):
    org = slack_bot.settings.org
    notifier = SlackNotifier(org, slack_bot.slack.notifier.client)
    item = {"id": "x:maria", "recipient": "maria", "channel": "slack", "diary_number": NUMBER,
            "text": "Hej", "view": {}, "attempts": 0, "created": "2026-11-16T08:30:00+00:00"}
    assert notifier.send(item) == {"channel": "DU0MARIA", "ts": slack_api.conversation("DU0MARIA")[0]["ts"]}
    notifier.send({**item, "id": "x:maria:2"})
    assert len(slack_api.calls_to("users.lookupByEmail")) == 1   # cached
    with pytest.raises(Unreachable):
        notifier.send({**item, "id": "x:sven", "recipient": "sven"})
    slack_api.fail("chat.postMessage", status=429, retry_after=3)
    with pytest.raises(DeliveryError) as refused:
        notifier.send({**item, "id": "x:maria:3"})
    assert refused.value.retry_after == 3


# ---------------------------------------------------------------------------- buttons
def test_a_press_changes_the_case_and_updates_the_message(slack_bot, slack_api, diarised):
    response = run(dispatch(slack_bot, press(slack_api, ANNA_DM, diarised, "Registrerad", "U0ANNA")))
    assert response.status == 200
    assert case_of(slack_bot).status == "registered"
    assert case_of(slack_bot).events[-1].channel == "slack"
    [update] = slack_api.calls_to("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (ANNA_DM, diarised["ts"])
    blocks = update.params["blocks"]
    assert not [b for b in blocks if b["type"] == "actions"]          # nobody presses twice
    assert blocks[0]["text"]["text"] == TITLE
    assert blocks[-1]["elements"][0]["text"] == (
        "✔ Anna Andersson · VOK 2026/0001 är markerat som registrerat i verksamhetssystemet."
        " · måndag 16 november kl. 09:30")
    assert update.params["text"] == diarised["text"]


def test_a_press_by_someone_not_allowed_changes_nothing_and_says_why(slack_bot, slack_api, diarised):
    before = case_of(slack_bot).to_dict()
    run(dispatch(slack_bot, press(slack_api, ANNA_DM, diarised, "Bedöm Röd", "U0BENGT")))
    run(dispatch(slack_bot, press(slack_api, ANNA_DM, diarised, "Registrerad", "U0OKAND")))
    assert case_of(slack_bot).to_dict() == before
    assert not slack_api.calls_to("chat.update")
    said = [(c.params["user"], c.params["text"]) for c in slack_api.calls_to("chat.postEphemeral")]
    assert said == [("U0BENGT", "Du har inte behörighet till VOK 2026/0001."),
                    ("U0OKAND", "Du finns inte i organisationens katalog, så jag kan inte visa"
                                " eller ändra ärenden. Kontakta registrator.")]


def test_snooze_asks_for_date_and_reason_then_pauses_the_reminders(slack_bot, slack_api, diarised):
    run(dispatch(slack_bot, press(slack_api, ANNA_DM, diarised, "Snooza", "U0ANNA")))
    [opened] = slack_api.calls_to("views.open")
    form_view = opened.params["view"]
    assert form_view["blocks"][0]["element"]["initial_date"] == "2026-11-23"

    def submitted(user: str, until: str, reason: str) -> str:
        return interaction({
            "type": "view_submission", "team": {"id": TEAM}, "api_app_id": "A0AVV",
            "user": {"id": user, "team_id": TEAM}, "token": "legacy", "trigger_id": "3.4.t",
            "view": {**form_view, "id": "V9", "state": {"values": {
                "until": {"until": {"type": "datepicker", "selected_date": until}},
                "reason": {"reason": {"type": "plain_text_input", "value": reason}}}}}})

    refused = run(dispatch(slack_bot, submitted("U0BENGT", "2026-11-25", "semester")))
    assert json.loads(refused.body)["response_action"] == "errors"
    assert json.loads(refused.body)["errors"]["reason"] == "Du har inte behörighet till VOK 2026/0001."
    assert case_of(slack_bot).events[-1].what != "snoozed"

    done = run(dispatch(slack_bot, submitted("U0ANNA", "2026-11-25", "väntar på\njournalkopia")))
    assert done.status == 200 and not done.body
    event_ = case_of(slack_bot).events[-1]
    assert event_.what == "snoozed" and "väntar på journalkopia" in json.dumps(event_.details,
                                                                                ensure_ascii=False)
    [update] = slack_api.calls_to("chat.update")
    assert update.params["ts"] == diarised["ts"]
    assert "Anna Andersson" in update.params["blocks"][-1]["elements"][0]["text"]


def test_the_registrator_picks_the_unit_of_a_triaged_mail_in_one_choice(slack_bot, slack_api):
    slack_bot.services.ingest_mail(make_mail(
        sender="Okänd Person <okand.person@gmail.com>", subject="Fråga om min mammas hjälp",
        body="Hej, vem ska jag prata med om min mammas hemtjänst?"))
    slack_bot.services.deliver_outbox()
    prompt = slack_api.conversation(RUT_DM)[-1]
    _, picker = find_element(prompt, "Diarieför som ny avvikelse")
    assert picker["type"] == "static_select"
    assert "Hemtjänst Norr" in [o["text"]["text"] for o in picker["options"]]
    find_element(prompt, "Ingen avvikelse")

    # Anna is no registrator: her choice changes nothing
    run(dispatch(slack_bot, press(slack_api, RUT_DM, prompt, "Diarieför som ny avvikelse", "U0ANNA",
                                  choose="hemtjanst-norr")))
    assert case_of(slack_bot) is None
    run(dispatch(slack_bot, press(slack_api, RUT_DM, prompt, "Diarieför som ny avvikelse", "U0RUT",
                                  choose="hemtjanst-norr")))
    assert case_of(slack_bot).unit == "hemtjanst-norr"
    [update] = slack_api.calls_to("chat.update")
    assert "Rut Registrator" in update.params["blocks"][-1]["elements"][0]["text"]
    assert NUMBER in update.params["blocks"][-1]["elements"][0]["text"]


def test_a_unit_choice_too_long_for_a_select_becomes_a_button_per_unit():
    template = "diarisera T" + "0" * 260 + " {unit}"        # a block_id holds 255 characters
    [block] = action_blocks([{"id": "triage_new", "label": "Diarieför", "command": template,
                              "input": "unit", "choices": [{"value": "a", "label": "Enhet A"},
                                                           {"value": "b", "label": "Enhet B"}]}])
    assert [(e["text"]["text"], e["value"][-2:]) for e in block["elements"]] == [
        ("Enhet A", " a"), ("Enhet B", " b")]


# ---------------------------------------------------------------------------- typed commands
def test_slash_status_answers_an_allowed_user_privately_and_refuses_others(
        slack_bot, slack_api, diarised):
    for user in ("U0ANNA", "U0BENGT", "U0OKAND"):
        response = run(dispatch(slack_bot, slash(slack_api, user, "status VOK 2026/1", channel=NORR)))
        assert response.status == 200
    answers = dict(slack_api.responses)
    assert all(a["response_type"] == "ephemeral" for a in answers.values())
    assert answers["cmd-U0ANNA"]["text"].startswith(f"«{TITLE}»\n{NUMBER}")
    assert answers["cmd-U0BENGT"]["text"] == "Du har inte behörighet till VOK 2026/0001."
    assert answers["cmd-U0OKAND"]["text"].startswith("Du finns inte i organisationens katalog")


def test_a_dm_and_a_mention_are_commands_too(slack_bot, slack_api, diarised):
    run(dispatch(slack_bot, event("message", channel="D0ANNA", channel_type="im", user="U0ANNA",
                                  text="mina", ts="1763283000.000100"), "application/json"))
    [answer] = [c for c in slack_api.calls_to("chat.postMessage") if c.params["channel"] == "D0ANNA"]
    assert NUMBER in answer.params["text"] and "Ärenden (1)" in answer.params["text"]

    run(dispatch(slack_bot, event("app_mention", channel=NORR, user="U0ANNA",
                                  text=f"<@{BOT_USER}> status 2026/1", ts="1763283001.000100"),
                 "application/json"))
    [private] = slack_api.calls_to("chat.postEphemeral")
    assert (private.params["channel"], private.params["user"]) == (NORR, "U0ANNA")
    assert TITLE in private.params["text"]
    assert len(slack_api.conversation(NORR)) == 1            # the channel saw nothing new


def test_typed_text_means_what_was_typed(slack_bot, slack_api, diarised):
    """Slack sends typed &, < and > as entities; the diary keeps the characters."""
    run(dispatch(slack_bot, event("message", channel="D0ANNA", channel_type="im", user="U0ANNA",
                                  text="rubrik 2026/1 Fall &amp; skada &lt;natt&gt;",
                                  ts="1763283000.000100"), "application/json"))
    assert case_of(slack_bot).title == "Fall & skada <natt>"
    run(dispatch(slack_bot, event("message", channel="D0ANNA", channel_type="im", user="U0ANNA",
                                  text="status 2026/1", ts="1763283001.000100"), "application/json"))
    shown = slack_api.conversation("D0ANNA")[-1]["text"]
    assert shown.startswith("«Fall &amp; skada &lt;natt&gt;»")      # and shown as typed


def test_app_home_lists_my_cases_and_subscriptions_and_subscribes(slack_bot, slack_api, diarised):
    run(dispatch(slack_bot, event("app_home_opened", user="U0ANNA", channel="D0ANNA", tab="home"),
                 "application/json"))
    [published] = slack_api.calls_to("views.publish")
    assert published.params["user_id"] == "U0ANNA"
    home = published.params["view"]
    texts = "\n".join(mrkdwn_texts(home["blocks"]))
    assert home["type"] == "home" and f"*{NUMBER}* «{TITLE}»" in texts
    assert "*Hemtjänst Norr* · prenumererar inte" in texts and "Kommunal hemsjukvård" in texts
    assert "Solgården" not in texts                         # not hers to follow

    run(dispatch(slack_bot, press(slack_api, "", home, "Prenumerera", "U0ANNA", home=True)))
    assert [(s.person, s.units) for s in slack_bot.store.subscriptions()] == [("anna", ("hemtjanst-norr",))]
    again = slack_api.calls_to("views.publish")[-1].params["view"]
    assert again["blocks"][0]["elements"][0]["text"].startswith("✔ Du får nu kopior")
    assert "*Hemtjänst Norr* · prenumererar" in "\n".join(mrkdwn_texts(again["blocks"]))


def test_app_home_of_a_stranger_shows_nothing_but_a_refusal(slack_bot, slack_api, diarised):
    run(dispatch(slack_bot, event("app_home_opened", user="U0OKAND", channel="D0X", tab="home"),
                 "application/json"))
    home = slack_api.calls_to("views.publish")[0].params["view"]
    assert NUMBER not in json.dumps(home)
    assert "Du finns inte i organisationens katalog" in json.dumps(home, ensure_ascii=False)


# ---------------------------------------------------------------------------- the two ways in
def test_http_endpoint_refuses_a_bad_signature_and_serves_a_good_one(slack_bot, slack_api, diarised):
    async def scenario():
        slack_bot.slack.host = "127.0.0.1"
        await slack_bot.slack.start()
        try:
            assert slack_bot.slack.mode == "http" and slack_bot.slack.port > 0
            url = f"http://127.0.0.1:{slack_bot.slack.port}/slack/events"
            body = slash(slack_api, "U0ANNA", "status VOK 2026/1")
            async with aiohttp.ClientSession() as http:
                forged = signed_headers("not-the-secret", body, FORM)
                async with http.post(url, data=body, headers=forged) as response:
                    assert response.status == 401
                async with http.post(url, data=body, headers=signed_headers(SECRET, body, FORM)) as response:
                    assert response.status == 200
                await slack_api.wait_for_async(lambda: slack_api.responses)
        finally:
            await slack_bot.slack.stop()

    run(scenario())
    [(name, answer)] = slack_api.responses
    assert name == "cmd-U0ANNA" and TITLE in answer["text"]


def test_socket_mode_serves_commands_and_events_without_a_public_url(tmp_path, clock, slack_api):
    bot = make_bot(tmp_path, clock, slack_api, SLACK_APP_TOKEN="xapp-test", SLACK_SIGNING_SECRET="")
    bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=TITLE, body="Avvikelse."))

    async def scenario():
        await bot.slack.start()
        try:
            await slack_api.wait_for_async(lambda: slack_api.connected)
            command = dict(parse_qsl(slash(slack_api, "U0ANNA", "status 2026/1")))
            envelope = slack_api.send_envelope("slash_commands", command)
            await slack_api.wait_for_async(lambda: slack_api.ack_for(envelope))
            await slack_api.wait_for_async(lambda: slack_api.responses)
            slack_api.send_envelope("events_api", json.loads(event(
                "message", channel="D0ANNA", channel_type="im", user="U0ANNA", text="försenade",
                ts="1763283002.000100")))
            await slack_api.wait_for_async(lambda: slack_api.conversation("D0ANNA"))
        finally:
            await bot.slack.stop()

    try:
        assert bot.slack.mode == "socket"
        run(scenario())
    finally:
        bot.close()
    assert TITLE in slack_api.responses[0][1]["text"]
    assert slack_api.conversation("D0ANNA")[0]["text"] == "Inga ärenden."
    assert [c.token for c in slack_api.calls_to("apps.connections.open")] == ["xapp-test"]


# ---------------------------------------------------------------------------- configuration
def test_the_manifest_creates_the_app_this_code_serves_with_no_more_scopes():
    manifest = json.loads((REPO / "config" / "slack-manifest.json").read_text(encoding="utf-8"))
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == set(BOT_SCOPES)
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == list(BOT_EVENTS)
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == [SLASH_COMMAND]
    assert manifest["settings"]["socket_mode_enabled"] and manifest["settings"]["interactivity"]["is_enabled"]
    assert manifest["features"]["app_home"]["home_tab_enabled"]


def test_a_refused_bot_token_stops_the_start_with_a_clear_reason(slack_bot, slack_api):
    slack_api.fail("auth.test", status=200, error="invalid_auth")
    with pytest.raises(ConfigError) as error:
        run(slack_bot.slack.start())
    assert "SLACK_BOT_TOKEN" in str(error.value) and "invalid_auth" in str(error.value)


def test_a_bad_port_is_a_configuration_error(slack_bot):
    settings = slack_bot.settings
    bad = Settings(config_path=settings.config_path, data_dir=settings.data_dir, org=settings.org,
                   env={**settings.env, "SLACK_PORT": "http"})
    with pytest.raises(ConfigError) as error:
        create_slack(bad, slack_bot.services)
    assert "SLACK_PORT" in str(error.value)
    assert isinstance(slack_bot.slack, SlackFrontend)
    assert unwrapped(slack_bot.notifiers["slack"]) is slack_bot.slack.notifier   # metered around it
