"""Where the bot may write in Teams: one conversation reference per person and unit channel.

Teams lets a bot post proactively only into a conversation it has seen: a person's personal
chat with the app, or a team channel the app is installed in. The reference of that
conversation (service URL, conversation id, bot and tenant, the claims of the request) is
kept with the diary, in the store's adapter state, so notifications reach people after a
restart. Keys: "teams:ref:<person id>" and "teams:ref:unit:<unit id>", the same recipient
names the outbox uses.
"""
from __future__ import annotations

from typing import Any

from bot.usecases.uow import UnitOfWork

PREFIX = "teams:ref:"


class TeamsConversationRefs:
    """Reads and writes references through the unit of work; every change is committed."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def get(self, recipient: str) -> dict[str, Any] | None:
        """The reference for an outbox recipient ("anna" or "unit:hemtjanst-norr")."""
        return self.uow.store.get_state(PREFIX + recipient)

    def remember(self, recipient: str, reference: dict[str, Any]) -> bool:
        """Keep the reference; True when it is new or changed. Unchanged references cost no
        write, so a busy chat does not rewrite the diary on every message."""
        if self.uow.store.get_state(PREFIX + recipient) == reference:
            return False
        with self.uow as store:
            store.set_state(PREFIX + recipient, reference)
        return True

    def recipients(self) -> list[str]:
        return sorted(key[len(PREFIX):] for key in self.uow.store.states(PREFIX))
