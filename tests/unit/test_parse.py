"""Tests for bot.mail.parse (raw bytes -> InboundMail) and bot.mail.forward (inline forwards).

Three sources:
- the shared e-mail corpus outside the repository, /work/shared/corpora/email (see INDEX.tsv and
  the SOURCES.md files there): every `rfc822` file must parse without an exception, and the
  forward-parsing / reply-quote-stripping fixtures exercise find_inline_forward();
- hand-written .eml fixtures in tests/fixtures/parse/ (Swedish content, exempelby.se is the
  municipality, regionexempel.se the region);
- small inline byte strings for the odd cases.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from bot.mail.forward import InlineForward, find_inline_forward
from bot.mail.message import Attachment, InboundMail
from bot.domain.address import canonical
from bot.mail.parse import html_to_text, parse_mail

CORPORA = Path(__file__).resolve().parents[3] / "shared" / "corpora"
EMAIL = CORPORA / "email"
FORWARDS = EMAIL / "forward-parsing" / "crisp-email-forward-parser"
REPLIES = EMAIL / "reply-quote-stripping"
FIXTURES = _REPO / "tests" / "fixtures" / "parse"

CET = timezone(timedelta(hours=1))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str) -> InboundMail:
    return parse_mail(fixture(name))


def _all_strings(mail: InboundMail):
    for f in dataclasses.fields(mail):
        value = getattr(mail, f.name)
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield k
                yield v
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, str):
                    yield item
                elif isinstance(item, InboundMail):
                    yield from _all_strings(item)
                elif isinstance(item, Attachment):
                    yield item.filename
                    yield item.content_type


def _check_invariants(mail: InboundMail, raw: bytes) -> list[str]:
    """Things every parse result must satisfy, whatever the input."""
    problems = []
    if not isinstance(mail, InboundMail):
        return [f"not an InboundMail: {type(mail)!r}"]
    if mail.content_hash != hashlib.sha256(raw).hexdigest():
        problems.append("content_hash is not sha256(raw)")
    if "\r" in mail.text:
        problems.append("CR left in text")
    for d in (mail.date, mail.received):
        if d is not None and d.tzinfo is None:
            problems.append("naive datetime")
    for s in _all_strings(mail):
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"unencodable string (lone surrogate): {s[:60]!r}")
            break
    if not all(isinstance(d, str) for d in mail.defects):
        problems.append("defects must be strings")
    # the one canonical form (bot.domain.address): ASCII lower-cased, nothing else folded
    # (str.lower() would turn the Kelvin sign into k: a look-alike into the real address)
    if mail.sender_address != canonical(mail.sender_address):
        problems.append("sender_address not canonical")
    return problems


# --------------------------------------------------------------------------- the corpus


def _corpus_rfc822() -> list[str]:
    index = EMAIL / "INDEX.tsv"
    assert index.is_file(), f"e-mail corpus missing: {index} (expected /work/shared/corpora/email)"
    rows = [line.split("\t") for line in index.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
    return [row[0] for row in rows if len(row) > 1 and row[1] == "rfc822"]


def test_every_corpus_rfc822_mail_parses():
    paths = _corpus_rfc822()
    assert len(paths) > 1000, "INDEX.tsv lists far fewer rfc822 files than expected"
    failures: list[str] = []
    started = time.perf_counter()
    for rel in paths:
        raw = (CORPORA / rel).read_bytes()
        try:
            mail = parse_mail(raw)
        except Exception as exc:  # noqa: BLE001 - the point of the test
            failures.append(f"{rel}: raised {exc!r}")
            continue
        failures.extend(f"{rel}: {p}" for p in _check_invariants(mail, raw))
    elapsed = time.perf_counter() - started
    print(f"parsed {len(paths)} corpus mails in {elapsed:.1f}s")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:50])
    assert elapsed < 60, f"corpus parse took {elapsed:.1f}s"


def test_mutated_and_truncated_corpus_mails_never_raise():
    rng = random.Random(20261103)
    paths = _corpus_rfc822()
    sample = [(CORPORA / p).read_bytes() for p in rng.sample(paths, 40)]
    sample += [p.read_bytes() for p in sorted(FIXTURES.glob("*.eml"))]
    failures = []
    for raw in sample:
        variants = [raw[: rng.randrange(len(raw) + 1)] for _ in range(3)]
        for _ in range(3):
            b = bytearray(raw)
            for _ in range(max(1, len(b) // 50)):
                if b:
                    b[rng.randrange(len(b))] = rng.randrange(256)
            variants.append(bytes(b))
        variants.append(raw.replace(b"\n", b"\r"))
        variants.append(raw.replace(b"=", b"=\xff"))
        for v in variants:
            try:
                problems = _check_invariants(parse_mail(v), v)
            except Exception as exc:  # noqa: BLE001
                problems = [repr(exc)]
            failures.extend(problems)
    assert not failures, failures[:20]


# --------------------------------------------------------------------------- charsets and encodings


def test_iso_8859_1_quoted_printable_body_keeps_swedish_letters():
    m = parse_fixture("latin1_qp.eml")
    assert "Vi vill anmäla en avvikelse för brukare på Äldreboendet Björkängen." in m.text
    assert "Åsa Öberg\nSjuksköterska, Hemtjänst Norr" in m.text
    assert m.sender_name == "Åsa Öberg"
    assert m.sender_address == "asa.oberg@exempelby.se"  # lower-cased
    assert m.subject == "Avvikelse läkemedel Hemtjanst Norr"
    assert m.to == ("avvikelser.vok@exempelby.se", "lisa.larsson@regionexempel.se", "registrator@exempelby.se")
    assert m.message_id == "20261103091400.4711@mail.exempelby.se"
    assert m.duplicate_key == "mid:20261103091400.4711@mail.exempelby.se"
    assert m.date == datetime(2026, 11, 3, 9, 14, tzinfo=CET)
    assert m.content_type == "text/plain"
    assert m.defects == ()


def test_windows_1252_mislabelled_as_iso_8859_1():
    raw = fixture("cp1252_as_latin1.eml")
    assert b"\x96" in raw
    m = parse_mail(raw)
    assert m.text.startswith("Avvikelse – fallolycka i badrummet.")
    assert "blåmärke på höger arm" in m.text
    assert "Åtgärd: larm kopplat till säng, anhörig underrättad." in m.text
    assert "\x96" not in m.text
    assert any("windows-1252" in d for d in m.defects)


def test_utf8_mislabelled_as_us_ascii_and_unknown_charset():
    body = "Brukaren är oskadd, anhörig informerad.".encode()
    for charset in ("us-ascii", "x-unknown", "iso-8859-1", "unknown-8bit"):
        raw = (b"From: a@exempelby.se\nSubject: t\nContent-Type: text/plain; charset=" + charset.encode()
               + b"\nContent-Transfer-Encoding: 8bit\n\n" + body)
        assert parse_mail(raw).text == "Brukaren är oskadd, anhörig informerad.", charset


def test_latin1_8bit_body_without_charset():
    raw = b"From: a@exempelby.se\nSubject: t\n\n" + "Hälsningar från Åsa".encode("latin-1")
    assert parse_mail(raw).text == "Hälsningar från Åsa"


def test_rfc2047_iso_8859_1_q_subject():
    m = parse_fixture("subject_latin1_q.eml")
    assert m.subject == "Avvikelse för brukare"
    assert m.headers["subject"] == "Avvikelse för brukare"


def test_rfc2047_utf8_base64_subject_and_body():
    m = parse_fixture("subject_utf8_b64.eml")
    assert m.subject == "Avvikelse – fall i badrummet, Äldreboendet Björkängen"
    assert m.sender_name == "Björn Åström"
    assert m.text == "Brukaren föll i badrummet på natten. Personalen larmade sjuksköterska."


def test_raw_8bit_utf8_and_latin1_headers():
    for enc in ("utf-8", "latin-1"):
        raw = ("From: Åsa Öberg <asa@exempelby.se>\nSubject: Avvikelse för brukare\n\nx").encode(enc)
        m = parse_mail(raw)
        assert m.subject == "Avvikelse för brukare", enc
        assert m.sender_name == "Åsa Öberg", enc
        assert m.sender_address == "asa@exempelby.se"


# --------------------------------------------------------------------------- structure


def test_html_only_mail_is_turned_into_text():
    m = parse_fixture("html_only.eml")
    assert m.content_type == "text/html"
    assert "Här kommer en avvikelse gällande läkemedelshantering på boendet." in m.text
    assert "Dosetten var felfylld under vecka 44." in m.text
    assert "Hemtjänst Norr" in m.text and "Karin Öst" in m.text
    assert "<" not in m.text and "&auml;" not in m.text
    assert "color: red" not in m.text


def test_multipart_alternative_prefers_text_plain():
    m = parse_fixture("alternative.eml")
    assert m.content_type == "multipart/alternative"
    assert m.text == "Avvikelse: brukaren fick fel kost (laktos).\nRapporterad av nattpersonal."
    assert "HTML-VERSIONEN" not in m.text
    assert "multi-part message" not in m.text


def test_several_text_plain_parts_are_joined_with_a_blank_line():
    raw = b"""From: a@exempelby.se
Subject: delar
Content-Type: multipart/mixed; boundary=B

--B
Content-Type: text/plain; charset=utf-8

Del ett.
--B
Content-Type: image/png; name=bild.png
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--B
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Del tv=E5.
--B--
"""
    m = parse_mail(raw)
    assert m.text == "Del ett.\n\nDel två."
    assert m.attachments == (Attachment("bild.png", "image/png", 8),)


def test_outlook_forward_with_attached_original():
    m = parse_fixture("outlook_forward_attached.eml")
    assert m.sender_address == "per.nilsson@exempelby.se"
    assert m.subject == "VB: Avvikelse insulin"
    assert m.text.startswith("Hej Registrator,\n\nVidarebefordrar avvikelse från regionen")
    assert "insulin inte givits" not in m.text  # the attached message's text stays in the attached message
    assert len(m.attached_messages) == 1
    orig = m.attached_messages[0]
    assert orig.sender_address == "lisa.larsson@regionexempel.se"
    assert orig.sender_name == "Lisa Larsson"
    assert orig.subject == "Avvikelse insulin Hemtjänst Norr"
    assert orig.message_id == "5f2a9c1e-0b7d-4c55-9d1e-aa1234567890@regionexempel.se"
    assert orig.to == ("hemtjanst.norr@exempelby.se",)
    assert orig.text.startswith("Hej,\n\nVid besök hos brukaren upptäcktes att insulin inte givits kl 08.")
    assert orig.date == datetime(2026, 11, 9, 8, 41, 22, tzinfo=CET)
    assert orig.received == datetime(2026, 11, 9, 8, 41, 30, tzinfo=CET)
    assert orig.content_type == "multipart/alternative"
    assert orig.conversation_id is None
    names = [(a.filename, a.content_type) for a in m.attachments]
    assert names == [("Avvikelse insulin.eml", "message/rfc822"), ("Avvikelserapport.pdf", "application/pdf")]
    pdf = m.attachments[1]
    assert pdf.size == len(b"%PDF-1.4 fake pdf for tests") + 256 + len(b"%%EOF")
    assert m.headers["thread-topic"] == "Avvikelse insulin"
    assert m.received == datetime(2026, 11, 9, 13, 5, 12, tzinfo=CET)


def test_attached_messages_are_parsed_at_most_three_levels_deep():
    def wrap(inner: bytes, level: int) -> bytes:
        return (f"From: niva{level}@exempelby.se\nSubject: Niva {level}\nMIME-Version: 1.0\n"
                f"Content-Type: multipart/mixed; boundary=b{level}\n\n--b{level}\n"
                f"Content-Type: text/plain\n\nText {level}\n--b{level}\nContent-Type: message/rfc822\n\n").encode() \
            + inner + f"\n--b{level}--\n".encode()

    raw = b"From: niva6@exempelby.se\nSubject: Niva 6\n\nInnersta"
    for level in range(5, -1, -1):
        raw = wrap(raw, level)
    m = parse_mail(raw)
    chain = []
    cur = m
    while cur.attached_messages:
        cur = cur.attached_messages[0]
        chain.append(cur.subject)
    assert chain == ["Niva 1", "Niva 2", "Niva 3"]
    assert "attached-message-depth-limit" in cur.defects


def test_message_without_message_id_uses_content_hash():
    raw = fixture("no_message_id.eml")
    m = parse_mail(raw)
    assert m.message_id is None
    assert m.duplicate_key.startswith("sha:")
    assert m.duplicate_key == "sha:" + hashlib.sha256(raw).hexdigest()
    assert parse_mail(b"Message-ID:   \nSubject: x\n\ny").message_id is None
    assert parse_mail(b"Message-ID: <>\nSubject: x\n\ny").message_id is None


def test_dsn_multipart_report():
    m = parse_fixture("dsn.eml")
    assert m.content_type == "multipart/report"
    assert m.report_type == "delivery-status"
    assert m.attached_messages == ()  # neither message/delivery-status nor text/rfc822-headers
    assert m.attachments == ()
    assert m.text.startswith("This is the mail system at host mx01.exempelby.se.")
    assert "Reporting-MTA" not in m.text and "Kvittens" not in m.text
    assert m.sender_address == "mailer-daemon@mx01.exempelby.se"
    assert m.headers["auto-submitted"] == "auto-replied"
    assert m.headers["return-path"] == "<>"


def test_dsn_returning_the_full_message_has_one_attached_message():
    raw = fixture("dsn.eml").replace(b"Content-Type: text/rfc822-headers", b"Content-Type: message/rfc822")
    m = parse_mail(raw)
    assert m.report_type == "delivery-status"
    assert [a.subject for a in m.attached_messages] == ["Kvittens: Avvikelse VOK 2026/0042 diarieford"]
    assert m.attached_messages[0].sender_address == "avvikelser.vok@exempelby.se"


def test_received_is_the_topmost_header_and_thread_ids():
    m = parse_fixture("received_crlf.eml")
    assert m.received == datetime(2026, 11, 11, 10, 20, 45, tzinfo=CET)
    assert m.date == datetime(2026, 11, 11, 9, 20, 30, tzinfo=timezone.utc)  # "-0000": naive -> UTC
    assert m.message_id == "received-0001@regionexempel.se"
    assert m.in_reply_to == ("kvittens-0041@exempelby.se",)
    assert m.references == ("avv-0040@regionexempel.se", "kvittens-0041@exempelby.se")
    assert m.thread_ids == ("kvittens-0041@exempelby.se", "avv-0040@regionexempel.se")
    assert m.text == "Tack för kvittensen.\nRad två."
    assert m.subject == "SV: Kvittens: Avvikelse VOK 2026/0041"


def test_sender_falls_back_to_sender_then_return_path():
    m = parse_fixture("broken.eml")  # no From:, a Sender:
    assert (m.sender_name, m.sender_address) == ("Trasig Klient", "trasig@exempelby.se")
    m = parse_mail(b"Return-Path: <Studsar@Exempelby.se>\nSubject: x\n\ny")
    assert m.sender_address == "studsar@exempelby.se"
    m = parse_mail(b"From: Lisa Larsson\nSubject: x\n\ny")
    assert (m.sender_name, m.sender_address) == ("Lisa Larsson", "")
    m = parse_mail(b"From: Mail Delivery Subsystem <MAILER-DAEMON>\nSubject: x\n\ny")
    assert (m.sender_name, m.sender_address) == ("Mail Delivery Subsystem", "mailer-daemon")


def test_conversation_id_and_headers():
    m = parse_mail(fixture("latin1_qp.eml"), conversation_id="AAQkADAwATM0MDAAMS1i")
    assert m.conversation_id == "AAQkADAwATM0MDAAMS1i"
    assert m.headers["from"] == "Åsa Öberg <Asa.Oberg@Exempelby.se>"
    assert all(k == k.lower() for k in m.headers)
    long = parse_mail(b"X-Long: " + b"a" * 2000 + b"\nSubject: x\n\ny")
    assert len(long.headers["x-long"]) == 500


# --------------------------------------------------------------------------- malformed input


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\xff garbage",
    b"\xff" * 1000,
    b"\n\n\n",
    b"Subject: =?x-unknown?Q?=FF=FE?=\n\n",
    b"Subject: =?utf-8?B?!!!?=\nFrom: =?utf-8?Q?broken\n\n",
    b"From: <<<@@@>>>\nTo: ,,,;;;\nDate: 99 Foo 99999 99:99:99 +9999\nReceived: ;\n\n",
    b"Content-Type: multipart/mixed\n\nno boundary here",
    b"Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\n--a\n--a--",
    b"Content-Type: text/plain; charset=\"\xff\xfe\"\n\nhej",
    b"Content-Type: message/rfc822\n\n",
    b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n!!!notbase64",
    b"Content-Type: text/html\n\n<html><body><<<</p></td></table>",
    b"Content-Type: text/html\n\n<?xml version='1.0' encoding='utf-8'?><html><body>hej</body></html>",
    b"Content-Type: application/pdf; name*=utf-8''%FF%FE.pdf\nContent-Disposition: attachment\n\n%PDF",
    b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n====",
    b"Content-Type: text/plain; charset=utf-7\n\n+AOQ-",
    ("Content-Type: multipart/mixed; boundary=x\n\n" + "--x\nContent-Type: multipart/mixed; boundary=x\n\n" * 200).encode(),
])
def test_malformed_input_never_raises(raw):
    m = parse_mail(raw)
    assert isinstance(m, InboundMail)
    assert _check_invariants(m, raw) == []


def test_empty_input():
    m = parse_mail(b"")
    assert m.message_id is None
    assert m.text == "" and m.subject == "" and m.sender_address == ""
    assert "empty-input" in m.defects
    assert m.duplicate_key == "sha:" + hashlib.sha256(b"").hexdigest()


def test_broken_base64_unknown_charset_and_unterminated_multipart():
    m = parse_fixture("broken.eml")
    assert m.subject == "Avvikelse från trasig klient"  # raw latin-1 byte in the header
    assert m.date is None
    assert m.text.startswith("Brukaren är oskadd.")  # x-unknown charset, utf-8 bytes
    assert m.to == ("avvikelser.vok@exempelby.se",)
    assert [a.filename for a in m.attachments] == ["trasig.bin"]
    for expected in ("unknown-charset:x-unknown", "unparseable-date", "CloseBoundaryNotFoundDefect",
                     "InvalidBase64CharactersDefect"):
        assert expected in m.defects


def test_html_to_text_is_guarded():
    for markup in ("", "   ", "<", "<<<>>>", "\x00", "<html", "&#0;", "<p>" * 3000,
                   "<?xml version='1.0' encoding='utf-8'?><p>hej</p>"):
        assert isinstance(html_to_text(markup), str)
    assert html_to_text("<?xml version='1.0' encoding='utf-8'?><p>hej</p>") == "hej"
    assert html_to_text("<p>Fr&aring;n</p><p>&Auml;mne</p>") == "Från\n\nÄmne"


# --------------------------------------------------------------------------- inline forwards


SV_OUTLOOK = """Hej!

Vidarebefordrar en avvikelse från regionen.

Mvh Per

-----Ursprungligt meddelande-----
Från: Lisa Larsson <lisa.larsson@regionexempel.se>
Skickat: den 3 november 2026 09:14
Till: Registrator VOK <registrator.vok@exempelby.se>
Kopia: Per Nilsson <per.nilsson@exempelby.se>
Ämne: Avvikelse – läkemedel Hemtjänst Norr

Hej,
brukaren fick fel dos.

Lisa
"""


def test_swedish_outlook_block_with_separator():
    fwd = find_inline_forward(SV_OUTLOOK)
    assert fwd == InlineForward(
        own_text="Hej!\n\nVidarebefordrar en avvikelse från regionen.\n\nMvh Per",
        sender_name="Lisa Larsson",
        sender_address="lisa.larsson@regionexempel.se",
        sent="den 3 november 2026 09:14",
        subject="Avvikelse – läkemedel Hemtjänst Norr",
        body="Hej,\nbrukaren fick fel dos.\n\nLisa",
    )


def test_swedish_block_without_separator_crlf_and_datum():
    text = ("Se nedan.\r\n\r\nFrån: Lisa Larsson <Lisa.Larsson@RegionExempel.se>\r\nDatum: tisdag, 3 november 2026 09:14\r\n"
            "Till: Registrator VOK <registrator.vok@exempelby.se>\r\nÄmne: Avvikelse fall\r\nTexten.\r\n")
    fwd = find_inline_forward(text)
    assert fwd is not None
    assert fwd.own_text == "Se nedan."
    assert fwd.sender_address == "lisa.larsson@regionexempel.se"
    assert fwd.sent == "tisdag, 3 november 2026 09:14"
    assert fwd.subject == "Avvikelse fall"
    assert fwd.body == "Texten."


def test_bold_markers_and_underscore_separator():
    text = """Till registrator för diarieföring.

________________________________
*Från:* Lisa Larsson <lisa.larsson@regionexempel.se>
*Skickat:* den 3 november 2026 09:14
*Till:* Per Nilsson <per.nilsson@exempelby.se>
*Ämne:* Avvikelse – läkemedel

Brödtext.
"""
    fwd = find_inline_forward(text)
    assert fwd is not None
    assert (fwd.sender_name, fwd.sender_address) == ("Lisa Larsson", "lisa.larsson@regionexempel.se")
    assert fwd.sent == "den 3 november 2026 09:14"
    assert fwd.subject == "Avvikelse – läkemedel"
    assert fwd.own_text == "Till registrator för diarieföring."
    assert fwd.body == "Brödtext."


def test_mailto_style_and_english_original_message():
    text = """FYI

-----Original Message-----
From: Lisa Larsson [mailto:lisa.larsson@regionexempel.se]
Sent: Tuesday, November 3, 2026 9:14 AM
To: Registrator VOK
Cc: per.nilsson@exempelby.se
Subject: RE: Deviation report

Body here.
"""
    fwd = find_inline_forward(text)
    assert fwd is not None
    assert (fwd.sender_name, fwd.sender_address) == ("Lisa Larsson", "lisa.larsson@regionexempel.se")
    assert fwd.sent == "Tuesday, November 3, 2026 9:14 AM"
    assert fwd.subject == "RE: Deviation report"
    assert fwd.own_text == "FYI"
    assert fwd.body == "Body here."


def test_quoted_name_bare_address_and_gmail_separator():
    text = ('---------- Vidarebefordrat meddelande ---------\nFrån: "Larsson, Lisa" <lisa.larsson@regionexempel.se>\n'
            "Date: tis 3 nov. 2026 kl 09:14\nSubject: Avvikelse\nTo: <registrator.vok@exempelby.se>\n\nText\n")
    fwd = find_inline_forward(text)
    assert fwd is not None and fwd.own_text == ""
    assert (fwd.sender_name, fwd.sender_address) == ("Larsson, Lisa", "lisa.larsson@regionexempel.se")
    bare = find_inline_forward("From: lisa.larsson@regionexempel.se\nSubject: Hej\n\nx")
    assert bare is not None and (bare.sender_name, bare.sender_address) == ("", "lisa.larsson@regionexempel.se")
    noaddr = find_inline_forward("From: Lisa Larsson\nSent: igår\nTo: Per\nSubject: Hej\n\nx")
    assert noaddr is not None and (noaddr.sender_name, noaddr.sender_address) == ("Lisa Larsson", "")


@pytest.mark.parametrize("text", [
    "",
    "Hej,\n\nBrukaren föll i badrummet kl 07.30. Ingen skada.\n\nMvh Åsa",
    "Från: mig\n\nInget ämne här.",               # From without Subject
    "Ämne: fall\n\nFrån och med måndag gäller nya rutiner.",  # not consecutive
    "Från: Lisa\nText emellan\n\nÄmne: x",
    # a report form, not a forward: no address, no separator, not the full Outlook header set
    "Avvikelserapport\n\nFrån: Hemtjänst Norr\nÄmne: Läkemedel\nHändelse: dubbeldos\n\nBeskrivning ...",
    "On Tue, Nov 3, 2026 at 9:14 AM Lisa Larsson <lisa@regionexempel.se> wrote:\n> citat",
    "Den 3 nov. 2026 kl. 09:14 skrev Lisa Larsson <lisa@regionexempel.se>:\n> citat",
])
def test_no_inline_forward(text):
    assert find_inline_forward(text) is None


def test_inline_forward_through_parse_mail_plain_and_html_only():
    for name in ("inline_forward_sv.eml", "inline_forward_sv_html_only.eml"):
        m = parse_fixture(name)
        assert m.subject == "VB: Avvikelse – läkemedel Hemtjänst Norr"
        fwd = find_inline_forward(m.text)
        assert fwd is not None, name
        assert fwd.own_text == "Hej,\n\nVidarebefordrar enligt överenskommelse. Kan ni diarieföra?\n\n/Per", name
        assert (fwd.sender_name, fwd.sender_address) == ("Lisa Larsson", "lisa.larsson@regionexempel.se")
        assert fwd.sent == "den 3 november 2026 09:14"
        assert fwd.subject == "Avvikelse – läkemedel Hemtjänst Norr"
        assert fwd.body.startswith("Hej Per,\n\nBrukaren fick kvällsdosen två gånger den 2 november.")
        assert fwd.body.endswith("Lisa Larsson\nDistriktssköterska")


# ---- the crisp-oss/email-forward-parser fixtures: every one forwards John Doe's "Integer consequat non purus"

def _forward_fixtures() -> list[Path]:
    assert FORWARDS.is_dir(), f"forward-parsing corpus missing: {FORWARDS}"
    files = sorted(p for p in FORWARDS.glob("*_body*.txt") if re.search(r"_(sv|en)_body", p.name))
    assert len(files) > 60
    return files


def _read(p: Path) -> str:
    return p.read_bytes().decode("utf-8-sig")


_HAS_HEADER_BLOCK = re.compile(r"\b(?:Från|From|De)\*?:")  # Yahoo writes the whole block on one line


@pytest.mark.parametrize("path", _forward_fixtures(), ids=lambda p: p.stem)
def test_forward_parsing_corpus_sv_en(path):
    text = _read(path)
    fwd = find_inline_forward(text)
    if not _HAS_HEADER_BLOCK.search(text):
        # "On ... wrote:" / "Den ... skrev ... följande:" replies carry no header block
        assert fwd is None
        return
    assert fwd is not None
    assert fwd.subject.endswith("Integer consequat non purus")
    if path.name == "unknown_en_body_variant_12.txt":   # "From: John Doe" without an address
        assert (fwd.sender_name, fwd.sender_address) == ("John Doe", "")
    else:
        assert fwd.sender_address == "john.doe@acme.com"
        assert fwd.sender_name in ("John Doe", "John, Doe", "")  # "" for "From: john.doe@acme.com"
    assert "Subject:" not in fwd.body.split("\n", 1)[0] and "Ämne:" not in fwd.body.split("\n", 1)[0]


@pytest.mark.parametrize("name, own_text, sent, body_start", [
    ("new_outlook_2019_sv_body.txt", "", "torsdag, 28 oktober 2021 12:46", "Aenean quis diam urna."),
    ("outlook_live_en_body_variant_2.txt", "Praesent suscipit egestas hendrerit.\n\nAliquam eget dui dui.",
     "Wednesday, October 27, 2021 15:14", "Aenean quis diam urna."),
    ("outlook_live_en_body_variant_10.txt", "Praesent suscipit egestas hendrerit.\n\nAliquam eget dui dui.",
     "Wednesday, October 27, 2021 15:14", "Aenean quis diam urna."),
    ("outlook_2013_en_body.txt", "", "25 October 2021 11:17", "Aenean quis diam urna."),
    ("gmail_sv_body.txt", "", "ons 27 okt. 2021 kl 09:31", "Aenean quis diam urna."),
    ("gmail_en_body_variant_2.txt", "Praesent suscipit egestas hendrerit.\n\nAliquam eget dui dui.",
     "Wed, Oct 27, 2021 at 9:31 AM", "Aenean quis diam urna."),
    ("apple_mail_sv_body.txt", "", "26 oktober 2021 14:25:08 EEST", "Aenean quis diam urna."),
    ("thunderbird_sv_body.txt", "", "Wed, 3 Nov 2021 15:51:30 +0100", "Aenean quis diam urna."),
    ("hubspot_sv_body.txt", "", "måndag 19 september 2022 17:55:44 -0400", "Aenean quis diam urna."),
    ("yahoo_sv_body.txt", "", "tisdag 2 november 2021 09:26:50 CET", "Aenean quis diam urna."),
])
def test_forward_parsing_corpus_details(name, own_text, sent, body_start):
    fwd = find_inline_forward(_read(FORWARDS / name))
    assert fwd is not None
    assert (fwd.sender_name, fwd.sender_address) == ("John Doe", "john.doe@acme.com")
    assert fwd.subject == "Integer consequat non purus"
    assert fwd.own_text == own_text
    assert fwd.sent == sent
    assert fwd.body.startswith(body_start)
    assert fwd.body.rstrip().endswith("massa sagittis eget.")


@pytest.mark.parametrize("rel, name, address, subject, own_tail", [
    ("discourse-email_reply_trimmer/emails/embedded_email_swedish.txt", "Foo Bar", "noreply@foo.bar",
     "[WAT] Photos from the symposium", "Best regards\n\nSome One"),
    ("crisp-email-reply-parser/email_outlook_split_line_from.txt", "Human Resources",
     "a-really-long-automated-email+1234556@humanresources.com", "A new message from applicant",
     "nec nec nibh."),
    ("discourse-email_reply_trimmer/emails/forwarded_message.txt", "Some One", "foo@bar.com",
     "Some subject that spans over 2 lines", ""),
    ("discourse-email_reply_trimmer/emails/email_headers_1.txt", "Outlook user", "",
     "Are you using Outlook?", "This is a reply from Outlook!"),
    ("crisp-email-reply-parser/email_tricky_17_forward_header.txt", "John Smith", "john@example.com",
     "Important update", "See the forwarded message below."),
])
def test_reply_quote_corpus_samples(rel, name, address, subject, own_tail):
    path = REPLIES / rel
    assert path.is_file(), f"reply-quote-stripping corpus missing: {path}"
    fwd = find_inline_forward(_read(path))
    assert fwd is not None
    assert (fwd.sender_name, fwd.sender_address, fwd.subject) == (name, address, subject)
    assert fwd.own_text.endswith(own_tail)
    assert "-----" not in fwd.own_text[-40:] and "____" not in fwd.own_text[-40:]
