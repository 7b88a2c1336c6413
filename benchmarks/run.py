"""Benchmarks against the DESIGN §13 targets. Prints a table; not a test.

    .venv/bin/python benchmarks/run.py            # everything (a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # smaller samples

Each scenario runs in its own process so that peak RSS belongs to it alone.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.domain.case import Case, Document, Event, iso  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from bot.store.atomic import AtomicOrjsonStorage  # noqa: E402
from bot.store.repository import _pack  # noqa: E402
from tests.fakes.mail import make_mail  # noqa: E402
from tests.fakes.notifier import FakeNotifier  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
UNITS = ["hemtjanst-norr", "hemtjanst-soder", "solgarden", "bjorkhagen", "hemsjukvard"]
UNIT_NAMES = ["Hemtjänst Norr", "Hemtjänst Söder", "Solgården", "Björkhagen", "Hemsjukvården"]
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- seeding
def synthetic_case(year: int, seq: int, *, closed: bool, rng: random.Random) -> Case:
    created = datetime(year, 1, 1, 8, tzinfo=timezone.utc) + timedelta(minutes=seq * 97 % 500000)
    if year == NOW.year and created > NOW - timedelta(days=2):
        created = NOW - timedelta(days=2 + seq % 300)
    unit = UNITS[seq % len(UNITS)]
    number = f"VOK {year}/{seq:04d}"
    docs = [Document(no=1, type="deviation", received=iso(created),
                     sender=f"handlaggare{seq}@regionexempel.se",
                     subject=f"Avvikelse nr {seq} läkemedel", message_id=f"seed-{year}-{seq}@regionexempel.se",
                     raw=None)]
    events = [Event(iso(created), "mail:x", "mail", "diarised", {"kind": "incoming"})]
    status, since = "diarised", {"diarised": iso(created)}
    if closed:
        for i, step in enumerate(("registered", "response_received", "response_sent", "closed")):
            since[step] = iso(created + timedelta(days=2 + 4 * i))
            events.append(Event(since[step], "anna", "slack", "status", {"to": step}))
        docs.append(Document(no=2, type="response", received=since["response_received"],
                             sender="anna.andersson@exempelby.se", subject="SV: svar",
                             message_id=f"seed-r-{year}-{seq}@exempelby.se"))
        status = "closed"
    return Case(number=number, key=year * 1_000_000 + seq, kind="incoming",
                title=f"Avvikelse nr {seq} – läkemedel", status=status, created=iso(created),
                unit=unit, counterpart="region-exempel",
                severity=rng.choice([None, "green", "yellow", "red"]), status_since=since,
                documents=docs, events=events,
                message_ids=[d.message_id for d in docs])


def seed(data: Path, *, years: int, per_year: int, open_cases: int) -> None:
    """`years` years of `per_year` cases, the last `open_cases` of the current year open.

    Written straight into the store's files in its own layout (closed cases already
    archived), one write per file: seeding is setup, not what is measured."""
    rng = random.Random(1)
    live = {"cases": {}, "mails": {}, "diary": {}}
    first_year = NOW.year - years + 1
    mail_id = 0
    for year in range(first_year, NOW.year + 1):
        archived, archived_mails = {}, {}
        for seq in range(1, per_year + 1):
            is_open = year == NOW.year and seq > per_year - open_cases
            case = synthetic_case(year, seq, closed=not is_open, rng=rng)
            record = {"key": f"mid:{case.documents[0].message_id}", "outcome": "new_case",
                      "number": case.number, "message_id": case.documents[0].message_id,
                      "conversation_id": None, "received": case.created, "at": case.created,
                      "raw": None, "reason": "seed", "sender": case.documents[0].sender,
                      "subject": "seed"}
            mail_id += 1
            if is_open:
                live["cases"][str(case.key)] = case.to_dict()
                live["mails"][str(mail_id)] = record
            else:
                archived[str(case.key)] = _pack(case.to_dict())
                archived_mails[str(mail_id)] = record
        live["diary"][str(year)] = {"year": year, "last": per_year}
        if archived:
            AtomicOrjsonStorage(data / "archive" / f"cases-{year}.json").write({"cases": archived})
            AtomicOrjsonStorage(data / "archive" / f"mails-{year}.json").write({"mails": archived_mails})
    AtomicOrjsonStorage(data / "live.json").write(live)


def _bot(data: Path, clock: FixedClock | None = None):
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=data, org=org, env={})
    return build(settings, clock=clock or FixedClock(NOW), notifiers={"console": FakeNotifier()},
                 command="bench")


def sample_mails(count: int, base_seq: int) -> list[bytes]:
    mails = []
    for i in range(count):
        unit = UNIT_NAMES[i % len(UNIT_NAMES)]
        if i % 4 == 3:   # every fourth mail is a unit's response to an earlier new case
            mails.append(make_mail(sender="Anna Andersson <anna.andersson@exempelby.se>",
                                   subject=f"SV: VOK 2026/{base_seq + i - 2:04d} svar från enheten",
                                   body="Här är enhetens svar på avvikelsen.",
                                   message_id=f"<bench-r-{base_seq}-{i}@exempelby.se>"))
        else:
            mails.append(make_mail(sender=f"Handläggare <h{i}@regionexempel.se>",
                                   subject=f"Avvikelse {i} – fel läkemedel, {unit}",
                                   body=f"Vi rapporterar en avvikelse hos {unit} gällande brukare "
                                        f"19121212-1212. Allvarlighetsgrad: gul.\n" + "Text. " * 150,
                                   message_id=f"<bench-{base_seq}-{i}@regionexempel.se>",
                                   date=NOW - timedelta(hours=1)))
    return mails


# ----------------------------------------------------------------------------- scenarios
def scenario_intake(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        if args.cases:
            seed(data, years=2, per_year=args.cases // 2, open_cases=args.open)
        bot = _bot(data)
        base = (args.cases // 2) if args.cases else 0
        mails = sample_mails(args.mails, base + 1)
        start = time.perf_counter()
        results = bot.services.ingest_many((raw, None, None) for raw in mails)
        elapsed = time.perf_counter() - start
        bot.close()
        outcomes = {r["outcome"] for r in results}
        return {"mails": len(mails), "seconds": elapsed, "per_second": len(mails) / elapsed,
                "outcomes": sorted(outcomes), "rss_mb": peak_rss_mb()}


def scenario_status(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seed(data, years=10, per_year=args.cases // 10, open_cases=300)
        rng = random.Random(2)
        bot = _bot(data)
        bot.close()  # a reader, as `status` beside a running bot
        from bot.app import build as build_reader
        org = load_organisation(CONFIG)
        settings = Settings(config_path=CONFIG, data_dir=data, org=org, env={})
        reader = build_reader(settings, readonly=True, clock=FixedClock(NOW))
        years = list(range(NOW.year - 9, NOW.year + 1))
        timings = []
        for _ in range(args.lookups):
            year, seq = rng.choice(years), rng.randint(1, args.cases // 10)
            start = time.perf_counter()
            case = reader.store.get_case_by_text(f"VOK {year}/{seq}")
            reader.services.status_json(case)
            timings.append((time.perf_counter() - start) * 1000)
        timings.sort()
        cli = []
        # as installed: bytecode cached (this sandbox sets PYTHONDONTWRITEBYTECODE), one warm-up run
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        for attempt in range(6):
            year, seq = rng.choice(years), rng.randint(1, args.cases // 10)
            start = time.perf_counter()
            subprocess.run([str(Path(sys.executable).with_name("avvikelsebot")), "--config",
                            str(CONFIG), "--data", str(data), "status", f"VOK {year}/{seq}"],
                           check=True, capture_output=True, env=env)
            if attempt:
                cli.append(time.perf_counter() - start)
        return {"lookups": len(timings), "p50_ms": timings[len(timings) // 2],
                "p95_ms": timings[int(len(timings) * 0.95)], "cli_median_s": statistics.median(cli),
                "cli_max_s": max(cli), "rss_mb": peak_rss_mb()}


def scenario_run_memory(args) -> dict:
    """The writer process of `run` on a 50k-case data directory, after one mailbox round."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seed(data, years=10, per_year=args.cases // 10, open_cases=500)
        baseline = peak_rss_mb()   # the seeding itself; reported, not counted
        out = subprocess.run([sys.executable, __file__, "--scenario", "run-rss", "--data", str(data)],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        result["seed_rss_mb"] = baseline
        return result


def scenario_run_rss(args) -> dict:
    data = Path(args.data)
    start = time.perf_counter()
    bot = _bot(data)
    bot.mail.deliver(sample_mails(1, 90000)[0])
    bot.poll_mailbox()
    bot.services.deliver_outbox()
    open_cases = len(bot.store.open_cases())
    elapsed = time.perf_counter() - start
    bot.close()
    return {"open_cases": open_cases, "startup_s": elapsed, "rss_mb": peak_rss_mb()}


def scenario_scan(args) -> dict:
    """The reminder scan over 5k open cases: first scan (queues everything overdue) and the
    next one (everything already sent: what every 5-minute scan costs)."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seed(data, years=1, per_year=args.cases, open_cases=args.cases)
        moment = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)   # Wednesday 10:00
        bot = _bot(data, FixedClock(moment))
        start = time.perf_counter()
        first = bot.services.run_reminders(moment)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = bot.services.run_reminders(moment)
        again_s = time.perf_counter() - start
        bot.close()
        return {"open": args.cases, "due": len(first), "first_s": first_s, "again_s": again_s,
                "new_again": sum(1 for r in again if not r["already_sent"]), "rss_mb": peak_rss_mb()}


def _latency_run(bot, deliver, count: int) -> dict:
    """Run the bot's loop; deliver `count` mails one by one, each a random 0–1 s after the
    previous one's notification was delivered (mail arrives independently of what the bot
    is doing); time arrival → in the outbox → delivered to chat."""
    import asyncio
    notifier = bot.notifiers["console"]
    rng = random.Random(7)

    def queued_for(subject: str) -> bool:
        with bot.services.lock:
            return any(subject in (n.get("view") or {}).get("title", "")
                       for n in bot.store.outbox())

    async def main() -> tuple[list[float], list[float]]:
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=0.05, stop=stop))
        await asyncio.sleep(1.5)            # connected and waiting
        in_outbox, delivered = [], []
        for n in range(count):
            subject = f"Avvikelse Hemtjänst Norr – latens {n:03d}"
            raw = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=subject,
                            body="Vi anmäler en avvikelse.")
            before = len(notifier.sent)
            await asyncio.sleep(rng.random())
            await asyncio.to_thread(deliver, raw)
            t0 = time.perf_counter()
            while not await asyncio.to_thread(queued_for, subject):
                await asyncio.sleep(0.005)
            in_outbox.append(time.perf_counter() - t0)
            while len(notifier.sent) == before:
                await asyncio.sleep(0.005)
            delivered.append(time.perf_counter() - t0)
        stop.set()
        await asyncio.wait_for(task, 30)
        return in_outbox, delivered

    in_outbox, delivered = asyncio.run(main())

    def pct(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
    return {"mails": count, "outbox_p50": pct(in_outbox, 50), "outbox_p95": pct(in_outbox, 95),
            "delivered_p50": pct(delivered, 50), "delivered_p95": pct(delivered, 95),
            "delivered_max": max(delivered), "rss_mb": peak_rss_mb()}


def scenario_imap_latency(args) -> dict:
    """Arrival (APPEND done) → notification, with IMAP IDLE on a real Dovecot."""
    from tests.realparts.dovecot import PASSWORD, Dovecot
    dovecot = Dovecot().start()
    data = Path(tempfile.mkdtemp()) / "data"
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=data, org=org, env={
        "MAIL_SOURCE": "imap", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port),
        "IMAP_SECURITY": "none", "IMAP_USER": "registrator", "IMAP_PASSWORD": PASSWORD})
    bot = build(settings, clock=FixedClock(NOW), notifiers={"console": FakeNotifier()})
    try:
        return _latency_run(bot, lambda raw: dovecot.deliver("registrator", raw), args.mails)
    finally:
        bot.close()
        dovecot.cleanup()


def scenario_graph_latency(args) -> dict:
    """Arrival (the message is in the Inbox) → notification, delta polling every second
    against the local Graph stand-in, through the real O365/msal code."""
    from bot.mail.graph import GraphMailSender, GraphMailSource
    from tests.fakes.graph_server import FakeGraphServer
    server = FakeGraphServer().start()
    data = Path(tempfile.mkdtemp()) / "data"
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=data, org=org,
                        env=server.env(GRAPH_POLL_SECONDS="1"))
    source = GraphMailSource.from_settings(settings, verify=server.ca_path)
    bot = build(settings, clock=FixedClock(NOW), notifiers={"console": FakeNotifier()}, mail=source,
                sender=GraphMailSender.from_settings(settings, verify=server.ca_path))
    try:
        return _latency_run(bot, server.add_message, args.mails)
    finally:
        bot.close()
        server.stop()


SCENARIOS = {"scan": scenario_scan, "imap-latency": scenario_imap_latency,
             "graph-latency": scenario_graph_latency, "intake": scenario_intake, "status": scenario_status,
             "run-memory": scenario_run_memory, "run-rss": scenario_run_rss}


def _child(name: str, **options) -> dict:
    argv = [sys.executable, __file__, "--scenario", name]
    for key, value in options.items():
        argv += [f"--{key}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"scenario {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scenario")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cases", type=int, default=0)
    parser.add_argument("--open", type=int, default=0)
    parser.add_argument("--mails", type=int, default=500)
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--data")
    args = parser.parse_args()
    if args.scenario:
        print(json.dumps(SCENARIOS[args.scenario](args)))
        return
    mails = 200 if args.quick else 600
    rows = []
    r = _child("intake", mails=mails)
    rows.append(("intake, empty diary", f"{r['per_second']:.0f} mails/s ({r['mails']} mails, "
                 f"{r['seconds']:.1f} s)", "≥ 100 mails/s", f"{r['rss_mb']:.0f} MB"))
    r = _child("intake", mails=mails, cases=10000, open=500)
    rows.append(("intake, 10k cases in the diary (500 open)", f"{r['per_second']:.0f} mails/s",
                 "≥ 100 mails/s", f"{r['rss_mb']:.0f} MB"))
    r = _child("intake", mails=mails, cases=10000, open=5000)
    rows.append(("intake, 10k cases, 5k of them open", f"{r['per_second']:.0f} mails/s",
                 "≥ 100 mails/s", f"{r['rss_mb']:.0f} MB"))
    r = _child("status", cases=50000, lookups=200 if args.quick else 500)
    rows.append(("status, 50k cases over 10 years, in process",
                 f"p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms", "p95 ≤ 50 ms", f"{r['rss_mb']:.0f} MB"))
    rows.append(("status, 50k cases, CLI (whole command)",
                 f"median {r['cli_median_s']:.2f} s, max {r['cli_max_s']:.2f} s", "≤ 0.5 s", ""))
    r = _child("scan", cases=5000)
    rows.append(("reminder scan, 5k open cases (later scans)", f"{r['again_s']:.2f} s "
                 f"(first scan, queuing {r['due']} items: {r['first_s']:.2f} s)", "≤ 1 s",
                 f"{r['rss_mb']:.0f} MB"))
    r = _child("run-memory", cases=50000)
    rows.append(("run (writer) on 50k cases: start + one mail",
                 f"{r['startup_s']:.2f} s, {r['open_cases']} open", "", f"{r['rss_mb']:.0f} MB (≤ 250 MB)"))
    r = _child("imap-latency", mails=20 if args.quick else 50)
    rows.append((f"arrival → notification, IMAP IDLE on Dovecot ({r['mails']} mails)",
                 f"in outbox p50 {r['outbox_p50']:.2f} s, p95 {r['outbox_p95']:.2f} s; delivered "
                 f"p50 {r['delivered_p50']:.2f} s, p95 {r['delivered_p95']:.2f} s",
                 "p95 ≤ 1.5 s", f"{r['rss_mb']:.0f} MB"))
    r = _child("graph-latency", mails=20 if args.quick else 50)
    rows.append((f"arrival → notification, Graph delta at a 1 s poll ({r['mails']} mails)",
                 f"in outbox p50 {r['outbox_p50']:.2f} s, p95 {r['outbox_p95']:.2f} s; delivered "
                 f"p50 {r['delivered_p50']:.2f} s, p95 {r['delivered_p95']:.2f} s",
                 "≤ poll + 1 s = 2 s", f"{r['rss_mb']:.0f} MB"))
    width = [max(len(str(row[i])) for row in rows + [("figure", "measured", "target", "peak RSS")])
             for i in range(4)]
    header = ("figure", "measured", "target", "peak RSS")
    print(" | ".join(h.ljust(w) for h, w in zip(header, width)))
    print("-+-".join("-" * w for w in width))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, width)))


if __name__ == "__main__":
    main()
