"""Slack: Block Kit from the notification views, mrkdwn escaping, and the SlackNotifier.

The view dict (bot/chat/render.py) is the single source of what a notification says; this
module only lays it out for Slack. Every text that reaches a mrkdwn field goes through
`escape`, so a mail subject `<!channel>` or `<https://x|y>` is shown, never obeyed (DESIGN §8).

The buttons carry commands of the shared grammar (`registrerad VOK 2026/0001`); the
Slack app (handlers/slack.py) fills their placeholders and sends them to
`services.handle_command`, so a press is permission-checked like a typed command.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.chat.render import BUNDLE, bundle_more_line, bundle_row_detail
from bot.domain.org import Organisation, Person
from bot.domain.redact import redact
from bot.errors import DeliveryError, Unreachable
from bot.texts import t

log = logging.getLogger(__name__)

# action_id prefixes: what a press means (handlers/slack.py listens to them)
COMMAND = "avv_cmd:"        # button: value is the command
SNOOZE = "avv_snooze:"      # button: value is a command with {until} and {reason}: opens a form
UNIT = "avv_unit:"          # static_select: the block_id after UNIT_TEMPLATE holds the command
UNIT_TEMPLATE = "avv_tpl:"
HOME = "avv_home:"          # App Home button: value is the command
SNOOZE_FORM = "avv_snooze_form"   # callback_id of the snooze modal
ROW = "avv_row:"            # block_id prefix of a bundle row's buttons: "avv_row:<row>:<block>"
METADATA_TYPE = "avvikelsebot_notification"

# Block Kit limits (api.slack.com/reference/block-kit)
_HEADER_MAX, _TEXT_MAX, _FIELD_MAX, _LABEL_MAX = 150, 3000, 2000, 75
_VALUE_MAX, _ID_MAX, _OPTION_VALUE_MAX, _OPTIONS_MAX, _ELEMENTS_MAX = 2000, 255, 150, 100, 25

# Errors that say this recipient cannot be reached at all, so a retry would not help.
_UNREACHABLE_ERRORS = frozenset({
    "users_not_found", "user_not_found", "channel_not_found", "not_in_channel", "is_archived",
    "cannot_dm_bot", "user_disabled", "user_is_restricted", "restricted_action",
    "messages_tab_disabled"})
_BAD_BLOCKS = frozenset({"invalid_blocks", "invalid_blocks_format"})


def escape(text: Any) -> str:
    """Slack mrkdwn control characters as entities: the text shows as typed, nobody is
    pinged and no link is made (api.slack.com/reference/surfaces/formatting#escaping)."""
    return (str(text if text is not None else "")
            .replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---------------------------------------------------------------------------- blocks
def _plain(text: str, limit: int = _LABEL_MAX) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text or "–", limit), "emoji": False}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(redact(text), _HEADER_MAX)}


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(mrkdwn, _TEXT_MAX)}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(mrkdwn, _TEXT_MAX)}]}


def _field(label: str, value: Any) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _cut(f"*{escape(label)}*\n{escape(value)}", _FIELD_MAX)}


def notification_blocks(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The Block Kit message for one outbox view: the case title first, then what happened,
    the facts, what to do by when, and the buttons for the next step."""
    if view.get("event") == BUNDLE:
        return bundle_blocks(view, lang)
    if view.get("event") in ("triage", "digest", "unreachable") or not view.get("number"):
        return _message_blocks(view, lang)
    role_label = t(lang, "label_todo" if view.get("role") == "act" else "label_info")
    blocks = [
        _header(view.get("title") or view["number"]),
        _section(f"*{escape(view.get('headline'))}* · {escape(view['number'])}"),
        {"type": "section", "fields": [
            _field(t(lang, "slack_label_number"), view["number"]),
            _field(t(lang, "label_kind"), view.get("kind")),
            _field(t(lang, "label_counterpart"), view.get("counterpart")),
            _field(t(lang, "label_unit"), view.get("unit")),
            _field(t(lang, "label_severity"), view.get("severity")),
            _field(t(lang, "label_status"), view.get("status")),
        ]},
        _section(f"*{escape(role_label)}:* {escape(view.get('todo'))}"),
    ]
    if view.get("url"):       # the case's page in the web overview (our own address)
        blocks.append(_context(f"<{escape(view['url'])}|{escape(t(lang, 'web_open_case'))}>"))
    return blocks + _actions_or_commands(view, lang)


def bundle_blocks(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """A bundle (bot.domain.bundling): the count, then a row per case with that case's own
    buttons (each row's actions block named ROW + row number, so a press answers that row
    only), then "… och 37 till" with the link to the list. At most 15 rows: 33 blocks of
    Slack's 50."""
    blocks = [_header(view.get("headline") or "Avvikelsebot")]
    if view.get("text"):
        blocks.append(_context(escape(view["text"])))
    if view.get("digest"):
        blocks.append(_section(f"*{escape(view['digest']['headline'])}*\n"
                               + escape(view["digest"]["text"])))
    for i, row in enumerate(view.get("rows") or []):
        blocks.append(_section(f"*{escape(row['number'])}* «{escape(row['title'])}»\n"
                               + escape(bundle_row_detail(lang, row))))
        for k, block in enumerate(action_blocks(row.get("actions") or [])):
            if block.get("block_id", "").startswith(UNIT_TEMPLATE):
                continue        # a unit picker carries its command in its block_id: not in a bundle
            blocks.append({**block, "block_id": f"{ROW}{i}:{k}"})
    more = bundle_more_line(lang, view)
    if more:
        if view.get("more_link"):
            label = t(lang, "bundle_more", count=view["more"])
            blocks.append(_section(f"<{view['more_link']}|{escape(label)}>"))
        else:
            blocks.append(_section(escape(more)))
    return blocks


def _message_blocks(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """Triage prompts, digests and notices: a headline, the text, what to do, the choices."""
    blocks = [_header(view.get("headline") or "Avvikelsebot")]
    if view.get("text"):
        blocks.append(_section(escape(view["text"])))
    if view.get("todo"):
        blocks.append(_section(f"*{escape(t(lang, 'label_todo'))}:* {escape(view['todo'])}"))
    return blocks + _actions_or_commands(view, lang)


def _actions_or_commands(view: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    actions = view.get("actions") or []
    if actions:
        return action_blocks(actions)
    if view.get("commands"):   # nothing to press: say what can be typed
        typed = " · ".join(f"`{escape(c)}`" for c in view["commands"])
        return [_context(f"{escape(t(lang, 'label_commands'))}: {typed}")]
    return []


def action_blocks(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Buttons in view order; a unit picker gets a block of its own (its command travels in
    the block_id, since a select has no value of its own)."""
    blocks: list[dict[str, Any]] = []
    buttons: list[dict[str, Any]] = []
    for i, action in enumerate(actions):
        if action.get("input") == "unit":
            picker = _unit_picker(i, action)
            if picker is None:
                buttons += _unit_buttons(i, action)
                continue
            if buttons:
                blocks.append(_actions_block(buttons))
                buttons = []
            blocks.append(picker)
            continue
        prefix = SNOOZE if action.get("input") == "snooze" else COMMAND
        button = _button(f"{prefix}{i}:{action.get('id', '')}", action["label"], action["command"],
                         action.get("style"))
        if button:
            buttons.append(button)
    if buttons:
        blocks.append(_actions_block(buttons))
    return blocks


def _actions_block(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "actions", "elements": elements[:_ELEMENTS_MAX]}


def _button(action_id: str, label: str, command: str, style: str | None = None) -> dict | None:
    if len(command) > _VALUE_MAX:
        log.warning("button %s left out: its command is longer than Slack allows", action_id)
        return None
    button = {"type": "button", "action_id": _cut(action_id, _ID_MAX), "text": _plain(label),
              "value": command}
    if style in ("primary", "danger"):
        button["style"] = style
    return button


def _choices(action: dict[str, Any]) -> list[dict[str, str]]:
    return [c for c in action.get("choices", []) if len(c["value"]) <= _OPTION_VALUE_MAX]


def _unit_picker(i: int, action: dict[str, Any]) -> dict[str, Any] | None:
    """One select with the units; None when the command does not fit in a block_id."""
    block_id = UNIT_TEMPLATE + action["command"]
    choices = _choices(action)
    if len(block_id) > _ID_MAX or len(choices) > _OPTIONS_MAX:
        return None
    return {"type": "actions", "block_id": block_id, "elements": [{
        "type": "static_select", "action_id": _cut(f"{UNIT}{i}:{action.get('id', '')}", _ID_MAX),
        "placeholder": _plain(action["label"]),
        "options": [{"text": _plain(c["label"]), "value": c["value"]} for c in choices]}]}


def _unit_buttons(i: int, action: dict[str, Any]) -> list[dict[str, Any]]:
    """The fallback of a picker: a button per unit, each with its command filled in."""
    buttons = [_button(f"{COMMAND}{i}:{j}", c["label"], action["command"].replace("{unit}", c["value"]))
               for j, c in enumerate(_choices(action))]
    return [b for b in buttons if b]


def answered_blocks(blocks: list[dict[str, Any]], line: str,
                    pressed_block: str | None = None) -> list[dict[str, Any]]:
    """The message after a press: the same blocks without the buttons, and who did what
    when (`line` is escaped here). A press on a bundle's row takes that row's buttons only,
    the line in their place: the other cases' buttons stay."""
    if pressed_block and pressed_block.startswith(ROW):
        row = ROW + pressed_block[len(ROW):].split(":", 1)[0] + ":"
        result: list[dict[str, Any]] = []
        done = False
        for block in blocks or []:
            if block.get("type") == "actions" and str(block.get("block_id", "")).startswith(row):
                if not done:
                    result.append(_context(escape(line)))
                    done = True
                continue
            result.append(block)
        return result if done else result + [_context(escape(line))]
    kept = [b for b in blocks or [] if b.get("type") != "actions"]
    return kept + [_context(escape(line))]


def snooze_form(lang: str, template: str, channel: str | None, ts: str | None,
                initial_date: str, block: str | None = None) -> dict[str, Any]:
    """The modal a Snooza press opens: until which date, and why (both required by the
    grammar); where the message is rides along to update it afterwards."""
    return {
        "type": "modal", "callback_id": SNOOZE_FORM,
        "title": _plain(t(lang, "slack_snooze_title"), 24),
        "submit": _plain(t(lang, "slack_snooze_submit"), 24),
        "close": _plain(t(lang, "slack_snooze_cancel"), 24),
        "private_metadata": json.dumps({"command": template, "channel": channel, "ts": ts,
                                        **({"block": block} if block else {})}),
        "blocks": [
            {"type": "input", "block_id": "until", "label": _plain(t(lang, "slack_snooze_until")),
             "element": {"type": "datepicker", "action_id": "until", "initial_date": initial_date}},
            {"type": "input", "block_id": "reason", "label": _plain(t(lang, "slack_snooze_reason")),
             "element": {"type": "plain_text_input", "action_id": "reason", "max_length": 300}},
        ]}


# ---------------------------------------------------------------------------- App Home
@dataclass(frozen=True)
class HomeCase:
    number: str
    title: str
    unit: str
    status: str
    next_step: str | None
    overdue: bool


@dataclass(frozen=True)
class HomeSubscription:
    label: str              # a unit's name, or "alla enheter"
    target: str             # what prenumerera/avprenumerera takes: a unit id or "alla"
    subscribed: bool
    configured: bool        # from the organisation file: only the administrator removes it


HOME_CASES_MAX = 40         # a Home tab holds at most 100 blocks


def home_view(lang: str, cases: list[HomeCase] | None, subscriptions: list[HomeSubscription],
              notice: str | None = None) -> dict[str, Any]:
    """The App Home tab: my open cases, overdue first, and my subscriptions with buttons.
    `cases=None` means the person is not in the directory."""
    blocks: list[dict[str, Any]] = []
    if notice:
        blocks.append(_context(escape(notice)))
    if cases is None:
        return {"type": "home", "blocks": blocks + [_section(escape(t(lang, "denied_unknown")))]}
    blocks.append(_header(t(lang, "slack_home_cases", count=len(cases))))
    if not cases:
        blocks.append(_section(escape(t(lang, "no_cases"))))
    for case in cases[:HOME_CASES_MAX]:
        blocks.append(_section(_home_case_line(lang, case)))
    if len(cases) > HOME_CASES_MAX:
        blocks.append(_context(escape(t(lang, "slack_home_more", count=len(cases) - HOME_CASES_MAX))))
    blocks += [{"type": "divider"}, _header(t(lang, "slack_home_subscriptions"))]
    for sub in subscriptions[:HOME_CASES_MAX]:
        blocks.append(_home_subscription(lang, sub))
    return {"type": "home", "blocks": blocks}


def _home_case_line(lang: str, case: HomeCase) -> str:
    mark = "🔴 " if case.overdue else ""
    facts = " · ".join(escape(x) for x in (case.unit, case.status, case.next_step) if x)
    return f"{mark}*{escape(case.number)}* «{escape(redact(case.title))}»\n{facts}"


def _home_subscription(lang: str, sub: HomeSubscription) -> dict[str, Any]:
    state = ("slack_home_configured" if sub.configured else
             "slack_home_subscribed" if sub.subscribed else "slack_home_not_subscribed")
    block = _section(f"*{escape(sub.label)}* · {escape(t(lang, state))}")
    if not sub.configured:
        verb, label, style = (("avprenumerera", "slack_button_unsubscribe", None) if sub.subscribed
                              else ("prenumerera", "slack_button_subscribe", "primary"))
        block["accessory"] = _button(f"{HOME}{verb}:{sub.target}", t(lang, label),
                                     f"{verb} {sub.target}", style)
    return block


# ---------------------------------------------------------------------------- people
class SlackDirectory:
    """Slack user ↔ person of the organisation: the `slack` id of the configuration, else
    the person's e-mail (users.lookupByEmail one way, users.info the other), cached.
    A miss is remembered for a while, so an unknown user does not cost a call per click."""

    MISS_SECONDS = 600

    def __init__(self, org: Organisation, client: WebClient, monotonic=time.monotonic):
        self.org, self.client, self._now = org, client, monotonic
        self._lock = threading.Lock()
        self._users: dict[str, tuple[str | None, float]] = {}     # person id -> Slack user
        self._people: dict[str, tuple[str | None, float]] = {}    # Slack user -> person id
        self._configured = {p.slack: p.id for p in org.people.values() if p.slack}

    def user_for(self, person: Person) -> str | None:
        if person.slack:
            return person.slack
        hit = self._cached(self._users, person.id)
        if hit is not None:
            return hit[0]
        try:
            user = self.client.users_lookupByEmail(email=person.email)["user"]["id"]
            log.info("slack users.lookupByEmail for %s: found", person.id)
        except SlackApiError as exc:
            if _error_code(exc) not in ("users_not_found", "user_not_found"):
                raise
            log.info("slack users.lookupByEmail for %s: no Slack account", person.id)
            user = None
        self._remember(person.id, user)
        return user

    def person_for(self, user_id: str | None) -> Person | None:
        if not user_id:
            return None
        if user_id in self._configured:
            return self.org.people[self._configured[user_id]]
        hit = self._cached(self._people, user_id)
        if hit is not None:
            return self.org.people.get(hit[0] or "")
        person = self._person_by_profile(user_id)
        if person is None:
            with self._lock:
                self._people[user_id] = (None, self._now())
        else:
            self._remember(person.id, user_id)
        return person

    def _person_by_profile(self, user_id: str) -> Person | None:
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if _error_code(exc) in ("user_not_found", "users_not_found"):
                return None
            raise
        log.info("slack users.info %s", user_id)
        if user.get("deleted") or user.get("is_bot"):
            return None
        person = self.org.person_by_email((user.get("profile") or {}).get("email"))
        if person is None or (person.slack and person.slack != user_id):
            return None     # a configured id wins over an e-mail match
        return person

    def _cached(self, table: dict, key: str) -> tuple[str | None, float] | None:
        with self._lock:
            hit = table.get(key)
        if hit is None or (hit[0] is None and self._now() - hit[1] > self.MISS_SECONDS):
            return None
        return hit

    def _remember(self, person_id: str, user: str | None) -> None:
        with self._lock:
            self._users[person_id] = (user, self._now())
            if user is not None:
                self._people[user] = (person_id, self._now())


# ---------------------------------------------------------------------------- notifier
def notification_ref(notification_id: str) -> str:
    """The outbox id as kept in the message metadata: fixed length, and no person or mail
    id readable to whoever can read the channel."""
    return hashlib.sha256(notification_id.encode("utf-8")).hexdigest()[:32]


class SlackNotifier:
    """Delivers outbox items: a DM to a person, or a post in a unit's channel.

    Idempotency: every message carries the outbox id (hashed) as message metadata. An item
    in doubt (its earlier attempt may have landed: timeout, 5xx, a crash mid-post) is first
    looked up in the conversation's recent history by that metadata (`delivered`), so it is
    not shown twice. HTTP 429 becomes DeliveryError(retry_after=…) and
    the outbox waits that long; a recipient Slack cannot reach raises Unreachable.
    """
    channel = "slack"
    HISTORY_PAGES = 5

    def __init__(self, org: Organisation, client: WebClient, directory: SlackDirectory | None = None):
        self.org, self.client = org, client
        self.directory = directory or SlackDirectory(org, client)
        self._dm: dict[str, str] = {}

    def send(self, notification: dict[str, Any]) -> dict[str, str]:
        number = notification.get("diary_number") or "-"
        with _translated(number):
            channel = self._conversation(notification["recipient"], number)
            return self._post(channel, notification_ref(notification["id"]), notification, number)

    def delivered(self, notification: dict[str, Any]) -> dict[str, str] | None:
        """After an attempt whose answer was lost (a timeout, a 5xx, a crash mid-post): the
        earlier message, found by the item's metadata in the conversation's history."""
        number = notification.get("diary_number") or "-"
        with _translated(number):
            channel = self._conversation(notification["recipient"], number)
            earlier = self._earlier_post(channel, notification_ref(notification["id"]),
                                         notification, number)
        if earlier:
            log.info("slack %s already posted in %s (ts %s): not again", number, channel, earlier)
            return {"channel": channel, "ts": earlier}
        return None

    def _conversation(self, recipient: str, number: str) -> str:
        if recipient.startswith("unit:"):
            unit = self.org.units.get(recipient[5:])
            if unit is None or not unit.slack_channel:
                raise Unreachable(f"{recipient} har ingen Slack-kanal")
            return unit.slack_channel
        person = self.org.people.get(recipient)
        if person is None:
            raise Unreachable(f"{recipient} finns inte i katalogen")
        user = self.directory.user_for(person)
        if user is None:
            raise Unreachable(f"{recipient} har inget Slack-konto")
        if user not in self._dm:
            opened = self.client.conversations_open(users=user)
            log.info("slack conversations.open %s for %s", number, recipient)
            self._dm[user] = opened["channel"]["id"]
        return self._dm[user]

    def _post(self, channel: str, ref: str, notification: dict[str, Any], number: str) -> dict[str, str]:
        view = notification.get("view") or {}
        text = _cut(escape(redact(notification.get("text") or view.get("headline") or "")), 3900)
        metadata = {"event_type": METADATA_TYPE,
                    "event_payload": {"ref": ref, "diary_number": notification.get("diary_number") or ""}}
        blocks = notification_blocks(view, self.org.language) if view else None
        try:
            response = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks,
                                                    metadata=metadata, unfurl_links=False,
                                                    unfurl_media=False)
        except SlackApiError as exc:
            if _error_code(exc) not in _BAD_BLOCKS:
                raise
            # a layout Slack refuses must not keep the news from the person: text only
            log.error("slack refused the blocks for %s (%s); posting the text only", number,
                      _error_code(exc))
            response = self.client.chat_postMessage(channel=channel, text=text, metadata=metadata,
                                                    unfurl_links=False, unfurl_media=False)
        log.info("slack chat.postMessage %s in %s: ts %s", number, channel, response.get("ts"))
        return {"channel": response.get("channel") or channel, "ts": str(response.get("ts") or "")}

    def _earlier_post(self, channel: str, ref: str, notification: dict[str, Any],
                      number: str) -> str | None:
        oldest = _epoch(notification.get("created")) - 60
        cursor = None
        for _ in range(self.HISTORY_PAGES):
            page = self.client.conversations_history(channel=channel, oldest=f"{oldest:.6f}",
                                                     include_all_metadata=True, limit=100,
                                                     cursor=cursor)
            log.info("slack conversations.history %s in %s", number, channel)
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (metadata.get("event_type") == METADATA_TYPE
                        and (metadata.get("event_payload") or {}).get("ref") == ref):
                    return message.get("ts")
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        return None


@contextmanager
def _translated(number: str) -> Iterator[None]:
    """Slack's answers as the outbox understands them (errors translated at the boundary)."""
    try:
        yield
    except SlackApiError as exc:
        code = _error_code(exc)
        status = getattr(exc.response, "status_code", None)
        if status == 429 or code == "ratelimited":
            retry_after = _retry_after(exc.response)
            log.info("slack %s rate limited: retry after %ss", number, retry_after)
            raise DeliveryError(f"Slack: ratelimited ({retry_after}s)", retry_after=retry_after) from exc
        if code in _UNREACHABLE_ERRORS:
            raise Unreachable(f"Slack: {code}") from exc
        raise DeliveryError(f"Slack: {code or status}") from exc
    except SlackClientError as exc:
        raise DeliveryError(f"Slack: {type(exc).__name__}") from exc
    except OSError as exc:          # connection refused, reset, timeout: may or may not have landed
        raise DeliveryError(f"Slack: {_cause(exc)}") from exc


def _cause(exc: OSError) -> str:
    """urllib wraps the socket's error: name that one (ConnectionRefusedError, not URLError)."""
    reason = getattr(exc, "reason", None)
    return type(reason if isinstance(reason, BaseException) else exc).__name__


def _error_code(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except Exception:    # a non-JSON answer (a proxy's HTML page)
        return ""


def _retry_after(response) -> float:
    headers = {k.lower(): v for k, v in (getattr(response, "headers", None) or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(float(value), 1.0)  # type: ignore[arg-type]  # None is caught below
    except (TypeError, ValueError):
        return 30.0     # Slack's documented default pause for a rate-limited method


def _epoch(iso_time: str | None) -> float:
    try:
        return datetime.fromisoformat(iso_time).timestamp() if iso_time else 0.0
    except ValueError:
        return 0.0
