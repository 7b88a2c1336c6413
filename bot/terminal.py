"""The CLI's stdout and stderr as one exit every byte for a person passes through
(DESIGN §8): redacted and without terminal control sequences, whatever a subcommand,
argparse, a warning or a library printed.

Text is held until the end of its line, so that a number printed in pieces (print()
writes the text and the newline separately) is still seen whole by the matcher.
"""
from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager
from typing import Iterator, TextIO

from bot.domain.redact import clean_for_terminal

# a line longer than this is let out at its last space, so memory stays bounded
_MAX_PENDING = 64 * 1024


class CleanStream(io.TextIOBase):
    """A text stream that writes complete lines, cleaned, to the stream it wraps."""

    def __init__(self, raw: TextIO):
        self._raw = raw
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in text or len(self._pending) > _MAX_PENDING:
            cut = self._pending.rfind("\n") + 1 or self._pending.rfind(" ") + 1 or len(self._pending)
            ready, self._pending = self._pending[:cut], self._pending[cut:]
            self._raw.write(clean_for_terminal(ready))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            ready, self._pending = self._pending, ""
            self._raw.write(clean_for_terminal(ready))
        self._raw.flush()

    def discard(self) -> None:
        """Forget what waits (the reader has gone)."""
        self._pending = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._raw.isatty()

    def fileno(self) -> int:
        return self._raw.fileno()

    @property
    def encoding(self) -> str:          # type: ignore[override]
        return self._raw.encoding

    @property
    def errors(self) -> str | None:     # type: ignore[override]
        return self._raw.errors


@contextmanager
def clean_std_streams() -> Iterator[tuple[CleanStream, CleanStream]]:
    """sys.stdout and sys.stderr through CleanStream for the duration; restored after."""
    saved = sys.stdout, sys.stderr
    out, err = CleanStream(sys.stdout), CleanStream(sys.stderr)
    sys.stdout, sys.stderr = out, err
    try:
        yield out, err
    finally:
        try:
            out.flush()
        except (BrokenPipeError, ValueError):
            silence_closed_stdout()
        try:
            err.flush()
        except (BrokenPipeError, ValueError):
            err.discard()
        sys.stdout, sys.stderr = saved


def silence_closed_stdout() -> None:
    """The reader of stdout went away (`avvikelsebot list | head -1`): send whatever is
    still to come to /dev/null, so neither we nor the interpreter's final flush complain."""
    if isinstance(sys.stdout, CleanStream):
        sys.stdout.discard()
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, (sys.__stdout__ or sys.stdout).fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
