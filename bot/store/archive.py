"""What leaves the live set: closed cases, the mail index of every mail ever seen, and the
notifications that were delivered. All three are append-only files, so moving something out
of the live set writes what moves and nothing else, and reading one case or one key reads
one small file.

    archive/cases/<year>/<chunk>.jsonl   closed cases, CHUNK cases per file by sequence number
    index/mails-<xx>.jsonl               lookup key -> case (duplicate keys, Message-IDs,
                                         conversations), 256 files by the key's hash
    index/keys.bin                       8-byte hashes of every lookup key in the index: a
                                         compact set that says "certainly unknown" without
                                         opening a file (most new mail)
    outbox/sent-<xx>.jsonl               delivered or given-up notifications by id hash, for a
                                         later button press that updates the message
    outbox/log-YYYY-MM.jsonl             the same, by month, for `outbox` and the log check

Every line is one JSON object; a later line for the same key wins. An append is fsync'd
before the live set forgets the item, so a crash between the two leaves a harmless repeat.
A torn last line (a kill in the middle of an append) is skipped when read.
"""
from __future__ import annotations

import bisect
import hashlib
import logging
import os
from array import array
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Iterator

import orjson

from bot.files import append_durably, write_durably

log = logging.getLogger(__name__)

CHUNK = 250            # closed cases per archive file (a cold status reads ~1 MB at most)
CACHED_CHUNKS = 24     # archive files kept decoded in memory (bounded RSS at any store size)
CACHED_SHARDS = 16
SHARDS = 256


def key_hash(text: str) -> int:
    """A stable 56-bit hash of a key: TinyDB document ids and the compact key set."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=7).digest(), "big")


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            log.warning("%s: en trasig rad hoppas över (ett avbrutet skrivande)", path.name)


class CaseArchive:
    """Closed cases by diary year, in chunks of CHUNK sequence numbers."""

    def __init__(self, root: Path, *, readonly: bool = False):
        self.root = Path(root)
        self.readonly = readonly
        self._cache: OrderedDict[Path, dict[int, bytes]] = OrderedDict()

    def _path(self, key: int) -> Path:
        year, seq = divmod(key, 1_000_000)
        return self.root / str(year) / f"{seq // CHUNK:04d}.jsonl"

    def _chunk(self, path: Path) -> dict[int, bytes]:
        """A chunk's cases as undecoded JSON: decoded only when asked for."""
        if path in self._cache:
            self._cache.move_to_end(path)
            return self._cache[path]
        chunk: dict[int, bytes] = {}
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        for line in raw.split(b"\n"):
            if line.strip():
                try:
                    chunk[orjson.loads(line)["key"]] = line
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    log.warning("%s: en trasig rad hoppas över", path)
        self._cache[path] = chunk
        while len(self._cache) > CACHED_CHUNKS:
            self._cache.popitem(last=False)
        return chunk

    def get(self, key: int) -> dict[str, Any] | None:
        line = self._chunk(self._path(key)).get(key)
        return orjson.loads(line) if line else None

    def put_many(self, cases: Iterable[dict[str, Any]]) -> int:
        """Append closed cases durably (one fsync per chunk file touched)."""
        by_path: dict[Path, list[bytes]] = {}
        for doc in cases:
            by_path.setdefault(self._path(doc["key"]), []).append(orjson.dumps(doc) + b"\n")
        for path, lines in by_path.items():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            append_durably(path, b"".join(lines))
            self._cache.pop(path, None)
        return sum(len(lines) for lines in by_path.values())

    def remove(self, key: int) -> bool:
        """Cull one case: its chunk file is written again without it (atomically: the old
        file or the new one, never half), so no copy of it stays in the archive."""
        path = self._path(key)
        lines = [line for line in (path.read_bytes().split(b"\n") if path.exists() else [])
                 if line.strip()]
        kept = []
        for line in lines:
            try:
                if orjson.loads(line).get("key") == key:
                    continue
            except orjson.JSONDecodeError:
                continue                  # a torn line from a crash: not worth keeping
            kept.append(line)
        if len(kept) == len(lines):
            return False
        write_durably(path, b"".join(line + b"\n" for line in kept))
        self._cache.pop(path, None)
        return True

    def years(self) -> list[int]:
        if not self.root.is_dir():
            return []
        return sorted(int(p.name) for p in self.root.iterdir() if p.name.isdigit())

    def iter_year(self, year: int) -> Iterator[dict[str, Any]]:
        """Every archived case of a year, streamed: nothing stays cached."""
        folder = self.root / str(year)
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.jsonl")):
            latest: dict[int, dict[str, Any]] = {}
            for doc in _lines(path):
                latest[doc["key"]] = doc
            yield from (latest[k] for k in sorted(latest))

    def highest_seq(self, year: int) -> int:
        folder = self.root / str(year)
        files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
        if not files:
            return 0
        return max((doc["key"] % 1_000_000 for doc in _lines(files[-1])), default=0)


class KeyIndex:
    """Lookup key -> small record, for everything that left the live set: sharded
    append-only files. With `key_set`, a sorted array of the keys' 8-byte hashes (8 bytes a
    key in memory, loaded on first use) answers "unknown" without opening a file."""

    def __init__(self, root: Path, name: str, *, readonly: bool = False, shards: int = SHARDS,
                 key_set: bool = True, fsync: bool = True):
        self.root = Path(root)
        self.name = name
        self.readonly = readonly
        self.shards = shards
        self.key_set = key_set
        self.fsync = fsync
        self._hashes: array | None = None
        self._shards: OrderedDict[int, dict[str, dict[str, Any]]] = OrderedDict()

    def _keys_path(self) -> Path:
        return self.root / f"{self.name}-keys.bin"

    def _shard_path(self, shard: int) -> Path:
        return self.root / f"{self.name}-{shard:03x}.jsonl"

    def _known(self) -> array:
        if self._hashes is None:
            try:
                data = self._keys_path().read_bytes()
            except FileNotFoundError:
                data = b""
            numbers = array("Q")
            numbers.frombytes(data[: len(data) - len(data) % 8])
            self._hashes = array("Q", sorted(numbers))
        return self._hashes

    def _might_hold(self, digest: int) -> bool:
        if not self.key_set:
            return True
        known = self._known()
        at = bisect.bisect_left(known, digest)
        return at < len(known) and known[at] == digest

    def _shard(self, shard: int) -> dict[str, dict[str, Any]]:
        if shard in self._shards:
            self._shards.move_to_end(shard)
            return self._shards[shard]
        records = {doc["l"]: doc for doc in _lines(self._shard_path(shard))}
        self._shards[shard] = records
        while len(self._shards) > CACHED_SHARDS:
            self._shards.popitem(last=False)
        return records

    def get(self, lookup: str) -> dict[str, Any] | None:
        digest = key_hash(lookup)
        if not self._might_hold(digest):
            return None
        return self._shard(digest % self.shards).get(lookup)

    def forget_many(self, lookups: Iterable[str]) -> int:
        """Remove these keys' records (each shard written anew, whole or not at all). The
        key set, if kept, still names them: it only spares a look-up, and one that finds
        nothing answers "unknown" all the same."""
        by_shard: dict[int, set[str]] = {}
        for lookup in lookups:
            by_shard.setdefault(key_hash(lookup) % self.shards, set()).add(lookup)
        removed = 0
        for shard, gone in by_shard.items():
            path = self._shard_path(shard)
            docs = list(_lines(path))
            kept = [doc for doc in docs if doc["l"] not in gone]
            if len(kept) == len(docs):
                continue
            removed += len(docs) - len(kept)
            if kept:
                write_durably(path, b"".join(orjson.dumps(doc) + b"\n" for doc in kept))
            else:
                path.unlink(missing_ok=True)
            self._shards.pop(shard, None)
        return removed

    def put_many(self, records: Iterable[dict[str, Any]]) -> int:
        """Each record has "l", its lookup key. Durable when this returns."""
        by_shard: dict[int, list[bytes]] = {}
        hashes = array("Q")
        for record in records:
            digest = key_hash(record["l"])
            hashes.append(digest)
            by_shard.setdefault(digest % self.shards, []).append(orjson.dumps(record) + b"\n")
        if not hashes:
            return 0
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for shard, lines in by_shard.items():
            append_durably(self._shard_path(shard), b"".join(lines), sync=self.fsync)
            self._shards.pop(shard, None)
        if self.key_set:
            append_durably(self._keys_path(), hashes.tobytes())
            if self._hashes is not None:
                self._hashes = array("Q", sorted(self._hashes + hashes))
        return len(hashes)


class OutboxLog:
    """Delivered (or given-up) notifications, by month for listing and by id for look-ups."""

    def __init__(self, root: Path, *, readonly: bool = False):
        self.root = Path(root)
        # looked up only when a button is pressed on an older message: no key set in memory,
        # and no fsync per shard (the month log is the durable copy; a look-up lost to a power
        # cut only means a pressed button's message is not redrawn)
        self.by_id = KeyIndex(self.root, "sent", readonly=readonly, shards=4096, key_set=False,
                              fsync=False)

    def put_many(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        by_month: dict[str, list[bytes]] = {}
        for item in items:   # the listing keeps the text; the look-up what an update needs
            month = (item.get("sent_at") or item.get("created") or "0000-00")[:7]
            listed = {k: v for k, v in item.items() if k not in ("view", "job")}
            by_month.setdefault(month, []).append(orjson.dumps(listed) + b"\n")
        for month, lines in by_month.items():
            append_durably(self.root / f"log-{month}.jsonl", b"".join(lines))
        self.by_id.put_many({"l": item["id"], **{k: v for k, v in item.items() if k != "text"}}
                            for item in items)

    def get(self, notification_id: str) -> dict[str, Any] | None:
        found = self.by_id.get(notification_id)
        if found is None:
            return None
        item = dict(found)
        item.pop("l", None)
        return item

    def months(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem[4:] for p in self.root.glob("log-*.jsonl"))

    def iter_month(self, month: str) -> Iterator[dict[str, Any]]:
        latest: dict[str, dict[str, Any]] = {}
        for item in _lines(self.root / f"log-{month}.jsonl"):
            latest[item["id"]] = item
        yield from latest.values()

    def forget_delivered(self, before: str) -> int:
        """Retention: notifications delivered (sent, or handed to e-mail) before `before`
        (ISO time) leave the log and the look-up; a given-up one stays. Only months up to
        `before`'s are read; a month file is written anew whole, or removed when empty."""
        gone: set[str] = set()
        for month in self.months():
            if month > before[:7]:
                break
            path = self.root / f"log-{month}.jsonl"
            lines = list(_lines(path))
            latest = {item["id"]: item for item in lines}
            old = {i for i, item in latest.items() if _delivered_before(item, before)}
            if not old:
                continue
            kept = [item for item in lines if item["id"] not in old]
            if kept:
                write_durably(path, b"".join(orjson.dumps(item) + b"\n" for item in kept))
            else:
                path.unlink(missing_ok=True)
            gone |= old
        if gone:
            self.by_id.forget_many(gone)
        return len(gone)


def _delivered_before(item: dict[str, Any], before: str) -> bool:
    if item.get("state") == "sent":
        return (item.get("sent_at") or item.get("created") or "") < before
    if item.get("state") == "fallback":
        return (item.get("fallback_at") or item.get("created") or "") < before
    return False


def ensure_private(path: Path) -> None:
    """Folders of the data directory are 0700 whatever the umask was."""
    try:
        os.chmod(path, 0o700)
    except OSError:
        pass
