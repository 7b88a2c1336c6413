"""Figures on a store aged the way real use ages it (DESIGN §13, issue 11).

    .venv/bin/python benchmarks/aged.py [--years 8] [--mails-per-day 25]

1. Ageing (cached in benchmarks/.cache/aged-<years>y-<rate>): simulated business days through
   the product's own API, with a fixed clock: 25 mails a day (new deviations from the region,
   the units' responses, counterparts' supplements, auto-replies), managers registering,
   the registrator marking responses sent, managers closing (1 % of cases never closed),
   the reminder scan each morning, delivery and housekeeping. Raw mail, outbox, markers and
   triage all accumulate as they would.
2. Figures on that store, each with its target and the same-run floor for the same work:
   intake including delivery (to a local Slack Web API), status cold and warm, CLI status,
   a chat command while a channel is slow, one new case to 200 subscribers, disk written
   per simulated day, RSS after touching every year.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.domain.case import Case, iso  # noqa: E402
from bot.domain.access import Actor  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from reminders.calendar import BusinessCalendar  # noqa: E402
from tests.fakes.mail import FakeMailSender, make_mail  # noqa: E402

from slack_process import SlackInAnotherProcess  # noqa: E402  (beside this script)

CONFIG = REPO / "config" / "organisation.example.toml"
CACHE = REPO / "benchmarks" / ".cache"
UNIT_NAMES = ["Hemtjänst Norr", "Hemtjänst Söder", "Solgården", "Björkhagen"]
INTAKE_MAILS = 2000      # a backlog, as when a mailbox is taken over: cost must stay linear
MANAGER_OF = {"Hemtjänst Norr": "anna", "Hemtjänst Söder": "bengt", "Solgården": "anna",
              "Björkhagen": "bengt"}


def rss_mb() -> float:
    """Peak RSS of this process since its exec (VmHWM): ru_maxrss would count the pages of
    the parent it was forked from (the ageing run, which holds years of simulation)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CountingNotifier:
    """The console of the simulation: counts, keeps nothing (years of notifications kept in
    a test fake would be the harness's memory, not the bot's)."""
    channel = "console"

    def __init__(self) -> None:
        self.count = 0

    def send(self, notification: dict) -> dict:
        self.count += 1
        return {"n": self.count}


def _bot(data: Path, clock: FixedClock, *, env: dict | None = None, config: Path = CONFIG):
    """With `env` (a local Slack), the Slack frontend is built from the settings and the
    console (where nobody has a Slack id) records silently."""
    org = load_organisation(config)
    settings = Settings(config_path=config, data_dir=data, org=org, env=env or {})
    bot = build(settings, clock=clock, sender=FakeMailSender(), command="bench",
                notifiers=None if env else {"console": CountingNotifier()})
    bot.notifiers["console"] = bot.services.notifiers["console"] = CountingNotifier()
    return bot


def slack_org() -> Path:
    """The example organisation with a Slack id for every person."""
    from tests.scenario.test_slack import slack_config
    return slack_config(Path(tempfile.mkdtemp()))


# ----------------------------------------------------------------------------- ageing
def age(data: Path, years: int, per_day: int) -> dict:
    org = load_organisation(CONFIG)
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    rng = random.Random(42)
    day = date(2026, 11, 30) - timedelta(days=int(365.25 * years))
    end = date(2026, 11, 27)
    clock = FixedClock(calendar.office_start(day))
    bot = _bot(data, clock)
    say = bot.services.handle_command
    days, mails, started = 0, 0, time.monotonic()
    written_at: list[int] = []
    forgotten: set[str] = set()
    while day <= end:
        if not calendar.is_business_day(day):
            day += timedelta(days=1)
            continue
        start = calendar.office_start(day)
        clock.set(start)
        bot.services.run_reminders()
        open_cases = bot.store.open_cases()
        batch = []
        # a day's mail: about as many of the units' responses as new deviations (to the
        # registered cases that waited longest), a few counterparts' auto-replies
        waiting = sorted((c for c in open_cases if c.status == "registered"), key=lambda c: c.key)
        for i in range(per_day):
            unit = rng.choice(UNIT_NAMES)
            roll = rng.random()
            if roll < 0.44 and waiting:
                case = waiting.pop(0)
                person = org.people[(org.managers_of(case.unit) or ["anna"])[0]]
                batch.append(make_mail(sender=f"{person.name} <{person.email}>",
                                       subject=f"SV: {case.number} {case.title}",
                                       body="Enhetens svar: vi har gått igenom rutinen.",
                                       message_id=f"<r{days}-{i}@exempelby.se>"))
            elif roll < 0.52:
                batch.append(make_mail(sender="Lisa <lisa@regionexempel.se>", subject="Autosvar: ledig",
                                       body="Jag är ledig.", message_id=f"<a{days}-{i}@regionexempel.se>",
                                       headers={"Auto-Submitted": "auto-replied"}))
            else:
                batch.append(make_mail(sender=f"Handläggare <h{i}@regionexempel.se>",
                                       subject=f"Avvikelse {days}-{i}: fel läkemedel, {unit}",
                                       body=f"Vi rapporterar en avvikelse hos {unit}. " + "Text. " * 120,
                                       message_id=f"<n{days}-{i}@regionexempel.se>"))
        clock.set(start + timedelta(hours=1))
        bot.services.ingest_many((raw, clock.now(), None) for raw in batch)
        mails += len(batch)
        clock.set(start + timedelta(hours=2))
        for case in bot.store.open_cases():
            manager = org.managers_of(case.unit)
            who = manager[0] if manager else "rut"
            age_days = (clock.now() - datetime.fromisoformat(case.created)).days
            if case.status == "diarised" and case.unit is None:
                say(Actor.person("rut"), f"enhet {case.number} {rng.choice(UNIT_NAMES)}", "cli")
            elif case.status == "diarised" and age_days >= 1:
                say(Actor.person(who), f"registrerad {case.number}", "slack")
            elif case.status == "response_received":
                say(Actor.person("rut"), f"skickad {case.number}", "slack")
            elif case.status == "response_sent" and age_days >= 5:
                if case.number in forgotten or rng.random() < 0.01:
                    forgotten.add(case.number)
                    continue
                say(Actor.person(who), f"avsluta {case.number}", "slack")
            elif case.status == "registered" and age_days > 30 and rng.random() < 0.2:
                say(Actor.person(who), f"avsluta {case.number} ingen åtgärd", "slack")
        clock.set(start + timedelta(hours=3))
        bot.services.deliver_outbox()
        bot.services.housekeep(force=True)
        written_at.append(bot.store.bytes_written)
        days += 1
        day += timedelta(days=1)
    bot.close()
    recent = written_at[-30:]
    stats = {"days": days, "mails": mails, "seconds": time.monotonic() - started,
             "bytes_per_day_last30": (recent[-1] - recent[0]) / max(len(recent) - 1, 1),
             "bytes_per_day_all": written_at[-1] / max(days, 1)}
    (data / "aged.json").write_text(json.dumps(stats))
    return stats


def aged_store(years: int, per_day: int) -> tuple[Path, dict]:
    folder = CACHE / f"aged-{years}y-{per_day}"
    if (folder / "aged.json").exists():
        return folder, json.loads((folder / "aged.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder, age(folder, years, per_day)


def grow(source: Path, cases: int) -> Path:
    """The aged store grown to `cases` cases (cached): closed cases of the same shape as the
    aged ones, spread over its years, written through the store's own API (units of work,
    then housekeeping moves them to the archive, as closing does)."""
    from bot.domain.case import Document, Event
    from bot.store.repository import TinyDbCaseStore
    from bot.usecases.uow import UnitOfWork
    target = source.with_name(f"{source.name}-{cases // 1000}k")
    if (target / "grown.json").exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("diary.lock"))
    store = TinyDbCaseStore(target, command="bench")
    have = sum(1 for _ in store.all_cases())
    years = store.archive_years() or [2026]
    rng = random.Random(7)
    added = 0
    while have + added < cases:
        with UnitOfWork(store):
            for _ in range(min(2000, cases - have - added)):
                year = years[added % len(years)]
                number = store.next_number(year)
                created = datetime(year, 1 + rng.randrange(12), 1 + rng.randrange(28), 9,
                                   tzinfo=timezone.utc)
                mid = f"grown-{year}-{number.seq}@regionexempel.se"
                case = Case(number=number.format(4), key=number.key, kind="incoming",
                            title=f"Avvikelse {number.seq}: fel läkemedel", status="closed",
                            created=iso(created), unit="hemtjanst-norr",
                            counterpart="region-exempel", severity="yellow",
                            status_since={"diarised": iso(created), "closed": iso(created + timedelta(days=20))},
                            documents=[Document(1, "deviation", iso(created), "h@regionexempel.se",
                                                "Avvikelse", mid)],
                            events=[Event(iso(created), "mail:h@regionexempel.se", "mail", "diarised"),
                                    Event(iso(created + timedelta(days=20)), "anna", "slack", "status",
                                          {"from": "response_sent", "to": "closed"})],
                            message_ids=[mid])
                store.put_case(case)
                store.record_mail({"key": f"mid:{mid}", "outcome": "new_case", "number": case.number,
                                   "message_id": mid, "conversation_id": None, "at": iso(created),
                                   "content_hash": mid})
                added += 1
        store.housekeep(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
    store.close()
    (target / "grown.json").write_text(json.dumps({"cases": have + added}))
    return target


def copy_store(source: Path) -> Path:
    """A private copy of the aged store, removed when this process ends (each figure runs
    in a process of its own)."""
    import atexit
    target = Path(tempfile.mkdtemp(prefix="aged-")) / "data"
    atexit.register(shutil.rmtree, target.parent, True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("diary.lock"))
    return target


# ----------------------------------------------------------------------------- floor
def floor_per_mail(mails: list[bytes], folder: Path) -> float:
    """Parse + raw fsync + a minimal transactional write (SQLite, synchronous=FULL)."""
    from bot.mail.parse import parse_mail
    folder.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(folder / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS m (k TEXT PRIMARY KEY, v TEXT)")
    started = time.perf_counter()
    for i, raw in enumerate(mails):
        mail = parse_mail(raw)
        path = folder / f"{i}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, raw)
        os.fsync(fd)
        os.close(fd)
        db.execute("BEGIN")
        db.execute("INSERT OR REPLACE INTO m VALUES (?, ?)", (mail.duplicate_key, "new_case"))
        db.execute("COMMIT")
    return (time.perf_counter() - started) / len(mails)


# ----------------------------------------------------------------------------- figures
def new_mails(count: int, tag: str) -> list[bytes]:
    return [make_mail(sender=f"Handläggare <h{i}@regionexempel.se>",
                      subject=f"Avvikelse {tag}-{i}: fel läkemedel, {UNIT_NAMES[i % 4]}",
                      body=f"Vi rapporterar en avvikelse hos {UNIT_NAMES[i % 4]}. " + "Text. " * 120,
                      message_id=f"<{tag}-{i}@regionexempel.se>") for i in range(count)]


def figure_intake(source: Path, count: int) -> dict:
    data = copy_store(source)
    mails = new_mails(count, "bench")
    # the floor before and after the product's run (a disk's fsync time drifts by half
    # within minutes here): the ratio is to their mean
    floor_before = floor_per_mail(mails, data.parent / "floor-before")
    with SlackInAnotherProcess({"U0123ANNA": {"email": "anna.andersson@exempelby.se"}},
                               anyone={"email": "x@exempelby.se"}) as api:
        env = {"SLACK_BOT_TOKEN": "xoxb-b", "SLACK_SIGNING_SECRET": "s" * 32,
               "SLACK_API_URL": api.url, "SLACK_PORT": "0"}
        clock = FixedClock(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
        bot = _bot(data, clock, env=env, config=slack_org())
        started = time.perf_counter()
        bot.services.ingest_many((raw, clock.now(), None) for raw in mails)
        counts = bot.services.deliver_outbox()
        seconds = time.perf_counter() - started
        posts = api.posts()
        bot.close()
    floor = (floor_before + floor_per_mail(mails, data.parent / "floor-after")) / 2
    return {"per_second": count / seconds, "ratio": (seconds / count) / floor,
            "floor_ms": floor * 1000, "posts": posts, "sent": counts["sent"]}


def figure_status(source: Path, lookups: int) -> dict:
    from bot.store.repository import TinyDbCaseStore
    numbers = []
    for year_dir in sorted((source / "archive" / "cases").iterdir()):
        for chunk in sorted(year_dir.glob("*.jsonl"))[:4]:
            for line in chunk.read_text().splitlines()[:3]:
                numbers.append(json.loads(line)["number"])
    rng = random.Random(3)
    picks = [rng.choice(numbers) for _ in range(lookups)]
    cold, warm = [], []
    store = TinyDbCaseStore(source, readonly=True)
    for number in picks:
        store.cases_archive._cache.clear()                 # nothing cached: a cold look-up
        started = time.perf_counter()
        assert store.get_case_by_text(number) is not None
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        store.get_case_by_text(number)
        warm.append(time.perf_counter() - started)
    # as installed and running: bytecode compiled (pip does it at install; this checkout
    # may run with PYTHONDONTWRITEBYTECODE), and the store opened by a writer of this
    # version (`run` keeps the copy of the holiday table readers use)
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(REPO / d) for d in
                    ("bot", "reminders", "handlers"))], check=True, capture_output=True)
    _bot(source, FixedClock(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))).close()
    cli = []
    exe = str(Path(sys.executable).with_name("avvikelsebot"))
    for number in picks[:20]:
        started = time.perf_counter()
        subprocess.run([exe, "--config", str(CONFIG), "--data", str(source), "status", number],
                       check=True, capture_output=True)
        cli.append(time.perf_counter() - started)
    q = statistics.quantiles
    return {"cold_p95_ms": q(cold, n=20)[18] * 1000, "warm_p95_ms": q(warm, n=20)[18] * 1000,
            "cli_median_s": statistics.median(cli), "cli_max_s": max(cli)}


def figure_rss_every_year(source: Path) -> dict:
    from bot.domain.access import Actor as A
    clock = FixedClock(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
    data = copy_store(source)
    bot = _bot(data, clock)
    for year in bot.store.archive_years():
        for case in list(bot.store.all_cases(year))[::500]:
            bot.services.handle_command(A.person("rut"), f"status {case.number}", "slack")
    bot.services.ingest_many((raw, clock.now(), None) for raw in new_mails(50, "rss"))
    bot.services.deliver_outbox()
    bot.close()
    return {"rss_mb": rss_mb()}


def figure_fanout(source: Path) -> dict:
    """One new case to 200 people subscribed to all units, delivered to the local Slack."""
    import tomllib
    text = CONFIG.read_text(encoding="utf-8")
    extra = []
    for i in range(200):
        extra.append(f'[[people]]\nid = "p{i}"\nname = "Person {i}"\nemail = "p{i}@exempelby.se"\n'
                     f'slack = "U{i:05d}"\nroles = ["sas"]\n\n[[subscriptions]]\nperson = "p{i}"\n'
                     f'units = ["*"]\n')
    config = Path(tempfile.mkdtemp()) / "org.toml"
    config.write_text(text + "\n" + "\n".join(extra), encoding="utf-8")
    tomllib.loads(config.read_text(encoding="utf-8"))
    data = copy_store(source)
    with SlackInAnotherProcess({}, anyone={"email": "x@exempelby.se"}) as api:
        clock = FixedClock(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
        bot = _bot(data, clock, config=config,
                   env={"SLACK_BOT_TOKEN": "xoxb-b", "SLACK_SIGNING_SECRET": "s" * 32,
                        "SLACK_API_URL": api.url, "SLACK_PORT": "0"})
        warm, mail = new_mails(2, "fan")      # a running bot has its imports and caches
        bot.services.ingest_mail(warm, arrived=clock.now())
        bot.services.deliver_outbox()
        started = time.perf_counter()
        bot.services.ingest_mail(mail, arrived=clock.now())
        bot.services.deliver_outbox()
        seconds = time.perf_counter() - started
        posts = api.posts()
        bot.close()
    return {"seconds": seconds, "posts": posts // 2}


def figure_command_while_slow(source: Path) -> dict:
    """A chat command while the Slack channel takes 30 s per post (the outbox in the
    background, as in `run`)."""
    data = copy_store(source)
    with SlackInAnotherProcess({}, anyone={"email": "x@exempelby.se"}) as api:
        api.hold()                                 # every post hangs (until released)
        env = {"SLACK_BOT_TOKEN": "xoxb-b", "SLACK_SIGNING_SECRET": "s" * 32,
               "SLACK_API_URL": api.url, "SLACK_PORT": "0"}
        clock = FixedClock(datetime(2026, 11, 30, 9, tzinfo=timezone.utc))
        bot = _bot(data, clock, env=env, config=slack_org())
        bot.services.ingest_many((raw, clock.now(), None) for raw in new_mails(20, "slow"))
        bot.services.deliver_outbox(wait=False)   # the sends hang in the outbox's threads
        number = bot.store.open_cases()[0].number
        times = []
        for _ in range(100):
            started = time.perf_counter()
            bot.services.handle_command(Actor.person("rut"), f"status {number}", "slack")
            times.append(time.perf_counter() - started)
        ingest_started = time.perf_counter()
        bot.services.ingest_mail(new_mails(1, "during")[0], arrived=clock.now())
        ingest_s = time.perf_counter() - ingest_started
        api.release()
        bot.close()
    return {"p95_ms": statistics.quantiles(times, n=20)[18] * 1000, "ingest_ms": ingest_s * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=8)
    parser.add_argument("--mails-per-day", type=int, default=25)
    parser.add_argument("--cases", type=int, default=0,
                        help="grow the aged store to this many cases (e.g. 200000) first")
    parser.add_argument("--figure")
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.figure:      # one figure in a process of its own (RSS belongs to it alone)
        source = Path(args.data)
        result = {"intake": lambda: figure_intake(source, INTAKE_MAILS), "status": lambda: figure_status(source, 200),
                  "rss": lambda: figure_rss_every_year(source), "fanout": lambda: figure_fanout(source),
                  "slow": lambda: figure_command_while_slow(source)}[args.figure]()
        print(json.dumps(result))
        return
    source, aged = aged_store(args.years, args.mails_per_day)
    if args.cases:
        source = grow(source, args.cases)
    live = (source / "diary.json").stat().st_size
    run = lambda name: json.loads(subprocess.run(  # noqa: E731
        [sys.executable, __file__, "--figure", name, "--data", str(source)],
        check=True, capture_output=True, text=True).stdout)
    intake, status, rss = run("intake"), run("status"), run("rss")
    fanout, slow = run("fanout"), run("slow")
    rows = [
        ("aged store", f"{aged['days']} business days, {aged['mails']} mails"
                       + (f", grown to {args.cases} cases" if args.cases else "")
                       + f"; diary.json {live / 1e6:.2f} MB", "bounded by what is open", ""),
        (f"intake incl. delivery to Slack, {INTAKE_MAILS} mails", f"{intake['per_second']:.0f} mails/s "
         f"({intake['posts']} posts)", "≥ 100 mails/s",
         f"{intake['ratio']:.1f}× floor ({intake['floor_ms']:.1f} ms/mail)"),
        ("status in process, cold / warm", f"p95 {status['cold_p95_ms']:.1f} / "
         f"{status['warm_p95_ms']:.2f} ms", "p95 ≤ 50 ms", ""),
        ("CLI status", f"median {status['cli_median_s']:.2f} s, max {status['cli_max_s']:.2f} s",
         "≤ 0.3 s", ""),
        ("chat command while Slack hangs 30 s a post", f"p95 {slow['p95_ms']:.1f} ms; a mail "
         f"diarised in {slow['ingest_ms']:.0f} ms", "p95 < 0.5 s (< 0.1 s)", ""),
        ("one new case to 200 subscribers", f"{fanout['seconds']:.2f} s ({fanout['posts']} posts)",
         "≤ 1 s", ""),
        ("disk written per simulated day", f"{aged['bytes_per_day_last30'] / 1e6:.2f} MB "
         f"(whole ageing {aged['bytes_per_day_all'] / 1e6:.2f} MB)", "≤ 50 MB", ""),
        ("RSS after touching every year", f"{rss['rss_mb']:.0f} MB", "≤ 250 MB", ""),
    ]
    header = ("figure", "measured", "target", "floor")
    width = [max(len(str(r[i])) for r in rows + [header]) for i in range(4)]
    print(" | ".join(h.ljust(w) for h, w in zip(header, width)))
    print("-+-".join("-" * w for w in width))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, width)))


if __name__ == "__main__":
    main()
