"""What the web's list pages read: light rows of every case, built once per store version.

Decoding 50,000 cases for every page would cost seconds; the rows here hold only what
the list, its filters and its search need, and are rebuilt in the background when the
store has changed (pages meanwhile answer from the previous rows: a list may lag a
write by a few seconds; a case page always reads the case itself).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable

from bot.domain.access import Actor, can_view
from bot.domain.case import Case
from bot.domain.diary import parse_diary_number
from bot.domain.org import Organisation
from bot.domain.process import step_deadline

log = logging.getLogger(__name__)

# folders of the data directory that hold no diary: their changes need no new rows
_NOT_THE_DIARY = {"raw", "inbox", "web", "readlog", "utkorg"}


@dataclass(frozen=True)
class Row:
    number: str
    key: int
    year: int
    kind: str
    title: str
    status: str
    unit: str | None
    counterpart: str | None
    severity: str | None
    created: str
    deadline: datetime | None        # of the current step; None when closed
    search: str                      # lower-case: number, title, document subjects

    def overdue(self, now: datetime) -> bool:
        return self.deadline is not None and now > self.deadline


def row_of(case: Case, org: Organisation, calendar) -> Row:
    # the counterpart's own reference usually stands in its mail's subject
    haystack = " ".join([case.number, case.title, *(d.subject for d in case.documents)])
    return Row(case.number, case.key, case.year, case.kind, case.title, case.status, case.unit,
               case.counterpart, case.severity, case.created,
               None if case.is_closed else step_deadline(case, org, calendar),
               haystack.casefold())


@dataclass(frozen=True)
class Filters:
    unit: str = ""
    counterpart: str = ""
    status: str = ""                 # "" | open | closed | <a status name>
    overdue: bool = False
    year: int | None = None
    query: str = ""
    numbers: frozenset[int] = frozenset()   # ?nr=VOK-2026-0001,…: exactly these cases (a bundle's link)


class DiaryIndex:
    def __init__(self, rows: Iterable[Row], series: str):
        self.rows = sorted(rows, key=lambda r: r.key, reverse=True)   # newest first
        self.series = series
        self.years = sorted({r.year for r in self.rows}, reverse=True)

    @classmethod
    def build(cls, cases: Iterable[Case], org: Organisation, calendar) -> "DiaryIndex":
        return cls((row_of(c, org, calendar) for c in cases), org.series)

    def visible(self, org: Organisation, person: str) -> Callable[[Row], bool]:
        """The chat's access rule (bot.domain.access.can_view), on rows: all cases for
        registrator, MA and SAS, the managed units' cases for a manager (and the unit's named
        stand-in), nothing otherwise."""
        who = org.people.get(person)
        if who is None:
            return lambda row: False
        if who.has_oversight:
            return lambda row: True
        units = set(org.units_acted_for(person))
        return lambda row: row.unit in units

    def query(self, filters: Filters, allowed: Callable[[Row], bool], now: datetime) -> list[Row]:
        wanted_key = None
        words: list[str] = []
        if filters.query.strip():
            parsed = parse_diary_number(filters.query, self.series)
            wanted_key = parsed.key if parsed else None
            words = filters.query.casefold().split()
        result = []
        for row in self.rows:
            if filters.numbers and row.key not in filters.numbers:
                continue
            if filters.year and row.year != filters.year:
                continue
            if filters.unit and row.unit != filters.unit:
                continue
            if filters.counterpart and row.counterpart != filters.counterpart:
                continue
            if filters.status == "open" and row.status == "closed":
                continue
            if filters.status and filters.status != "open" and row.status != filters.status:
                continue
            if filters.overdue and not row.overdue(now):
                continue
            if words and row.key != wanted_key and not all(w in row.search for w in words):
                continue
            if allowed(row):
                result.append(row)
        return result


def can_view_row(org: Organisation, person: str, row: Row) -> bool:
    """The same answer as can_view on the case (tested against it)."""
    probe = Case(number=row.number, key=row.key, kind=row.kind, title="", status=row.status,
                 created=row.created, unit=row.unit)
    return can_view(org, Actor.person(person), probe)


class DiarySource:
    """The store the pages read and the rows of its cases, refreshed when the store changed.

    `open_store` opens the store read-only; it is called again when the data directory
    changed, so a standalone `web` (a laptop, a replica) follows the writer's commits."""

    def __init__(self, open_store: Callable[[], Any], org: Organisation, calendar,
                 data_dir: Path, refresh_seconds: float = 5.0):
        self.open_store, self.org, self.calendar = open_store, org, calendar
        self.data_dir = Path(data_dir)
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._first_load = threading.Lock()
        self._store: Any = None
        self._retired: Any = None
        self._index: DiaryIndex | None = None
        self._signature: tuple | None = None
        self._checked = 0.0
        self._rebuilding = False

    def _version(self) -> tuple:
        """Changes when the store wrote: modification times of the diary's files, or a
        database's own change marker (PostgreSQL)."""
        changed = getattr(self._store, "change_marker", None)
        if changed is not None:
            return (changed(),)
        found = []
        try:
            for entry in os.scandir(self.data_dir):
                if entry.is_file() and not entry.name.startswith("."):
                    found.append((entry.name, entry.stat().st_mtime_ns, entry.stat().st_size))
                elif entry.is_dir() and entry.name not in _NOT_THE_DIARY:
                    for inner in os.scandir(entry.path):
                        if inner.is_file() and not inner.name.startswith("."):
                            st = inner.stat()
                            found.append((f"{entry.name}/{inner.name}", st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            pass
        return tuple(sorted(found))

    def _load(self, signature: tuple) -> None:
        started = time.monotonic()
        store = self.open_store()
        index = DiaryIndex.build(store.all_cases(), self.org, self.calendar)
        with self._lock:
            # the store before last is closed now: no request still reads it (a database
            # store holds a connection; a file store closes to nothing)
            retired, self._retired = self._retired, self._store
            self._store, self._index, self._signature = store, index, signature
        if retired is not None and retired is not store and hasattr(retired, "close"):
            retired.close()
        log.info("webben: %d ärenden indexerade på %.1f s", len(index.rows),
                 time.monotonic() - started)

    def _refresh_in_background(self, signature: tuple) -> None:
        def work() -> None:
            try:
                self._load(signature)
            except Exception:
                log.exception("webben: kunde inte läsa diariet på nytt; visar det förra")
            finally:
                self._rebuilding = False
        self._rebuilding = True
        threading.Thread(target=work, name="web-diary-refresh", daemon=True).start()

    def current(self) -> tuple[Any, DiaryIndex]:
        """The store and the rows to answer with now (blocking only for the very first)."""
        if self._index is None:
            with self._first_load:           # two first requests read the diary once
                if self._index is None:
                    self._load(self._version())
                    self._checked = time.monotonic()
        elif time.monotonic() - self._checked >= self.refresh_seconds and not self._rebuilding:
            self._checked = time.monotonic()
            signature = self._version()
            if signature != self._signature:
                self._refresh_in_background(signature)
        with self._lock:
            assert self._index is not None
            return self._store, self._index

    def refresh_now(self) -> None:
        """Read the store again at once (tests, and after a known write)."""
        self._load(self._version())
        self._checked = time.monotonic()
