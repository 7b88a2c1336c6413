"""The web's shared state on a real PostgreSQL (bot.store.web_state): two instances on one
database (two PostgresWebState, each with its own connection, as two processes have) sign in
and log reads as one. A link redeemed on A cannot be redeemed on B, even when both try at the
same moment; a session started on A is valid on B and a sign-out on B ends it on A; expired
sessions and old tokens are removed; the read log of both is one export, in order, with the
files an earlier release wrote beside it. Only hashes of tokens and session ids are stored.
Then the same through real `avvikelsebot web` processes: a database outage is a 503 page (never
a 500), and a session survives a restart of the web."""
from __future__ import annotations

import csv
import io
import threading
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest

from bot.errors import DatabaseUnavailable
from bot.store.postgres import PostgresCaseStore
from bot.store.web_state import PostgresWebState
from bot.web.readlog import ReadLog, export_csv

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


@pytest.fixture
def instances(database_url, tmp_path):
    """Two instances' web state on one database (A also has a read-log file of 0.3.0's)."""
    opened = [PostgresWebState(database_url, link_minutes=10, session_hours=8, command="a",
                               older_readlog=ReadLog(tmp_path / "a")),
              PostgresWebState(database_url, link_minutes=10, session_hours=8, command="b")]
    yield opened
    for state in opened:
        state.close()


def rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(query).fetchall()          # type: ignore[arg-type]


def test_a_link_issued_anywhere_signs_in_once_on_any_instance(instances, database_url):
    a, b = instances
    token = a.tokens.issue("rut", NOW)
    assert b.tokens.redeem(token, NOW + timedelta(minutes=1)) == "rut"
    assert a.tokens.redeem(token, NOW + timedelta(minutes=1)) is None
    assert b.tokens.redeem(token, NOW + timedelta(minutes=2)) is None
    late = b.tokens.issue("rut", NOW)
    assert a.tokens.redeem(late, NOW + timedelta(minutes=10)) is None      # expired
    assert a.tokens.redeem("nonsense", NOW) is None and a.tokens.redeem("x" * 500, NOW) is None
    stored = rows(database_url, "SELECT digest, person FROM web_tokens")
    assert len(stored) == 2 and all(token not in d and late not in d for d, _ in stored)
    # a day later issuing forgets the old ones; a used link was still "used" until then
    b.tokens.issue("anna", NOW + timedelta(days=1, minutes=11))
    assert [p for _, p in rows(database_url, "SELECT digest, person FROM web_tokens")] == ["anna"]


def test_a_link_opened_on_two_instances_at_once_signs_in_once(instances, database_url):
    a, b = instances
    extra = [PostgresWebState(database_url, link_minutes=10, session_hours=8) for _ in range(4)]
    everyone = [a, b, *extra]
    try:
        for round_ in range(10):
            token = a.tokens.issue("rut", NOW)
            start = threading.Barrier(len(everyone))
            won: list[str | None] = []

            def open_link(state) -> None:
                start.wait()
                won.append(state.tokens.redeem(token, NOW + timedelta(seconds=30)))
            threads = [threading.Thread(target=open_link, args=(s,)) for s in everyone]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert len(won) == len(everyone) and won.count("rut") == 1, (round_, won)
            assert won.count(None) == len(everyone) - 1, (round_, won)
    finally:
        for state in extra:
            state.close()


def test_a_session_is_one_across_instances_and_a_sign_out_ends_it_everywhere(instances,
                                                                            database_url):
    a, b = instances
    session = a.sessions.start("rut", NOW)
    assert b.sessions.person(session, NOW + timedelta(hours=1)) == "rut"
    assert a.sessions.person(session, NOW + timedelta(hours=1)) == "rut"
    assert b.sessions.person("forged", NOW) is None and b.sessions.person(None, NOW) is None
    stored = rows(database_url, "SELECT digest, person FROM web_sessions")
    assert len(stored) == 1 and session not in stored[0][0]          # only its hash
    b.sessions.end(session)
    assert a.sessions.person(session, NOW + timedelta(hours=1)) is None
    assert b.sessions.person(session, NOW + timedelta(hours=1)) is None
    assert rows(database_url, "SELECT count(*) FROM web_sessions") == [(0,)]


def test_expired_sessions_are_refused_and_removed(instances, database_url):
    a, b = instances
    old = a.sessions.start("rut", NOW)
    other = a.sessions.start("anna", NOW)
    assert b.sessions.person(old, NOW + timedelta(hours=8)) is None          # 8 h: over
    assert [p for (p,) in rows(database_url, "SELECT person FROM web_sessions")] == ["anna"]
    b.sessions.start("sven", NOW + timedelta(hours=9))        # starting one clears the expired
    assert [p for (p,) in rows(database_url, "SELECT person FROM web_sessions")] == ["sven"]
    assert a.sessions.person(other, NOW + timedelta(hours=9)) is None
    assert a.sessions.lifetime == timedelta(hours=8)


def test_a_pending_sign_in_flow_is_taken_once_on_any_instance(instances):
    a, b = instances
    a.pending.put("oidc:state-1", {"nonce": "n1", "verifier": "v"}, NOW + timedelta(minutes=10),
                  NOW)
    assert b.pending.take("oidc:state-1", NOW + timedelta(minutes=1)) == {"nonce": "n1",
                                                                          "verifier": "v"}
    assert a.pending.take("oidc:state-1", NOW + timedelta(minutes=1)) is None
    b.pending.put("oidc:state-2", {"nonce": "n2"}, NOW + timedelta(minutes=10), NOW)
    assert a.pending.take("oidc:state-2", NOW + timedelta(minutes=11)) is None   # expired


def test_a_link_made_for_a_page_lands_there_on_the_other_instance(instances):
    """`webb VOK 2026/0042` on A: the link, used on B, signs in once and lands on the case;
    a target that is not a path of this site, put into the table by hand, is not followed."""
    a, b = instances
    token = a.tokens.issue("rut", NOW, "/arenden/2026/42")
    assert b.tokens.redeem_with_target(token, NOW + timedelta(minutes=1)) == ("rut", "/arenden/2026/42")
    assert a.tokens.redeem_with_target(token, NOW + timedelta(minutes=1)) is None
    plain = b.tokens.issue("anna", NOW)
    assert a.tokens.redeem_with_target(plain, NOW) == ("anna", None)
    forged = a.tokens.issue("sven", NOW, "/arenden")
    a.tokens.db.rows("UPDATE web_tokens SET next = 'https://evil.example/' WHERE person = 'sven'")
    assert b.tokens.redeem_with_target(forged, NOW) == ("sven", None)


def test_an_entra_sign_in_begun_on_one_instance_is_answered_on_the_other_once(instances):
    """Behind a load balancer the provider's answer may reach the other instance: the flow
    (msal's state, nonce and PKCE verifier) is in the database, and is taken once."""
    from bot.web.entra import PendingSignIns
    a, b = PendingSignIns(shared=instances[0].pending), PendingSignIns(shared=instances[1].pending)
    flow = {"state": "s1", "nonce": "n1", "code_verifier": "v1", "scope": ["email"]}
    key = a.put(flow, "/arenden/2026/1", NOW)
    taken = b.take(key, NOW + timedelta(minutes=1))
    assert taken is not None and taken.flow == flow and taken.next_path == "/arenden/2026/1"
    assert a.take(key, NOW + timedelta(minutes=1)) is None, "an answer replayed on A"
    late = b.put(flow, "/", NOW)
    assert a.take(late, NOW + timedelta(minutes=11)) is None, "a flow past its 10 minutes"


def test_the_read_log_of_both_instances_is_one_export_in_order(instances, tmp_path):
    a, b = instances
    # what 0.3.0 (or the JSON store) wrote to A's state directory before the upgrade
    ReadLog(tmp_path / "a").record(person="sven", number="VOK 2026/0001", what="case",
                                   at=NOW - timedelta(days=1))
    ReadLog(tmp_path / "a").record(person="sven", number="VOK 2026/0003", what="case",
                                   at=NOW + timedelta(minutes=3))
    steps = [(a, "rut", "VOK 2026/0001", "case", None),
             (b, "rut", "VOK 2026/0002", "mail", None),
             (a, "anna", "VOK 2026/0002", "attachment", "intyg 19121212-1212.pdf"),
             (b, "anna", "VOK 2026/0004", "refused", "/arenden/2026/4")]
    for n, (state, person, number, what, detail) in enumerate(steps):
        state.readlog.record(person=person, number=number, what=what, detail=detail,
                             at=NOW + timedelta(minutes=n), document=2 if what != "case" else None)
    # several in the same second: in the order they were written
    for n in range(5):
        (a, b)[n % 2].readlog.record(person="rut", number=f"VOK 2026/{10 + n:04d}", what="case",
                                     at=NOW + timedelta(minutes=10))
    for reader in (a, b):
        got = list(reader.readlog.entries(date(2026, 11, 16), date(2026, 11, 16)))
        numbers = [e["case"] for e in got]
        if reader is a:       # A's state directory holds the older file
            assert numbers[:5] == ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0002",
                                   "VOK 2026/0003", "VOK 2026/0004"]
        else:
            assert numbers[:4] == ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0002",
                                   "VOK 2026/0004"]
        assert numbers[-5:] == [f"VOK 2026/{10 + n:04d}" for n in range(5)]
        assert [e["at"] for e in got] == sorted(e["at"] for e in got)
    whole = list(a.readlog.entries(date(2026, 11, 1), date(2026, 11, 30)))
    assert whole[0] == {"at": "2026-11-15T09:00:00+00:00", "person": "sven",
                        "case": "VOK 2026/0001", "what": "case", "channel": "webb"}
    table = list(csv.reader(io.StringIO(export_csv(whole, ["tid", "person", "ärende", "vad",
                                                           "kanal", "handling", "detalj"]))))
    assert table[3] == ["2026-11-16T09:01:00+00:00", "rut", "VOK 2026/0002", "mail", "webb",
                        "2", ""]
    assert table[4][6] == "intyg [personnummer].pdf"          # redacted before it was stored
    assert list(a.readlog.entries(date(2026, 11, 17), date(2026, 11, 30))) == []


def test_the_tables_come_with_an_additive_migration_that_0_3_0_does_not_see(database_url):
    PostgresWebState(database_url, link_minutes=10, session_hours=8).sessions.start("rut", NOW)
    PostgresCaseStore(database_url).close()
    # schema_version is what 0.3.0 checks: 003 is not in it (additive); 004 is, because the
    # cases of format 4 are what 0.3.0 cannot read (tests/contract/test_rollback.py)
    assert rows(database_url, "SELECT version FROM schema_version ORDER BY version") == [
        (1,), (2,), (4,)]
    assert rows(database_url, "SELECT version, name FROM schema_additions") == [
        (3, "003_web_sessions.sql")]
    # a newer release's additive migration is compatible by definition: this one still opens
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_additions (version, name) VALUES (98, '098_later.sql')")
    PostgresCaseStore(database_url).close()


# ---------------------------------------------------------------------- an outage
@pytest.fixture(scope="module")
def own_postgres():
    """A cluster of this module's own: its tests stop and start it."""
    from tests.realparts.postgres import Postgres
    server = Postgres().start()
    yield server
    server.stop()


def test_while_the_database_is_down_each_call_says_unavailable_and_then_works_again(own_postgres):
    url = own_postgres.new_database()
    state = PostgresWebState(url, link_minutes=10, session_hours=8)
    try:
        session = state.sessions.start("rut", NOW)
        own_postgres.halt()
        try:
            for call in (lambda: state.sessions.person(session, NOW),
                         lambda: state.tokens.issue("rut", NOW),
                         lambda: state.readlog.record(person="rut", number="VOK 2026/0001",
                                                      what="case", at=NOW)):
                with pytest.raises(DatabaseUnavailable):
                    call()
        finally:
            own_postgres.resume()
        deadline = datetime.now() + timedelta(seconds=30)
        while True:
            try:
                assert state.sessions.person(session, NOW) == "rut"   # the session outlived it
                break
            except DatabaseUnavailable:
                assert datetime.now() < deadline, "the web state never reconnected"
                threading.Event().wait(0.2)
    finally:
        state.close()


# ---------------------------------------------------------------------- real `web` processes
def database_diary(org, tmp_path, url: str):
    """The fixed cases and one real mail, diarised into the database by the product."""
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.conftest import EXAMPLE_CONFIG, MONDAY
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    from tests.web_support import fill_diary
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                        env={"DATABASE_URL": url})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(MONDAY),
                sender=FakeMailSender())
    fill_diary(bot)
    bot.close()
    return settings


def logg(settings, day: str) -> list[list[str]]:
    """`avvikelsebot logg` for one day, as an administrator runs it, on its own state dir."""
    import os
    import subprocess
    import sys
    from tests.conftest import EXAMPLE_CONFIG, REPO
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "AVVIKELSEBOT_"))},
           "PYTHONPATH": str(REPO), "DATABASE_URL": settings.env["DATABASE_URL"]}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "--config", str(EXAMPLE_CONFIG),
                           "--data", str(settings.data_dir.parent / "admin"), "logg", "--from",
                           day, "--to", day], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60)
    assert done.returncode == 0, done.stderr
    return list(csv.reader(io.StringIO(done.stdout)))


def test_two_web_processes_share_sessions_a_restart_keeps_them_an_outage_is_a_503(
        own_postgres, org, tmp_path):
    from tests.web_support import Client, WebProcess
    url = own_postgres.new_database()
    settings = database_diary(org, tmp_path, url)
    env = {"DATABASE_URL": url}
    a = WebProcess(tmp_path / "a", env=env).start()
    b = WebProcess(tmp_path / "b", env=env).start()      # separate state dirs: no shared files
    try:
        on_a = Client(a.url)
        link = a.link(settings, "rut")
        assert on_a.sign_in(link).status == 303
        on_b = Client(b.url)
        on_b.cookie = on_a.cookie                           # the load balancer sends it to B
        assert on_b.get("/arenden/2026/1").status == 200
        assert Client(b.url).sign_in(link).status == 403    # used on A: refused on B
        assert on_a.get("/arenden/2027/1").status == 200

        # a restart of both keeps the session: it is in the database
        a.stop(), b.stop()
        a, b = WebProcess(tmp_path / "a", env=env).start(), WebProcess(tmp_path / "b", env=env).start()
        on_a.port = int(a.url.rsplit(":", 1)[1])
        on_b.port = int(b.url.rsplit(":", 1)[1])
        page = on_b.get("/arenden")
        assert page.status == 200 and "Rut Registrator" in page.body

        own_postgres.halt()
        try:
            down = [on_a.get("/arenden"), on_b.get("/arenden/2026/1"), Client(a.url).sign_in(link)]
        finally:
            own_postgres.resume()
        for page in down:
            assert page.status == 503, (page.status, page.body[:300])
            assert "Diariet går inte att nå just nu" in page.body
            assert page.headers.get("retry-after") == "10"
        deadline = datetime.now() + timedelta(seconds=30)
        while on_a.get("/arenden").status != 200:
            assert datetime.now() < deadline, "the web never came back after the outage"
            threading.Event().wait(0.3)

        assert on_b.request("POST", "/utloggning").status == 303       # signed out on B …
        assert on_a.get("/arenden").status == 401                      # … is out on A
    finally:
        a.stop(), b.stop()
    today = datetime.now(timezone.utc).date().isoformat()
    table = logg(settings, today)
    assert [r[1:4] for r in table[1:]] == [["rut", "VOK 2026/0001", "case"],
                                           ["rut", "VOK 2027/0001", "case"]]
    for process in (a, b):
        assert "Traceback" not in process.process.stderr.read()


def test_two_run_instances_with_the_web_on_sign_in_as_one(database_url, org, tmp_path):
    """Two `avvikelsebot run` with WEB_PORT on one database, as behind a load balancer: the
    link `web-link` printed works on A once, the session is valid on B, a sign-out on A ends
    it on B, and `logg` holds what was read on both."""
    import os
    import signal
    import subprocess
    from urllib.parse import urlsplit
    from tests.realparts.dovecot import free_port
    from tests.scenario.test_cli import CLI, EXAMPLE_CONFIG
    from tests.web_support import Client
    settings = database_diary(org, tmp_path, database_url)
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        port = free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "AVVIKELSEBOT_"))},
               "DATABASE_URL": database_url, "WEB_PORT": str(port), "HEALTH_PORT": "0"}
        process = subprocess.Popen([CLI, "--config", str(EXAMPLE_CONFIG), "--data",
                                    str(tmp_path / name / "data"), "run"], env=env,
                                   cwd=tmp_path / name, stdout=subprocess.DEVNULL,
                                   stderr=open(tmp_path / name / "run.log", "w"))
        runs.append((process, f"http://127.0.0.1:{port}", tmp_path / name / "run.log"))
    try:
        for process, url, log in runs:
            deadline = datetime.now() + timedelta(seconds=60)
            while not _serving(url):
                assert process.poll() is None, log.read_text()
                assert datetime.now() < deadline, log.read_text()
                threading.Event().wait(0.2)
        (_, a, _), (_, b, _) = runs
        printed = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data",
                                  str(tmp_path / "admin"), "web-link", "--as", "rut"],
                                 env={**os.environ, "DATABASE_URL": database_url},
                                 capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert printed.returncode == 0, printed.stderr
        path = urlsplit(printed.stdout.split()[-1]).path
        on_a = Client(a)
        assert on_a.sign_in(path).status == 303
        assert Client(b).sign_in(path).status == 403
        on_b = Client(b)
        on_b.cookie = on_a.cookie
        assert on_b.get("/arenden/2026/1").status == 200
        assert on_a.get("/arenden/2027/1").status == 200
        assert on_a.request("POST", "/utloggning").status == 303
        assert on_b.get("/arenden").status == 401
    finally:
        for process, _, _ in runs:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    table = logg(settings, datetime.now(timezone.utc).date().isoformat())
    assert [r[1:4] for r in table[1:]] == [["rut", "VOK 2026/0001", "case"],
                                           ["rut", "VOK 2027/0001", "case"]]
    for _, _, log in runs:
        assert "Traceback" not in log.read_text()


def _serving(url: str) -> bool:
    """The web of a `run` answers its sign-in help page."""
    import socket
    from tests.web_support import Client
    try:
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
    except OSError:
        return False
    return Client(url).get("/inloggning").status == 200
