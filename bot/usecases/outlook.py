"""Outlook's automatic replies as absence (issue 26): with Graph as the mail source and
`[mail] outlook_absence = true`, each unit manager's automaticRepliesSetting is read at most
every OUTLOOK_EVERY and kept in the store state `outlook:<person>` with the time it was read;
Notices.stand_in routes by it (bot.domain.absence.effective_absence), a manual `frånvaro`
winning.

- Graph says wait (429 Retry-After): no person is read until then.
- A read that fails keeps the last known value; the failure is logged once per person, until
  a read succeeds again. A failed read counts as a read: it is tried again after
  OUTLOOK_EVERY, not in every round.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.domain.absence import OUTLOOK_EVERY, OUTLOOK_PREFIX
from bot.domain.case import iso
from bot.domain.redact import redact
from bot.errors import BotError
from bot.usecases.base import Deps

log = logging.getLogger(__name__)

PASS_EVERY = timedelta(minutes=1)    # how often the run loop's call looks at all


class RepliesReader(Protocol):
    def read(self, address: str) -> dict[str, Any]: ...


class OutlookAbsences:
    def __init__(self, deps: Deps, reader: RepliesReader):
        self.deps, self.reader = deps, reader
        self.throttled_until: datetime | None = None
        self._last_pass: datetime | None = None

    def people(self) -> list[str]:
        """Whose replies matter: everyone who manages a unit and has an address."""
        org = self.deps.org
        managers = {m for unit in org.units.values() for m in unit.managers}
        return sorted(p for p in managers if p in org.people and org.people[p].email)

    def refresh(self, *, force: bool = False) -> dict[str, int]:
        """Read whoever's cached value is older than OUTLOOK_EVERY. {"read", "failed"}."""
        now = self.deps.clock.now()
        counts = {"read": 0, "failed": 0}
        if not force and self._last_pass and now - self._last_pass < PASS_EVERY:
            return counts
        self._last_pass = now
        if self.throttled_until is not None and now < self.throttled_until:
            return counts
        self.throttled_until = None
        for person_id in self.people():
            key = OUTLOOK_PREFIX + person_id
            known = self.deps.store.get_state(key) or {}
            read_at = known.get("read_at")
            if read_at and now - datetime.fromisoformat(read_at) < OUTLOOK_EVERY:
                continue
            address = self.deps.org.people[person_id].email or ""
            try:
                replies = self.reader.read(address)
            except BotError as exc:
                retry_after = getattr(exc, "retry_after", None)
                if retry_after:           # throttled: nobody is read before Graph allows it
                    self.throttled_until = now + timedelta(seconds=retry_after)
                    log.info("outlook: Graph ber om paus i %.0f s; automatiska svar läses efter det",
                             retry_after)
                    break
                counts["failed"] += 1
                if not known.get("failing"):
                    log.warning("outlook: automatiska svar för %s kunde inte läsas (%s); "
                                "det senast kända värdet gäller", person_id, exc)
                with self.deps.uow as store:
                    store.set_state(key, {**known, "read_at": iso(now), "failing": True,
                                          "error": redact(str(exc))[:200]})
                continue
            counts["read"] += 1
            if known.get("failing"):
                log.info("outlook: automatiska svar för %s går att läsa igen", person_id)
            if known.get("replies") != replies:
                log.info("outlook: %s har automatiska svar %s", person_id, replies.get("status"))
            with self.deps.uow as store:
                store.set_state(key, {"read_at": iso(now), "replies": replies, "failing": False})
        return counts
