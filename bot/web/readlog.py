"""The read log (loggkontroll): who looked at which case or mail, when, through which channel.

Append-only JSON lines, one file per month: <state>/readlog/YYYY-MM.jsonl (0600, folder
0700). Each entry is written with O_APPEND and fsync'd before the page is sent, so a page
that was shown is always in the log. `avvikelsebot logg --from --to` exports a period as CSV.
With DATABASE_URL the log is the table read_log instead (bot.store.web_state), shared by every
instance; files left from a release before it are exported beside it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from bot.cells import safe_cell
from bot.domain.redact import redact

CHANNEL_WEB = "webb"
# what was looked at
VIEW_CASE, VIEW_MAIL, VIEW_ATTACHMENT = "case", "mail", "attachment"
# asked for and refused (a case the person may not see, mail text they may not read): the
# log check needs the attempts too
VIEW_REFUSED = "refused"


class ReadLog:
    def __init__(self, state_dir: Path):
        self.folder = Path(state_dir) / "readlog"
        self._lock = threading.Lock()

    def record(self, *, person: str, number: str, what: str, at: datetime,
               channel: str = CHANNEL_WEB, document: int | None = None,
               detail: str | None = None) -> None:
        entry: dict[str, object] = {"at": at.astimezone(timezone.utc).isoformat(timespec="seconds"),
                 "person": person, "case": number, "what": what, "channel": channel}
        if document is not None:
            entry["document"] = document
        if detail:
            entry["detail"] = redact(detail)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.folder / f"{at.astimezone(timezone.utc):%Y-%m}.jsonl"
        with self._lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)       # one write of one line: O_APPEND keeps lines whole
                os.fsync(fd)
            finally:
                os.close(fd)

    def entries(self, start: date, end: date) -> Iterator[dict]:
        """Entries with start <= day (UTC) <= end, oldest first."""
        if not self.folder.is_dir():
            return
        first, last = f"{start:%Y-%m}", f"{end:%Y-%m}"
        for path in sorted(self.folder.glob("*.jsonl")):
            if not first <= path.stem <= last:
                continue
            for raw in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(raw)
                except ValueError:    # a line cut by a crash mid-write: skip, keep the rest
                    continue
                day = datetime.fromisoformat(entry["at"]).date()
                if start <= day <= end:
                    yield entry

    def export_csv(self, start: date, end: date, header: list[str]) -> str:
        return export_csv(self.entries(start, end), header)


def export_csv(entries: Iterable[dict], header: list[str]) -> str:
    """The entries as CSV for the log check (whichever store they came from)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for e in entries:
        writer.writerow([safe_cell(str(e.get(key, "") or "")) for key in
                         ("at", "person", "case", "what", "channel", "document", "detail")])
    return redact(buffer.getvalue())
