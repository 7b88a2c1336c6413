"""Gallring (culling) by decision, with a hold list and a log that is never culled.

Only closed cases whose kind has a configured decision ([records] culling) equal to the one
named, closed before the given day, and not held (`spärra`) are culled. The log entry (who,
when, which decision, which diary numbers, how many per kind) is written and committed before
anything is removed, so a crash in the middle leaves a log that says what was meant and a run
again finishes it. The log lives in the store's state (`culling:<time>`), which culling never
touches.
"""
from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bot.domain.case import Case, iso
from bot.domain.diary import parse_diary_number
from bot.errors import DomainError
from bot.texts import t
from bot.usecases.base import Deps

LOG_PREFIX = "culling:"


@dataclass(frozen=True)
class Culling:
    decision: str
    before: date
    numbers: list[str]
    counts: dict[str, int]
    held: list[str]                  # would have been culled, but are held
    done: bool                       # False: a dry run (torrkörning)


class Records:
    def __init__(self, deps: Deps):
        self.deps = deps

    def _closed_on(self, case: Case) -> date | None:
        closed = case.status_since.get("closed")
        return self.deps.calendar.local(datetime.fromisoformat(closed)).date() if closed else None

    def candidates(self, decision: str, before: date) -> tuple[list[Case], list[Case]]:
        """(to cull, held back): closed before `before`, of a kind under `decision`."""
        kinds = {kind for kind, text in self.deps.org.records.culling.items() if text == decision}
        if not kinds:
            raise DomainError(t(self.deps.lang, "refused_culling_decision", decision=decision,
                                decisions="; ".join(sorted(set(
                                    self.deps.org.records.culling.values()))) or "–"))
        cull: list[Case] = []
        held: list[Case] = []
        for case in self.deps.store.all_cases():
            closed = self._closed_on(case) if case.is_closed else None
            if case.kind not in kinds or closed is None or closed >= before:
                continue
            (held if case.hold else cull).append(case)
        key = lambda c: c.key    # noqa: E731
        return sorted(cull, key=key), sorted(held, key=key)

    def cull(self, decision: str, before: date, *, by: str, dry_run: bool) -> Culling:
        decision = " ".join(decision.split())
        with self.deps.uow:
            cull, held = self.candidates(decision, before)
        result = Culling(decision, before, [c.number for c in cull],
                         dict(Counter(c.kind for c in cull)), [c.number for c in held],
                         done=not dry_run)
        if dry_run or not cull:
            return result
        now = self.deps.clock.now()
        entry: dict[str, Any] = {"at": iso(now), "by": by, "decision": decision,
                                 "before": before.isoformat(), "numbers": result.numbers,
                                 "counts": result.counts, "held": result.held}
        store = self.deps.store
        with self.deps.uow:
            # the time first, so the log reads in order; a random tail, so two cullings in
            # the same second never share (and overwrite) an entry
            store.set_state(f"{LOG_PREFIX}{iso(now)}:{uuid.uuid4().hex[:12]}", entry)
        for number in result.numbers:
            parsed = parse_diary_number(number, self.deps.org.series)
            if parsed is not None:
                with self.deps.uow:
                    store.cull_case(parsed)
        return result

    def log(self) -> list[dict[str, Any]]:
        with self.deps.uow:
            entries = self.deps.store.states(LOG_PREFIX)
        return [entries[k] for k in sorted(entries)]
