"""PostgresCaseStore: the CaseStore port on PostgreSQL (chosen by DATABASE_URL).

One connection per store, one transaction per unit of work: the unit of work's lock is a
re-entrant lock of this process, its commit/rollback are the connection's, and a nested
unit of work is an SQL SAVEPOINT. Every write goes straight into the open transaction, so
a case, its diary number, its mail record, its raw bytes and its notifications become
durable together at COMMIT, or not at all.

Diary numbers come from a counters row updated with INSERT … ON CONFLICT DO UPDATE …
RETURNING inside the transaction: the row stays locked until the transaction ends, so two
instances never get the same number, and a rolled-back number is free again (no gaps).

Raw mail bytes live in the database (table raw_mail, bytea), not in a shared directory:
every instance reads them without a shared file system, they are written in the same
transaction as the outcome that refers to them, and one backup (pg_dump / base backup +
WAL) holds everything. Mails are small (a few hundred kB at most after the size limit).

housekeep() is light: the tables are indexed, nothing has to leave a live set; it only
marks long-delivered notifications as history (so the delivery round reads the live ones)
and forgets old digest markers.

A broken connection (a database restart, a killed backend, a network cut) fails the unit of
work it breaks with DatabaseUnavailable, and is replaced when the next unit of work starts
(the outermost hold of the lock), never in the middle of one: what a transaction wrote before
the break is gone with it, never half-committed on a new connection. While the database stays
down, new connections are tried with a growing pause (RECONNECT_*), and a unit of work in
between fails at once; the outage is logged once when it starts and once when it ends.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib import resources
from typing import Any, Iterator

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb

from bot.domain.case import Case, iso
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.org import Subscription
from bot.errors import DatabaseUnavailable, StoreError
from bot.store.leader import (CLAIMS_SESSION, application_name, conninfo, first_line,
                              instance_name, keep_alive)

log = logging.getLogger(__name__)

SENT_KEEP = timedelta(minutes=10)
FAILED_KEEP = timedelta(days=30)
DIGEST_KEEP = timedelta(days=21)
MIGRATIONS_LOCK = 0x61766B62        # "avkb": one instance applies migrations at a time
FENCE_IDLE = "5s"        # a fenced transaction left idle after its leader check is ended
# a transaction that holds the year's counter row and then goes idle (its process frozen by
# SIGSTOP or Ctrl-Z, a paused VM) is ended by the server after this, so every other instance
# and CLI can diarise again; a live one is never idle that long between its statements
COUNTER_IDLE = "10s"
RECONNECT_FIRST_SECONDS = 0.5       # the pause after a failed reconnect, doubled up to …
RECONNECT_MAX_SECONDS = 10.0        # … this: a database back from a restart is used within 10 s
CONNECT_TIMEOUT_SECONDS = 10        # unless DATABASE_URL names its own connect_timeout
WAIT_LOG_SECONDS = 60.0             # `run` waiting for the database at boot says so this often


def is_database_url(value: str | None) -> bool:
    return bool(value) and str(value).startswith(("postgresql://", "postgres://"))


def wait_for_database(url: str, stop: threading.Event) -> bool:
    """Until the database accepts a connection (True), or `stop` is set (False): tries with
    a pause doubling up to RECONNECT_MAX_SECONDS, and says so once a minute, not per try.
    For `run` at boot: a database that starts later than the bot is waited for."""
    delay, said = 0.0, float("-inf")
    while not stop.is_set():
        try:
            psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_SECONDS,
                            application_name="avvikelsebot run").close()
        except psycopg.OperationalError as exc:
            if time.monotonic() - said >= WAIT_LOG_SECONDS:
                log.warning("väntar på databasen: %s (försöker igen, säger till igen om en "
                            "minut)", first_line(exc))
                said = time.monotonic()
            delay = min(max(2 * delay, RECONNECT_FIRST_SECONDS), RECONNECT_MAX_SECONDS)
            stop.wait(delay)
            continue
        if said > float("-inf"):
            log.info("databasen svarar; startar")
        return True
    return False


class _StoreLock:
    """The unit of work's lock: a re-entrant lock that also knows when the outermost holder
    lets go, so that a read outside any unit of work does not leave a transaction open."""

    def __init__(self, store: "PostgresCaseStore"):
        self._lock = threading.RLock()
        self._store = store
        self.depth = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """The outermost holder gets a live connection (a broken one is replaced here, with
        back-off) or DatabaseUnavailable, and then does not hold the lock."""
        if not self._lock.acquire(blocking, timeout):
            return False
        self.depth += 1
        if self.depth == 1:
            try:
                self._store._ensure_connected()
            except BaseException:
                self.depth -= 1
                self._lock.release()
                raise
        return True

    def release(self) -> None:
        self.depth -= 1
        try:
            if self.depth == 0:
                self._store._end_read()
        finally:
            self._lock.release()

    def __enter__(self) -> "_StoreLock":
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


ADDITIVE_MARK = "-- additive"   # the first line of a migration older releases may ignore


def migrate_schema(conn: psycopg.Connection) -> list[int]:
    """Apply bot/store/migrations/NNN_*.sql not applied yet, in order, each in its own
    transaction with its ledger row; returns the versions applied.

    Two ledgers. `schema_version` holds the migrations that change what an older release
    reads (002: cases in format 3; 004: cases in format 4, with lagrum, fsn facts and the
    kinds klagomål and fsn, which 0.3.0 cannot read): a release refuses a database whose
    schema_version is newer than it knows, so it never writes what it does not understand
    (0.3.0 refuses any schema_version above 2, tests/contract/test_rollback.py). A migration
    whose first line is ADDITIVE_MARK only adds tables an older release never touches (003:
    the web's sessions, sign-in tokens and read log); it is recorded in `schema_additions`,
    which older releases do not read, so on its own it would not stop them. An additive
    migration of a newer release is compatible by definition: not refused."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                     "version integer PRIMARY KEY, name text NOT NULL, "
                     "applied timestamptz NOT NULL DEFAULT now())")
        conn.execute("CREATE TABLE IF NOT EXISTS schema_additions ("
                     "version integer PRIMARY KEY, name text NOT NULL, "
                     "applied timestamptz NOT NULL DEFAULT now())")
        breaking = {row[0] for row in conn.execute("SELECT version FROM schema_version")}
        additive = {row[0] for row in conn.execute("SELECT version FROM schema_additions")}
        scripts = sorted((f for f in resources.files("bot.store.migrations").iterdir()
                          if f.name.endswith(".sql")), key=lambda f: f.name)
        for script in scripts:
            version = int(script.name.split("_", 1)[0])
            if version in breaking or version in additive:
                continue
            text = script.read_text(encoding="utf-8")
            ledger = ("schema_additions" if text.startswith(ADDITIVE_MARK)
                      else "schema_version")
            with conn.transaction():
                conn.execute(text)      # type: ignore[call-overload]
                conn.execute(f"INSERT INTO {ledger} (version, name) VALUES (%s, %s)",
                             (version, script.name))
            applied.append(version)
        newest = max(breaking | set(applied), default=0)
        known = max((int(f.name.split("_", 1)[0]) for f in scripts), default=0)
        if newest > known:
            raise StoreError(f"databasen har schemaversion {newest}, nyare än den här "
                             f"versionen av avvikelsebot ({known}); uppgradera avvikelsebot.")
    if applied:
        log.info("databasens schema uppgraderat: %s", ", ".join(map(str, applied)))
    return applied


class PostgresCaseStore:
    """The CaseStore port on PostgreSQL. Several processes may open the same database."""

    def __init__(self, url: str, *, series: str = "VOK", digits: int = 4,
                 readonly: bool = False, command: str = "avvikelsebot",
                 instance: str | None = None):
        self.url, self.series, self.digits, self.readonly = url, series, digits, readonly
        self.command = command
        # named after the instance, so that a new leader can end a frozen leader's sessions
        self.instance = instance or instance_name()
        self.lock = _StoreLock(self)
        self._writes = False         # the open transaction has changed something
        self._savepoints = 0
        self._fence = threading.local()     # the leader epoch this thread's commits need
        self._claim_tokens: set[str] = set()
        self._claims: psycopg.Connection | None = None     # the session holding them
        self._shut = False                  # close() was called: never connect again
        self._retry_at = 0.0                # no new connection is tried before (monotonic)
        self._delay = 0.0
        self._outage_since: float | None = None
        self.outage_error = ""              # why the database cannot be used, while it cannot
        self.conn = self._connect()
        if not readonly:
            try:
                migrate_schema(self.conn)
            except psycopg.OperationalError as exc:
                self.conn.close()
                raise DatabaseUnavailable(f"kan inte ansluta till databasen: {exc}") from exc

    # ------------------------------------------------------------------ lifecycle
    def _connect(self) -> psycopg.Connection:
        options: dict[str, Any] = {}
        if "connect_timeout" not in self.url:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        conn: psycopg.Connection | None = None
        try:
            conn = psycopg.connect(conninfo(self.url), autocommit=False,
                                   application_name=application_name(self.command, self.instance),
                                   **options)
            keep_alive(conn)
            if self.readonly:
                conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            conn.commit()
        except psycopg.OperationalError as exc:
            if conn is not None:
                conn.close()
            raise DatabaseUnavailable(f"kan inte ansluta till databasen: {first_line(exc)}") from exc
        return conn

    def _ensure_connected(self) -> None:
        """At the start of the outermost hold: a connection that broke is replaced, at most
        once per back-off step; in between, DatabaseUnavailable at once."""
        if self._shut or not self.conn.closed:
            return
        if time.monotonic() < self._retry_at:
            raise DatabaseUnavailable(self.outage_error)
        self._writes, self._savepoints = False, 0
        try:
            self.conn = self._connect()
        except DatabaseUnavailable as exc:
            self._delay = min(max(2 * self._delay, RECONNECT_FIRST_SECONDS), RECONNECT_MAX_SECONDS)
            self._retry_at = time.monotonic() + self._delay
            self._outage(str(exc))
            raise
        self._delay = self._retry_at = 0.0
        if self._outage_since is not None:
            log.warning("databasen nås igen efter %.0f s (ny anslutning)",
                        time.monotonic() - self._outage_since)
            self._outage_since, self.outage_error = None, ""

    def _outage(self, error: str) -> None:
        """One log line when the database stops answering, however many tries follow."""
        self.outage_error = error
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning("databasen nås inte: %s; försöker igen med ökande väntetid (högst %.0f s)",
                        error, RECONNECT_MAX_SECONDS)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A psycopg error that broke the connection becomes DatabaseUnavailable; the
        transaction is gone with the connection (the server rolled it back)."""
        try:
            yield
        except psycopg.Error as exc:
            if self._shut or not self.conn.closed:
                raise
            self._outage(f"anslutningen bröts: {first_line(exc)}")
            raise DatabaseUnavailable(self.outage_error) from exc

    def close(self) -> None:
        """Closes without writing uncommitted changes."""
        with self.lock._lock:
            self._shut = True
            if not self.conn.closed:
                try:
                    self.conn.rollback()
                except psycopg.OperationalError:
                    pass                  # broke just now: the server ends the transaction
                self.conn.close()
            if self._claims is not None and not self._claims.closed:
                self._claims.close()

    def __enter__(self) -> "PostgresCaseStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _end_read(self) -> None:
        """Called when the outermost lock holder lets go: a transaction that only read is
        ended, so no instance keeps a snapshot or a lock open between units of work."""
        if self.conn.closed or self._writes:
            return
        if self.conn.info.transaction_status in (TransactionStatus.INTRANS,
                                                 TransactionStatus.INERROR):
            try:
                self.conn.rollback()
            except psycopg.OperationalError:
                pass       # the connection broke: the next holder gets a new one

    def _sql(self, query: str, params: Any = None) -> psycopg.Cursor:
        with self._guard():
            return self.conn.execute(query, params)      # type: ignore[arg-type]

    def _write(self, query: str, params: Any = None) -> psycopg.Cursor:
        if self.readonly:
            raise StoreError("databasen är öppnad skrivskyddat")
        self._writes = True
        return self._sql(query, params)

    # ------------------------------------------------------------------ transactions
    def commit(self) -> None:
        with self.lock:
            epoch = getattr(self._fence, "epoch", None)
            if epoch is not None and self._writes:
                # FOR SHARE waits for a takeover in progress, and holds one off until COMMIT;
                # should this process freeze before its COMMIT, the server ends the session
                # (and that lock) after FENCE_IDLE, even if a new leader cannot
                row = self._sql("SELECT epoch, set_config('idle_in_transaction_session_timeout', "
                                "%s, true) FROM leader WHERE id = 1 FOR SHARE",
                                (FENCE_IDLE,)).fetchone()
                if row is None or int(row[0]) != epoch:
                    self.rollback()
                    raise StoreError(f"inte längre ledare (epok {epoch}, nu "
                                     f"{row[0] if row else '–'}); ändringarna är ångrade")
            try:
                with self._guard():
                    self.conn.commit()
            finally:        # committed, refused or broke: the transaction is over either way
                self._writes, self._savepoints = False, 0

    def rollback(self) -> None:
        """Never fails for a broken connection: the server ended the transaction with it,
        and the next unit of work gets a new connection (PostgresCaseStore._ensure_connected)."""
        with self.lock:
            self._writes, self._savepoints = False, 0
            if self.conn.closed:
                return
            try:
                self.conn.rollback()
            except psycopg.OperationalError as exc:
                if self._shut or not self.conn.closed:
                    raise
                self._outage(f"anslutningen bröts: {first_line(exc)}")

    def savepoint(self) -> str:
        with self.lock:
            self._savepoints += 1
            name = f"uow_{self._savepoints}"
            self._sql(f"SAVEPOINT {name}")
            return name

    def restore(self, savepoint: str) -> None:
        with self.lock:
            self._sql(f"ROLLBACK TO SAVEPOINT {savepoint}")

    @contextmanager
    def fenced(self, epoch: int) -> Iterator[None]:
        """This thread's commits in the block count only while `epoch` is the leader's."""
        self._fence.epoch = epoch
        try:
            yield
        finally:
            self._fence.epoch = None

    # ------------------------------------------------------------------ outbox claims
    def hold_claim(self, token: str) -> None:
        """Hold a session lock named by this process's outbox claim token while it lives, so
        another instance can tell an item in flight here from one a dead process left.

        The lock lives in a session of its own, which a new leader does not end when it ends
        a frozen leader's sessions (bot.store.leader): what a frozen process had in flight
        may still go out when it wakes up, so nobody else sends it meanwhile. After that
        session broke (a database restart) the locks are taken again without waiting: one a
        dead session of ours still holds (until the server notices) is taken at a later
        claim round."""
        with self.lock:
            if self._claims is not None and not self._claims.closed:
                try:      # a session the server ended looks alive until it is used
                    self._claims.execute("SELECT 1")
                except psycopg.OperationalError:
                    self._claims.close()
            if self._claims is None or self._claims.closed or self._claims.broken:
                try:
                    self._claims = psycopg.connect(conninfo(self.url), autocommit=True,
                                                   application_name=application_name(
                                                       CLAIMS_SESSION, self.instance))
                    keep_alive(self._claims)
                except psycopg.OperationalError as exc:
                    raise DatabaseUnavailable(
                        f"kan inte ansluta till databasen: {first_line(exc)}") from exc
                held, self._claim_tokens = self._claim_tokens, set()
                for one in held:            # a session that broke took its locks along
                    self._lock_claim(one)
            if token not in self._claim_tokens:
                self._lock_claim(token)

    def _lock_claim(self, token: str) -> None:
        assert self._claims is not None
        try:
            row = self._claims.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                                       (token,)).fetchone()
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(f"anslutningen bröts: {first_line(exc)}") from exc
        if row and row[0]:              # else a broken session of ours still holds it
            self._claim_tokens.add(token)

    def claim_alive(self, token: str) -> bool:
        """Whether the process that claimed with `token` still runs."""
        with self.lock:
            if token in self._claim_tokens:
                return True
            row = self._sql("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                            (token,)).fetchone()
            if row and row[0]:
                self._sql("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (token,))
                return False
            return True

    def outbox_to_claim(self) -> list[dict]:
        """The pending and in-flight items no other instance is claiming right now: locked
        until this transaction ends (FOR UPDATE SKIP LOCKED), so each is claimed once."""
        with self.lock:
            self._writes = True          # the locks must last until the claim commits
            return [dict(r[0]) for r in self._sql(
                "SELECT doc FROM outbox WHERE live AND state IN ('pending', 'sending') "
                "ORDER BY created, id FOR UPDATE SKIP LOCKED")]

    @property
    def dirty(self) -> bool:
        return self._writes

    # ------------------------------------------------------------------ diary numbers
    def next_number(self, year: int) -> DiaryNumber:
        """The next number of the series and year. The counters row stays locked until the
        transaction ends: a concurrent instance waits, and a rollback frees the number.
        Whoever holds it may freeze, leader or not (only a leader's sessions are ended by a
        takeover), so this transaction is given an idle limit (COUNTER_IDLE) before it locks."""
        with self.lock:
            self._write("SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                        (COUNTER_IDLE,))
            row = self._write(
                "INSERT INTO counters (series, year, last) VALUES (%s, %s, 1) "
                "ON CONFLICT (series, year) DO UPDATE SET last = counters.last + 1 "
                "RETURNING last", (self.series, year)).fetchone()
            assert row is not None
            return DiaryNumber(year, int(row[0]), self.series)

    # ------------------------------------------------------------------ cases
    def put_case(self, case: Case) -> None:
        with self.lock:
            doc = case.to_dict()
            self._write("INSERT INTO cases (key, number, year, status, doc) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET "
                        "number = EXCLUDED.number, status = EXCLUDED.status, doc = EXCLUDED.doc",
                        (case.key, case.number, case.key // 1_000_000, case.status, Jsonb(doc)))
            refs = [("m", mid.lower(), case.number) for mid in case.message_ids]
            refs += [("c", cid, case.number) for cid in case.conversation_ids]
            self._refs(refs)

    def _refs(self, refs: list[tuple[str, str, str]]) -> None:
        if refs:
            with self._guard(), self.conn.cursor() as cur:
                cur.executemany("INSERT INTO case_refs (kind, ref, number) VALUES (%s, %s, %s) "
                                "ON CONFLICT (kind, ref) DO UPDATE SET number = EXCLUDED.number",
                                refs)

    def get_case(self, number: DiaryNumber) -> Case | None:
        with self.lock:
            row = self._sql("SELECT doc FROM cases WHERE key = %s", (number.key,)).fetchone()
            return Case.from_dict(row[0]) if row else None

    def get_case_by_text(self, number: str) -> Case | None:
        parsed = parse_diary_number(number, self.series)
        return self.get_case(parsed) if parsed else None

    def live_cases(self) -> list[Case]:
        return self.open_cases()

    def open_cases(self) -> list[Case]:
        with self.lock:
            return [Case.from_dict(row[0]) for row in self._sql(
                "SELECT doc FROM cases WHERE status <> 'closed' ORDER BY key")]

    def all_cases(self, year: int | None = None) -> Iterator[Case]:
        """Every case, year by year, in pages (a diary of many years is not read at once)."""
        years = [year] if year is not None else self._years()
        for one in years:
            after = -1
            while True:
                with self.lock:
                    rows = self._sql("SELECT key, doc FROM cases WHERE year = %s AND key > %s "
                                     "ORDER BY key LIMIT 500", (one, after)).fetchall()
                if not rows:
                    break
                after = rows[-1][0]
                for _, doc in rows:
                    yield Case.from_dict(doc)

    def _years(self) -> list[int]:
        with self.lock:
            return [r[0] for r in self._sql("SELECT DISTINCT year FROM cases ORDER BY year")]

    def archive_years(self) -> list[int]:
        """Years with closed cases (the TinyDB store's archive; here the same table)."""
        with self.lock:
            return [r[0] for r in self._sql(
                "SELECT DISTINCT year FROM cases WHERE status = 'closed' ORDER BY year")]

    # ------------------------------------------------------------------ mail index
    def mail_seen(self, duplicate_key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._sql("SELECT doc FROM mails WHERE key = %s", (duplicate_key,)).fetchone()
            return dict(row[0]) if row else None

    def mail_record(self, key: str) -> dict | None:
        return self.mail_seen(key)

    def case_for_message_id(self, message_id: str) -> str | None:
        return self._ref("m", message_id.lower())

    def case_for_conversation(self, conversation_id: str) -> str | None:
        return self._ref("c", conversation_id)

    def _ref(self, kind: str, ref: str) -> str | None:
        with self.lock:
            row = self._sql("SELECT number FROM case_refs WHERE kind = %s AND ref = %s",
                            (kind, ref)).fetchone()
            return row[0] if row else None

    def record_mail(self, record: dict[str, Any]) -> None:
        with self.lock:
            number = record.get("number")
            self._write("INSERT INTO mails (key, number, triage_id, doc) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET number = EXCLUDED.number, "
                        "triage_id = EXCLUDED.triage_id, doc = EXCLUDED.doc",
                        (record["key"], number, record.get("triage_id"), Jsonb(dict(record))))
            refs = []
            if number and record.get("message_id"):
                refs.append(("m", record["message_id"].lower(), number))
            if number and record.get("conversation_id"):
                refs.append(("c", record["conversation_id"], number))
            self._refs(refs)

    def triage_record(self, triage_id: str) -> dict | None:
        with self.lock:
            row = self._sql("SELECT doc FROM mails WHERE triage_id = %s LIMIT 1",
                            (triage_id,)).fetchone()
            return dict(row[0]) if row else None

    def mail_records(self) -> list[dict]:
        with self.lock:
            return [dict(r[0]) for r in self._sql("SELECT doc FROM mails ORDER BY key")]

    # ------------------------------------------------------------------ raw mail
    def cull_case(self, number: DiaryNumber) -> bool:
        """Gallring: the case, its references, its mail records' texts and its raw mails are
        deleted in the caller's transaction (the duplicate keys stay: a mail seen stays seen)."""
        with self.lock:
            row = self._sql("SELECT doc FROM cases WHERE key = %s", (number.key,)).fetchone()
            if row is None:
                return False
            text = row[0]["number"]
            raws = [d["raw"] for d in row[0].get("documents", []) if d.get("raw")]
            self._write("DELETE FROM cases WHERE key = %s", (number.key,))
            self._write("DELETE FROM case_refs WHERE number = %s", (text,))
            self._write("UPDATE mails SET doc = jsonb_build_object('key', key, 'number', number, "
                        "'outcome', doc->'outcome') WHERE number = %s", (text,))
            if raws:
                self._write("DELETE FROM raw_mail WHERE path = ANY(%s)", (raws,))
            return True

    def keep_raw(self, raw: bytes, sha: str, arrived: datetime) -> str:
        """The raw bytes, durable with the transaction that refers to them."""
        relative = f"raw/{arrived:%Y}/{arrived:%m}/{sha}.eml"
        with self.lock:
            self._write("INSERT INTO raw_mail (path, arrived, bytes) VALUES (%s, %s, %s) "
                        "ON CONFLICT (path) DO NOTHING", (relative, arrived, raw))
        return relative

    def read_raw(self, relative: str) -> bytes:
        with self.lock:
            row = self._sql("SELECT bytes FROM raw_mail WHERE path = %s", (relative,)).fetchone()
        if row is None:
            raise FileNotFoundError(relative)
        return bytes(row[0])

    # ------------------------------------------------------------------ outbox
    def add_notification(self, notification: dict[str, Any]) -> bool:
        with self.lock:
            added = self._write(
                "INSERT INTO outbox (id, state, channel, created, next_attempt, doc) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (notification["id"], notification["state"], notification["channel"],
                 notification["created"], notification.get("next_attempt"),
                 Jsonb(dict(notification))))
            return added.rowcount == 1

    def update_notification(self, notification_id: str, fields: dict[str, Any]) -> None:
        with self.lock:
            row = self._write(
                "UPDATE outbox SET doc = doc || %s, state = COALESCE(%s, state), "
                "next_attempt = COALESCE(%s, next_attempt), live = true WHERE id = %s "
                "RETURNING id", (Jsonb(fields), fields.get("state"), fields.get("next_attempt"),
                                 notification_id)).fetchone()
            if row is None:
                raise StoreError(f"okänd avisering {notification_id}")

    def outbox(self, state: str | None = None) -> list[dict]:
        """The live outbox: pending, in flight, failed, and recently delivered."""
        with self.lock:
            if state is None:
                rows = self._sql("SELECT doc FROM outbox WHERE live ORDER BY created, id")
            else:
                rows = self._sql("SELECT doc FROM outbox WHERE live AND state = %s "
                                 "ORDER BY created, id", (state,))
            return [dict(r[0]) for r in rows]

    def notification(self, notification_id: str) -> dict | None:
        with self.lock:
            row = self._sql("SELECT doc FROM outbox WHERE id = %s", (notification_id,)).fetchone()
            return dict(row[0]) if row else None

    def outbox_history(self) -> Iterator[dict]:
        with self.lock:
            rows = self._sql("SELECT doc FROM outbox WHERE NOT live ORDER BY created, id").fetchall()
        for row in rows:
            yield dict(row[0])

    # ------------------------------------------------------------------ reminder markers
    def reminder_sent(self, slot: str, day: str) -> bool:
        with self.lock:
            row = self._sql("SELECT day FROM markers WHERE slot = %s", (slot,)).fetchone()
            return row is not None and row[0] >= day

    def mark_reminder(self, slot: str, day: str, at: str) -> None:
        with self.lock:
            self._write("INSERT INTO markers (slot, day, at) VALUES (%s, %s, %s) "
                        "ON CONFLICT (slot) DO UPDATE SET day = EXCLUDED.day, at = EXCLUDED.at",
                        (slot, day, at))

    # ------------------------------------------------------------------ adapter state
    def get_state(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._sql("SELECT value FROM state WHERE key = %s", (key,)).fetchone()
            return dict(row[0]) if row else None

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        with self.lock:
            self._write("INSERT INTO state (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (key, Jsonb(value)))

    def states(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        with self.lock:
            rows = self._sql("SELECT key, value FROM state WHERE starts_with(key, %s) ORDER BY key",
                             (prefix,))
            return {key: dict(value) for key, value in rows}

    # ------------------------------------------------------------------ chat-made subscriptions
    def _subs(self) -> list[tuple[str, str, bool]]:
        with self.lock:
            return [tuple(r) for r in self._sql(          # type: ignore[misc]
                "SELECT person, unit, paused FROM subs ORDER BY person, unit")]

    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(Subscription(person=person, units=(unit,), paused=paused)
                     for person, unit, paused in self._subs())

    def subscription_overrides(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(person, unit): {"person": person, "unit": unit, **({"paused": True} if paused else {})}
                for person, unit, paused in self._subs()}

    def _sub(self, person: str, unit: str) -> bool | None:
        """None: no row; else whether it is a pause."""
        row = self._sql("SELECT paused FROM subs WHERE person = %s AND unit = %s",
                        (person, unit)).fetchone()
        return None if row is None else bool(row[0])

    def subscribe(self, person: str, unit: str) -> bool:
        with self.lock:
            if self._sub(person, unit) is False:
                return False
            self._write("INSERT INTO subs (person, unit, paused) VALUES (%s, %s, false) "
                        "ON CONFLICT (person, unit) DO UPDATE SET paused = false", (person, unit))
            return True

    def unsubscribe(self, person: str, unit: str, *, pause: bool = False) -> bool:
        with self.lock:
            current = self._sub(person, unit)
            if pause:
                if current is True:
                    return False
                self._write("INSERT INTO subs (person, unit, paused) VALUES (%s, %s, true) "
                            "ON CONFLICT (person, unit) DO UPDATE SET paused = true", (person, unit))
                return True
            if current is None or current is True:
                return False
            self._write("DELETE FROM subs WHERE person = %s AND unit = %s", (person, unit))
            return True

    def change_marker(self) -> str:
        """Changes whenever any instance committed a change to the diary (the web overview
        rebuilds its index then): the cluster's write-ahead log position."""
        with self.lock:
            row = self._sql("SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                            "ELSE pg_current_wal_insert_lsn() END)::text").fetchone()
            return str(row[0]) if row else ""

    # ------------------------------------------------------------------ moving between backends
    def has_data(self) -> bool:
        with self.lock:
            return bool(self._sql("SELECT EXISTS (SELECT 1 FROM cases) OR "
                                  "EXISTS (SELECT 1 FROM mails)").fetchone()[0])  # type: ignore[index]

    def import_counter(self, year: int, last: int) -> None:
        with self.lock:
            self._write("INSERT INTO counters (series, year, last) VALUES (%s, %s, %s) "
                        "ON CONFLICT (series, year) DO UPDATE SET last = EXCLUDED.last",
                        (self.series, year, last))

    def counters(self) -> dict[int, int]:
        with self.lock:
            return {int(y): int(last) for y, last in self._sql(
                "SELECT year, last FROM counters WHERE series = %s", (self.series,))}

    def import_notification(self, notification: dict[str, Any], *, live: bool) -> None:
        self.add_notification(notification)
        if not live:
            with self.lock:
                self._write("UPDATE outbox SET live = false WHERE id = %s", (notification["id"],))

    def import_raw(self, relative: str, arrived: datetime, raw: bytes) -> None:
        with self.lock:
            self._write("INSERT INTO raw_mail (path, arrived, bytes) VALUES (%s, %s, %s) "
                        "ON CONFLICT (path) DO NOTHING", (relative, arrived, raw))

    def markers(self) -> list[tuple[str, str, str]]:
        with self.lock:
            return [tuple(r) for r in self._sql(       # type: ignore[misc]
                "SELECT slot, day, at FROM markers ORDER BY slot")]

    def raw_mails(self) -> Iterator[tuple[str, bytes]]:
        with self.lock:
            paths = [r[0] for r in self._sql("SELECT path FROM raw_mail ORDER BY path")]
        for path in paths:
            yield path, self.read_raw(path)

    def forget_delivered(self, before: datetime) -> int:
        """Retention ([retention] notifications_days): delivered notifications older than
        `before` are deleted; pending and failed ones, the diary and the read log are not
        touched."""
        if self.readonly:
            return 0
        with self.lock:
            self.commit()
            cutoff = iso(before)
            gone = self._write(
                # history only (housekeep has made minutes-old deliveries history), and
                # created first: outbox_history's index finds the candidates
                "DELETE FROM outbox WHERE NOT live AND created < %s AND ("
                "(state = 'sent' AND coalesce(doc->>'sent_at', created) < %s) OR "
                "(state = 'fallback' AND coalesce(doc->>'fallback_at', created) < %s))",
                (cutoff, cutoff, cutoff)).rowcount
            self.commit()
            return gone

    # ------------------------------------------------------------------ housekeeping
    def housekeep(self, now: datetime) -> dict[str, int]:
        """Light: long-delivered and long-failed notifications become history, old digest
        markers go. Cases and mail records stay where they are (the tables are indexed)."""
        if self.readonly:
            return {}
        with self.lock:
            self.commit()
            done = self._write(
                "UPDATE outbox SET live = false WHERE live AND ("
                "(state = 'sent' AND coalesce(doc->>'sent_at', '') < %s) OR "
                # handed to e-mail (issue 22): done on its channel, history like a sent one
                "(state = 'fallback' AND coalesce(doc->>'fallback_at', '') < %s) OR "
                # muted by the recipient's `avisering tyst` (issue 24): recorded, never sent
                "(state = 'muted' AND coalesce(doc->>'muted_at', '') < %s) OR "
                "(state = 'failed' AND coalesce(doc->>'failed_at', created) < %s))",
                (iso(now - SENT_KEEP), iso(now - SENT_KEEP), iso(now - SENT_KEEP),
                 iso(now - FAILED_KEEP))).rowcount
            markers = self._write("DELETE FROM markers WHERE starts_with(slot, 'digest:') "
                                  "AND day < %s",
                                  ((now - DIGEST_KEEP).date().isoformat(),)).rowcount
            self.commit()
            return {"cases": 0, "mails": 0, "notifications": done, "markers": markers}
