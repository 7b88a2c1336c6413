"""Leadership among instances on one database: one leader at a time, a takeover when the
leader's session is gone, and fencing: a former leader that wakes up after a takeover (a
paused process whose session the server ended) has its mailbox transaction refused."""
from __future__ import annotations

import time

from datetime import datetime, timezone

import psycopg
import pytest

from bot.domain.case import Case, iso
from bot.errors import StoreError
from bot.store.leader import Leadership
from bot.store.postgres import PostgresCaseStore
from bot.usecases.uow import UnitOfWork

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


def _diarise(store: PostgresCaseStore, title: str) -> None:
    with UnitOfWork(store):
        number = store.next_number(2026)
        store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                            title=title, status="diarised", created=iso(NOW)))


def test_one_leader_then_a_takeover_and_the_old_leader_is_fenced(database_url):
    PostgresCaseStore(database_url).close()                   # the schema
    first, second = Leadership(database_url, name="a:1"), Leadership(database_url, name="b:2")
    old_store, new_store = PostgresCaseStore(database_url), PostgresCaseStore(database_url)
    assert first.try_lead() == 1
    assert second.try_lead() is None, "two leaders at once"
    with old_store.fenced(1):
        _diarise(old_store, "while leading")                 # the leader acts

    # the leader pauses; the server ends its session (as when a host vanishes)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = 'avvikelsebot leader a:1'")
    # pg_terminate_backend returns before the session has gone and released its lock:
    # the takeover is decided by the lock becoming free, within the failover bound
    deadline = time.monotonic() + 10
    while (epoch := second.try_lead()) is None:
        assert time.monotonic() < deadline, "no takeover within 10 s"
        time.sleep(0.05)
    assert epoch == 2
    with new_store.fenced(2):
        _diarise(new_store, "the new leader")

    with pytest.raises(StoreError):                          # the old one wakes up
        with old_store.fenced(1):
            _diarise(old_store, "after the takeover")
    assert first.try_lead() is None, "the old leader knows it lost"
    titles = [c.title for c in new_store.all_cases()]
    assert titles == ["while leading", "the new leader"]
    assert new_store.next_number(2026).seq == 3, "the refused case took no number"
    for part in (first, second, old_store, new_store):
        part.close()


def test_a_frozen_leader_holding_locks_is_replaced_and_its_late_commit_is_refused(database_url):
    """Issue 22, item 3: a leader that freezes (SIGSTOP, a paused VM) keeps its sessions open,
    with its transaction, its row locks and its advisory lock. Its lease runs out, another
    instance takes over within the bound, ends the frozen sessions and diarises (the frozen
    one held the year's counter row and the leader row); when the frozen one wakes up and
    goes on, nothing of its term is written: no case, no mail, no reminder marker."""
    PostgresCaseStore(database_url).close()
    first = Leadership(database_url, name="a:1", lease=1.0)
    second = Leadership(database_url, name="b:2", lease=1.0)
    old_store = PostgresCaseStore(database_url, instance="a:1")
    new_store = PostgresCaseStore(database_url, instance="b:2")
    # the lease runs from this renewal (not from the freeze below, which setup delays)
    renewed_at = time.monotonic()
    assert first.try_lead() == 1
    assert second.try_lead() is None
    old_store.hold_claim("a-token")               # a notification in flight on the leader
    # the leader diarises a mail and marks a reminder sent, has checked its epoch under a
    # share lock on the leader row (as commit does), and freezes before COMMIT
    uow = UnitOfWork(old_store)
    uow.__enter__()
    number = old_store.next_number(2026)
    old_store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                            title="frozen", status="diarised", created=iso(NOW)))
    old_store.mark_reminder("case:VOK 2026/0001:ack", "2026-11-16", iso(NOW))
    old_store._sql("SELECT epoch FROM leader WHERE id = 1 FOR SHARE")
    assert first.current() == 1

    deadline = time.monotonic() + 10
    while (epoch := second.try_lead()) is None:
        assert time.monotonic() < deadline, "no takeover from the frozen leader within 10 s"
        time.sleep(0.05)
    assert epoch == 2 and time.monotonic() - renewed_at >= 1.0, "taken before the lease ran out"
    assert first.current() is None, "the frozen leader's own lease ran out too"
    with new_store.fenced(2):
        _diarise(new_store, "the new leader")        # not held up by the frozen one's locks
    assert new_store.claim_alive("a-token"), \
        "the frozen one's notification in flight would be sent again by another instance"

    # the frozen leader wakes up and goes on: its commit is refused, and so is a new try
    with pytest.raises((StoreError, psycopg.Error)):
        with old_store.fenced(1):
            uow.__exit__(None, None, None)
    old_store.rollback()                              # a new session
    with pytest.raises(StoreError):
        with old_store.fenced(1):
            _diarise(old_store, "after the takeover")
    assert first.try_lead() is None, "the old leader knows it lost"
    assert [c.title for c in new_store.all_cases()] == ["the new leader"]
    assert new_store.get_case_by_text("VOK 2026/0001").title == "the new leader"
    assert new_store.markers() == [], "a reminder marker of the old term was written"
    with psycopg.connect(database_url, autocommit=True) as admin:
        assert admin.execute("SELECT epoch, holder FROM leader").fetchall() == [(2, "b:2")]
    for part in (first, second, old_store, new_store):
        part.close()


def test_a_leader_that_keeps_renewing_is_never_replaced(database_url):
    PostgresCaseStore(database_url).close()
    first = Leadership(database_url, name="a:1", lease=1.0)
    second = Leadership(database_url, name="b:2", lease=1.0)
    assert first.try_lead() == 1
    until = time.monotonic() + 3                       # three leases
    while time.monotonic() < until:
        assert first.try_lead() == 1
        assert second.try_lead() is None, "a live leader was replaced"
        time.sleep(0.2)
    first.close()
    second.close()
