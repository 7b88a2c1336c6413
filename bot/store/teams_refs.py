"""Where the bot may write in Teams: one conversation reference per person and unit channel.

Teams lets a bot post proactively only into a conversation it has seen: a person's personal
chat with the app, or a team channel the app is installed in. The reference of that
conversation (service URL, conversation id, bot and tenant, the claims of the request) is
kept with the diary, in the store's adapter state, so notifications reach people after a
restart. Keys: "teams:ref:<person id>" and "teams:ref:unit:<unit id>", the same recipient
names the outbox uses.
"""
from __future__ import annotations

import threading
from typing import Any

from bot.store.repository import TinyDbCaseStore

PREFIX = "teams:ref:"


class TeamsConversationRefs:
    """Reads and writes references under the services' lock; every change is committed."""

    def __init__(self, store: TinyDbCaseStore, lock: threading.RLock):
        self.store = store
        self.lock = lock

    def get(self, recipient: str) -> dict[str, Any] | None:
        """The reference for an outbox recipient ("anna" or "unit:hemtjanst-norr")."""
        with self.lock:
            return self.store.get_state(PREFIX + recipient)

    def remember(self, recipient: str, reference: dict[str, Any]) -> bool:
        """Keep the reference; True when it is new or changed. Unchanged references cost no
        write, so a busy chat does not rewrite the diary on every message."""
        with self.lock:
            if self.store.get_state(PREFIX + recipient) == reference:
                return False
            self.store.set_state(PREFIX + recipient, reference)
            self.store.commit()
            return True

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(key[len(PREFIX):] for key in self.store.states(PREFIX))
