"""Teams: Adaptive Cards from the notification views, Teams text escaping, TeamsNotifier.

A card says what the Slack message and the e-mail say (headline, title, the case's facts,
what to do) and carries the view's buttons as `Action.Execute` (Universal Actions).
Execute rather than Submit: a press arrives as an `adaptiveCard/action` invoke that gets its
own answer, so a refusal is shown to the person who pressed and not posted into a shared
channel, and the updated card comes back at once. Buttons that need input (a unit, a snooze
date and reason) open an `Action.ShowCard` with the inputs.

Card version 1.5: Microsoft's Teams page "Work with Universal Actions for Adaptive Cards"
says Universal Actions are introduced in schema 1.5 and the card's version must be 1.5
(the older docs.microsoft.com copy of the page said 1.4, which is where Action.Execute
itself appeared). The same page: a Teams client without them does not render
Action.Execute, so "to ensure maximum compatibility in Teams, define Action.Execute with an
Action.Submit in the fallback property". Every Execute therefore carries an Action.Submit
fallback with the same data and the verb, which handlers/teams.py runs through the same
command and permission check as the Execute.

TeamsNotifier.send is called from the outbox worker thread; it posts through the Agents
SDK adapter on the event loop of `run` and waits for the answer.
"""
from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import re
import threading
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
from microsoft_agents.activity import Activity, ResourceResponse
from microsoft_agents.hosting.core import CardFactory, MessageFactory, TurnContext
from microsoft_agents.hosting.core.app.proactive import Conversation

from bot.chat.render import BUNDLE, bundle_more_line, bundle_row_text
from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.errors import BotError, DeliveryError, Unreachable
from bot.store.teams_refs import TeamsConversationRefs
from bot.texts import t

log = logging.getLogger(__name__)

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.5"          # what Teams asks for Universal Actions (see above)
VERB = "avvikelse"            # the one Action.Execute verb; the command is in the data
SEND_TIMEOUT = 30.0           # seconds the outbox worker waits for the Bot Connector
_STYLES = {"primary": "positive", "danger": "destructive"}
_PLACEHOLDERS = {"unit": "{unit}", "until": "{until}", "reason": "{reason}"}

# ---------------------------------------------------------------------------- escaping
_MD_INLINE = re.compile(r"([\\`*_\[\]~])")
_MD_LINE_START = re.compile(r"^([ \t]*)([#>+\-]|\d+\.)", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """Text from outside shown in a card: no bold, links, code or lists can be smuggled in
    (a subject like `[klicka här](https://…)` shows as typed)."""
    text = _MD_INLINE.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: f"{m.group(1)}\\{m.group(2)}", text)


def escape_message(text: str) -> str:
    """A chat message: Teams renders markdown and a subset of HTML, so both are escaped
    (`<at>` or `<a href>` typed into a subject stay text); line breaks are kept."""
    escaped = escape_markdown(html.escape(text, quote=False))
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def _shown(value: Any) -> str:
    """Every value on a card, redacted once more (the last line of defence) and escaped."""
    return escape_markdown(redact(str(value if value is not None else "–")))


# ---------------------------------------------------------------------------- cards
def adaptive_card(org: Organisation, view: dict[str, Any], notification_id: str,
                  marker: str | None = None, notes: list[str] | None = None) -> dict[str, Any]:
    """The card of one outbox notification (or of a bundle of them), with its buttons.
    `marker` (issue 26) is the id of its first element, so the card can be found in the chat
    after an interrupted post; `notes` are earlier texts whose cards may have been shown
    already."""
    if view.get("event") == BUNDLE:
        return _marked(org, bundle_card(org, view), marker, notes)
    card = _marked(org, _card(_card_body(org, view)), marker, notes)
    actions = [_card_action(org.language, b, notification_id) for b in view.get("actions", [])]
    if actions:
        card["actions"] = actions
    return card


def _marked(org: Organisation, card: dict[str, Any], marker: str | None,
            notes: list[str] | None) -> dict[str, Any]:
    body = card["body"]
    if marker and body:
        body[0]["id"] = marker_id(marker)
    if notes:
        card["body"] = [_text(escape_markdown(t(org.language, "teams_in_doubt_header")),
                              weight="Bolder", color="Attention")] + [
            _text(_shown(n), isSubtle=True, spacing="None") for n in notes] + (
            [{**body[0], "separator": True}, *body[1:]] if body else [])
    return card


def bundle_card(org: Organisation, view: dict[str, Any], done: dict[str, str] | None = None) -> dict[str, Any]:
    """A bundle (bot.domain.bundling): a row per case with that case's buttons in an
    ActionSet of its own, each button naming its row's outbox item (a press acts on that case
    and answers that row). `done`: outbox item id -> who did what, shown instead of the row's
    buttons."""
    lang = org.language
    body = [_text(_shown(view["headline"]), weight="Bolder", size="Medium")]
    if view.get("text"):
        body.append(_text(_shown(view["text"]), spacing="None"))
    if view.get("digest"):
        body.append(_text(_shown(view["digest"]["headline"]), weight="Bolder", separator=True))
        body += [_text(_shown(line), spacing="None")
                 for line in view["digest"]["text"].splitlines() if line.strip()]
    for row in view.get("rows") or []:
        body.append(_text(_shown(bundle_row_text(lang, row)), separator=True))
        if done and row.get("id") in done:
            body.append(_text(escape_markdown(redact(done[row["id"]])), weight="Bolder",
                              color="Good", spacing="Small"))
            continue
        actions = [_card_action(lang, b, row.get("id") or "") for b in row.get("actions") or []
                   if b.get("input") != "unit"]
        if actions:
            body.append({"type": "ActionSet", "actions": actions})
    more = bundle_more_line(lang, view)
    if more:
        body.append(_text(_shown(more), separator=True))
    return _card(body)


def done_card(org: Organisation, view: dict[str, Any] | None, done_line: str) -> dict[str, Any]:
    """The card after a press: the same content, who did what instead of the buttons.
    Without a view (the notification could not be verified) only the done line."""
    body = _card_body(org, view) if view else []
    body.append(_text(escape_markdown(redact(done_line)), weight="Bolder", color="Good",
                      separator=bool(body)))
    return _card(body)


def _card(body: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "$schema": CARD_SCHEMA, "version": CARD_VERSION,
            "msteams": {"width": "Full"}, "body": body}


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _card_body(org: Organisation, view: dict[str, Any]) -> list[dict[str, Any]]:
    lang = org.language
    if "kind" not in view:   # triage, digest, notices to the registrator: lines of text
        lines = [line for line in str(view.get("text") or "").splitlines() if line.strip()]
        return ([_text(_shown(view["headline"]), weight="Bolder", size="Medium")]
                + [_text(_shown(line), spacing="None") for line in lines]
                + [_text(_shown(view["todo"]))])
    facts = [(t(lang, "label_kind"), view["kind"]), (t(lang, "label_counterpart"), view["counterpart"]),
             (t(lang, "label_unit"), view["unit"]), (t(lang, "label_severity"), view["severity"]),
             (t(lang, "label_status"), view["status"])]
    todo_label = t(lang, "label_todo" if view["role"] == "act" else "label_info")
    body = [
        _text(f"{_shown(view['headline'])}: {_shown(view['number'])}", weight="Bolder", size="Medium"),
        _text(f"«{_shown(view['title'])}»", spacing="Small"),
        {"type": "FactSet", "facts": [{"title": label, "value": _shown(value)} for label, value in facts]},
        _text(f"**{todo_label}:** {_shown(view['todo'])}"),
    ]
    if view.get("url"):       # the case's page in the web overview (our own address)
        body.append(_text(f"[{escape_markdown(t(lang, 'web_open_case'))}]({view['url']})"))
    return body


def _card_action(lang: str, button: dict[str, Any], notification_id: str) -> dict[str, Any]:
    data = {"command": button["command"], "notification": notification_id, "action": button["id"]}
    execute = {"type": "Action.Execute", "title": button["label"], "verb": VERB, "data": data}
    # an older client sends the same data as a message (value), with the verb to route it
    fallback = {"type": "Action.Submit", "title": button["label"], "data": {**data, "verb": VERB}}
    if _STYLES.get(button.get("style") or ""):
        execute["style"] = fallback["style"] = _STYLES[button["style"]]
    execute["fallback"] = fallback
    inputs = _inputs(lang, button)
    if not inputs:
        return execute
    return {"type": "Action.ShowCard", "title": button["label"],
            "card": {"type": "AdaptiveCard", "body": inputs, "actions": [execute]}}


def _inputs(lang: str, button: dict[str, Any]) -> list[dict[str, Any]]:
    """Input ids carry the button id: two buttons on one card never share an input."""
    if button.get("input") == "unit":
        return [{"type": "Input.ChoiceSet", "id": f"{button['id']}_unit", "style": "compact",
                 "label": t(lang, "teams_input_unit"), "isRequired": True,
                 "errorMessage": t(lang, "teams_pick_unit"),
                 "choices": [{"title": c["label"], "value": c["value"]}
                             for c in button.get("choices", [])]}]
    if button.get("input") == "snooze":
        return [{"type": "Input.Date", "id": f"{button['id']}_until", "isRequired": True,
                 "label": t(lang, "teams_input_until"), "errorMessage": t(lang, "teams_pick_date")},
                {"type": "Input.Text", "id": f"{button['id']}_reason", "maxLength": 200,
                 "label": t(lang, "teams_input_reason"),
                 "placeholder": t(lang, "snooze_default_reason")}]
    return []


def command_from_press(lang: str, data: dict[str, Any]) -> tuple[str | None, str | None]:
    """(command, None) with the placeholders filled from the card's inputs, or
    (None, what is missing). The command is then parsed and permission-checked like a
    typed one, so forged card data can do no more than typing could."""
    command = str(data.get("command") or "")
    if not command:
        return None, t(lang, "teams_press_unknown")
    action = str(data.get("action") or "")
    for name, placeholder in _PLACEHOLDERS.items():
        if placeholder not in command:
            continue
        value = " ".join(str(data.get(f"{action}_{name}") or "").split())
        if not value and name == "reason":
            value = t(lang, "snooze_default_reason")
        if not value:
            return None, t(lang, "teams_pick_unit" if name == "unit" else "teams_pick_date")
        command = command.replace(placeholder, value)
    return command, None


def card_activity(card: dict[str, Any], summary: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if summary:
        activity.summary = redact(summary)   # the toast and activity-feed preview: plain text
    return activity


# ---------------------------------------------------------------------------- references
def base_conversation_id(conversation_id: str) -> str:
    """A channel thread "19:…@thread.tacv2;messageid=17…" is the channel "19:…@thread.tacv2"."""
    return conversation_id.split(";", 1)[0]


def conversation_reference(context: TurnContext, *, channel_post: bool = False) -> dict[str, Any]:
    """What a later proactive post needs from this turn. No activity id: a notification is
    a new message, not a reply; for a channel, the channel itself rather than the thread."""
    conversation = Conversation.from_turn_context(context)
    reference = conversation.conversation_reference
    reference.activity_id = None
    reference.request_id = None
    if channel_post and reference.conversation is not None:
        reference.conversation = reference.conversation.model_copy(
            update={"id": base_conversation_id(reference.conversation.id)})
        reference.user = None   # a channel post is to the channel, whoever spoke last
    stored = conversation.store_item_to_json()
    stored.pop("_span_context", None)
    return stored


async def post_to_conversation(adapter, reference: dict[str, Any], activity: Activity) -> ResourceResponse:
    """Post one activity proactively into a stored conversation (Bot Connector
    POST v3/conversations/{id}/activities); connector errors are raised, not swallowed."""
    conversation = Conversation.from_json_to_store_item(reference)
    claims = Conversation.identity_from_claims(conversation.claims)
    continuation = conversation.conversation_reference.get_continuation_activity()
    continuation.id = None          # otherwise the post becomes a reply to a made-up id
    outcome: dict[str, Any] = {}

    async def _send(context: TurnContext) -> None:
        # the adapter would turn an exception into an error message to the recipient
        try:
            outcome["response"] = await context.send_activity(activity)
        except Exception as exc:  # noqa: BLE001 - re-raised below, outside the adapter
            outcome["error"] = exc

    await adapter.continue_conversation_with_claims(claims, continuation, _send)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["response"]


def marker_id(marker: str) -> str:
    return f"avvikelsebot-{marker}"


def item_marker(notification: dict[str, Any]) -> str:
    """The item's random marker; an item queued before issue 26 has one made from its id."""
    return notification.get("marker") or hashlib.sha256(notification["id"].encode()).hexdigest()[:16]


def graph_chat_id(reference: dict[str, Any]) -> str | None:
    """The Graph chat a stored conversation is: a group chat's id is the same
    ("19:…@thread.v2"); a personal chat with the bot ("a:…" in the Bot Connector) is
    "19:<the user's AAD object id>_<the bot's app id>@unq.gbl.spaces". A team channel
    ("…@thread.tacv2", /teams/{id}/channels/{id}/messages) is not a chat: None."""
    ref = reference.get("conversation_reference") or {}
    conversation = str((ref.get("conversation") or {}).get("id") or "")
    if conversation.startswith("19:"):
        return None if "@thread.tacv2" in conversation or "@thread.skype" in conversation else conversation
    user = (ref.get("user") or {}).get("aadObjectId") or (ref.get("user") or {}).get("aad_object_id")
    bot = str((ref.get("agent") or ref.get("bot") or {}).get("id") or "")
    if not user or not bot:
        return None
    return f"19:{user}_{bot.removeprefix('28:')}@unq.gbl.spaces"


# ---------------------------------------------------------------------------- notifier
class TeamsNotifier:
    """Delivers outbox items to a person's personal chat or a unit's team channel."""
    channel = "teams"

    def __init__(self, org: Organisation, refs: TeamsConversationRefs, adapter,
                 timeout: float = SEND_TIMEOUT):
        self.org, self.refs, self.adapter, self.timeout = org, refs, adapter, timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        # issue 26: finds a card by its marker in a Graph chat ([teams] graph_chat_read)
        self.finder: Any = None
        self._finder_denied = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called by the frontend's start(), on the loop that serves Teams."""
        self.loop, self._loop_thread = loop, threading.get_ident()

    def detach(self) -> None:
        self.loop = self._loop_thread = None

    def send(self, notification: dict[str, Any]) -> dict[str, str]:
        lang = self.org.language
        recipient = notification["recipient"]
        reference = self.refs.get(recipient)
        if reference is None:
            raise Unreachable(t(lang, "teams_no_reference", recipient=recipient))
        view = notification["view"]
        if view.get("plain"):     # a small plain note (bot.usecases.doubt)
            activity = MessageFactory.text(escape_message(redact(str(view.get("text") or ""))))
        else:
            card = adaptive_card(self.org, view, notification["id"], item_marker(notification),
                                 notification.get("doubt_notes"))
            activity = card_activity(card, summary=view.get("headline"))
        response = self._run(post_to_conversation(self.adapter, reference, activity))
        conversation_id = reference["conversation_reference"]["conversation"]["id"]
        log.info("teams: %s %s levererat till %s", notification.get("diary_number") or "-",
                 notification.get("event"), recipient)
        return {"activity_id": response.id or "", "conversation_id": conversation_id}

    def delivered(self, notification: dict[str, Any]) -> dict[str, Any] | None:
        """After a post whose answer never came (a crash, a timeout, a 408/5xx): with a
        finder, the card found by its marker in the chat (None: not there, it is posted);
        without one, or for a team channel, {"in_doubt": True}: recorded as delivered in
        doubt, its text shown marked on the recipient's next message (bot.usecases.doubt)."""
        recipient = notification["recipient"]
        reference = self.refs.get(recipient)
        if reference is None:
            raise Unreachable(t(self.org.language, "teams_no_reference", recipient=recipient))
        conversation_id = reference["conversation_reference"]["conversation"]["id"]
        chat = graph_chat_id(reference)
        if self.finder is None or chat is None:
            log.info("teams: %s %s till %s kan ha visats: visas märkt med nästa meddelande",
                     notification.get("diary_number") or "-", notification.get("event"), recipient)
            return {"in_doubt": True, "conversation_id": conversation_id}
        since = datetime.fromisoformat(notification["created"])
        try:
            found = self.finder.find(chat, marker_id(item_marker(notification)), since)
        except BotError as exc:
            if getattr(exc, "status", None) == 403:     # configured, not granted: as without
                if not self._finder_denied:
                    log.warning("teams: Graph nekar läsning av chattar (%s); kort som kan ha "
                                "visats märks i stället", exc)
                    self._finder_denied = True
                return {"in_doubt": True, "conversation_id": conversation_id}
            raise DeliveryError(str(exc)) from None   # still in doubt, looked for again later
        if found is None:
            return None
        return {"activity_id": found, "conversation_id": conversation_id, "found_in_chat": True}

    def _run(self, coro) -> ResourceResponse:
        lang = self.org.language
        if self.loop is None or self.loop.is_closed():
            coro.close()
            raise DeliveryError(t(lang, "teams_not_started"))
        if threading.get_ident() == self._loop_thread:
            coro.close()   # waiting here would block the very loop that must do the work
            raise RuntimeError("TeamsNotifier.send must run in a worker thread, not on the event loop")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(self.timeout)
        except TimeoutError as exc:
            future.cancel()
            raise DeliveryError(t(lang, "teams_timeout", seconds=int(self.timeout))) from exc
        except aiohttp.ClientResponseError as exc:
            raise delivery_error(lang, exc) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(t(lang, "teams_connect_failed", error=type(exc).__name__)) from exc


def delivery_error(lang: str, exc: aiohttp.ClientResponseError) -> DeliveryError:
    """Bot Connector answers: 429 waits as told; 403/404 mean the app was removed or the
    conversation is gone (the person must open the app again); the rest is retried."""
    if exc.status in (403, 404):
        return Unreachable(t(lang, "teams_gone", status=exc.status))
    retry_after = _retry_after(exc.headers) if exc.status == 429 else None
    return DeliveryError(t(lang, "teams_http_error", status=exc.status), retry_after=retry_after)


def _retry_after(headers) -> float | None:
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max((moment - datetime.now(timezone.utc)).total_seconds(), 0.0)
