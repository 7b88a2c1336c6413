"""The diary opened for reading only: the store, the calendar and the read-only use cases.

`status` and `list` on the command line are asked beside a running writer and should answer
at once; building the whole bot (bot.app: every channel, metrics, the mail source) costs more
than the answer itself, so they open only this.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.ports import CaseStore, SystemClock
from bot.settings import Settings
from bot.store.holiday_copy import StoredHolidays
from bot.store.opening import open_store
from bot.usecases.archive import Archive
from bot.usecases.base import Deps
from bot.usecases.disclosure import Disclosure
from bot.usecases.queries import Queries
from bot.usecases.uow import UnitOfWork
from reminders.calendar import BusinessCalendar


@dataclass
class Reader:
    settings: Settings
    store: CaseStore
    calendar: BusinessCalendar
    queries: Queries
    clock: SystemClock
    archive: Archive
    disclosure: Disclosure


def open_reader(settings: Settings, *, command: str) -> Reader:
    org = settings.org
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days,
                                holiday_table=StoredHolidays(settings.data_dir))
    store = open_store(settings, readonly=True, command=command)
    clock = SystemClock()
    deps = Deps(org, store, UnitOfWork(store), calendar, clock)
    return Reader(settings, store, calendar, Queries(deps), clock, Archive(deps), Disclosure(deps))
