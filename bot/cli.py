"""The command line (DESIGN §10). Exit 0 success, 2 bad input or configuration, 1 failure.

Everything the CLI writes for a person leaves through bot/terminal.py (stdout, stderr,
argparse's messages) and bot/logs.py (every logger): redacted, without control sequences.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import re
import signal
import sys
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.config_check import check_environment, data_dir_state
from bot.domain.access import Actor
from bot.domain.case import CH_CLI
from bot.domain.diary import parse_diary_number
from bot.domain.redact import clean_for_terminal
from bot.errors import BotError, ConfigError, DomainError
from bot.files import write_private
from bot.logs import FORMATS, setup_logging
from bot.settings import Settings, load_settings
from bot.store.layout import NewerFormatError
from bot.store.lock import StoreLockedError
from bot.terminal import clean_std_streams, silence_closed_stdout
from bot.texts import ARGPARSE, t

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2

# commands that only read: they warn when the data directory holds no diary
READ_COMMANDS = frozenset({"status", "list", "outbox", "report", "reminders", "web", "diarium",
                           "arkivera"})


class UsageError(Exception):
    """Bad input on the command line: exit 2 with one line on stderr."""


def main(argv: list[str] | None = None) -> int:
    with clean_std_streams():
        try:
            return _main(sys.argv[1:] if argv is None else list(argv))
        except BrokenPipeError:        # `avvikelsebot list | head -1`: the reader has enough
            silence_closed_stdout()
            return EXIT_OK


def _main(argv: list[str]) -> int:
    lang = _language_before_parsing(argv)
    _install_argparse_words(lang)
    parser = _parser(lang)
    try:
        args = parser.parse_args(argv)
    except SystemExit as leaving:      # --help, --version, or argparse's own error (exit 2)
        return leaving.code if isinstance(leaving.code, int) else EXIT_BAD_INPUT
    level = logging.INFO if args.verbose or args.cmd == "run" else logging.WARNING
    setup_logging(level, args.log_format)
    settings: Settings | None = None
    try:
        if args.cmd == "demo":
            from bot.demo.script import run_demo
            return run_demo(sys.stdout)
        settings = load_settings(args.config, args.data, env_file=args.env)
        if args.cmd != "check-config":
            _check_data_dir(settings, args)
        return COMMANDS[args.cmd](settings, args)
    except ConfigError as error:
        # the organisation's language is unknown when its file is bad: Swedish, the default
        print(f"avvikelsebot: {t('sv', 'cli_config_error', error=error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except UsageError as error:
        print(f"avvikelsebot: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreLockedError as error:
        print(f"avvikelsebot: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except NewerFormatError as error:      # a newer version's directory: left untouched
        lang = settings.org.language if settings else "sv"
        print("avvikelsebot: " + t(lang, "store_format_newer", path=error.data_dir,
                                   found=error.found, known=error.known), file=sys.stderr)
        return EXIT_BAD_INPUT
    except BotError as error:
        print(f"avvikelsebot: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        raise
    except Exception:  # the unexpected: logged once, with its trace, for support
        logging.getLogger("avvikelsebot").exception("oväntat fel i %s", args.cmd)
        return EXIT_FAILURE


def _check_data_dir(settings: Settings, args) -> None:
    """One line and exit 2 for a directory that cannot be used; for a command that only
    reads, a warning when there is no diary there (a mistyped --data answered "Inga ärenden")."""
    state = data_dir_state(settings.data_dir)
    read_only = args.cmd in READ_COMMANDS
    if settings.env.get("DATABASE_URL"):     # the diary is in the database, not in the directory
        return
    if read_only and (state == "new" or not _holds_diary(settings.data_dir)):
        print(t(settings.org.language, "cli_no_diary", path=settings.data_dir), file=sys.stderr)


def _holds_diary(data_dir: Path) -> bool:
    from bot.store.layout import LIVE, OLD_LIVE
    return ((data_dir / LIVE).is_file() or (data_dir / OLD_LIVE).exists()
            or (data_dir / "archive").is_dir())


# ---------------------------------------------------------------------------- the parser
def _language_before_parsing(argv: list[str]) -> str:
    """The organisation's language for --help and argument errors, read before argparse runs
    (the file is only read; any problem with it is reported later, in Swedish, the default)."""
    config = os.environ.get("AVVIKELSEBOT_CONFIG")
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            config = argv[i + 1]
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
    if not config:
        return "sv"
    try:
        doc = tomllib.loads(Path(config).read_bytes().decode("utf-8-sig"))
        language = doc.get("organisation", {}).get("language", "sv")
    except (OSError, ValueError, AttributeError):
        return "sv"
    return language if language in ("sv", "en") else "sv"


def _install_argparse_words(lang: str) -> None:
    """argparse takes its words from gettext (module globals `_` and `ngettext`, looked up
    at call time): give it the catalog's translation."""
    words = ARGPARSE.get(lang, {})

    def gettext(message: str) -> str:
        return words.get(message, message)

    def ngettext(singular: str, plural: str, n: int) -> str:
        return gettext(singular if n == 1 else plural)

    argparse._ = gettext            # type: ignore[attr-defined]
    argparse.ngettext = ngettext    # type: ignore[attr-defined]


def _version() -> str:
    from bot.buildinfo import version_text
    return version_text()


class _VersionAction(argparse.Action):
    """argparse's "version" action, but the version is looked up only when asked for
    (reading the package metadata is a tenth of a `status`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"avvikelsebot {_version()}")
        parser.exit()


def _year(lang: str):
    def year(text: str) -> int:
        if not re.fullmatch(r"\d{4}", text.strip()):
            raise argparse.ArgumentTypeError(t(lang, "cli_bad_year", text=text))
        return int(text)
    return year


def _parser(lang: str = "sv") -> argparse.ArgumentParser:
    def h(key: str) -> str:
        return t(lang, f"cli_help_{key}")

    def m(key: str) -> str:
        return t(lang, f"cli_meta_{key}")

    parser = argparse.ArgumentParser(prog="avvikelsebot", description=h("description"),
                                     epilog=h("epilog"))
    parser.add_argument("--version", action=_VersionAction, nargs=0, help=h("version"))
    parser.add_argument("--config", metavar=m("file"), help=h("config"))
    parser.add_argument("--data", metavar=m("dir"), help=h("data"))
    parser.add_argument("--env", metavar=m("file"), help=h("env"))
    parser.add_argument("--log-format", choices=FORMATS, default="text", help=h("log_format"))
    parser.add_argument("-v", "--verbose", action="store_true", help=h("verbose"))
    sub = parser.add_subparsers(dest="cmd", required=True, metavar=m("command"),
                                title=h("commands"))

    def command(name: str, key: str, *, json_flag: bool = True) -> argparse.ArgumentParser:
        found = sub.add_parser(name, help=h(key), description=h(key))
        if json_flag:
            found.add_argument("--json", action="store_true", help=h("json"))
        return found

    command("run", "run", json_flag=False)
    command("demo", "demo", json_flag=False)
    ingest = command("ingest", "ingest")
    ingest.add_argument("files", nargs="+", metavar=m("file"), help=h("ingest_files"))
    ingest.add_argument("--quiet-import", action="store_true", help=h("ingest_quiet_import"))
    command("status", "status").add_argument("number", nargs="+", metavar=m("number"),
                                             help=h("status_number"))
    listing = command("list", "list")
    listing.add_argument("--open", action="store_true", help=h("list_open"))
    listing.add_argument("--overdue", action="store_true", help=h("list_overdue"))
    listing.add_argument("--unit", metavar=m("unit"), help=h("list_unit"))
    outbox = command("outbox", "outbox")
    outbox_what = outbox.add_mutually_exclusive_group()
    outbox_what.add_argument("--retry", action="store_true", help=h("outbox_retry"))
    outbox_what.add_argument("--gallra", "--prune", dest="prune", action="store_true",
                             help=h("outbox_prune"))
    report = command("report", "report")
    report.add_argument("--year", type=_year(lang), metavar=m("year"), help=h("report_year"))
    report.add_argument("--format", choices=("text", "md", "csv", "xlsx"), default="text",
                        help=h("report_format"))
    report.add_argument("--output", metavar=m("file"), help=h("output"))
    command("reminders", "reminders").add_argument("--at", required=True, metavar=m("time"),
                                                   help=h("reminders_at"))
    command("check-config", "check").add_argument("--online", action="store_true",
                                                  help=h("check_online"))
    command("web", "web", json_flag=False)
    web_link = command("web-link", "web_link", json_flag=False)
    web_link.add_argument(
        "--as", dest="person", required=True, metavar=m("person"), help=h("command_as"))
    web_link.add_argument("--next", dest="next_page", metavar="/arenden/ÅÅÅÅ/N",
                          help=h("web_link_next"))
    readlog = command("logg", "logg", json_flag=False)
    readlog.add_argument("--from", dest="start", required=True, metavar=m("date"), help=h("logg_from"))
    readlog.add_argument("--to", dest="end", required=True, metavar=m("date"), help=h("logg_to"))
    readlog.add_argument("--output", metavar=m("file"), help=h("output"))
    diary = command("diarium", "diarium")
    diary.add_argument("--offentlig", "--public", dest="public", action="store_true",
                       help=h("diarium_public"))
    diary.add_argument("--från", "--fran", "--from", dest="start", required=True,
                       metavar=m("date"), help=h("logg_from"))
    diary.add_argument("--till", "--to", dest="end", required=True, metavar=m("date"),
                       help=h("logg_to"))
    diary.add_argument("--csv", action="store_true", help=h("diarium_csv"))
    diary.add_argument("--output", metavar=m("file"), help=h("output"))
    culling = command("gallra", "gallra")
    culling.add_argument("--beslut", "--decision", dest="decision", required=True,
                         metavar=m("text"), help=h("gallra_decision"))
    culling.add_argument("--före", "--fore", "--before", dest="before", required=True,
                         metavar=m("date"), help=h("gallra_before"))
    culling.add_argument("--torrkörning", "--torrkorning", "--dry-run", dest="dry_run",
                         action="store_true", help=h("gallra_dry_run"))
    archive = command("arkivera", "arkivera")
    archive.add_argument("--år", "--ar", "--year", dest="year", required=True, type=_year(lang),
                         metavar=m("year"), help=h("arkivera_year"))
    archive.add_argument("--till", "--to", dest="target", required=True, metavar=m("dir"),
                         help=h("arkivera_target"))
    archive.add_argument("--skapad", "--created", dest="created", metavar=m("time"),
                         help=h("arkivera_created"))
    disclose = sub.add_parser("utlämna", aliases=["utlamna"], help=h("utlamna"),
                              description=h("utlamna"))
    disclose.add_argument("number", nargs="+", metavar=m("number"), help=h("utlamna_number"))
    disclose.add_argument("--till", "--to", dest="target", required=True, metavar=m("dir"),
                          help=h("utlamna_target"))
    disclose.add_argument("--as", dest="person", required=True, metavar=m("person"),
                          help=h("command_as"))
    disclose.add_argument("--wait", type=float, default=30.0, metavar=m("seconds"),
                          help=h("command_wait"))
    disclose.add_argument("--json", action="store_true", help=h("json"))
    command("backup", "backup", json_flag=False).add_argument(
        "target", metavar=m("dir"), help=h("backup_target"))
    command("restore", "restore", json_flag=False).add_argument(
        "source", metavar=m("dir"), help=h("restore_source"))
    moving = command("migrate", "migrate", json_flag=False).add_mutually_exclusive_group(required=True)
    moving.add_argument("--to", metavar=m("url"), help=h("migrate_to"))
    moving.add_argument("--from", dest="source", metavar=m("url"), help=h("migrate_from"))
    chat = command("command", "command", json_flag=False)
    chat.add_argument("--as", dest="person", required=True, metavar=m("person"), help=h("command_as"))
    chat.add_argument("text", nargs="+", metavar=m("text"), help=h("command_text"))
    chat.add_argument("--wait", type=float, default=30.0, metavar=m("seconds"),
                      help=h("command_wait"))
    return parser


_UTC_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00|Z)$")


def _print_json(data: Any, tz=None) -> None:
    """JSON for a program: every moment in local time with its offset (one zone in admin
    output), every text cleaned before it is escaped (JSON would write a control code or a
    split number as an escape the stream cannot see through; the stream still cleans the rest)."""
    print(json.dumps(_for_people(data, tz), ensure_ascii=False, indent=2))


def _for_people(value: Any, tz) -> Any:
    if isinstance(value, str):
        if tz is not None and _UTC_MOMENT.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(tz).isoformat()
        return clean_for_terminal(value)
    if isinstance(value, dict):
        return {key: _for_people(item, tz) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_for_people(item, tz) for item in value]
    return value


def _local(text: str | None, tz) -> str:
    """A stored UTC moment as a person reads it: local date and time, and the offset."""
    if not text:
        return "–"
    moment = datetime.fromisoformat(text).astimezone(tz)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def _bot(settings: Settings, *, readonly: bool, command: str):
    from bot.app import build
    return build(settings, readonly=readonly, command=command)


def _reader(settings: Settings, *, command: str):
    """The diary for reading only, without the channels (a reader answers at once)."""
    from bot.reading import open_reader
    return open_reader(settings, command=command)


# ---------------------------------------------------------------------------- commands
def cmd_run(settings: Settings, args) -> int:
    import asyncio
    for warning in check_environment(settings):     # the same refusals as check-config
        logging.getLogger("avvikelsebot").warning("%s", warning)
    bot = _bot_once_the_database_answers(settings)
    if bot is None:                 # told to stop while it waited
        print(t(settings.org.language, "cli_stopped"), file=sys.stderr)
        return EXIT_OK
    stop = asyncio.Event()

    async def main_loop() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        describe = getattr(bot.mail, "describe", None)
        watched = (describe().get("mailbox") if describe else None) or settings.data_dir / "inbox"
        print(t(settings.org.language, "cli_watching", inbox=watched), file=sys.stderr)
        web_runner = None
        if settings.env.get("WEB_PORT"):     # the web overview is on when it has a port
            from bot.app import web_state
            from bot.web.app import start_web
            web_runner = await start_web(settings, _read_only_store(settings), bot.calendar,
                                         # one connection for the pages and `webb`'s links
                                         state=bot.web_state or web_state(settings, command="run"))
        try:
            await bot.run_forever(stop=stop)
        finally:
            if web_runner is not None:
                await web_runner.cleanup()

    try:
        asyncio.run(main_loop())
    finally:
        bot.close()
    print(t(settings.org.language, "cli_stopped"), file=sys.stderr)
    return EXIT_OK


def _bot_once_the_database_answers(settings: Settings):
    """The bot `run` runs. With DATABASE_URL, once the database accepts connections: a
    database that boots later than the bot (or is restarting) is waited for, with back-off,
    saying so once a minute, so the service never gives up on a slow boot. SIGTERM or
    SIGINT while it waits: None (a clean stop, exit 0)."""
    url = settings.env.get("DATABASE_URL")
    from bot.store.postgres import is_database_url
    if not url or not is_database_url(url):     # TinyDB, or open_store's own refusal
        return _bot(settings, readonly=False, command="run")
    import threading
    from bot.errors import DatabaseUnavailable
    from bot.store.postgres import wait_for_database
    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        while wait_for_database(url, stop):
            try:
                bot = _bot(settings, readonly=False, command="run")
            except DatabaseUnavailable as exc:     # gone again between the try and the open
                logging.getLogger("avvikelsebot").warning("%s", exc)
                stop.wait(1.0)
                continue
            if stop.is_set():                      # told to stop while the bot was built
                bot.close()
                return None
            return bot
        return None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _read_only_store(settings: Settings):
    """How the web opens the diary: read-only, again whenever the writer has committed."""
    from bot.store.opening import open_store
    return lambda: open_store(settings, readonly=True, command="web")


def cmd_web(settings: Settings, args) -> int:
    """The web overview alone: the store opened read-only, so it runs beside a writer, on a
    replica of the data directory, or on a laptop. Sign-in tokens and the read log go to
    WEB_STATE_DIR (default: the data directory), which this process must be able to write;
    with DATABASE_URL they and the sessions go to the database (bot.app.web_state)."""
    import asyncio
    from bot.app import web_state
    from bot.web.app import bound_port, start_web
    from bot.web.auth import WebOptions
    options = WebOptions.from_settings(settings)
    bot = _bot(settings, readonly=True, command="web")
    stop = asyncio.Event()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        runner = await start_web(settings, _read_only_store(settings), bot.calendar,
                                 options=options, state=web_state(settings, options))
        url = options.base_url
        if not settings.env.get("WEB_BASE_URL"):
            url = f"http://{options.bind}:{bound_port(runner)}"
        print(t(settings.org.language, "cli_web_listening", url=url), file=sys.stderr, flush=True)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    finally:
        bot.close()
    print(t(settings.org.language, "cli_stopped"), file=sys.stderr)
    return EXIT_OK


def cmd_web_link(settings: Settings, args) -> int:
    from bot.domain.diary import parse_diary_number
    from bot.domain.weblink import case_path, local_target
    from bot.ports import SystemClock
    from bot.web.auth import LoginLinks
    org = settings.org
    person = args.person
    if person not in org.people:
        found = org.person_by_email(person)
        person = found.id if found else person
    if person not in org.people:
        raise UsageError(t(org.language, "web_not_in_directory", person=args.person))
    target = args.next_page
    if target is not None and not target.startswith("/"):      # a diary number is a case page
        number = parse_diary_number(target, org.series)
        target = case_path(number.key) if number else target
    if target is not None and local_target(target) is None:
        raise UsageError(t(org.language, "web_link_bad_target", text=target))
    from bot.app import web_state
    state = web_state(settings, command="web-link")
    try:
        links = LoginLinks(settings, tokens=state.tokens)
        url = links.issue_login_link(person, SystemClock().now(), target)
    finally:
        state.close()
    print(t(org.language, "web_link_line", minutes=links.options.link_minutes, url=url))
    return EXIT_OK


def cmd_backup(settings: Settings, args) -> int:
    """A consistent copy beside a running bot (it takes no writer lock)."""
    from bot.store.backup import BackupRefused, backup
    if settings.env.get("DATABASE_URL"):      # the diary is in PostgreSQL, not in --data
        raise UsageError(t(settings.org.language, "cli_backup_database"))
    try:
        made = backup(settings.data_dir, Path(args.target))
    except BackupRefused as refusal:
        raise UsageError(str(refusal)) from None
    years = ", ".join(str(y) for y in made["archive_years"]) or "–"
    print(t(settings.org.language, "cli_backup_done", path=args.target, open=made["open_cases"],
            years=years))
    return EXIT_OK


def cmd_migrate(settings: Settings, args) -> int:
    """TinyDB data directory -> empty PostgreSQL database (--to), or back (--from)."""
    from bot.errors import StoreError
    from bot.store.postgres import PostgresCaseStore, is_database_url
    from bot.store.repository import TinyDbCaseStore
    from bot.store.transfer import to_postgres, to_tinydb
    url = args.to or args.source
    if not is_database_url(url):
        raise UsageError("--to/--from: postgresql://…")
    org = settings.org
    tiny = TinyDbCaseStore(settings.data_dir, series=org.series, digits=org.digits, command="migrate")
    try:
        database = PostgresCaseStore(url, series=org.series, digits=org.digits, command="migrate")
        try:
            counts = to_postgres(tiny, database) if args.to else to_tinydb(database, tiny)
        except StoreError as refused:
            raise UsageError(str(refused)) from None
        finally:
            database.close()
        if not args.to:
            _read_log_to_files(settings, url)
    finally:
        tiny.close()
    print(t(org.language, "cli_migrate_done", **counts))
    return EXIT_OK


def _read_log_to_files(settings: Settings, url: str) -> None:
    """`migrate --from`: the database's read log (table read_log) into the read log's files
    of the state directory, where the JSON store keeps it, so the log check loses nothing.
    (`migrate --to` leaves the files where they are: `logg` exports them beside the table.)"""
    from datetime import datetime
    from bot.store.web_state import PostgresWebState
    from bot.web.auth import WebOptions
    from bot.web.readlog import ReadLog
    options = WebOptions.from_settings(settings)
    shared = PostgresWebState(url, link_minutes=options.link_minutes,
                              session_hours=options.session_hours, command="migrate")
    files = ReadLog(options.state_dir)
    try:
        for e in shared.readlog.everything():
            files.record(person=str(e["person"]), number=str(e["case"]), what=str(e["what"]),
                         at=datetime.fromisoformat(str(e["at"])), channel=str(e["channel"]),
                         document=e.get("document"), detail=e.get("detail"))   # type: ignore[arg-type]
    finally:
        shared.close()


def cmd_restore(settings: Settings, args) -> int:
    from bot.store.backup import BackupRefused, restore
    try:
        made = restore(Path(args.source), settings.data_dir)
    except BackupRefused as refusal:
        raise UsageError(str(refusal)) from None
    print(t(settings.org.language, "cli_restore_done", path=settings.data_dir,
            created=made["created"]))
    return EXIT_OK


def cmd_logg(settings: Settings, args) -> int:
    """The read log for a period as CSV (loggkontroll): who opened which case, mail or
    attachment, when, through which channel."""
    from bot.app import web_state
    from bot.web.readlog import export_csv
    lang = settings.org.language
    days = _period(lang, args.start, args.end)
    state = web_state(settings, command="logg")     # with DATABASE_URL: every instance's reads
    try:
        data = export_csv(state.readlog.entries(days[0], days[1]),
                          t(lang, "cli_log_header").split(","))
    finally:
        state.close()
    _emit(lang, args.output, data)
    return EXIT_OK


def cmd_ingest(settings: Settings, args) -> int:
    from collections import deque
    from bot.mail.maildir import read_files  # mailsec: a file that cannot be read is one outcome
    paths = [Path(p) for p in args.files]
    missing = [str(p) for p in paths if not p.exists()]  # mailsec: a directory or FIFO gets an outcome
    if missing:
        raise UsageError(t(settings.org.language, "cli_missing_file", files=", ".join(missing[:5])))
    bot = _bot(settings, readonly=False, command="ingest")
    lang = settings.org.language
    collected: list[dict] = []
    in_flight: deque[Path] = deque()  # mailsec: the readable files, in intake order

    quiet = args.quiet_import
    progress = _progress(len(paths), lang) if quiet and not args.json else None

    def report(path: Path, result: dict) -> None:
        result = {"file": str(path), **result}
        collected.append(result)
        if progress is not None:
            progress.update(1)
        elif not args.json:
            print(t(lang, "cli_ingested", file=path.name,
                    outcome=t(lang, f"outcome_{result['outcome']}"),
                    number=result["diary_number"] or "", reason=result["reason"]))
        sys.stdout.flush()

    def show(results: list[dict]) -> None:
        for result in results:
            report(in_flight.popleft(), result)

    def items():  # mailsec: read one file at a time; an unreadable one is reported and skipped
        for path, raw, why in read_files(paths):
            if raw is None:
                report(path, _unreadable(lang, why))
                continue
            in_flight.append(path)
            yield raw, None, None

    try:
        bot.services.ingest_many(items(), on_durable=show, quiet=quiet)
    finally:
        bot.close()
        if progress is not None:
            progress.close()
    if quiet and not args.json:
        print(_import_summary(lang, collected))
    if args.json:
        order = {str(p): i for i, p in enumerate(paths)}
        _print_json(sorted(collected, key=lambda r: order.get(r["file"], 0)), bot.calendar.tz)
    return EXIT_OK


def _progress(total: int, lang: str):
    """A progress bar on a terminal (stderr), nothing when the output goes to a file."""
    from tqdm import tqdm
    return tqdm(total=total, unit=t(lang, "cli_import_unit"), file=sys.stderr,
                disable=not sys.stderr.isatty(), ascii=True, dynamic_ncols=True)


def _import_summary(lang: str, results: list[dict]) -> str:
    """One line per outcome, in the order intake decides them."""
    from collections import Counter
    counts = Counter(r["outcome"] for r in results)
    order = ["new_case", "added_to_case", "triage", "duplicate", "ignored", "unreadable"]
    lines = [t(lang, "cli_import_summary", count=len(results))]
    lines += [f"  {t(lang, f'outcome_{o}')}: {counts[o]}" for o in order if counts.get(o)]
    lines.append(t(lang, "cli_import_quiet"))
    return "\n".join(lines)


def _unreadable(lang: str, why: str | None) -> dict:
    """ingest's outcome for a file that cannot be read (mailsec)."""
    return {"message_id": None, "outcome": "unreadable", "diary_number": None, "kind": None,
            "unit": None, "counterpart": None, "severity": None, "document": None,
            "reason": t(lang, "reason_unreadable_file", why=why or "?")}


def _case(bot, text: str, series: str):
    number = parse_diary_number(text, series)
    if number is None:
        raise UsageError(t(bot.settings.org.language, "cli_bad_number", text=text))
    case = bot.store.get_case(number)
    if case is None:
        raise UsageError(t(bot.settings.org.language, "cli_no_case",
                           number=number.format(bot.settings.org.digits)))
    return case


def cmd_status(settings: Settings, args) -> int:
    bot = _reader(settings, command="status")
    case = _case(bot, " ".join(args.number), settings.org.series)
    if args.json:
        _print_json(bot.queries.status_json(case), bot.calendar.tz)
    else:
        print(bot.queries.status_text(case))
    return EXIT_OK


def cmd_list(settings: Settings, args) -> int:
    bot = _reader(settings, command="list")
    org = settings.org
    unit = None
    if args.unit:
        found = org.unit_by_name(args.unit)
        if found is None:
            raise UsageError(t(org.language, "cli_unknown_unit", unit=args.unit))
        unit = found.id
    cases = bot.store.open_cases() if (args.open or args.overdue) else list(bot.store.all_cases())
    if unit:
        cases = [c for c in cases if c.unit == unit]
    if args.overdue:
        cases = [c for c in cases if bot.queries.is_overdue(c)]
    cases.sort(key=lambda c: c.key)
    if args.json:
        _print_json([bot.queries.status_json(c, events=False) for c in cases], bot.calendar.tz)
    else:
        print(bot.queries.list_text(cases))
    return EXIT_OK


def cmd_outbox(settings: Settings, args) -> int:
    if args.retry:
        return _outbox_retry(settings, args)
    if args.prune:
        return _outbox_prune(settings, args)
    bot = _reader(settings, command="outbox")
    live = {n["id"]: n for n in bot.store.outbox()}
    earlier = [n for n in bot.store.outbox_history() if n["id"] not in live]
    items = sorted([*earlier, *live.values()], key=lambda n: n["created"])
    fields = ("recipient", "channel", "diary_number", "event", "text", "state", "created")
    if args.json:
        _print_json([{k: n.get(k) for k in fields} for n in items], bot.calendar.tz)
        return EXIT_OK
    lang = settings.org.language
    for n in items:
        print(t(lang, "cli_outbox_line", state=n["state"], created=_local(n["created"], bot.calendar.tz),
                recipient=n["recipient"], channel=n["channel"], number=n["diary_number"] or "–",
                event=n["event"]))
    if not items:
        print(t(lang, "cli_outbox_empty"))
    return EXIT_OK


def cmd_diarium(settings: Settings, args) -> int:
    """The public diary (OSL 5 kap. 2 §) for a period: per document the date, the diary
    number, the other party and a short description; the last two left out where the
    document is marked secret. Without --offentlig it is refused: the registrator's own view
    is `status` and the web overview."""
    import csv
    import io
    from bot.cells import safe_cell
    from bot.domain.records import public_diary
    from bot.domain.redact import redact
    lang = settings.org.language
    if not args.public:
        raise UsageError(t(lang, "cli_diarium_public_only"))
    days = _period(lang, args.start, args.end)
    bot = _reader(settings, command="diarium")
    cases = (c for c in bot.store.all_cases() if c.year <= days[1].year)
    rows = public_diary(settings.org, cases, days[0], days[1])
    if args.json:
        data = json.dumps([r.as_dict() for r in rows], ensure_ascii=False, indent=2) + "\n"
    elif args.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(t(lang, "cli_diarium_header").split(","))
        for r in rows:
            writer.writerow([safe_cell(str(v)) if v is not None else "" for v in (
                r.day.isoformat(), r.number, r.document, t(lang, f"diarium_{r.direction}"),
                r.party, r.description, r.secrecy)])
        data = buffer.getvalue()
    else:
        lines = [t(lang, "cli_diarium_title", start=days[0].isoformat(), end=days[1].isoformat())]
        for r in rows:
            secret = t(lang, "cli_diarium_secret", paragraph=r.secrecy) if r.secrecy else ""
            lines.append(f"{r.day.isoformat()}  {r.number}:{r.document}  "
                         f"{t(lang, f'diarium_{r.direction}')}  "
                         f"{r.party or ''}{'  ' + r.description if r.description else ''}{secret}")
        if not rows:
            lines.append(t(lang, "cli_diarium_none"))
        data = "\n".join(lines) + "\n"
    data = redact(data)
    _emit(lang, args.output, data)
    return EXIT_OK


def cmd_gallra(settings: Settings, args) -> int:
    """Culling by a configured decision: --torrkörning lists what would go; without it the
    log entry is written first, then the cases are removed (the run loop must be stopped:
    this takes the writer lock)."""
    lang = settings.org.language
    try:
        before = date.fromisoformat(args.before)
    except ValueError:
        raise UsageError(t(lang, "cli_log_bad_date", text=args.before)) from None
    bot = _bot(settings, readonly=False, command="gallra")
    try:
        import pwd                  # the account that ran it, for the culling log
        who = pwd.getpwuid(os.geteuid()).pw_name
        result = bot.services.cull(args.decision, before, by=f"cli:{who}", dry_run=args.dry_run)
    except DomainError as exc:
        raise UsageError(str(exc)) from None
    finally:
        bot.close()
    if args.json:
        print(json.dumps(dataclasses.asdict(result), ensure_ascii=False, indent=2, default=str))
        return EXIT_OK
    key = "cli_gallra_done" if result.done else "cli_gallra_dry"
    print(t(lang, key, count=len(result.numbers), decision=result.decision,
            before=result.before.isoformat()))
    for number in result.numbers:
        print(f"  {number}")
    if result.held:
        print(t(lang, "cli_gallra_held", numbers=", ".join(result.held)))
    return EXIT_OK


def cmd_arkivera(settings: Settings, args) -> int:
    """One diary year as one E-ARK SIP in <till>/<serie>-<år>/ (bot/usecases/archive.py).
    Read-only beside a running bot. The package is written under a hidden name and renamed
    into place when complete: a folder with the package's name is always a whole package."""
    import shutil
    from bot.files import fsync_directory, private_dir, write_durably
    lang = settings.org.language
    created = None
    if args.created:
        try:
            created = datetime.fromisoformat(args.created)
        except ValueError:
            raise UsageError(t(lang, "cli_arkivera_bad_created", text=args.created)) from None
        if created.tzinfo is None:
            created = created.replace(tzinfo=ZoneInfo(settings.org.timezone))
    bot = _reader(settings, command="arkivera")
    try:
        plan = bot.archive.plan(args.year, created)
    except DomainError as exc:
        raise UsageError(str(exc)) from None
    target = Path(args.target) / plan.objid
    if target.exists():
        raise UsageError(t(lang, "cli_arkivera_exists", path=target))
    partial = Path(args.target) / f".{plan.objid}.partial"
    try:
        if partial.exists():
            shutil.rmtree(partial)
        private_dir(partial)
        count = size = 0
        for relative, data in bot.archive.package(plan, version=_version()):
            path = partial / relative
            private_dir(path.parent)
            write_durably(path, data)
            count += 1
            size += len(data)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise UsageError(t(lang, "cli_output_refused", path=args.target,
                           reason=exc.strerror or type(exc).__name__)) from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)
    fsync_directory(target.parent)
    result = {"package": str(target), "cases": len(plan.cases), "files": count, "bytes": size,
              "open_cases": plan.open_cases}
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return EXIT_OK
    print(t(lang, "cli_arkivera_done", path=target, cases=len(plan.cases), files=count,
            size=size))
    if plan.open_cases:
        print(t(lang, "cli_arkivera_open", count=len(plan.open_cases),
                numbers=", ".join(plan.open_cases)), file=sys.stderr)
    return EXIT_OK


def cmd_utlamna(settings: Settings, args) -> int:
    """`utlämna <dnr> [<nr>] --till MAPP --as PERSON`: the masked copies (text and PDF, 0600)
    of what a request asks for. Given an ordinary case, the request is diarised first (as the
    chat command `utlämna`, through a running `run` when there is one); given a request case,
    its copies are made again. The registrator only (checked before anything is written)."""
    from bot.commands import parse
    from bot.domain.access import Actor
    from bot.files import private_dir
    org = settings.org
    lang = org.language
    person = _person_id(settings, args.person)
    words = " ".join(args.number)
    command = parse(f"utlämna {words}", org)
    if command.name != "disclose" or command.number is None:
        raise UsageError(command.error or t(lang, "refused_disclosure_syntax"))
    actor = Actor.person(person)
    if person not in org.people:
        raise UsageError(t(lang, "denied_unknown"))
    bot = _reader(settings, command="utlämna")
    try:        # the copies first: a refusal (not the registrator, no such document) diarises nothing
        source, copies = bot.disclosure.copies(actor, command.number, command.args["document"])
    except DomainError as exc:
        raise UsageError(str(exc)) from None
    finally:
        bot.store.close()
    asked = command.number.format(org.digits)
    if source.number == asked:          # an ordinary case: the request is diarised first
        import contextlib      # with --json, stdout is the JSON alone: the answer goes to stderr
        with contextlib.redirect_stdout(sys.stderr) if args.json else contextlib.nullcontext():
            code = _chat_command(settings, person, f"utlämna {words}", args.wait)
        if code != EXIT_OK:
            return code
    folder = Path(args.target)
    written = []
    try:
        private_dir(folder)
        for copy in copies:
            for suffix, data in ((".txt", copy.text.encode("utf-8")), (".pdf", copy.pdf)):
                written.append(str(write_private(folder / (copy.name + suffix), data)))
    except OSError as exc:
        raise UsageError(t(lang, "cli_output_refused", path=args.target,
                           reason=exc.strerror or type(exc).__name__)) from None
    if args.json:
        print(json.dumps({"case": source.number, "files": written}, ensure_ascii=False,
                         indent=2))
        return EXIT_OK
    print(t(lang, "cli_utlamna_written", count=len(copies), number=source.number, path=folder))
    for path in written:
        print(f"  {path}")
    print(t(lang, "cli_utlamna_check", number=asked if source.number != asked else "<dnr>"),
          file=sys.stderr)
    return EXIT_OK


def _period(lang: str, start: str, end: str) -> tuple[date, date]:
    """--from/--to (or --från/--till) as days; a bad one is bad input."""
    days = []
    for text in (start, end):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise UsageError(t(lang, "cli_log_bad_date", text=text)) from None
    return days[0], days[1]


def _emit(lang: str, output: str | None, data: str) -> None:
    """A text export to --output (0600, see _write_output) or to stdout."""
    if output:
        _write_output(lang, output, data.encode("utf-8"))
    else:
        sys.stdout.write(data)


def _write_output(lang: str, path: str, data: bytes) -> None:
    """A file with personal data: 0600, never through a symlink; a refusal is bad input."""
    try:
        write_private(Path(path), data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(t(lang, "cli_output_refused", path=path, reason=reason)) from None


def _outbox_retry(settings: Settings, args) -> int:
    """`outbox --retry` (an administrator, after a channel came back): every failed
    notification queued again, every waiting one due now. Beside a running `run` (which holds
    the data directory) the request goes through bot.commandbox like `command --as`."""
    lang = settings.org.language
    try:
        bot = _bot(settings, readonly=False, command="outbox --retry")
    except StoreLockedError as locked:
        if "run" not in (locked.command or "").split():
            raise
        return _op_through_run(settings, "outbox-retry", 30.0, json_out=args.json)
    try:
        counts = bot.services.retry_outbox()
    finally:
        bot.close()
    if args.json:
        _print_json(counts)
    else:
        print(t(lang, "cli_outbox_retried", **counts))
    return EXIT_OK


def _outbox_prune(settings: Settings, args) -> int:
    """`outbox --gallra`: delivered notifications older than [retention] notifications_days
    removed now (a running `run` does the same once a day)."""
    lang = settings.org.language
    try:
        bot = _bot(settings, readonly=False, command="outbox --gallra")
    except StoreLockedError as locked:
        if "run" not in (locked.command or "").split():
            raise
        print(t(lang, "cli_outbox_pruned_by_run", days=settings.org.notification_retention_days))
        return EXIT_OK
    try:
        gone, before = bot.services.forget_delivered()
        local = _local(before.isoformat(), bot.calendar.tz)
    finally:
        bot.close()
    if args.json:
        _print_json({"removed": gone, "delivered_before": before.isoformat()})
    else:
        print(t(lang, "cli_outbox_pruned", count=gone, before=local,
                days=settings.org.notification_retention_days))
    return EXIT_OK


def _op_through_run(settings: Settings, op: str, wait: float, *, json_out: bool) -> int:
    from datetime import datetime, timezone
    from bot import commandbox
    lang = settings.org.language
    request = commandbox.drop(settings.data_dir, "", op,
                              datetime.now(timezone.utc).isoformat(timespec="seconds"), op=op)
    reply = commandbox.wait_for_reply(settings.data_dir, request, wait)
    if reply is None and commandbox.withdraw(settings.data_dir, request):
        print(t(lang, "cli_command_no_run", seconds=int(wait)), file=sys.stderr)
        return EXIT_FAILURE
    if reply is None:
        reply = commandbox.wait_for_reply(settings.data_dir, request, wait)
    if reply is None:
        print(t(lang, "cli_command_late", seconds=int(wait)), file=sys.stderr)
        return EXIT_FAILURE
    if json_out and reply.get("data") is not None:
        _print_json(reply["data"])
    else:
        print(reply["text"])
    return EXIT_OK if reply["ok"] else EXIT_FAILURE


def cmd_report(settings: Settings, args) -> int:
    """The year's figures (bot/report.py) as text, Markdown, CSV, xlsx or JSON."""
    from bot.report import build_report, render_csv, render_markdown, render_text
    org = settings.org
    lang = org.language
    if args.format == "xlsx" and not args.output and sys.stdout.isatty():
        raise UsageError(t(lang, "cli_report_xlsx_tty"))
    bot = _reader(settings, command="report")
    now = bot.clock.now()
    year = args.year or bot.calendar.local(now).year
    # every year up to the report's: cases of earlier years still open count at the year's end
    cases = (c for c in bot.store.all_cases() if c.year <= year)
    report = build_report(cases, org, bot.calendar, year, now)
    if args.json:
        data: Any = json.loads(json.dumps(dataclasses.asdict(report), default=str))
        payload = (json.dumps(_for_people(data, bot.calendar.tz), ensure_ascii=False, indent=2)
                   + "\n").encode()
    elif args.format == "xlsx":
        from bot.report_xlsx import render_xlsx
        payload = render_xlsx(report)
    else:
        render = {"text": render_text, "md": render_markdown, "csv": render_csv}[args.format]
        payload = render(report).encode("utf-8")
    if args.output:
        _write_output(lang, args.output, payload)
        print(t(lang, "cli_report_written", path=args.output), file=sys.stderr)
    elif args.format == "xlsx" and not args.json:
        sys.stdout.flush()                      # a workbook is bytes for a program, not text
        raw_out = sys.__stdout__ or sys.stdout
        raw_out.buffer.write(payload)
        raw_out.buffer.flush()
    else:
        sys.stdout.write(payload.decode("utf-8"))   # through the cleaner, like every text
    return EXIT_OK


def _moment(text: str, bot) -> datetime:
    try:
        if len(text) == 10:
            return bot.calendar.office_start(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(t(bot.settings.org.language, "cli_bad_time", text=text)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=bot.calendar.tz)


def cmd_reminders(settings: Settings, args) -> int:
    bot = _bot(settings, readonly=True, command="reminders")
    moment = _moment(args.at, bot)
    due = bot.services.run_reminders(moment, dry_run=True)
    fields = ("diary_number", "recipient", "on_behalf_of", "step", "level", "due",
              "already_sent", "delivery", "preference")
    if args.json:
        _print_json([{k: d.get(k) for k in fields} for d in due], bot.calendar.tz)
        return EXIT_OK
    lang = settings.org.language
    if not bot.calendar.in_office_hours(moment):
        print(t(lang, "cli_outside_hours", moment=args.at))
    for d in due:
        recipient = d["recipient"] if not d.get("on_behalf_of") else t(
            lang, "cli_reminder_on_behalf", recipient=d["recipient"], person=d["on_behalf_of"])
        print(t(lang, "cli_reminder", due=_local(d["due"], bot.calendar.tz), level=t(lang, f"level_{d['level']}"),
                recipient=recipient, number=d["diary_number"] or "–", step=d["step"],
                sent=t(lang, "cli_already_sent") if d["already_sent"] else "")
              + _delivery_note(lang, d, moment, bot.calendar.tz))
    if not due:
        print(t(lang, "cli_no_reminders"))
    return EXIT_OK


def _delivery_note(lang: str, due: dict, moment: datetime, tz) -> str:
    """When the recipient's preference (`avisering`) delivers it, if not at once."""
    if not due.get("preference"):
        return ""
    if due.get("delivery") is None:
        return t(lang, "cli_reminder_muted", preference=due["preference"])
    if datetime.fromisoformat(due["delivery"]) <= moment:
        return ""
    return t(lang, "cli_reminder_delivery", when=_local(due["delivery"], tz),
             preference=due["preference"])


def cmd_check_config(settings: Settings, args) -> int:
    """What `run` would refuse is refused here, by the same checks (bot/config_check.py)."""
    org = settings.org
    channels = settings.channels()
    lang = org.language
    warnings = check_environment(settings)           # ConfigError: one line, exit 2
    data_state = data_dir_state(settings.data_dir)   # likewise for an unusable directory
    if settings.env.get("TEAMS_ANONYMOUS", "").lower() in ("1", "true", "yes", "ja", "on"):
        warnings.append(t(lang, "cli_warn_teams_anonymous"))
    for unit in org.units.values():
        if not unit.managers:
            warnings.append(t(lang, "cli_warn_no_manager", unit=unit.id))
    for cp in org.counterparts.values():
        if not cp.address:
            warnings.append(t(lang, "cli_warn_no_address", counterpart=cp.id))
    from bot.mail.authenticity import sender_check
    senders_verified, senders_line = sender_check(org.trusted_authserv_ids, lang)
    if not senders_verified:          # From: is believed as written: say so
        warnings.append(senders_line)
    summary: dict[str, Any] = {
        "config": str(settings.config_path), "data": str(settings.data_dir),
        "env_file": str(settings.env_file) if settings.env_file else None,
        "data_exists": data_state == "ready",
        "organisation": org.name, "language": org.language, "series": org.series,
        "people": len(org.people), "units": len(org.units), "counterparts": len(org.counterparts),
        "subscriptions": len(org.subscriptions), "mail_source": settings.mail_source,
        "channels": channels, "warnings": warnings, "ok": True,
        "senders_verified": senders_verified,
    }
    online = _online_checks(settings) if getattr(args, "online", False) else []
    if online:
        summary["online"] = [{"ok": ok, "check": text} for ok, text in online]
        summary["ok"] = all(ok for ok, _ in online)
    if args.json:
        _print_json(summary)
        return EXIT_OK if summary["ok"] else EXIT_BAD_INPUT
    print(t(lang, "cli_config_ok", path=settings.config_path))
    print("  " + t(lang, "cli_env_file", path=settings.env_file or t(lang, "cli_env_file_none")))
    print("  " + t(lang, "cli_config_summary", name=org.name, people=len(org.people),
                   units=len(org.units), counterparts=len(org.counterparts), series=org.series))
    print("  " + t(lang, "cli_data_ready" if data_state == "ready" else "cli_data_new",
                   path=settings.data_dir))
    source = settings.mail_source
    if source == "maildir":
        source += f" ({settings.data_dir / 'inbox'})"
    print("  " + t(lang, "cli_mailbox", source=source))
    for name, on in channels.items():
        print("  " + t(lang, "cli_channel", name=name, state=t(lang, "cli_on" if on else "cli_off")))
    for warning in warnings:
        print("  " + t(lang, "cli_warning", warning=warning))
    for ok, text in online:
        print("  " + t(lang, "cli_online_ok" if ok else "cli_online_failed", check=text))
    if not summary["ok"]:
        failed = next(text for ok, text in online if not ok)
        print(t(lang, "cli_online_summary", check=failed), file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _online_checks(settings: Settings) -> list[tuple[bool, str]]:
    """Try the mailbox and the mail server with the configured credentials (nothing is
    fetched, moved or sent); each line says what works or exactly what is missing."""
    lang = settings.org.language
    results: list[tuple[bool, str]] = []
    if settings.mail_source == "imap":
        from bot.mail.imap import ImapMailSource
        results += ImapMailSource.from_settings(settings).check(lang)
    elif settings.mail_source == "graph":
        from bot.mail.graph import check_online
        results += check_online(settings)
    else:
        results.append((True, t(lang, "cli_online_maildir", inbox=settings.data_dir / "inbox")))
    if settings.mail_source != "graph" and settings.env.get("SMTP_HOST"):
        from bot.mail.smtp import SmtpMailSender
        results.append(SmtpMailSender.from_settings(settings).check())
    if any(name.startswith("WEB_ENTRA_") for name in settings.env):   # sign-in to the web
        from bot.web.auth import WebOptions
        from bot.web.entra import check_online as entra_online
        results += entra_online(settings, WebOptions.from_settings(settings).base_url)
    return results


def cmd_command(settings: Settings, args) -> int:
    return _chat_command(settings, _person_id(settings, args.person), " ".join(args.text),
                         args.wait)


def _person_id(settings: Settings, person: str) -> str:
    if person not in settings.org.people:
        found = settings.org.person_by_email(person)
        person = found.id if found else person
    return person


def _chat_command(settings: Settings, person: str, text: str, wait: float) -> int:
    from bot.commands import parse
    # queries work beside a running bot; changes need the writer lock, or a running `run`
    try:
        bot = _bot(settings, readonly=parse(text, settings.org).read_only, command="command")
    except StoreLockedError as locked:
        if "run" not in (locked.command or "").split():
            raise
        return _command_through_run(settings, person, text, wait)
    try:
        reply = bot.services.handle_command(Actor.person(person), text, CH_CLI)
        if reply.ok and not bot.store.readonly:
            # `skicka` from the command line: the mail goes now (run is not running: we
            # hold the writer lock); notifications wait for run as before
            bot.services.deliver_outbox(only={"counterpart"})
    finally:
        bot.close()
    print(reply.text)
    return EXIT_OK if reply.ok else EXIT_BAD_INPUT


def _command_through_run(settings: Settings, person: str, text: str, wait: float) -> int:
    """`run` holds the data directory: it runs the command for us (bot.commandbox)."""
    from datetime import datetime, timezone
    from bot import commandbox
    lang = settings.org.language
    request = commandbox.drop(settings.data_dir, person, text,
                              datetime.now(timezone.utc).isoformat(timespec="seconds"))
    reply = commandbox.wait_for_reply(settings.data_dir, request, wait)
    if reply is None and commandbox.withdraw(settings.data_dir, request):
        print(t(lang, "cli_command_no_run", seconds=int(wait)), file=sys.stderr)
        return EXIT_FAILURE
    if reply is None:   # run has it: it is running now, so its answer comes soon
        reply = commandbox.wait_for_reply(settings.data_dir, request, wait)
    if reply is None:
        print(t(lang, "cli_command_late", seconds=int(wait)), file=sys.stderr)
        return EXIT_FAILURE
    print(reply["text"])
    return EXIT_OK if reply["ok"] else EXIT_BAD_INPUT


COMMANDS = {
    "run": cmd_run, "ingest": cmd_ingest, "status": cmd_status, "list": cmd_list,
    "outbox": cmd_outbox, "report": cmd_report, "reminders": cmd_reminders, "check-config": cmd_check_config,
    "command": cmd_command, "web": cmd_web, "web-link": cmd_web_link, "logg": cmd_logg,
    "diarium": cmd_diarium, "gallra": cmd_gallra, "arkivera": cmd_arkivera,
    "utlämna": cmd_utlamna, "utlamna": cmd_utlamna,
    "backup": cmd_backup, "restore": cmd_restore, "migrate": cmd_migrate,
}

if __name__ == "__main__":
    sys.exit(main())
