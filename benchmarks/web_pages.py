"""Benchmark: the web overview's pages on a diary of 50,000 cases (DESIGN §13: p95 ≤ 200 ms).

    .venv/bin/python benchmarks/web_pages.py            # 50,000 cases
    .venv/bin/python benchmarks/web_pages.py --cases 5000

The diary is made through the product's own API: cases opened by bot.domain.process.open_case
(most of them closed later, as people close them), written with store.put_case and commit().
Then a real `avvikelsebot web` process serves it on 127.0.0.1 and a signed-in client asks
for pages one after another. The same-run floor is a static file from the same server.
Prints: figure, target, measured (p50 / p95 / max), requests.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.domain.access import Actor  # noqa: E402
from bot.domain.case import CH_MAIL, DOC_DEVIATION, INCOMING, OUTGOING, Document, iso  # noqa: E402
from bot.domain.diary import DiaryNumber  # noqa: E402
from bot.domain.process import Context, open_case  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from tests.fakes.notifier import FakeNotifier  # noqa: E402
from tests.web_support import Client, WebProcess  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
UNITS = ["hemtjanst-norr", "hemtjanst-soder", "solgarden", "bjorkhagen", "hemsjukvard", None]
COUNTERPARTS = ["region-exempel", "sjukhuset", "folktandvarden", "vardcentralen", "apoteket"]
NOW = datetime(2026, 11, 18, 9, 0, tzinfo=timezone.utc)


def make_diary(data: Path, count: int) -> Settings:
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(NOW))
    rng = random.Random(15)
    years = list(range(2019, 2027))
    per_year = count // len(years)
    made = 0
    for year in years:
        for seq in range(1, per_year + 1):
            arrived = datetime(year, 1, 2, 8, tzinfo=timezone.utc) + timedelta(
                minutes=seq * (360 * 24 * 60 // per_year))
            if arrived > NOW:
                arrived = NOW - timedelta(hours=rng.randint(1, 2000))
            number = DiaryNumber(year, seq)
            document = Document(no=1, type=DOC_DEVIATION, received=iso(arrived),
                                sender="avvikelse@regionexempel.se",
                                subject=f"Avvikelse {seq} ref RX-{year}-{seq:05d}",
                                message_id=f"<{year}-{seq}@bench>")
            ctx = Context(org=org, actor=Actor.mail("avvikelse@regionexempel.se"), channel=CH_MAIL,
                          now=arrived)
            case = open_case(number=number.format(4), key=number.key,
                             kind=INCOMING if rng.random() < 0.7 else OUTGOING,
                             title=f"Läkemedel gavs vid fel tid ({seq})", document=document,
                             unit=rng.choice(UNITS), counterpart=rng.choice(COUNTERPARTS),
                             severity=rng.choice(["red", "yellow", "green", None]),
                             conversation_id=None, ctx=ctx).case
            # people close most cases within weeks; this year's last months stay open
            if arrived < NOW - timedelta(days=60) and rng.random() < 0.97:
                closed = arrived + timedelta(days=rng.randint(3, 40))
                case.status = "closed"
                case.status_since["closed"] = iso(closed)
            bot.store.put_case(case)
            made += 1
        bot.store.commit()
    bot.close()
    print(f"diary: {made} cases in {data}", file=sys.stderr)
    return settings


def timed(client: Client, path: str) -> float:
    started = time.perf_counter()
    page = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert page.status == 200, (path, page.status)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        data = Path(tmp) / "data"
        started = time.perf_counter()
        settings = make_diary(data, args.cases)
        print(f"made in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        server = WebProcess(data).start(timeout=120)
        try:
            client = Client(server.url)
            assert client.sign_in(server.link(settings, "rut")).status == 303
            started = time.perf_counter()
            timed(client, "/arenden")                      # the first page reads the diary
            first = (time.perf_counter() - started) * 1000
            rng = random.Random(1)
            per_year = args.cases // 8
            pages = {
                "list, page 1": lambda: "/arenden",
                "list, a deep page": lambda: f"/arenden?sida={rng.randint(2, args.cases // 60)}",
                "list, unit + overdue": lambda: "/arenden?enhet=hemtjanst-norr&forsenade=1",
                "list, search": lambda: f"/arenden?sok=RX-2024-{rng.randint(1, per_year):05d}",
                "case page": lambda: f"/arenden/{rng.randint(2019, 2026)}/{rng.randint(1, per_year)}",
                "unit page": lambda: "/enheter/solgarden",
                "floor: static file": lambda: "/static/style.css",
            }
            timed(client, "/rapport")                      # the report is kept once made
            pages["report page (kept)"] = lambda: "/rapport"
            results = {}
            for name, path in pages.items():
                samples = sorted(timed(client, path()) for _ in range(args.requests))
                results[name] = samples
        finally:
            server.stop()
    print(f"\nweb pages, {args.cases:,} cases, {args.requests} requests each, one client\n")
    print(f"{'figure':34} {'target':>10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, samples in results.items():
        p95 = samples[int(0.95 * (len(samples) - 1))]
        target = "" if name.startswith("floor") else "≤ 200 ms"
        print(f"{name:34} {target:>10} {statistics.median(samples):8.1f} {p95:8.1f} "
              f"{samples[-1]:8.1f}")
    print(f"{'first page (reads the diary)':34} {'':>10} {first:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
