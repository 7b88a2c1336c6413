"""MaildirMailSource: the embedded default mailbox, `<data>/inbox` as a Maildir.

Mail is delivered into new/ (or cur/) by any MDA or by hand; after its outcome is durable
it is acknowledged by moving the file into the Maildir++ folder `.Diarierat`, with one
rename, so it is either still in the inbox (and comes back as a duplicate) or filed.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from bot.errors import MailSourceError
from bot.files import write_durably

ACK_FOLDER = ".Diarierat"


class MaildirMailSource:
    name = "maildir"

    def __init__(self, root: Path):
        self.root = Path(root)
        for sub in ("new", "cur", "tmp", f"{ACK_FOLDER}/new", f"{ACK_FOLDER}/cur", f"{ACK_FOLDER}/tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)

    def fetch(self, limit: int = 500) -> list[tuple[bytes, datetime, str, str | None]]:
        """Mails waiting in new/ and cur/, oldest first: (raw, arrival, source id, conversation)."""
        found = []
        for sub in ("new", "cur"):
            for entry in os.scandir(self.root / sub):
                if entry.is_file() and not entry.name.startswith("."):
                    found.append((entry.stat().st_mtime, f"{sub}/{entry.name}"))
        found.sort()
        result = []
        for mtime, source_id in found[:limit]:
            try:
                raw = (self.root / source_id).read_bytes()
            except FileNotFoundError:
                continue  # moved away meanwhile
            except OSError as exc:
                raise MailSourceError(f"kan inte läsa {source_id}: {exc.strerror}") from exc
            result.append((raw, datetime.fromtimestamp(mtime, timezone.utc), source_id, None))
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
        return sum(1 for sub in ("new", "cur") for e in os.scandir(self.root / sub) if e.is_file())

    def deliver(self, raw: bytes, name: str | None = None, when: datetime | None = None) -> Path:
        """Put a mail into the inbox as an MDA would (tmp/ then rename into new/);
        `when` sets the delivery time (the file's mtime), which is the arrival time."""
        import uuid
        name = name or f"{datetime.now(timezone.utc).timestamp():.6f}.{uuid.uuid4().hex}.avvikelsebot"
        return write_durably(self.root / "new" / name, raw, temp=self.root / "tmp" / name,
                             mtime=when.timestamp() if when else None)
