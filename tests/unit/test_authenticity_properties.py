"""Where the mail entered the trusted receiver is decided only by what that receiver wrote
(issue 23, item 2): the forged-result header orders of the finding, and properties over
header orders, folding, duplicates and missing Received: lines (hypothesis).

The receiver is a Postfix + OpenDMARC host, mx.exempelby.se, as in the fixtures: its
Authentication-Results above its own Received: line; with amavis, one more Received: line
of its own on top whose client (in the TCP-info it writes) is its loopback address."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.mail.parse import parse_mail

MX = ("mx.exempelby.se",)
FROM = "Lisa Larsson <lisa.larsson@regionexempel.se>"
DATE = "Thu, 19 Nov 2026 11:15:32 +0100"
OUTSIDE = "203.0.113.66"


def received(helo: str | None, rdns: str, ip: str, by: str = "mx.exempelby.se") -> str:
    head = f"from {helo} ({rdns} [{ip}]) " if helo is not None else ""
    return f"{head}by {by} (Postfix) with ESMTPS id 4CfT1b; {DATE}"


ENTRY = received("mx1.regionexempel.se", "mx1.regionexempel.se", "192.0.2.25")
REINJECTION = received("localhost", "localhost", "127.0.0.1")
# a hand-over on the host itself over a local socket (Dovecot's LMTP): no client address
LMTP = f"from mx.exempelby.se by mx.exempelby.se with LMTP id 8C3hIz1BO2fKIQAAm7ruxQ; {DATE}"


def ar(results: str, authserv: str = "mx.exempelby.se") -> str:
    return f"{authserv}; {results}"


def build(trace: list[tuple[str, str]], fold: list[int] | None = None) -> bytes:
    lines = []
    for i, (name, value) in enumerate(trace):
        if fold:       # fold at the n-th space (a receiver's line is often folded)
            words = value.split(" ")
            at = fold[i % len(fold)] % max(1, len(words))
            if 0 < at < len(words):
                value = " ".join(words[:at]) + "\r\n\t" + " ".join(words[at:])
        lines.append(f"{name}: {value}")
    lines += [f"From: {FROM}", "To: registrator.vok@exempelby.se", "Subject: Svar",
              f"Date: {DATE}", "Message-ID: <p1@regionexempel.se>", "", "Hej."]
    return "\r\n".join(lines).encode()


def status(trace: list[tuple[str, str]], **kw) -> str:
    verdict = parse_mail(build(trace, **kw), trusted_authserv_ids=MX).verdict
    assert verdict is not None
    return verdict.status


FORGED_PASS = ("Authentication-Results", ar("dmarc=pass (p=reject dis=none) header.from=regionexempel.se"))


# ----------------------------------------------------------------------------- the finding
@pytest.mark.parametrize("entry", [
    received("localhost", "mail.evil.example", OUTSIDE),            # HELO localhost
    received("mx.exempelby.se", "mail.evil.example", OUTSIDE),      # HELO = the MX's own name
    received("mail.evil.example", "localhost", OUTSIDE),            # its PTR says localhost
    received("[127.0.0.1]", "mail.evil.example", OUTSIDE),          # an IP-literal HELO
    received("x (localhost [127.0.0.1]) by mx.exempelby.se", "mail.evil.example", OUTSIDE),
    received(None, "", ""),                                         # `Received: by …` without from
], ids=["helo-localhost", "helo-mx-name", "ptr-localhost", "helo-ip-literal", "helo-mimics-tcp-info",
        "by-without-from"])
def test_a_forged_pass_below_the_entry_is_not_believed(entry):
    """The receiver wrote no result of its own; the forged pass sits below its line."""
    assert status([("Received", entry), FORGED_PASS]) == "unverified"


def test_without_any_received_line_a_pass_is_not_believed():
    assert status([FORGED_PASS]) == "unverified"
    assert status([FORGED_PASS, ("Received", received("mail.evil.example", "mail.evil.example",
                                                       OUTSIDE, by="mail.evil.example"))]) == "unverified"


def test_a_forged_pass_directly_under_the_receivers_none_is_not_believed():
    trace = [("Authentication-Results", ar("dmarc=none (p=none dis=none) header.from=regionexempel.se")),
             FORGED_PASS, ("Received", ENTRY)]
    assert status(trace) == "unverified"


def test_a_lower_header_never_overrides_the_topmost_per_method():
    trace = [("Authentication-Results", ar("dkim=none; spf=neutral smtp.mailfrom=regionexempel.se")),
             ("Authentication-Results", ar("dkim=pass header.d=regionexempel.se")),
             ("Authentication-Results", ar("spf=pass smtp.mailfrom=regionexempel.se")),
             ("Received", ENTRY)]
    assert status(trace) == "unverified"


@pytest.mark.parametrize("top", [[], [("Received", REINJECTION)],
                                 [("Received", LMTP), ("Received", REINJECTION)]],
                         ids=["direct", "amavis", "lmtp-and-amavis"])
def test_the_receivers_own_pass_is_believed(top):
    trace = [*top, ("Authentication-Results", ar("dmarc=pass header.from=regionexempel.se")),
             ("Received", ENTRY)]
    assert status(trace) == "verified"


def test_a_fail_counts_wherever_it_is_written():
    """A forger only hurts his own mail with it: still failed."""
    fail = ("Authentication-Results", ar("dmarc=fail header.from=regionexempel.se"))
    assert status([fail]) == "failed"
    assert status([("Received", ENTRY), fail]) == "failed"


# ----------------------------------------------------------------------------- properties
METHODS = {"dmarc": "header.from=regionexempel.se", "dkim": "header.d=regionexempel.se",
           "spf": "smtp.mailfrom=regionexempel.se", "compauth": "reason=100"}
RESULTS = ["pass", "fail", "none", "softfail", "neutral", "temperror"]
WORDS = ["localhost", "mx.exempelby.se", "[127.0.0.1]", "mail.evil.example", "[IPv6:::1]",
         "x (localhost [127.0.0.1]) by mx.exempelby.se", "mx1.regionexempel.se"]

results_st = st.lists(st.tuples(st.sampled_from(sorted(METHODS)), st.sampled_from(RESULTS)),
                      min_size=1, max_size=4).map(
    lambda rs: "; ".join(f"{m}={r} {METHODS[m]}" for m, r in rs))
ar_st = st.builds(lambda results, who: ("Authentication-Results", ar(results, who)),
                  results_st, st.sampled_from(["mx.exempelby.se", "mx.exempelby.se",
                                               "other.example"]))
received_st = st.builds(
    lambda helo, rdns, ip, by: ("Received", received(helo, rdns, ip, by)),
    st.one_of(st.none(), st.sampled_from(WORDS)), st.sampled_from(WORDS),
    st.sampled_from([OUTSIDE, "127.0.0.1", "::1", "10.20.30.40"]),
    st.sampled_from(["mx.exempelby.se", "mail.evil.example"]))
forged_st = st.lists(st.one_of(ar_st, received_st), max_size=8)
# what the trusted receiver writes above its entry line: its own results, perhaps amavis
top_st = st.builds(lambda lmtp, amavis, results: ([("Received", LMTP)] if lmtp else [])
                   + ([("Received", REINJECTION)] if amavis else [])
                   + [("Authentication-Results", ar(r)) for r in results],
                   st.booleans(), st.booleans(), st.lists(results_st, max_size=3))
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(top=top_st, below=forged_st)
def test_nothing_below_the_entry_makes_a_mail_verified(top, below):
    genuine = [*top, ("Received", ENTRY)]
    if status(genuine + below) == "verified":
        assert status(genuine) == "verified"


@SETTINGS
@given(top=top_st, below=forged_st)
def test_below_the_entry_nothing_counts_for_a_method_the_receiver_judged(top, below):
    judged = {m for _n, value in top if _n == "Authentication-Results"
              for m in METHODS if f"{m}=" in value}
    below = [(n, v) for n, v in below
             if n == "Received" or all(f"{m}=" not in v or m in judged for m in METHODS)]
    genuine = [*top, ("Received", ENTRY)]
    assert status(genuine + below) == status(genuine)


@SETTINGS
@given(trace=st.lists(st.one_of(ar_st, st.builds(
    lambda helo, rdns, ip: ("Received", received(helo, rdns, ip, by="mail.evil.example")),
    st.one_of(st.none(), st.sampled_from(WORDS)), st.sampled_from(WORDS),
    st.sampled_from([OUTSIDE, "127.0.0.1"]))), max_size=8))
def test_with_no_received_line_of_the_receivers_nothing_is_verified(trace):
    assert status(trace) != "verified"


@SETTINGS
@given(top=top_st, below=forged_st, folds=st.lists(st.integers(0, 12), min_size=1, max_size=5))
def test_folding_changes_nothing(top, below, folds):
    trace = [*top, ("Received", ENTRY), *below]
    assert status(trace, fold=folds) == status(trace)


@SETTINGS
@given(top=top_st, below=forged_st, data=st.data())
def test_a_header_repeated_in_place_changes_nothing(top, below, data):
    trace = [*top, ("Received", ENTRY), *below]
    i = data.draw(st.integers(0, len(trace) - 1))
    assert status(trace[:i + 1] + trace[i:]) == status(trace)


@SETTINGS
@given(top=top_st, below=forged_st, helo=st.one_of(st.none(), st.sampled_from(WORDS)),
       rdns=st.sampled_from(WORDS))
def test_the_entry_lines_helo_and_client_name_never_decide(top, below, helo, rdns):
    """Only the receiver's own words count: its `by` host and the client address it recorded."""
    entry = received(helo, rdns, OUTSIDE) if helo is not None else received(None, "", "")
    assert status([*top, ("Received", entry), *below]) == status([*top, ("Received", ENTRY), *below])
