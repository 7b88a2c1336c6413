"""Intake time by mail size (issue 22, item 8): one mail with a single-line body of 1, 5 and
30 MB (text/plain 8bit, quoted-printable, base64; text/html), and one with a 30 MB attachment.

    .venv/bin/python benchmarks/intake_sizes.py [--rows plain-1,plain-5,...] [--repeat 1]

Each row: a fresh data directory, the bot wired as the tests wire it (embedded store, fixed
clock, recording console) and warmed by one small mail, then one mail through Services.ingest_many (parse, classify, raw kept
with fsync, case and notifications written durably). Target: ≤ 2 s per 5 MB (scaled to the
row's size). Floor, measured beside it in the same run: the standard library's parser over
the same bytes (email.message_from_bytes, policy.default, the payload decoded) plus writing
the raw bytes to a file with fsync — the least any intake of that mail must do.
"""
from __future__ import annotations

import argparse
import email
import email.policy
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from tests.fakes.notifier import FakeNotifier  # noqa: E402

CONFIG = REPO / "config" / "organisation.example.toml"
MB = 1024 * 1024
TARGET_SECONDS_PER_5MB = 2.0
WORDS = ("vårdtagaren", "föll", "i", "badrummet", "på", "Solgården", "och", "personalen", "larmade",
         "sjuksköterska", "ordinerad", "dos", "missades", "kvällen", "19121212-1212", "avvikelse",
         "enligt", "journalen", "kl.", "21:40", "–", "se", "bifogad", "rapport.")


def text(size: int, seed: int) -> str:
    rng = random.Random(seed)
    out, length = [], 0
    while length < size:
        word = rng.choice(WORDS)
        out.append(word)
        length += len(word.encode()) + 1
    return " ".join(out)


def mail(kind: str, megabytes: int) -> bytes:
    msg = EmailMessage(policy=email.policy.default.clone(max_line_length=0))
    msg["From"] = "Lisa Larsson <lisa.larsson@regionexempel.se>"
    msg["To"] = "registrator.vok@exempelby.se"
    msg["Subject"] = f"Avvikelse – {kind}, {megabytes} MB, Hemtjänst Norr"
    msg["Message-ID"] = f"<size-{kind}-{megabytes}@regionexempel.se>"
    msg["Date"] = "Mon, 16 Nov 2026 09:00:00 +0100"
    size = megabytes * MB
    if kind == "attachment":
        msg = _rewrapped(msg)
        msg.set_content("Avvikelse för Hemtjänst Norr; journalkopior bifogas.")
        msg.add_attachment(random.Random(1).randbytes(size), maintype="application",
                           subtype="pdf", filename="journal.pdf")
        return bytes(msg)
    if kind == "html":
        body = "<html><body><p>" + text(size - 40, megabytes).replace(" och ", " <b>och</b> ") \
            + "</p></body></html>"
        msg.set_content(body, subtype="html", cte="8bit")
    elif kind == "plain":
        msg.set_content(text(size, megabytes), cte="8bit")
    else:      # quoted-printable, base64: the transfer encoding wraps; the text is one line
        msg = _rewrapped(msg)
        msg.set_content(text(size, megabytes), cte=kind)
    return bytes(msg)


def _rewrapped(msg: EmailMessage) -> EmailMessage:
    wrapped = EmailMessage(policy=email.policy.default)
    for name, value in msg.items():
        wrapped[name] = value
    return wrapped


WARM_UP = (b"From: Lisa Larsson <lisa.larsson@regionexempel.se>\r\nTo: registrator.vok@exempelby.se\r\n"
           b"Subject: Avvikelse, Solg=?utf-8?q?=C3=A5rden?=\r\nMessage-ID: <warm-up@regionexempel.se>\r\n"
           b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Avvikelse f\xc3\xb6r Solg\xc3\xa5rden.</p>\r\n")


def floor_seconds(raw: bytes, folder: Path) -> float:
    started = time.perf_counter()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for part in message.walk():
        if not part.is_multipart():
            part.get_payload(decode=True)
    fd = os.open(folder / "floor.eml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, raw)
    os.fsync(fd)
    os.close(fd)
    return time.perf_counter() - started


def intake_seconds(raw: bytes, folder: Path) -> tuple[float, str]:
    org = load_organisation(CONFIG)
    settings = Settings(config_path=CONFIG, data_dir=folder / "data", org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()},
                clock=FixedClock(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)))
    try:
        # a warm process, as `run` is: one small mail first (imports, compiled patterns)
        bot.services.ingest_many([(WARM_UP, None, None)])
        started = time.perf_counter()
        [result] = bot.services.ingest_many([(raw, None, None)])
        seconds = time.perf_counter() - started
        record = bot.store.mail_seen(f"mid:size-{_key(raw)}")
        assert record is not None and bot.store.read_raw(record["raw"]) == raw, "raw not whole"
        return seconds, result["outcome"]
    finally:
        bot.close()


def _key(raw: bytes) -> str:
    start = raw.index(b"<size-") + len(b"<size-")
    return raw[start:raw.index(b">", start)].decode()


ROWS = {"plain-1": ("plain", 1), "plain-5": ("plain", 5), "plain-30": ("plain", 30),
        "html-1": ("html", 1), "html-5": ("html", 5), "html-30": ("html", 30),
        "qp-5": ("quoted-printable", 5), "base64-5": ("base64", 5),
        "attachment-30": ("attachment", 30)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per row; the best is shown")
    args = parser.parse_args()
    header = ("mail (one line unless attachment)", "size", "intake", "target", "floor", "outcome")
    table, over = [], False
    for name in args.rows.split(","):
        kind, megabytes = ROWS[name]
        raw = mail(kind, megabytes)
        runs, floors = [], []
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                floors.append(floor_seconds(raw, Path(tmp)))
                seconds, outcome = intake_seconds(raw, Path(tmp))
                runs.append(seconds)
                floors.append(floor_seconds(raw, Path(tmp)))   # before and after: fsync drifts
        best, floor = min(runs), min(floors)
        target = TARGET_SECONDS_PER_5MB * len(raw) / (5 * MB)
        over |= best > target
        label = {"plain": "text/plain 8bit", "html": "text/html 8bit",
                 "attachment": "30 MB attachment (base64)"}.get(kind, f"text/plain {kind}")
        table.append((label, f"{len(raw) / MB:.1f} MB", f"{best:.2f} s", f"≤ {target:.2f} s",
                      f"{floor:.2f} s", outcome))
        print(f"{name}: {best:.2f} s (floor {floor:.2f} s)", file=sys.stderr, flush=True)
    width = [max(len(str(r[i])) for r in table + [header]) for i in range(len(header))]
    print(" | ".join(h.ljust(w) for h, w in zip(header, width)))
    print("-+-".join("-" * w for w in width))
    for row in table:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, width)))
    print("OK" if not over else "OVER TARGET")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
