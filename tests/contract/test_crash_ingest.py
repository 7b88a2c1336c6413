"""SIGKILL in the middle of ingesting a batch, restart, finish: the store opens, every
mail has exactly one outcome, no diary number is missing or doubled, no notification lost."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))
UNITS = ["Hemtjänst Norr", "Hemtjänst Söder", "Solgården", "Björkhagen"]


def _write_mails(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    paths = []
    for i in range(count):
        raw = make_mail(sender=f"Handläggare {i} <h{i}@regionexempel.se>",
                        subject=f"Avvikelse nr {i} – {UNITS[i % 4]}",
                        body=f"Vi rapporterar en avvikelse hos {UNITS[i % 4]}. Allvarlighetsgrad: gul.",
                        date=start + timedelta(minutes=i), message_id=f"<crash-{i}@regionexempel.se>")
        path = folder / f"{i:04d}.eml"
        path.write_bytes(raw)
        paths.append(path)
    return paths


def _ingest_cmd(data: Path, files: list[Path]) -> list[str]:
    return [CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "ingest", "--json",
            *map(str, files)]


def _kill_after_durable(data: Path, files: list[Path], durable: int) -> None:
    """Start an ingest and SIGKILL it as soon as it has reported `durable` mails as durable
    (it prints a line per mail after each group commit): the kill lands inside a later,
    uncommitted group, decided by what the process has done, not by a clock."""
    command = [c for c in _ingest_cmd(data, files) if c != "--json"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    for _ in range(durable):
        assert child.stdout.readline(), "the ingest ended before the chosen moment"
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


def test_sigkill_mid_batch_then_restart_loses_and_doubles_nothing(tmp_path):
    files = _write_mails(tmp_path / "mails", 240)
    data = tmp_path / "data"
    for durable in (1, 60, 110):         # inside the second, third and fourth group
        _kill_after_durable(data, files, durable)

    done = subprocess.run(_ingest_cmd(data, files), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    final = json.loads(done.stdout)
    assert {r["outcome"] for r in final} <= {"duplicate", "new_case"}

    store = TinyDbCaseStore(data, readonly=True)
    records = store.mail_records()
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys)) == len(files), "every mail exactly one outcome"
    assert {r["outcome"] for r in records} == {"new_case"}

    cases = list(store.all_cases())
    numbers = sorted(c.key % 1_000_000 for c in cases)
    assert numbers == list(range(1, len(files) + 1)), "diary numbers gapless and unique"
    by_number = {r["number"] for r in records}
    assert by_number == {c.number for c in cases}

    outbox = store.outbox()
    for case in cases:
        told = {n["recipient"] for n in outbox if n["diary_number"] == case.number}
        managers = set(store_managers(case.unit))
        assert managers <= told, f"{case.number}: managers were not notified"
        assert "maria" in told, f"{case.number}: the MA subscribed to all units got no copy"
    ids = [n["id"] for n in outbox]
    assert len(ids) == len(set(ids))


def store_managers(unit: str | None) -> list[str]:
    from bot.settings import load_organisation
    return load_organisation(EXAMPLE_CONFIG).managers_of(unit)
