"""Backup while mail is flowing, restore elsewhere: the same diary. A live directory is never
overwritten, and a backup target must be new."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from bot.app import build
from bot.domain.access import Actor
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.backup import backup, restore
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG, MONDAY
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

CLI = str(Path(sys.executable).with_name("avvikelsebot"))


def _mail(i: int) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {i} Hemtjänst Norr", body="Vi anmäler en avvikelse.",
                     message_id=f"<bk-{i}@regionexempel.se>")


def test_a_backup_taken_while_mail_flows_is_a_consistent_diary(org, tmp_path):
    data = tmp_path / "data"
    bot = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={}),
                clock=FixedClock(MONDAY), notifiers={"console": FakeNotifier()}, sender=FakeMailSender())
    for i in range(20):
        bot.services.ingest_mail(_mail(i))
    bot.services.handle_command(Actor.person("rut"), "avsluta VOK 2026/1 fel diarierad", "cli")
    bot.services.housekeep(force=True)            # one case in the archive already
    flowing = threading.Event()

    def keep_writing():
        for i in range(20, 400):
            bot.services.ingest_mail(_mail(i))
            flowing.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    flowing.wait(10)
    copies = [backup(data, tmp_path / f"copy{n}") for n in range(3)]   # while it writes
    writer.join()
    bot.close()
    for n, made in enumerate(copies):
        store = TinyDbCaseStore(tmp_path / f"copy{n}", readonly=True)
        numbers = sorted(c.key % 1_000_000 for c in store.all_cases())
        assert numbers == list(range(1, len(numbers) + 1)), "a gapless prefix of the diary"
        assert len(numbers) >= 20
        for case in store.open_cases():                # every case with its mail record
            assert store.mail_seen(f"mid:{case.message_ids[0]}")["number"] == case.number
        assert store.get_case_by_text("VOK 2026/1").status == "closed"

    restored = tmp_path / "restored"
    restore(tmp_path / "copy2", restored)
    original, again = TinyDbCaseStore(tmp_path / "copy2", readonly=True), TinyDbCaseStore(restored)
    assert [c.to_dict() for c in again.all_cases()] == [c.to_dict() for c in original.all_cases()]
    again.close()


def test_restore_never_overwrites_a_diary_and_backup_wants_a_new_folder(org, tmp_path):
    data = tmp_path / "data"
    store = TinyDbCaseStore(data)
    store.close()
    copy = tmp_path / "copy"
    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "backup",
                           str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    again = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "backup",
                            str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 2 and "inte tom" in again.stderr
    refused = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "restore",
                              str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert refused.returncode == 2 and "innehåller redan ett diarium" in refused.stderr
    elsewhere = tmp_path / "elsewhere"
    ok = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(elsewhere), "restore",
                         str(copy)], capture_output=True, text=True, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert (elsewhere / "live.json").exists()
    # restored with the fences of its format: older releases refuse it (test_rollback.py)
    assert (elsewhere / "writer.lock").is_dir() and (elsewhere / "live.json").is_symlink()
    assert (elsewhere / "FORMAT").read_text().startswith("4\n")
