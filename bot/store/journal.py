"""The write-ahead journal of the live set: one fsync'd line per committed unit of work.

A commit appends the documents it changed (and nothing else) to ``diary.log`` and fsyncs
it, so a durable write costs what changed, not the size of the diary. ``diary.json`` is a
checkpoint: rewritten only when the journal has grown (or at a clean stop), after which the
journal starts again from that checkpoint's sequence number.

File format (JSON lines, orjson):

    {"base": 41}                                  first line: the checkpoint it continues
    {"seq": 42, "ops": [[table, doc_id, doc], …]} one line per commit; doc null = removed

A line is durable when ``append`` returns. A process killed in the middle of an append leaves
at most one torn last line, which was never acknowledged and is ignored (and cut off by the
next writer). Readers beside a running writer read the checkpoint, then the journal, and
retry when a checkpoint happened in between (the journal's base is then newer than theirs).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import orjson

from bot.errors import StoreError
from bot.files import fsync_directory, write_durably

log = logging.getLogger(__name__)

Op = tuple[str, int, "dict[str, Any] | None"]


class Journal:
    """Append-only, fsync'd log of committed change sets."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self.size = 0

    # ------------------------------------------------------------------ reading
    def read(self) -> tuple[int | None, list[tuple[int, list[Op]]]]:
        """(base, [(seq, ops), …]) as on disk; (None, []) when there is no journal."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None, []
        except OSError as exc:
            raise StoreError(f"Kunde inte läsa {self.path}: {exc}") from exc
        base: int | None = None
        entries: list[tuple[int, list[Op]]] = []
        lines = raw.split(b"\n")
        for number, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                if number >= len(lines) - 2:   # the torn last line of a killed append
                    break
                raise StoreError(f"{self.path}: rad {number + 1} är trasig; filen lämnas orörd.")
            if "base" in item:
                base = int(item["base"])
            else:
                entries.append((int(item["seq"]), [tuple(op) for op in item["ops"]]))
        return base, entries

    # ------------------------------------------------------------------ writing
    def open_for_append(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.size = os.fstat(self._fd).st_size

    def append(self, seq: int, ops: list[Op]) -> int:
        """Write one commit durably; returns the bytes written."""
        if self._fd is None:
            raise StoreError("journalen är inte öppen för skrivning")
        line = orjson.dumps({"seq": seq, "ops": ops}) + b"\n"
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(self._fd, view):]
            os.fdatasync(self._fd)
        except OSError as exc:
            raise StoreError(f"Kunde inte skriva {self.path}: {exc}") from exc
        self.size += len(line)
        return len(line)

    def restart(self, base: int) -> None:
        """Begin a new journal after a checkpoint with sequence number *base*."""
        self.close()
        write_durably(self.path, orjson.dumps({"base": base}) + b"\n")
        fsync_directory(self.path.parent)
        self.open_for_append()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


