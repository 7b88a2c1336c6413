"""A consistent copy of a data directory while `run` keeps writing, and its restore.

Consistency comes from the layout: diary.json and diary.log together are the live set at
one moment (copied as a pair, again if the writer made a checkpoint in between), and
everything else only ever grows (archives, index, delivered notifications, raw mail), so a
copy made after the pair holds at least what the pair refers to. An item that left the live
set after the pair was copied appears in both, which the store resolves (live wins; archive
lines are idempotent). The copy carries FORMAT and the fences of its format
(bot.store.layout), so an older release refuses it as it refuses the data directory, and it
is opened read-only as a check before it is called done.

`restore` takes a backup of this format, or of format 2 (release 0.2.0's `backup`): the
restored directory is opened once as a writer, which upgrades an older one.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import orjson

from bot.errors import StoreError
from bot.files import write_durably
from bot.store.journal import Journal
from bot.store.layout import (FORMAT, JOURNAL, LIVE, OLD_JOURNAL, OLD_LIVE, check_format,
                              finish, holds_old_format)
from bot.store.lock import LOCK_FILENAME, WriterLock
from bot.store.repository import TinyDbCaseStore

GROWING = ("archive", "index", "outbox", "raw")


class BackupRefused(StoreError):
    """Bad input: a target that is not empty, a source that is no backup, a diary in the way."""
MANIFEST = "BACKUP.json"


def backup(data_dir: Path, target: Path) -> dict:
    """Copy `data_dir` into the new folder `target`; returns the manifest."""
    data_dir, target = Path(data_dir), Path(target)
    check_format(data_dir)
    if holds_old_format(data_dir):
        raise BackupRefused(f"{data_dir} är skriven av en äldre avvikelsebot; starta "
                            "`avvikelsebot run` en gång så uppgraderas den (en kopia sparas)")
    if not (data_dir / LIVE).exists():
        raise BackupRefused(f"{data_dir} innehåller inget diarium")
    if target.exists() and any(target.iterdir()):
        raise BackupRefused(f"{target} finns redan och är inte tom; välj en ny katalog")
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    seq = _copy_live_pair(data_dir, target)
    for name in GROWING:
        if (data_dir / name).is_dir():
            # a writer's half-written file (.tmp-…, renamed into place when complete) is not
            # part of the diary and may vanish while we copy: never copied
            shutil.copytree(data_dir / name, target / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".tmp-*"))
    finish(target, "backup")        # FORMAT and the fences: older releases refuse the copy too
    check = TinyDbCaseStore(target, readonly=True)
    manifest = {"format": FORMAT, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "source": str(data_dir.resolve()), "seq": seq,
                "open_cases": len(check.open_cases()), "archive_years": check.archive_years()}
    write_durably(target / MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return manifest


def _copy_live_pair(data_dir: Path, target: Path) -> int:
    for _ in range(50):
        live = (data_dir / LIVE).read_bytes()
        journal = (data_dir / JOURNAL).read_bytes() if (data_dir / JOURNAL).exists() else b""
        seq = int(((orjson.loads(live) or {}).get("meta", {}).get("1") or {}).get("seq", 0))
        with tempfile.TemporaryDirectory() as scratch:
            (Path(scratch) / JOURNAL).write_bytes(journal)
            base, _ = Journal(Path(scratch) / JOURNAL).read()
        if base is None or base <= seq:       # the journal continues this diary.json
            write_durably(target / LIVE, live)
            write_durably(target / JOURNAL, journal)
            return seq
    raise StoreError(f"{data_dir}: kunde inte få en sammanhängande kopia av {LIVE} och {JOURNAL}")


def restore(source: Path, data_dir: Path) -> dict:
    """Put a backup in place as a data directory. Refuses a directory that holds a diary
    (a live one is never overwritten) and a backup that is not one."""
    source, data_dir = Path(source), Path(data_dir)
    manifest_path = source / MANIFEST
    if not manifest_path.exists() or not ((source / LIVE).is_file() or holds_old_format(source)):
        raise BackupRefused(f"{source} är ingen säkerhetskopia från avvikelsebot backup")
    check_format(source)                 # a newer version's backup: refused, nothing written
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if any((data_dir / name).exists() for name in (LIVE, JOURNAL, OLD_LIVE, OLD_JOURNAL)):
        raise BackupRefused(f"{data_dir} innehåller redan ett diarium; återställ till en ny katalog")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = WriterLock(data_dir, command="restore").acquire()   # nobody starts meanwhile
    try:
        for entry in source.iterdir():
            if entry.name in (MANIFEST, LOCK_FILENAME):
                continue
            if entry.is_symlink():          # live.json, the link that fences older readers
                os.symlink(os.readlink(entry), data_dir / entry.name)
            elif entry.is_dir():
                shutil.copytree(entry, data_dir / entry.name)
            else:
                shutil.copy2(entry, data_dir / entry.name)
                os.chmod(data_dir / entry.name, 0o600)
    finally:
        lock.release()
    # opens as a writer: upgrades a format-2 backup, fences, replays the journal, checkpoints
    TinyDbCaseStore(data_dir, command="restore").close()
    return manifest
