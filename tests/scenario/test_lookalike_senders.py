"""A look-alike of a known address is not that address (issue 23, item 1).

End to end through Services.ingest_mail on a bot whose organisation trusts its own Postfix +
OpenDMARC receiver (mx.exempelby.se), with Anna's address at norrvik.se (the domain of the
finding: the Kelvin sign K looks like k, and str.lower() made it one). Each mail carries
what the receiver writes on top: its Authentication-Results for the domain From: gives
(`none` for a domain without DMARC, or `pass` for a look-alike domain the outsider owns),
above its own Received: line. The case must not change, nothing is filed, the
registrator is asked with the reason.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import idna
import pytest

from bot.app import build

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
CASE1 = "VOK 2026/0001"
ANNA = "anna.andersson@norrvik.se"
RUT = "rut.registrator@exempelby.se"
MX = "mx.exempelby.se"
NOTIFICATION_ID = "0123456789abcdef0123456789abcdef.avisering@exempelby.se"


@pytest.fixture
def lk_bot(settings, clock, notifier, sender):
    org = settings.org
    people = dict(org.people)
    people["anna"] = dataclasses.replace(people["anna"], email=ANNA)
    org = dataclasses.replace(org, people=people, trusted_authserv_ids=(MX,),
                              internal_domains=(*org.internal_domains, "norrvik.se"))
    bot = build(dataclasses.replace(settings, org=org), notifiers={"console": notifier},
                clock=clock, sender=sender)
    yield bot
    bot.close()


def mail(sender: str, subject: str, body: str, *, dmarc: str, extra: str = "") -> bytes:
    """As the receiver delivers it: its results and its Received: on top; From: as the
    sender's client wrote it (UTF-8 in the header, as SMTPUTF8 mail carries it)."""
    domain = sender.rsplit("@", 1)[1]
    return (f"Authentication-Results: {MX}; dmarc={dmarc} (p=none dis=none) header.from={domain}\r\n"
            f"Received: from mail.outside.example (mail.outside.example [203.0.113.66])\r\n"
            f"\tby {MX} (Postfix) with ESMTPS id 4CfT1b; Wed, 18 Nov 2026 14:20:08 +0100 (CET)\r\n"
            f"From: Anna Andersson <{sender}>\r\n"
            f"To: Registrator VOK <registrator.vok@exempelby.se>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Wed, 18 Nov 2026 14:20:00 +0100\r\n"
            f"Message-ID: <{abs(hash((sender, subject, body))):x}@outside.example>\r\n"
            f"{extra}"
            f"MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n").encode("utf-8")


def ingest(bot, raw: bytes):
    before = {n["id"] for n in bot.store.outbox()}
    result = bot.services.ingest_mail(raw)
    queued = {(n["recipient"], n["event"]) for n in bot.store.outbox() if n["id"] not in before}
    return result, queued


def open_case(bot):
    result, _ = ingest(bot, (FIXTURES / "incoming_region.eml").read_bytes())
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)


def snapshot(bot):
    return bot.store.get_case_by_text(CASE1).to_dict(), len(list(bot.store.all_cases()))


# look-alikes of anna.andersson@norrvik.se: each is another address
LOOK_ALIKES = {
    "kelvin sign": "anna.andersson@norrvi\u212a.se",
    "cyrillic a": "\u0430nna.andersson@norrvik.se",
    "cyrillic e": "anna.and\u0435rsson@norrvik.se",
    "cyrillic o": "anna.andersson@n\u043errvik.se",
    "fullwidth": "anna.andersson@norrvik.\uff53\uff45",
    "dotless i": "anna.andersson@norrv\u0131k.se",
    "long s": "anna.ander\u017f\u017fon@norrvik.se",
    "combining mark": "anna.andersson@norrvi\u0301k.se",
    "combining in local part": "anna\u0307.andersson@norrvik.se",
    "soft hyphen": "anna.andersson@norr\u00advik.se",
    "zero-width space": "anna.anders\u200bson@norrvik.se",
    "idna a-label": "anna.andersson@" + idna.encode("n\u043errvik.se", uts46=False).decode(),
    "digit zero": "anna.andersson@n0rrvik.se",
    "subdomain look-alike": "anna.andersson@mail.n\u043errvik.se",
}


@pytest.mark.parametrize("dmarc", ["none", "pass"])
@pytest.mark.parametrize("variant", sorted(LOOK_ALIKES))
def test_a_look_alike_of_a_manager_never_files_the_units_response(lk_bot, variant, dmarc):
    open_case(lk_bot)
    before = snapshot(lk_bot)

    result, queued = ingest(lk_bot, mail(LOOK_ALIKES[variant], f"SV: {CASE1} svar",
                                         "Vårt svar på avvikelsen: rutinen är ändrad.",
                                         dmarc=dmarc))

    assert result["outcome"] == "triage", result
    assert result["diary_number"] is None
    assert "liknar" in result["reason"], result["reason"]
    assert snapshot(lk_bot) == before, "the case is exactly as before (no response, no status)"
    assert lk_bot.store.get_case_by_text(CASE1).status != "response_received"
    assert queued == {("rut", "triage")}


@pytest.mark.parametrize("variant", ["kelvin sign", "cyrillic e", "idna a-label", "long s"])
def test_a_look_alike_of_the_registrator_sets_no_severity(lk_bot, variant):
    open_case(lk_bot)
    before = snapshot(lk_bot)
    rut_lookalike = {"kelvin sign": "rut.registrator@exempelby.s\u0435",
                     "cyrillic e": "rut.r\u0435gistrator@exempelby.se",
                     "idna a-label": "rut.registrator@" + idna.encode("\u0435x\u0435mpelby.se",
                                                                      uts46=False).decode(),
                     "long s": "rut.regi\u017ftrator@exempelby.se"}[variant]

    result, queued = ingest(lk_bot, mail(rut_lookalike, f"VB: {CASE1}",
                                         f"Ärende: {CASE1}\nAllvarlighetsgrad: röd\n",
                                         dmarc="pass"))

    assert result["outcome"] == "triage", result
    assert "liknar" in result["reason"]
    assert snapshot(lk_bot) == before
    assert lk_bot.store.get_case_by_text(CASE1).severity != "red"
    assert queued == {("rut", "triage")}


@pytest.mark.parametrize("variant", ["kelvin sign", "cyrillic a", "fullwidth", "combining mark"])
def test_a_look_alike_answering_a_notification_runs_no_command(lk_bot, variant):
    open_case(lk_bot)
    before = snapshot(lk_bot)

    result, queued = ingest(lk_bot, mail(
        LOOK_ALIKES[variant], f"SV: {CASE1} Ny inkommande avvikelse", "klar\n\n> citat",
        dmarc="pass", extra=f"In-Reply-To: <{NOTIFICATION_ID}>\r\n"))

    assert result["outcome"] == "triage", result
    assert "liknar" in result["reason"]
    assert snapshot(lk_bot) == before
    assert queued == {("rut", "triage")}


@pytest.mark.parametrize("written", ["ANNA.ANDERSSON@NORRVIK.SE", "Anna.Andersson@Norrvik.Se",
                                     "anna.andersson@norrvik.se."])
def test_the_same_address_in_other_ascii_case_is_anna(lk_bot, written):
    open_case(lk_bot)

    result, _ = ingest(lk_bot, mail(written, f"SV: {CASE1} svar",
                                    "Vårt svar på avvikelsen: rutinen är ändrad.", dmarc="pass"))

    assert (result["outcome"], result["document"]) == ("added_to_case", "response"), result
    case = lk_bot.store.get_case_by_text(CASE1)
    assert case.status == "response_received"
    assert case.documents[-1].sender == ANNA


def test_annas_own_address_unverified_files_nothing(lk_bot):
    """dmarc=none from the trusted receiver is not verified: a unit's response needs pass."""
    open_case(lk_bot)
    before = snapshot(lk_bot)

    result, queued = ingest(lk_bot, mail(ANNA, f"SV: {CASE1} svar", "Vårt svar.", dmarc="none"))

    assert result["outcome"] == "triage"
    assert "inte verifierad" in result["reason"] and "dmarc=none" in result["reason"]
    assert snapshot(lk_bot) == before
    assert queued == {("rut", "triage")}


def test_the_registrators_own_address_unverified_obeys_no_override_line(lk_bot):
    open_case(lk_bot)
    before = snapshot(lk_bot)

    result, queued = ingest(lk_bot, mail(RUT, f"VB: {CASE1}",
                                         f"Ärende: {CASE1}\nAllvarlighetsgrad: röd\n", dmarc="none"))

    assert result["outcome"] == "triage"
    assert "registrator" in result["reason"] and "dmarc=none" in result["reason"]
    assert snapshot(lk_bot) == before
    assert queued == {("rut", "triage")}


def test_the_registrators_verified_override_still_works(lk_bot):
    open_case(lk_bot)

    result, _ = ingest(lk_bot, mail(RUT, f"Angående {CASE1}",
                                    f"Ärende: {CASE1}\nAllvarlighetsgrad: röd\n", dmarc="pass"))

    assert (result["outcome"], result["severity"]) == ("added_to_case", "red"), result


@pytest.mark.parametrize("lisa", ["lisa.larsson@regi\u043enexempel.se",       # Cyrillic о
                                  "lisa.larsson@reg\u0131onexempel.se",       # dotless ı
                                  "lisa.larsson@regionexempeI.se"])           # capital I for l
def test_a_verified_registrator_forwarding_a_look_alike_files_nothing(lk_bot, lisa):
    """The registrator is who she says, the mail she forwards is from a look-alike of the
    counterpart: nothing is attached to the case; she is told why."""
    open_case(lk_bot)
    before = snapshot(lk_bot)
    body = (f"Ärende: {CASE1}\n\n-----Ursprungligt meddelande-----\n"
            f"Från: Lisa Larsson <{lisa}>\nSkickat: den 18 november 2026 14:02\n"
            f"Till: Registrator VOK <registrator.vok@exempelby.se>\n"
            f"Ämne: Komplettering {CASE1}\n\nHär är vår komplettering.\n")

    result, queued = ingest(lk_bot, mail(RUT, f"VB: Komplettering {CASE1}", body, dmarc="pass"))

    assert result["outcome"] == "triage", result
    assert "liknar" in result["reason"] and "regionexempel.se" in result["reason"]
    assert snapshot(lk_bot) == before
    assert queued == {("rut", "triage")}
