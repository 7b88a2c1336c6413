"""Single-writer lock for the data directory.

``<data_dir>/diary.lock`` is locked with an exclusive, non-blocking
``fcntl.flock``.  (Releases 0.1.0 and 0.2.0 locked ``writer.lock``; since data format 3
that name is a directory, so those releases fail on it before they write anything: see
bot.store.layout.)  The kernel releases the lock when the holding process dies
(even by SIGKILL), so stale locks need no cleanup.  The file contains the
holder's pid and command, only to make the refusal message helpful.

Note: flock locks belong to the open file description, so a child created with
a bare ``fork()`` (without exec) keeps the lock alive as long as it runs.  The
descriptor is opened with O_CLOEXEC, so exec'ed programs do not inherit it.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time

from bot.errors import StoreError

__all__ = ["LOCK_FILENAME", "StoreLockedError", "WriterLock"]

LOCK_FILENAME = "diary.lock"


class StoreLockedError(StoreError):
    """Another process holds the writer lock of the data directory."""

    def __init__(self, message: str, *, data_dir=None, pid=None, command=None):
        super().__init__(message)
        self.data_dir = data_dir
        self.pid = pid
        self.command = command


def _default_command() -> str:
    argv = [os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"]
    argv += sys.argv[1:2]
    return " ".join(argv)


def _parse_holder(raw: bytes) -> tuple[int | None, str | None]:
    lines = raw.decode("utf-8", "replace").splitlines()
    pid = None
    command = None
    if lines:
        try:
            pid = int(lines[0].strip())
        except ValueError:
            pid = None
    if len(lines) > 1 and lines[1].strip():
        command = lines[1].strip()
    return pid, command


class WriterLock:
    """Exclusive writer lock on a data directory.

    >>> with WriterLock(data_dir, command="run"):
    ...     ...  # only this process writes in data_dir
    """

    def __init__(self, data_dir, command: str | None = None, *, filename: str = LOCK_FILENAME):
        self.data_dir = os.fspath(data_dir)
        self.path = os.path.join(self.data_dir, filename)
        self.command = command if command is not None else _default_command()
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "WriterLock":
        if self._fd is not None:
            raise RuntimeError(f"{self.path} är redan låst av detta objekt")
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._locked_error(fd) from None
            os.ftruncate(fd, 0)
            info = f"{os.getpid()}\n{self.command}\n".encode("utf-8")
            os.pwrite(fd, info, 0)
        except BaseException:
            os.close(fd)  # also drops the flock if we had it
            raise
        self._fd = fd
        return self

    def _locked_error(self, fd: int) -> StoreLockedError:
        pid, command = None, None
        # The holder writes its pid right after locking; give it a moment.
        for _ in range(5):
            pid, command = _parse_holder(os.pread(fd, 4096, 0))
            if pid is not None:
                break
            time.sleep(0.02)
        who = f"pid {pid}" if pid is not None else "okänd pid"
        if command:
            who += f", '{command}'"
        message = (
            f"Datakatalogen {self.data_dir} används redan av en annan "
            f"avvikelsebot-process ({who}). Bara en process i taget får skriva; "
            f"läsande kommandon (status, list, outbox, report) fungerar ändå."
        )
        return StoreLockedError(
            message, data_dir=self.data_dir, pid=pid, command=command
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Clear the holder info while still holding the lock; the file is
            # not unlinked (that would race with processes that opened it).
            os.ftruncate(fd, 0)
        except OSError:
            pass
        finally:
            os.close(fd)  # releases the flock

    def __enter__(self) -> "WriterLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()
