"""One bad mail or one unreadable file never stops intake (issue 12, items 3 and 4).

`ingest` as a subprocess with a clean environment in a temporary working directory, over a
batch of good mail, impossible dates, garbage and files that cannot be read; the Maildir
source and the run loop's poll_mailbox with unreadable entries beside good mail.
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from bot.mail.maildir import MaildirMailSource
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))
REGION = "Lisa Larsson <lisa.larsson@regionexempel.se>"


def deviation(n: int, date: bytes | None = None) -> bytes:
    raw = make_mail(sender=REGION, subject=f"Avvikelse {n} – läkemedel, Hemtjänst Norr",
                    body=f"Avvikelse nummer {n} för Hemtjänst Norr.",
                    message_id=f"<avv-{n}@regionexempel.se>")
    if date is not None:
        raw = b"Received: from mx1 by mx.exempelby.se; " + date + b"\nDate: " + date + b"\n" + raw
    return raw


def test_ingest_gives_one_outcome_per_file_and_exits_0(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    files = {
        "01-good.eml": deviation(1),
        "02-year-9999.eml": deviation(2, b"Fri, 31 Dec 9999 23:59:59 -0500"),
        "03-year-0.eml": deviation(3, b"Sat, 01 Jan 0000 00:00:00 +0000"),
        "04-garbage.eml": bytes(range(256)) * 40,
        "05-empty.eml": b"",
        "06-nul.eml": b"\x00" * 4096,
        "09-good.eml": deviation(9),
    }
    for name, raw in files.items():
        (batch / name).write_bytes(raw)
    (batch / "07-a-directory.eml").mkdir()
    os.mkfifo(batch / "08-fifo.eml")                 # would block a naive read forever
    names = sorted(p.name for p in batch.iterdir())
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8"}

    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / "data"),
                           "ingest", "--json", *[str(batch / n) for n in names]],
                          capture_output=True, text=True, timeout=120, env=env, cwd=cwd)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    results = json.loads(done.stdout)
    assert [Path(r["file"]).name for r in results] == names, "one outcome per file, in order"
    by_name = {Path(r["file"]).name: r for r in results}
    assert by_name["07-a-directory.eml"]["outcome"] == "unreadable"
    assert by_name["08-fifo.eml"]["outcome"] == "unreadable"
    assert by_name["01-good.eml"]["diary_number"] == "VOK 2026/0001"
    numbers = [r["diary_number"] for r in results if r["diary_number"]]
    assert all(n.startswith("VOK 2026/") for n in numbers), numbers     # never VOK 9999/…
    assert by_name["02-year-9999.eml"]["outcome"] == "new_case"
    assert by_name["09-good.eml"]["outcome"] == "new_case", "files after the bad ones are read"
    for name in ("04-garbage.eml", "05-empty.eml", "06-nul.eml"):
        assert by_name[name]["outcome"] in ("triage", "ignored", "new_case")


def _maildir_with_bad_entries(root: Path) -> MaildirMailSource:
    inbox = MaildirMailSource(root)
    inbox.deliver(deviation(1), name="1.good", when=datetime(2026, 11, 16, 7, 0, tzinfo=timezone.utc))
    (root / "new" / "2.directory").mkdir()
    os.mkfifo(root / "new" / "3.fifo")
    inbox.deliver(deviation(4), name="4.good", when=datetime(2026, 11, 16, 7, 5, tzinfo=timezone.utc))
    return inbox


def test_the_run_loop_keeps_diarising_past_unreadable_maildir_entries(settings, clock, notifier,
                                                                    sender, caplog):
    from bot.app import build
    inbox = _maildir_with_bad_entries(settings.data_dir / "inbox")
    bot = build(settings, mail=inbox, notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.mail.maildir"):
            first = bot.poll_mailbox()
            second = bot.poll_mailbox()
    finally:
        bot.close()
    assert [(r["outcome"], r["diary_number"]) for r in first] == [
        ("new_case", "VOK 2026/0001"), ("new_case", "VOK 2026/0002")]
    assert second == []
    filed = sorted(p.name for p in (settings.data_dir / "inbox" / ".Diarierat" / "cur").iterdir())
    assert filed == ["1.good:2,S", "4.good:2,S"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len([w for w in warnings if "2.directory" in w]) == 1, "reported once, not every round"
    assert len([w for w in warnings if "3.fifo" in w]) == 1
    assert inbox.describe()["unreadable"] == ["new/2.directory", "new/3.fifo"]


def test_a_mail_that_vanishes_between_listing_and_reading_is_skipped(tmp_path, caplog):
    inbox = MaildirMailSource(tmp_path / "inbox")
    inbox.deliver(deviation(1), name="a")
    inbox.deliver(deviation(2), name="b")
    listed = list(inbox.waiting())
    (tmp_path / "inbox" / "new" / "a").unlink()        # another reader took it
    with caplog.at_level(logging.WARNING):
        read = [inbox.read(w) for w in listed]
    assert read[0] is None and read[1] == deviation(2)
    assert caplog.records == []


def test_a_file_without_read_permission_is_skipped(tmp_path):
    """Permissions 000 only stop a process that is not root: as root, a forked child drops
    to nobody (the interpreter is already loaded, so nothing needs to be executable)."""
    import shutil
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="mailsec-"))   # pytest's tmp_path is 0700 to root
    try:
        _read_as_nobody(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _read_as_nobody(tmp_path: Path) -> None:
    root = tmp_path / "inbox"
    inbox = MaildirMailSource(root)
    inbox.deliver(deviation(1), name="1.locked")
    inbox.deliver(deviation(2), name="2.open")
    (root / "new" / "1.locked").chmod(0)
    (root / "new" / "2.open").chmod(0o644)
    for path in (tmp_path, root, root / "new"):
        path.chmod(0o755)
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:                                   # the child: read as an ordinary user
        try:
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            read = [(w.source_id, inbox.read(w) is not None) for w in inbox.waiting()]
            os.write(writer, json.dumps({"read": read, "unreadable": inbox.describe()["unreadable"]})
                     .encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        answer = json.loads(pipe.read() or b"{}")
    os.waitpid(child, 0)
    # cur/ stayed 0700: an unreadable folder is reported too, and new/ is still read
    assert answer == {"read": [["new/1.locked", False], ["new/2.open", True]],
                      "unreadable": ["cur", "new/1.locked"]}
