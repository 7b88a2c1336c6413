"""The real `avvikelsebot run` on PostgreSQL when the database goes away (issue 22, items 2, 4
and 5): restarted under a running instance, stopped for longer than every retry budget, and
down when `run` starts. Decided by what a person or a monitor sees: rows in the database,
/readyz answers, the log, the exit code.

The installed console script runs from a directory of its own with DATABASE_URL and
HEALTH_PORT in its environment, on the Maildir source; the database is a cluster of this
module's own (tests/realparts/postgres.py), stopped and started by the test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest

from bot.mail.maildir import MaildirMailSource
from bot.store.postgres import RECONNECT_MAX_SECONDS
from tests.fakes.mail import make_mail
from tests.realparts.dovecot import free_port
from tests.scenario.test_cli import CLI, EXAMPLE_CONFIG

STOP_LIMIT = 30.0            # the unit's TimeoutStopSec
OUTAGE_SECONDS = RECONNECT_MAX_SECONDS + 5.0     # longer than the longest pause between tries


@pytest.fixture(scope="module")
def own_postgres():
    from tests.realparts.postgres import Postgres
    server = Postgres().start()
    yield server
    server.stop()


class Run:
    """`avvikelsebot run` in a process of its own; its log in a file the test reads."""

    def __init__(self, tmp: Path, url: str):
        self.data, self.log_path = tmp / "data", tmp / "run.log"
        self.port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "HEALTH_PORT": str(self.port)}
        self.process = subprocess.Popen(
            [CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(self.data), "run"],
            stdout=subprocess.DEVNULL, stderr=open(self.log_path, "w"), env=env, cwd=tmp)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, str, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as answer:
            return answer.code, answer.headers.get("Content-Type", ""), answer.read().decode()
        except OSError:
            return 0, "", ""            # not listening (yet)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"SIGTERM did not end run within {STOP_LIMIT} s:\n{self.log()}")


def wait_for(check, what: str, limit: float, run: Run | None = None):
    deadline = time.monotonic() + limit
    while True:
        found = check()
        if found:
            return found
        if run is not None and run.process.poll() is not None:
            raise AssertionError(f"run ended (exit {run.process.returncode}) while waiting for "
                                 f"{what}:\n{run.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {limit} s: {what}\n{run.log() if run else ''}")
        time.sleep(0.1)


def deliver(data: Path, n: int) -> str:
    mid = f"<pg-outage-{n}@regionexempel.se>"
    MaildirMailSource(data / "inbox").deliver(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", message_id=mid,
        subject=f"Avvikelse Hemtjänst Norr – händelse {n}", body=f"Hej,\nhändelse {n}.\nMvh Lisa"))
    return mid.strip("<>")


def diarised(url: str, message_id: str) -> bool:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT number FROM mails WHERE doc->>'message_id' = %s",
                               (message_id,)).fetchone()
    except psycopg.Error:
        return False
    return bool(row and row[0])


def ready(run: Run) -> bool:
    return run.get("/readyz")[0] == 200


def test_run_survives_a_database_restart_and_an_outage_and_still_stops(own_postgres, tmp_path):
    url = own_postgres.new_database()
    (tmp_path / "data" / "inbox").mkdir(parents=True)
    run = Run(tmp_path, url)
    try:
        first = deliver(run.data, 1)
        wait_for(lambda: diarised(url, first), "the first mail diarised", 60, run)
        wait_for(lambda: ready(run), "/readyz 200", 30, run)

        # a restart, as an administrator's: every session ends, the server is back at once
        for n in range(2, 5):
            own_postgres.restart()
            mail = deliver(run.data, n)
            wait_for(lambda: diarised(url, mail), f"mail {n} diarised after restart {n - 1}",
                     60, run)

        # down longer than every retry budget: /readyz says so (503, JSON), never 500
        logged_before = len(run.log().splitlines())
        own_postgres.halt()
        answers = []
        try:
            during = deliver(run.data, 5)
            down_until = time.monotonic() + OUTAGE_SECONDS
            while time.monotonic() < down_until:
                answers.append((run.get("/readyz"), run.get("/healthz")[0], run.get("/metrics")[0]))
                time.sleep(0.2)
        finally:
            own_postgres.resume()
        wait_for(lambda: diarised(url, during), "the mail of the outage diarised", 60, run)
        wait_for(lambda: ready(run), "/readyz 200 again", 60, run)
        code = run.stop()
    finally:
        if run.process.poll() is None:
            run.process.kill()
    log = run.log()
    assert code == 0, log
    statuses = {a[0][0] for a in answers}
    assert 500 not in statuses and statuses <= {200, 503}, statuses
    assert {a[1] for a in answers} == {200} and {a[2] for a in answers} == {200}
    refused = [json.loads(a[0][2]) for a in answers if a[0][0] == 503]
    assert refused and all(a[0][1].startswith("application/json") for a in answers)
    assert refused[-1]["ready"] is False
    assert any("databas" in reason for reason in refused[-1]["reasons"]), refused[-1]
    # the outage in the log: a line when it starts and one when it ends, no traceback
    assert "Traceback" not in log, log
    outage = log.splitlines()[logged_before:]
    assert len(outage) <= 12, "\n".join(outage)
    print(f"{len(answers)} answers while down ({sorted(statuses)}); the log from the outage "
          f"on:\n" + "\n".join(outage))


def test_run_waits_for_a_database_that_is_down_at_boot(own_postgres, tmp_path):
    url = own_postgres.new_database()
    (tmp_path / "data" / "inbox").mkdir(parents=True)
    mail = deliver(tmp_path / "data", 1)
    own_postgres.halt()
    try:
        run = Run(tmp_path, url)
        wait_for(lambda: "väntar på databasen" in run.log(), "run says it waits", 30, run)
        # several tries later it is still waiting, and said so once
        waited_until = time.monotonic() + 5.0
        while time.monotonic() < waited_until:
            assert run.process.poll() is None, run.log()
            time.sleep(0.1)
        assert run.log().count("väntar på databasen") == 1, run.log()
    finally:
        own_postgres.resume()
    try:
        wait_for(lambda: diarised(url, mail), "the mail diarised once the database is up", 60, run)
        wait_for(lambda: ready(run), "/readyz 200", 30, run)
    finally:
        code = run.stop()
    assert code == 0, run.log()
    assert "Traceback" not in run.log(), run.log()


def test_sigterm_while_run_waits_for_the_database_ends_it_at_once(own_postgres, tmp_path):
    url = own_postgres.new_database()
    own_postgres.halt()
    try:
        run = Run(tmp_path, url)
        wait_for(lambda: "väntar på databasen" in run.log(), "run says it waits", 30, run)
        started = time.monotonic()
        code = run.stop()
        stopped_in = time.monotonic() - started
    finally:
        own_postgres.resume()
    assert code == 0, run.log()
    assert stopped_in < 5.0, stopped_in
    assert "Traceback" not in run.log(), run.log()
