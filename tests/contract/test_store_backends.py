"""The store's contract, on both backends (TinyDB in a data directory, PostgreSQL started by
the suite): what a unit of work commits is there after a reopen and beside the writer, what
it rolls back is gone (its diary number too), a nested unit of work undoes only itself, and
the mail index, the outbox, the markers, adapter state and subscriptions behave the same."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.case import Case, Document, iso
from bot.store.postgres import PostgresCaseStore
from bot.store.repository import TinyDbCaseStore
from bot.usecases.uow import UnitOfWork

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


@pytest.fixture(params=["tinydb", "postgresql"])
def open_store(request, tmp_path):
    """open_store(readonly=False) -> a store on this test's one location; closed at the end."""
    if request.param == "tinydb":
        def make(readonly=False):
            return TinyDbCaseStore(tmp_path / "data", readonly=readonly)
    else:
        url = request.getfixturevalue("database_url")

        def make(readonly=False):
            return PostgresCaseStore(url, readonly=readonly)
    opened = []

    def opener(readonly=False):
        store = make(readonly)
        opened.append(store)
        return store
    yield opener
    for store in reversed(opened):
        store.close()


def _case(store, *, closed=False, conversation=None) -> Case:
    number = store.next_number(2026)
    mid = f"m{number.seq}@regionexempel.se"
    return Case(number=number.format(4), key=number.key, kind="incoming",
                title=f"Avvikelse {number.seq}", status="closed" if closed else "diarised",
                created=iso(NOW),
                documents=[Document(1, "deviation", iso(NOW), "lisa@regionexempel.se", "s", mid)],
                message_ids=[mid], conversation_ids=[conversation] if conversation else [])


def _add(store, **kw) -> Case:
    with UnitOfWork(store):
        case = _case(store, **kw)
        store.put_case(case)
        store.record_mail({"key": f"mid:{case.message_ids[0]}", "outcome": "new_case",
                           "number": case.number, "message_id": case.message_ids[0],
                           "conversation_id": None, "at": iso(NOW), "content_hash": "h"})
    return case


def _note(ident: str, state: str = "pending", **extra) -> dict:
    return {"id": ident, "recipient": "anna", "channel": "console", "diary_number": None,
            "event": "x", "text": "t", "view": {}, "state": state, "created": iso(NOW),
            "attempts": 0, "next_attempt": iso(NOW), **extra}


def test_committed_survives_a_reopen_and_is_seen_beside_the_writer(open_store):
    store = open_store()
    first = _add(store)
    reader = open_store(readonly=True)
    assert reader.get_case_by_text(first.number).title == first.title
    with pytest.raises(RuntimeError):
        with UnitOfWork(store):
            store.put_case(_case(store))
            raise RuntimeError("a use case failed half-way")
    assert [c.number for c in store.open_cases()] == [first.number]
    assert _add(store).number == "VOK 2026/0002", "a rolled-back number is free again"
    store.close()
    again = open_store()
    assert [c.number for c in again.open_cases()] == [first.number, "VOK 2026/0002"]
    assert again.mail_seen(f"mid:{first.message_ids[0]}")["number"] == first.number
    assert again.mail_seen("mid:never@x") is None


def test_a_nested_unit_of_work_that_fails_undoes_only_its_own_changes(open_store):
    store = open_store()
    uow = UnitOfWork(store)
    with uow:
        kept = _case(store)
        store.put_case(kept)
        try:
            with uow:
                store.put_case(_case(store))
                store.add_notification(_note("inner"))
                raise ValueError("one bad mail in a batch")
        except ValueError:
            pass
        store.add_notification(_note("outer"))
    reopened = open_store(readonly=True)
    assert [c.number for c in reopened.open_cases()] == [kept.number]
    assert [n["id"] for n in reopened.outbox()] == ["outer"]


def test_the_mail_index_finds_duplicates_replies_conversations_and_triage(open_store):
    store = open_store()
    case = _add(store, conversation="conv-1")
    with UnitOfWork(store):
        store.record_mail({"key": "mid:reply@x", "outcome": "added_to_case", "number": case.number,
                           "message_id": "<Reply@X>", "conversation_id": "conv-2",
                           "at": iso(NOW), "content_hash": "h2"})
        store.record_mail({"key": "mid:odd@x", "outcome": "triage", "number": None,
                           "triage_id": "T7", "message_id": "<odd@x>", "conversation_id": None,
                           "at": iso(NOW), "content_hash": "h3"})
        path = store.keep_raw(b"From: a@b\r\n\r\nhej", "abc123", NOW)
    assert store.case_for_message_id(case.message_ids[0].upper()) == case.number
    assert store.case_for_message_id("<reply@x>") == case.number
    assert store.case_for_conversation("conv-1") == case.number
    assert store.case_for_conversation("conv-2") == case.number
    assert store.case_for_conversation("conv-3") is None
    assert store.triage_record("T7")["key"] == "mid:odd@x"
    assert store.triage_record("T8") is None
    assert store.read_raw(path) == b"From: a@b\r\n\r\nhej"


def test_the_outbox_is_idempotent_and_keeps_history(open_store):
    store = open_store()
    with UnitOfWork(store):
        assert store.add_notification(_note("n1"))
        assert not store.add_notification(_note("n1")), "an id is queued once"
        store.add_notification(_note("n2"))
    with UnitOfWork(store):
        store.update_notification("n1", {"state": "sent", "sent_at": iso(NOW), "attempts": 1})
    assert [n["id"] for n in store.outbox("pending")] == ["n2"]
    assert store.notification("n1")["state"] == "sent"
    store.housekeep(NOW + timedelta(hours=1))
    assert [n["id"] for n in store.outbox()] == ["n2"], "delivered long ago: history"
    assert [n["id"] for n in store.outbox_history()] == ["n1"]
    assert store.notification("n1")["sent_at"] == iso(NOW)
    with pytest.raises(Exception):
        with UnitOfWork(store):
            store.update_notification("nope", {"state": "sent"})


def test_an_item_handed_to_email_is_done_and_a_failed_one_stays_live(open_store):
    """Issue 22: `fallback` (handed to e-mail) is done like `sent` — history after a while,
    and its e-mail beside it; a `failed` item stays live (visible, retried) in both stores."""
    store = open_store()
    with UnitOfWork(store):
        store.add_notification(_note("chat", channel="slack"))
        store.add_notification(_note("unit-post", channel="slack"))
    with UnitOfWork(store):
        store.update_notification("chat", {"state": "fallback", "fallback_at": iso(NOW),
                                           "fallback_to": ["fallback:chat"]})
        store.add_notification(_note("fallback:chat", channel="email", fallback_for="chat"))
        store.update_notification("unit-post", {"state": "failed", "failed_at": iso(NOW)})
    assert [n["id"] for n in store.outbox("fallback")] == ["chat"]
    assert [n["id"] for n in store.outbox("failed")] == ["unit-post"]
    assert [n["id"] for n in store.outbox("pending")] == ["fallback:chat"]
    store.housekeep(NOW + timedelta(hours=1))
    assert sorted(n["id"] for n in store.outbox()) == ["fallback:chat", "unit-post"]
    assert [n["id"] for n in store.outbox_history()] == ["chat"]
    assert store.notification("chat")["fallback_to"] == ["fallback:chat"]


def test_markers_state_and_subscriptions(open_store):
    store = open_store()
    slot = "VOK 2026/0001:register:reminder:anna"
    with UnitOfWork(store):
        for day in ("2026-11-19", "2026-11-23"):
            store.mark_reminder(slot, day, iso(NOW))
        store.set_state("teams:anna", {"ref": 1})
        store.set_state("teams:bo", {"ref": 2})
        store.set_state("mailbox", {"ok": True})
        assert store.subscribe("anna", "hemtjanst-norr")
        assert not store.subscribe("anna", "hemtjanst-norr")
        assert store.unsubscribe("bo", "hemtjanst-syd", pause=True)
    assert store.reminder_sent(slot, "2026-11-23") and not store.reminder_sent(slot, "2026-11-24")
    assert store.states("teams:") == {"teams:anna": {"ref": 1}, "teams:bo": {"ref": 2}}
    assert store.get_state("mailbox") == {"ok": True} and store.get_state("x") is None
    subs = {(s.person, s.units, s.paused) for s in store.subscriptions()}
    assert subs == {("anna", ("hemtjanst-norr",), False), ("bo", ("hemtjanst-syd",), True)}
    assert store.subscription_overrides()[("bo", "hemtjanst-syd")]["paused"] is True
    with UnitOfWork(store):
        assert store.unsubscribe("anna", "hemtjanst-norr")
        assert not store.unsubscribe("anna", "hemtjanst-norr")
    assert {s.person for s in store.subscriptions()} == {"bo"}


def test_all_cases_streams_every_year_open_and_closed(open_store):
    store = open_store()
    made = [_add(store, closed=i % 2 == 0) for i in range(6)]
    store.housekeep(NOW + timedelta(hours=1))
    assert sorted(c.number for c in store.all_cases()) == sorted(c.number for c in made)
    assert sorted(c.number for c in store.all_cases(2026)) == sorted(c.number for c in made)
    assert list(store.all_cases(2025)) == []
    assert store.archive_years() == [2026]
    assert store.get_case_by_text(made[0].number).status == "closed"
