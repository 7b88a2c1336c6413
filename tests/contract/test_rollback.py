"""Going back to an older release after an upgrade can never corrupt the diary.

Release 0.1.0 (data format 1) and 0.2.0 (format 2) exist and cannot be changed. Run as
they were released (their own source from tests/fixtures/releases, in a venv of their own),
every command of theirs must refuse a data directory this version has upgraded to format 3:
exit non-zero AND leave every file of it byte-identical, with nothing added. (Before
format 3, 0.1.0's `ingest` issued VOK 2026/0001 a second time in a converted directory and
the original case vanished.) Afterwards this version still reads every case, and the
series goes on. A directory of a newer format than this version's is refused the same way.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail
from tests.release_support import Release, current_cli, tree, unpack

SENDER = "Lisa Larsson <lisa.larsson@regionexempel.se>"


@pytest.fixture(scope="module")
def releases(tmp_path_factory) -> dict[str, Release]:
    where = tmp_path_factory.mktemp("releases")
    return {version: unpack(version, where) for version in ("0.1.0", "0.2.0")}


@pytest.fixture
def mails(tmp_path) -> list[Path]:
    folder = tmp_path / "mails"
    folder.mkdir()
    paths = []
    for i in range(6):
        path = folder / f"m{i}.eml"
        path.write_bytes(make_mail(sender=SENDER, subject=f"Avvikelse {i} – fall i badrummet, "
                                   "Hemtjänst Norr", body="Vi rapporterar en avvikelse.",
                                   message_id=f"<rollback-{i}@regionexempel.se>"))
        paths.append(path)
    return paths


def _numbers(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [r["diary_number"] for r in json.loads(done.stdout)]


def _now(tmp_path: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    return current_cli(EXAMPLE_CONFIG, data, *args, home=tmp_path)


def _refuses(release: Release, data: Path, *args: str, timeout: float = 20) -> str:
    """The old command exits non-zero by itself (a `run` that kept running would time out)
    and leaves the directory exactly as it was."""
    before = tree(data)
    try:
        done = release.cli(data, *args, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{release.version} {' '.join(args)} did not stop: it accepted {data}")
    assert done.returncode != 0, (release.version, args, done.stdout, done.stderr)
    assert tree(data) == before, f"{release.version} {' '.join(args)} changed {data}"
    return done.stderr


def _every_old_command(release: Release, data: Path, mail: Path, tmp_path: Path) -> None:
    _refuses(release, data, "ingest", "--json", str(mail))
    _refuses(release, data, "status", "VOK", "2026/1")
    _refuses(release, data, "list")
    _refuses(release, data, "outbox")
    _refuses(release, data, "report")
    _refuses(release, data, "reminders", "--at", "2026-11-30")
    _refuses(release, data, "command", "--as", "rut", "status", "VOK", "2026/1")
    _refuses(release, data, "command", "--as", "anna", "allvarlighet", "VOK", "2026/1", "röd")
    _refuses(release, data, "run")
    if release.version == "0.2.0":
        _refuses(release, data, "backup", str(tmp_path / "old-backup"))
        _refuses(release, data, "restore", str(tmp_path / "old-backup"))
        _refuses(release, data, "migrate", "--to", "postgresql://avvikelsebot@127.0.0.1:9/none")
        _refuses(release, data, "migrate", "--from", "postgresql://avvikelsebot@127.0.0.1:9/none")


def _still_whole(tmp_path: Path, data: Path, numbers: list[str], mail: Path) -> None:
    listed = _now(tmp_path, data, "list", "--json")
    assert sorted(_numbers(listed)) == numbers
    for number in numbers:
        shown = _now(tmp_path, data, "status", number, "--json")
        assert shown.returncode == 0 and json.loads(shown.stdout)["diary_number"] == number
    following = f"VOK 2026/{len(numbers) + 1:04d}"
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mail))) == [following]


def test_release_0_1_0_refuses_a_directory_this_version_upgraded(releases, mails, tmp_path):
    old = releases["0.1.0"]
    data = tmp_path / "data"
    assert _numbers(old.cli(data, "ingest", "--json", str(mails[0]), str(mails[1]))) == [
        "VOK 2026/0001", "VOK 2026/0002"]
    assert (data / "live.json").is_file() and not (data / "journal.log").exists()   # format 1
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mails[2]))) == ["VOK 2026/0003"]
    assert (data / "FORMAT").read_text().split("\n")[0] == "3"
    assert (data / "live.json").is_dir() and (data / "writer.lock").is_dir()

    _every_old_command(old, data, mails[3], tmp_path)

    _still_whole(tmp_path, data, ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"], mails[4])


def test_release_0_2_0_refuses_a_directory_this_version_upgraded(releases, mails, tmp_path):
    old = releases["0.2.0"]
    data = tmp_path / "data"
    assert _numbers(old.cli(data, "ingest", "--json", str(mails[0]), str(mails[1]))) == [
        "VOK 2026/0001", "VOK 2026/0002"]
    assert (data / "live.json").is_file() and (data / "journal.log").is_file()     # format 2
    # a backup made by 0.2.0 before the upgrade, as the README says: the way back
    saved = tmp_path / "before-upgrade"
    assert old.cli(data, "backup", str(saved)).returncode == 0
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mails[2]))) == ["VOK 2026/0003"]
    assert (data / "live.json").is_dir() and not (data / "journal.log").exists()

    _every_old_command(old, data, mails[3], tmp_path)
    first = releases["0.1.0"]                         # an office that went 0.1.0 → 0.2.0 → now
    _refuses(first, data, "ingest", str(mails[3]))
    _refuses(first, data, "list")
    # restoring over the upgraded directory is refused; a backup this version made is
    # refused too, and stays as it was
    _refuses(old, data, "restore", str(saved))
    copy = tmp_path / "new-backup"
    assert _now(tmp_path, data, "backup", str(copy)).returncode == 0
    before = tree(copy)
    restored = tmp_path / "restored-by-0.2.0"
    assert old.cli(restored, "restore", str(copy)).returncode != 0
    assert tree(copy) == before
    _refuses(old, restored, "list")
    _refuses(old, copy, "list")
    _refuses(old, copy, "ingest", str(mails[3]))

    _still_whole(tmp_path, data, ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"], mails[4])

    # the rollback the README describes: 0.2.0 restores its own backup into a new directory
    back = tmp_path / "back"
    assert old.cli(back, "restore", str(saved)).returncode == 0
    assert _numbers(old.cli(back, "list", "--json")) == ["VOK 2026/0001", "VOK 2026/0002"]


def test_this_version_refuses_a_directory_of_a_newer_format(mails, tmp_path):
    data = tmp_path / "data"
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mails[0]))) == ["VOK 2026/0001"]
    (data / "FORMAT").write_text("4\nen framtida version\n")
    saved = tmp_path / "copy"
    before = tree(data)
    for args in (("ingest", str(mails[1])), ("status", "VOK", "2026/1"), ("list",),
                 ("backup", str(saved)), ("run",)):
        done = _now(tmp_path, data, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert str(data) in done.stderr and "dataformat 4" in done.stderr, done.stderr
        assert "dataformat 3" in done.stderr, done.stderr
        assert tree(data) == before, args
    assert not saved.exists()


def test_with_postgresql_release_0_2_0_refuses_this_version_s_database(releases, mails,
                                                                      database_url, tmp_path):
    """This version's cases carry fields 0.2.0 does not know (secrecy per document, public
    title, hold), and its schema is version 2 (002_format3.sql): 0.2.0's writers refuse the
    database by schema_version before they write, its readers fail before they write; the
    database is unchanged, and this version goes on. Going back with PostgreSQL is restoring
    the dump taken before the upgrade (README, Rollback)."""
    import psycopg
    old, db = releases["0.2.0"], {"DATABASE_URL": database_url}
    data = tmp_path / "unused"          # the diary is in the database
    now = current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[0]), home=tmp_path,
                      env=db)
    assert _numbers(now) == ["VOK 2026/0001"]

    def snapshot():
        with psycopg.connect(database_url, autocommit=True) as conn:
            return (conn.execute("SELECT key, doc FROM cases ORDER BY key").fetchall(),
                    conn.execute("SELECT key FROM mails ORDER BY key").fetchall(),
                    conn.execute("SELECT max(version) FROM schema_version").fetchone())
    before = snapshot()
    assert before[2] == (2,)
    for args in (("ingest", str(mails[1])), ("list",), ("status", "VOK 2026/0001")):
        refused = old.cli(data, *args, env=db)
        assert refused.returncode != 0, (args, refused.stdout)
    assert snapshot() == before
    assert _numbers(current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[1]),
                                home=tmp_path, env=db)) == ["VOK 2026/0002"]
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version (version, name) VALUES (99, '099_future.sql')")
    refused = current_cli(EXAMPLE_CONFIG, data, "ingest", str(mails[2]), home=tmp_path, env=db)
    assert refused.returncode != 0 and "schemaversion 99" in refused.stderr, refused.stderr


def test_an_upgrade_while_the_old_release_still_runs_is_refused(releases, mails, tmp_path):
    """The admin forgot to stop 0.2.0: this version does not convert under its feet."""
    import signal
    import time
    old = releases["0.2.0"]
    data = tmp_path / "data"
    assert _numbers(old.cli(data, "ingest", "--json", str(mails[0]))) == ["VOK 2026/0001"]
    from tests.release_support import clean_env
    running = subprocess.Popen([str(old.python), "-m", "bot.cli", "--config", str(old.config),
                                "--data", str(data), "run"], cwd=old.home,
                               env=clean_env(old.home), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while b"run" not in (data / "writer.lock").read_bytes():    # it holds its lock
            assert running.poll() is None and time.monotonic() < deadline, running.stderr
            time.sleep(0.05)
        refused = _now(tmp_path, data, "ingest", str(mails[1]))
        assert refused.returncode != 0 and "används redan" in refused.stderr, refused.stderr
        assert (data / "live.json").is_file() and (data / "writer.lock").is_file()
        assert not (data / "diary.json").exists() and not list(data.glob("format*-backup-*"))
    finally:
        running.send_signal(signal.SIGTERM)
        running.wait(timeout=30)
    assert running.returncode in (0, -signal.SIGTERM)   # stopped, or before its handler was set
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mails[1]))) == ["VOK 2026/0002"]


@pytest.fixture(scope="module")
def release_0_3_0(tmp_path_factory) -> Release:
    return unpack("0.3.0", tmp_path_factory.mktemp("release-0.3.0"))


def test_with_postgresql_release_0_3_0_keeps_working_on_this_version_s_database(
        release_0_3_0, mails, database_url, tmp_path):
    """This version adds the web's tables (sessions, sign-in tokens, read log) with migration
    003, which is additive: recorded in schema_additions, not schema_version, so 0.3.0 (which
    refuses any schema_version above 2) goes on diarising on the same database after a
    rollback, and this version goes on after it, the series unbroken. (With 003 recorded in
    schema_version, 0.3.0 refused: "databasen har schemaversion 3".)"""
    import psycopg
    old, db = release_0_3_0, {"DATABASE_URL": database_url}
    data = tmp_path / "unused"          # the diary is in the database
    assert _numbers(current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[0]),
                                home=tmp_path, env=db)) == ["VOK 2026/0001"]
    # this version's web state is in use: a sign-in link issued into the database
    link = current_cli(EXAMPLE_CONFIG, data, "web-link", "--as", "rut", home=tmp_path, env=db)
    assert link.returncode == 0 and "/inloggning/" in link.stdout, link.stderr
    with psycopg.connect(database_url, autocommit=True) as conn:
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM web_tokens").fetchone() == (1,)

    assert _numbers(old.cli(data, "ingest", "--json", str(mails[1]), env=db)) == ["VOK 2026/0002"]
    assert sorted(_numbers(old.cli(data, "list", "--json", env=db))) == ["VOK 2026/0001",
                                                                        "VOK 2026/0002"]
    shown = old.cli(data, "status", "VOK 2026/0001", "--json", env=db)
    assert shown.returncode == 0, shown.stderr

    assert _numbers(current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[2]),
                                home=tmp_path, env=db)) == ["VOK 2026/0003"]
