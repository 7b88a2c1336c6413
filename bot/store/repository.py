"""TinyDbCaseStore: the case diary, the mail index and the outbox on disk.

Layout of a data directory:
    live.json                  open cases, mail index of open cases, outbox, diary counters,
                               reminder markers, chat-made subscriptions
    archive/cases-YYYY.json    closed cases of diary year YYYY
    archive/mails-YYYY.json    mail index records of archived cases and old case-less mails
    raw/YYYY/MM/<sha>.eml      every mail's raw bytes (0600)
    writer.lock                one writer process at a time

Every change made between two commit() calls becomes durable in ONE atomic write of
live.json: a new case, its diary number counter, its mail record and its notifications
land together or not at all. Closed cases are moved to the archive after the commit, by
an idempotent step (copy, flush, then delete), so a crash in between only leaves a copy
that the next writer finishes moving.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

import orjson
from tinydb import Query, TinyDB
from tinydb.table import Document

from bot.domain.case import Case
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.org import Subscription
from bot.mail.classify import CaseRef
from bot.store.atomic import open_db, remove_orphan_temp_files
from bot.store.lock import WriterLock
from bot.files import write_durably

log = logging.getLogger(__name__)

LIVE = "live.json"
CASELESS_MAIL_DAYS = 90      # ignored/duplicate mail records stay this long in live.json
SENT_NOTIFICATION_DAYS = 30  # delivered notifications stay this long in the outbox
ARCHIVE_CACHE_YEARS = 12     # archive years kept in memory (packed: about the file size each)


class TinyDbCaseStore:
    """The CaseStore port on TinyDB. Open with readonly=True beside a running writer."""

    def __init__(self, data_dir: Path, *, series: str = "VOK", digits: int = 4,
                 readonly: bool = False, command: str = "avvikelsebot"):
        self.data_dir = Path(data_dir)
        self.series, self.digits, self.readonly = series, digits, readonly
        self.lock: WriterLock | None = None
        if not readonly:
            self.lock = WriterLock(self.data_dir, command=command).acquire()
            for folder in (self.data_dir, self.data_dir / "archive"):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                remove_orphan_temp_files(folder)
        self._archives: OrderedDict[int, TinyDB] = OrderedDict()
        self._case_closed = False
        self._housekept = None
        self._open_live()
        if not readonly:
            self._finish_archiving()

    # ------------------------------------------------------------------ lifecycle
    def _open_live(self) -> None:
        self.db = open_db(self.data_dir / LIVE, readonly=self.readonly)
        self.cases = self.db.table("cases")
        self.mails = self.db.table("mails")
        self.outbox_table = self.db.table("outbox")
        self.counters = self.db.table("diary")
        self.markers = self.db.table("markers")
        self.subs = self.db.table("subscriptions")
        self.state = self.db.table("state")
        self._build_indexes()

    def _build_indexes(self) -> None:
        """Cheap look-ups at once; the mail index (every mail ever seen) on first need."""
        self._mail_ids = {record["key"]: int(i) for i, record in self.mails._read_table().items()}
        self._outbox_ids = {n["id"]: int(i) for i, n in self.outbox_table._read_table().items()}
        self._markers = {m["key"]: int(i) for i, m in self.markers._read_table().items()}
        self._mail_index_ready = False

    def _ensure_mail_index(self) -> None:
        """Duplicate keys, thread ids and conversations across live.json and the archive.
        Only intake needs it, so `status` beside a running bot never pays for it."""
        if self._mail_index_ready:
            return
        self._seen: dict[str, str | None] = {}
        self._by_message_id: dict[str, str] = {}
        self._by_conversation: dict[str, str] = {}
        self._mail_index_ready = True
        for path in sorted((self.data_dir / "archive").glob("mails-*.json")):
            for record in open_db(path, readonly=True).table("mails")._read_table().values():
                self._index_mail(record)
        for record in self.mails._read_table().values():
            self._index_mail(record)
        for doc in self.cases._read_table().values():
            self._index_case(doc)

    def _index_mail(self, record: dict) -> None:
        if not self._mail_index_ready:
            return
        self._seen[record["key"]] = record.get("number")
        number = record.get("number")
        if number and record.get("message_id"):
            self._by_message_id[record["message_id"].lower()] = number
        if number and record.get("conversation_id"):
            self._by_conversation[record["conversation_id"]] = number

    def _index_case(self, doc: dict) -> None:
        if not self._mail_index_ready:
            return
        for mid in doc.get("message_ids", []):
            self._by_message_id[mid.lower()] = doc["number"]
        for cid in doc.get("conversation_ids", []):
            self._by_conversation[cid] = doc["number"]

    def close(self) -> None:
        """Closes without writing: only commit() makes changes durable."""
        for db in self._archives.values():
            db.storage.storage.close()
        self._archives.clear()
        if self.lock:
            self.lock.release()
            self.lock = None

    def __enter__(self) -> "TinyDbCaseStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ transactions
    def commit(self) -> None:
        """Make every change since the last commit durable in one write, then archive
        (only when a case was closed, or once a day for old mail records and notifications:
        the scan of live.json stays off the path of every mail and command)."""
        self.db.storage.flush()
        if self._case_closed or self._housekept != datetime.now(timezone.utc).date():
            self._finish_archiving()

    def rollback(self) -> None:
        """Forget uncommitted changes (a command failed half-way)."""
        self._open_live()

    @property
    def dirty(self) -> bool:
        return self.db.storage.dirty

    # ------------------------------------------------------------------ diary numbers
    def next_number(self, year: int) -> DiaryNumber:
        """The next free number of the year; durable only with the commit of its case."""
        current = self.counters.get(doc_id=year)
        last = current["last"] if current else self._highest_archived(year)
        self.counters.upsert(Document({"year": year, "last": last + 1}, doc_id=year))
        return DiaryNumber(year, last + 1, self.series)

    def _highest_archived(self, year: int) -> int:
        # a live.json lost or replaced by hand must never make numbers be reused
        archive = self._archive(year)   # (a TinyDB is falsy when its default table is empty)
        keys = [int(k) for k in archive.table("cases")._read_table()] if archive is not None else []
        return max((k % 1_000_000 for k in keys), default=0)

    # ------------------------------------------------------------------ cases
    def put_case(self, case: Case) -> None:
        self._case_closed = self._case_closed or case.is_closed
        self.cases.upsert(Document(case.to_dict(), doc_id=case.key))
        self._index_case(case.to_dict())

    def get_case(self, number: DiaryNumber) -> Case | None:
        doc = self.cases.get(doc_id=number.key)
        if doc is None:
            archive = self._archive(number.year)
            doc = archive.table("cases").get(doc_id=number.key) if archive is not None else None
            return Case.from_dict(_unpack(doc)) if doc else None
        return Case.from_dict(dict(doc))

    def get_case_by_text(self, number: str) -> Case | None:
        parsed = parse_diary_number(number, self.series)
        return self.get_case(parsed) if parsed else None

    def live_cases(self) -> Iterator[Case]:
        """Open cases (and closed ones not yet moved to the archive)."""
        for doc in self.cases._read_table().values():
            yield Case.from_dict(doc)

    def open_cases(self) -> list[Case]:
        return [c for c in self.live_cases() if not c.is_closed]

    def all_cases(self, year: int | None = None) -> Iterator[Case]:
        seen: set[int] = set()
        for case in self.live_cases():
            if year is None or case.year == year:
                seen.add(case.key)
                yield case
        for archive_year in self.archive_years():
            if year is not None and archive_year != year:
                continue
            archive = self._archive(archive_year)
            for doc_id, doc in archive.table("cases")._read_table().items():
                if int(doc_id) not in seen:
                    yield Case.from_dict(_unpack(doc))

    def archive_years(self) -> list[int]:
        return sorted(int(p.stem.split("-")[1]) for p in (self.data_dir / "archive").glob("cases-*.json"))

    # ------------------------------------------------------------------ mail index (CaseLookup)
    def seen(self, duplicate_key: str) -> bool:
        self._ensure_mail_index()
        return duplicate_key in self._seen

    def by_number(self, number: DiaryNumber) -> CaseRef | None:
        case = self.get_case(number)
        return _ref(case) if case else None

    def by_message_ids(self, ids: tuple[str, ...]) -> CaseRef | None:
        self._ensure_mail_index()
        for mid in reversed(ids):  # the nearest reference first
            number = self._by_message_id.get(mid.lower())
            if number:
                return self.by_number(_parse(number, self.series))
        return None

    def by_conversation(self, conversation_id: str) -> CaseRef | None:
        self._ensure_mail_index()
        number = self._by_conversation.get(conversation_id)
        return self.by_number(_parse(number, self.series)) if number else None

    def record_mail(self, record: dict[str, Any]) -> None:
        """One mail's outcome; `key` is its duplicate key."""
        doc_id = self._mail_ids.get(record["key"])
        if doc_id is None:
            doc_id = self.mails.insert(record)
            self._mail_ids[record["key"]] = doc_id
        else:
            self.mails.update(record, doc_ids=[doc_id])
        self._index_mail(record)

    def mail_record(self, key: str) -> dict | None:
        doc_id = self._mail_ids.get(key)
        return dict(self.mails.get(doc_id=doc_id)) if doc_id else None

    def triage_record(self, triage_id: str) -> dict | None:
        """A mail waiting in triage (they stay in live.json until resolved)."""
        for record in self.mails._read_table().values():
            if record.get("triage_id") == triage_id:
                return dict(record)
        return None

    def mail_records(self) -> list[dict]:
        return [dict(r) for r in self.mails._read_table().values()]

    # ------------------------------------------------------------------ outbox
    def add_notification(self, notification: dict[str, Any]) -> bool:
        """Queue one notification; its id is the idempotency key (False if already queued)."""
        if notification["id"] in self._outbox_ids:
            return False
        self._outbox_ids[notification["id"]] = self.outbox_table.insert(notification)
        return True

    def update_notification(self, notification_id: str, fields: dict[str, Any]) -> None:
        self.outbox_table.update(fields, doc_ids=[self._outbox_ids[notification_id]])

    def outbox(self, state: str | None = None) -> list[dict]:
        items = [dict(n) for n in self.outbox_table._read_table().values()]
        return [n for n in items if state is None or n["state"] == state]

    # ------------------------------------------------------------------ reminder markers
    def has_marker(self, key: str) -> bool:
        """A reminder, escalation or digest with this key was already queued."""
        return key in self._markers

    def set_marker(self, key: str, value: dict[str, Any]) -> None:
        if key not in self._markers:
            self._markers[key] = self.markers.insert({"key": key, **value})

    # ------------------------------------------------------------------ adapter state
    def get_state(self, key: str) -> dict[str, Any] | None:
        """Small state an adapter keeps with the diary (Teams conversation references, the
        mailbox health); written with the next commit, like everything else."""
        found = self.state.get(_KEY == key)
        return dict(found["value"]) if found else None

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        self.state.upsert({"key": key, "value": value}, _KEY == key)

    def states(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        return {d["key"]: dict(d["value"]) for d in self.state._read_table().values()
                if d["key"].startswith(prefix)}

    # ------------------------------------------------------------------ chat-made subscriptions
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(Subscription(person=s["person"], units=(s["unit"],))
                     for s in self.subs._read_table().values())

    def subscribe(self, person: str, unit: str) -> bool:
        if any(s["person"] == person and s["unit"] == unit for s in self.subs._read_table().values()):
            return False
        self.subs.insert({"person": person, "unit": unit})
        return True

    def unsubscribe(self, person: str, unit: str) -> bool:
        ids = [int(i) for i, s in self.subs._read_table().items()
               if s["person"] == person and s["unit"] == unit]
        if ids:
            self.subs.remove(doc_ids=ids)
        return bool(ids)

    # ------------------------------------------------------------------ raw mail
    def keep_raw(self, raw: bytes, sha: str, arrived: datetime) -> str:
        """Write the raw bytes durably before anything refers to them; returns a relative path."""
        relative = Path("raw") / f"{arrived:%Y}" / f"{arrived:%m}" / f"{sha}.eml"
        path = self.data_dir / relative
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_durably(path, raw)
        return str(relative)

    # ------------------------------------------------------------------ archive
    def _archive(self, year: int) -> TinyDB | None:
        if year in self._archives:
            self._archives.move_to_end(year)
            return self._archives[year]
        path = self.data_dir / "archive" / f"cases-{year}.json"
        if self.readonly and not path.exists():
            return None
        db = open_db(path, readonly=self.readonly)
        self._archives[year] = db
        while len(self._archives) > ARCHIVE_CACHE_YEARS:
            _, old = self._archives.popitem(last=False)
            old.storage.flush()
        return db

    def _finish_archiving(self, now: datetime | None = None) -> None:
        """Move closed cases (with their mail records) and old case-less records out of live.json."""
        if self.readonly:
            return
        self._case_closed = False
        self._housekept = datetime.now(timezone.utc).date()
        closed = [doc for doc in self.cases._read_table().values() if doc["status"] == "closed"]
        now = now or datetime.now(timezone.utc)
        old_mail = (now - timedelta(days=CASELESS_MAIL_DAYS)).isoformat()
        closed_numbers = {doc["number"] for doc in closed}
        moving_mail = [(int(i), r) for i, r in self.mails._read_table().items()
                       if r.get("number") in closed_numbers
                       or (not r.get("number") and (r.get("outcome") != "triage"
                                                    or r.get("resolved"))
                           and r.get("at", "") < old_mail)]
        old_sent = (now - timedelta(days=SENT_NOTIFICATION_DAYS)).isoformat()
        stale_outbox = [int(i) for i, n in self.outbox_table._read_table().items()
                        if n["state"] == "sent" and n.get("sent_at", "") < old_sent]
        # reminder markers of closed cases are never needed again
        stale_markers = [i for key, i in self._markers.items()
                         if key.split(":", 1)[0] in closed_numbers]
        if not closed and not moving_mail and not stale_outbox:
            return
        for doc in closed:
            self._archive(doc["key"] // 1_000_000).table("cases").upsert(
                Document(_pack(doc), doc_id=doc["key"]))
        by_year: dict[str, list[dict]] = {}
        for _, record in moving_mail:
            by_year.setdefault(record.get("at", "0000")[:4], []).append(record)
        for year in {doc["key"] // 1_000_000 for doc in closed}:
            self._archive(year).storage.flush()
        for year, records in by_year.items():
            mails_db = open_db(self.data_dir / "archive" / f"mails-{year}.json")
            table = mails_db.table("mails")
            existing = {r["key"] for r in table._read_table().values()}
            table.insert_multiple(r for r in records if r["key"] not in existing)
            mails_db.storage.flush()
        # only now, with the copies durable, remove them from live.json
        if closed:
            self.cases.remove(doc_ids=[doc["key"] for doc in closed])
        if moving_mail:
            self.mails.remove(doc_ids=[i for i, _ in moving_mail])
            for _, record in moving_mail:
                self._mail_ids.pop(record["key"], None)
        if stale_markers:
            self.markers.remove(doc_ids=stale_markers)
            self._markers = {m["key"]: int(i) for i, m in self.markers._read_table().items()}
        if stale_outbox:
            self.outbox_table.remove(doc_ids=stale_outbox)
            self._outbox_ids = {n["id"]: int(i) for i, n in self.outbox_table._read_table().items()}
        self.db.storage.flush()
        log.info("archived %d closed cases, %d mail records", len(closed), len(moving_mail))


_KEY = Query().key


def _pack(doc: dict) -> dict:
    """An archived case as one JSON text: a year's archive then loads as a few thousand
    strings instead of a million small objects (status of a 2019 case in ~10 ms, not ~150),
    and a case is decoded only when asked for."""
    return {"number": doc["number"], "case": orjson.dumps(doc).decode()}


def _unpack(doc: dict) -> dict:
    return orjson.loads(doc["case"]) if "case" in doc else dict(doc)


def _ref(case: Case) -> CaseRef:
    return CaseRef(number=case.number, kind=case.kind, unit=case.unit,
                   counterpart=case.counterpart, closed=case.is_closed)


def _parse(number: str, series: str) -> DiaryNumber:
    year, seq = number.split()[-1].split("/")
    return DiaryNumber(int(year), int(seq), series)

