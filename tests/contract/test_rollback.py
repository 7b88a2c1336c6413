"""Going back to an older release after an upgrade can never corrupt the diary.

Release 0.1.0 (data format 1) and 0.2.0 (format 2) exist and cannot be changed. Run as
they were released (their own source from tests/fixtures/releases, in a venv of their own),
every command of theirs must refuse a data directory this version has upgraded to format 3:
exit non-zero AND leave every file of it byte-identical, with nothing added. (Before
format 3, 0.1.0's `ingest` issued VOK 2026/0001 a second time in a converted directory and
the original case vanished.) Afterwards this version still reads every case, and the
series goes on. A directory of a newer format than this version's is refused the same way.

Release 0.3.0 (format 3, PostgreSQL schema_version 2) builds a case from every stored key,
so a case of this version (lagrum, lagrum_by, fsn_closing) stops it with a TypeError. This
version writes format 4 (FORMAT) and migration 004 (schema_version 4), which 0.3.0 refuses
by its own checks before it writes; the same commands of 0.3.0 are run against both.
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
    if release.version != "0.1.0":
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
    assert (data / "FORMAT").read_text().split("\n")[0] == "4"
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
    (data / "FORMAT").write_text("5\nen framtida version\n")
    saved = tmp_path / "copy"
    before = tree(data)
    for args in (("ingest", str(mails[1])), ("status", "VOK", "2026/1"), ("list",),
                 ("backup", str(saved)), ("run",)):
        done = _now(tmp_path, data, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert str(data) in done.stderr and "dataformat 5" in done.stderr, done.stderr
        assert "dataformat 4" in done.stderr, done.stderr
        assert tree(data) == before, args
    assert not saved.exists()


def test_with_postgresql_release_0_2_0_refuses_this_version_s_database(releases, mails,
                                                                      database_url, tmp_path):
    """This version's cases carry fields 0.2.0 does not know (secrecy per document, public
    title, hold), and its schema is version 2 or later (002_format3.sql; now 004): 0.2.0's writers refuse the
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
    assert before[2] == (4,)
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


def test_release_0_3_0_refuses_a_directory_this_version_upgraded_to_format_4(
        release_0_3_0, releases, mails, tmp_path):
    """0.3.0 made the directory (format 3) and a backup before the upgrade, as the README
    says; this version upgrades it to format 4 on its first write. Every command of 0.3.0
    then exits non-zero and leaves the directory byte-identical (without format 4 its `list`
    stopped with "TypeError: Case.__init__() got an unexpected keyword argument 'lagrum'",
    its `ingest` after it had diarised); this version still reads every case and the series
    goes on; 0.3.0 refuses a backup this version made; 0.3.0 restores its own backup."""
    old = release_0_3_0
    data = tmp_path / "data"
    assert _numbers(old.cli(data, "ingest", "--json", str(mails[0]), str(mails[1]))) == [
        "VOK 2026/0001", "VOK 2026/0002"]
    assert (data / "FORMAT").read_text().split("\n")[0] == "3"
    saved = tmp_path / "before-upgrade"
    assert old.cli(data, "backup", str(saved)).returncode == 0
    assert _numbers(_now(tmp_path, data, "ingest", "--json", str(mails[2]))) == ["VOK 2026/0003"]
    assert (data / "FORMAT").read_text().split("\n")[0] == "4"
    assert b'"lagrum"' in (data / "diary.json").read_bytes() + (data / "diary.log").read_bytes()
    kept = list(data.glob("format3-backup-*"))
    assert len(kept) == 1 and (kept[0] / "diary.json").is_file()

    said = old.cli(data, "list")                      # in its own words, before anything
    assert said.returncode == 2 and "har dataformat 4" in said.stderr, said.stderr
    _every_old_command(old, data, mails[3], tmp_path)
    for earlier in releases.values():                 # and the fences for 0.1.0 and 0.2.0 hold
        _refuses(earlier, data, "ingest", str(mails[3]))
        _refuses(earlier, data, "list")
    _refuses(old, data, "restore", str(saved))        # over the upgraded directory: refused
    copy = tmp_path / "new-backup"
    assert _now(tmp_path, data, "backup", str(copy)).returncode == 0
    before = tree(copy)
    restored = tmp_path / "restored-by-0.3.0"
    assert old.cli(restored, "restore", str(copy)).returncode != 0
    assert tree(copy) == before
    assert not (restored / "diary.json").exists()
    _refuses(old, copy, "list")
    _refuses(old, copy, "ingest", str(mails[3]))

    _still_whole(tmp_path, data, ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"], mails[4])

    # the rollback the README describes: 0.3.0 restores its own backup into a new directory
    back = tmp_path / "back"
    assert old.cli(back, "restore", str(saved)).returncode == 0
    assert _numbers(old.cli(back, "list", "--json")) == ["VOK 2026/0001", "VOK 2026/0002"]


def _database(url: str) -> dict[str, list[str]]:
    """Every row of every table, as text: equal means the database is unchanged."""
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name")]
        return {name: [r[0] for r in conn.execute(
            f'SELECT t::text FROM "{name}" t ORDER BY 1')] for name in tables}


def test_with_postgresql_release_0_3_0_refuses_this_version_s_database(
        release_0_3_0, mails, database_url, tmp_path):
    """This version's cases carry fields 0.3.0 cannot read (lagrum, lagrum_by, fsn_closing),
    and migration 004 is breaking: schema_version 4. Every command of 0.3.0 leaves the
    database unchanged, and every one that touches a case exits non-zero: its writers refuse
    by schema_version ("databasen har schemaversion 4") before they write, its readers (a
    READ ONLY transaction) stop on the first case. This version
    then reads every case and issues the next number. (Before 004, 0.3.0's `ingest`
    diarised here and its `list` and `status` failed with a TypeError: the database opened,
    then the run broke on the first case of this version.) The way back with PostgreSQL is
    the pg_dump taken before the upgrade (README, Rollback)."""
    old, db = release_0_3_0, {"DATABASE_URL": database_url}
    data = tmp_path / "unused"          # the diary is in the database
    assert _numbers(current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[0]),
                                str(mails[1]), home=tmp_path, env=db)) == [
        "VOK 2026/0001", "VOK 2026/0002"]
    link = current_cli(EXAMPLE_CONFIG, data, "web-link", "--as", "rut", home=tmp_path, env=db)
    assert link.returncode == 0 and "/inloggning/" in link.stdout, link.stderr
    before = _database(database_url)
    assert before["schema_version"][-1].startswith("(4,004_format4.sql,")
    assert [r.split(",")[0] for r in before["schema_additions"]] == ["(3"]

    saved = tmp_path / "a-backup"
    saved.mkdir()
    # 0.3.0's `outbox` reads the notification queue alone, in a READ ONLY transaction, and no
    # case: it shows the queue (exit 0) and changes nothing, which is all that matters here
    shown = old.cli(data, "outbox", env=db)
    assert "VOK 2026/0002" in shown.stdout, shown.stderr
    assert _database(database_url) == before
    for args in (("ingest", "--json", str(mails[2])), ("status", "VOK", "2026/1"), ("list",),
                 ("report",), ("reminders", "--at", "2026-11-30"),
                 ("command", "--as", "rut", "status", "VOK", "2026/1"),
                 ("command", "--as", "anna", "allvarlighet", "VOK", "2026/1", "röd"),
                 ("backup", str(tmp_path / "old-backup")), ("restore", str(saved)),
                 ("migrate", "--to", "postgresql://avvikelsebot@127.0.0.1:9/none"),
                 ("migrate", "--from", database_url), ("run",)):
        try:
            done = old.cli(data, *args, env=db, timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"0.3.0 {' '.join(args)} did not stop: it accepted the database")
        assert done.returncode != 0, (args, done.stdout, done.stderr)
        assert _database(database_url) == before, f"0.3.0 {' '.join(args)} changed the database"
        if args[0] in ("ingest", "run", "migrate") and args[1:2] != ("--to",):
            assert "schemaversion 4" in done.stderr, (args, done.stderr)

    listed = current_cli(EXAMPLE_CONFIG, data, "list", "--json", home=tmp_path, env=db)
    assert sorted(_numbers(listed)) == ["VOK 2026/0001", "VOK 2026/0002"]
    for number in ("VOK 2026/0001", "VOK 2026/0002"):
        shown = current_cli(EXAMPLE_CONFIG, data, "status", number, "--json", home=tmp_path,
                            env=db)
        assert shown.returncode == 0 and json.loads(shown.stdout)["diary_number"] == number
    # a newer release's ADDITIVE migration does not make this version refuse the database
    import psycopg
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_additions (version, name) VALUES (98, '098_later.sql')")
    assert _numbers(current_cli(EXAMPLE_CONFIG, data, "ingest", "--json", str(mails[2]),
                                home=tmp_path, env=db)) == ["VOK 2026/0003"]
