"""Latency benchmarks against the DESIGN §13 targets: mail arrival to every recipient's post
at the Slack Web API on 127.0.0.1, over a real Dovecot (IMAP IDLE) and a local Graph, on a
copy of the 8-year aged store (benchmarks/aged.py). Prints a table; not a test.

    .venv/bin/python benchmarks/run.py            # both latency rows, 50 mails each
    .venv/bin/python benchmarks/run.py --quick    # 20 mails each
    .venv/bin/python benchmarks/run.py --data benchmarks/.cache/aged-8y-25-200k

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
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from tests.fakes.mail import make_mail  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from slack_process import SlackInAnotherProcess  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
UNITS = ["hemtjanst-norr", "hemtjanst-soder", "solgarden", "bjorkhagen", "hemsjukvard"]
UNIT_NAMES = ["Hemtjänst Norr", "Hemtjänst Söder", "Solgården", "Björkhagen", "Hemsjukvården"]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- scenarios
def slack_everyone(folder: Path) -> Path:
    """The example organisation with a Slack id for every person and a Slack channel for
    every unit: every notification of a new case is a post to the Slack Web API."""
    text = CONFIG.read_text(encoding="utf-8")
    for person in ("rut", "maria", "sven", "anna", "bengt", "cecilia", "david"):
        text = text.replace(f'id = "{person}"', f'id = "{person}"\nslack = "U0{person.upper()}"', 1)
    for unit in UNITS:
        text = text.replace(f'id = "{unit}"', f'id = "{unit}"\nslack_channel = "C0{unit[:6].upper()}"', 1)
    config = folder / "org-slack.toml"
    config.write_text(text, encoding="utf-8")
    return config


def aged_copy(source: str | None) -> Path:
    """A private copy of the aged store (benchmarks/aged.py makes and caches it), removed
    when this process ends."""
    import atexit
    import shutil
    import aged
    if source:
        origin = Path(source)
    else:
        origin, _ = aged.aged_store(8, 25)
    target = Path(tempfile.mkdtemp(prefix="latency-")) / "data"
    atexit.register(shutil.rmtree, target.parent, True)
    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("diary.lock"))
    return target


def _latency_run(bot, api: SlackInAnotherProcess, deliver, count: int) -> dict:
    """Run the bot's loop as `run` does; deliver `count` new deviations one by one, each a
    random 0–1 s after the previous one's posts were all made (mail arrives independently
    of what the bot is doing); time arrival → each recipient's post at the Slack Web API."""
    import asyncio
    rng = random.Random(7)

    def posts_for(marker: str) -> list[float]:
        return api.received(marker)

    async def main() -> tuple[list[float], list[float], int]:
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=1.0, stop=stop))
        # connected, the morning's scan done and delivered: the office's ordinary day
        warm = f"Avvikelse Hemtjänst Norr – uppvärmning {rng.random()}"
        await asyncio.to_thread(deliver, make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=warm,
            body="Vi anmäler en avvikelse."))
        expected, quiet = 0, 0
        while quiet < 30:                  # the warm-up's posts, then 3 s without a new one
            await asyncio.sleep(0.1)
            now_count = len(posts_for(warm))
            quiet = quiet + 1 if now_count == expected and expected else 0
            expected = now_count
        every, last = [], []
        for n in range(count):
            marker = f"latens {n:03d}"
            raw = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                            subject=f"Avvikelse Hemtjänst Norr – {marker}",
                            body="Vi anmäler en avvikelse.")
            await asyncio.sleep(rng.random())
            await asyncio.to_thread(deliver, raw)
            t0 = time.perf_counter()
            while len(posts_for(marker)) < expected and time.perf_counter() - t0 < 60:
                await asyncio.sleep(0.005)
            received = [at - t0 for at in posts_for(marker)]
            every += received
            last.append(max(received) if len(received) >= expected else float("inf"))
        stop.set()
        await asyncio.wait_for(task, 60)
        return every, last, expected

    every, last, recipients = asyncio.run(main())

    def pct(values, p):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
    return {"mails": count, "recipients": recipients, "posts": len(every),
            "every_p50": pct(every, 50), "every_p95": pct(every, 95),
            "last_p50": pct(last, 50), "last_p95": pct(last, 95), "last_max": max(last),
            "rss_mb": peak_rss_mb()}


def _slack_env(api) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "s" * 32,
            "SLACK_API_URL": api.url, "SLACK_PORT": "0"}


def _office_hours() -> FixedClock:
    """The aged store's last day (its morning scan done), late morning."""
    return FixedClock(datetime(2026, 11, 27, 10, 30, tzinfo=timezone.utc))


def scenario_imap_latency(args) -> dict:
    """Arrival (APPEND done) → every recipient's post, IMAP IDLE on a real Dovecot, the
    Slack Web API on 127.0.0.1, the aged store."""
    from tests.realparts.dovecot import PASSWORD, Dovecot
    data = aged_copy(args.data)
    config = slack_everyone(data.parent)
    dovecot = Dovecot().start()
    with SlackInAnotherProcess({}, anyone={"email": "x@exempelby.se"}) as api:
        settings = Settings(config_path=config, data_dir=data, org=load_organisation(config), env={
            "MAIL_SOURCE": "imap", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port),
            "IMAP_SECURITY": "none", "IMAP_USER": "registrator", "IMAP_PASSWORD": PASSWORD,
            **_slack_env(api)})
        bot = build(settings, clock=_office_hours())
        try:
            return _latency_run(bot, api, lambda raw: dovecot.deliver("registrator", raw),
                                args.mails)
        finally:
            bot.close()
            dovecot.cleanup()


def scenario_graph_latency(args) -> dict:
    """Arrival (the message is in the Inbox) → every recipient's post, delta polling every
    second against the local Graph stand-in through the real O365/msal code, the Slack Web
    API on 127.0.0.1, the aged store."""
    from bot.mail.graph import GraphMailSender, GraphMailSource
    from tests.fakes.graph_server import FakeGraphServer
    data = aged_copy(args.data)
    config = slack_everyone(data.parent)
    server = FakeGraphServer().start()
    with SlackInAnotherProcess({}, anyone={"email": "x@exempelby.se"}) as api:
        settings = Settings(config_path=config, data_dir=data, org=load_organisation(config),
                            env={**server.env(GRAPH_POLL_SECONDS="1"), **_slack_env(api)})
        source = GraphMailSource.from_settings(settings, verify=server.ca_path)
        bot = build(settings, clock=_office_hours(), mail=source,
                    sender=GraphMailSender.from_settings(settings, verify=server.ca_path))
        try:
            return _latency_run(bot, api, server.add_message, args.mails)
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
    options = {"data": args.data} if args.data else {}
    r = _child("imap-latency", mails=20 if args.quick else 50, **options)
    rows.append((f"arrival → every recipient's Slack post, IMAP IDLE on Dovecot, aged store "
                 f"({r['mails']} mails × {r['recipients']} posts)",
                 f"each post p50 {r['every_p50']:.2f} s, p95 {r['every_p95']:.2f} s; last post "
                 f"p50 {r['last_p50']:.2f} s, p95 {r['last_p95']:.2f} s, max {r['last_max']:.2f} s",
                 "p95 ≤ 1.5 s", f"{r['rss_mb']:.0f} MB"))
    r = _child("graph-latency", mails=20 if args.quick else 50, **options)
    rows.append((f"arrival → every recipient's Slack post, Graph delta at a 1 s poll, aged store "
                 f"({r['mails']} mails × {r['recipients']} posts)",
                 f"each post p50 {r['every_p50']:.2f} s, p95 {r['every_p95']:.2f} s; last post "
                 f"p50 {r['last_p50']:.2f} s, p95 {r['last_p95']:.2f} s, max {r['last_max']:.2f} s",
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
