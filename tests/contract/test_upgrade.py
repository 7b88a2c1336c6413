"""A data directory written by the previous version (format 1) is upgraded on start: the
same diary, no diary number reused, reminders not sent again, a copy of the old files kept;
a reader refuses it until a writer has upgraded it; a newer format is refused."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.errors import StoreError
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

FORMAT1 = Path(__file__).resolve().parents[1] / "fixtures" / "format1" / "data"


@pytest.fixture
def old_data(tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FORMAT1, data)
    return data


def _bot(org, data: Path, moment: datetime):
    return build(Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={}),
                 clock=FixedClock(moment), notifiers={"console": FakeNotifier()},
                 sender=FakeMailSender())


def test_a_reader_refuses_an_old_directory_until_a_writer_upgraded_it(old_data):
    with pytest.raises(StoreError, match="äldre avvikelsebot"):
        TinyDbCaseStore(old_data, readonly=True)


def test_the_old_diary_is_upgraded_whole_and_numbering_goes_on(org, old_data):
    moment = datetime(2026, 11, 17, 9, 0, tzinfo=timezone.utc)
    bot = _bot(org, old_data, moment)
    try:
        store = bot.store
        closed = store.get_case_by_text("VOK 2025/0001")
        assert closed is not None and closed.status == "closed"         # from the old archive
        assert {c.number for c in store.open_cases()} == {"VOK 2025/0002", "VOK 2025/0003",
                                                          "VOK 2026/0001"}
        # the mail index of the archived case still knows its mail: a repeat is a duplicate
        again = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse 0 Hemtjänst Norr",
            body="Vi anmäler en avvikelse.", message_id="<old-0@regionexempel.se>"))
        assert again["outcome"] == "duplicate"
        # numbering continues where the old counters were: never a number twice
        fresh = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse ny Solgården",
            body="Vi anmäler en avvikelse.", message_id="<new-1@regionexempel.se>", date=moment))
        assert fresh["diary_number"] == "VOK 2026/0002"
        # what the old version already queued is not queued again; an escalation nobody
        # acknowledged repeats (issue 16), so only those are new
        queued = {n["id"] for n in store.outbox()}
        due = [r for r in bot.services.run_reminders(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc))
               if not r["already_sent"]]
        assert {r["level"] for r in due} <= {"escalation"}, due
        assert {n["event"] for n in store.outbox() if n["id"] not in queued} <= {"escalation"}
        # the chat-made subscription survived
        assert [s.person for s in store.subscriptions()] == ["maria"]
        reply = bot.services.handle_command(Actor.person("rut"), "status VOK 2025/3", "cli")
        assert reply.ok and "VOK 2025/0003" in reply.text
    finally:
        bot.close()
    backups = list(old_data.glob("format1-backup-*"))
    assert len(backups) == 1 and (backups[0] / "live.json").exists()
    assert (backups[0] / "cases-2025.json").exists()
    assert not list((old_data / "archive").glob("cases-*.json"))
    reader = TinyDbCaseStore(old_data, readonly=True)          # now readers work beside it
    assert reader.get_case_by_text("VOK 2026/0002") is not None


def test_a_newer_format_is_refused(org, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "live.json").write_bytes(orjson.dumps({"meta": {"1": {"format": 99, "seq": 0}}}))
    with pytest.raises(StoreError, match="nyare"):
        TinyDbCaseStore(data)


# ---------------------------------------------------------------------------- format 3
# Format 3 moves the live set to diary.json + diary.log and puts directories where releases
# 0.1.0 and 0.2.0 look (live.json, writer.lock), so that they refuse the directory
# (tests/contract/test_rollback.py runs their own code on it). The upgrade is crash-safe:
# killed at any file-system step, the old live.json is still whole, or the new diary is;
# the next start finishes, and the diary is the same.

CRASHING_START = """
import os, sys
from pathlib import Path
limit, steps = int(sys.argv[2]), [0]

def crash_at_limit(call):
    def step(*args, **kwargs):
        steps[0] += 1
        if steps[0] >= limit:
            os._exit(137)            # as if killed: no cleanup, no finally
        return call(*args, **kwargs)
    return step

for name in ("replace", "rename", "unlink", "mkdir", "rmdir"):
    setattr(os, name, crash_at_limit(getattr(os, name)))
from bot.store.repository import TinyDbCaseStore
TinyDbCaseStore(Path(sys.argv[1]), command="run").close()
print("started", steps[0])
"""

FORMAT2_TAIL = """
import os, sys
from pathlib import Path
from bot.app import build
from bot.settings import Settings, load_organisation
config, data, mail = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = Settings(config_path=config, data_dir=data, org=load_organisation(config), env={})
bot = build(settings)
print(bot.services.ingest_mail(mail.read_bytes())["diary_number"], flush=True)
os._exit(0)                          # killed after the commit: it is in journal.log only
"""


@pytest.fixture(scope="module")
def format2_data(tmp_path_factory) -> Path:
    """A data directory of release 0.2.0, by its own code: two cases in live.json, a third
    only in journal.log (the writer was killed after its commit)."""
    from tests.release_support import unpack
    where = tmp_path_factory.mktemp("format2")
    old = unpack("0.2.0", where)
    data = where / "data"
    paths = []
    for i in range(3):
        paths.append(where / f"m{i}.eml")
        paths[-1].write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                        subject=f"Avvikelse {i} Hemtjänst Norr",
                                        body="Vi anmäler en avvikelse.",
                                        message_id=f"<f2-{i}@regionexempel.se>"))
    assert old.cli(data, "ingest", str(paths[0]), str(paths[1])).returncode == 0
    tail = old.script(FORMAT2_TAIL, str(old.config), str(data), str(paths[2]))
    assert tail.returncode == 0 and tail.stdout.strip() == "VOK 2026/0003", tail.stderr
    assert b'"seq"' in (data / "journal.log").read_bytes()
    return data


def _start_crashing_at(data: Path, step: int) -> bool:
    """A writer's first start, killed before its `step`-th file-system change; True when it
    started without reaching that step."""
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-c", CRASHING_START, str(data), str(step)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 137), done.stderr
    return done.returncode == 0


def _check_upgraded(data: Path, original: bytes, numbers: set[str], following: str) -> None:
    store = TinyDbCaseStore(data)
    try:
        assert {c.number for c in store.all_cases()} == numbers
        assert store.next_number(2026).format(4) == following
        store.rollback()
    finally:
        store.close()
    assert (data / "FORMAT").read_text().startswith("4\n")
    assert (data / "live.json").is_dir() and (data / "writer.lock").is_dir()
    assert (data / "live.json" / "README.txt").is_file()
    assert not (data / "journal.log").exists()
    assert not list((data / "archive").glob("cases-*.json"))
    assert any((kept / "live.json").read_bytes() == original
               for kept in data.glob("format*-backup-*")), "no copy of the old live.json"


@pytest.mark.parametrize("source", ["format1", "format2"])
def test_an_upgrade_killed_at_any_step_is_finished_by_the_next_start(source, format2_data,
                                                                      tmp_path):
    origin = FORMAT1 if source == "format1" else format2_data
    original = (origin / "live.json").read_bytes()
    if source == "format1":
        numbers = {"VOK 2025/0001", "VOK 2025/0002", "VOK 2025/0003", "VOK 2026/0001"}
        following = "VOK 2026/0002"
    else:
        numbers = {"VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"}
        following = "VOK 2026/0004"
    step = 1
    while True:
        data = tmp_path / f"data-{step}"
        shutil.copytree(origin, data)
        finished = _start_crashing_at(data, step)
        # at the moment of the kill: the old live set whole, or the new one there; never
        # a moment without live.json (an older release would start an empty diary)
        assert (data / "live.json").exists(), step
        if (data / "live.json").is_file():
            assert (data / "live.json").read_bytes() == original, step
        else:
            assert (data / "diary.json").is_file(), step
        _check_upgraded(data, original, numbers, following)
        if finished:
            break
        step += 1
        assert step < 60
    assert step > 8          # every step of the upgrade was interrupted once


def test_a_backup_of_the_old_format_is_restored_and_upgraded(format2_data, tmp_path):
    """A backup 0.2.0 made (format 2) restores with this version: converted on the way."""
    from bot.store.backup import MANIFEST, restore
    saved = tmp_path / "saved"
    saved.mkdir()
    for name in ("live.json", "journal.log"):
        shutil.copy2(format2_data / name, saved / name)
    for name in ("raw",):
        shutil.copytree(format2_data / name, saved / name)
    (saved / MANIFEST).write_text('{"format": 2, "created": "2026-11-16T09:00:00+00:00"}')
    restore(saved, tmp_path / "new")
    reader = TinyDbCaseStore(tmp_path / "new", readonly=True)
    assert {c.number for c in reader.all_cases()} == {"VOK 2026/0001", "VOK 2026/0002",
                                                      "VOK 2026/0003"}
    assert (tmp_path / "new" / "live.json").is_dir()


def test_a_newer_format_file_is_refused_before_anything_is_written(tmp_path):
    from bot.store.layout import NewerFormatError
    data = tmp_path / "data"
    data.mkdir()
    (data / "FORMAT").write_text("5\n")
    for readonly in (False, True):
        with pytest.raises(NewerFormatError) as refused:
            TinyDbCaseStore(data, readonly=readonly)
        assert refused.value.found == 5 and refused.value.known == 4
        assert str(data) in str(refused.value)
    assert sorted(p.name for p in data.iterdir()) == ["FORMAT"]     # not even a lock file


# ---------------------------------------------------------------------------- format 4
# Format 4 is format 3 whose cases may carry fields release 0.3.0 cannot read (lagrum,
# lagrum_by, fsn_closing); FORMAT 4 is what makes 0.3.0 refuse the directory
# (tests/contract/test_rollback.py). The upgrade writes FORMAT 4 in one rename before the
# diary is opened for writing: killed at any step, the directory is still 0.3.0's own,
# byte for byte (so 0.3.0 may go on with it), or it says 4; the next start finishes.

@pytest.fixture(scope="module")
def format3_data(tmp_path_factory) -> Path:
    """A data directory of release 0.3.0, by its own code: two cases, the second one only in
    diary.log."""
    from tests.release_support import unpack
    where = tmp_path_factory.mktemp("format3")
    old = unpack("0.3.0", where)
    data = where / "data"
    for i in range(2):
        path = where / f"m{i}.eml"
        path.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                   subject=f"Avvikelse {i} Hemtjänst Norr",
                                   body="Vi anmäler en avvikelse.",
                                   message_id=f"<f3-{i}@regionexempel.se>"))
        assert old.cli(data, "ingest", str(path)).returncode == 0
    assert (data / "FORMAT").read_text().startswith("3\n")
    assert old.cli(data, "backup", str(where / "saved-by-0.3.0")).returncode == 0
    return data


def test_a_format_3_upgrade_killed_at_any_step_is_finished_by_the_next_start(format3_data,
                                                                            tmp_path):
    original = {name: (format3_data / name).read_bytes() for name in ("diary.json", "diary.log")}
    step = 1
    while True:
        data = tmp_path / f"data-{step}"
        shutil.copytree(format3_data, data, symlinks=True)
        finished = _start_crashing_at(data, step)
        written = (data / "FORMAT").read_text().split("\n")[0]
        if written == "3":
            # 0.3.0 may still use it: nothing of this version is in the diary
            assert {name: (data / name).read_bytes() for name in original} == original, step
        else:
            assert written == "4", step
        store = TinyDbCaseStore(data)
        try:
            assert {c.number for c in store.all_cases()} == {"VOK 2026/0001", "VOK 2026/0002"}
            assert store.next_number(2026).format(4) == "VOK 2026/0003"
            store.rollback()
        finally:
            store.close()
        assert (data / "FORMAT").read_text().startswith("4\n")
        assert (data / "live.json").is_symlink() and (data / "writer.lock").is_dir()
        assert "0.3.0" in (data / "writer.lock" / "README.txt").read_text()
        kept = [folder for folder in data.glob("format3-backup-*")
                if (folder / "diary.json").is_file()]
        assert any((folder / "diary.json").read_bytes() == original["diary.json"]
                   and (folder / "diary.log").read_bytes() == original["diary.log"]
                   for folder in kept), step
        meta = orjson.loads((data / "diary.json").read_bytes())["meta"]["1"]
        assert meta["format"] == 4
        if finished:
            break
        step += 1
        assert step < 40
    assert step > 10         # every step of the upgrade was interrupted once (13 here)


def test_a_reader_reads_a_format_3_directory_without_writing(format3_data, tmp_path):
    """A reader (status, list, the web) beside a 0.3.0 directory not yet upgraded: reads it,
    changes nothing; the first writer upgrades it."""
    from tests.release_support import tree
    data = tmp_path / "data"
    shutil.copytree(format3_data, data, symlinks=True)
    before = tree(data)
    reader = TinyDbCaseStore(data, readonly=True)
    assert {c.number for c in reader.all_cases()} == {"VOK 2026/0001", "VOK 2026/0002"}
    assert tree(data) == before


def test_a_backup_0_3_0_made_is_restored_and_upgraded(format3_data, tmp_path):
    """The backup the README tells an admin to take with 0.3.0 restores with this version,
    which upgrades it to format 4 on the way."""
    from bot.store.backup import restore
    restore(format3_data.parent / "saved-by-0.3.0", tmp_path / "new")
    assert (tmp_path / "new" / "FORMAT").read_text().startswith("4\n")
    store = TinyDbCaseStore(tmp_path / "new")
    try:
        assert {c.number for c in store.all_cases()} == {"VOK 2026/0001", "VOK 2026/0002"}
        assert store.next_number(2026).format(4) == "VOK 2026/0003"
        store.rollback()
    finally:
        store.close()
