"""The store's contract on TinyDB: a commit costs what changed, the live set stays bounded
by what is open, and nothing committed is ever lost (reopened, read beside the writer, killed
mid-append)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.case import Case, Document, iso
from bot.store.repository import JOURNAL, LIVE, TinyDbCaseStore
from bot.usecases.uow import UnitOfWork

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


def _case(store: TinyDbCaseStore, *, closed: bool = False) -> Case:
    number = store.next_number(2026)
    mid = f"m{number.seq}@regionexempel.se"
    return Case(number=number.format(4), key=number.key, kind="incoming", title=f"Avvikelse {number.seq}",
                status="closed" if closed else "diarised", created=iso(NOW),
                documents=[Document(1, "deviation", iso(NOW), "lisa@regionexempel.se", "s", mid)],
                message_ids=[mid])


def _add(store: TinyDbCaseStore, *, closed: bool = False) -> Case:
    with UnitOfWork(store):
        case = _case(store, closed=closed)
        store.put_case(case)
        store.record_mail({"key": f"mid:{case.message_ids[0]}", "outcome": "new_case",
                           "number": case.number, "message_id": case.message_ids[0],
                           "conversation_id": None, "at": iso(NOW), "content_hash": "h"})
    return case


def test_a_commit_appends_what_changed_and_never_rewrites_the_live_file(tmp_path):
    store = TinyDbCaseStore(tmp_path)
    for _ in range(50):
        _add(store)
    live = (tmp_path / LIVE).stat()
    journal = (tmp_path / JOURNAL).stat().st_size
    _add(store)
    assert (tmp_path / LIVE).stat().st_mtime_ns == live.st_mtime_ns, "live.json was rewritten"
    grown = (tmp_path / JOURNAL).stat().st_size - journal
    assert 0 < grown < 2000, f"one case cost {grown} bytes of journal"
    store.close()


def test_what_was_committed_is_there_after_a_reopen_and_beside_the_writer(tmp_path):
    store = TinyDbCaseStore(tmp_path)
    first = _add(store)
    reader = TinyDbCaseStore(tmp_path, readonly=True)          # the writer still runs
    assert reader.get_case_by_text(first.number).title == first.title
    with pytest.raises(RuntimeError):
        with UnitOfWork(store):
            store.put_case(_case(store))
            raise RuntimeError("a use case failed half-way")
    assert not store.dirty and len(store.open_cases()) == 1
    assert store.next_number(2026).seq == 2, "a rolled-back number is free again"
    store.rollback()
    store.close()
    again = TinyDbCaseStore(tmp_path)
    assert [c.number for c in again.open_cases()] == [first.number]
    assert again.mail_seen(f"mid:{first.message_ids[0]}")["number"] == first.number
    again.close()


def test_a_torn_last_journal_line_was_never_acknowledged_and_is_ignored(tmp_path):
    store = TinyDbCaseStore(tmp_path)
    kept = _add(store)
    store.journal.close()
    store.writer_lock.release()          # as if killed: no checkpoint at close
    store.writer_lock = None
    with open(tmp_path / JOURNAL, "ab") as journal:
        journal.write(b'{"seq": 99, "ops": [["cases", 1, {"trunc')
    reopened = TinyDbCaseStore(tmp_path)
    assert [c.number for c in reopened.open_cases()] == [kept.number]
    reopened.close()


def test_housekeeping_keeps_the_live_set_to_what_is_open(tmp_path):
    store = TinyDbCaseStore(tmp_path)
    closed = [_add(store, closed=True) for _ in range(30)]
    open_case = _add(store)
    with UnitOfWork(store):
        store.add_notification({"id": "n1", "recipient": "anna", "channel": "console",
                                "diary_number": open_case.number, "event": "x", "text": "t",
                                "view": {}, "state": "sent", "created": iso(NOW),
                                "sent_at": iso(NOW), "attempts": 1, "next_attempt": iso(NOW)})
        store.mark_reminder(f"{closed[0].number}:register:reminder:anna", "2026-11-16", iso(NOW))
    moved = store.housekeep(NOW + timedelta(hours=1))
    assert moved == {"cases": 30, "mails": 30, "notifications": 1, "markers": 1}
    store.close()                                      # a clean stop writes the checkpoint
    reopened = TinyDbCaseStore(tmp_path, readonly=True)
    assert [c.number for c in reopened.live_cases()] == [open_case.number]
    assert len(reopened.mail_records()) == 1 and reopened.outbox() == []
    # what left is still found: the case, its mail (a duplicate stays a duplicate), the
    # case a reply belongs to, the delivered notification
    assert reopened.get_case_by_text(closed[3].number).status == "closed"
    assert reopened.mail_seen(f"mid:{closed[3].message_ids[0]}")["number"] == closed[3].number
    assert reopened.case_for_message_id(closed[5].message_ids[0]) == closed[5].number
    assert reopened.notification("n1")["state"] == "sent"
    assert [n["id"] for n in reopened.outbox_history()] == ["n1"]
    assert reopened.mail_seen("mid:never-seen@x") is None


def test_one_marker_per_case_step_level_and_recipient(tmp_path):
    store = TinyDbCaseStore(tmp_path)
    slot = "VOK 2026/0001:register:reminder:anna"
    with UnitOfWork(store):
        for day in ("2026-11-19", "2026-11-23", "2026-11-25"):
            store.mark_reminder(slot, day, iso(NOW))
    assert store.reminder_sent(slot, "2026-11-23") and store.reminder_sent(slot, "2026-11-25")
    assert not store.reminder_sent(slot, "2026-11-27")
    assert len(list(store.tables["markers"])) == 1
    store.close()
