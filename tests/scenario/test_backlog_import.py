"""A backlog import (`ingest --quiet-import`): a year of mail is diarised without notifying
anyone and without a reminder storm for deadlines that had passed before the import; a
progress bar on the terminal, a Swedish summary per outcome at the end."""
from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import termios
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.fakes.mail import make_mail
from tests.scenario.test_cli import CLI, EXAMPLE_CONFIG, cli

LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"


def backlog(folder: Path, now: datetime) -> list[str]:
    """Twenty deviations from the past year, one from an hour ago, one newsletter."""
    folder.mkdir()
    paths = []
    for n in range(20):
        sent = now - timedelta(days=15 + 17 * n)
        path = folder / f"{n:02}.eml"
        path.write_bytes(make_mail(sender=LISA, subject=f"Avvikelse Hemtjänst Norr nr {n}",
                                   body="Vi anmäler en avvikelse.", date=sent))
        paths.append(str(path))
    recent = folder / "recent.eml"
    recent.write_bytes(make_mail(sender=LISA, subject="Avvikelse Hemtjänst Norr i går",
                                 body="Vi anmäler en avvikelse.", date=now - timedelta(hours=1)))
    news = folder / "news.eml"
    news.write_bytes(make_mail(sender="Nyhetsbrev <news@example.org>", subject="Veckans nyheter",
                               body="Hej!", date=now - timedelta(days=3),
                               headers={"List-Unsubscribe": "<mailto:u@example.org>"}))
    return paths + [str(recent), str(news)]


def ingest_on_a_terminal(data: Path, *args: str) -> tuple[str, str]:
    """stderr on a pseudo-terminal, as when a person runs it; stdout captured."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "ingest", *args],
                          stdout=subprocess.PIPE, stderr=follower, timeout=120, text=True,
                          cwd=data.parent)
    os.close(follower)
    terminal = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        terminal += chunk
    os.close(leader)
    assert done.returncode == 0, terminal
    return done.stdout, terminal.decode("utf-8", "replace")


def due_at(data: Path, moment: datetime) -> list[dict]:
    at = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    # the weekly digest is one line per person, not a storm: only reminders and escalations
    return [d for d in json.loads(cli(data, "reminders", "--at", at, "--json").stdout)
            if d["level"] != "digest"]


def next_tuesday_morning(now: datetime) -> datetime:
    day = now + timedelta(days=(1 - now.weekday()) % 7 or 7)
    return day.replace(hour=8, minute=30, second=0, microsecond=0)


def test_a_quiet_import_notifies_nobody_and_reminds_only_of_later_deadlines(tmp_path):
    now = datetime.now(timezone.utc)
    files = backlog(tmp_path / "backlog", now)
    data = tmp_path / "data"
    out, terminal = ingest_on_a_terminal(data, "--quiet-import", *files)

    assert "22/22" in terminal                                # the progress bar, to the end
    assert "Importen är klar: 22 mejl." in out
    assert "nytt ärende: 21" in out and "ignorerat: 1" in out
    assert "Ingen har aviserats" in out
    assert json.loads(cli(data, "outbox", "--json").stdout) == []
    cases = json.loads(cli(data, "list", "--json").stdout)
    assert len(cases) == 21
    # the next working morning: nothing overdue from before the import is chased
    assert due_at(data, next_tuesday_morning(now)) == []
    # a deadline that passes after the import reminds as usual
    later = due_at(data, next_tuesday_morning(now + timedelta(days=28)))
    assert len({d["diary_number"] for d in later}) == 1


def test_the_same_backlog_imported_loudly_would_flood_everyone(tmp_path):
    now = datetime.now(timezone.utc)
    files = backlog(tmp_path / "backlog", now)
    data = tmp_path / "data"
    assert cli(data, "ingest", *files).returncode == 0
    assert len(json.loads(cli(data, "outbox", "--json").stdout)) >= 21
    assert len(due_at(data, next_tuesday_morning(now))) >= 20
