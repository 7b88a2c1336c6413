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
