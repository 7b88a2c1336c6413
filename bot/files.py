"""Writing a file so that it is either complete or absent, and private (0600); folders
for mail and data private too (0700)."""
from __future__ import annotations

import os
from pathlib import Path


def write_durably(target: Path, data: bytes, *, temp: Path | None = None,
                  mtime: float | None = None) -> Path:
    """Write `data` to `temp` (default: a hidden name beside `target`), fsync, set the
    modification time if given, then rename into place. A crash leaves no half file."""
    temp = temp or target.with_name(f".tmp-{target.name}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:                      # os.write may write less than asked
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    if mtime is not None:
        os.utime(temp, (mtime, mtime))
    os.replace(temp, target)
    return target


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_durably(target: Path, data: bytes, *, sync: bool = True) -> None:
    """Append `data` to `target` (created 0600) and fsync it: an append-only log."""
    created = not target.exists()
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fdatasync(fd)
    finally:
        os.close(fd)
    if created and sync:
        fsync_directory(target.parent)


def private_dir(path: Path) -> Path:
    """Create `path` and every missing folder above it with mode 0700. (Path.mkdir with
    parents=True gives the folders above the default mode, 0755 under the usual umask:
    `inbox/` and `raw/2026/` were readable by everyone.)"""
    path = Path(path)
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return missing[0] if missing else path


def write_private(target: Path, data: bytes) -> Path:
    """A file the command line writes for a person (a report, the read log): created 0600,
    and made 0600 when it already existed with wider rights. A symlink in its place is
    refused (O_NOFOLLOW): the export must not land in a file someone else chose."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return Path(target)
