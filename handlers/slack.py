"""The Slack app inside `run`: `/avvikelse`, DMs, mentions, buttons, the snooze form and
the App Home tab, on slack-bolt's AsyncApp.

Listeners only translate: who asks (SlackDirectory: the Slack user as a person of the
organisation, or nobody), what they asked (the shared grammar; a button carries a
command of it) → `services.handle_command` in a worker thread → the reply, escaped for
mrkdwn. Permissions are therefore checked in one place for typed commands and presses.

Socket Mode when SLACK_APP_TOKEN is set (no public URL), otherwise HTTP on SLACK_PORT
with every request's signature checked by bolt; SLACK_API_URL points both the app and
the notifier at another Web API (a local fake in the tests).

The Slack app is created from config/slack-manifest.json in one paste (Socket Mode; then
an app-level token with `connections:write` is SLACK_APP_TOKEN). For HTTP mode set
`settings.socket_mode_enabled` to false and `https://<host>/slack/events` as the
`request_url` of `settings.event_subscriptions`, `settings.interactivity` and the slash
command. The bot scopes and why each is needed: BOT_SCOPES below (a test holds the
manifest to it).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.error import BoltUnhandledRequestError
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.chat.render import case_labels
from bot.chat.slack import (COMMAND, HOME, SNOOZE, SNOOZE_FORM, UNIT, UNIT_TEMPLATE, HomeCase,
                            HomeSubscription, SlackDirectory, SlackNotifier, answered_blocks,
                            escape, home_view, snooze_form)
from bot.domain.access import Actor
from bot.domain.org import ALL_UNITS, Person
from bot.domain.process import current_step
from bot.domain.redact import redact
from bot.errors import ConfigError
from bot.services import Reply, Services
from bot.settings import Settings
from bot.texts import long_date, t

log = logging.getLogger(__name__)

CHANNEL = "slack"
EVENTS_PATH = "/slack/events"
SLASH_COMMAND = "/avvikelse"
DEFAULT_PORT = 3000
BOT_SCOPES = {
    "app_mentions:read": "@Avvikelsebot in a channel (app_mention)",
    "chat:write": "notifications, answers, the update after a press, private answers",
    "commands": "/avvikelse",
    "im:history": "DMs to the bot (message.im); finding an earlier post before a retry",
    "im:write": "conversations.open: a DM to a person",
    "users:read": "users.info: a Slack user's directory entry",
    "users:read.email": "users.lookupByEmail and profile e-mail: Slack user <-> person",
    "channels:history": "finding an earlier post in a public unit channel before a retry",
    "groups:history": "the same in a private unit channel",
}
BOT_EVENTS = ("app_home_opened", "app_mention", "message.im")
_TOKEN_REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                            "token_expired"})


# ---------------------------------------------------------------------------- listeners
class SlackListeners:
    """What the app does with each kind of request. Each method is one bolt listener."""

    def __init__(self, services: Services, directory: SlackDirectory):
        self.services, self.directory = services, directory
        self.org = services.org
        self.lang = services.org.language
        # Slack's own threads: a busy Teams or a slow delivery never takes them (DESIGN §11)
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="slack")

    async def _blocking(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    # ------------------------------------------------------------------ the one way in
    async def ask(self, user_id: str | None, text: str) -> tuple[Reply, Person | None]:
        """Who is asking, then the command as that person (or as nobody: a polite refusal)."""
        try:
            person = await self._blocking(self.directory.person_for, user_id)
            actor = Actor.person(person.id) if person else Actor("unknown")
            reply = await self._blocking(self.services.handle_command, actor, text, CHANNEL)
            return reply, person
        except Exception:   # Slack or the store failed: say so, keep serving
            log.exception("a Slack request from %s failed", user_id)
            return Reply(t(self.lang, "slack_error"), ok=False), None

    # ------------------------------------------------------------------ typed commands
    async def slash_command(self, ack, body, client) -> None:
        await ack()     # within Slack's 3 seconds; the answer follows through response_url
        reply, _ = await self.ask(body.get("user_id"), typed(body.get("text")))
        await self._tell_privately(client, body, body.get("channel_id"), body.get("user_id"),
                                   reply.text, response_url_first=True)

    async def direct_message(self, event, say) -> None:
        """A DM to the bot is a command; edits, joins and bots' own messages are not."""
        if (event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id")
                or not (event.get("text") or "").strip() or not event.get("channel")):
            return
        reply, _ = await self.ask(event.get("user"), typed(event["text"]))
        await say(text=shown(reply.text))
        log.info("slack chat.postMessage answer in a DM of %s", event.get("user"))

    async def mention(self, event, client) -> None:
        """@Avvikelsebot in a channel: the answer only to the asker (the channel may hold
        people who must not see every case the asker may see)."""
        reply, _ = await self.ask(event.get("user"), typed(event.get("text")))
        await self._tell_privately(client, {}, event.get("channel"), event.get("user"), reply.text,
                                   thread_ts=event.get("thread_ts"))

    # ------------------------------------------------------------------ buttons
    async def press(self, ack, body, action, client) -> None:
        await ack()
        user = (body.get("user") or {}).get("id")
        command = command_of(action)
        if command is None:
            reply, person = Reply(t(self.lang, "slack_bad_button"), ok=False), None
        else:
            reply, person = await self.ask(user, command)
        log.info("slack press %s by %s: %s", _loggable(command), user, "ok" if reply.ok else "refused")
        if _pressed_on_home(body):
            notice = t(self.lang, "slack_notice_ok" if reply.ok else "slack_notice_refused",
                       reply=reply.text)
            await self.publish_home(client, user, notice)
            return
        message = body.get("message") or {}
        channel, ts = _where(body)
        if reply.ok and person and channel and ts and message:
            await self._mark_done(client, channel, ts, message, person, reply,
                                  action.get("block_id"))
        else:
            await self._tell_privately(client, body, channel, user, reply.text)

    async def snooze_pressed(self, ack, body, action, client) -> None:
        """Snooza needs a date and a reason: a small form, the command runs on submit."""
        await ack()
        channel, ts = _where(body)
        today = self.services.calendar.local(self.services.clock.now()).date()
        form = snooze_form(self.lang, action.get("value") or "", channel, ts,
                           (today + timedelta(days=7)).isoformat(), action.get("block_id"))
        if body.get("trigger_id"):
            await client.views_open(trigger_id=body["trigger_id"], view=form)
            log.info("slack views.open snooze form for %s", _loggable(action.get("value")))

    async def snooze_submitted(self, ack, body, view, client) -> None:
        meta = _json(view.get("private_metadata"))
        values = (view.get("state") or {}).get("values") or {}
        until = ((values.get("until") or {}).get("until") or {}).get("selected_date")
        reason = ((values.get("reason") or {}).get("reason") or {}).get("value") or ""
        template = meta.get("command") or ""
        if not until or "{until}" not in template:
            await ack(response_action="errors", errors={"until": t(self.lang, "slack_bad_button")})
            return
        reason = " ".join(reason.split()) or t(self.lang, "snooze_default_reason")
        command = template.replace("{until}", until).replace("{reason}", reason)
        reply, person = await self.ask((body.get("user") or {}).get("id"), command)
        if not reply.ok:    # the form stays open and says why; nothing changed
            await ack(response_action="errors", errors={"reason": reply.text[:2000]})
            return
        await ack()
        if person and meta.get("channel") and meta.get("ts"):
            message = await self._message(client, meta["channel"], meta["ts"])
            if message:
                await self._mark_done(client, meta["channel"], meta["ts"], message, person, reply,
                                      meta.get("block"))

    # ------------------------------------------------------------------ App Home
    async def home_opened(self, event, client) -> None:
        if event.get("tab", "home") != "home" or not event.get("user"):
            return      # the Messages tab sends this event too
        await self.publish_home(client, event["user"])

    async def publish_home(self, client, user: str | None, notice: str | None = None) -> None:
        if not user:
            return
        view = await self._blocking(self.home, user, notice)
        await client.views_publish(user_id=user, view=view)
        log.info("slack views.publish home of %s", user)

    def home(self, user: str, notice: str | None) -> dict[str, Any]:
        person = self.directory.person_for(user)
        if person is None:
            return home_view(self.lang, None, [], notice)
        cases = self._my_cases(person)
        subscriptions = self._my_subscriptions(person)
        return home_view(self.lang, cases, subscriptions, notice)

    def _my_cases(self, person: Person) -> list[HomeCase]:
        """What `mina` lists: open cases whose next step is mine or of my units; overdue first."""
        services = self.services
        mine = [c for c in services.visible_cases(Actor.person(person.id))
                if _is_mine(self.org, person.id, c)]
        overdue = {c.number: services.is_overdue(c) for c in mine}
        mine.sort(key=lambda c: (not overdue[c.number], c.key))
        result = []
        for case in mine:
            labels = case_labels(self.org, case)
            result.append(HomeCase(case.number, labels["title"], labels["unit"], labels["status"],
                                   services.deadline_text(case), overdue[case.number]))
        return result

    def _my_subscriptions(self, person: Person) -> list[HomeSubscription]:
        chat = [s for s in self.services.store.subscriptions() if s.person == person.id]
        made_in_chat = {unit for s in chat if not s.paused for unit in s.units}
        paused = {unit for s in chat if s.paused for unit in s.units}
        configured = {unit for s in self.org.subscriptions if s.person == person.id
                      for unit in s.units} - paused
        followable = [unit.id for unit in self.org.units.values()
                      if person.has_oversight or person.id in unit.managers]
        keys = ([ALL_UNITS] if person.has_oversight or ALL_UNITS in made_in_chat | configured
                else []) + followable
        keys += sorted((made_in_chat | configured) - set(keys))   # e.g. a unit no longer mine
        rows = []
        for key in keys:
            label = (t(self.lang, "all_units") if key == ALL_UNITS else
                     self.org.units[key].name if key in self.org.units else key)
            rows.append(HomeSubscription(label, "alla" if key == ALL_UNITS else key,
                                         subscribed=key in made_in_chat | configured,
                                         configured=key in configured))
        return rows

    # ------------------------------------------------------------------ answers
    async def _mark_done(self, client, channel: str, ts: str, message: dict, person: Person,
                         reply: Reply, pressed_block: str | None = None) -> None:
        """The message shows who did what when; its buttons go, so nobody presses twice."""
        local = self.services.calendar.local(self.services.clock.now())
        when = t(self.lang, "slack_when", date=long_date(self.lang, local.date()),
                 time=f"{local:%H:%M}")
        line = t(self.lang, "slack_done", name=person.name, reply=reply.text, time=when)
        await client.chat_update(channel=channel, ts=ts, text=message.get("text") or shown(reply.text),
                                 blocks=answered_blocks(message.get("blocks") or [], line,
                                                        pressed_block))
        log.info("slack chat.update %s in %s after a press by %s", ts, channel, person.id)

    async def _message(self, client, channel: str, ts: str) -> dict | None:
        """A message of ours as Slack keeps it (to update it after the snooze form)."""
        try:
            page = await client.conversations_history(channel=channel, latest=ts, inclusive=True,
                                                      limit=1)
        except SlackApiError as exc:
            log.warning("slack conversations.history %s failed: %s", channel, exc.response.get("error"))
            return None
        log.info("slack conversations.history %s for the snoozed message", channel)
        found = [m for m in page.get("messages") or [] if m.get("ts") == ts]
        return found[0] if found else None

    async def _tell_privately(self, client, body: dict, channel: str | None, user: str | None,
                              text: str, *, response_url_first: bool = False,
                              thread_ts: str | None = None) -> None:
        """An answer only the asker sees: through the request's response_url (works in any
        conversation) or chat.postEphemeral (needs the bot in the channel)."""
        response_url = body.get("response_url")
        if response_url and (response_url_first or not (channel and user)):
            await AsyncWebhookClient(response_url).send(
                text=shown(text), response_type="ephemeral", replace_original=False)
            log.info("slack response_url answer to %s", user)
            return
        if channel and user:
            await client.chat_postEphemeral(channel=channel, user=user, text=shown(text),
                                            thread_ts=thread_ts)
            log.info("slack chat.postEphemeral answer to %s in %s", user, channel)
            return
        log.info("slack request without a place to answer (user %s)", user or "?")

    async def on_error(self, error: Exception, body: dict) -> None:
        """A request no listener takes (events and interactions the app does not use: a 404
        for Slack), or one a listener failed on: logged once, without the request body (it
        may hold a typed personnummer)."""
        kind = (body or {}).get("type", "?") if isinstance(body, dict) else "?"
        if isinstance(error, BoltUnhandledRequestError):
            log.debug("slack request %s: no listener", kind)
            return
        if not _raised_in_our_code(error):   # bolt could not read it: Slack never sends such
            log.warning("slack request %s refused, unreadable: %s", kind, type(error).__name__)
            return
        log.error("slack request %s failed: %s", kind, type(error).__name__, exc_info=error)


def shown(text: str) -> str:
    """An answer as Slack gets it: redacted once more (the last line of defence, DESIGN §8)
    and escaped for mrkdwn."""
    return escape(redact(text))


def typed(text: str | None) -> str:
    """What the person typed: Slack sends &, < and > of typed text as entities (real
    mentions and links stay <…>, and the grammar drops a leading mention)."""
    return (text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _raised_in_our_code(error: BaseException) -> bool:
    here = Path(__file__).resolve()
    ours = (str(here.parent), str(here.parents[1] / "bot"))
    return any(frame.filename.startswith(ours) for frame in traceback.extract_tb(error.__traceback__))


def command_of(action: dict[str, Any]) -> str | None:
    """The grammar command a pressed element stands for (a unit picker fills {unit})."""
    action_id = action.get("action_id") or ""
    if action_id.startswith(UNIT):
        block_id = action.get("block_id") or ""
        unit = (action.get("selected_option") or {}).get("value")
        if not block_id.startswith(UNIT_TEMPLATE) or not unit:
            return None
        return block_id[len(UNIT_TEMPLATE):].replace("{unit}", unit)
    value = action.get("value")
    return value if isinstance(value, str) and value.strip() else None


def _is_mine(org, person_id: str, case) -> bool:
    step = current_step(case, org)
    return person_id in (step.owners if step else ()) or person_id in org.managers_of(case.unit)


def _pressed_on_home(body: dict) -> bool:
    return ((body.get("container") or {}).get("type") == "view"
            and (body.get("view") or {}).get("type") == "home")


def _where(body: dict) -> tuple[str | None, str | None]:
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
    return channel or None, ts or None


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _loggable(command: str | None) -> str:
    """The verb and the diary number or triage id, never a typed reason."""
    return " ".join((command or "-").split()[:3])


def build_slack_app(services: Services, directory: SlackDirectory, client: AsyncWebClient,
                    signing_secret: str, *, process_before_response: bool = False) -> AsyncApp:
    # unhandled requests go to on_error: bolt's own warning for them dumps (and can crash
    # on) the request body
    app = AsyncApp(client=client, signing_secret=signing_secret,
                   process_before_response=process_before_response, name="avvikelsebot",
                   raise_error_for_unhandled_request=True)
    listeners = SlackListeners(services, directory)
    app.command(SLASH_COMMAND)(listeners.slash_command)
    app.event("message")(listeners.direct_message)
    app.event("app_mention")(listeners.mention)
    app.event("app_home_opened")(listeners.home_opened)
    app.action(re.compile("^(" + "|".join(map(re.escape, (COMMAND, UNIT, HOME))) + ")"))(listeners.press)
    app.action(re.compile("^" + re.escape(SNOOZE)))(listeners.snooze_pressed)
    app.view(SNOOZE_FORM)(listeners.snooze_submitted)
    app.error(listeners.on_error)
    return app


# ---------------------------------------------------------------------------- the frontend
class SlackFrontend:
    """The Slack channel of `run`: the bolt app on the one event loop, and its notifier."""
    channel = CHANNEL
    ping_interval = 10.0     # Socket Mode's ping and reconnect interval (the SDK's default)

    def __init__(self, app: AsyncApp, notifier: SlackNotifier, *, app_token: str | None,
                 port: int = DEFAULT_PORT, host: str = "127.0.0.1", lang: str = "sv"):
        self.app, self.notifier = app, notifier
        self.app_token, self.port, self.host, self.lang = app_token, port, host, lang
        self.mode = "socket" if app_token else "http"
        self._socket: AsyncSocketModeHandler | None = None
        self._connecting: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        await self._check_token()
        if self.mode == "socket":
            self._socket = AsyncSocketModeHandler(self.app, self.app_token,
                                                  logger=_socket_logger(self.ping_interval),
                                                  ping_interval=self.ping_interval)
            # in the background: a Slack outage must not stop the mail watcher
            self._connecting = asyncio.create_task(self._socket.connect_async())
            log.info("slack: Socket Mode")
            return
        self._runner = web.AppRunner(self.web_app())
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        self.port = self._runner.addresses[0][1]
        log.info("slack: HTTP on %s:%s%s", self.host, self.port, EVENTS_PATH)

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        if self._runner is not None:
            await self._runner.cleanup()
        self._socket = self._connecting = self._runner = None

    def web_app(self) -> web.Application:
        """The HTTP endpoint Slack posts events, commands and presses to (Request URL)."""
        application = web.Application()
        application.router.add_post(EVENTS_PATH, self._http)
        return application

    async def _http(self, request: web.Request) -> web.Response:
        return await to_aiohttp_response(await self.app.async_dispatch(await to_bolt_request(request)))

    async def _check_token(self) -> None:
        """A wrong bot token is a configuration error worth stopping for; an unreachable
        Slack is not (the outbox retries, Socket Mode reconnects)."""
        try:
            await self.app.client.auth_test()
            log.info("slack auth.test ok")
        except SlackApiError as exc:
            code = exc.response.get("error")
            if code in _TOKEN_REFUSED:
                raise ConfigError(t(self.lang, "slack_env"), "SLACK_BOT_TOKEN",
                                  t(self.lang, "slack_token_refused", error=code)) from exc
            log.warning("slack auth.test failed: %s", code)
        except Exception as exc:    # network: carry on, Slack may come back
            log.warning("slack auth.test failed: %s", type(exc).__name__)


def create_slack(settings: Settings, services: Services, *, host: str | None = None,
                 process_before_response: bool = False) -> SlackFrontend:
    """The Slack frontend of the settings (bot/app.py calls this when SLACK_BOT_TOKEN and
    SLACK_APP_TOKEN or SLACK_SIGNING_SECRET are set). HTTP mode listens on SLACK_BIND
    (127.0.0.1 by default: Slack reaches it through the organisation's reverse proxy)."""
    env, lang = settings.env, settings.org.language
    token = env.get("SLACK_BOT_TOKEN")
    base_url = _api_url(env.get("SLACK_API_URL"))
    # no automatic retries: the outbox retries, after looking whether the post landed
    sdk_log = _client_logger()
    sync_client = WebClient(token=token, base_url=base_url, timeout=15, retry_handlers=[],
                            logger=sdk_log)
    async_client = AsyncWebClient(token=token, base_url=base_url, timeout=15, logger=sdk_log)
    directory = SlackDirectory(settings.org, sync_client)
    app = build_slack_app(services, directory, async_client, env.get("SLACK_SIGNING_SECRET") or "",
                          process_before_response=process_before_response)
    return SlackFrontend(app, SlackNotifier(settings.org, sync_client, directory),
                         app_token=env.get("SLACK_APP_TOKEN") or None,
                         port=settings.port("SLACK_PORT", DEFAULT_PORT),
                         host=host or settings.bind("SLACK_BIND"), lang=lang)


class _ReportedElsewhere(logging.Filter):
    """slack_sdk logs every request that fails to connect at ERROR, then raises it. The bot
    translates what is raised (bot/chat/slack.py) and the outbox or the listener reports
    it once; the SDK's own line per attempt would repeat it, with Slack down, every retry."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to send a request to Slack API server")


def _client_logger() -> logging.Logger:
    """The logger of the bot's Slack clients: under slack_sdk (so the SDK's log settings
    apply), without the per-attempt connection errors."""
    logger = logging.getLogger("slack_sdk.web.avvikelsebot")
    if not any(isinstance(f, _ReportedElsewhere) for f in logger.filters):
        logger.addFilter(_ReportedElsewhere())
    return logger


class _ConnectionState(logging.Filter):
    """Socket Mode's reconnect chatter as two lines: one when the connection goes (WARNING,
    with the reason) and one when it is back (INFO, after how long and how many attempts).
    While it is down, the SDK's line per attempt ("Failed to connect …; Retrying…" at ERROR
    with a traceback, every ping interval: ~7,000 a day) is dropped; its other lines keep the
    level the SDK's loggers are set to (bot.logs.setup_logging)."""

    _FAILED = ("Failed to connect", "Failed to check the current session", "Failed to retrieve WSS URL",
               "Failed to send a ping message", "Failed to receive or enqueue a message")

    def __init__(self, ping_interval: float, monotonic=time.monotonic):
        super().__init__()
        self.ping_interval, self.monotonic = ping_interval, monotonic
        self.reset()

    def reset(self) -> None:
        self.down_since: float | None = None
        self.attempts = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith(self._FAILED):
            self.attempts += 1
            if self.down_since is not None:
                return False
            self.down_since = self.monotonic()
            error = record.exc_info[1] if record.exc_info else None
            reason = f"{type(error).__name__}: {error}" if error else message
            self._rewrite(record, logging.WARNING,
                          "slack: the Socket Mode connection is down (%s); reconnecting every %g s",
                          (reason[:300], self.ping_interval))
            return True
        if message.startswith("A new session") and "established" in message \
                and self.down_since is not None:
            down = self.monotonic() - self.down_since
            self._rewrite(record, logging.INFO,
                          "slack: the Socket Mode connection is back after %.0f s (%d failed attempts)",
                          (down, self.attempts))
            self.reset()
            return True
        return record.levelno >= logging.getLogger("slack_sdk").getEffectiveLevel()

    @staticmethod
    def _rewrite(record: logging.LogRecord, level: int, message: str, args: tuple) -> None:
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.msg, record.args = message, args
        record.exc_info = record.exc_text = None


def _socket_logger(ping_interval: float) -> logging.Logger:
    """The Socket Mode client's logger (passed to the SDK through its `logger` parameter):
    at INFO, so that "a new session has been established" reaches _ConnectionState, which
    keeps what a person needs of it."""
    logger = logging.getLogger("slack_sdk.socket_mode.avvikelsebot")
    logger.setLevel(logging.INFO)
    state = next((f for f in logger.filters if isinstance(f, _ConnectionState)), None)
    if state is None:
        logger.addFilter(_ConnectionState(ping_interval))
    else:
        state.ping_interval = ping_interval
        state.reset()
    return logger


def _api_url(value: str | None) -> str:
    """slack_sdk needs the trailing slash."""
    url = (value or WebClient.BASE_URL).strip()
    return url if url.endswith("/") else url + "/"
