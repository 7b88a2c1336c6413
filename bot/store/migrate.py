"""Upgrading a data directory written by an older avvikelsebot (format 1) to format 2.

Format 1 kept everything the diary ever saw in whole-file TinyDB databases: live.json with
the tables cases, mails, outbox, diary, markers, subscriptions and state, and per diary year
archive/cases-YYYY.json and archive/mails-YYYY.json. Format 2 keeps a live set (live.json +
journal.log) and append-only archives (bot.store.archive).

The writer runs this once, on start, holding the writer lock. The old files are first copied
to `format1-backup-<time>/` (kept: the admin deletes it once satisfied), then converted; the
new live.json is written last, atomically, with the format number, so a crash anywhere
simply makes the next start do the conversion again (archive appends are idempotent: a later
line for the same key wins).
"""
from __future__ import annotations

import logging
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from bot.store.archive import CaseArchive, KeyIndex, OutboxLog, key_hash
from bot.store.atomic import AtomicOrjsonStorage

log = logging.getLogger(__name__)


def needs_migration(data_dir: Path) -> bool:
    live = data_dir / "live.json"
    old_archives = list((data_dir / "archive").glob("cases-*.json")) + list(
        (data_dir / "archive").glob("mails-*.json"))
    if old_archives:
        return True
    if not live.exists() or (data_dir / "journal.log").exists():
        return False       # format 2 keeps a journal beside live.json; format 1 never had one
    tables = AtomicOrjsonStorage(live, readonly=True).read() or {}
    return bool(tables) and "meta" not in tables


def migrate_format1(data_dir: Path, format_number: int) -> Path:
    """Convert in place; returns the folder holding the copy of the old files."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup = data_dir / f"format1-backup-{stamp}"
    backup.mkdir(mode=0o700)
    live_path = data_dir / "live.json"
    old_files = sorted((data_dir / "archive").glob("cases-*.json")) + sorted(
        (data_dir / "archive").glob("mails-*.json"))
    for path in [live_path, *old_files]:
        if path.exists():
            shutil.copy2(path, backup / path.name)
    old = AtomicOrjsonStorage(live_path, readonly=True).read() or {}

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

    new = _live_tables(old, format_number)
    outbox = new.pop("_sent")
    OutboxLog(data_dir / "outbox").put_many(outbox)
    AtomicOrjsonStorage(live_path).write(new)
    for path in old_files:
        path.unlink()
    log.warning("datakatalogen uppgraderades till format %d; de gamla filerna finns kvar i %s",
                format_number, backup)
    return backup


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
