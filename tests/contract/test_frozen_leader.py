"""A frozen leader (issue 22, item 3): the leader `run` instance is stopped with SIGSTOP, as
a frozen VM, a stalled host or a long pause would stop it. Its TCP connections stay open (the
kernel still answers for a stopped process), so nothing tied to its sessions is ever released
by the server. Another instance must take over the mailbox within 10 s; a mail that arrives
during the freeze is diarised once, by the new leader; when the old leader is let go on
(SIGCONT) its late writes are refused and it goes on as a follower (the next trial freezes the
new leader, and the old one must take over).

The leader is frozen while its store session has an open transaction that wrote (the mails
of a batch being diarised) whenever the test can catch one, so the late write is a real one.

FROZEN_TRIALS sets the number of freezes (the suite runs 2; the closing note's 20 with
FROZEN_TRIALS=20); each trial's takeover time (SIGSTOP to the leader row naming another
instance, polled in the database) is printed with min/median/max."""
from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import time

import sys
from pathlib import Path

import psycopg
import pytest

from tests.contract.test_failover import REPO, _all_sent, _count, _deliver, _leader, _table_ready, _wait
from tests.fakes.mail import make_mail
from tests.realparts.dovecot import PASSWORD, Dovecot

USER = "registrator"

TAKEOVER_LIMIT = 10.0
MAILS_PER_TRIAL = 6


def _writing(conn, pid: int) -> bool:
    """Whether instance `pid` has a store transaction open that already wrote something."""
    return bool(conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s "
        "AND application_name NOT LIKE 'avvikelsebot leader %%' "
        "AND state IN ('idle in transaction', 'active') AND backend_xid IS NOT NULL",
        (f"%:{pid}",)).fetchone()[0])


class Mailbox:
    """Where the mail waits: the shared Maildir of test_failover, or a real Dovecot."""

    def __init__(self, kind: str, data: Path, dovecot: Dovecot | None):
        self.kind, self.inbox, self.dovecot = kind, data / "inbox", dovecot
        for sub in ("new", "cur", "tmp"):
            (self.inbox / sub).mkdir(parents=True)

    def env(self) -> dict[str, str]:
        if self.dovecot is None:
            return {}
        return {"MAIL_SOURCE": "imap", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(self.dovecot.port),
                "IMAP_SECURITY": "none", "IMAP_USER": USER, "IMAP_PASSWORD": PASSWORD}

    def deliver(self, n: int) -> None:
        if self.dovecot is None:
            _deliver(self.inbox, n)
            return
        self.dovecot.deliver(USER, make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject=f"Avvikelse Hemtjänst Norr – händelse {n}",
            message_id=f"<failover-{n}@regionexempel.se>",
            body=f"Hej,\nhändelse nummer {n}.\nMvh Lisa"))

    def waiting(self) -> int:
        if self.dovecot is None:
            return len(list(self.inbox.glob("new/*")) + list(self.inbox.glob("cur/*")))
        return len(self.dovecot.messages(USER, "INBOX"))


def _start(url: str, data: Path, seen: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.realparts.instance", url, str(data),
                             str(seen), json.dumps(env)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=open(data.parent / f"instance-{time.monotonic_ns()}.log", "wb"))


@pytest.mark.parametrize("kind", ["maildir", "imap"])
def test_a_frozen_leader_is_replaced_within_10_s_and_its_late_writes_are_refused(
        kind, tmp_path, database_url, request):
    trials = int(os.environ.get("FROZEN_TRIALS", "2"))
    seed = int(os.environ.get("FROZEN_SEED", str(random.randrange(1 << 30))))
    rng = random.Random(seed)
    data, seen = tmp_path / "data", tmp_path / "seen.jsonl"
    mailbox = Mailbox(kind, data, request.getfixturevalue("dovecot") if kind == "imap" else None)
    conn = psycopg.connect(database_url, autocommit=True)
    instances = {p.pid: p for p in (_start(database_url, data, seen, mailbox.env())
                                    for _ in range(2))}
    takeovers: list[float] = []
    caught_writing = 0
    sent = 0
    frozen: subprocess.Popen | None = None
    try:
        _wait(lambda: _table_ready(conn) and _leader(conn), 60, "no instance took the lead")
        for trial in range(trials):
            epoch, pid = _leader(conn) or (0, 0)
            victim = instances[pid]
            before = _count(conn, "mails")
            for _ in range(MAILS_PER_TRIAL):
                mailbox.deliver(sent)
                sent += 1
            # freeze it in the middle of diarising the batch: mostly while its transaction has
            # written but not committed (when the test sees one), else after a random number
            if rng.random() < 0.75:
                deadline = time.monotonic() + 5
                while not _writing(conn, pid) and time.monotonic() < deadline \
                        and _count(conn, "mails") < before + MAILS_PER_TRIAL:
                    time.sleep(0.001)
            else:
                threshold = before + rng.randrange(0, MAILS_PER_TRIAL)
                _wait(lambda: _count(conn, "mails") >= threshold, 30,
                      f"trial {trial}: the leader diarised nothing (seed {seed})")
            writing = _writing(conn, pid)
            victim.send_signal(signal.SIGSTOP)
            stopped_at = time.monotonic()
            frozen = victim
            caught_writing += writing
            mailbox.deliver(sent)                       # a mail that arrives during the freeze
            sent += 1
            new = _wait(lambda: (_leader(conn) or (0, 0))[0] > epoch and _leader(conn),
                        TAKEOVER_LIMIT + 20, f"trial {trial}: nobody took over from the frozen "
                                             f"leader (seed {seed})")
            takeovers.append(time.monotonic() - stopped_at)
            assert new[1] != pid, "the frozen instance cannot have renewed"
            _wait(lambda: _count(conn, "mails") >= sent, 30,
                  f"trial {trial}: the new leader did not diarise the waiting mail (seed {seed})")
            victim.send_signal(signal.SIGCONT)          # the old leader wakes up
            frozen = None
            _wait(lambda: _all_sent(conn), 30, f"trial {trial}: notifications left (seed {seed})")
            print(f"trial {trial}: takeover {takeovers[-1]:.2f} s, frozen while writing: {writing}")
        # the last old leader is awake: a last mail, then wait until everything is handled
        mailbox.deliver(sent)
        sent += 1
        _wait(lambda: _count(conn, "mails") >= sent and _all_sent(conn), 60,
              f"not everything was handled: {_count(conn, 'mails')} of {sent} mails (seed {seed})")
    finally:
        if frozen is not None:
            frozen.send_signal(signal.SIGCONT)
        for process in instances.values():
            process.send_signal(signal.SIGTERM)
        for process in instances.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    assert max(takeovers) <= TAKEOVER_LIMIT, f"takeovers {takeovers} (seed {seed})"
    # exactly one outcome per mail: none lost, none diarised twice (the old leader's late
    # transaction did not commit, and the new leader's copy is the only one)
    outcomes = conn.execute("SELECT doc->>'message_id', doc->>'outcome', number FROM mails").fetchall()
    assert sorted(o[0] for o in outcomes) == sorted(
        f"failover-{n}@regionexempel.se" for n in range(sent)), "a mail lost or handled twice"
    assert {o[1] for o in outcomes} == {"new_case"}
    numbers = sorted(int(o[2].split("/")[1]) for o in outcomes)
    assert numbers == list(range(1, sent + 1)), f"diary numbers not gapless: {numbers}"
    assert _count(conn, "cases") == sent
    assert mailbox.waiting() == 0, "a mail left in the mailbox"
    screen = [json.loads(line)["id"] for line in seen.read_text().splitlines()]
    queued = [r[0] for r in conn.execute("SELECT id FROM outbox")]
    assert len(screen) == len(set(screen)), "a notification was seen twice"
    assert sorted(screen) == sorted(queued), "a notification was lost"
    ordered = sorted(takeovers)
    print(f"{kind}: {trials} freezes (SIGSTOP), takeover min {ordered[0]:.2f} s, median "
          f"{statistics.median(ordered):.2f} s, max {ordered[-1]:.2f} s; frozen mid-transaction "
          f"{caught_writing} of {trials}; {sent} mails, {len(screen)} notifications, seed {seed}")
