"""Sender authenticity, the pure part: RFC 8601 parsing, which headers are trusted, the
verdict. Real header shapes: Exchange Online (corpus: sisimai office365, django-mailbox),
OpenDMARC/OpenDKIM behind Postfix, fixtures in tests/fixtures/mail/auth/."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.mail.authenticity import judge, parse_authentication_results, sender_check, trusted_results
from bot.mail.trust import valid_trust_entry
from bot.mail.parse import parse_mail
from bot.errors import ConfigError
from tests.fakes.mail import make_mail

AUTH = Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "auth"
EXO = ("exchange-online",)
MX = ("mx.exempelby.se",)
# the trusted receiver's own line where the mail came in from outside
ENTRY = ("from mx1.regionexempel.se (mx1.regionexempel.se [192.0.2.25]) by mx.exempelby.se "
         "(Postfix) with ESMTPS id 4Cf1; Thu, 19 Nov 2026 11:15:32 +0100")


def verdict(raw: bytes, trusted: tuple[str, ...]):
    return parse_mail(raw, trusted_authserv_ids=trusted).verdict


# ----------------------------------------------------------------------------- RFC 8601
def test_exchange_online_results_without_an_authserv_id():
    parsed = parse_authentication_results(
        "spf=pass (sender IP is 104.47.124.246) smtp.helo=APC01-HK2-obe.outbound.protection."
        "outlook.com; outlook.com; dkim=none (message not signed) header.d=none;outlook.com; "
        "dmarc=pass action=none header.from=outlook.com;compauth=pass reason=100")
    assert parsed.authserv_id is None
    assert [(r.method, r.result) for r in parsed.results] == [
        ("spf", "pass"), ("dkim", "none"), ("dmarc", "pass"), ("compauth", "pass")]
    assert parsed.results[2].props["header.from"] == "outlook.com"


def test_opendmarc_result_with_comment_and_authserv_id():
    parsed = parse_authentication_results(
        "mx.example.org; dmarc=fail (p=reject; dis=none) header.from=example.com")
    assert parsed.authserv_id == "mx.example.org"
    [dmarc] = parsed.results
    assert (dmarc.method, dmarc.result, dmarc.props) == ("dmarc", "fail", {"header.from": "example.com"})


def test_version_quoted_values_and_none():
    parsed = parse_authentication_results(
        'mx.example.org 1; auth=pass (cram-md5) smtp.auth="a;b"; spf=pass smtp.mailfrom=x.se')
    assert parsed.authserv_id == "mx.example.org"
    assert [(r.method, r.result) for r in parsed.results] == [("auth", "pass"), ("spf", "pass")]
    assert parse_authentication_results("mx.example.org; none").results == ()


@pytest.mark.parametrize("junk", ["", ";;;", "((((", '"unterminated', "=;=;=", "\x00" * 50,
                                  "a" * 10000 + ";dmarc=pass"])
def test_junk_never_raises(junk):
    parse_authentication_results(junk)


# ----------------------------------------------------------------------------- the fixtures
@pytest.mark.parametrize("name, trusted, status", [
    ("exo_forged_manager_response.eml", EXO, "failed"),
    ("exo_genuine_manager_response.eml", EXO, "verified"),
    ("exo_forged_registrator_forward.eml", EXO, "failed"),
    ("exo_genuine_registrator_forward.eml", EXO, "verified"),
    ("exo_forged_counterpart_reply.eml", EXO, "failed"),
    ("exo_genuine_counterpart_reply.eml", EXO, "verified"),
    ("exo_forged_own_address.eml", EXO, "failed"),
    ("pf_forged_manager_response.eml", MX, "failed"),
    ("pf_genuine_counterpart_reply.eml", MX, "verified"),
    ("pf_forged_counterpart_new.eml", MX, "failed"),
    # a pattern that also matches the LMTP hand-over to imap.exempelby.se above the MX's lines
    ("pf_genuine_counterpart_reply.eml", ("*.exempelby.se",), "verified"),
    ("pf_forged_manager_response.eml", ("*.exempelby.se",), "failed"),
    # the wrong receiver trusted: nothing counts
    ("exo_forged_manager_response.eml", MX, "unverified"),
    ("exo_genuine_manager_response.eml", MX, "unverified"),
    ("pf_forged_manager_response.eml", EXO, "unverified"),
    ("pf_forged_manager_response.eml", (), "unverified"),
])
def test_verdicts_on_real_receiver_headers(name, trusted, status):
    assert verdict((AUTH / name).read_bytes(), trusted).status == status


def test_the_forgers_own_results_below_the_receivers_entry_never_count():
    """pf_forged_manager_response.eml carries 'dmarc=pass' below mx.exempelby.se's
    Received: line; remove the receiver's real results and nothing trusted is left."""
    raw = (AUTH / "pf_forged_manager_response.eml").read_bytes()
    lines = raw.split(b"\n")
    top = lines.index(next(line for line in lines if line.startswith(b"Received-SPF")))
    without_real = b"\n".join(line for i, line in enumerate(lines)
                              if not (i < top and line.startswith(b"Authentication-Results"))
                              and not line.startswith(b"\tdkim=none"))
    mail = parse_mail(without_real)
    assert trusted_results(mail.trace, MX) == []
    assert judge(mail, MX).status == "unverified"


def test_exchange_results_below_eops_front_door_never_count():
    raw = (AUTH / "exo_forged_manager_response.eml").read_bytes()
    start = raw.index(b"Authentication-Results: spf=fail")
    end = raw.index(b"Received-SPF")
    mail = parse_mail(raw[:start] + raw[end:])     # as if EOP had written nothing
    assert judge(mail, EXO).status == "unverified", "the forged 'compauth=pass' below is ignored"


def test_amavis_reinjection_above_the_results_is_not_the_entry():
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="x", body="y")
    header = (b"Received: from localhost (localhost [127.0.0.1]) by mx.exempelby.se (Postfix) "
              b"with ESMTP id 1; Thu, 19 Nov 2026 11:15:33 +0100\n"
              b"Authentication-Results: mx.exempelby.se; dmarc=pass (p=none dis=none) "
              b"header.from=regionexempel.se\n"
              b"Received: from mx1.regionexempel.se (mx1.regionexempel.se [192.0.2.25]) by "
              b"mx.exempelby.se (Postfix) with ESMTPS id 2; Thu, 19 Nov 2026 11:15:32 +0100\n")
    assert verdict(header + raw, MX).status == "verified"


def test_pattern_ids_match_subdomains_only():
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="x", body="y",
                    headers={"Authentication-Results":
                             "mx2.exempelby.se; dmarc=fail header.from=regionexempel.se"})
    assert verdict(raw, ("*.exempelby.se",)).status == "failed"
    assert verdict(raw, ("exempelby.se",)).status == "unverified"


@pytest.mark.parametrize("results, status", [
    ("dkim=pass header.d=regionexempel.se", "verified"),            # aligned DKIM
    ("dkim=pass header.d=mailer.example", "unverified"),            # someone else's signature
    ("spf=pass smtp.mailfrom=bounce@mail.regionexempel.se", "verified"),  # aligned SPF
    ("spf=fail smtp.mailfrom=regionexempel.se; dkim=none", "failed"),
    ("spf=softfail smtp.mailfrom=regionexempel.se", "failed"),
    ("spf=fail smtp.mailfrom=regionexempel.se; dkim=pass header.d=mailer.example", "unverified"),
    ("dmarc=pass header.from=other.example", "failed"),             # judged another From:
    ("dmarc=none header.from=regionexempel.se", "unverified"),
])
def test_rules_without_a_dmarc_verdict(results, status):
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="x", body="y",
                    headers={"Authentication-Results": f"mx.exempelby.se; {results}",
                             "Received": ENTRY})
    assert verdict(raw, MX).status == status


@pytest.mark.parametrize("results", [
    "dkim=pass header.d=regionexempel.se", "spf=pass smtp.mailfrom=regionexempel.se",
    "dmarc=pass header.from=regionexempel.se"])
def test_without_the_receivers_own_received_line_no_pass_counts(results):
    """Nothing shows which results the trusted receiver wrote (issue 23: 'no Received: at
    all' let a forged pass through)."""
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>", subject="x", body="y",
                    headers={"Authentication-Results": f"mx.exempelby.se; {results}"})
    assert verdict(raw, MX).status == "unverified"


def test_several_from_addresses_fail():
    raw = make_mail(sender="Lisa <lisa.larsson@regionexempel.se>, Anna <anna.andersson@exempelby.se>",
                    subject="x", body="y", headers={
                        "Authentication-Results": "mx.exempelby.se; dmarc=pass header.from=regionexempel.se"})
    assert verdict(raw, MX).status == "failed"


def test_internal_authas_counts_only_for_exchange():
    raw = (AUTH / "exo_genuine_manager_response.eml").read_bytes()
    assert verdict(raw, EXO).why == "X-MS-Exchange-Organization-AuthAs: Internal"
    assert verdict(raw, ("mx.exempelby.se", "*.prod.outlook.com")).status == "unverified"


def test_corpus_exchange_mails(corpora):
    """Real Exchange Online output: an internal mail and EOP's results on inbound mail."""
    email = corpora / "email"
    internal = parse_mail((email / "django-mailbox" / "bad_character_attachment.eml").read_bytes(),
                          trusted_authserv_ids=EXO)
    assert internal.verdict.status == "verified"
    inbound = parse_mail((email / "sisimai-set-of-emails" / "bsd" / "lhost-office365-04.eml")
                         .read_bytes(), trusted_authserv_ids=EXO)
    assert (inbound.verdict.status, inbound.verdict.why) == ("verified", "dmarc=pass")


def test_every_corpus_mail_gets_a_verdict(corpora):
    statuses = set()
    for path in sorted((corpora / "email").rglob("*")):
        if path.is_file() and path.suffix not in (".md", ".tsv", ".json"):
            mail = parse_mail(path.read_bytes(), trusted_authserv_ids=("exchange-online", "*.com"))
            statuses.add(mail.verdict.status)
    assert statuses == {"verified", "failed", "unverified"}


# ----------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("value, ok", [
    ("mx.exempelby.se", True), ("*.exempelby.se", True), ("exchange-online", True),
    ("Exchange-Online", True), ("mx", True), ("", False), ("*", False), ("mx exempelby.se", False),
    ("mx.exempelby.se;", False), ("*.*.se", False)])
def test_trust_entries(value, ok):
    assert valid_trust_entry(value) is ok


def test_check_config_line():
    assert sender_check(()) == (False, "avsändare verifieras inte: ingen betrodd server angiven i "
                                       "[mail] trusted_authserv_ids, så From: tas för sann")
    ok, line = sender_check(EXO)
    assert ok and "exchange-online" in line


def test_settings_read_the_mail_table_and_automated_reports(tmp_path):
    from bot.settings import load_organisation
    from tests.conftest import EXAMPLE_CONFIG
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace("automated_reports = false", "automated_reports = true", 1)
    good = tmp_path / "good.toml"
    good.write_text(text.replace("trusted_authserv_ids = []",
                                 'trusted_authserv_ids = ["mx.exempelby.se", "Exchange-Online"]'),
                    encoding="utf-8")
    org = load_organisation(good)
    assert org.trusted_authserv_ids == ("mx.exempelby.se", "exchange-online")
    assert org.counterparts["region-exempel"].automated_reports is True
    assert org.counterparts["sjukhuset"].automated_reports is False

    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("trusted_authserv_ids = []", 'trusted_authserv_ids = ["mx exempelby"]'),
                   encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_organisation(bad)
    assert "mail.trusted_authserv_ids[0]" in str(err.value)
    worse = tmp_path / "worse.toml"
    worse.write_text(text.replace("automated_reports = true", 'automated_reports = "ja"'),
                     encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_organisation(worse)
    assert "counterparts[0].automated_reports" in str(err.value)
