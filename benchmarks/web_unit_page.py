"""Benchmark: the web's unit page, paged like the list, on an aged store of 50,000 cases
(issue 24: p95 ≤ 200 ms).

    .venv/bin/python benchmarks/web_unit_page.py                 # 8 aged years, grown to 50,000
    .venv/bin/python benchmarks/web_unit_page.py --years 2 --cases 50000 --requests 100

The store is benchmarks/aged.py's (simulated business days through the product's own API,
cached in benchmarks/.cache), grown with closed cases of the same shape to --cases when it has
fewer. A real `avvikelsebot web` process serves it read-only on 127.0.0.1 (its tokens and read
log in a temporary WEB_STATE_DIR, so the cached store is not touched) and the unit's manager,
signed in, asks for pages one after another. The same-run floor is a static file from the same
server; the list filtered to the same unit is beside it for comparison.
Prints: figure, target, p50 / p95 / max, requests, and the store's size.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import aged  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from tests.web_support import Client, WebProcess  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"


def timed(client: Client, path: str) -> tuple[float, str]:
    started = time.perf_counter()
    page = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    assert page.status == 200, (path, page.status)
    return elapsed, page.body


def count_cases(data: Path) -> tuple[int, int, str]:
    """All cases, the open ones, and the unit with the most open cases (the busiest page)."""
    from collections import Counter
    from bot.store.repository import TinyDbCaseStore
    store = TinyDbCaseStore(data, readonly=True, command="bench")
    try:
        total = sum(1 for _ in store.all_cases())
        open_cases = store.open_cases()
        busiest = Counter(c.unit for c in open_cases if c.unit).most_common(1)
        return total, len(open_cases), busiest[0][0] if busiest else "hemtjanst-norr"
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=8)
    parser.add_argument("--mails-per-day", type=int, default=25)
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--unit", help="default: the unit with the most open cases")
    args = parser.parse_args()
    started = time.perf_counter()
    source, _ = aged.aged_store(args.years, args.mails_per_day)
    total, open_now, busiest = count_cases(source)
    if total < args.cases:
        source = aged.grow(source, args.cases)
        total, open_now, busiest = count_cases(source)
    unit = args.unit or busiest
    print(f"store: {source} ({total:,} cases, {open_now:,} open), ready in "
          f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    org = load_organisation(CONFIG)
    person = org.units[unit].managers[0]               # the unit's manager signs in
    with tempfile.TemporaryDirectory(prefix="web-unit-") as state:
        settings = Settings(config_path=CONFIG, data_dir=source, org=org,
                            env={"WEB_STATE_DIR": state})
        server = WebProcess(source, env={"WEB_STATE_DIR": state}).start(timeout=300)
        try:
            client = Client(server.url)
            link = server.link(settings, person, datetime.now(timezone.utc))
            assert client.sign_in(link).status == 303
            first, body = timed(client, f"/enheter/{unit}")   # reads the diary once
            pages = 1
            if 'rel="next"' in body:
                pages = int(body.split("Sida 1 av ")[1].split("<")[0]) if "Sida 1 av " in body else 2
            rows = body.count("<tr") - 1
            paths = {
                "unit page, page 1": lambda i: f"/enheter/{unit}",
                "unit page, the last page": lambda i: f"/enheter/{unit}?sida={pages}",
                "unit page, each page in turn": lambda i: f"/enheter/{unit}?sida={i % pages + 1}",
                "list, same unit, open": lambda i: f"/arenden?enhet={unit}&status=open",
                "floor: static file": lambda i: "/static/style.css",
            }
            results = {name: sorted(timed(client, path(i))[0] for i in range(args.requests))
                       for name, path in paths.items()}
        finally:
            server.stop()
    print(f"\nweb unit page (as {person}), aged {args.years} years at {args.mails_per_day} mails/day, "
          f"{total:,} cases ({open_now:,} open); unit {unit}: {pages} pages, "
          f"{rows} rows on page 1; {args.requests} requests each, one client\n")
    header = ("figure", "target", "p50 ms", "p95 ms", "max ms")
    print(f"{header[0]:32} {header[1]:>10} {header[2]:>8} {header[3]:>8} {header[4]:>8}")
    for name, samples in results.items():
        p95 = samples[int(0.95 * (len(samples) - 1))]      # nearest rank
        target = "" if name.startswith(("floor", "list")) else "≤ 200 ms"
        print(f"{name:32} {target:>10} {statistics.median(samples):8.1f} {p95:8.1f} "
              f"{samples[-1]:8.1f}")
    print(f"{'first page (reads the diary)':32} {'':>10} {first:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
