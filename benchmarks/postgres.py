"""Both backends side by side (issue 17): intake mails/s and `status` p95 with N cases in
the diary, and two instances sharing the intake on PostgreSQL.

    .venv/bin/python benchmarks/postgres.py [--cases 10000] [--mails 200]

PostgreSQL is started from a temporary directory (Debian's postgresql package, as the tests
do) with fsync ON, so a commit costs what it costs in production on this disk.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.domain.access import Actor  # noqa: E402
from bot.domain.case import Case, iso  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from bot.usecases.uow import UnitOfWork  # noqa: E402
from tests.fakes.mail import FakeMailSender, make_mail  # noqa: E402
from tests.fakes.notifier import FakeNotifier  # noqa: E402
from tests.realparts.postgres import Postgres  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


def _bot(data: Path, env: dict):
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=data, org=org, env=env)
    return build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(NOW),
                 sender=FakeMailSender(), command="bench")


def _seed(bot, cases: int) -> None:
    store = bot.store
    with UnitOfWork(store):
        for i in range(cases):
            number = store.next_number(2026)
            store.put_case(Case(number=number.format(4), key=number.key, kind="incoming",
                                title=f"Äldre ärende {i}", unit="hemtjanst-norr",
                                status="closed" if i % 3 else "diarised", created=iso(NOW),
                                message_ids=[f"seed{i}@x"]))
            store.record_mail({"key": f"mid:seed{i}@x", "outcome": "new_case",
                               "number": number.format(4), "message_id": f"seed{i}@x",
                               "conversation_id": None, "at": iso(NOW), "content_hash": str(i)})
    store.housekeep(NOW)


def _mail(tag: str, n: int) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse Hemtjänst Norr – {tag} {n}",
                     message_id=f"<{tag}-{n}@regionexempel.se>", body=f"Hej,\nhändelse {n}.\nMvh Lisa")


def _intake(bot, tag: str, mails: int) -> float:
    started = time.perf_counter()
    for n in range(mails):
        assert bot.services.ingest_mail(_mail(tag, n))["outcome"] == "new_case"
    return mails / (time.perf_counter() - started)


def _status_p95(bot, cases: int, samples: int = 300) -> float:
    rng = random.Random(7)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        reply = bot.services.handle_command(Actor.person("anna"),
                                            f"status VOK 2026/{rng.randrange(1, cases)}", "cli")
        times.append(time.perf_counter() - started)
        assert reply.ok, reply.text
    return statistics.quantiles(times, n=20)[18] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--mails", type=int, default=200)
    args = parser.parse_args()
    server = Postgres(durable=True).start()
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, env in (("tinydb", {}), ("postgresql", {"DATABASE_URL": server.new_database()})):
                bot = _bot(Path(tmp) / name, env)
                _seed(bot, args.cases)
                rate = _intake(bot, "one", args.mails)
                p95 = _status_p95(bot, args.cases)
                rows.append((name, rate, p95))
                bot.close()
            url = server.new_database()
            bots = [_bot(Path(tmp) / f"pg2-{i}", {"DATABASE_URL": url}) for i in range(2)]
            _seed(bots[0], args.cases)
            rates: list[float] = []
            threads = [threading.Thread(target=lambda b=b, i=i: rates.append(
                _intake(b, f"two{i}", args.mails // 2))) for i, b in enumerate(bots)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            together = args.mails / (time.perf_counter() - started)
            numbers = sorted(c.key % 1_000_000 for c in bots[0].store.all_cases(2026))
            assert numbers == list(range(1, args.cases + args.mails + 1)), "numbers not gapless"
            for bot in bots:
                bot.close()
    finally:
        server.stop()
    print(f"{args.cases} cases in the diary, {args.mails} mails, fsync on")
    print(f"{'backend':<12} {'intake mails/s':>15} {'status p95 ms':>14}")
    for name, rate, p95 in rows:
        print(f"{name:<12} {rate:>15.1f} {p95:>14.1f}")
    print(f"two instances on one PostgreSQL: {together:.1f} mails/s together, numbers gapless")


if __name__ == "__main__":
    main()
