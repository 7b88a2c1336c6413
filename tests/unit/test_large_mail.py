"""Intake time is linear in a mail's size (issue 22, item 8): a mail with one 5 MB line must
not stall intake for minutes. Each shape below took minutes before (a regex that re-read a
long line once per character of it, or a list searched once per diary number); now each
finishes in about a second. The cap (20 s) only catches a stall, not a slow machine.

The deterministic guard: the rules and inscriptis read a bounded amount of text
(bot.mail.parse.TEXT_MAX_CHARS / HTML_MAX_CHARS), while the raw mail is kept whole."""
from __future__ import annotations

import time
from email import policy
from email.message import EmailMessage

import pytest

from bot.mail.classify import Detector, classify, detect_severity
from bot.mail.parse import HTML_MAX_CHARS, TEXT_MAX_CHARS, parse_mail
from tests.fakes.lookup import FakeCaseLookup

MB = 1024 * 1024
CAP_SECONDS = 20.0
COUNTERPART = "Lisa Larsson <lisa.larsson@regionexempel.se>"
REGISTRATOR = "Rut Registrator <rut.registrator@exempelby.se>"


def _one_line_mail(body: str, *, sender: str = COUNTERPART, subtype: str = "plain",
                   cte: str = "8bit") -> bytes:
    # 8bit: one line as it came; quoted-printable and base64 are wrapped, the text is one line
    msg = EmailMessage(policy=policy.default.clone(max_line_length=0 if cte == "8bit" else 78))
    msg["From"] = sender
    msg["To"] = "registrator.vok@exempelby.se"
    msg["Subject"] = "Avvikelse med en mycket lång rad"
    msg["Message-ID"] = "<lang-rad@regionexempel.se>"
    msg.set_content(body, subtype=subtype, cte=cte)
    return bytes(msg)


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _numbers(size: int) -> str:
    parts, length, i = [], 0, 1
    while length < size:
        part = f"VOK 2026/{i} "
        parts.append(part)
        length, i = length + len(part), i + 1
    return "".join(parts)


SHAPES = {
    # base64 letters: the elision of long base64 runs tried ~1,000 lengths at every offset
    "letters": lambda: _one_line_mail(_repeat("x", 5 * MB)),
    "digits": lambda: _one_line_mail(_repeat("1234567890", 5 * MB)),
    # one long word of "bedöm…": the severity pattern read to its end once per occurrence
    "bedöm": lambda: _one_line_mail(_repeat("bedöm", 5 * MB)),
    # 400,000 different diary numbers: each looked up in a list of those found so far
    "diary numbers": lambda: _one_line_mail(_numbers(5 * MB)),
    # the registrator's own mail: a header-like line with a long value and no address in it
    "forward header": lambda: _one_line_mail("Från: " + _repeat("a", 5 * MB) + "\nÄmne: x\n",
                                             sender=REGISTRATOR),
    # the registrator's own mail: a quoted line of blanks (blanks shared between quantifiers)
    "quoted blanks": lambda: _one_line_mail("> " + _repeat(" ", 5 * MB) + "x", sender=REGISTRATOR),
    "html": lambda: _one_line_mail("<p>" + _repeat("<b>text</b> ", 5 * MB) + "</p>",
                                   subtype="html"),
    "quoted-printable": lambda: _one_line_mail(_repeat("vårdtagare föll ", 5 * MB),
                                               cte="quoted-printable"),
    "base64": lambda: _one_line_mail(_repeat("vårdtagare föll ", 5 * MB), cte="base64"),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_a_5_mb_single_line_is_parsed_and_classified_without_a_stall(shape, org):
    raw = SHAPES[shape]()
    started = time.monotonic()
    mail = parse_mail(raw)
    decision = classify(mail, org, FakeCaseLookup(), Detector(org))
    elapsed = time.monotonic() - started
    assert elapsed < CAP_SECONDS, f"{shape}: {elapsed:.1f} s"
    assert decision.outcome
    assert len(mail.text) <= TEXT_MAX_CHARS


def test_what_the_rules_read_is_bounded_and_the_cut_is_noted():
    mail = parse_mail(_one_line_mail("Avvikelse för Hemtjänst Norr. " + _repeat("ord ", 2 * MB)))
    assert len(mail.text) == TEXT_MAX_CHARS
    assert mail.text.startswith("Avvikelse för Hemtjänst Norr.")
    assert "text-truncated" in mail.defects
    html = parse_mail(_one_line_mail("<p>Avvikelse</p>" + "x" * HTML_MAX_CHARS, subtype="html"))
    assert "html-truncated" in html.defects and html.text.startswith("Avvikelse")


def test_an_inline_image_does_not_push_the_text_after_it_out_of_reach():
    image = _repeat("QUJD", 3 * MB)
    markup = f'<p><img src="data:image/png;base64,{image}"></p><p>Avvikelse för Solgården</p>'
    mail = parse_mail(_one_line_mail(markup, subtype="html"))
    assert "Avvikelse för Solgården" in mail.text


def test_a_normal_mail_is_read_whole():
    body = "Avvikelse för Hemtjänst Norr.\n" * 2000       # 60 kB: far below the bound
    mail = parse_mail(_one_line_mail(body))
    assert mail.text == body.strip() and "text-truncated" not in mail.defects


def test_severity_is_still_found_after_a_compound_of_bedöm():
    assert detect_severity("Riskbedömningen: röd.") == "red"
    assert detect_severity("Allvarlighetsbedömning gjord, kategori gul") == "yellow"
    assert detect_severity("bedöm" * 1000) is None


def test_intake_keeps_the_raw_mail_whole(bot):
    raw = _one_line_mail(_repeat("bedöm", 5 * MB))
    started = time.monotonic()
    [result] = bot.services.ingest_many([(raw, None, None)])
    assert time.monotonic() - started < CAP_SECONDS
    record = bot.store.mail_seen("mid:lang-rad@regionexempel.se")
    assert record is not None and record["outcome"] == result["outcome"]
    assert bot.store.read_raw(record["raw"]) == raw


def test_a_long_base64_text_body_keeps_the_beginning_of_its_text():
    """Base64 runs above 4 MB are elided before the stdlib parser (memory); their first lines
    are kept, so a long base64 text body is still read (its beginning)."""
    body = "Avvikelse för Solgården: vårdtagaren föll. " + _repeat("ord ", 6 * MB)
    mail = parse_mail(_one_line_mail(body, cte="base64"))
    assert "large-parts-elided" in mail.defects and "text-truncated" in mail.defects
    assert mail.text.startswith("Avvikelse för Solgården: vårdtagaren föll.")
    assert 100_000 < len(mail.text) <= TEXT_MAX_CHARS
    swedish = parse_mail(_one_line_mail(_repeat("åäö ", 6 * MB), cte="base64"))
    assert swedish.text.startswith("åäö åäö") and "\ufffd" not in swedish.text
    assert set(swedish.text.split()) <= {"åäö", "åä", "å"}   # no character cut in half at the end
