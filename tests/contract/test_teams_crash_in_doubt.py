"""Issue 26: SIGKILL between claim and record while a Teams card is being posted. The first
process is killed once the local Bot Connector holds Anna's card (posted, its answer never
sent); a second process delivers the rest. Judged by durable state: the connector's
recorded posts (each card found by its marker) and the outbox rows. With Chat.Read the card
is found through the local Graph and recorded delivered; without it the item is recorded
delivered in doubt and its text waits for Anna's next message. Never a second card."""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from bot.chat.teams import graph_chat_id, item_marker, marker_id
from bot.store.repository import TinyDbCaseStore
from bot.usecases.doubt import DOUBT_KEY
from tests.fakes.bot_connector import FakeBotConnector
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.mail import make_mail
from tests.scenario.test_teams import (ANNA, CHATS, running,  # noqa: F401
                                       teams_org, teams_settings)

REPO = Path(__file__).resolve().parents[2]

DELIVER = textwrap.dedent("""
    import asyncio, dataclasses, sys
    from pathlib import Path
    from bot.app import build
    from bot.mail.graph import GraphChatMessages
    from bot.settings import Settings, load_organisation
    from tests.conftest import EXAMPLE_CONFIG
    from tests.scenario.test_teams import ANNA, BENGT, NORR_CHANNEL
    from tests.fakes.mail import FakeMailSender
    data, graph_env, ca, mails = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
    org = load_organisation(EXAMPLE_CONFIG)
    people, units = dict(org.people), dict(org.units)
    people["anna"] = dataclasses.replace(people["anna"], teams=ANNA["aadObjectId"])
    people["bengt"] = dataclasses.replace(people["bengt"], teams=BENGT["id"])
    units["hemtjanst-norr"] = dataclasses.replace(units["hemtjanst-norr"], teams_channel=NORR_CHANNEL)
    # on the real clock: notices at any hour, else held in the evening and at weekends
    org = dataclasses.replace(org, people=people, units=units, notify_default="dygnet runt")
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org,
                        env={"TEAMS_ANONYMOUS": "true", "TEAMS_PORT": "0"})

    async def main():
        bot = build(settings, sender=FakeMailSender())
        frontend = next(f for f in bot.frontends if f.channel == "teams")
        await frontend.start()
        if graph_env != "-":      # [teams] graph_chat_read with the Graph app's variables
            env = dict(pair.split("=", 1) for pair in graph_env.split(";"))
            finder_settings = dataclasses.replace(settings, env=env)
            frontend.notifier.finder = GraphChatMessages.from_settings(finder_settings, verify=ca)
        for path in mails:
            await asyncio.to_thread(bot.services.ingest_mail, Path(path).read_bytes())
        print("queued", flush=True)
        await asyncio.to_thread(bot.services.deliver_outbox)
        await frontend.stop()
        bot.close()
        print("done", flush=True)
    asyncio.run(main())
""")


class ConnectorThread:
    """The local Bot Connector on an event loop of its own, beside the bot processes."""

    def __enter__(self) -> FakeBotConnector:
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.connector = asyncio.run_coroutine_threadsafe(FakeBotConnector().start(), self.loop).result(10)
        return self.connector

    def release(self) -> None:
        def go():
            self.connector.hold = False
            if self.connector._release is not None:
                self.connector._release.set()
        self.loop.call_soon_threadsafe(go)

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.connector.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _deliver(data: Path, graph: FakeGraphServer | None, mails: list[Path]) -> subprocess.Popen:
    graph_env = ";".join(f"{k}={v}" for k, v in graph.env().items()) if graph else "-"
    return subprocess.Popen([sys.executable, "-c", DELIVER, str(data), graph_env,
                             graph.ca_path if graph else "-", *map(str, mails)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("chat_read", [True, False], ids=["with-chat-read", "without-chat-read"])
def test_killed_mid_post_the_card_is_not_posted_twice(teams_settings, clock, corpora, tmp_path,
                                                      chat_read):
    data = teams_settings.data_dir
    mail = tmp_path / "avvikelse.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse Hemtjänst Norr – utebliven insulindos",
                               body="Vi anmäler en avvikelse.",
                               message_id="<teams-crash@regionexempel.se>"))
    graph = FakeGraphServer(roles=("Chat.Read.All",) if chat_read else ()).start()
    connector_thread = ConnectorThread()
    try:
        with connector_thread as connector:
            async def install():
                async with running(teams_settings, clock, corpora, connector) as teams:
                    await teams.post(teams.installed(ANNA, CHATS["anna"]))
                    return teams.frontend.refs.get("anna")
            chat = graph_chat_id(asyncio.run(install()))
            connector.on_post = lambda conversation, activity, ident: graph.add_chat_message(
                chat, activity, ident) if conversation == CHATS["anna"] else None
            connector.hold = CHATS["anna"]

            first = _deliver(data, graph if chat_read else None, [mail])
            cards = lambda: [c for c in connector.sent if c.conversation_id == CHATS["anna"] and c.cards]  # noqa: E731
            _wait_for(lambda: cards() or first.poll() is not None, 60)
            assert first.poll() is None, first.communicate()[1][-2000:]
            first.send_signal(signal.SIGKILL)          # the card is in the chat; no answer came
            first.wait()
            assert first.returncode == -signal.SIGKILL
            connector_thread.release()

            second = _deliver(data, graph if chat_read else None, [])
            out, err = second.communicate(timeout=90)
            assert second.returncode == 0, err[-2000:]

            store = TinyDbCaseStore(data, readonly=True)
            items = [n for n in store.outbox() if n["channel"] == "teams"]
            [anna] = [n for n in items if n["recipient"] == "anna"]
            assert anna["state"] == "sent"
            waiting = store.get_state(DOUBT_KEY) or {}
            for item in items:      # (the unit's channel has no stored conversation here)
                shown = [c for c in connector.sent if marker_id(item_marker(item)) in str(c.cards)]
                assert len(shown) <= 1, f"{item['id']} posted {len(shown)} times"
                if not shown and (item.get("delivery") or {}).get("in_doubt"):
                    # never in the chat: its text waits, marked, not lost
                    assert item["id"] in {w["id"] for w in waiting.get(item["recipient"], [])}
            [card] = [c for c in connector.sent if marker_id(item_marker(anna)) in str(c.cards)]
            if chat_read:
                assert anna["delivery"]["found_in_chat"] is True
                assert anna["delivery"]["activity_id"] == card.answered_id
                assert graph.graph_requests("GET", r"/chats/.*/messages$")
            else:
                assert anna["delivery"]["in_doubt"] is True
                assert anna["id"] in {w["id"] for w in waiting["anna"]}
                assert not graph.graph_requests("GET", r"/chats/")
    finally:
        graph.stop()
