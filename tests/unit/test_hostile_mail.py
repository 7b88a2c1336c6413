"""Every mail gets an outcome, whatever it holds (issue 12, item 3; DESIGN §4).

Property-style: seeded random mutations of the public corpus (truncation, flipped bytes,
duplicated headers, broken MIME boundaries, huge headers, bad charsets, NUL bytes,
impossible dates) through parse_mail and classify, which must never raise; a sample also
through the wired bot, which must give each one exactly one outcome. Plus the arrival
time rules and the reused Message-ID rule.
"""
from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta, timezone

import pytest

from bot.mail.arrival import arrival_time
from bot.mail.classify import OUTCOMES, CaseRef, classify
from bot.mail.parse import parse_mail
from tests.fakes.lookup import FakeCaseLookup
from tests.fakes.mail import make_mail

SEED = 20261129
NOW = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)
IMPOSSIBLE_DATES = [b"Fri, 31 Dec 9999 23:59:59 -0500", b"Sat, 01 Jan 0000 00:00:00 +0000",
                    b"Mon, 32 Foo 2026 25:61:61 +9999", b"Tue, 1 Jan 99999999999 00:00 +0000",
                    b"\xff\xfe\x00garbage", b"Thu, 01 Jan 1970 00:00:00 +0000",
                    b"Wed, 18 Nov 2099 10:00:00 +0100", b"-1", b""]


def corpus_mails(corpora) -> list[bytes]:
    paths = sorted(p for p in (corpora / "email").rglob("*")
                   if p.is_file() and p.suffix not in (".md", ".tsv", ".json"))
    return [p.read_bytes() for p in paths]


def _header_end(raw: bytes) -> int:
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            return i
    return len(raw)


def mutate(raw: bytes, rng: random.Random) -> bytes:
    """One to three mutations of the kinds hostile or broken mail shows."""
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(["truncate", "flip", "dup-headers", "boundary", "huge-header",
                           "charset", "nul", "date", "received", "auth"])
        end = _header_end(raw)
        if kind == "truncate" and raw:
            raw = raw[:rng.randrange(len(raw))]
        elif kind == "flip" and raw:
            data = bytearray(raw)
            for _ in range(rng.randint(1, 40)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            raw = bytes(data)
        elif kind == "dup-headers":
            head = raw[:end]
            raw = head + b"\n" + head + raw[end:]
        elif kind == "boundary":
            raw = raw.replace(b"boundary=", b"boundary=x", 1).replace(b"--", b"-", rng.randint(1, 5))
        elif kind == "huge-header":
            name = rng.choice([b"Subject", b"From", b"References", b"Authentication-Results",
                               b"Received", b"X-Junk"])
            raw = name + b": " + b"a=b; " * rng.randint(20_000, 60_000) + b"\n" + raw
        elif kind == "charset":
            raw = raw.replace(b"charset=", rng.choice([b"charset=x-unknown-42 ", b"charset=utf-7 ",
                                                       b'charset="\xff\xfe" ', b"charset=; "]), 2)
        elif kind == "nul":
            i = rng.randrange(len(raw) + 1)
            raw = raw[:i] + b"\x00" * rng.randint(1, 64) + raw[i:]
        elif kind == "date":
            raw = b"Date: " + rng.choice(IMPOSSIBLE_DATES) + b"\n" + raw
        elif kind == "received":
            raw = b"Received: from x by y; " + rng.choice(IMPOSSIBLE_DATES) + b"\n" + raw
        elif kind == "auth":
            raw = (b"Authentication-Results: " + rng.choice(
                [b"mx.exempelby.se; dmarc=fail header.from=" + bytes(rng.randrange(256) for _ in range(9)),
                 b"spf=pass ((((; dmarc=", b";;;;", b"mx.exempelby.se; dmarc=pass (\"\\"]) + b"\n" + raw)
    return raw


@pytest.fixture(scope="module")
def hostile(corpora) -> list[bytes]:
    rng = random.Random(SEED)
    mails = corpus_mails(corpora)
    return [mutate(rng.choice(mails), rng) for _ in range(300)]


def test_parse_and_classify_never_raise_on_mutated_corpus_mail(hostile, org):
    trusting = dataclasses.replace(org, trusted_authserv_ids=("exchange-online", "mx.exempelby.se"))
    lookup = FakeCaseLookup([CaseRef("VOK 2026/0001", "incoming", "hemtjanst-norr", "region-exempel")])
    outcomes = set()
    for raw in hostile:
        mail = parse_mail(raw, trusted_authserv_ids=trusting.trusted_authserv_ids)
        assert mail.verdict is not None
        for moment in (mail.date, mail.received):
            assert moment is None or moment.utcoffset() == timedelta(0)
        decision = classify(mail, trusting, lookup)
        assert decision.outcome in OUTCOMES
        assert arrival_time(mail, None, NOW) <= NOW + timedelta(days=1)
        outcomes.add(decision.outcome)
        lookup.record(mail.duplicate_key, mail.fingerprint)
    assert {"triage", "ignored"} <= outcomes


def test_each_hostile_mail_gets_exactly_one_outcome_through_the_bot(hostile, bot):
    sample = hostile[:60]
    results = bot.services.ingest_many((raw, None, None) for raw in sample)
    assert len(results) == len(sample)
    assert all(r["outcome"] in OUTCOMES for r in results)
    for case in bot.store.all_cases():
        year = int(case.number.split()[1].split("/")[0])
        assert 2000 <= year <= NOW.year, f"{case.number}: diary year from a sender's clock"


@pytest.mark.parametrize("date", IMPOSSIBLE_DATES)
def test_impossible_dates_give_a_case_in_the_arrival_year(bot, date):
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="Avvikelse insulin",
                    body="Avvikelse för Hemtjänst Norr.")
    raw = raw.replace(b"Date: ", b"Received: from mx1 by mx.exempelby.se; " + date + b"\nDate: "
                      + date + b"\nX-Old-Date: ", 1)
    result = bot.services.ingest_mail(raw)
    assert (result["outcome"], result["diary_number"]) == ("new_case", "VOK 2026/0001")
    case = bot.store.get_case_by_text("VOK 2026/0001")
    received = datetime.fromisoformat(case.documents[0].received)
    assert received.year == 2026


# ----------------------------------------------------------------------------- arrival time
def _mail(date: str | None = None, received: str | None = None):
    raw = b""
    if received:
        raw += f"Received: from a by b; {received}\n".encode()
    if date:
        raw += f"Date: {date}\n".encode()
    return parse_mail(raw + b"From: a@b.se\n\nx\n")


def test_the_mailbox_time_wins_over_the_senders_clock():
    mailbox = datetime(2026, 11, 16, 7, 0, tzinfo=timezone.utc)
    mail = _mail("Wed, 18 Nov 2099 10:00:00 +0100", "Mon, 16 Nov 2026 07:59:00 +0100")
    assert arrival_time(mail, mailbox, NOW) == mailbox


def test_a_file_uses_received_then_a_plausible_date_then_now():
    assert arrival_time(_mail("Sun, 15 Nov 2026 10:00:00 +0100", "Sun, 15 Nov 2026 10:05:00 +0100"),
                        None, NOW) == datetime(2026, 11, 15, 9, 5, tzinfo=timezone.utc)
    assert arrival_time(_mail("Sun, 15 Nov 2026 10:00:00 +0100", "Fri, 31 Dec 9999 23:59:59 -0500"),
                        None, NOW) == datetime(2026, 11, 15, 9, 0, tzinfo=timezone.utc)
    assert arrival_time(_mail("Wed, 18 Nov 2099 10:00:00 +0100"), None, NOW) == NOW
    assert arrival_time(_mail("Fri, 31 Dec 1999 23:00:00 +0000"), None, NOW) == NOW
    # a day of clock skew is tolerated
    assert arrival_time(_mail("Mon, 16 Nov 2026 20:00:00 +0000"), None, NOW) == \
        datetime(2026, 11, 16, 20, 0, tzinfo=timezone.utc)


def test_an_implausible_mailbox_time_gives_now_not_the_senders_date():
    mail = _mail("Sun, 15 Nov 2026 10:00:00 +0100")
    assert arrival_time(mail, datetime(2099, 1, 1, tzinfo=timezone.utc), NOW) == NOW


# ----------------------------------------------------------------------------- reused Message-ID
def _reused(body: str) -> bytes:
    return make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="Avvikelse",
                     body=body, message_id="<same-id@regionexempel.se>")


def test_reused_message_id_with_other_content_goes_to_triage(org):
    lookup = FakeCaseLookup()
    first = parse_mail(_reused("Första mejlet."))
    lookup.record(first.duplicate_key, first.fingerprint)

    again = classify(parse_mail(_reused("Första mejlet.")), org, lookup)
    assert again.outcome == "duplicate"

    other = parse_mail(_reused("Ett helt annat mejl."))
    decision = classify(other, org, lookup)
    assert (decision.outcome, decision.reason) == (
        "triage", "samma Message-ID som ett tidigare mejl men annat innehåll")
    assert decision.record_key == f"sha:{other.content_hash}"

    lookup.record(decision.record_key, other.fingerprint)      # the store kept it
    redelivered = classify(other, org, lookup)
    assert redelivered.outcome == "duplicate"


def test_without_a_stored_hash_a_reused_message_id_stays_a_duplicate(org):
    lookup = FakeCaseLookup()
    first = parse_mail(_reused("Första mejlet."))
    lookup.record(first.duplicate_key, None)          # a record from before content_hash
    assert classify(parse_mail(_reused("Annat.")), org, lookup).outcome == "duplicate"


def test_a_large_attachment_keeps_its_name_size_and_the_body_text():
    """Long base64 runs are elided before the stdlib parser sees them (memory ~9x a mail)."""
    import os
    from email.message import EmailMessage
    msg = EmailMessage()
    msg["From"] = "Lisa <lisa.larsson@regionexempel.se>"
    msg["Subject"] = "Avvikelse med journalkopior"
    msg.set_content("Avvikelse för Hemtjänst Norr, se bilagan.")
    payload = os.urandom(6 * 1024 * 1024)
    msg.add_attachment(payload, maintype="application", subtype="pdf", filename="journal.pdf")
    mail = parse_mail(bytes(msg))
    assert mail.text == "Avvikelse för Hemtjänst Norr, se bilagan."
    [attachment] = mail.attachments
    assert attachment.filename == "journal.pdf"
    assert abs(attachment.size - len(payload)) < 100
    assert "large-parts-elided" in mail.defects
