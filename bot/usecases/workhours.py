"""A person's Outlook working hours, read from Graph now and then and kept in the store's
state (issue 24), for Notices to decide when a notice is delivered (bot.domain.notify).

Each person is read at most every `working_hours_refresh_hours` (default 4); the call to Graph
happens outside any unit of work, the answer is written in one. A 429 is honoured: nobody is
asked again before its Retry-After has passed (Graph throttles the app, not the person). A
failure, or a person without a mailbox there, leaves them on the office's hours.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.domain import notify
from bot.domain.case import iso
from bot.errors import BotError
from bot.ports import WorkingHoursSource
from bot.usecases.base import Deps

log = logging.getLogger(__name__)

THROTTLE_KEY = notify.HOURS_PREFIX + "*throttled"


class WorkingHoursRefresh:
    def __init__(self, deps: Deps, source: WorkingHoursSource):
        self.deps, self.source = deps, source

    def run(self, now: datetime | None = None) -> dict[str, int]:
        """Read the people whose hours are older than the refresh interval. Returns counts:
        read, failed, skipped (fresh), throttled (1 when a 429 stopped the round)."""
        now = now or self.deps.clock.now()
        store, org = self.deps.store, self.deps.org
        counts = {"read": 0, "failed": 0, "skipped": 0, "throttled": 0}
        throttled = store.get_state(THROTTLE_KEY) or {}
        if throttled.get("until") and datetime.fromisoformat(throttled["until"]) > now:
            counts["throttled"] = 1
            return counts
        every = timedelta(hours=org.working_hours_refresh_hours)
        office = notify.WorkingHours.office(self.deps.calendar)
        failure = ""
        for person in org.people.values():
            saved = store.get_state(notify.HOURS_PREFIX + person.id) or {}
            if saved.get("checked") and datetime.fromisoformat(saved["checked"]) + every > now:
                counts["skipped"] += 1
                continue
            try:
                answer = self.source.working_hours(person.email)
            except BotError as exc:
                retry_after = getattr(exc, "retry_after", None)
                if getattr(exc, "status", None) == 429:
                    until = now + timedelta(seconds=retry_after or 60)
                    with self.deps.uow as writing:
                        writing.set_state(THROTTLE_KEY, {"until": iso(until)})
                    log.warning("arbetstider: Graph ber oss vänta till %s (429)", iso(until))
                    counts["throttled"] = 1
                    return counts
                # one line per person at INFO; the round says it once at WARNING below (an
                # app without MailboxSettings.Read fails for everyone, every few hours)
                log.info("arbetstider: %s kunde inte läsas (kontorets tider gäller): %s",
                         person.id, exc)
                failure = str(exc)
                self._save(person.id, {"checked": iso(now), "hours": None, "error": str(exc)[:200]})
                counts["failed"] += 1
                continue
            hours = notify.working_hours_from_graph(answer, office)
            self._save(person.id, {"checked": iso(now), "error": None,
                                   "hours": notify.hours_to_state(hours)
                                   if hours.source == "outlook" else None})
            counts["read"] += 1
        if counts["failed"]:
            log.warning("arbetstider: %d av %d personer kunde inte läsas i Outlook; kontorets "
                        "tider gäller för dem (senast: %s)", counts["failed"],
                        counts["failed"] + counts["read"], failure)
        return counts

    def _save(self, person_id: str, value: dict[str, Any]) -> None:
        with self.deps.uow as store:
            store.set_state(notify.HOURS_PREFIX + person_id, value)
