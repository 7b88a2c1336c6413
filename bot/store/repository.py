"""TinyDbCaseStore: the case diary, the mail index and the outbox on disk (the CaseStore port).

Layout of a data directory (data format 3; bot.store.layout says why it looks so):
    FORMAT                     the format number, read before anything else
    diary.json                 checkpoint of the live set (TinyDB): open cases, the mail
                               records of open cases and unresolved triage, the outbox until
                               delivered, diary counters, one reminder marker per case, step,
                               level and recipient, chat-made subscriptions, adapter state
    diary.log                  every commit since that checkpoint, one fsync'd line each
    archive/cases/<year>/…     closed cases (append-only, by diary year and number)
    index/…                    the mail index of everything that left the live set
    outbox/…                   delivered notifications (append-only)
    raw/YYYY/MM/<sha>.eml      every mail's raw bytes (0600)
    diary.lock                 one writer process at a time
    writer.lock/, live.json    a directory and a link to it: fences on which releases 0.1.0
                               and 0.2.0 stop before they write anything
    format<N>-backup-<time>/   the old files, after an upgrade from format 1 or 2

A commit appends what changed to the journal and fsyncs it: one case, its diary number, its
mail record and its notifications become durable together, at the cost of their own size.
Changes are made in an overlay and reach the TinyDB tables only when committed, so a rollback
forgets them whatever went wrong. Closed cases, old mail records and delivered notifications
leave the live set in `housekeep` (copy durably first, then forget), so diary.json and every
read of it stay bounded by what is open, however many years the diary holds.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

from tinydb.table import Document

from bot.domain.case import Case, iso
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.org import Subscription
from bot.errors import StoreError
from bot.files import private_dir, write_durably
from bot.store.archive import CaseArchive, KeyIndex, OutboxLog, key_hash
from bot.store.atomic import open_db, remove_orphan_temp_files
from bot.store.journal import Journal, Op
from bot.store.layout import (FORMAT, JOURNAL, LIVE, NewerFormatError, check_format,
                              check_reader, prepare_writer)
from bot.store.lock import WriterLock

log = logging.getLogger(__name__)

CHECKPOINT_BYTES = 4 * 1024 * 1024   # a reader beside the writer parses at most this
SENT_KEEP = timedelta(minutes=10)  # then delivered notifications live on in outbox/ only
FAILED_KEEP = timedelta(days=30)
DIGEST_KEEP = timedelta(days=21)
TABLES = ("cases", "mails", "outbox", "counters", "markers", "subs", "state", "meta")
META_ID = 1


class TinyDbCaseStore:
    """The CaseStore port on TinyDB. Open with readonly=True beside a running writer.

    Thread safety: every public method takes the store's re-entrant lock; the unit of work
    (bot.usecases.uow.UnitOfWork) holds the same lock for a whole transaction."""

    def __init__(self, data_dir: Path, *, series: str = "VOK", digits: int = 4,
                 readonly: bool = False, command: str = "avvikelsebot"):
        self.data_dir = Path(data_dir)
        self.series, self.digits, self.readonly = series, digits, readonly
        self.lock = threading.RLock()
        self.writer_lock: WriterLock | None = None
        if readonly:
            check_reader(self.data_dir)      # a newer or a not yet upgraded older format
        else:
            check_format(self.data_dir)      # a newer version's directory: nothing written
            self.writer_lock = WriterLock(self.data_dir, command=command).acquire()
        try:
            self._start(command)
        except BaseException:
            if self.writer_lock is not None:
                self.writer_lock.release()
                self.writer_lock = None
            raise

    def _start(self, command: str) -> None:
        readonly = self.readonly
        if not readonly:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            # first: an older release still writing here is refused (its temp files are its own)
            prepare_writer(self.data_dir, command)     # upgrade an older format, fence a new one
            remove_orphan_temp_files(self.data_dir)
        self.cases_archive = CaseArchive(self.data_dir / "archive" / "cases", readonly=readonly)
        self.mail_index = KeyIndex(self.data_dir / "index", "mails", readonly=readonly)
        self.outbox_log = OutboxLog(self.data_dir / "outbox", readonly=readonly)
        self.journal = Journal(self.data_dir / JOURNAL)
        self._pending: dict[tuple[str, int], dict[str, Any] | None] = {}
        self.bytes_written = 0          # journal + checkpoints + archives (the benchmark's figure)
        self._open()

    # ------------------------------------------------------------------ lifecycle
    def _open(self) -> None:
        for attempt in range(20):
            self.db = open_db(self.data_dir / LIVE, readonly=self.readonly,
                              memory_writes=self.readonly)   # a reader replays the journal
            self.tables = {name: self.db.table(name) for name in TABLES}
            meta: dict[str, Any] = dict(self.tables["meta"].get(doc_id=META_ID) or {})
            if meta.get("format", FORMAT) > FORMAT:
                raise NewerFormatError(self.data_dir, meta["format"])
            self._seq = int(meta.get("seq", 0))
            base, entries = self.journal.read()
            if base is None or base <= self._seq:
                break
            # the writer made a checkpoint after we read diary.json: read both again
            if not self.readonly:
                raise StoreError(f"{JOURNAL} börjar efter {LIVE}: datakatalogen är inkonsistent")
        replay = [(seq, ops) for seq, ops in entries if seq > self._seq]
        if replay:
            self._apply([op for _, ops in replay for op in ops])
            self._seq = replay[-1][0]
        self._forget_indexes()
        if not self.readonly:
            self._checkpoint()

    def _forget_indexes(self) -> None:
        """Forget the Message-ID and conversation indexes; they are built again from the
        live mails and cases (bounded by what is open) when first asked. A reader that only
        shows a case never builds them."""
        self._indexes: tuple[dict[str, str], dict[str, str]] | None = None

    def _lookup(self) -> tuple[dict[str, str], dict[str, str]]:
        """(by Message-ID, by conversation) over the live mails and cases."""
        if self._indexes is None:
            self._indexes = ({}, {})
            for record in self._all("mails"):
                self._index_mail(record)
            for doc in self._all("cases"):
                self._index_case(doc)
        return self._indexes

    def _index_mail(self, record: dict) -> None:
        if self._indexes is None:
            return                       # built from the live set (this record too) when asked
        by_message_id, by_conversation = self._indexes
        number = record.get("number")
        if number and record.get("message_id"):
            by_message_id[record["message_id"].lower()] = number
        if number and record.get("conversation_id"):
            by_conversation[record["conversation_id"]] = number

    def _index_case(self, doc: dict) -> None:
        if self._indexes is None:
            return
        by_message_id, by_conversation = self._indexes
        for mid in doc.get("message_ids", []):
            by_message_id[mid.lower()] = doc["number"]
        for cid in doc.get("conversation_ids", []):
            by_conversation[cid] = doc["number"]

    def close(self) -> None:
        """Closes without writing uncommitted changes; a clean stop leaves a fresh checkpoint."""
        with self.lock:
            if self.writer_lock:
                self._pending.clear()
                try:
                    self._checkpoint()
                finally:
                    self.journal.close()
                    self.writer_lock.release()
                    self.writer_lock = None

    def __enter__(self) -> "TinyDbCaseStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    def commit(self) -> None:
        """Make every change since the last commit durable in one journal append."""
        with self.lock:
            if not self._pending:
                return
            if self.readonly:
                raise StoreError("datakatalogen är öppnad skrivskyddat")
            ops: list[Op] = [(table, doc_id, doc) for (table, doc_id), doc in self._pending.items()]
            self.bytes_written += self.journal.append(self._seq + 1, ops)
            self._seq += 1
            self._pending.clear()
            self._apply(ops)
            if self.journal.size > CHECKPOINT_BYTES:
                self._checkpoint()

    def rollback(self) -> None:
        """Forget uncommitted changes (a use case failed half-way)."""
        with self.lock:
            if self._pending:
                self._pending.clear()
                self._forget_indexes()

    def savepoint(self) -> dict:
        with self.lock:
            return dict(self._pending)

    def restore(self, savepoint: dict) -> None:
        with self.lock:
            self._pending = dict(savepoint)
            self._forget_indexes()

    @property
    def dirty(self) -> bool:
        return bool(self._pending)

    def _apply(self, ops: list[Op]) -> None:
        """Committed changes into the live tables, through the TinyDB storage (read, change
        the documents named, write): the cost of a commit is the size of its change. (Going
        through Table.remove and Table.insert_multiple instead rebuilds each touched table
        twice, which made every record of a large delivery round cost the whole outbox.)"""
        storage = self.db.storage
        tables = storage.read() or {}
        touched = set()
        for name, doc_id, doc in ops:
            raw = tables.setdefault(name, {})
            if doc is None:
                raw.pop(str(int(doc_id)), None)
            else:
                raw[str(int(doc_id))] = dict(doc)
            touched.add(name)
        storage.write(tables)
        for name in touched:
            self.tables[name].clear_cache()     # TinyDB's query cache of that table

    def _checkpoint(self) -> None:
        """diary.json anew (atomic), then a journal that continues from it."""
        self.tables["meta"].upsert(Document({"format": FORMAT, "seq": self._seq}, doc_id=META_ID))
        storage: Any = self.db.storage        # ExplicitFlushCaching(AtomicOrjsonStorage)
        if storage.flush():
            self.bytes_written += storage.storage.last_size
        self.journal.restart(self._seq)

    # ------------------------------------------------------------------ documents
    def _get(self, table: str, doc_id: int) -> dict[str, Any] | None:
        key = (table, doc_id)
        if key in self._pending:
            return self._pending[key]
        found = self.tables[table].get(doc_id=doc_id)
        return dict(found) if found is not None else None

    def _put(self, table: str, doc_id: int, doc: dict[str, Any] | None) -> None:
        if self.readonly:
            raise StoreError("datakatalogen är öppnad skrivskyddat")
        self._pending[(table, doc_id)] = doc

    def _all(self, table: str) -> Iterator[dict[str, Any]]:
        overlay = {doc_id: doc for (name, doc_id), doc in self._pending.items() if name == table}
        for stored in self.tables[table]:
            if stored.doc_id not in overlay:
                yield stored
        for changed in overlay.values():
            if changed is not None:
                yield changed

    # ------------------------------------------------------------------ diary numbers
    def next_number(self, year: int) -> DiaryNumber:
        """The next free number of the year; durable only with the commit of its case."""
        with self.lock:
            current = self._get("counters", year)
            last = current["last"] if current else self.cases_archive.highest_seq(year)
            self._put("counters", year, {"year": year, "last": last + 1})
            return DiaryNumber(year, last + 1, self.series)

    # ------------------------------------------------------------------ cases
    def put_case(self, case: Case) -> None:
        with self.lock:
            doc = case.to_dict()
            self._put("cases", case.key, doc)
            self._index_case(doc)

    def get_case(self, number: DiaryNumber) -> Case | None:
        with self.lock:
            doc = self._get("cases", number.key)
            if doc is None:
                doc = self.cases_archive.get(number.key)
            return Case.from_dict(doc) if doc else None

    def get_case_by_text(self, number: str) -> Case | None:
        parsed = parse_diary_number(number, self.series)
        return self.get_case(parsed) if parsed else None

    def live_cases(self) -> list[Case]:
        """Open cases (and closed ones not yet moved to the archive)."""
        with self.lock:
            return [Case.from_dict(doc) for doc in self._all("cases")]

    def open_cases(self) -> list[Case]:
        return [c for c in self.live_cases() if not c.is_closed]

    def all_cases(self, year: int | None = None) -> Iterator[Case]:
        """Every case, streamed year by year (live ones win over an archived copy)."""
        live = {c.key: c for c in self.live_cases() if year is None or c.year == year}
        yield from live.values()
        for archive_year in self.archive_years():
            if year is not None and archive_year != year:
                continue
            for doc in self.cases_archive.iter_year(archive_year):
                if doc["key"] not in live:
                    yield Case.from_dict(doc)

    def archive_years(self) -> list[int]:
        return self.cases_archive.years()

    def cull_case(self, number: DiaryNumber) -> bool:
        """Gallring: the case, its live mail records and its raw mails are destroyed; the
        mail index keeps only that its Message-IDs were seen (duplicates stay duplicates).
        Commits the live set first, then rewrites the archive chunk, then removes the raw
        files: a crash in between leaves less, never a case without its data."""
        with self.lock:
            doc = self._get("cases", number.key) or self.cases_archive.get(number.key)
            if doc is None:
                return False
            if self._get("cases", number.key) is not None:
                self._put("cases", number.key, None)
            for record in list(self._all("mails")):
                if record.get("number") == doc["number"]:     # seen stays seen, nothing else
                    self._put("mails", key_hash("k:" + record["key"]),
                              {k: record.get(k) for k in ("key", "number", "outcome", "at")})
            self.commit()
            self.cases_archive.remove(number.key)
            for document in doc.get("documents", []):
                if document.get("raw"):
                    (self.data_dir / document["raw"]).unlink(missing_ok=True)
            self._forget_indexes()
            return True

    # ------------------------------------------------------------------ mail index
    def mail_seen(self, duplicate_key: str) -> dict[str, Any] | None:
        """The record of a mail with this duplicate key, if one was handled."""
        with self.lock:
            record = self._get("mails", key_hash("k:" + duplicate_key))
            return record if record is not None else self.mail_index.get("k:" + duplicate_key)

    def case_for_message_id(self, message_id: str) -> str | None:
        with self.lock:
            number = self._lookup()[0].get(message_id.lower())
            if number:
                return number
            found = self.mail_index.get("m:" + message_id.lower())
            return found["n"] if found else None

    def case_for_conversation(self, conversation_id: str) -> str | None:
        with self.lock:
            number = self._lookup()[1].get(conversation_id)
            if number:
                return number
            found = self.mail_index.get("c:" + conversation_id)
            return found["n"] if found else None

    def record_mail(self, record: dict[str, Any]) -> None:
        """One mail's outcome; `key` is its duplicate key."""
        with self.lock:
            self._put("mails", key_hash("k:" + record["key"]), dict(record))
            self._index_mail(record)

    def mail_record(self, key: str) -> dict | None:
        return self.mail_seen(key)

    def triage_record(self, triage_id: str) -> dict | None:
        """A mail waiting in triage (they stay live until resolved)."""
        with self.lock:
            for record in self._all("mails"):
                if record.get("triage_id") == triage_id:
                    return dict(record)
            found = self.mail_index.get("t:" + triage_id)
            return self.mail_seen(found["key"]) if found else None

    def mail_records(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self._all("mails")]

    # ------------------------------------------------------------------ outbox
    def add_notification(self, notification: dict[str, Any]) -> bool:
        """Queue one notification; its id is the idempotency key (False if already queued)."""
        with self.lock:
            doc_id = key_hash(notification["id"])
            if self._get("outbox", doc_id) is not None:
                return False
            self._put("outbox", doc_id, dict(notification))
            return True

    def update_notification(self, notification_id: str, fields: dict[str, Any]) -> None:
        with self.lock:
            doc_id = key_hash(notification_id)
            item = self._get("outbox", doc_id)
            if item is None:
                raise StoreError(f"okänd avisering {notification_id}")
            self._put("outbox", doc_id, {**item, **fields})

    def outbox(self, state: str | None = None) -> list[dict]:
        """The live outbox: pending, in flight, failed, and recently delivered."""
        with self.lock:
            return [dict(n) for n in self._all("outbox") if state is None or n["state"] == state]

    def notification(self, notification_id: str) -> dict | None:
        with self.lock:
            item = self._get("outbox", key_hash(notification_id))
            return dict(item) if item is not None else self.outbox_log.get(notification_id)

    def outbox_history(self) -> Iterator[dict]:
        """Every notification that left the live outbox, month by month."""
        for month in self.outbox_log.months():
            yield from self.outbox_log.iter_month(month)

    def forget_delivered(self, before: datetime) -> int:
        """Retention ([retention] notifications_days): delivered notifications older than
        `before` leave the outbox log; pending and failed ones, the diary and the read log
        are not touched. (The live outbox holds delivered ones for minutes only.)"""
        with self.lock:
            if self.readonly:
                return 0
            return self.outbox_log.forget_delivered(iso(before))

    # ------------------------------------------------------------------ reminder markers
    def reminder_sent(self, slot: str, day: str) -> bool:
        """A reminder, escalation or digest for this slot was queued for `day` or later."""
        with self.lock:
            marker = self._get("markers", key_hash(slot))
            return marker is not None and marker["day"] >= day

    def mark_reminder(self, slot: str, day: str, at: str) -> None:
        with self.lock:
            self._put("markers", key_hash(slot), {"slot": slot, "day": day, "at": at})

    # ------------------------------------------------------------------ adapter state
    def get_state(self, key: str) -> dict[str, Any] | None:
        """Small state an adapter keeps with the diary (Teams conversation references, the
        mailbox health); written with the next commit, like everything else."""
        with self.lock:
            found = self._get("state", key_hash(key))
            return dict(found["value"]) if found else None

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        with self.lock:
            self._put("state", key_hash(key), {"key": key, "value": value})

    def states(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        with self.lock:
            return {d["key"]: dict(d["value"]) for d in self._all("state")
                    if d["key"].startswith(prefix)}

    # ------------------------------------------------------------------ chat-made subscriptions
    def subscriptions(self) -> tuple[Subscription, ...]:
        with self.lock:
            return tuple(Subscription(person=s["person"], units=(s["unit"],),
                                      paused=bool(s.get("paused")))
                         for s in self._all("subs"))

    def subscription_overrides(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(person, unit) -> what chat said about it, including pauses of the file's ones."""
        with self.lock:
            return {(s["person"], s["unit"]): dict(s) for s in self._all("subs")}

    def subscribe(self, person: str, unit: str) -> bool:
        with self.lock:
            doc_id = key_hash(f"{person}\n{unit}")
            current = self._get("subs", doc_id)
            if current is not None and not current.get("paused"):
                return False
            self._put("subs", doc_id, {"person": person, "unit": unit})
            return True

    def unsubscribe(self, person: str, unit: str, *, pause: bool = False) -> bool:
        """End a chat-made subscription, or (pause=True) stop one from the organisation
        file, which stays the default until the person subscribes again."""
        with self.lock:
            doc_id = key_hash(f"{person}\n{unit}")
            current = self._get("subs", doc_id)
            if pause:
                if current is not None and current.get("paused"):
                    return False
                self._put("subs", doc_id, {"person": person, "unit": unit, "paused": True})
                return True
            if current is None or current.get("paused"):
                return False
            self._put("subs", doc_id, None)
            return True

    # ------------------------------------------------------------------ raw mail
    def keep_raw(self, raw: bytes, sha: str, arrived: datetime) -> str:
        """Write the raw bytes durably before anything refers to them; returns a relative path."""
        relative = Path("raw") / f"{arrived:%Y}" / f"{arrived:%m}" / f"{sha}.eml"
        path = self.data_dir / relative
        if not path.exists():
            private_dir(path.parent)          # raw/ and raw/YYYY/ too, not only the month
            write_durably(path, raw)
            self.bytes_written += len(raw)
        return str(relative)

    def read_raw(self, relative: str) -> bytes:
        return (self.data_dir / relative).read_bytes()

    # ------------------------------------------------------------------ housekeeping
    def housekeep(self, now: datetime) -> dict[str, int]:
        """Move what is no longer open out of the live set: closed cases (with their mail
        records and markers), mail records without a case or with a resolved triage,
        delivered notifications (and those handed to e-mail) after SENT_KEEP, failed ones after FAILED_KEEP, and old
        digest markers. Copies are made durable first; then the live set forgets them in one
        commit. Idempotent: a crash in between only leaves copies the next run repeats."""
        with self.lock:
            if self.readonly:
                return {}
            self.commit()
            closed = [doc for doc in self.tables["cases"] if doc["status"] == "closed"]
            closed_numbers = {doc["number"] for doc in closed}
            mails = [r for r in self.tables["mails"]
                     if r.get("number") in closed_numbers
                     or (not r.get("number") and (r.get("outcome") != "triage" or r.get("resolved")))]
            sent_before, failed_before = iso(now - SENT_KEEP), iso(now - FAILED_KEEP)
            done = [n for n in self.tables["outbox"]
                    if (n["state"] == "sent" and (n.get("sent_at") or "") < sent_before)
                    # handed to e-mail (issue 22): done on its channel, history like a sent one
                    or (n["state"] == "fallback" and (n.get("fallback_at") or "") < sent_before)
                    # muted by the recipient's `avisering tyst` (issue 24): recorded, never sent
                    or (n["state"] == "muted" and (n.get("muted_at") or "") < sent_before)
                    or (n["state"] == "failed" and (n.get("failed_at") or n["created"]) < failed_before)]
            digest_before = (now - DIGEST_KEEP).date().isoformat()
            markers = [m for m in self.tables["markers"]
                       if m["slot"].split(":", 1)[0] in closed_numbers
                       or (m["slot"].startswith("digest:") and m["day"] < digest_before)]
            if closed:
                self.cases_archive.put_many(dict(doc) for doc in closed)
            if mails:
                self.mail_index.put_many(_index_entries([dict(m) for m in mails],
                                                        [dict(c) for c in closed]))
            if done:
                self.outbox_log.put_many([dict(n) for n in done])
            for doc in closed:
                self._put("cases", doc["key"], None)
            for record in mails:
                self._put("mails", key_hash("k:" + record["key"]), None)
            for item in done:
                self._put("outbox", key_hash(item["id"]), None)
            for marker in markers:
                self._put("markers", key_hash(marker["slot"]), None)
            self.commit()
            if closed or mails:
                self._forget_indexes()
            counts = {"cases": len(closed), "mails": len(mails), "notifications": len(done),
                      "markers": len(markers)}
            if any(counts.values()):
                log.info("flyttade ur det levande: %d avslutade ärenden, %d brevposter, "
                         "%d aviseringar, %d markeringar", *counts.values())
            return counts


def _index_entries(mails: list[dict], closed: list[dict]) -> Iterator[dict[str, Any]]:
    """What later mail must still find: its duplicate key (with the content hash, so a
    reused Message-ID with other bytes can be told apart), and which case a Message-ID or a
    conversation belongs to."""
    for record in mails:
        number = record.get("number")
        yield {"l": "k:" + record["key"], **record}
        if record.get("triage_id"):
            yield {"l": "t:" + record["triage_id"], "key": record["key"]}
        if number and record.get("message_id"):
            yield {"l": "m:" + record["message_id"].lower(), "n": number}
        if number and record.get("conversation_id"):
            yield {"l": "c:" + record["conversation_id"], "n": number}
    for doc in closed:
        for mid in doc.get("message_ids", []):
            yield {"l": "m:" + mid.lower(), "n": doc["number"]}
        for cid in doc.get("conversation_ids", []):
            yield {"l": "c:" + cid, "n": doc["number"]}
