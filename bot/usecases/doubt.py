"""Teams posts in doubt (issue 26): a card whose post was interrupted (a crash between claim
and record, a timeout, an ambiguous 408/5xx) may or may not be in the chat.

With `[teams] graph_chat_read` the Teams notifier looks for the card's marker in the chat
(Graph) and the item is recorded as delivered when found, posted when not. Without it the
card is not posted a second time: TeamsNotifier.delivered answers {"in_doubt": True}, the
item is recorded `sent` with that delivery, and its text waits here (store state DOUBT_KEY)
to be shown under "Kan ha visats redan:" at the top of the next Teams card to the same
recipient. If nothing else goes to them within NOTE_WAIT, the text goes alone, as one small
plain note (event IN_DOUBT_NOTE). A note claimed with a card is part of that card's item:
should that post be interrupted in turn, the card's text (notes included) waits again.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from bot.domain.case import iso
from bot.texts import t

DOUBT_KEY = "teams-doubt"           # {recipient: [{"id", "text", "since"}]}
NOTE_WAIT = timedelta(minutes=5)    # how long a waiting text waits for a card to ride on
IN_DOUBT_NOTE = "in_doubt_note"
CHANNEL = "teams"


def remember(store, item: dict[str, Any], now: datetime) -> None:
    """An item recorded delivered-in-doubt: its text waits for the recipient's next card."""
    waiting = store.get_state(DOUBT_KEY) or {}
    texts = waiting.setdefault(item["recipient"], [])
    if item["id"] not in {w["id"] for w in texts}:
        texts.append({"id": item["id"], "text": item.get("text") or "", "since": iso(now)})
    store.set_state(DOUBT_KEY, waiting)


def attach(store, item: dict[str, Any], lang: str) -> dict[str, Any]:
    """Fields that put the recipient's waiting texts on this Teams item (claimed now)."""
    waiting = store.get_state(DOUBT_KEY) or {}
    texts = waiting.pop(item["recipient"], None)
    if not texts:
        return {}
    store.set_state(DOUBT_KEY, waiting)
    # a retried item (429) may carry notes from its first claim: they stay
    notes = [*item.get("doubt_notes", []), *(w["text"] for w in texts)]
    own = item.get("own_text", item.get("text") or "")
    return {"doubt_notes": notes, "doubt_of": [*item.get("doubt_of", []), *(w["id"] for w in texts)],
            "own_text": own, "text": "\n".join([t(lang, "teams_in_doubt_header"), *notes, "", own])}


def lone_notes(store, now: datetime, lang: str) -> list[dict[str, Any]]:
    """Outbox items for the texts that waited NOTE_WAIT without a card to ride on."""
    waiting = store.get_state(DOUBT_KEY) or {}
    due = [r for r, texts in waiting.items()
           if texts and min(datetime.fromisoformat(w["since"]) for w in texts) <= now - NOTE_WAIT]
    items = []
    for recipient in due:
        texts = waiting.pop(recipient)
        notes = [w["text"] for w in texts]
        text = "\n".join([t(lang, "teams_in_doubt_note"), *notes])
        items.append({"id": f"{IN_DOUBT_NOTE}:{texts[0]['id']}", "recipient": recipient,
                      "channel": CHANNEL, "diary_number": None, "event": IN_DOUBT_NOTE,
                      "text": text,
                      "view": {"plain": True, "text": text, "headline": t(lang, "teams_in_doubt_header")},
                      "doubt_of": [w["id"] for w in texts], "state": "pending",
                      "created": iso(now), "attempts": 0, "next_attempt": iso(now),
                      "marker": secrets.token_hex(8)})
    if due:
        store.set_state(DOUBT_KEY, waiting)
    return items
