"""The PostgreSQL store through database outages (issue 22, item 2): the connection is
killed at each step of a unit of work — its backend terminated (pg_terminate_backend) or the
whole server restarted — and the unit of work that met it fails with a StoreError, lets go of
every lock, and the next unit of work (from another thread, as in `run`) runs and commits.
Decided by durable rows read over a connection of the test's own, never by sleeping."""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable

import psycopg
import pytest

from bot.errors import StoreError
from bot.store.postgres import PostgresCaseStore
RECONNECT_MAX_SECONDS = 10.0
from bot.usecases.uow import UnitOfWork

NEXT_UNIT_LIMIT = RECONNECT_MAX_SECONDS + 20.0   # the next unit of work runs within this


@pytest.fixture(scope="module")
def own_postgres():
    """A cluster of this module's own: its tests stop and restart it."""
    from tests.realparts.postgres import Postgres
    server = Postgres().start()
    yield server
    server.stop()


def durable(url: str, key: str) -> dict | None:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT value FROM state WHERE key = %s", (key,)).fetchone()
        return dict(row[0]) if row else None


def in_thread(work: Callable[[], object], limit: float) -> object:
    """What `work` returned or raised in a thread of its own; fails the test when it does not
    finish in `limit` seconds (a lock left held makes it wait for ever)."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:          # handed to the test
            outcome.append(exc)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit} s (a lock left held?)"
    return outcome[0]


def next_unit_commits(store: PostgresCaseStore, key: str) -> object:
    """Units of work until one commits: during an outage they fail (StoreError), never hang."""
    uow = UnitOfWork(store)
    deadline = time.monotonic() + NEXT_UNIT_LIMIT
    while True:
        try:
            with uow:
                store.set_state(key, {"done": True})
            return True
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)           # a poll interval; the deadline decides


STEPS = ("enter", "savepoint", "read", "write", "commit", "exit-restore", "exit-rollback")


def failing_unit(step: str, store: PostgresCaseStore, kill: Callable[[], None]) -> object:
    """One unit of work that meets a dead connection at `step`."""
    uow = UnitOfWork(store)
    try:
        if step == "enter":                 # dead before the unit of work starts
            kill()
            with uow:
                store.set_state("during", {"step": step})
        elif step == "savepoint":           # a nested unit of work: SAVEPOINT in __enter__
            with uow:
                store.set_state("during", {"step": step})
                kill()
                with uow:
                    store.set_state("during-inner", {"step": step})
        elif step == "read":
            with uow:
                store.set_state("during", {"step": step})
                kill()
                store.get_state("before")
        elif step == "write":
            with uow:
                kill()
                store.set_state("during", {"step": step})
        elif step == "commit":              # COMMIT in __exit__
            with uow:
                store.set_state("during", {"step": step})
                kill()
        elif step == "exit-restore":        # ROLLBACK TO SAVEPOINT in the inner __exit__
            with uow:
                with uow:
                    store.set_state("during", {"step": step})
                    kill()
                    raise LookupError("the use case fails")
        elif step == "exit-rollback":       # ROLLBACK in the outer __exit__
            with uow:
                store.set_state("during", {"step": step})
                kill()
                raise LookupError("the use case fails")
    except BaseException as exc:
        return exc
    return None


def terminator(url: str, store: PostgresCaseStore) -> Callable[[], None]:
    def kill() -> None:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (store.conn.info.backend_pid,))
    return kill


@pytest.mark.parametrize("how", ["terminate", "restart"])
@pytest.mark.parametrize("step", STEPS)
def test_a_connection_killed_at_each_step_fails_that_unit_and_the_next_one_runs(own_postgres, step,
                                                                               how):
    url = own_postgres.new_database()
    store = PostgresCaseStore(url)
    try:
        with UnitOfWork(store):
            store.set_state("before", {"ok": True})
        kill = terminator(url, store) if how == "terminate" else own_postgres.restart
        failed = in_thread(lambda: failing_unit(step, store, kill), NEXT_UNIT_LIMIT)
        if step == "exit-rollback":         # the use case's own error, not the rollback's
            assert isinstance(failed, LookupError), repr(failed)
        else:
            assert isinstance(failed, StoreError), repr(failed)
        # the next unit of work, from another thread (`run`'s loops each have their own)
        assert in_thread(lambda: next_unit_commits(store, "after"), NEXT_UNIT_LIMIT + 5) is True
        assert durable(url, "after") == {"done": True}
        assert durable(url, "during") is None and durable(url, "during-inner") is None
        assert durable(url, "before") == {"ok": True}
    finally:
        in_thread(store.close, 15)


def test_a_database_down_longer_than_the_back_off_fails_fast_logs_twice_and_heals(own_postgres,
                                                                                  caplog):
    """Held down longer than the longest pause between reconnects: every unit of work in
    the outage fails at once (none hangs), the outage is one log line when it starts and
    one when it ends, and the unit of work after it runs."""
    caplog.set_level(logging.INFO, logger="bot.store.postgres")
    url = own_postgres.new_database()
    store = PostgresCaseStore(url)
    try:
        own_postgres.halt()
        try:
            tries, slowest = 0, 0.0
            down_until = time.monotonic() + 1.5 * RECONNECT_MAX_SECONDS
            while time.monotonic() < down_until:
                started = time.monotonic()
                failed = in_thread(lambda: failing_unit("write", store, lambda: None), 15)
                slowest = max(slowest, time.monotonic() - started)
                assert isinstance(failed, StoreError), repr(failed)
                tries += 1
                time.sleep(0.05)
        finally:
            own_postgres.resume()
        assert tries > 20 and slowest < 2.0, (tries, slowest)
        assert in_thread(lambda: next_unit_commits(store, "after"), NEXT_UNIT_LIMIT + 5) is True
        assert durable(url, "after") == {"done": True}
    finally:
        in_thread(store.close, 15)
    messages = [r.getMessage() for r in caplog.records
                if r.name == "bot.store.postgres" and r.levelno >= logging.WARNING]
    assert len(messages) == 2, messages
    assert messages[0].startswith("databasen nås inte") and messages[1].startswith("databasen nås igen")
    assert not [r for r in caplog.records if r.exc_info]


def test_a_claim_lock_still_held_by_the_broken_session_does_not_stop_the_next_unit(own_postgres):
    """The outbox's claim token is a session lock in a session of its own (a new leader never
    ends it), taken again on a new session when that one broke. When the old session still
    holds it (the server has not noticed the cut yet: until TCP keepalive), taking it must
    not wait: the next unit of work and the next claim round run, and the claim is taken
    again once the old session is gone."""
    url = own_postgres.new_database()
    store = PostgresCaseStore(url)
    zombie = psycopg.connect(url, autocommit=True)     # plays the old session, still alive
    try:
        with UnitOfWork(store):
            store.hold_claim("claim-token")
        with psycopg.connect(url, autocommit=True) as admin:   # the database cut both sessions
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                          "datname = current_database() AND pid <> pg_backend_pid() "
                          "AND pid <> %s", (zombie.info.backend_pid,))
        zombie.execute("SELECT pg_advisory_lock(hashtextextended('claim-token', 0))")
        assert isinstance(in_thread(lambda: failing_unit("read", store, lambda: None), 15),
                          StoreError)
        assert in_thread(lambda: next_unit_commits(store, "after"), NEXT_UNIT_LIMIT + 5) is True
        assert durable(url, "after") == {"done": True}

        def claim_round() -> bool:
            with UnitOfWork(store):
                store.hold_claim("claim-token")         # must not wait for the zombie
            return True
        assert in_thread(claim_round, 15) is True
        zombie.close()                                  # the server notices the old session
        deadline = time.monotonic() + 10                # (its backend exits a moment later)
        while "claim-token" not in store._claim_tokens and time.monotonic() < deadline:
            assert in_thread(claim_round, 15) is True   # a claim round takes it again
        with psycopg.connect(url, autocommit=True) as other:
            taken = other.execute("SELECT pg_try_advisory_lock(hashtextextended('claim-token', 0))")
            assert taken.fetchone() == (False,), "this process's claims look abandoned"
    finally:
        zombie.close()
        in_thread(store.close, 15)
