"""The names in a data directory, its format number, and the fences that keep every older
release out of a directory a newer one has written.

Data format 4 (this version): the files of format 3, and cases that carry fields release 0.3.0
(format 3) does not know (lagrum and where it came from, an fsn case's closing facts, the
kinds klagomål and fsn). 0.3.0 builds a case from every stored key, so it would stop with a
TypeError on the first such case, perhaps in the middle of a run; it checks FORMAT first and
refuses anything above 3 before it writes, so a format-3 directory this version opens as a
writer gets FORMAT 4 (bot.store.migrate.upgrade_format3) before any case of this version is
written. A release that adds fields to a stored record writes a higher FORMAT again (and a
breaking PostgreSQL migration); tests/unit/test_stored_shape.py fails when it does not. The
reader stays strict: dropping a key it does not know would lose it on the next write.

    FORMAT           the format number on its first line. Read first, before anything is
                     written, by this version and by every later one; a version that changes
                     the layout writes a higher number, and this version then refuses the
                     directory (NewerFormatError: exit 2 from the command line).
    diary.json       checkpoint of the live set (TinyDB; bot.store.repository)
    diary.log        every commit since that checkpoint (bot.store.journal)
    diary.lock       the writer lock (bot.store.lock)
    writer.lock/     a DIRECTORY holding README.txt: the fence for older writers
    live.json        a symbolic link to writer.lock/: the fence for older readers
    archive/ index/ outbox/ raw/ …   as in format 2 (bot.store.archive)

Why the fences. Releases 0.1.0 (data format 1: live.json holding everything) and 0.2.0 (data
format 2: live.json + journal.log) cannot be changed. 0.1.0 checks no format at all, and 0.2.0
finds the format inside live.json only: given a directory they do not understand, they made
a diary of their own there and issued VOK 2026/0001 a second time. Both open `writer.lock`
(O_RDWR | O_CREAT) as the very first step of every writing command (run, ingest, command,
migrate, restore's final open), and read `live.json` before anything else in every reading
command (status, list, outbox, report, reminders, backup; restore refuses a directory
where it exists). With writer.lock a directory and live.json leading to one, a writer fails
with IsADirectoryError on the lock before it has written anything, and a reader fails
reading live.json; no code path of theirs can write a diary here. Later formats keep both
fences (a real directory for live.json, as a restore may make, does as well) and FORMAT.

Upgrading (bot.store.migrate) fences the writers first, writes the new live set beside the
old one, and ends in one rename: the link over the old live.json. Before that rename the
old files are the truth and a new start converts them again; after it diary.json is, and
a start only finishes what is left (`finish`). There is no moment in which live.json is
missing, so an older release never finds an empty diary either.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from bot.errors import StoreError
from bot.files import fsync_directory, write_durably
from bot.store.lock import WriterLock
from bot.texts import t

log = logging.getLogger(__name__)

FORMAT = 4
FORMAT_FILE = "FORMAT"
LIVE = "diary.json"
JOURNAL = "diary.log"
OLD_LIVE = "live.json"             # formats 1 and 2; a fence since format 3
OLD_JOURNAL = "journal.log"        # format 2
OLD_LOCK = "writer.lock"           # formats 1 and 2; a fence since format 3
FENCE_README = "README.txt"

FORMAT_TEXT = (f"{FORMAT}\n"
               "Avvikelsebots dataformat (data format). Ändras bara av avvikelsebot; en version "
               "som inte känner formatet rör inte katalogen.\n").encode("utf-8")


FENCE_TEXT = """\
Den här katalogen är ett stängsel, inte ett diarium.

Datakatalogen har dataformat {format} (se filen FORMAT bredvid) och skrivs av en nyare
avvikelsebot än 0.2.0: diariet ligger i diary.json, diary.log, archive/, index/, outbox/ och raw/.
Äldre versioner (0.1.0, 0.2.0) öppnar live.json och writer.lock; att writer.lock är en
katalog och live.json en länk till den gör att de avbryter med "Is a directory" innan de
har skrivit något, så att de aldrig kan dela ut ett diarienummer en gång till. Senare
versioner (0.3.0 och framåt) läser FORMAT först och vägrar ett högre format än sitt eget.

Återgå till en äldre version: stoppa boten, byt tillbaka till den äldre versionens venv och
återställ säkerhetskopian som togs före uppgraderingen till en NY katalog
(avvikelsebot --data NY restore KOPIA), peka tjänsten på den och starta. Se README,
"Återgå till en äldre version". Ta inte bort den här katalogen. (Är live.json bredvid
fortfarande en fil har uppgraderingen avbrutits: starta den nya versionen igen, så gör den
klart.) Ta inte heller bort länken live.json.

This directory is a fence, not a diary: the data directory has data format {format} and is
written by an avvikelsebot newer than 0.2.0. Older versions stop on it before writing anything. To
go back, restore the backup taken before the upgrade into a NEW directory (README: Rollback).
Do not remove this directory.
"""


class NewerFormatError(StoreError):
    """A data directory written by a newer version: refused before anything is written."""

    def __init__(self, data_dir: Path, found: object, known: int = FORMAT):
        self.data_dir, self.found, self.known = Path(data_dir), found, known
        super().__init__(t("sv", "store_format_newer", path=data_dir, found=found, known=known))


def check_format(data_dir: Path) -> None:
    """Refuse a directory whose FORMAT is newer than this version's (or unreadable)."""
    path = Path(data_dir) / FORMAT_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return
    except OSError:
        raise NewerFormatError(data_dir, "?") from None
    first = raw.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    try:
        found = int(first)
    except ValueError:
        raise NewerFormatError(data_dir, first or "?") from None
    if found > FORMAT:
        raise NewerFormatError(data_dir, found)


def old_format(data_dir: Path) -> int:
    """The format of a regular live.json: 1 (no meta table) or 2; a higher number in its
    meta table is a newer version's, refused."""
    from bot.store.atomic import AtomicOrjsonStorage
    tables = AtomicOrjsonStorage(Path(data_dir) / OLD_LIVE, readonly=True).read() or {}
    if "meta" not in tables:
        return 1
    found = int(((tables.get("meta") or {}).get("1") or {}).get("format", 2))
    if found > 2:
        raise NewerFormatError(data_dir, found)
    return 2


def holds_old_format(data_dir: Path) -> bool:
    return (Path(data_dir) / OLD_LIVE).is_file()


def check_reader(data_dir: Path) -> None:
    """Before a reader opens the diary: a newer format, or an older one a writer has not
    upgraded yet, is refused."""
    check_format(data_dir)
    if holds_old_format(data_dir):
        old_format(data_dir)
        raise StoreError(f"{data_dir} är skriven av en äldre avvikelsebot; starta "
                         "`avvikelsebot run` en gång så uppgraderas den (en kopia sparas)")


def read_format(data_dir: Path) -> int | None:
    """The number in FORMAT (check_format has refused a newer or unreadable one); None
    when there is no FORMAT file (a new directory, or formats 1 and 2)."""
    try:
        raw = (Path(data_dir) / FORMAT_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return int(raw.split(b"\n", 1)[0].strip())


def prepare_writer(data_dir: Path, command: str) -> None:
    """The writer, holding diary.lock, before it opens the diary: an older format is
    upgraded (bot.store.migrate), an interrupted upgrade finished, a new directory fenced."""
    data_dir = Path(data_dir)
    if holds_old_format(data_dir):
        from bot.store.migrate import upgrade
        upgrade(data_dir, old_format(data_dir), command)
    else:
        found = read_format(data_dir)
        if found is not None and found < FORMAT and (data_dir / LIVE).exists():
            from bot.store.migrate import upgrade_format3
            upgrade_format3(data_dir, found, command)
    finish(data_dir, command)


def finish(data_dir: Path, command: str = "avvikelsebot") -> None:
    """Make `data_dir` a complete directory of this format: both fences, FORMAT, and no leftovers
    of an older format. Call it only once the old live set is gone (not a regular
    live.json). Writes nothing when all is in place."""
    data_dir = Path(data_dir)
    if holds_old_format(data_dir):
        raise StoreError(f"{data_dir / OLD_LIVE} är inte uppgraderad")
    if (data_dir / OLD_JOURNAL).exists() and not (data_dir / LIVE).exists():
        raise StoreError(f"{data_dir}: {OLD_JOURNAL} finns men varken {OLD_LIVE} eller {LIVE}; "
                         "katalogen lämnas orörd")
    fence_writers(data_dir, command)
    if not (data_dir / OLD_LIVE).is_dir():
        fence_readers(data_dir)
    write_format(data_dir)
    leftovers = [data_dir / OLD_JOURNAL, *sorted((data_dir / "archive").glob("cases-*.json")),
                 *sorted((data_dir / "archive").glob("mails-*.json"))]
    removed = False
    for path in leftovers:       # copied in the upgrade's backup folder, converted before
        try:
            path.unlink()
            removed = True
        except FileNotFoundError:
            pass
    if removed:
        fsync_directory(data_dir)


def write_format(data_dir: Path) -> None:
    path = Path(data_dir) / FORMAT_FILE
    try:
        if path.read_bytes() == FORMAT_TEXT:
            return
    except FileNotFoundError:
        pass
    write_durably(path, FORMAT_TEXT)
    fsync_directory(Path(data_dir))


def fence_writers(data_dir: Path, command: str = "avvikelsebot") -> None:
    """A directory with README.txt named writer.lock: the older releases' writers stop on
    it. An older release's lock file there is replaced under its own lock (refused while an
    older `run` or `ingest` holds it)."""
    path = Path(data_dir) / OLD_LOCK
    if path.is_dir() and not path.is_symlink():
        text = FENCE_TEXT.format(format=FORMAT).encode("utf-8")
        try:
            current = (path / FENCE_README).read_bytes()
        except FileNotFoundError:
            current = b""
        if current != text:         # missing, or written by an earlier format
            write_durably(path / FENCE_README, text)
        return
    old: WriterLock | None = None
    if path.is_symlink() or path.exists():
        old = WriterLock(data_dir, command=command, filename=OLD_LOCK).acquire()
        path.unlink()
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        raise StoreError(f"{path} skapades av en annan process under uppgraderingen (körs en "
                         "äldre avvikelsebot?); stoppa den och starta igen") from None
    finally:
        if old is not None:
            old.release()       # the lock of an unlinked file: nobody else can take it
    write_durably(path / FENCE_README, FENCE_TEXT.format(format=FORMAT).encode("utf-8"))
    fsync_directory(path)
    fsync_directory(path.parent)
    log.info("%s är nu ett stängsel för äldre versioner av avvikelsebot", path)


def fence_readers(data_dir: Path) -> None:
    """live.json becomes a symbolic link to the writer.lock directory, in ONE rename: over
    the old live set in an upgrade (the step that decides), so that no moment exists in
    which an older release finds no live.json. Opening it opens a directory: the older
    releases' readers stop there."""
    data_dir = Path(data_dir)
    temp = data_dir / f".tmp-{OLD_LIVE}"       # a leftover is removed by the next writer
    try:
        temp.unlink()
    except FileNotFoundError:
        pass
    os.symlink(OLD_LOCK, temp)
    os.replace(temp, data_dir / OLD_LIVE)
    fsync_directory(data_dir)
