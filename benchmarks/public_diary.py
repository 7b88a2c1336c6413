"""The public diary of a year (issue 25): `diarium --offentlig` over a year of 6,000 documents.

    .venv/bin/python benchmarks/public_diary.py [--documents 6000] [--store tinydb]

A data directory is filled through the store's API with a year of closed and open cases (three
documents each: the deviation, the unit's answer, the answer sent on), spread over the year,
some documents marked public, the rest secret by the default; closed cases are moved to the
archive as housekeeping does. Then the installed command runs as an administrator would
(`avvikelsebot diarium --offentlig --från … --till … --csv`), a fresh process each time.
Target: ≤ 1 s. Floor, measured beside it in the same run: a process that starts Python, opens
the same diary read-only and reads every case of the year (what any listing must do).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.domain.case import Case, Document, iso  # noqa: E402
from bot.store.repository import TinyDbCaseStore  # noqa: E402
from bot.usecases.uow import UnitOfWork  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
TARGET_SECONDS = 1.0
YEAR = 2026
FLOOR = """
import sys
from pathlib import Path
from bot.store.repository import TinyDbCaseStore
store = TinyDbCaseStore(Path(sys.argv[1]), readonly=True)
print(sum(len(c.documents) for c in store.all_cases() if c.year <= 2026))
"""


def fill(data: Path, documents: int) -> None:
    store = TinyDbCaseStore(data)
    start = datetime(YEAR, 1, 2, 8, tzinfo=timezone.utc)
    cases = documents // 3
    step = timedelta(days=360) / cases
    try:
        for n in range(cases):
            number = store.next_number(YEAR)
            at = start + n * step
            docs = [Document(1, "deviation", iso(at), "lisa@regionexempel.se",
                             f"Avvikelse {n} 19121212-1212 Greta Gustavsson", f"<b{n}@r.se>",
                             raw=None),
                    Document(2, "response", iso(at + timedelta(days=3)),
                             "anna.andersson@exempelby.se", f"SV: svar {n}", f"<s{n}@e.se>",
                             secrecy={"paragraph": None, "by": "rut", "at": iso(at)}
                             if n % 4 == 0 else None),
                    Document(3, "sent", iso(at + timedelta(days=4)), "registrator.vok@exempelby.se",
                             f"VB: svar {n}", f"<v{n}@e.se>")]
            closed = n % 5 != 0
            case = Case(number=number.format(4), key=number.key, kind="incoming",
                        title=f"Avvikelse {n} Greta Gustavsson", status="closed" if closed
                        else "response_sent", created=iso(at), unit="hemtjanst-norr",
                        counterpart="region-exempel", documents=docs,
                        status_since={"closed": iso(at + timedelta(days=9))} if closed else {})
            with UnitOfWork(store):
                store.put_case(case)
            if n % 500 == 499:
                with UnitOfWork(store):
                    store.housekeep(at + timedelta(days=10))
        with UnitOfWork(store):
            store.housekeep(start + timedelta(days=400))
    finally:
        store.close()


def timed(argv: list[str], repeat: int) -> tuple[float, str]:
    seconds, out = [], ""
    for _ in range(repeat):
        began = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO)
        seconds.append(time.perf_counter() - began)
        if done.returncode != 0:
            raise SystemExit(f"{argv[:4]} failed: {done.stderr}")
        out = done.stdout
    return statistics.median(seconds), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=6000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        began = time.perf_counter()
        fill(data, args.documents)
        filled = time.perf_counter() - began
        cli = [sys.executable, "-m", "bot.cli", "--config", str(CONFIG), "--data", str(data),
               "diarium", "--offentlig", "--från", f"{YEAR}-01-01", "--till", f"{YEAR}-12-31",
               "--csv"]
        product, out = timed(cli, args.repeat)
        floor, counted = timed([sys.executable, "-c", FLOOR, str(data)], args.repeat)
        rows = len(out.splitlines()) - 1
    print(f"store: {args.documents} documents of {YEAR} filled in {filled:.1f} s; "
          f"the floor read {counted.strip()} documents; the diary listed {rows}")
    print(f"{'figure':<44} {'measured':>10} {'target':>10} {'floor':>10}")
    print(f"{'diarium --offentlig --csv, a year (median)':<44} {product:>9.2f}s "
          f"{'≤ ' + format(TARGET_SECONDS, '.1f') + ' s':>10} {floor:>9.2f}s")


if __name__ == "__main__":
    main()
