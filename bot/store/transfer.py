"""Moving a diary between backends: a TinyDB data directory into an empty PostgreSQL
database (`avvikelsebot migrate --to postgresql://…`) and back (`--from`), verified equal
case by case before it reports success.

Everything goes through the stores' own interfaces where they have one; the parts the
CaseStore port has no writer for (diary counters, delivered history, raw bytes under their
old paths) have a small import method on each store. The target must be empty: a copy is
never merged into a diary that already has cases.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from bot.errors import StoreError
from bot.store.archive import _lines
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore

log = logging.getLogger(__name__)
BATCH = 500


def _tinydb_mail_records(store: TinyDbCaseStore) -> Iterator[dict[str, Any]]:
    """Every mail record: the live ones, then those that left the live set (the index)."""
    live = store.mail_records()
    keys = {r["key"] for r in live}
    yield from live
    index = store.mail_index
    for shard in range(index.shards):
        for entry in _lines(index._shard_path(shard)):
            if entry["l"].startswith("k:") and entry["l"][2:] not in keys:
                record = {k: v for k, v in entry.items() if k != "l"}
                keys.add(record["key"])
                yield record


def _tinydb_notifications(store: TinyDbCaseStore) -> Iterator[tuple[dict[str, Any], bool]]:
    """(notification, live) for the live outbox, then the delivered history."""
    live = store.outbox()
    ids = {n["id"] for n in live}
    for item in live:
        yield item, True
    for item in store.outbox_history():
        if item["id"] not in ids:
            yield item, False


def _tinydb_raw(store: TinyDbCaseStore) -> Iterator[tuple[str, datetime, bytes]]:
    root = store.data_dir
    for path in sorted((root / "raw").glob("*/*/*.eml")):
        year, month = int(path.parent.parent.name), int(path.parent.name)
        yield (str(path.relative_to(root)), datetime(year, month, 1, tzinfo=timezone.utc),
               path.read_bytes())


def _counters(cases: dict[int, int], stored: dict[int, int]) -> dict[int, int]:
    """The last number per year: the stored counter, never below the highest case."""
    return {year: max(cases.get(year, 0), stored.get(year, 0)) for year in cases.keys() | stored.keys()}


def to_postgres(source: TinyDbCaseStore, target: PostgresCaseStore) -> dict[str, int]:
    """Copy everything; one transaction, so a failed copy leaves the database empty."""
    if target.has_data():
        raise StoreError("måldatabasen är inte tom; migrate kopierar bara till en tom databas")
    counts = {"cases": 0, "mails": 0, "notifications": 0, "raw": 0}
    highest: dict[int, int] = {}
    with target.lock:
        for case in source.all_cases():
            target.put_case(case)
            highest[case.year] = max(highest.get(case.year, 0), case.key % 1_000_000)
            counts["cases"] += 1
        stored = {int(c["year"]): int(c["last"]) for c in source.tables["counters"]}
        for year, last in _counters(highest, stored).items():
            target.import_counter(year, last)
        for record in _tinydb_mail_records(source):
            target.record_mail(record)
            counts["mails"] += 1
        for item, live in _tinydb_notifications(source):
            target.import_notification(item, live=live)
            counts["notifications"] += 1
        for marker in source.tables["markers"]:
            target.mark_reminder(marker["slot"], marker["day"], marker["at"])
        _copy_overrides_and_states(source, target)
        for relative, arrived, raw in _tinydb_raw(source):
            target.import_raw(relative, arrived, raw)
            counts["raw"] += 1
        target.commit()
    verify(source, target)
    return counts


def _copy_overrides_and_states(source, target) -> None:
    """Subscription changes made in chat, and the bot's small state (either direction)."""
    for (person, unit), doc in source.subscription_overrides().items():
        if doc.get("paused"):
            target.unsubscribe(person, unit, pause=True)
        else:
            target.subscribe(person, unit)
    for key, value in source.states().items():
        target.set_state(key, value)


def to_tinydb(source: PostgresCaseStore, target: TinyDbCaseStore) -> dict[str, int]:
    """The way back: a PostgreSQL diary into an empty data directory."""
    if next(iter(target.all_cases()), None) is not None or target.mail_records():
        raise StoreError("datakatalogen är inte tom; migrate kopierar bara till en tom katalog")
    counts = {"cases": 0, "mails": 0, "notifications": 0, "raw": 0}
    with target.lock:
        for case in source.all_cases():
            target.put_case(case)
            counts["cases"] += 1
            if counts["cases"] % BATCH == 0:
                target.commit()
        for year, last in source.counters().items():
            target._put("counters", year, {"year": year, "last": last})
        for record in source.mail_records():
            target.record_mail(record)
            counts["mails"] += 1
        history = []
        for item in source.outbox():
            target.add_notification(item)
            counts["notifications"] += 1
        for item in source.outbox_history():
            history.append(item)
            counts["notifications"] += 1
        for slot, day, at in source.markers():
            target.mark_reminder(slot, day, at)
        _copy_overrides_and_states(source, target)
        for relative, raw in source.raw_mails():
            path = target.data_dir / relative
            if not path.exists():
                from bot.files import private_dir, write_durably
                private_dir(path.parent)
                write_durably(path, raw)
            counts["raw"] += 1
        target.commit()
        if history:
            target.outbox_log.put_many(history)
    verify(source, target)
    return counts


def verify(source: Any, target: Any) -> None:
    """Case by case, the same documents; the same mail records and notifications."""
    seen = 0
    for case in source.all_cases():
        copied = target.get_case(_number(case, source.series))
        if copied is None or copied.to_dict() != case.to_dict():
            raise StoreError(f"{case.number} skiljer sig efter kopieringen")
        seen += 1
    if seen != sum(1 for _ in target.all_cases()):
        raise StoreError("målet har fler ärenden än källan")
    for record in (source.mail_records() if isinstance(source, PostgresCaseStore)
                   else _tinydb_mail_records(source)):
        if target.mail_seen(record["key"]) != record:
            raise StoreError(f"brevposten {record['key']} skiljer sig efter kopieringen")
    log.info("kopian kontrollerad: %d ärenden lika", seen)


def _number(case: Any, series: str) -> Any:
    from bot.domain.diary import DiaryNumber
    return DiaryNumber.from_key(case.key, series)


def open_for_migration(data_dir: Path, url: str, *, series: str, digits: int
                       ) -> tuple[TinyDbCaseStore, PostgresCaseStore]:
    return (TinyDbCaseStore(data_dir, series=series, digits=digits, command="migrate"),
            PostgresCaseStore(url, series=series, digits=digits, command="migrate"))
