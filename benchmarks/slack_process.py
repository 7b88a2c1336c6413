"""The local Slack Web API (tests/fakes/slack_api.py) in a process of its own, for the
benchmarks: the server's work is Slack's, not the bot's, so it must not share the bot's
interpreter (and its GIL) while the bot is being timed. Talks to it over a pipe."""
from __future__ import annotations

import multiprocessing
from typing import Any


def _serve(conn, users: dict[str, Any], anyone: dict[str, Any] | None) -> None:
    from tests.fakes.slack_api import FakeSlackApi
    with FakeSlackApi(users, anyone=anyone) as api:
        conn.send(api.url)
        while True:
            command, argument = conn.recv()
            if command == "stop":
                conn.send(None)
                return
            if command == "posts":
                with api._lock:
                    conn.send(sum(len(m) for m in api.messages.values()))
            elif command == "received":       # perf_counter of the posts whose text has this
                with api._lock:
                    conn.send([m["received_at"] for messages in api.messages.values()
                               for m in messages if argument in (m.get("text") or "")])
            elif command == "hold":             # from now on posts are made, answers held
                api.hold_from = 0
                conn.send(None)
            elif command == "release":
                api.released.set()
                conn.send(None)


class SlackInAnotherProcess:
    def __init__(self, users: dict[str, Any] | None = None, anyone: dict[str, Any] | None = None):
        self.users, self.anyone = users or {}, anyone
        self.url = ""

    def __enter__(self) -> "SlackInAnotherProcess":
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.users, self.anyone),
                                        daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the local Slack Web API did not start")
        self.url = self._conn.recv()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._ask("stop")
        finally:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()

    def _ask(self, command: str, argument: Any = None) -> Any:
        self._conn.send((command, argument))
        return self._conn.recv()

    def posts(self) -> int:
        return self._ask("posts")

    def received(self, marker: str) -> list[float]:
        return self._ask("received", marker)

    def hold(self) -> None:
        self._ask("hold")

    def release(self) -> None:
        self._ask("release")
