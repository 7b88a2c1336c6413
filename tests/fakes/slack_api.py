"""A local Slack: the Web API methods the bot calls, a Socket Mode websocket and
response_url endpoints, on 127.0.0.1 (aiohttp in a thread of its own, so the bot's sync
WebClient and its asyncio app can both talk to it). Every call is recorded; a method can
be scripted to fail (HTTP 429 with Retry-After, or a 500 after the post was made).

Also what Slack itself sends: signed HTTP requests and Socket Mode envelopes.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qsl, urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

BOT_USER, BOT_ID, TEAM = "U0BOT", "B0BOT", "T0EXEMPEL"
_JSON_FIELDS = ("blocks", "view", "metadata", "attachments")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None


@dataclass
class Scripted:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    perform: bool = False       # do what was asked, then answer with the failure anyway


class FakeSlackApi:
    def __init__(self, users: dict[str, dict[str, Any]] | None = None,
                 anyone: dict[str, Any] | None = None):
        self.users = users or {}                # user id -> {"email": …, "name": …}
        self.anyone = anyone                    # the profile of every other user id, if given
        self.calls: list[Call] = []
        self.responses: list[tuple[str, dict[str, Any]]] = []   # response_url posts
        self.messages: dict[str, list[dict[str, Any]]] = {}     # channel -> messages
        self.acks: list[dict[str, Any]] = []    # Socket Mode answers from the app
        self._scripts: dict[str, list[Scripted]] = {}
        # from the hold_from-th post on, posts are made but nobody is answered (until released)
        self.hold_from: int | None = None
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "FakeSlackApi":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._listen())
            except BaseException as exc:   # reported to the test below, which fails
                failure.append(exc)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="fake-slack-api", daemon=True)
        self._thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"the fake Slack API did not start: {failure or 'timeout'}")

    async def _listen(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/link/", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)   # its lines are not the bot's
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self.port = self._runner.addresses[0][1]

    # ------------------------------------------------------------------ an outage
    def go_down(self, *, drop_sockets: bool = False) -> None:
        """Stop listening: every call is refused (ECONNREFUSED), as when Slack is unreachable;
        with drop_sockets, open Socket Mode connections are closed too."""
        async def close() -> None:
            await self._site.stop()
            if drop_sockets:
                for ws in list(self._sockets):
                    await ws.close()
        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)

    def come_back(self) -> None:
        """Listen again on the same port, with everything recorded so far kept."""
        async def reopen() -> None:
            self._site = web.TCPSite(self._runner, "127.0.0.1", self.port)
            await self._site.start()
        asyncio.run_coroutine_threadsafe(reopen(), self._loop).result(10)

    def stop(self) -> None:
        if self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    async def _close(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        """The Web API base URL (SLACK_API_URL)."""
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # ------------------------------------------------------------------ scripting and asserting
    def fail(self, method: str, *, status: int = 429, error: str = "ratelimited",
             retry_after: float | None = None, times: int = 1, perform: bool = False) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        with self._lock:
            self._scripts.setdefault(method, []).append(
                Scripted(status, {"ok": False, "error": error}, headers, times, perform))

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError("the fake Slack API did not see what the test waited for")

    async def wait_for_async(self, condition: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError("the fake Slack API did not see what the test waited for")

    def conversation(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self.messages.get(channel, [])]

    # ------------------------------------------------------------------ Socket Mode
    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Slack pushing a request over the websocket; returns the envelope id to await."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api", "retry_attempt": 0,
                    "retry_reason": ""}
        asyncio.run_coroutine_threadsafe(
            self._sockets[-1].send_str(json.dumps(envelope)), self._loop).result(5)
        return envelope_id

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        with self._lock:
            return next((a for a in self.acks if a.get("envelope_id") == envelope_id), None)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0AVV"}}))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    with self._lock:
                        self.acks.append(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
        return ws

    # ------------------------------------------------------------------ HTTP
    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.responses.append((request.match_info["name"], body))
        return web.Response(text="ok")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ") or None
        with self._lock:
            self.calls.append(Call(method, params, token))
            script = self._next_script(method)
        if script and not script.perform:
            return web.json_response(script.body, status=script.status, headers=script.headers)
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        body = handler(params) if handler else {"ok": False, "error": "unknown_method"}
        if method == "chat.postMessage" and self.hold_from is not None:
            with self._lock:
                made = sum(len(m) for m in self.messages.values())
            while made >= self.hold_from and not self.released.is_set():
                await asyncio.sleep(0.05)    # the post is made; its answer is still on the way
        if script:
            return web.json_response(script.body, status=script.status, headers=script.headers)
        return web.json_response(body)

    def _next_script(self, method: str) -> Scripted | None:
        queue = self._scripts.get(method) or []
        if not queue:
            return None
        script = queue[0]
        script.times -= 1
        if script.times <= 0:
            queue.pop(0)
        return script

    def _new_ts(self) -> str:
        return f"{time.time():.0f}.{next(self._ts):06d}"

    # ------------------------------------------------------------------ the methods
    def _auth_test(self, p):
        return {"ok": True, "url": "https://exempelby.slack.com/", "team": "Exempelby kommun",
                "user": "avvikelsebot", "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID,
                "is_enterprise_install": False}

    def _apps_connections_open(self, p):
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket=test"}

    def _conversations_open(self, p):
        users = str(p.get("users") or "")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}

    def _chat_postMessage(self, p):
        channel = str(p.get("channel") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        message = {"type": "message", "ts": self._new_ts(), "text": p.get("text"),
                   "blocks": p.get("blocks") or [], "bot_id": BOT_ID, "user": BOT_USER,
                   "metadata": p.get("metadata"), "received_at": time.perf_counter()}
        if p.get("thread_ts"):
            message["thread_ts"] = p["thread_ts"]
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": message}

    def _chat_update(self, p):
        with self._lock:
            for message in self.messages.get(str(p.get("channel")), []):
                if message["ts"] == p.get("ts"):
                    message.update(text=p.get("text"), blocks=p.get("blocks") or [], edited=True)
                    return {"ok": True, "channel": p["channel"], "ts": p["ts"], "text": p.get("text")}
        return {"ok": False, "error": "message_not_found"}

    def _chat_postEphemeral(self, p):
        return {"ok": True, "message_ts": self._new_ts()}

    def _conversations_history(self, p):
        oldest = float(p.get("oldest") or 0)
        latest = float(p.get("latest") or "inf")
        inclusive = str(p.get("inclusive")).lower() in ("1", "true")
        metadata = str(p.get("include_all_metadata")).lower() in ("1", "true")
        found = []
        for message in reversed(self.conversation(str(p.get("channel")))):
            ts = float(message["ts"])
            if ts < oldest or ts > latest or (ts == latest and not inclusive):
                continue
            if not metadata:
                message.pop("metadata", None)
            found.append(message)
        limit = int(p.get("limit") or 100)
        return {"ok": True, "messages": found[:limit], "has_more": len(found) > limit}

    def _users_lookupByEmail(self, p):
        email = str(p.get("email") or "").lower()
        for user_id, user in self.users.items():
            if user.get("email", "").lower() == email:
                return {"ok": True, "user": self._user(user_id)}
        return {"ok": False, "error": "users_not_found"}

    def _users_info(self, p):
        user_id = str(p.get("user") or "")
        if user_id not in self.users and not (user_id and self.anyone):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._user(user_id)}

    def _user(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id) or self.anyone or {}
        return {"id": user_id, "team_id": TEAM, "name": user.get("name", user_id),
                "deleted": False, "is_bot": False,
                "profile": {"email": user.get("email"), "real_name": user.get("name", user_id)}}

    def _views_publish(self, p):
        return {"ok": True, "view": {**(p.get("view") or {}), "id": "V" + str(next(self._ts))}}

    def _views_open(self, p):
        return self._views_publish(p)


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    raw = await request.text()
    if raw:
        if (request.content_type or "").endswith("json"):
            params.update(json.loads(raw))
        else:
            params.update(parse_qsl(raw, keep_blank_values=True))
    for name in _JSON_FIELDS:     # form-encoded calls send these as JSON strings
        if isinstance(params.get(name), str) and params[name][:1] in "[{":
            params[name] = json.loads(params[name])
    return params


# ---------------------------------------------------------------------------- what Slack sends
def signed_headers(secret: str, body: str, content_type: str, *,
                   timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"content-type": content_type, "x-slack-request-timestamp": str(timestamp),
            "x-slack-signature": signature}


def form(fields: dict[str, Any]) -> str:
    """A slash command as Slack posts it."""
    return urlencode(fields)


def interaction(payload: dict[str, Any]) -> str:
    """A button press or a form submission as Slack posts it: `payload=<json>`."""
    return urlencode({"payload": json.dumps(payload)})
