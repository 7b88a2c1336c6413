"""The command line (DESIGN §10). Exit 0 success, 2 bad input or configuration, 1 failure."""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.domain.access import Actor
from bot.domain.case import CH_CLI
from bot.domain.diary import parse_diary_number
from bot.domain.redact import redact
from bot.errors import BotError, ConfigError
from bot.settings import Settings, load_settings
from bot.store.lock import StoreLockedError
from bot.texts import t

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT = 0, 1, 2


class UsageError(Exception):
    """Bad input on the command line: exit 2 with one line on stderr."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose or args.cmd == "run" else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.cmd == "demo":
            from bot.demo.script import run_demo
            return run_demo(sys.stdout)
        settings = load_settings(args.config, args.data, env_file=args.env)
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
    except BotError as error:
        print(f"avvikelsebot: {redact(str(error))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except Exception:  # the unexpected: logged once, with its trace, for support
        logging.getLogger("avvikelsebot").exception("oväntat fel i %s", args.cmd)
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avvikelsebot",
                                     description="Diarierar avvikelser från registratorns brevlåda.")
    parser.add_argument("--config", help="organisationsfilen (AVVIKELSEBOT_CONFIG)")
    parser.add_argument("--data", help="datakatalogen (AVVIKELSEBOT_DATA)")
    parser.add_argument("--env", help="filen med hemligheter (AVVIKELSEBOT_ENV; annars .env "
                                      "bredvid organisationsfilen, aldrig arbetskatalogens)")
    parser.add_argument("-v", "--verbose", action="store_true", help="logga mer")
    sub = parser.add_subparsers(dest="cmd", required=True, metavar="KOMMANDO")
    sub.add_parser("run", help="bevaka brevlådan, skicka aviseringar, tills du stoppar (Ctrl-C)")
    sub.add_parser("demo", help="hela processen med en exempelorganisation, utan nätverk")
    ingest = sub.add_parser("ingest", help="kör .eml-filer genom intaget")
    ingest.add_argument("files", nargs="+", metavar="FIL")
    ingest.add_argument("--json", action="store_true")
    status = sub.add_parser("status", help="ett ärende")
    status.add_argument("number", nargs="+", metavar="DNR")
    status.add_argument("--json", action="store_true")
    listing = sub.add_parser("list", help="ärenden")
    listing.add_argument("--open", action="store_true")
    listing.add_argument("--overdue", action="store_true")
    listing.add_argument("--unit")
    listing.add_argument("--json", action="store_true")
    outbox = sub.add_parser("outbox", help="aviseringar")
    outbox.add_argument("--json", action="store_true")
    report = sub.add_parser("report", help="årets siffror för patientsäkerhetsberättelsen")
    report.add_argument("--year", type=int, metavar="ÅR", help="standard: innevarande år")
    report.add_argument("--format", choices=("text", "md", "csv", "xlsx"), default="text")
    report.add_argument("--output", metavar="FIL", help="skriv till FIL i stället för standard ut")
    report.add_argument("--json", action="store_true")
    reminders = sub.add_parser("reminders", help="vilka påminnelser som skulle gå ut vid TID (torrkörning)")
    reminders.add_argument("--at", required=True, metavar="TID",
                           help="ÅÅÅÅ-MM-DD[THH:MM] i organisationens tidszon (ett datum = kontorets start)")
    reminders.add_argument("--json", action="store_true")
    check = sub.add_parser("check-config", help="kontrollera konfigurationen")
    check.add_argument("--json", action="store_true")
    check.add_argument("--online", action="store_true",
                       help="prova inloggningarna mot brevlådan och e-postservern")
    sub.add_parser("web", help="bara webböversikten, med diariet öppnat för läsning "
                                "(en läskopia, en bärbar dator)")
    link = sub.add_parser("web-link", help="en personlig inloggningslänk till webböversikten")
    link.add_argument("--as", dest="person", required=True, metavar="PERSON")
    readlog = sub.add_parser("logg", help="läsloggen (vem öppnade vilket ärende) som CSV, för loggkontroll")
    readlog.add_argument("--from", dest="start", required=True, metavar="ÅÅÅÅ-MM-DD")
    readlog.add_argument("--to", dest="end", required=True, metavar="ÅÅÅÅ-MM-DD")
    readlog.add_argument("--output", metavar="FIL")
    command = sub.add_parser("command", help="ett chattkommando, som en person")
    command.add_argument("--as", dest="person", required=True, metavar="PERSON")
    command.add_argument("text", nargs="+")
    return parser


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _bot(settings: Settings, *, readonly: bool, command: str):
    from bot.app import build
    return build(settings, readonly=readonly, command=command)


# ---------------------------------------------------------------------------- commands
def cmd_run(settings: Settings, args) -> int:
    import asyncio
    bot = _bot(settings, readonly=False, command="run")
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
            from bot.web.app import start_web
            web_runner = await start_web(settings, _read_only_store(settings), bot.calendar)
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


def _read_only_store(settings: Settings):
    """How the web opens the diary: read-only, again whenever the writer has committed."""
    return lambda: _bot(settings, readonly=True, command="web").store


def cmd_web(settings: Settings, args) -> int:
    """The web overview alone: the store opened read-only, so it runs beside a writer, on a
    replica of the data directory, or on a laptop. Sign-in tokens and the read log go to
    WEB_STATE_DIR (default: the data directory), which this process must be able to write."""
    import asyncio
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
                                 options=options)
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
    from bot.ports import SystemClock
    from bot.web.auth import LoginLinks
    org = settings.org
    person = args.person
    if person not in org.people:
        found = org.person_by_email(person)
        person = found.id if found else person
    if person not in org.people:
        raise UsageError(t(org.language, "web_not_in_directory", person=args.person))
    links = LoginLinks(settings)
    url = links.issue_login_link(person, SystemClock().now())
    print(t(org.language, "web_link_line", minutes=links.options.link_minutes, url=url))
    return EXIT_OK


def cmd_logg(settings: Settings, args) -> int:
    """The read log for a period as CSV (loggkontroll): who opened which case, mail or
    attachment, when, through which channel."""
    from bot.web.auth import WebOptions
    from bot.web.readlog import ReadLog
    lang = settings.org.language
    days = []
    for text in (args.start, args.end):
        try:
            days.append(date.fromisoformat(text))
        except ValueError:
            raise UsageError(t(lang, "cli_log_bad_date", text=text)) from None
    state_dir = WebOptions.from_settings(settings).state_dir
    data = ReadLog(state_dir).export_csv(days[0], days[1], t(lang, "cli_log_header").split(","))
    if args.output:
        Path(args.output).write_text(data, encoding="utf-8", newline="")
    else:
        sys.stdout.write(data)
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

    def report(path: Path, result: dict) -> None:
        result = {"file": str(path), **result}
        collected.append(result)
        if not args.json:
            print(t(lang, "cli_ingested", file=path.name,
                    outcome=t(lang, f"outcome_{result['outcome']}"),
                    number=result["diary_number"] or "", reason=redact(result["reason"])))
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
        bot.services.ingest_many(items(), on_durable=show)
    finally:
        bot.close()
    if args.json:
        order = {str(p): i for i, p in enumerate(paths)}
        _print_json(sorted(collected, key=lambda r: order.get(r["file"], 0)))
    return EXIT_OK


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
    bot = _bot(settings, readonly=True, command="status")
    case = _case(bot, " ".join(args.number), settings.org.series)
    if args.json:
        _print_json(bot.services.status_json(case))
    else:
        print(bot.services.status_text(case))
    return EXIT_OK


def cmd_list(settings: Settings, args) -> int:
    bot = _bot(settings, readonly=True, command="list")
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
        cases = [c for c in cases if bot.services.is_overdue(c)]
    cases.sort(key=lambda c: c.key)
    if args.json:
        _print_json([bot.services.status_json(c, events=False) for c in cases])
    else:
        print(bot.services.list_text(cases))
    return EXIT_OK


def cmd_outbox(settings: Settings, args) -> int:
    bot = _bot(settings, readonly=True, command="outbox")
    live = {n["id"]: n for n in bot.store.outbox()}
    earlier = [n for n in bot.store.outbox_history() if n["id"] not in live]
    items = sorted([*earlier, *live.values()], key=lambda n: n["created"])
    fields = ("recipient", "channel", "diary_number", "event", "text", "state", "created")
    if args.json:
        _print_json([{k: (redact(n[k]) if k == "text" else n.get(k)) for k in fields} for n in items])
        return EXIT_OK
    lang = settings.org.language
    for n in items:
        print(t(lang, "cli_outbox_line", state=n["state"], created=n["created"],
                recipient=n["recipient"], channel=n["channel"], number=n["diary_number"] or "–",
                event=n["event"]))
    if not items:
        print(t(lang, "cli_outbox_empty"))
    return EXIT_OK


def cmd_report(settings: Settings, args) -> int:
    """The year's figures (bot/report.py) as text, Markdown, CSV, xlsx or JSON."""
    from bot.report import build_report, render_csv, render_markdown, render_text
    org = settings.org
    lang = org.language
    if args.format == "xlsx" and not args.output and sys.stdout.isatty():
        raise UsageError(t(lang, "cli_report_xlsx_tty"))
    bot = _bot(settings, readonly=True, command="report")
    now = bot.clock.now()
    year = args.year or bot.calendar.local(now).year
    # every year up to the report's: cases of earlier years still open count at the year's end
    cases = (c for c in bot.store.all_cases() if c.year <= year)
    report = build_report(cases, org, bot.calendar, year, now)
    if args.json:
        data: Any = json.loads(json.dumps(dataclasses.asdict(report), default=str))
        payload = redact(json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode()
    elif args.format == "xlsx":
        from bot.report_xlsx import render_xlsx
        payload = render_xlsx(report)
    else:
        render = {"text": render_text, "md": render_markdown, "csv": render_csv}[args.format]
        payload = render(report).encode("utf-8")
    if args.output:
        Path(args.output).write_bytes(payload)
        print(t(lang, "cli_report_written", path=args.output), file=sys.stderr)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(payload)
        sys.stdout.buffer.flush()
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
    fields = ("diary_number", "recipient", "step", "level", "due", "already_sent")
    if args.json:
        _print_json([{k: d[k] for k in fields} for d in due])
        return EXIT_OK
    lang = settings.org.language
    if not bot.calendar.in_office_hours(moment):
        print(t(lang, "cli_outside_hours", moment=args.at))
    for d in due:
        print(t(lang, "cli_reminder", due=d["due"][:16], level=t(lang, f"level_{d['level']}"),
                recipient=d["recipient"], number=d["diary_number"] or "–", step=d["step"],
                sent=t(lang, "cli_already_sent") if d["already_sent"] else ""))
    if not due:
        print(t(lang, "cli_no_reminders"))
    return EXIT_OK


def cmd_check_config(settings: Settings, args) -> int:
    org = settings.org
    channels = settings.channels()
    lang = org.language
    warnings = []
    if settings.env.get("TEAMS_ANONYMOUS", "").lower() in ("1", "true", "yes", "ja"):
        warnings.append(t(lang, "cli_warn_teams_anonymous"))
    if channels["teams"]:
        from handlers.teams import teams_config   # a missing TEAMS_* value: ConfigError, exit 2
        teams_config(settings)
    for unit in org.units.values():
        if not unit.managers:
            warnings.append(t(lang, "cli_warn_no_manager", unit=unit.id))
    for cp in org.counterparts.values():
        if not cp.address:
            warnings.append(t(lang, "cli_warn_no_address", counterpart=cp.id))
    summary: dict[str, Any] = {
        "config": str(settings.config_path), "data": str(settings.data_dir),
        "env_file": str(settings.env_file) if settings.env_file else None,
        "organisation": org.name, "language": org.language, "series": org.series,
        "people": len(org.people), "units": len(org.units), "counterparts": len(org.counterparts),
        "subscriptions": len(org.subscriptions), "mail_source": settings.mail_source,
        "channels": channels, "warnings": warnings, "ok": True,
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
    return results


def cmd_command(settings: Settings, args) -> int:
    person = args.person
    if person not in settings.org.people:
        found = settings.org.person_by_email(person)
        person = found.id if found else person
    from bot.commands import parse
    text = " ".join(args.text)
    # queries work beside a running bot; changes need the writer lock
    bot = _bot(settings, readonly=parse(text, settings.org).read_only, command="command")
    try:
        reply = bot.services.handle_command(Actor.person(person), text, CH_CLI)
        if reply.ok and not bot.store.readonly:
            # `skicka` from the command line: the mail goes now (run is not running: we
            # hold the writer lock); notifications wait for run as before
            bot.services.deliver_outbox(only={"counterpart"})
    finally:
        bot.close()
    print(redact(reply.text))
    return EXIT_OK if reply.ok else EXIT_BAD_INPUT


COMMANDS = {
    "run": cmd_run, "ingest": cmd_ingest, "status": cmd_status, "list": cmd_list,
    "outbox": cmd_outbox, "report": cmd_report, "reminders": cmd_reminders, "check-config": cmd_check_config,
    "command": cmd_command, "web": cmd_web, "web-link": cmd_web_link, "logg": cmd_logg,
}

if __name__ == "__main__":
    sys.exit(main())
