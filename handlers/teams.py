"""Teams: the Microsoft 365 Agents SDK application behind POST /api/messages.

Handlers only translate: a Teams activity becomes (actor, command text), one call to
services.handle_command (in a thread: the store blocks), and the reply is rendered back as
a message, an invoke answer or an updated card. Requests are JWT-checked by the SDK's
middleware; TEAMS_ANONYMOUS=true (local development only) lets requests without a token
in, and then the endpoint listens on 127.0.0.1 only.

Who is asking:
- a personal chat: the person whose Teams id or AAD object id is `teams` in the
  organisation file, anyone else is unknown and politely refused;
- a channel or group chat: everyone there reads the answer, so a question (status, lists)
  is answered as the unit's channel sees it (`teams_channel` of a unit), and only there;
  a change is made as the person who wrote or pressed, with that person's rights.
"""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aiohttp import ClientError, web
from microsoft_agents.activity import Activity, ActivityTypes, AdaptiveCardInvokeResponse, ChannelAccount
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.aiohttp import CloudAdapter, jwt_authorization_middleware, start_agent_process
from microsoft_agents.hosting.core import AgentApplication, MemoryStorage, TurnContext, TurnState
from microsoft_agents.hosting.core.app import RouteRank
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, AuthTypes

from bot.chat.teams import (VERB, TeamsNotifier, base_conversation_id, card_activity,
                            command_from_press, conversation_reference, done_card, escape_message)
from bot.domain.access import Actor
from bot.domain.org import Person, Unit
from bot.domain.redact import redact
from bot.errors import ConfigError
from bot.services import Reply, Services
from bot.settings import Settings
from bot.store.teams_refs import TeamsConversationRefs
from bot.texts import t
from bot.commands import parse

log = logging.getLogger(__name__)

CHANNEL = "teams"
ROUTE = "/api/messages"
DEFAULT_PORT = 3978
# the same words `check-config` warns about: anything else keeps JWT validation on
ANONYMOUS_WORDS = frozenset({"1", "true", "yes", "ja"})
_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
_CARD_MESSAGE = "application/vnd.microsoft.activity.message"
_CARD_UPDATE = "application/vnd.microsoft.card.adaptive"


# ---------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class TeamsConfig:
    port: int
    anonymous: bool
    auth: AgentAuthConfiguration


def is_anonymous(settings: Settings) -> bool:
    return (settings.env.get("TEAMS_ANONYMOUS") or "").strip().lower() in ANONYMOUS_WORDS


def teams_config(settings: Settings) -> TeamsConfig:
    """The app registration from the environment; JWT validation needs all three values."""
    env, lang = settings.env, settings.org.language
    anonymous = is_anonymous(settings)
    values = {name: (env.get(name) or "").strip() or None
              for name in ("TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID")}
    if not anonymous:
        for name, value in values.items():
            if not value:
                raise ConfigError("miljön", name, t(lang, "teams_config_missing"))
    auth = AgentAuthConfiguration(
        auth_type=AuthTypes.client_secret, client_id=values["TEAMS_CLIENT_ID"],
        tenant_id=values["TEAMS_TENANT_ID"], client_secret=values["TEAMS_CLIENT_SECRET"],
        connection_name="SERVICE_CONNECTION", anonymous_allowed=anonymous)
    return TeamsConfig(port=settings.port("TEAMS_PORT", DEFAULT_PORT), anonymous=anonymous,
                       auth=auth)


# ---------------------------------------------------------------------------- the frontend
class TeamsFrontend:
    """The ChatFrontend `run` starts: the aiohttp endpoint and the notifier of channel teams."""
    channel = CHANNEL

    def __init__(self, settings: Settings, services: Services, *, host: str | None = None):
        self.config = teams_config(settings)
        self.services = services
        self.host = host or listen_host(settings, self.config.anonymous)
        self.port: int | None = None
        connections = MsalConnectionManager(
            connections_configurations={"SERVICE_CONNECTION": self.config.auth})
        self.adapter = CloudAdapter(connection_manager=connections)
        self.adapter.on_turn_error = _log_turn_error   # the default echoes the exception to the user
        self.refs = TeamsConversationRefs(services.uow)
        self.notifier = TeamsNotifier(services.org, self.refs, self.adapter)
        if settings.org.teams_graph_chat_read and (settings.env.get("GRAPH_TENANT_ID") or "").strip():
            from bot.mail.graph import GraphChatMessages   # issue 26: a card in doubt is looked for
            self.notifier.finder = GraphChatMessages.from_settings(settings)
        self.bot = TeamsBot(services, self.refs)
        self.app = self.bot.application(connections)
        self._runner: web.AppRunner | None = None

    def web_app(self) -> web.Application:
        app = web.Application(middlewares=[jwt_authorization_middleware])
        with warnings.catch_warnings():   # the SDK's middleware looks the key up as a string
            warnings.simplefilter("ignore", web.NotAppKeyWarning)
            app["agent_configuration"] = self.config.auth
        app.router.add_post(ROUTE, self._messages)
        return app

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        response = await start_agent_process(request, self.app, self.adapter)
        return response if response is not None else web.Response(status=202)

    async def start(self) -> None:
        self.notifier.attach(asyncio.get_running_loop())
        self._runner = web.AppRunner(self.web_app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.config.port).start()
        self.port = self._runner.addresses[0][1]
        if self.config.anonymous:
            log.warning("teams: ANONYMT läge – anrop kontrolleras inte (bara lokal utveckling)")
        log.info("teams: lyssnar på http://%s:%s%s", self.host, self.port, ROUTE)

    async def stop(self) -> None:
        self.notifier.detach()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.bot.close()


def listen_host(settings: Settings, anonymous: bool) -> str:
    """TEAMS_BIND, 127.0.0.1 by default (the reverse proxy forwards /api/messages). Anonymous
    requests are never accepted from outside this machine, so anonymous mode refuses any
    other address."""
    host = settings.bind("TEAMS_BIND")
    if anonymous and not ipaddress.ip_address(host).is_loopback:
        lang = settings.org.language
        raise ConfigError(t(lang, "env_label"), "TEAMS_BIND", t(lang, "teams_anonymous_bind", host=host))
    return host


def create_teams(settings: Settings, services: Services, *, host: str | None = None) -> TeamsFrontend:
    return TeamsFrontend(settings, services, host=host)


async def _log_turn_error(context: TurnContext, error: Exception) -> None:
    log.error("teams: a turn failed (%s)", type(error).__name__, exc_info=error)


# ---------------------------------------------------------------------------- the handlers
class TeamsBot:
    """Activity in, one service call, reply out."""

    def __init__(self, services: Services, refs: TeamsConversationRefs):
        self.services, self.refs = services, refs
        # Service calls wait for the store's lock, which the outbox worker holds while it
        # waits for this loop to post a card. Their own threads keep the loop's default
        # executor (DNS look-ups for that very post) free, so a busy chat cannot stall it.
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="teams")
        self.org = services.org
        self.lang = services.org.language
        self.people = {p.teams.casefold(): p for p in self.org.people.values() if p.teams}
        self.unit_channels = {u.teams_channel.casefold(): u for u in self.org.units.values()
                              if u.teams_channel}

    def application(self, connections) -> AgentApplication:
        storage = MemoryStorage()   # turn state only; what must survive is in the diary store
        app = AgentApplication[TurnState](storage=storage, connection_manager=connections,
                                          start_typing_timer=False)
        app.add_route(_is_installation, self.on_installed)
        app.adaptive_card.action_execute(VERB)(self.on_press)
        app.adaptive_card.action_submit(VERB)(self.on_submit)   # the Execute's fallback
        app.add_route(lambda c: c.activity.type == ActivityTypes.message, self.on_message)
        # typing, reactions, renamed channels …: nothing to do, and nothing to warn about
        app.add_route(lambda c: c.activity.type != ActivityTypes.invoke, _ignore, rank=RouteRank.LAST)
        app.error(self.on_error)
        return app

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def _blocking(self, function, *args):
        """A call into the services or the store, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(function, *args))

    # ------------------------------------------------------------------ events
    async def on_installed(self, context: TurnContext, state: TurnState) -> None:
        await self.remember(context)
        # Teams announces an installation twice (installationUpdate, then conversationUpdate
        # with the bot among membersAdded): one welcome is enough
        if context.activity.type == ActivityTypes.conversation_update:
            await context.send_activity(_message(self.welcome(context)))

    async def on_message(self, context: TurnContext, state: TurnState) -> None:
        await self.remember(context)
        text = _command_text(context.activity)
        actor = self.actor_for_message(context, text)
        if actor is None:
            reply = Reply(t(self.lang, "teams_private_only"), ok=False)
        else:
            reply = await self._blocking(functools.partial(
                self.services.handle_command, actor, text, CHANNEL,
                private=_is_personal(context.activity)))
        await context.send_activity(_message(reply.text))

    async def on_press(self, context: TurnContext, state: TurnState,
                       data: Any) -> AdaptiveCardInvokeResponse:
        """Action.Execute: the answer goes back in the invoke response, to the presser only."""
        text, card = await self.pressed(context, data)
        if card is None:
            return _invoke_message(text)
        return AdaptiveCardInvokeResponse(status_code=HTTPStatus.OK, type=_CARD_UPDATE, value=card)

    async def on_submit(self, context: TurnContext, state: TurnState, data: Any) -> None:
        """Action.Submit, the fallback of a client without Universal Actions: a message
        whose value is the same data. Same command, same check; a refusal can only be
        answered as a message in the conversation."""
        text, card = await self.pressed(context, data)
        if card is None:
            await context.send_activity(_message(text))

    async def pressed(self, context: TurnContext, data: Any) -> tuple[str, dict[str, Any] | None]:
        """A card button, however it arrived: (why nothing was done, None) or (the reply,
        the card as it now reads, already updated for everyone in the conversation)."""
        await self.remember(context)
        data = data if isinstance(data, dict) else {}
        person = self.person(context.activity.from_property)
        command, missing = command_from_press(self.lang, data)
        if command is None:
            return missing or "", None
        actor = Actor.person(person.id) if person else Actor("unknown")
        reply = await self._blocking(self.services.handle_command, actor, command, CHANNEL)
        if not reply.ok:
            return reply.text, None              # refused: the card stays as it was
        notification_id = str(data.get("notification") or "")
        card = await self.card_after(context, notification_id, person, reply)
        await _update_card(context, card, notification_id)
        return reply.text, card

    async def on_error(self, context: TurnContext, error: Exception) -> None:
        log.error("teams: %s failed (%s)", context.activity.type, type(error).__name__,
                  exc_info=error)
        try:
            await context.send_activity(_message(t(self.lang, "teams_error")))
        except (ClientError, OSError, RuntimeError):
            log.warning("teams: the error message could not be sent either")

    # ------------------------------------------------------------------ translation
    def person(self, account: ChannelAccount | None) -> Person | None:
        """The directory person behind a Teams account: `teams` is their 29:… id or AAD object id."""
        if account is None:
            return None
        for key in (account.aad_object_id, account.id):
            if key and key.casefold() in self.people:
                return self.people[key.casefold()]
        return None

    def unit_channel(self, context: TurnContext) -> Unit | None:
        channel = _channel_id(context.activity)
        return self.unit_channels.get(channel.casefold()) if channel else None

    def actor_for_message(self, context: TurnContext, text: str) -> Actor | None:
        """None: a question about cases in a conversation that is neither private nor a
        unit's channel; it is answered only in private."""
        person = self.person(context.activity.from_property)
        as_person = Actor.person(person.id) if person else Actor("unknown")
        if _is_personal(context.activity):
            return as_person
        command = parse(text, self.org)
        if not command.read_only or command.name == "help":
            return as_person
        unit = self.unit_channel(context)
        return Actor.channel(unit.id) if unit else None

    def welcome(self, context: TurnContext) -> str:
        if _is_personal(context.activity):
            return t(self.lang, "teams_welcome")
        unit = self.unit_channel(context)
        if unit is not None:
            return t(self.lang, "teams_welcome_unit", unit=unit.name)
        return t(self.lang, "teams_channel_not_linked", channel=_channel_id(context.activity) or "?")

    # ------------------------------------------------------------------ references
    async def remember(self, context: TurnContext) -> None:
        """Keep where this person or unit channel can be reached. Only a personal chat is a
        person's address: a notification never lands in a channel because someone wrote there."""
        activity = context.activity
        recipient, channel_post = None, False
        if _is_personal(activity):
            person = self.person(activity.from_property)
            recipient = person.id if person else None
        elif (unit := self.unit_channel(context)) is not None:
            recipient, channel_post = f"unit:{unit.id}", True
        if recipient is None or not activity.service_url:
            return
        reference = conversation_reference(context, channel_post=channel_post)
        if await self._blocking(self.refs.remember, recipient, reference):
            log.info("teams: conversation reference stored for %s", recipient)

    async def card_after(self, context: TurnContext, notification_id: str, person: Person | None,
                         reply: Reply) -> dict[str, Any]:
        """The pressed card with who did what. Its content is taken from the outbox item only
        if that item was delivered as this very card (a forged id shows nothing else)."""
        item = await self._blocking(self._notification, notification_id)
        delivery = (item or {}).get("delivery") or {}
        activity = context.activity
        same_card = (bool(delivery) and delivery.get("activity_id") == activity.reply_to_id
                     and base_conversation_id(delivery.get("conversation_id") or "")
                     == base_conversation_id(activity.conversation.id))
        now = self.services.calendar.local(self.services.clock.now())
        line = t(self.lang, "teams_done_line", name=person.name if person else "?",
                 reply=reply.text, time=f"{now:%Y-%m-%d %H:%M}")
        if same_card and item and delivery.get("bundle"):
            # a row of a bundle: the same bundle again, that row answered, the others as they were
            return await self._blocking(self._bundle_after, item, delivery, line)
        return done_card(self.org, item["view"] if same_card else None, line)

    def _bundle_after(self, item: dict[str, Any], delivery: dict[str, Any],
                      line: str) -> dict[str, Any]:
        from bot.chat.render import bundle_view
        from bot.chat.teams import bundle_card
        from bot.domain.bundling import BUNDLE_ROWS
        store = self.services.store
        members = [m for m in (store.notification(i) for i in delivery.get("members") or [])
                   if m is not None]
        view = bundle_view(self.org, members, BUNDLE_ROWS, self.services.outbox.web_base)
        return bundle_card(self.org, view, {item["id"]: line})

    def _notification(self, notification_id: str) -> dict[str, Any] | None:
        return self.services.store.notification(notification_id)


# ---------------------------------------------------------------------------- helpers
def _is_installation(context: TurnContext) -> bool:
    """The app was added: to a personal chat, a team or a chat (its own membersAdded)."""
    activity = context.activity
    if activity.type == ActivityTypes.installation_update:
        return (activity.action or "add").startswith("add")
    if activity.type == ActivityTypes.conversation_update and activity.recipient:
        return any(m.id == activity.recipient.id for m in activity.members_added or [])
    return False


def _is_personal(activity: Activity) -> bool:
    return bool(activity.conversation) and activity.conversation.conversation_type == "personal"


def _channel_id(activity: Activity) -> str | None:
    """The team channel of the activity: channelData.channel.id, else the conversation."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    channel = (data.get("channel") or {}).get("id") or data.get("teamsChannelId")
    if channel:
        return channel
    conversation = activity.conversation
    if conversation and conversation.conversation_type == "channel":
        return base_conversation_id(conversation.id)
    return None


def _command_text(activity: Activity) -> str:
    """The typed command without `<at>Avvikelsebot</at>` (the SDK removes the bot's own
    mention; a mention written differently is removed here)."""
    return " ".join(_MENTION.sub(" ", activity.text or "").split())


def _message(text: str) -> Activity:
    return Activity(type=ActivityTypes.message, text=escape_message(redact(text)),
                    text_format="markdown")


def _invoke_message(text: str) -> AdaptiveCardInvokeResponse:
    """Shown only to the person who pressed."""
    return AdaptiveCardInvokeResponse(status_code=HTTPStatus.OK, type=_CARD_MESSAGE,
                                      value=redact(text))


async def _update_card(context: TurnContext, card: dict[str, Any], notification_id: str) -> None:
    """Everyone in the conversation sees the updated card (updateActivity)."""
    if not context.activity.reply_to_id:
        return
    activity = card_activity(card)
    activity.id = context.activity.reply_to_id
    try:
        await context.update_activity(activity)
    except (ClientError, OSError) as exc:   # the case changed; only the old card stays
        log.warning("teams: card of %s not updated (%s)", notification_id or "?", type(exc).__name__)
    else:
        log.info("teams: card of %s updated", notification_id or "?")


async def _ignore(context: TurnContext, state: TurnState) -> None:
    return None
