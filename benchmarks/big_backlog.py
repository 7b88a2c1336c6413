"""Memory of `run` with a backlog of large mails (DESIGN §13: ≤ 250 MB RSS, any backlog).

    .venv/bin/python benchmarks/big_backlog.py [--mails 8] [--mb 30]

Eight mails with a 30 MB attachment each wait in the Maildir; the bot (wired as the tests
wire it: embedded store, fixed clock, recording notifier) diarises them through the run
loop's poll_mailbox. The mails are written by a separate process and the bot runs in its
own, so its peak RSS belongs to intake alone. Prints figure, target and the floor (the same
process after imports, before any mail).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TARGET_MB = 250


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(inbox: Path, mails: int, megabytes: int) -> None:
    from email.message import EmailMessage
    from bot.mail.maildir import MaildirMailSource
    source = MaildirMailSource(inbox)
    attachment = os.urandom(megabytes * 1024 * 1024)
    for n in range(mails):
        msg = EmailMessage()
        msg["From"] = "Lisa Larsson <lisa.larsson@regionexempel.se>"
        msg["To"] = "registrator.vok@exempelby.se"
        msg["Subject"] = f"Avvikelse {n} – journalkopior, Hemtjänst Norr"
        msg["Message-ID"] = f"<big-{n}@regionexempel.se>"
        msg["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
        msg.set_content("Avvikelse för Hemtjänst Norr; journalkopior bifogas.")
        msg.add_attachment(attachment, maintype="application", subtype="pdf",
                           filename=f"journal-{n}.pdf")
        source.deliver(bytes(msg), name=f"{n}.big",
                       when=datetime(2026, 11, 16, 8, n, tzinfo=timezone.utc))


def measure(data: Path) -> None:
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings, load_organisation
    from tests.fakes.notifier import FakeNotifier
    config = REPO / "config" / "organisation.example.toml"
    settings = Settings(config_path=config, data_dir=data, org=load_organisation(config), env={})
    bot = build(settings, notifiers={"console": FakeNotifier()},
                clock=FixedClock(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)))
    from bot.mail import parse  # noqa: F401 - imported by intake anyway; part of the floor
    floor = peak_rss_mb()
    results = bot.poll_mailbox()
    bot.close()
    outcomes = sorted({r["outcome"] for r in results})
    print(f"{len(results)}\t{','.join(outcomes)}\t{floor:.0f}\t{peak_rss_mb():.0f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mails", type=int, default=8)
    parser.add_argument("--mb", type=int, default=30)
    parser.add_argument("--generate", type=Path)
    parser.add_argument("--measure", type=Path)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.mails, args.mb)
        return 0
    if args.measure:
        measure(args.measure)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, __file__, "--generate", str(data / "inbox"),
                        "--mails", str(args.mails), "--mb", str(args.mb)], check=True)
        done = subprocess.run([sys.executable, __file__, "--measure", str(data)],
                              capture_output=True, text=True)
        if done.returncode:
            sys.stderr.write(done.stderr[-3000:])
            return 1
        count, outcomes, floor, peak = done.stdout.strip().splitlines()[-1].split("\t")
    ok = int(count) == args.mails and float(peak) <= TARGET_MB
    print(f"{'figure':<46}{'value':>10}{'target':>10}{'floor':>10}")
    print(f"{f'peak RSS, backlog of {args.mails} × {args.mb} MB mails':<46}"
          f"{peak + ' MB':>10}{f'≤ {TARGET_MB} MB':>10}{floor + ' MB':>10}")
    print(f"{'mails diarised (outcomes)':<46}{count:>10}{outcomes:>20}")
    print("OK" if ok else "OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
