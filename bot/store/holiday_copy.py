"""A copy of the Swedish holiday table in the data directory, for short-lived readers.

Importing the holidays package loads every country's module (0.1–0.25 s), more than a
`status` from the command line may take in all. The writer, which has the package loaded
anyway, keeps `holidays.json` beside the diary: the table for a span of years around today,
and what it was made from (package version, categories, language). A reader takes the days
from the copy when it covers the years asked for, else asks the package itself; a copy that
is missing or unreadable is never an error, only slower.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path

import orjson

from reminders.calendar import HolidayTable, holiday_source, swedish_holidays

log = logging.getLogger(__name__)

FILE = "holidays.json"
YEARS_BACK, YEARS_AHEAD = 20, 10     # diary years looked at, and deadlines far ahead


class StoredHolidays:
    """A HolidayTable that reads the writer's copy first."""

    def __init__(self, data_dir: Path, compute: HolidayTable = swedish_holidays):
        self.path = Path(data_dir) / FILE
        self.compute = compute
        self._copy: tuple[int, int, dict[date, str]] | None = None
        self._loaded = False

    def __call__(self, years: Iterable[int]) -> Mapping[date, str]:
        wanted = list(years)
        copy = self._read()
        if copy is not None and wanted and copy[0] <= min(wanted) and max(wanted) <= copy[1]:
            return {day: name for day, name in copy[2].items() if day.year in wanted}
        return self.compute(wanted)

    def keep_current(self, this_year: int) -> None:
        """The writer: make the copy anew when it is missing, from another package version,
        or no longer reaches around `this_year`."""
        first, last = this_year - YEARS_BACK, this_year + YEARS_AHEAD
        source = holiday_source()
        try:
            stored = orjson.loads(self.path.read_bytes())
            if (stored.get("source") == source and stored["first"] <= first
                    and stored["last"] >= last):
                return
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
            pass
        days = self.compute(range(first, last + 1))
        data = orjson.dumps({"source": source, "first": first, "last": last,
                             "days": {day.isoformat(): name for day, name in sorted(days.items())}})
        temp = self.path.with_name(f".tmp-{FILE}")
        try:                     # derived data: atomic, but not worth an fsync
            temp.write_bytes(data)
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except OSError as exc:
            log.warning("Kunde inte spara helgdagstabellen %s: %s", self.path, exc)
        self._loaded = False

    def _read(self) -> tuple[int, int, dict[date, str]] | None:
        if not self._loaded:
            self._loaded, self._copy = True, None
            try:
                stored = orjson.loads(self.path.read_bytes())
                days = {date.fromisoformat(day): str(name) for day, name in stored["days"].items()}
                self._copy = (int(stored["first"]), int(stored["last"]), days)
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("Helgdagstabellen %s kunde inte läsas (%s); den räknas fram i "
                            "stället", self.path, exc)
        return self._copy
