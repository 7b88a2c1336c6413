"""Crash-safe TinyDB storage.

The case diary must never be lost or corrupted, so the file is never rewritten
in place.  Every write goes to a temporary file in the same directory, which is
fsynced and then atomically renamed over the real file (``os.replace``); finally
the directory itself is fsynced so the rename survives a power cut.  A process
killed at any moment therefore leaves either the old or the new complete file,
and a reader that opens the file while a writer replaces it sees one of the two
complete versions (it keeps reading the inode it opened).

Writes are only made on explicit flushes (:func:`durable`): one logical change,
consisting of several table operations, becomes durable in ONE write.

Only one process may write at a time -- see :mod:`bot.store.lock`.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path

import orjson
from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from bot.errors import StoreError

__all__ = [
    "TEMP_PREFIX",
    "AtomicOrjsonStorage",
    "ExplicitFlushCaching",
    "ReadonlyStoreError",
    "durable",
    "open_db",
    "remove_orphan_temp_files",
]

#: Prefix of the temporary files; a file left behind by a killed writer is
#: named ``.tmp-<basename>-<random>`` and removed by remove_orphan_temp_files.
TEMP_PREFIX = ".tmp-"


class ReadonlyStoreError(StoreError, PermissionError):
    """A write was attempted on a store opened read-only."""


def _temp_prefix(basename: str) -> str:
    return f"{TEMP_PREFIX}{basename}-"


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_orphan_temp_files(directory, basename: str | None = None) -> list[Path]:
    """Delete temporary files left behind by killed writers.

    Removes files in *directory* named ``.tmp-*`` (or only ``.tmp-<basename>-*``
    when *basename* is given).  Call it only while holding the writer lock: a
    live writer's temp file would otherwise be removed under its feet (its
    write would then fail cleanly, but still fail).  Returns the removed paths.
    """
    prefix = _temp_prefix(basename) if basename else TEMP_PREFIX
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        if entry.is_dir(follow_symlinks=False):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:
            continue
        removed.append(Path(entry.path))
    return removed


class AtomicOrjsonStorage(Storage):
    """TinyDB storage writing JSON (via orjson) atomically and durably."""

    def __init__(self, path, *, readonly: bool = False, mode: int = 0o600):
        super().__init__()
        self._path = os.path.abspath(os.fspath(path))
        self._directory = os.path.dirname(self._path)
        self._basename = os.path.basename(self._path)
        self._readonly = bool(readonly)
        self._mode = mode
        #: Number of completed atomic replaces made by this instance, and the last one's size.
        self.write_count = 0
        self.last_size = 0
        # Identity of the file as we last read or wrote it:
        # (st_ino, st_size, st_mtime_ns, digest of content).  Lets write()
        # skip rewriting identical content.
        self._known_state: tuple | None = None
        if not self._readonly:
            try:
                os.makedirs(self._directory, mode=0o700, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Kunde inte skapa datakatalogen {self._directory}: {exc}"
                ) from exc

    @property
    def path(self) -> str:
        return self._path

    @property
    def readonly(self) -> bool:
        return self._readonly

    # -- reading -----------------------------------------------------------

    def read(self):
        """Return the stored dict, or None when the file is missing or empty.

        A corrupt file raises StoreError; it is never treated as empty (that
        would let the next write replace the diary with an empty one).
        """
        try:
            with open(self._path, "rb") as fh:
                raw = fh.read()
                st = os.fstat(fh.fileno())
        except FileNotFoundError:
            self._known_state = None
            return None
        except OSError as exc:
            raise StoreError(f"Kunde inte läsa {self._path}: {exc}") from exc

        if not raw.strip():
            self._known_state = None
            return None
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise StoreError(
                f"{self._path} är inte giltig JSON ({exc}); filen lämnas orörd."
            ) from exc
        if not isinstance(data, dict):
            raise StoreError(
                f"{self._path} innehåller inte ett JSON-objekt; filen lämnas orörd."
            )
        # only a writer needs the digest (to skip rewriting identical content); a reader
        # such as `status` on a year's archive should not hash megabytes for nothing
        if not self._readonly:
            self._known_state = (
                st.st_ino, st.st_size, st.st_mtime_ns, hashlib.blake2b(raw).digest()
            )
        return data

    # -- writing -----------------------------------------------------------

    def _unchanged_on_disk(self, digest: bytes) -> bool:
        if self._known_state is None or self._known_state[3] != digest:
            return False
        try:
            st = os.stat(self._path)
        except OSError:
            return False
        return (st.st_ino, st.st_size, st.st_mtime_ns) == self._known_state[:3]

    def write(self, data) -> None:
        if self._readonly:
            raise ReadonlyStoreError(
                f"{self._path} är öppnad skrivskyddat; skrivning vägras."
            )
        try:
            payload = orjson.dumps(data)
        except TypeError as exc:  # orjson.JSONEncodeError subclasses TypeError
            raise StoreError(
                f"Data kan inte sparas som JSON i {self._path}: {exc}"
            ) from exc

        digest = hashlib.blake2b(payload).digest()
        if self._unchanged_on_disk(digest):
            return  # the file already holds exactly this content

        try:
            st = self._replace_atomically(payload)
        except OSError as exc:
            raise StoreError(f"Kunde inte skriva {self._path}: {exc}") from exc
        self.write_count += 1
        self.last_size = len(payload)
        self._known_state = (st.st_ino, st.st_size, st.st_mtime_ns, digest)

    def _replace_atomically(self, payload: bytes) -> os.stat_result:
        fd, tmp = tempfile.mkstemp(
            prefix=_temp_prefix(self._basename), dir=self._directory
        )
        try:
            try:
                os.fchmod(fd, self._mode)  # mkstemp gives 0600 already
                view = memoryview(payload)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                os.fsync(fd)
                st = os.fstat(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self._path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        # Make the rename itself durable.
        _fsync_directory(self._directory)
        return st

    def close(self) -> None:
        pass


class ExplicitFlushCaching(CachingMiddleware):
    """CachingMiddleware that writes ONLY on an explicit :meth:`flush`.

    TinyDB's stock middleware flushes by itself after WRITE_CACHE_SIZE writes,
    which could make half of a logical change durable.  This one never does.
    The file is read once (a missing file is cached as None too).
    """

    WRITE_CACHE_SIZE = math.inf  # type: ignore[assignment]  # never by count

    def __init__(self, storage_cls):
        super().__init__(storage_cls)
        self._loaded = False
        self.memory_writes = False

    @property
    def dirty(self) -> bool:
        """True when the cache holds changes not yet written."""
        return self._cache_modified_count > 0

    def read(self):
        if not self._loaded:
            self.cache = self.storage.read()
            self._loaded = True
        return self.cache

    def write(self, data) -> None:
        if getattr(self.storage, "readonly", False) and not self.memory_writes:
            # Fail at once instead of at the (possibly much later) flush.
            raise ReadonlyStoreError(
                "Databasen är öppnad skrivskyddat; ändringar vägras."
            )
        self.cache = data
        self._loaded = True
        self._cache_modified_count += 1  # no automatic flush, ever

    def flush(self) -> bool:
        """Write the cached state if anything changed; return True if written."""
        if self._cache_modified_count == 0:
            return False
        self.storage.write(self.cache)
        self._cache_modified_count = 0  # only after a successful write
        return True

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.storage.close()


def open_db(path, *, readonly: bool = False, memory_writes: bool = False) -> TinyDB:
    """Open the diary at *path*.

    Changes are kept in memory until :func:`durable` is called.  With
    ``readonly=True`` the file is read once, nothing is ever created and any
    write raises :class:`ReadonlyStoreError` -- unless ``memory_writes`` is set: then
    changes stay in memory (a reader replaying the journal) and only a flush raises.
    """
    middleware = ExplicitFlushCaching(AtomicOrjsonStorage)
    middleware.memory_writes = memory_writes
    return TinyDB(os.fspath(path), readonly=readonly, storage=middleware)


def durable(db: TinyDB) -> bool:
    """Make all changes made to *db* so far durable in one atomic write."""
    return db.storage.flush()  # type: ignore[attr-defined]  # ExplicitFlushCaching
