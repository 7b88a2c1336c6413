"""Unit tests of the atomic TinyDB storage and the writer lock."""

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from bot.errors import BotError, StoreError
from bot.store.atomic import (
    AtomicOrjsonStorage,
    ExplicitFlushCaching,
    ReadonlyStoreError,
    durable,
    open_db,
    remove_orphan_temp_files,
)
from bot.store.lock import LOCK_FILENAME, StoreLockedError, WriterLock

REPO_ROOT = Path(__file__).resolve().parents[2]


def _child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p
    )
    return env


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _temp_files(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(".tmp-"))


# -- AtomicOrjsonStorage / open_db ---------------------------------------------


def test_round_trip(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    cases = db.table("cases")
    doc_id = cases.insert({"title": "Fallolycka", "tags": ["akut"], "n": 3})
    db.table("outbox").insert({"to": "chef", "text": "Ny avvikelse åäö"})
    assert durable(db) is True
    db.close()

    db2 = open_db(path)
    assert db2.table("cases").get(doc_id=doc_id) == {
        "title": "Fallolycka",
        "tags": ["akut"],
        "n": 3,
    }
    assert db2.table("outbox").all() == [{"to": "chef", "text": "Ny avvikelse åäö"}]
    # the file is plain JSON with string doc ids
    raw = orjson.loads(path.read_bytes())
    assert raw["cases"] == {str(doc_id): {"title": "Fallolycka", "tags": ["akut"], "n": 3}}
    db2.close()


def test_file_mode_0600_and_parent_dir_created_0700(tmp_path):
    path = tmp_path / "data" / "diary.json"
    db = open_db(path)
    assert _mode(path.parent) == 0o700
    db.insert({"a": 1})
    durable(db)
    assert _mode(path) == 0o600
    # stays 0600 after a further replace, even if someone loosened it
    os.chmod(path, 0o644)
    db.insert({"a": 2})
    durable(db)
    assert _mode(path) == 0o600
    db.close()


def test_readonly_missing_file_creates_nothing_and_write_raises(tmp_path):
    path = tmp_path / "nodir" / "diary.json"
    db = open_db(path, readonly=True)
    assert db.table("cases").all() == []
    assert len(db) == 0
    with pytest.raises(ReadonlyStoreError) as excinfo:
        db.table("cases").insert({"x": 1})
    assert isinstance(excinfo.value, PermissionError)
    assert isinstance(excinfo.value, StoreError)
    db.close()
    assert not path.parent.exists()

    storage = AtomicOrjsonStorage(path, readonly=True)
    assert storage.read() is None
    with pytest.raises(PermissionError):
        storage.write({"_default": {}})
    assert not path.parent.exists()


def test_readonly_reads_existing_file_once(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"v": 1})
    durable(db)

    ro = open_db(path, readonly=True)
    assert ro.all() == [{"v": 1}]
    # The writer changes the file; the readonly handle keeps its one snapshot.
    db.insert({"v": 2})
    durable(db)
    assert ro.all() == [{"v": 1}]
    with pytest.raises(PermissionError):
        ro.insert({"v": 3})
    ro.close()
    assert open_db(path, readonly=True).all() == [{"v": 1}, {"v": 2}]
    db.close()


def test_several_table_operations_become_durable_in_one_write(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.table("cases").insert({"id": 1, "state": "ny"})
    durable(db)
    storage = db.storage.storage
    writes_before = storage.write_count
    before = path.read_bytes()
    stat_before = os.stat(path)

    # one logical change = several table operations
    db.table("cases").update({"state": "tilldelad"})
    db.table("cases").insert({"id": 2, "state": "ny"})
    db.table("events").insert({"case": 1, "what": "tilldelad"})
    db.table("outbox").insert({"to": "chef"})
    db.table("outbox").remove(doc_ids=[1])

    assert path.read_bytes() == before, "nothing may reach the disk before the flush"
    assert os.stat(path).st_ino == stat_before.st_ino
    assert storage.write_count == writes_before

    assert durable(db) is True
    assert storage.write_count == writes_before + 1
    assert os.stat(path).st_ino != stat_before.st_ino  # replaced, not rewritten
    on_disk = orjson.loads(path.read_bytes())
    assert sorted(d["state"] for d in on_disk["cases"].values()) == ["ny", "tilldelad"]
    assert list(on_disk["events"].values()) == [{"case": 1, "what": "tilldelad"}]
    assert on_disk["outbox"] == {}
    db.close()


def test_more_than_1000_writes_never_auto_flush(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    table = db.table("cases")
    for i in range(1500):
        table.insert({"i": i})
    assert not path.exists()
    assert db.storage.storage.write_count == 0
    assert ExplicitFlushCaching.WRITE_CACHE_SIZE > 10**9
    assert durable(db) is True
    assert db.storage.storage.write_count == 1
    assert len(orjson.loads(path.read_bytes())["cases"]) == 1500
    db.close()


def test_flush_writes_only_when_something_changed(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"a": 1})
    durable(db)
    storage = db.storage.storage
    st = os.stat(path)
    count = storage.write_count

    assert durable(db) is False  # no table operation since the last flush
    db.update({"a": 1})  # an operation that changes nothing
    durable(db)
    assert storage.write_count == count
    st2 = os.stat(path)
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)

    db.update({"a": 2})
    assert durable(db) is True
    assert storage.write_count == count + 1
    db.close()


def test_close_flushes(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"a": 1})
    db.close()
    assert open_db(path, readonly=True).all() == [{"a": 1}]


def test_empty_file_reads_as_empty_db(tmp_path):
    path = tmp_path / "diary.json"
    path.write_bytes(b"")
    assert AtomicOrjsonStorage(path, readonly=True).read() is None
    db = open_db(path)
    assert db.all() == []
    db.insert({"a": 1})
    durable(db)
    assert open_db(path, readonly=True).all() == [{"a": 1}]


@pytest.mark.parametrize("content", [b'{"_default": {"1": {"a": 1}', b"[1, 2]", b"\x00\x00"])
def test_corrupt_file_raises_and_is_left_untouched(tmp_path, content):
    path = tmp_path / "diary.json"
    path.write_bytes(content)
    with pytest.raises(StoreError):
        open_db(path).all()
    with pytest.raises(StoreError):
        open_db(path, readonly=True).all()
    assert path.read_bytes() == content


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"a": 1})
    durable(db)
    before = path.read_bytes()

    db.insert({"bad": {1, 2}})  # a set is not JSON
    with pytest.raises(StoreError) as excinfo:
        durable(db)
    assert isinstance(excinfo.value, BotError)
    assert path.read_bytes() == before
    assert _temp_files(tmp_path) == []
    assert db.storage.dirty  # the change is still pending, not silently dropped


def test_interrupted_replace_cleans_its_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"a": 1})
    durable(db)
    before = path.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    db.insert({"a": 2})
    with pytest.raises(StoreError):
        durable(db)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _temp_files(tmp_path) == []
    assert durable(db) is True  # retried successfully
    assert len(open_db(path, readonly=True).all()) == 2


def test_remove_orphan_temp_files(tmp_path):
    (tmp_path / ".tmp-diary.json-abc123").write_bytes(b'{"half')
    (tmp_path / ".tmp-other.json-zz").write_bytes(b"x")
    (tmp_path / "diary.json").write_bytes(b"{}")
    (tmp_path / "tmp-not-ours").write_bytes(b"x")
    (tmp_path / ".tmp-dir").mkdir()

    removed = remove_orphan_temp_files(tmp_path, basename="diary.json")
    assert [p.name for p in removed] == [".tmp-diary.json-abc123"]
    assert (tmp_path / ".tmp-other.json-zz").exists()

    removed = remove_orphan_temp_files(tmp_path)
    assert [p.name for p in removed] == [".tmp-other.json-zz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-dir", "diary.json", "tmp-not-ours"]
    assert remove_orphan_temp_files(tmp_path / "missing") == []


def test_temp_files_are_named_for_orphan_removal(tmp_path, monkeypatch):
    """A writer killed before os.replace leaves a file remove_orphan_temp_files finds."""
    path = tmp_path / "diary.json"
    db = open_db(path)
    db.insert({"a": 1})
    seen = []

    def spy(src, dst):
        seen.append(os.path.basename(src))
        raise KeyboardInterrupt  # simulates dying right before the rename

    monkeypatch.setattr(os, "replace", spy)
    with pytest.raises(KeyboardInterrupt):
        durable(db)
    monkeypatch.undo()
    assert seen and seen[0].startswith(".tmp-diary.json-")


# -- WriterLock ----------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from bot.store.lock import WriterLock
    lock = WriterLock(sys.argv[1], command="run").acquire()
    print("locked", flush=True)
    sys.stdin.read()          # hold the lock until stdin closes or we are killed
    lock.release()
    """
)

TRY_ACQUIRE = textwrap.dedent(
    """
    import sys
    from bot.store.lock import StoreLockedError, WriterLock
    try:
        WriterLock(sys.argv[1], command="status").acquire()
    except StoreLockedError as exc:
        print(exc.pid)
        print(exc)
        sys.exit(3)
    print("acquired")
    """
)


def _start_holder(data_dir):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_child_env(),
        text=True,
    )
    line = proc.stdout.readline()
    if line.strip() != "locked":
        proc.kill()
        pytest.fail(f"holder did not start: {line!r} {proc.stderr.read()}")
    return proc


@pytest.mark.parametrize("how", ["sigkill", "exit"])
def test_writer_lock_excludes_other_process_until_it_dies(tmp_path, how):
    data_dir = tmp_path / "data"
    holder = _start_holder(data_dir)
    try:
        assert _mode(data_dir / LOCK_FILENAME) == 0o600
        with pytest.raises(StoreLockedError) as excinfo:
            WriterLock(data_dir, command="run").acquire()
        err = excinfo.value
        assert isinstance(err, StoreError)
        assert err.pid == holder.pid
        assert err.command == "run"
        msg = str(err)
        assert f"pid {holder.pid}" in msg
        assert "'run'" in msg
        assert str(data_dir) in msg
        assert "används redan" in msg
    finally:
        if how == "sigkill":
            holder.send_signal(signal.SIGKILL)
        else:
            holder.stdin.close()
        holder.wait(timeout=10)
    if how == "sigkill":
        assert holder.returncode == -signal.SIGKILL

    with WriterLock(data_dir, command="run") as lock:  # no stale-lock cleanup needed
        assert lock.held
        content = (data_dir / LOCK_FILENAME).read_text().splitlines()
        assert content == [str(os.getpid()), "run"]
    assert not lock.held


def test_writer_lock_held_here_refuses_other_process(tmp_path):
    data_dir = tmp_path / "data"
    with WriterLock(data_dir, command="run"):
        res = subprocess.run(
            [sys.executable, "-c", TRY_ACQUIRE, str(data_dir)],
            capture_output=True,
            text=True,
            env=_child_env(),
            timeout=30,
        )
        assert res.returncode == 3, res.stderr
        lines = res.stdout.splitlines()
        assert lines[0] == str(os.getpid())
        assert f"pid {os.getpid()}, 'run'" in res.stdout
        # a second lock object in the same process is refused as well
        with pytest.raises(StoreLockedError):
            WriterLock(data_dir).acquire()
    res = subprocess.run(
        [sys.executable, "-c", TRY_ACQUIRE, str(data_dir)],
        capture_output=True,
        text=True,
        env=_child_env(),
        timeout=30,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == "acquired"


def test_writer_lock_release_is_idempotent_and_reacquirable(tmp_path):
    lock = WriterLock(tmp_path, command="run")
    lock.acquire()
    with pytest.raises(RuntimeError):
        lock.acquire()
    lock.release()
    lock.release()
    lock.acquire()
    lock.release()
