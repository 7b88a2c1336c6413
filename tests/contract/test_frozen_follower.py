"""A frozen process that is not the leader (a registrator's `ingest` stopped with Ctrl-Z, a
follower instance on a paused VM) while it holds the year's counter row: a takeover ends
only the leader's sessions, so before the fix every other instance and CLI waited for that
row for as long as the process stayed frozen, and nobody could diarise. The server now ends
the frozen transaction (COUNTER_IDLE); its number is freed, and when the process goes on its
commit fails and nothing of it is written.

The holder is a real process frozen with SIGSTOP; the test decides by what the database
holds, polling with a deadline."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg

from bot.domain.case import Case, iso
from bot.store.postgres import PostgresCaseStore
from bot.usecases.uow import UnitOfWork
from tests.contract.test_leadership import NOW

REPO = Path(__file__).resolve().parents[2]
HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from datetime import datetime, timezone
    from bot.domain.case import Case, iso
    from bot.store.postgres import PostgresCaseStore
    from bot.usecases.uow import UnitOfWork

    url, holding, go, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    store = PostgresCaseStore(url, instance="cli:frozen")
    uow = UnitOfWork(store)
    uow.__enter__()
    number = store.next_number(2026)
    store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                        title="frozen holder", status="diarised",
                        created=iso(datetime(2026, 11, 16, 9, tzinfo=timezone.utc))))
    holding.write_text(number.format(4))
    while not go.exists():          # frozen here by the test
        time.sleep(0.02)
    try:
        uow.__exit__(None, None, None)
        result.write_text("committed")
    except Exception as exc:
        result.write_text("refused " + type(exc).__name__)
""")

LIMIT = 30.0      # COUNTER_IDLE (10 s) with room for a loaded machine


def _wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear within {seconds} s"
        time.sleep(0.02)
    return path.read_text()


def test_a_frozen_non_leader_holding_the_counter_row_does_not_stop_diarising(database_url, tmp_path):
    PostgresCaseStore(database_url).close()                      # the schema
    holding, go, result = tmp_path / "holding", tmp_path / "go", tmp_path / "result"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url, str(holding), str(go), str(result)],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert _wait_for(holding, 60) == "VOK 2026/0001"
        os.kill(holder.pid, signal.SIGSTOP)

        # another instance diarises: it waits for the row only until the server ends the
        # frozen transaction, and gets the number the frozen one never committed
        store = PostgresCaseStore(database_url, instance="b:2")
        diarised: list[str] = []

        def diarise() -> None:
            with UnitOfWork(store):
                number = store.next_number(2026)
                store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                                    title="diarised meanwhile", status="diarised", created=iso(NOW)))
            diarised.append(number.format(4))

        worker = threading.Thread(target=diarise, daemon=True)
        worker.start()
        worker.join(LIMIT)
        assert diarised, f"diarising still waits for the frozen process after {LIMIT:.0f} s"
        assert diarised == ["VOK 2026/0001"], "the frozen process's number was not freed"

        # the frozen process goes on: its commit is refused and nothing of it is written
        os.kill(holder.pid, signal.SIGCONT)
        go.write_text("go")
        assert _wait_for(result, 60).startswith("refused"), "the frozen transaction committed"
        assert [c.title for c in store.all_cases()] == ["diarised meanwhile"]
        with psycopg.connect(database_url, autocommit=True) as admin:
            assert admin.execute("SELECT last FROM counters").fetchall() == [(1,)]
        store.close()
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        holder.kill()
        holder.wait(timeout=30)
