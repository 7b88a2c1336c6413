"""A sender is who the receiving server verified, not what From: claims (DESIGN §8).

End to end through Services.ingest_mail on a wired bot whose organisation trusts Exchange
Online ("exchange-online") or a Postfix/OpenDMARC receiver ("mx.exempelby.se"). The mails
in tests/fixtures/mail/auth/ carry the headers those receivers really write: Exchange's
Authentication-Results without an authserv-id plus X-MS-Exchange-Organization-AuthAs,
OpenDMARC's `mx.exempelby.se; dmarc=fail (p=… dis=none) header.from=…`, and below the
receiver's own Received: line the `dmarc=pass` results a forger wrote himself.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.app import build
from bot.domain.access import Actor
from tests.fakes.mail import make_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
AUTH = FIXTURES / "auth"
CASE1 = "VOK 2026/0001"


def auth(name: str) -> bytes:
    return (AUTH / name).read_bytes()


def wired(settings, clock, notifier, sender, trusted: tuple[str, ...], **org_changes):
    org = dataclasses.replace(settings.org, trusted_authserv_ids=trusted, **org_changes)
    return build(dataclasses.replace(settings, org=org), notifiers={"console": notifier},
                 clock=clock, sender=sender)


@pytest.fixture
def exo_bot(settings, clock, notifier, sender):
    bot = wired(settings, clock, notifier, sender, ("exchange-online",))
    yield bot
    bot.close()


@pytest.fixture
def postfix_bot(settings, clock, notifier, sender):
    bot = wired(settings, clock, notifier, sender, ("mx.exempelby.se",))
    yield bot
    bot.close()


def ingest(bot, raw: bytes) -> tuple[dict, set[tuple[str, str]]]:
    before = {n["id"] for n in bot.store.outbox()}
    result = bot.services.ingest_mail(raw)
    queued = {(n["recipient"], n["event"]) for n in bot.store.outbox() if n["id"] not in before}
    return result, queued


def open_incoming_case(bot):
    result, _ = ingest(bot, (FIXTURES / "incoming_region.eml").read_bytes())
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)
    return bot.store.get_case_by_text(CASE1)


def snapshot(bot):
    return bot.store.get_case_by_text(CASE1).to_dict(), len(list(bot.store.all_cases()))


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "cli")


# ============================================================================ Exchange Online
def test_forged_manager_response_never_changes_the_case_and_never_reaches_skicka(exo_bot, sender):
    open_incoming_case(exo_bot)
    before = snapshot(exo_bot)

    result, queued = ingest(exo_bot, auth("exo_forged_manager_response.eml"))

    assert result["outcome"] == "triage"
    assert result["diary_number"] is None
    assert "anna.andersson@exempelby.se" in result["reason"] and "förfalskad" in result["reason"]
    assert snapshot(exo_bot) == before, "the case is exactly as before"
    assert queued == {("rut", "triage")}, "only the registrator is asked; no manager, no MA"
    # the registrator cannot send the forged 'response' on: the case has none
    reply = say(exo_bot, "rut", f"skicka {CASE1}")
    assert not reply.ok
    exo_bot.services.deliver_outbox()
    assert sender.sent == []


def test_genuine_manager_response_from_inside_the_tenant_is_filed_and_sent_on(exo_bot, sender):
    open_incoming_case(exo_bot)
    ingest(exo_bot, auth("exo_forged_manager_response.eml"))

    result, queued = ingest(exo_bot, auth("exo_genuine_manager_response.eml"))

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    case = exo_bot.store.get_case_by_text(CASE1)
    assert case.status == "response_received"
    assert [d.sender for d in case.documents] == ["lisa.larsson@regionexempel.se",
                                                  "anna.andersson@exempelby.se"]
    assert ("rut", "response_incoming") in queued
    reply = say(exo_bot, "rut", f"skicka {CASE1}")
    assert reply.ok, reply.text
    exo_bot.services.deliver_outbox()      # the outbox sends it
    [sent] = sender.sent
    [attached] = list(sent.iter_attachments())
    assert attached.get_content()["Message-ID"] == \
        "<AM9PR07MB71215E0D1C2B3A49@AM9PR07MB7121.eurprd07.prod.outlook.com>", \
        "the genuine response goes to the region, never the forged one"


def test_forged_registrator_forward_cannot_attach_a_mail_or_set_severity(exo_bot):
    open_incoming_case(exo_bot)
    before = snapshot(exo_bot)

    result, queued = ingest(exo_bot, auth("exo_forged_registrator_forward.eml"))

    assert result["outcome"] == "triage"
    assert "rut.registrator@exempelby.se" in result["reason"]
    assert snapshot(exo_bot) == before
    case = exo_bot.store.get_case_by_text(CASE1)
    assert case.severity == "yellow", "the override line 'Allvarlighetsgrad: röd' was not obeyed"
    assert len(case.documents) == 1
    assert queued == {("rut", "triage")}


def test_genuine_registrator_forward_still_attaches_and_sets_severity(exo_bot):
    open_incoming_case(exo_bot)

    result, _ = ingest(exo_bot, auth("exo_genuine_registrator_forward.eml"))

    assert (result["outcome"], result["diary_number"]) == ("added_to_case", CASE1)
    case = exo_bot.store.get_case_by_text(CASE1)
    assert [d.sender for d in case.documents][-1] == "lisa.larsson@regionexempel.se"
    assert result["severity"] == "red"


def test_forged_counterpart_reply_is_triaged_and_a_genuine_one_is_filed(exo_bot):
    open_incoming_case(exo_bot)
    before = snapshot(exo_bot)

    forged, queued = ingest(exo_bot, auth("exo_forged_counterpart_reply.eml"))
    assert forged["outcome"] == "triage" and "lisa.larsson@regionexempel.se" in forged["reason"]
    assert snapshot(exo_bot) == before
    assert queued == {("rut", "triage")}

    genuine, queued = ingest(exo_bot, auth("exo_genuine_counterpart_reply.eml"))
    assert (genuine["outcome"], genuine["diary_number"]) == ("added_to_case", CASE1)
    assert len(exo_bot.store.get_case_by_text(CASE1).documents) == 2


def test_mail_from_outside_claiming_the_bots_own_address_goes_to_triage(exo_bot):
    result, queued = ingest(exo_bot, auth("exo_forged_own_address.eml"))

    assert result["outcome"] == "triage"
    assert "egen adress" in result["reason"] and "utifrån" in result["reason"]
    assert queued == {("rut", "triage")}
    assert list(exo_bot.store.all_cases()) == []
    # the registrator's own mail from the functional mailbox (CC to itself) is still ignored
    own, queued = ingest(exo_bot, (FIXTURES / "own_address.eml").read_bytes())
    assert own["outcome"] == "ignored" and queued == set()


# ============================================================================ Postfix + OpenDMARC
def test_postfix_dmarc_fail_wins_over_the_forgers_own_pass_results_below(postfix_bot, sender):
    open_incoming_case(postfix_bot)
    before = snapshot(postfix_bot)

    result, queued = ingest(postfix_bot, auth("pf_forged_manager_response.eml"))

    assert result["outcome"] == "triage"
    assert "dmarc=fail" in result["reason"]
    assert snapshot(postfix_bot) == before
    assert queued == {("rut", "triage")}
    assert not say(postfix_bot, "rut", f"skicka {CASE1}").ok
    postfix_bot.services.deliver_outbox()
    assert sender.sent == []


def test_without_a_trusted_receiver_the_same_mail_is_believed_as_before(bot):
    """No [mail] trusted_authserv_ids: the bot behaves as it always did (and check-config
    says senders are unverified)."""
    open_incoming_case(bot)
    result, _ = ingest(bot, auth("pf_forged_manager_response.eml"))
    assert (result["outcome"], result["document"]) == ("added_to_case", "response")


def test_postfix_genuine_counterpart_reply_is_filed(postfix_bot):
    open_incoming_case(postfix_bot)
    result, _ = ingest(postfix_bot, auth("pf_genuine_counterpart_reply.eml"))
    assert (result["outcome"], result["diary_number"]) == ("added_to_case", CASE1)


def test_postfix_forged_counterpart_never_opens_a_case(postfix_bot):
    """SPF and DKIM pass, but for the mailing service's domain: DMARC on regionexempel.se fails."""
    result, queued = ingest(postfix_bot, auth("pf_forged_counterpart_new.eml"))
    assert result["outcome"] == "triage"
    assert "patientsakerhet@regionexempel.se" in result["reason"]
    assert list(postfix_bot.store.all_cases()) == []
    assert queued == {("rut", "triage")}


def test_exchange_headers_are_not_believed_when_the_mailbox_is_not_exchange(postfix_bot):
    """With only mx.exempelby.se trusted, an id-less Authentication-Results or an
    X-MS-Exchange-Organization-AuthAs: Internal written by anyone counts for nothing."""
    raw = make_mail(sender="Anna Andersson <anna.andersson@exempelby.se>",
                    subject=f"SV: {CASE1} svar", body="Vårt svar på avvikelsen.",
                    headers={"X-MS-Exchange-Organization-AuthAs": "Internal",
                             "Authentication-Results": "spf=fail (sender IP is 203.0.113.66) "
                             "smtp.mailfrom=exempelby.se; dmarc=fail action=none "
                             "header.from=exempelby.se;compauth=fail reason=000"})
    open_incoming_case(postfix_bot)
    before = snapshot(postfix_bot)
    result, queued = ingest(postfix_bot, raw)
    # neither believed as verified nor as failed: unverified. Filing a unit's response is a
    # privileged effect, which (with a trusted receiver configured) needs a verified sender
    # (issue 23; before, "not failed" was enough and this was filed as the response)
    assert result["outcome"] == "triage"
    assert "inte verifierad" in result["reason"] and "anna.andersson@exempelby.se" in result["reason"]
    assert snapshot(postfix_bot) == before
    assert queued == {("rut", "triage")}


# ============================================================================ automated reports
REPORT = dict(sender="Avvikelsesystemet <noreply-avvikelser@regionexempel.se>",
              subject="Avvikelse 2026-8812: läkemedel, Solgården",
              body="Ny avvikelse registrerad i regionens system.\nEnhet: Solgården\n"
                   "Beskrivning: dosett saknades vid hembesök.\n")


@pytest.mark.parametrize("automated", [True, False])
def test_counterpart_marked_as_sending_automated_reports_gets_them_diarised(
        settings, clock, notifier, sender, automated):
    counterparts = dict(settings.org.counterparts)
    counterparts["region-exempel"] = dataclasses.replace(counterparts["region-exempel"],
                                                         automated_reports=automated)
    bot = wired(settings, clock, notifier, sender, (), counterparts=counterparts)
    try:
        report, queued = ingest(bot, make_mail(
            **REPORT, headers={"Auto-Submitted": "auto-generated",
                               "X-Auto-Response-Suppress": "All"}))
        if automated:
            assert (report["outcome"], report["counterpart"], report["unit"]) == (
                "new_case", "region-exempel", "solgarden")
            assert ("cecilia", "incoming_diarised") in queued
        else:
            assert report["outcome"] == "ignored" and queued == set()
        # its out-of-office and its bounces stay ignored either way
        ooo, queued = ingest(bot, make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject="Automatiskt svar: Avvikelse – utebliven insulindos",
            body="Jag är ledig till och med 30 november.",
            headers={"Auto-Submitted": "auto-replied"}))
        assert ooo["outcome"] == "ignored" and queued == set()
        other, _ = ingest(bot, make_mail(
            sender="Folktandvården <noreply@ftvexempel.se>", subject="Avvikelse rapport",
            body="Automatisk rapport om avvikelse.", headers={"Auto-Submitted": "auto-generated"}))
        assert other["outcome"] == "ignored", "only the marked counterpart's reports count"
    finally:
        bot.close()


def test_a_forged_automated_report_is_not_diarised(settings, clock, notifier, sender):
    counterparts = dict(settings.org.counterparts)
    counterparts["region-exempel"] = dataclasses.replace(counterparts["region-exempel"],
                                                         automated_reports=True)
    bot = wired(settings, clock, notifier, sender, ("mx.exempelby.se",), counterparts=counterparts)
    try:
        forged = make_mail(**REPORT, headers={
            "Auto-Submitted": "auto-generated",
            "Authentication-Results": "mx.exempelby.se; dmarc=fail (p=none dis=none) "
                                      "header.from=regionexempel.se"})
        result, _ = ingest(bot, forged)
        assert result["outcome"] == "ignored", "a forged generated report is not diarised"
        assert list(bot.store.all_cases()) == []
    finally:
        bot.close()
