"""MaildirMailSource: the embedded default mailbox, `<data>/inbox` as a Maildir.

Mail is delivered into new/ (or cur/) by any MDA or by hand; after its outcome is durable
it is acknowledged by moving the file into the Maildir++ folder `.Diarierat`, with one
rename, so it is either still in the inbox (and comes back as a duplicate) or filed.

A file that cannot be read (no permission, a directory where a mail should be, a FIFO)
never stops intake: it is logged once, skipped, and read again on later rounds, so it is
diarised as soon as someone fixes it. A file that vanished between listing and reading was
taken by someone else and is skipped silently.
"""
from __future__ import annotations

import logging
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from bot.files import private_dir, write_durably
from bot.ports import Waiting

log = logging.getLogger(__name__)

ACK_FOLDER = ".Diarierat"
MAX_MAIL_BYTES = 200 * 1024 * 1024   # larger than any mail server accepts; a runaway file


class MaildirMailSource:
    name = "maildir"

    def __init__(self, root: Path):
        self.root = Path(root)
        for sub in ("new", "cur", "tmp", f"{ACK_FOLDER}/new", f"{ACK_FOLDER}/cur", f"{ACK_FOLDER}/tmp"):
            private_dir(self.root / sub)
        self._unreadable: dict[str, str] = {}    # source id -> why, each logged once

    # ------------------------------------------------------------------ streaming
    def waiting(self, limit: int | None = None) -> Iterator[Waiting]:
        """Mails waiting in new/ and cur/, oldest delivery first, without their bytes."""
        found = []
        for sub in ("new", "cur"):
            try:
                entries = list(os.scandir(self.root / sub))
            except OSError as exc:
                self._report(sub, exc.strerror or str(exc))
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    mtime = entry.stat().st_mtime
                except OSError:
                    continue        # vanished meanwhile
                found.append((mtime, f"{sub}/{entry.name}"))
        found.sort()
        for mtime, source_id in found[:limit]:
            yield Waiting(source_id, _utc(mtime))

    def read(self, waiting: Waiting) -> bytes | None:
        """One mail's bytes; None (reported once) when it cannot be read."""
        try:
            raw = read_regular_file(self.root / waiting.source_id)
        except FileNotFoundError:
            return None             # acknowledged or moved away meanwhile
        except OSError as exc:
            self._report(waiting.source_id, exc.strerror or str(exc))
            return None
        if self._unreadable.pop(waiting.source_id, None) is not None:
            log.info("inkorgen: %s går att läsa igen", waiting.source_id)
        return raw

    def _report(self, source_id: str, why: str) -> None:
        if self._unreadable.get(source_id) != why:
            log.warning("inkorgen: kan inte läsa %s (%s); hoppar över den och tar nästa",
                        source_id, why)
        self._unreadable[source_id] = why

    # ------------------------------------------------------------------ MailSource
    def fetch(self, limit: int = 500) -> list[tuple[bytes, datetime | None, str, str | None]]:
        """Mails waiting in new/ and cur/, oldest first: (raw, arrival, source id, conversation).
        Holds them all in memory; the run loop streams with waiting()/read() instead."""
        result: list[tuple[bytes, datetime | None, str, str | None]] = []
        for waiting in self.waiting(limit):
            raw = self.read(waiting)
            if raw is not None:
                result.append((raw, waiting.arrived, waiting.source_id, None))
        return result

    def acknowledge(self, source_id: str) -> None:
        sub, name = source_id.split("/", 1)
        base = name.split(":2,", 1)[0]
        target = self.root / ACK_FOLDER / "cur" / f"{base}:2,S"
        try:
            os.replace(self.root / source_id, target)
        except FileNotFoundError:
            pass  # already filed

    def pending(self) -> int:
        return sum(1 for sub in ("new", "cur") for e in os.scandir(self.root / sub)
                   if not e.name.startswith("."))

    def describe(self) -> dict:
        """For the run log and the health report: where we read, what cannot be read."""
        return {"source": "maildir", "mailbox": str(self.root), "cursor": None,
                "lag_seconds": 0.0, "unreadable": sorted(self._unreadable)}

    def deliver(self, raw: bytes, name: str | None = None, when: datetime | None = None) -> Path:
        """Put a mail into the inbox as an MDA would (tmp/ then rename into new/);
        `when` sets the delivery time (the file's mtime), which is the arrival time."""
        import uuid
        name = name or f"{datetime.now(timezone.utc).timestamp():.6f}.{uuid.uuid4().hex}.avvikelsebot"
        return write_durably(self.root / "new" / name, raw, temp=self.root / "tmp" / name,
                             mtime=when.timestamp() if when else None)


def _utc(mtime: float) -> datetime | None:
    try:
        return datetime.fromtimestamp(mtime, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None                 # a file touched to year 300000: the bot's clock decides


def read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file. Raises OSError for anything else: a directory
    (EISDIR), a FIFO or device (which would block or never end), a runaway size."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)   # a FIFO must not block the loop
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "är en mapp, inte ett mejl", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise OSError(22, "är ingen vanlig fil", str(path))
        if info.st_size > MAX_MAIL_BYTES:
            raise OSError(27, f"för stor ({info.st_size // (1024 * 1024)} MB)", str(path))
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            return handle.read()
    finally:
        if fd >= 0:
            os.close(fd)


def read_files(paths: Iterable[Path]) -> Iterator[tuple[Path, bytes | None, str | None]]:
    """For `ingest FILE…`: (path, bytes, None) for each readable file, (path, None, why) for
    one that cannot be read, one at a time, so one bad file never stops the rest."""
    for path in paths:
        try:
            yield path, read_regular_file(Path(path)), None
        except OSError as exc:
            yield path, None, exc.strerror or type(exc).__name__
