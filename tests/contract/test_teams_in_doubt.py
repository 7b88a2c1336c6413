"""Issue 26: a Teams card whose post was interrupted (an ambiguous 502, a crash between
claim and record) is never silently posted twice. Each card carries a random marker; with
`[teams] graph_chat_read` the bot looks for it in the chat through the local Graph
(GET /chats/{id}/messages, real O365/msal client) and records the item as delivered when
found; without it the item is recorded as delivered in doubt and its text rides on the
person's next card under "Kan ha visats redan:", or goes alone as a small plain note.
The local Bot Connector records every post; the local Graph shows each post in its chat."""
from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from bot.chat.teams import graph_chat_id, item_marker, marker_id
from bot.mail.graph import GraphChatMessages
from bot.usecases.doubt import DOUBT_KEY, NOTE_WAIT
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.graph_server import FakeGraphServer
from tests.scenario.test_teams import (ANNA, CHATS, NUMBER, Teams, card_text, running,  # noqa: F401
                                      teams_org, teams_settings)

CHAT_READ = ("Chat.Read.All",)


def item_of(teams: Teams, number: str = NUMBER) -> dict:
    [item] = [n for n in teams.outbox("anna") if n["event"] == "incoming_diarised"
              and n["diary_number"] == number]
    return item


def cards_with(teams: Teams, marker: str) -> list:
    return [c for c in teams.cards_sent_to(CHATS["anna"]) if marker_id(marker) in str(c.cards)]


def in_doubt(teams_settings, clock, corpora, *, chat_read: bool, body, granted: bool = True):
    """Anna has the app; a deviation's card is posted but answered 502; then `body`.
    `chat_read`: [teams] graph_chat_read; `granted`: the Graph app has Chat.Read.All."""
    async def main():
        connector = await FakeBotConnector().start()
        graph = FakeGraphServer(roles=CHAT_READ if chat_read and granted else ()).start()
        try:
            async with running(teams_settings, clock, corpora, connector) as teams:
                await teams.post(teams.installed(ANNA, CHATS["anna"]))
                chat = graph_chat_id(teams.frontend.refs.get("anna"))
                assert chat == f"19:{ANNA['aadObjectId']}_0b6fe6d1-fece-44f7-9a48-56465e2d5ab8@unq.gbl.spaces"
                connector.on_post = lambda conversation, activity, ident: graph.add_chat_message(
                    chat, activity, ident) if conversation == CHATS["anna"] else None
                if chat_read:
                    finder_settings = dataclasses.replace(teams_settings, env=graph.env())
                    teams.frontend.notifier.finder = GraphChatMessages.from_settings(
                        finder_settings, verify=graph.ca_path)
                await teams.ingest_deviation()
                connector.fail_after_post(502)
                await teams.deliver()
                item = item_of(teams)
                assert item["state"] == "pending" and item["in_doubt"] and "502" in item["error"]
                assert len(cards_with(teams, item_marker(item))) == 1      # it is in the chat
                clock.set(clock.now() + timedelta(seconds=61))             # the retry is due
                await body(teams, graph)
        finally:
            graph.stop()
            await connector.stop()
    asyncio.run(main())


def test_with_chat_read_an_ambiguous_502_is_found_by_its_marker_and_not_posted_again(
        teams_settings, clock, corpora):
    async def body(teams: Teams, graph: FakeGraphServer):
        await teams.deliver()
        item = item_of(teams)
        [card] = cards_with(teams, item_marker(item))
        assert item["state"] == "sent"
        assert item["delivery"] == {"activity_id": card.answered_id,
                                    "conversation_id": CHATS["anna"], "found_in_chat": True}
        assert len(teams.cards_sent_to(CHATS["anna"])) == 1
        assert graph.graph_requests("GET", r"^/v1\.0/chats/19:.*@unq\.gbl\.spaces/messages$")
    in_doubt(teams_settings, clock, corpora, chat_read=True, body=body)


def test_with_chat_read_a_card_that_never_arrived_is_posted(teams_settings, clock, corpora):
    async def main():
        connector = await FakeBotConnector().start()
        graph = FakeGraphServer(roles=CHAT_READ).start()
        try:
            async with running(teams_settings, clock, corpora, connector) as teams:
                await teams.post(teams.installed(ANNA, CHATS["anna"]))
                chat = graph_chat_id(teams.frontend.refs.get("anna"))
                connector.on_post = lambda c, activity, ident: graph.add_chat_message(chat, activity, ident)
                teams.frontend.notifier.finder = GraphChatMessages.from_settings(
                    dataclasses.replace(teams_settings, env=graph.env()), verify=graph.ca_path)
                await teams.ingest_deviation()
                connector.fail_next(504)                     # refused before it was posted
                await teams.deliver()
                assert item_of(teams)["in_doubt"] and not teams.cards_sent_to(CHATS["anna"])
                clock.set(clock.now() + timedelta(seconds=61))
                await teams.deliver()
                item = item_of(teams)
                assert item["state"] == "sent" and len(cards_with(teams, item_marker(item))) == 1
        finally:
            graph.stop()
            await connector.stop()
    asyncio.run(main())


def test_without_chat_read_the_item_rides_on_the_next_card_marked(teams_settings, clock, corpora):
    async def body(teams: Teams, graph: FakeGraphServer):
        await teams.deliver()
        first = item_of(teams)
        assert first["state"] == "sent" and first["delivery"]["in_doubt"] is True
        assert len(teams.cards_sent_to(CHATS["anna"])) == 1               # not a second card
        assert not graph.graph_requests("GET", r"/chats/")
        waiting = teams.bot.store.get_state(DOUBT_KEY)["anna"]
        assert [w["id"] for w in waiting] == [first["id"]]

        await teams.ingest_deviation(subject="Avvikelse Hemtjänst Norr – fall i badrummet",
                                     number="VOK 2026/0002")
        await teams.deliver()
        cards = teams.cards_sent_to(CHATS["anna"])
        assert len(cards) == 2
        shown = card_text(cards[-1].cards[0])
        assert shown.index("Kan ha visats redan:") < shown.index("insulindos") < shown.index("fall i badrummet")
        assert not teams.bot.store.get_state(DOUBT_KEY).get("anna")
        second = item_of(teams, "VOK 2026/0002")
        assert second["state"] == "sent" and second["doubt_of"] == [first["id"]]
    in_doubt(teams_settings, clock, corpora, chat_read=False, body=body)


def test_without_chat_read_and_nothing_else_to_send_a_small_note_goes_alone(
        teams_settings, clock, corpora):
    async def body(teams: Teams, graph: FakeGraphServer):
        await teams.deliver()
        first = item_of(teams)
        assert first["state"] == "sent" and len(teams.cards_sent_to(CHATS["anna"])) == 1
        recorded = clock.now()
        clock.set(recorded + NOTE_WAIT - timedelta(seconds=1))
        await teams.deliver()
        assert len(teams.texts_to(CHATS["anna"])) == 1                    # the welcome only
        clock.set(recorded + NOTE_WAIT)
        await teams.deliver()
        [note] = teams.texts_to(CHATS["anna"])[1:]
        assert note.text.startswith("Kan ha visats redan")
        assert "insulindos" in note.text and NUMBER in note.text
        assert len(teams.cards_sent_to(CHATS["anna"])) == 1
        [item] = [n for n in teams.outbox("anna") if n["event"] == "in_doubt_note"]
        assert item["state"] == "sent" and item["doubt_of"] == [first["id"]]
        await teams.deliver()
        assert len(teams.texts_to(CHATS["anna"])) == 2                    # once
    in_doubt(teams_settings, clock, corpora, chat_read=False, body=body)


def test_chat_read_configured_but_not_granted_marks_the_item_as_without_it(
        teams_settings, clock, corpora, caplog):
    async def body(teams: Teams, graph: FakeGraphServer):
        await teams.deliver()
        first = item_of(teams)
        assert first["state"] == "sent" and first["delivery"]["in_doubt"] is True
        assert len(teams.cards_sent_to(CHATS["anna"])) == 1
        assert [r.status for r in graph.graph_requests("GET", r"/chats/")] == [403]
        assert [r.getMessage() for r in caplog.records if "nekar" in r.getMessage()]
    in_doubt(teams_settings, clock, corpora, chat_read=True, granted=False, body=body)
