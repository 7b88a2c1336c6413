"""Upgrading a data directory written by an older avvikelsebot (format 1, 2 or 3) to this
version's format (bot.store.layout.FORMAT).

Format 3 (release 0.3.0) to format 4 (upgrade_format3) changes no file but FORMAT: format 4
is format 3 whose cases may carry fields 0.3.0 cannot read, and FORMAT 4 is what makes 0.3.0
refuse the directory. So, holding diary.lock, before anything of this version is written: a
copy of the format-3 live set (diary.json, diary.log, FORMAT) in `format3-backup-<time>/`,
then FORMAT 4 in one rename (the step that decides). Killed before that rename, the
directory is the untouched format-3 directory and the next start does it again; after it,
the diary is the same and only this version (or a later one) opens it.

Formats 1 and 2 to this format:

Format 1 (release 0.1.0) kept everything the diary ever saw in whole-file TinyDB databases:
live.json with the tables cases, mails, outbox, diary, markers, subscriptions and state, and
per diary year archive/cases-YYYY.json and archive/mails-YYYY.json. Format 2 (release 0.2.0)
kept a live set (live.json + journal.log, tables cases, mails, outbox, counters, markers,
subs, state, meta) and append-only archives (bot.store.archive). Format 3 keeps the format-2
live set under new names (diary.json + diary.log) and puts fences where the older releases
look (bot.store.layout), so that they refuse the directory.

The writer runs this on start, holding diary.lock, in steps a crash may interrupt anywhere:

1. the writer.lock fence: taken from under an older release's lock (refused while one
   writes here), so that none can start from now on;
2. a copy of the old files in `format<N>-backup-<time>/` (kept: the admin deletes it once
   satisfied);
3. the new live set written beside the old one: format 1 converted (archives and index
   appended, idempotently: a later line for the same key wins) into diary.json; format 2's
   live.json and journal.log copied to diary.json and diary.log;
4. FORMAT;
5. the step that decides: the old live.json replaced, in one rename, by the link that
   fences the older releases' readers. Until then the old live.json is the truth and a new
   start does it all again; from then on diary.json is. There is no moment without a
   live.json, so no older release ever finds an empty diary;
6. bot.store.layout.finish: the leftovers of the old format removed.
"""
from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from bot.files import fsync_directory, write_durably
from bot.store.archive import CaseArchive, KeyIndex, OutboxLog, key_hash
from bot.store.atomic import AtomicOrjsonStorage
from bot.store.layout import (FORMAT, FORMAT_FILE, JOURNAL, LIVE, OLD_JOURNAL, OLD_LIVE,
                              fence_readers, fence_writers, finish, write_format)

log = logging.getLogger(__name__)


def upgrade(data_dir: Path, found: int, command: str = "avvikelsebot") -> Path:
    """Convert a format-1 or format-2 directory in place; returns the folder holding the
    copy of the old files."""
    fence_writers(data_dir, command)
    old_archives = sorted((data_dir / "archive").glob("cases-*.json")) + sorted(
        (data_dir / "archive").glob("mails-*.json"))
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup = data_dir / f"format{found}-backup-{stamp}"
    backup.mkdir(mode=0o700, exist_ok=True)
    for path in [data_dir / OLD_LIVE, data_dir / OLD_JOURNAL, *old_archives]:
        if path.exists():
            shutil.copy2(path, backup / path.name)
    if found == 1:
        _convert_format1(data_dir)
        _forget(data_dir / JOURNAL)
    else:
        write_durably(data_dir / LIVE, (data_dir / OLD_LIVE).read_bytes())
        journal = data_dir / OLD_JOURNAL
        if journal.exists():
            write_durably(data_dir / JOURNAL, journal.read_bytes())
        else:
            _forget(data_dir / JOURNAL)
    write_format(data_dir)
    fence_readers(data_dir)          # the step that decides: live.json replaced in one rename
    finish(data_dir, command)
    log.warning("datakatalogen uppgraderades från format %d till format %d; de gamla filerna "
                "finns kvar i %s", found, FORMAT, backup)
    return backup


def upgrade_format3(data_dir: Path, found: int, command: str = "avvikelsebot") -> Path:
    """FORMAT 3 → FORMAT (see above); the caller holds diary.lock. Returns the folder
    holding the copy of the format-3 live set."""
    data_dir = Path(data_dir)
    fence_writers(data_dir, command)     # there since format 3; made whole if it is not
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup = data_dir / f"format{found}-backup-{stamp}"
    backup.mkdir(mode=0o700, exist_ok=True)
    for name in (LIVE, JOURNAL, FORMAT_FILE):
        if (data_dir / name).exists():
            write_durably(backup / name, (data_dir / name).read_bytes(),
                          temp=backup / f".tmp-{name}")
    fsync_directory(backup)
    write_format(data_dir)              # the step that decides: FORMAT 3 → 4 in one rename
    log.warning("datakatalogen uppgraderades från format %d till format %d; version 0.3.0 "
                "vägrar den nu (README: Återgå till en äldre version); en kopia av diary.json "
                "och diary.log finns kvar i %s", found, FORMAT, backup)
    return backup


def _forget(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _convert_format1(data_dir: Path) -> None:
    """Format 1's archives into the append-only archive and index; its live.json into
    diary.json (the old files are left for the step that decides)."""
    old = AtomicOrjsonStorage(data_dir / OLD_LIVE, readonly=True).read() or {}
    cases_archive = CaseArchive(data_dir / "archive" / "cases")
    mail_index = KeyIndex(data_dir / "index", "mails")
    closed: list[dict] = []
    for path in sorted((data_dir / "archive").glob("cases-*.json")):
        table = (AtomicOrjsonStorage(path, readonly=True).read() or {}).get("cases", {})
        docs = [orjson.loads(doc["case"]) if "case" in doc else doc for doc in table.values()]
        cases_archive.put_many(docs)
        closed += [{"number": d["number"], "message_ids": d.get("message_ids", []),
                    "conversation_ids": d.get("conversation_ids", [])} for d in docs]
    archived_mails: list[dict] = []
    for path in sorted((data_dir / "archive").glob("mails-*.json")):
        archived_mails += list(((AtomicOrjsonStorage(path, readonly=True).read() or {})
                                .get("mails", {})).values())
    from bot.store.repository import _index_entries    # the same entries housekeeping writes
    mail_index.put_many(_index_entries(archived_mails, closed))

    new = _live_tables(old, FORMAT)
    outbox = new.pop("_sent")
    OutboxLog(data_dir / "outbox").put_many(outbox)
    AtomicOrjsonStorage(data_dir / LIVE).write(new)


def _live_tables(old: dict[str, dict[str, Any]], format_number: int) -> dict[str, Any]:
    cases = {str(doc["key"]): doc for doc in old.get("cases", {}).values()}
    mails = {str(key_hash("k:" + r["key"])): r for r in old.get("mails", {}).values()}
    outbox, sent = {}, []
    for item in old.get("outbox", {}).values():
        if item.get("state") == "sent":
            sent.append(item)
        else:
            outbox[str(key_hash(item["id"]))] = item
    counters = {str(d["year"]): d for d in old.get("diary", {}).values()}
    markers: dict[str, dict] = {}
    for marker in old.get("markers", {}).values():
        slot, day = _marker_slot(marker["key"])
        current = markers.get(str(key_hash(slot)))
        if current is None or current["day"] < day:
            markers[str(key_hash(slot))] = {"slot": slot, "day": day, "at": marker.get("at", "")}
    subs = {str(key_hash(f"{s['person']}\n{s['unit']}")): {"person": s["person"], "unit": s["unit"]}
            for s in old.get("subscriptions", {}).values()}
    state = {str(key_hash(s["key"])): s for s in old.get("state", {}).values()}
    return {"cases": cases, "mails": mails, "outbox": outbox, "counters": counters,
            "markers": markers, "subs": subs, "state": state,
            "meta": {"1": {"format": format_number, "seq": 0}}, "_sent": sent}


def _marker_slot(key: str) -> tuple[str, str]:
    """Format 1 kept one marker per due day: "<dnr>:<step>:<level>:<day>:<person>" and
    "digest:<monday>:<person>"; format 2 one per slot with the last day."""
    parts = key.split(":")
    if parts[0] == "digest":
        return f"digest:{parts[2]}", parts[1]
    number, step_and_level, day, person = parts[0], parts[1:-2], parts[-2], parts[-1]
    return f"{number}:{':'.join(step_and_level)}:{person}", day
