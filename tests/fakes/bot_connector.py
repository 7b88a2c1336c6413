"""FakeBotConnector: a local Bot Connector service on 127.0.0.1 that records what the bot
posts (replies, proactive messages) and puts (card updates), answering like Teams does.

Activities sent to the bot carry `serviceUrl` = FakeBotConnector.url, so the Agents SDK
talks to this server instead of smba.trafficmanager.net.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web

CARD = "application/vnd.microsoft.card.adaptive"


@dataclass
class ConnectorCall:
    method: str                 # POST | PUT
    kind: str                   # send (new message) | reply | update
    conversation_id: str
    activity_id: str | None     # the replied-to or updated activity
    body: dict[str, Any]
    authorization: str | None
    answered_id: str | None     # the id the connector gave a new message

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or [] if a.get("contentType") == CARD]

    @property
    def text(self) -> str:
        return self.body.get("text") or ""


class FakeBotConnector:
    def __init__(self):
        self.calls: list[ConnectorCall] = []
        self.url: str | None = None
        self._failures: list[tuple[int, dict[str, str]]] = []
        # issue 26: a post that is made but whose answer is lost (an ambiguous 5xx) or held
        # (the process is killed while waiting); and a hook that shows each post elsewhere
        # (the local Graph's chat messages)
        self._after_post: list[int] = []
        self.hold: bool | str = False
        self.on_post = None
        self._release: asyncio.Event | None = None
        self._ids = itertools.count(1_700_000_000_001)
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> "FakeBotConnector":
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._send)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._reply)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ behaviour
    def fail_next(self, status: int, headers: dict[str, str] | None = None, times: int = 1) -> None:
        """The next `times` calls are answered with this error, as Teams does when throttling."""
        self._failures += [(status, headers or {})] * times

    def fail_after_post(self, status: int, times: int = 1) -> None:
        """The next `times` new messages are posted (they are in the chat) but answered with
        `status`, as a gateway that lost the connector's answer does (408, 502, 504)."""
        self._after_post += [status] * times

    # ------------------------------------------------------------------ what was recorded
    def of_kind(self, kind: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.kind == kind]

    @property
    def sent(self) -> list[ConnectorCall]:
        return self.of_kind("send")

    @property
    def replies(self) -> list[ConnectorCall]:
        return self.of_kind("reply")

    @property
    def updates(self) -> list[ConnectorCall]:
        return self.of_kind("update")

    def to_conversation(self, conversation_id: str) -> list[ConnectorCall]:
        return [c for c in self.calls if c.conversation_id == conversation_id]

    # ------------------------------------------------------------------ handlers
    async def _send(self, request: web.Request) -> web.Response:
        return await self._record(request, "send")

    async def _reply(self, request: web.Request) -> web.Response:
        return await self._record(request, "reply")

    async def _update(self, request: web.Request) -> web.Response:
        return await self._record(request, "update")

    async def _record(self, request: web.Request, kind: str) -> web.Response:
        body = await request.json()
        if self._failures:
            status, headers = self._failures.pop(0)
            return web.json_response({"error": {"code": "Throttled" if status == 429 else "Error",
                                                "message": "fake connector"}},
                                     status=status, headers=headers)
        activity_id = request.match_info.get("activity")
        answered = activity_id if kind == "update" else str(next(self._ids))
        self.calls.append(ConnectorCall(
            method=request.method, kind=kind, conversation_id=request.match_info["conversation"],
            activity_id=activity_id, body=body, authorization=request.headers.get("Authorization"),
            answered_id=answered))
        if kind == "send" and self.on_post is not None:
            self.on_post(request.match_info["conversation"], body, answered)
        if kind == "send" and self.hold in (True, request.match_info["conversation"]):
            # posted; the answer never comes (hold: True, or the one conversation held)
            self._release = self._release or asyncio.Event()
            await self._release.wait()
        if kind == "send" and self._after_post:
            status = self._after_post.pop(0)
            return web.json_response({"error": {"code": "BadGateway", "message": "fake connector"}},
                                     status=status)
        return web.json_response({"id": answered})
