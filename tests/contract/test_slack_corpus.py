"""Every request in the public Slack corpus (../shared/corpora/slack) goes through the real
bolt app of `create_slack`, signed over HTTP and as a Socket Mode envelope, without an
error: the ones the bot listens to (slash commands, DMs, mentions, App Home, button presses,
form submissions) are answered with 200, the others acknowledged or left unhandled.

The corpus is real Slack test material and schema "superset" samples with blank values;
only what addresses *our* listeners is rewritten (the command name, action and callback
ids), so every odd value reaches our code. Its response_urls point at the local fake.
"""
from __future__ import annotations

import asyncio
import copy
import json
import logging
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import build
from bot.chat.slack import COMMAND, SNOOZE_FORM
from bot.ports import FixedClock
from bot.settings import Settings, load_organisation
from tests.conftest import CORPORA, EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.slack_api import FakeSlackApi, form, interaction, signed_headers

SECRET = "corpus-signing-secret"
SLACK = CORPORA / "slack"
LISTENED_EVENTS = frozenset({"message", "app_mention", "app_home_opened"})
EVENTS_API_TYPES = frozenset({"event_callback", "url_verification", "app_rate_limited"})
# Web API answers and AWS Lambda OAuth wrappers: no request to the app
NOT_REQUESTS = ("_response", "mock_web_api_server__body", "adapter_tests.aws.")


def corpus_requests() -> list[tuple[str, dict]]:
    if not SLACK.is_dir():
        pytest.fail(f"the public Slack corpus is missing: expected {SLACK}")
    paths = sorted((SLACK / "bolt-python-test-payloads").iterdir()) + sorted(
        (SLACK / "java-slack-sdk-json-logs").rglob("*.json"))
    found = []
    for path in paths:
        if path.suffix not in (".json", ".txt") or any(m in path.name for m in NOT_REQUESTS):
            continue
        name = str(path.relative_to(SLACK))
        if path.suffix == ".txt":
            found.append((name, dict(parse_qsl(path.read_text(encoding="utf-8").strip(),
                                               keep_blank_values=True))))
            continue
        payload = json.loads(path.read_text(encoding="utf-8"))
        if "invalid_payloads" in path.name:   # a table of malformed bodies
            found += [(f"{name}:{key}", body) for key, body in payload.items()]
        else:
            found.append((name, payload))
    return found


REQUESTS = corpus_requests()


def addressed_to_us(payload: dict, response_url: str) -> tuple[dict, bool]:
    """The request as Slack would send it to this app; and whether a listener of ours takes it."""
    payload = _with_response_urls(copy.deepcopy(payload), response_url)
    if "command" in payload:
        payload["command"] = "/avvikelse"
        return payload, True
    if isinstance(payload.get("event"), dict):
        payload["type"] = payload.get("type") or "event_callback"   # blank in the superset samples
        return payload, payload["type"] == "event_callback" and payload["event"].get("type") in LISTENED_EVENTS
    if payload.get("type") == "block_actions" and payload.get("actions"):
        for action in payload["actions"]:
            action["action_id"] = f"{COMMAND}0:corpus"
        return payload, True
    if payload.get("type") == "view_submission" and isinstance(payload.get("view"), dict):
        payload["view"]["callback_id"] = SNOOZE_FORM
        return payload, True
    return payload, False


def _with_response_urls(node, url: str):
    if isinstance(node, dict):
        return {k: (url if k == "response_url" and v else _with_response_urls(v, url))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_with_response_urls(v, url) for v in node]
    return node


def http_request(payload: dict) -> AsyncBoltRequest:
    if "command" in payload:
        body, kind = form({k: _flat(v) for k, v in payload.items()}), "application/x-www-form-urlencoded"
    elif payload.get("type") in EVENTS_API_TYPES or "event" in payload:
        body, kind = json.dumps(payload), "application/json"
    else:
        body, kind = interaction(payload), "application/x-www-form-urlencoded"
    return AsyncBoltRequest(body=body, headers=signed_headers(SECRET, body, kind))


def _flat(value) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


@pytest.fixture(scope="module")
def corpus_bot(tmp_path_factory):
    """A bot with an open case, a fake Slack that knows every corpus user as Anna (so the
    requests reach the commands, not only the refusal), and its Slack app."""
    anna = {"email": "anna.andersson@exempelby.se", "name": "anna"}
    with FakeSlackApi(anyone=anna) as api:
        data = tmp_path_factory.mktemp("slack-corpus")
        org = load_organisation(EXAMPLE_CONFIG)
        settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org,
                            env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                                 "SLACK_API_URL": api.url})
        bot = build(settings, clock=FixedClock(datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)),
                    sender=FakeMailSender())
        bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject="Avvikelse Hemtjänst Norr – utebliven insulindos", body="Vi anmäler en avvikelse."))
        bot.api = api
        try:
            yield bot
        finally:
            bot.close()


async def _dispatch(app, request: AsyncBoltRequest):
    response = await app.async_dispatch(request)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:   # the listener's work after its ack
        await asyncio.wait(others, timeout=10)
    return response


@pytest.mark.parametrize("mode", ["http", "socket_mode"])
@pytest.mark.parametrize("name,payload", REQUESTS, ids=[n for n, _ in REQUESTS])
def test_corpus_request_goes_through_the_app_without_an_error(corpus_bot, caplog, mode, name, payload):
    slack = next(f for f in corpus_bot.frontends if f.channel == "slack")
    request_payload, listened = addressed_to_us(payload, corpus_bot.api.response_url("corpus"))
    request = (http_request(request_payload) if mode == "http"
               else AsyncBoltRequest(mode="socket_mode", body=request_payload))
    with caplog.at_level(logging.INFO):
        response = asyncio.run(_dispatch(slack.app, request))
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    if listened:
        assert response.status == 200, response.body
    elif "invalid_payloads" in name:     # malformed on purpose (bolt's own tests): refused
        assert response.status in (404, 500)
    else:
        assert response.status in (200, 404), response.body


def test_the_corpus_addresses_every_kind_of_request_the_bot_listens_to():
    kinds = set()
    for _, payload in REQUESTS:
        prepared, listened = addressed_to_us(payload, "http://127.0.0.1/")
        if listened:
            kinds.add("command" if "command" in prepared else
                      prepared["event"]["type"] if "event" in prepared else prepared["type"])
    assert kinds == {"command", "message", "app_mention", "app_home_opened", "block_actions",
                     "view_submission"}


def test_requests_are_signed_as_slack_signs_them_and_a_replay_is_refused(corpus_bot):
    vector = json.loads((SLACK / "signing-test-vector" / "slack_signature_vector.json").read_text())
    headers = signed_headers(vector["signing_secret"], vector["body"], vector["content_type"],
                             timestamp=int(vector["timestamp"]))
    assert headers["x-slack-signature"] == vector["expected_signature"]
    # the same request, signed with our secret but years old: a replay, refused
    old = signed_headers(SECRET, vector["body"], vector["content_type"], timestamp=int(vector["timestamp"]))
    slack = next(f for f in corpus_bot.frontends if f.channel == "slack")
    response = asyncio.run(_dispatch(slack.app, AsyncBoltRequest(body=vector["body"], headers=old)))
    assert response.status == 401
