"""Leadership among several `run` instances on one PostgreSQL database.

Exactly one instance watches the mailbox and runs the reminder scan: the leader. Leadership
is a lease in the `leader` row (epoch, holder, since): the leader renews it every second by
setting `since` to the database's clock, `WHERE epoch = its epoch AND holder = itself`. When
`since` is older than LEASE_SECONDS by the database's clock (no host clocks compared), the
leader has stopped answering: killed, frozen (SIGSTOP, a paused VM, a host that vanished
with its TCP connections still open) or cut off from the database, and another instance
takes over:

1. it ends the old holder's database sessions (pg_terminate_backend, found by the holder's
   name at the end of their application_name): a frozen leader keeps its sessions, its open
   transaction and its row locks (the year's counter row, the leader row it checks at
   commit) until TCP keepalive, which a stopped process still answers. Not the session that
   holds its outbox claims: a notification it has in flight waits for it (it may still go
   out when the process wakes up), rather than going out twice;
2. it takes the session advisory lock that every leader holds on its leadership session
   (waiting a moment for the ended sessions to let go of it) and increments the epoch
   `WHERE epoch` is still the one it saw: of several followers, the one with the lock wins.

A takeover therefore comes LEASE_SECONDS + at most one try (LEAD_SECONDS in bot/app.py)
after the leader's last renewal: 4–6 s. A killed leader is replaced sooner: its session went
with its process and took the advisory lock along, and a follower that finds the lock free
takes over at its next try (~1 s) without waiting for the lease. Versions before the lease
led by that lock alone: they stay followers beside a leader of this version.

Fencing: the leader's mailbox and scan transactions check, at commit, under a share lock on
the leader row, that the epoch is still theirs (PostgresCaseStore.commit); a former leader
that wakes up after a takeover finds its sessions ended, and a transaction it makes on a new
session is rolled back instead of acting twice. A leader also stops starting leader work on
its own once LEASE_SECONDS have passed since it last renewed (is_leader), before anyone may
take over.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import time

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

LEADER_LOCK = 0x61766B63          # "avkc"
LEASE_SECONDS = 5.0               # a leader that has not renewed for this long is replaced
LOCK_WAIT = "3s"                  # the takeover waits this long for an ended session's locks
CLAIMS_SESSION = "claims"         # a session holding outbox claims: a takeover leaves it
NAME_LENGTH = 40                  # application_name holds 63 bytes: "avvikelsebot <command> <name>"
# the client notices a dead server, the server a vanished host, within ~30 s instead of ~2 h
KEEPALIVES = {"keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "5",
              "keepalives_count": "3"}
SERVER_KEEPALIVES = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5",
                     "SET tcp_keepalives_count = 3")


_name: str | None = None


def instance_name() -> str:
    """This process among the instances: host.tag:pid, the same for all its sessions. The
    random tag tells apart two containers that share a host name and a pid (pid 1)."""
    global _name
    pid = str(os.getpid())
    if _name is None or not _name.endswith(":" + pid):
        tag = secrets.token_hex(2)
        _name = f"{socket.gethostname()[:NAME_LENGTH - len(pid) - len(tag) - 2]}.{tag}:{pid}"
    return _name


def application_name(command: str, name: str) -> str:
    """The session's application_name, ending with the instance's name (so a new leader can
    end a frozen one's sessions), within PostgreSQL's 63 bytes."""
    return f"avvikelsebot {command}"[:62 - len(name.encode())] + " " + name


def first_line(exc: BaseException) -> str:
    """libpq's messages run over several lines (a hint on the next): the first says it."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def conninfo(url: str) -> str:
    """The URL with TCP keepalives, unless the URL sets them itself."""
    given = conninfo_to_dict(url)
    return make_conninfo(url, **{k: v for k, v in KEEPALIVES.items() if k not in given})


def keep_alive(conn: psycopg.Connection) -> None:
    """Server-side TCP keepalives for this session: a vanished host's session ends in ~25 s."""
    for statement in SERVER_KEEPALIVES:
        conn.execute(statement)                          # type: ignore[arg-type]


class Leadership:
    def __init__(self, url: str, *, name: str | None = None, lease: float = LEASE_SECONDS):
        self.url = url
        self.name = name or instance_name()
        self.lease = lease
        self.epoch: int | None = None
        self._valid_until = 0.0          # time.monotonic() until which this lease surely holds
        self._conn: psycopg.Connection | None = None
        self._locked = False             # the advisory lock is held on self._conn
        self._failing_since: float | None = None   # renewing fails since (one log line)

    @property
    def is_leader(self) -> bool:
        return self.current() is not None

    def current(self) -> int | None:
        """The epoch while this instance leads and its lease has surely not run out."""
        if self.epoch is not None and time.monotonic() < self._valid_until:
            return self.epoch
        return None

    def try_lead(self) -> int | None:
        """Renew the lease, or take over one that ran out; the epoch while leader, None
        otherwise. A broken connection is opened again once within the same try."""
        for attempt in (1, 2):
            asked = time.monotonic()
            try:
                conn = self._connection()
                epoch = self._renew(conn) if self.epoch is not None else self._take_over(conn)
            except psycopg.Error as exc:
                self._drop_connection()
                if attempt == 1 and isinstance(exc, psycopg.OperationalError):
                    continue
                if self.epoch is not None and self._failing_since is None:
                    # one line when renewing starts to fail, one when it works again: a
                    # database that is down for an hour is not 3,600 lines
                    self._failing_since = time.monotonic()
                    log.warning("kan inte förnya ledarskapet: %s", first_line(exc))
                return self.current()
            if self._failing_since is not None:
                log.info("ledarskapet nås igen efter %.0f s",
                         time.monotonic() - self._failing_since)
                self._failing_since = None
            if epoch is None:
                return None
            self._valid_until = asked + self.lease
            return epoch
        return self.current()

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop_connection()
            self._conn = psycopg.connect(conninfo(self.url), autocommit=True,
                                         application_name=application_name("leader", self.name))
            keep_alive(self._conn)
            self._conn.execute(f"SET lock_timeout = '{LOCK_WAIT}'")  # type: ignore[arg-type]
        return self._conn

    def _renew(self, conn: psycopg.Connection) -> int | None:
        assert self.epoch is not None
        renewed = conn.execute(
            "UPDATE leader SET since = clock_timestamp() WHERE id = 1 AND epoch = %s "
            "AND holder = %s RETURNING epoch", (self.epoch, self.name)).fetchone()
        if renewed is not None and not self._locked:   # a new session: the lock again, if free
            self._locked = bool(conn.execute("SELECT pg_try_advisory_lock(%s)",
                                             (LEADER_LOCK,)).fetchone()[0])  # type: ignore[index]
        if renewed is None:
            log.warning("ledarskapet förlorat (epok %d): en annan instans har tagit över",
                        self.epoch)
            self._step_down()
            return None
        return self.epoch

    def _take_over(self, conn: psycopg.Connection) -> int | None:
        row = conn.execute("SELECT epoch, holder, since < clock_timestamp() - make_interval("
                           "secs => %s) FROM leader WHERE id = 1", (self.lease,)).fetchone()
        expired = row is None or bool(row[2])
        if not self._locked:
            if expired:
                if row is not None:
                    self._end_sessions(conn, row[1])
                try:         # waits (up to LOCK_WAIT) for the ended sessions to let go of it
                    conn.execute("SELECT pg_advisory_lock(%s)", (LEADER_LOCK,))
                except psycopg.errors.LockNotAvailable:
                    return None
            else:
                # the lease still runs, but a killed leader's lock went with its session: no
                # need to wait for the lease (a live leader holds the lock, and renews)
                if not conn.execute("SELECT pg_try_advisory_lock(%s)",
                                    (LEADER_LOCK,)).fetchone()[0]:  # type: ignore[index]
                    return None
                assert row is not None
                self._end_sessions(conn, row[1])
            self._locked = True
        if row is None:
            taken = conn.execute(
                "INSERT INTO leader (id, epoch, holder, since) VALUES (1, 1, %s, clock_timestamp()) "
                "ON CONFLICT (id) DO NOTHING RETURNING epoch", (self.name,)).fetchone()
        else:
            taken = conn.execute(
                "UPDATE leader SET epoch = epoch + 1, holder = %s, since = clock_timestamp() "
                "WHERE id = 1 AND epoch = %s RETURNING epoch", (self.name, row[0])).fetchone()
        if taken is None:                    # another instance was quicker
            self._release_lock(conn)
            return None
        self.epoch = int(taken[0])
        log.info("leder nu brevlådan och påminnelserna (epok %d)", self.epoch)
        return self.epoch

    def _end_sessions(self, conn: psycopg.Connection, holder: str) -> None:
        """End the old leader's sessions: its open transaction is rolled back and its locks go."""
        if holder == self.name:    # this instance lapsed: only its own stale leader sessions
            query = "application_name = %s"
            params: tuple[str, ...] = (application_name("leader", holder),)
        else:
            # not the session holding its outbox claims: what it has in flight is still its
            # own to send when it wakes up (else a notification could go out twice)
            query = "right(application_name, length(%s)) = %s AND application_name <> %s"
            params = (" " + holder, " " + holder, application_name(CLAIMS_SESSION, holder))
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND {query}", params)]  # type: ignore[arg-type]
        for pid in pids:
            try:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            except psycopg.errors.InsufficientPrivilege as exc:
                log.warning("kan inte avsluta den förra ledarens session %d: %s", pid, exc)
        if pids:
            log.info("den förra ledaren %s svarar inte; dess %d sessioner avslutade",
                     holder, len(pids))

    def _release_lock(self, conn: psycopg.Connection) -> None:
        if self._locked:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LEADER_LOCK,))
            self._locked = False

    def _step_down(self) -> None:
        self.epoch = None
        self._valid_until = 0.0
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            try:
                self._release_lock(self._conn)
            except psycopg.Error:
                self._drop_connection()
        self._locked = False

    def _drop_connection(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
        self._locked = False

    def close(self) -> None:
        self._drop_connection()
        self.epoch = None
        self._valid_until = 0.0
