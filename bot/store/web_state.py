"""The web overview's state in PostgreSQL (with DATABASE_URL): one-time sign-in tokens,
sessions, pending sign-in flows and the read log, shared by every instance on the database.

Two `run` (or `web`) instances behind a load balancer then sign in and log reads as one: a
link redeemed on one cannot be redeemed on the other (one UPDATE … WHERE used IS NULL …
RETURNING decides), a session started on one is valid on the other and ended on both by a
sign-out on either, and the read log is one table in the order written. Only SHA-256 hashes
of tokens and session ids are stored, as in the JSON store's token file. The tables come
with migration 003 (additive: 0.3.0 ignores them, see bot.store.postgres.migrate_schema).

One connection in autocommit mode, each operation one statement (so atomic by itself),
behind a lock of this process. A broken connection fails the operation with
DatabaseUnavailable (the web answers 503) and is replaced at the next operation, tried again
at most every RETRY_SECONDS while the database stays down. `now` is always the caller's
clock, never the database's, as in the rest of the web.
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import secrets
import threading
import time
from datetime import date, datetime, time as clock_time, timedelta, timezone
from typing import Any, Iterator

import psycopg
from psycopg.types.json import Jsonb

from bot.domain.redact import redact
from bot.domain.weblink import local_target
from bot.errors import DatabaseUnavailable
from bot.store.leader import application_name, conninfo, first_line, instance_name
from bot.store.postgres import migrate_schema

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5       # a page waits no longer than this for a database that is gone
RETRY_SECONDS = 1.0               # between two tries to reconnect, pages answer 503 at once
TOKEN_KEEP = timedelta(days=1)    # a used or expired link is still known as such for a day
MAX_TOKEN = 200                   # longer is no token of ours: not even hashed


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class _Connection:
    """The web state's own connection (the diary's store is read-only in the web)."""

    def __init__(self, url: str, command: str):
        self.url, self.command = url, command
        self.conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._migrated = False
        self._down_since: float | None = None
        self._shut = False

    def _ensure(self) -> psycopg.Connection:
        if self.conn is not None and not self.conn.closed and not self.conn.broken:
            return self.conn
        if self._shut:
            raise DatabaseUnavailable("webbens databasanslutning är stängd")
        if time.monotonic() < self._retry_at:
            raise DatabaseUnavailable("databasen nås inte (webben försöker igen strax)")
        if self.conn is not None and not self.conn.closed:
            self.conn.close()                  # broken: its session is gone with it
        options: dict[str, Any] = {}
        if "connect_timeout" not in self.url:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        conn = None
        try:
            conn = psycopg.connect(conninfo(self.url), autocommit=True,
                                   application_name=application_name(self.command + " webb",
                                                                     instance_name()),
                                   **options)
            if not self._migrated:        # `web` opens the diary read-only: the tables may be new
                migrate_schema(conn)
                self._migrated = True
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if not isinstance(exc, psycopg.OperationalError):
                raise
            self._retry_at = time.monotonic() + RETRY_SECONDS
            self._went_down(first_line(exc))
            raise DatabaseUnavailable(f"kan inte ansluta till databasen: {first_line(exc)}") from exc
        if self._down_since is not None:
            log.warning("webben: databasen nås igen efter %.0f s", time.monotonic() - self._down_since)
            self._down_since = None
        self.conn = conn
        return conn

    def _went_down(self, error: str) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("webben: databasen nås inte: %s; sidorna svarar 503 tills den är tillbaka",
                        error)

    def rows(self, query: str, params: Any = None) -> list[tuple]:
        """One statement (autocommit: atomic by itself); its rows, if it returns any."""
        with self._lock:
            conn = self._ensure()
            try:
                with conn.cursor() as cur:
                    cur.execute(query, params)          # type: ignore[arg-type]
                    return cur.fetchall() if cur.description else []
            except psycopg.Error as exc:
                if not (conn.closed or conn.broken):
                    raise
                self._went_down(first_line(exc))
                raise DatabaseUnavailable(f"anslutningen bröts: {first_line(exc)}") from exc

    def close(self) -> None:
        with self._lock:
            self._shut = True
            if self.conn is not None and not self.conn.closed:
                self.conn.close()


class DbLoginTokens:
    """One-time sign-in tokens (hashes only); a token is redeemed once across all instances."""

    def __init__(self, db: _Connection, minutes: int):
        self.db, self.minutes = db, minutes

    def issue(self, person_id: str, now: datetime, next_path: str | None = None) -> str:
        """A new token; `next_path` (checked by the caller) is where the browser lands."""
        token = secrets.token_urlsafe(32)
        self.db.rows("WITH gone AS (DELETE FROM web_tokens WHERE expires < %(horizon)s) "
                     "INSERT INTO web_tokens (digest, person, issued, expires, next) "
                     "VALUES (%(digest)s, %(person)s, %(now)s, %(expires)s, %(next)s)",
                     {"horizon": now - TOKEN_KEEP, "digest": digest(token), "person": person_id,
                      "now": now, "expires": now + timedelta(minutes=self.minutes),
                      "next": next_path or None})
        return token

    def redeem(self, token: str, now: datetime) -> str | None:
        """The person the token was issued to, once; None when unknown, used or expired."""
        found = self.redeem_with_target(token, now)
        return found[0] if found else None

    def redeem_with_target(self, token: str, now: datetime) -> tuple[str, str | None] | None:
        """(person, the page to land on or None), once. The one UPDATE that sets `used`
        wins; a concurrent one on another instance waits for its row lock, then finds `used`
        set and returns nothing. The target is checked again: the table is not trusted."""
        if not token or len(token) > MAX_TOKEN:
            return None
        found = self.db.rows("UPDATE web_tokens SET used = %s WHERE digest = %s "
                             "AND used IS NULL AND expires > %s RETURNING person, next",
                             (now, digest(token), now))
        if not found:
            return None
        return found[0][0], local_target(found[0][1])


class DbSessions:
    """Signed-in browsers of every instance: the cookie's random id, stored as its hash."""

    def __init__(self, db: _Connection, hours: int):
        self.db = db
        self.lifetime = timedelta(hours=hours)

    def start(self, person: str, now: datetime) -> str:
        session_id = secrets.token_urlsafe(32)
        self.db.rows("WITH gone AS (DELETE FROM web_sessions WHERE expires <= %(now)s) "
                     "INSERT INTO web_sessions (digest, person, started, expires) "
                     "VALUES (%(digest)s, %(person)s, %(now)s, %(expires)s)",
                     {"now": now, "digest": digest(session_id), "person": person,
                      "expires": now + self.lifetime})
        return session_id

    def person(self, session_id: str | None, now: datetime) -> str | None:
        if not session_id or len(session_id) > MAX_TOKEN:
            return None
        key = digest(session_id)
        found = self.db.rows("SELECT person, expires > %s FROM web_sessions WHERE digest = %s",
                             (now, key))
        if not found:
            return None
        if not found[0][1]:                         # expired: gone from every instance
            self.db.rows("DELETE FROM web_sessions WHERE digest = %s", (key,))
            return None
        return str(found[0][0])

    def end(self, session_id: str | None) -> None:
        if session_id and len(session_id) <= MAX_TOKEN:
            self.db.rows("DELETE FROM web_sessions WHERE digest = %s", (digest(session_id),))


class DbPending:
    """Short-lived values of a sign-in flow between two requests, each taken once."""

    def __init__(self, db: _Connection):
        self.db = db

    def put(self, key: str, value: dict, expires: datetime, now: datetime) -> None:
        self.db.rows("WITH gone AS (DELETE FROM web_pending WHERE expires <= %(now)s) "
                     "INSERT INTO web_pending (key, value, expires) VALUES "
                     "(%(key)s, %(value)s, %(expires)s) ON CONFLICT (key) DO UPDATE SET "
                     "value = EXCLUDED.value, expires = EXCLUDED.expires",
                     {"now": now, "key": key, "value": Jsonb(value), "expires": expires})

    def take(self, key: str, now: datetime) -> dict | None:
        found = self.db.rows("DELETE FROM web_pending WHERE key = %s RETURNING value, expires",
                             (key,))
        if not found or found[0][1] <= now:
            return None
        return dict(found[0][0])


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


class DbReadLog:
    """The read log as one table: every instance's reads, in the order written. Entries of
    the files an earlier release (or this one with the JSON store) wrote in the state
    directory are exported beside them, merged by time: nothing logged before is lost."""

    def __init__(self, db: _Connection, older: Any = None):
        self.db, self.older = db, older

    def record(self, *, person: str, number: str, what: str, at: datetime,
               channel: str = "webb", document: int | None = None,
               detail: str | None = None) -> None:
        self.db.rows("INSERT INTO read_log (at, person, case_no, what, channel, document, detail) "
                     "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                     (at, person, number, what, channel, document,
                      redact(detail) if detail else None))

    def _rows(self, start: date, end: date) -> Iterator[dict]:
        """Oldest first (by time, then in the order written), in pages: a year's log is not
        held at once."""
        after = (datetime.combine(start, clock_time(), timezone.utc), 0)
        until = datetime.combine(end + timedelta(days=1), clock_time(), timezone.utc)
        while True:
            rows = self.db.rows(
                "SELECT id, at, person, case_no, what, channel, document, detail FROM read_log "
                "WHERE (at, id) > (%s, %s) AND at < %s ORDER BY at, id LIMIT 5000",
                (*after, until))
            if not rows:
                return
            after = (rows[-1][1], rows[-1][0])
            for _, at, person, case_no, what, channel, document, detail in rows:
                entry: dict[str, object] = {"at": _iso(at), "person": person, "case": case_no,
                                            "what": what, "channel": channel}
                if document is not None:
                    entry["document"] = document
                if detail:
                    entry["detail"] = detail
                yield entry

    def everything(self) -> Iterator[dict]:
        """The whole table, oldest first (`migrate --from` copies it to the files)."""
        return self._rows(date(1900, 1, 1), date(9000, 12, 31))

    def entries(self, start: date, end: date) -> Iterator[dict]:
        """Entries with start <= day (UTC) <= end, oldest first; the files' entries of a
        second before the table's of the same second."""
        if self.older is None:
            return self._rows(start, end)
        return heapq.merge(self.older.entries(start, end), self._rows(start, end),
                           key=lambda e: str(e["at"]))


class PostgresWebState:
    """The four together on one connection (bot.app.web_state builds the WebState)."""

    def __init__(self, url: str, *, link_minutes: int, session_hours: int,
                 command: str = "web", older_readlog: Any = None):
        self.db = _Connection(url, command)
        self.tokens = DbLoginTokens(self.db, link_minutes)
        self.sessions = DbSessions(self.db, session_hours)
        self.pending = DbPending(self.db)
        self.readlog = DbReadLog(self.db, older_readlog)

    def close(self) -> None:
        self.db.close()
