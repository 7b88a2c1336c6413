"""Latency benchmarks against the DESIGN §13 targets: mail arrival to notification over a
real Dovecot (IMAP IDLE) and a local Graph. Prints a table; not a test.

    .venv/bin/python benchmarks/run.py            # both latency rows
    .venv/bin/python benchmarks/run.py --quick    # smaller samples

The store figures (intake with delivery, status, fan-out, disk, RSS) are measured on a store
aged through the product's API: benchmarks/aged.py.

Each scenario runs in its own process so that peak RSS belongs to it alone.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from tests.fakes.mail import make_mail  # noqa: E402
from tests.fakes.notifier import FakeNotifier  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
UNITS = ["hemtjanst-norr", "hemtjanst-soder", "solgarden", "bjorkhagen", "hemsjukvard"]
UNIT_NAMES = ["Hemtjänst Norr", "Hemtjänst Söder", "Solgården", "Björkhagen", "Hemsjukvården"]
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


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


SCENARIOS = {"imap-latency": scenario_imap_latency, "graph-latency": scenario_graph_latency}


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
    rows = []
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
