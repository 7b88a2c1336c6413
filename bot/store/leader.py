"""Leadership among several `run` instances on one PostgreSQL database.

Exactly one instance watches the mailbox and runs the reminder scan: the one holding a
session advisory lock on a dedicated connection. The lock goes with the session, so a killed
leader's lock is released by the server as soon as its connection is gone, and another
instance takes over at its next try (every second).

Fencing: every takeover increments the epoch in the `leader` row. The leader's mailbox and
scan transactions check, at commit, under a share lock on that row, that the epoch is still
theirs (PostgresCaseStore.fence); a former leader that was paused (a long GC, a frozen VM)
and wakes up after a takeover has its transaction rolled back instead of acting twice.
"""
from __future__ import annotations

import logging
import os
import socket

import psycopg

log = logging.getLogger(__name__)

LEADER_LOCK = 0x61766B63          # "avkc"


class Leadership:
    def __init__(self, url: str, *, name: str | None = None):
        self.url = url
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.epoch: int | None = None
        self._conn: psycopg.Connection | None = None

    @property
    def is_leader(self) -> bool:
        return self.epoch is not None

    def try_lead(self) -> int | None:
        """Keep or take the leadership; the epoch while leader, None otherwise. A leader
        whose connection broke is a leader no more (its lock went with the session)."""
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self._conn = psycopg.connect(self.url, autocommit=True,
                                             application_name=f"avvikelsebot leader {self.name}")
                self.epoch = None
            if self.epoch is not None:
                self._conn.execute("SELECT 1")          # still connected: still leader
                return self.epoch
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_LOCK,)).fetchone()
            if not row or not row[0]:
                return None
            taken = self._conn.execute(
                "INSERT INTO leader (id, epoch, holder, since) VALUES (1, 1, %s, now()) "
                "ON CONFLICT (id) DO UPDATE SET epoch = leader.epoch + 1, holder = EXCLUDED.holder, "
                "since = EXCLUDED.since RETURNING epoch", (self.name,)).fetchone()
            assert taken is not None
            self.epoch = int(taken[0])
            log.info("leder nu brevlådan och påminnelserna (epok %d)", self.epoch)
            return self.epoch
        except psycopg.Error as exc:
            if self.epoch is not None:
                log.warning("ledarskapet förlorat: %s", exc)
            self.epoch = None
            self.close()
            return None

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._conn = None
        self.epoch = None
