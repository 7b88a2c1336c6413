"""Every mail intake rule of DESIGN §4, end to end through Services.ingest_mail.

The mails in tests/fixtures/mail/ are hand-written the way Outlook/Exchange, Gmail and
Thunderbird write them (headers, MIME structure, charsets, quoting); variants of one rule
are built with make_mail. Every test asserts what a user sees: the outcome, the diary
number, the case afterwards and who was told what in the outbox.
"""
from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.domain.access import Actor
from bot.mail.classify import make_title
from tests.fakes.mail import make_mail

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
CASE1 = "VOK 2026/0001"
PNR = "19121212-1212"          # Skatteverket's test personnummer

REGION = "Lisa Larsson <lisa.larsson@regionexempel.se>"
ANNA = "Anna Andersson <anna.andersson@exempelby.se>"
MARIA = "Maria Medicinsson <maria.medicinsson@exempelby.se>"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def ingest(bot, raw: bytes, **kwargs) -> tuple[dict, set[tuple[str, str]]]:
    """One mail in; the result and the (recipient, event) pairs it queued."""
    before = {n["id"] for n in bot.store.outbox()}
    result = bot.services.ingest_mail(raw, **kwargs)
    queued = {(n["recipient"], n["event"]) for n in bot.store.outbox() if n["id"] not in before}
    return result, queued


def case1(bot):
    return bot.store.get_case_by_text(CASE1)


def case_count(bot) -> int:
    return len(list(bot.store.all_cases()))


def outbox_text(bot, recipient: str) -> str:
    return "\n".join(n["text"] for n in bot.store.outbox() if n["recipient"] == recipient)


def open_incoming_case(bot) -> None:
    """VOK 2026/0001: Region Exempel's deviation for Hemtjänst Norr."""
    result, _ = ingest(bot, fixture("incoming_region.eml"))
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)


def open_outgoing_case(bot) -> None:
    """VOK 2026/0001: the SAS's deviation to Vårdcentralen Torget, Solgården."""
    result, _ = ingest(bot, fixture("outgoing_from_sas.eml"))
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)


def region_mail(subject: str, body: str, **kwargs) -> bytes:
    return make_mail(sender=REGION, subject=subject, body=body, **kwargs)


def registrator_forward(own_text: str, *, original_from: str = REGION,
                        subject: str = "Avvikelse – utebliven hemtjänstinsats, Hemtjänst Norr",
                        body: str = "Hej,\n\nBrukaren fick inget kvällsbesök av Hemtjänst Norr "
                                    "den 12 november.\n\nLisa Larsson\nRegion Exempel\n") -> bytes:
    """An inline forward as Outlook writes it, with the registrator's own text above it."""
    text = (f"{own_text}\n\n________________________________\n"
            f"Från: {original_from}\nSkickat: den 13 november 2026 11:20\n"
            f"Till: Rut Registrator <rut.registrator@exempelby.se>\nÄmne: {subject}\n\n{body}")
    return make_mail(sender="Rut Registrator <rut.registrator@exempelby.se>",
                     subject=f"VB: {subject}", body=text)


# ============================================================================ rule 5: new cases
def test_incoming_deviation_from_a_counterpart_domain(bot):
    result, queued = ingest(bot, fixture("incoming_region.eml"))

    assert result["outcome"] == "new_case"
    assert result["diary_number"] == CASE1
    assert "Region Exempel" in result["reason"]
    case = case1(bot)
    assert (case.kind, case.unit, case.counterpart, case.severity, case.status) == (
        "incoming", "hemtjanst-norr", "region-exempel", "yellow", "diarised")
    assert case.title == "Avvikelse – utebliven insulindos, Hemtjänst Norr"
    assert [(d.no, d.type, d.sender) for d in case.documents] == [
        (1, "deviation", "lisa.larsson@regionexempel.se")]
    # the manager acts; MA (all units) and SAS (Hemtjänst Norr) get copies
    assert queued == {("anna", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("sven", "incoming_diarised")}
    roles = {n["recipient"]: n["view"]["role"] for n in bot.store.outbox()}
    assert roles == {"anna": "act", "maria": "info", "sven": "info"}


def test_any_mail_from_a_counterpart_domain_opens_a_case_even_without_the_word(bot):
    raw = make_mail(sender="Tandhygienist Folktandvården <tandhygienist@ftvexempel.se>",
                    subject="Munvård på Solgården",
                    body="Hej,\n\nTre boende på Solgården har inte fått munvård enligt ordination "
                         "sedan förra veckan.\n\nFolktandvården Exempel\n")
    result, queued = ingest(bot, raw)

    assert (result["outcome"], result["kind"], result["counterpart"], result["unit"]) == (
        "new_case", "incoming", "folktandvarden", "solgarden")
    assert queued == {("cecilia", "incoming_diarised"), ("maria", "incoming_diarised")}


def test_subdomain_maps_to_the_most_specific_counterpart(bot):
    result, queued = ingest(bot, fixture("incoming_sjukhus.eml"))

    # sjukhus.regionexempel.se is Exempelby sjukhus, not Region Exempel (regionexempel.se)
    assert (result["outcome"], result["counterpart"]) == ("new_case", "sjukhuset")
    case = case1(bot)
    assert (case.kind, case.unit, case.severity) == ("incoming", "bjorkhagen", "green")
    assert case.title == "Avvikelse vid utskrivning till Björkhagen"
    assert queued == {("david", "incoming_diarised"), ("maria", "incoming_diarised")}


@pytest.mark.parametrize("address, counterpart", [
    ("rontgen@lab.sjukhus.regionexempel.se", "sjukhuset"),
    ("Avvikelser@SJUKHUS.RegionExempel.SE", "sjukhuset"),
    ("distriktsskoterska@vardcentral.regionexempel.se", "region-exempel"),
    ("patientsakerhet@regionexempel.se", "region-exempel"),
])
def test_subdomains_match_their_counterpart(bot, address, counterpart):
    raw = make_mail(sender=address, subject="Avvikelse Hemtjänst Norr",
                    body="Vi rapporterar en avvikelse gällande Hemtjänst Norr.\n")
    result, _ = ingest(bot, raw)
    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "incoming", counterpart)


def test_unknown_external_sender_mentioning_avvikelse_opens_an_incoming_case(bot):
    result, queued = ingest(bot, fixture("incoming_unknown_external.eml"))

    assert result["outcome"] == "new_case"
    assert "jonas.ek@lyftteknik-syd.se" in result["reason"]
    case = case1(bot)
    assert (case.kind, case.counterpart, case.unit) == ("incoming", None, "solgarden")
    assert case.title == "Avvikelse: felmonterad lyftsele på Solgården"
    assert queued == {("cecilia", "incoming_diarised"), ("maria", "incoming_diarised")}
    assert "okänd motpart" in outbox_text(bot, "cecilia")


@pytest.mark.parametrize("subject, body", [
    ("Rapport från Lyftteknik Syd", "Vi vill rapportera en avvikelse på Björkhagen."),
    ("Händelse på Björkhagen", "Avvikelsen gäller en lyftsele på Björkhagen."),
    ("Avvikelser vid service, Björkhagen", "Se nedan."),
    ("Läkemedelsavvikelse Björkhagen", "Dosen gavs två gånger."),
    ("AVVIKELSERAPPORT", "Gäller Björkhagens korttidsboende."),
])
def test_every_form_of_the_word_counts(bot, subject, body):
    raw = make_mail(sender="Jonas Ek <jonas.ek@lyftteknik-syd.se>", subject=subject, body=body)
    result, queued = ingest(bot, raw)
    assert (result["outcome"], result["kind"], result["counterpart"], result["unit"]) == (
        "new_case", "incoming", None, "bjorkhagen")
    assert ("david", "incoming_diarised") in queued


def test_internal_mail_without_the_word_goes_to_triage(bot):
    raw = make_mail(sender=ANNA, subject="Semesterlistan för jul",
                    body="Hej Rut,\n\nHar du fått semesterlistan från Hemtjänst Norr?\n\nAnna\n")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "triage"
    assert queued == {("rut", "triage")}
    assert case_count(bot) == 0


def test_external_sender_without_the_word_goes_to_triage(bot):
    result, queued = ingest(bot, fixture("external_question.eml"))

    assert result["outcome"] == "triage"
    assert result["diary_number"] is None
    assert "inget som liknar en avvikelse" in result["reason"]
    assert case_count(bot) == 0
    assert queued == {("rut", "triage")}
    triage = bot.store.outbox()[0]
    assert "eva.persson1957@gmail.com" in triage["text"]
    assert set(triage["view"]["unit_choices"]) == set(bot.settings.org.units)


# ============================================================================ outgoing cases
def test_outgoing_deviation_from_sas_names_its_counterpart(bot):
    result, queued = ingest(bot, fixture("outgoing_from_sas.eml"))

    assert result["outcome"] == "new_case"
    assert "sven.samordnare@exempelby.se" in result["reason"]
    case = case1(bot)
    assert (case.kind, case.counterpart, case.unit, case.status) == (
        "outgoing", "vardcentralen", "solgarden", "diarised")
    assert case.title == "Avvikelse till Vårdcentralen Torget – dosrecept ej förnyat, Solgården"
    # the registrator sends it; MA gets a copy; the unit's manager has nothing to do yet
    assert queued == {("rut", "outgoing_diarised"), ("maria", "outgoing_diarised")}
    assert "Vårdcentralen Torget" in outbox_text(bot, "rut")


@pytest.mark.parametrize("source", ["two counterparts", "none"])
def test_outgoing_deviation_with_no_single_counterpart_leaves_it_unknown(bot, source):
    if source == "two counterparts":
        raw = fixture("outgoing_from_ma_two_counterparts.eml")
    else:
        raw = make_mail(sender=MARIA, subject="Avvikelse – trycksår, Björkhagen",
                        body="Hej Rut,\n\nEn avvikelse att diarieföra: trycksår upptäckt vid "
                             "inskrivning på Björkhagen.\n\nMaria\n")
    result, queued = ingest(bot, raw)

    assert (result["outcome"], result["kind"], result["counterpart"], result["unit"]) == (
        "new_case", "outgoing", None, "bjorkhagen")
    assert ("rut", "outgoing_diarised") in queued
    assert "Motparten är okänd" in outbox_text(bot, "rut")
    assert not {r for r, _ in queued} & {"anna", "bengt", "cecilia", "david", "sven"}


# ============================================================================ responses
def test_units_response_on_an_incoming_case(bot):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture("response_internal.eml"))

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    assert CASE1 in result["reason"]
    case = case1(bot)
    assert case.status == "response_received"
    assert [(d.no, d.type, d.sender) for d in case.documents] == [
        (1, "deviation", "lisa.larsson@regionexempel.se"),
        (2, "response", "anna.andersson@exempelby.se")]
    # the registrator sends it on; MA and SAS get copies; the manager who wrote it is not asked
    assert queued == {("rut", "response_incoming"), ("maria", "response_incoming"),
                      ("sven", "response_incoming")}


def test_counterparts_response_on_an_outgoing_case(bot):
    open_outgoing_case(bot)
    reply = bot.services.handle_command(Actor.person("rut"), f"skickad {CASE1}", "cli")
    assert reply.ok, reply.text
    assert case1(bot).status == "sent"

    result, queued = ingest(bot, fixture("response_counterpart.eml"))

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    case = case1(bot)
    assert case.status == "response_received"
    assert case.documents[-1].sender == "karin.holm@vctorget.se"
    # the unit's manager enters it and closes; MA gets a copy
    assert queued == {("cecilia", "response_outgoing"), ("maria", "response_outgoing")}


# ============================================================================ rule 4: references
def test_reply_to_the_first_mail_is_threaded_by_message_id(bot):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture("reply_in_thread.eml"))

    # no diary number anywhere: In-Reply-To/References find the case
    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    assert "samma tråd" in result["reason"]
    assert case1(bot).status == "response_received"
    assert case_count(bot) == 1
    assert ("rut", "response_incoming") in queued


def test_counterparts_own_follow_up_in_the_thread_is_a_supplement(bot):
    open_incoming_case(bot)
    first_id = case1(bot).documents[0].message_id
    raw = region_mail("SV: Avvikelse – utebliven insulindos, Hemtjänst Norr",
                      "Hej,\n\nEn rättelse: händelsen inträffade kl. 07.45.\n\nLisa\n",
                      in_reply_to=f"<{first_id}>")
    result, queued = ingest(bot, raw)

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "supplement")
    assert case1(bot).status == "diarised"
    assert queued == {("anna", "supplement")}


def test_reply_to_the_mail_the_bot_sent_is_threaded(bot, sender):
    open_outgoing_case(bot)
    reply = bot.services.handle_command(Actor.person("rut"), f"skicka {CASE1}", "cli")
    assert reply.ok, reply.text
    bot.services.deliver_outbox()
    sent_id = str(sender.sent[0]["Message-ID"])

    # the counterpart's system rewrote the subject: only the thread header is left
    raw = make_mail(sender="Karin Holm <karin.holm@vctorget.se>", subject="Re: Ert ärende",
                    body="Hej,\n\nReceptet är förnyat sedan i går.\n\nKarin Holm\n",
                    in_reply_to=sent_id)
    result, queued = ingest(bot, raw)

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    assert case1(bot).status == "response_received"
    assert ("cecilia", "response_outgoing") in queued


@pytest.mark.parametrize("where", ["subject", "body"])
@pytest.mark.parametrize("written", ["vok 2026/0001", "VOK-2026-0001", "VOK 2026/1",
                                     "VOK2026/0001", "Vok 2026 / 01"])
def test_loose_diary_number_formats(bot, written, where):
    open_incoming_case(bot)
    subject = f"SV: {written} insulindosen" if where == "subject" else "Svar från Hemtjänst Norr"
    body = ("Hej Rut,\n\nVårt svar: rutinen är ändrad.\n\nAnna\n" if where == "subject"
            else f"Hej Rut,\n\nSvar gällande ert dnr {written}: rutinen är ändrad.\n\nAnna\n")
    result, _ = ingest(bot, make_mail(sender=ANNA, subject=subject, body=body))

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    assert case_count(bot) == 1


@pytest.mark.parametrize("text", ["Regionens dnr RS 2026/0001.", "Socialnämndens SN 2026/0001.",
                                  "Telefon 2026/0001, tid 08.00.", "Ref. XVOK 2026/0001"])
def test_numbers_of_other_series_are_not_ours(bot, text):
    result, _ = ingest(bot, region_mail("Avvikelse Hemtjänst Norr",
                                        f"Vi rapporterar en avvikelse. {text}\n"))
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)


def test_diary_number_that_does_not_exist_goes_to_triage(bot):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture("unknown_number.eml"))

    assert result["outcome"] == "triage"
    assert result["reason"] == "diarienumret VOK 2026/0099 finns inte"
    assert queued == {("rut", "triage")}
    assert case_count(bot) == 1
    assert len(case1(bot).documents) == 1
    assert "VOK 2026/0099 finns inte" in outbox_text(bot, "rut")


def test_sender_who_does_not_belong_to_the_case_goes_to_triage(bot):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture("foreign_sender.eml"))

    assert result["outcome"] == "triage"
    assert "hör inte till ärendet" in result["reason"]
    assert "kvalitet@ftvexempel.se" in result["reason"]
    assert queued == {("rut", "triage")}
    triage = [n for n in bot.store.outbox() if n["event"] == "triage"]
    assert triage[0]["diary_number"] == CASE1          # the suggestion
    assert len(case1(bot).documents) == 1
    assert case1(bot).status == "diarised"


# ============================================================================ rule 2: automatic mail
@pytest.mark.parametrize("name", ["autoreply_sv_exchange.eml", "autoreply_en_exchange.eml"])
def test_auto_replies_are_ignored(bot, name):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture(name))

    assert result["outcome"] == "ignored"
    assert result["reason"].startswith("automatiskt mejl")
    assert queued == set()
    assert len(case1(bot).documents) == 1


@pytest.mark.parametrize("subject", [
    "Autosvar: Avvikelse – utebliven insulindos, Hemtjänst Norr",
    "Automatiskt svar: Avvikelse – utebliven insulindos, Hemtjänst Norr",
    "Frånvaro: Avvikelse – utebliven insulindos",
    "Frånvaro",
    "Frånvaromeddelande – Lisa Larsson",
    "Automatic reply: Avvikelse – utebliven insulindos",
    "Out of Office: Avvikelse – utebliven insulindos",
    "OUT OF OFFICE Lisa Larsson",
    "Undeliverable: Avvikelse – utebliven insulindos",
    "Olevererbart: Avvikelse – utebliven insulindos",
    "Läst: Avvikelse – utebliven insulindos",
    "Read: Avvikelse – utebliven insulindos",
])
def test_automatic_subjects_are_ignored(bot, subject):
    raw = region_mail(subject, "Jag är ledig till 23/11. Avvikelser: kontakta "
                               "patientsakerhet@regionexempel.se. Gäller Hemtjänst Norr.\n")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "ignored"
    assert queued == set()
    assert case_count(bot) == 0


@pytest.mark.parametrize("subject", [
    "Frånvaro av kvällsbesök – Hemtjänst Norr",
    "Läsglasögon borttappade vid flytt, Hemtjänst Norr",
    "Readmission efter utskrivning, Hemtjänst Norr",
])
def test_ordinary_subjects_that_look_like_automatic_ones(bot, subject):
    result, queued = ingest(bot, region_mail(subject, "Vi rapporterar en avvikelse.\n"))
    assert (result["outcome"], result["unit"]) == ("new_case", "hemtjanst-norr")
    assert ("anna", "incoming_diarised") in queued


@pytest.mark.parametrize("name, value", [
    ("Auto-Submitted", "auto-replied"),
    ("Auto-Submitted", "auto-generated"),
    ("Auto-Submitted", "auto-notified"),
    ("X-Autoreply", "yes"),
    ("X-Autorespond", "Lisa Larsson är ledig"),
    ("X-Auto-Response-Suppress", "All"),
    ("Precedence", "bulk"),
    ("Precedence", "junk"),
    ("Precedence", "list"),
    ("Precedence", "auto_reply"),
    ("List-Unsubscribe", "<mailto:avsluta@lista.regionexempel.se>"),
    ("List-Id", "Patientsakerhet <patientsakerhet.lista.regionexempel.se>"),
])
def test_automatic_headers_are_ignored(bot, name, value):
    raw = region_mail("Avvikelse – utebliven insulindos, Hemtjänst Norr",
                      "Vi rapporterar en avvikelse gällande Hemtjänst Norr.\n",
                      headers={name: value})
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "ignored"
    assert queued == set()
    assert case_count(bot) == 0


@pytest.mark.parametrize("value", ["no", "No", "no (manuellt skickat)"])
def test_auto_submitted_no_is_an_ordinary_mail(bot, value):
    raw = region_mail("Avvikelse – utebliven insulindos, Hemtjänst Norr",
                      "Vi rapporterar en avvikelse gällande Hemtjänst Norr.\n",
                      headers={"Auto-Submitted": value})
    result, queued = ingest(bot, raw)
    assert (result["outcome"], result["counterpart"]) == ("new_case", "region-exempel")
    assert ("anna", "incoming_diarised") in queued


def _without(raw: bytes, header_line: bytes) -> bytes:
    assert header_line in raw
    return raw.replace(header_line, b"")


@pytest.mark.parametrize("variant", ["dsn", "dsn without Auto-Submitted", "mdn"])
def test_delivery_and_read_reports_are_ignored(bot, variant):
    open_incoming_case(bot)
    raw = {
        "dsn": lambda: fixture("dsn_mailer_daemon.eml"),
        "dsn without Auto-Submitted": lambda: _without(fixture("dsn_mailer_daemon.eml"),
                                                       b"Auto-Submitted: auto-replied\n"),
        "mdn": lambda: fixture("mdn_read_receipt.eml"),
    }[variant]()
    result, queued = ingest(bot, raw)

    assert result["outcome"] == "ignored"
    assert queued == set()
    assert len(case1(bot).documents) == 1
    if variant != "dsn":
        assert "multipart/report" in result["reason"]


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx1.exempelby.se",
                                    "postmaster@regionexempel.se"])
def test_mail_from_the_mail_system_is_ignored(bot, sender):
    raw = make_mail(sender=sender, subject="Meddelandet kunde inte levereras",
                    body="Avvikelse – utebliven insulindos, Hemtjänst Norr: mottagaren finns inte.\n")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "ignored"
    assert queued == set()


@pytest.mark.parametrize("variant", ["as sent", "List-Unsubscribe only"])
def test_bulk_newsletter_is_ignored(bot, variant):
    raw = fixture("newsletter_bulk.eml")
    if variant == "List-Unsubscribe only":
        raw = _without(raw, b"Precedence: bulk\n")
        raw = _without(raw, b"List-Id: Nyhetsbrev <nyhetsbrev.vardforbundet-exempel.se>\n")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "ignored"
    assert queued == set()
    assert case_count(bot) == 0


@pytest.mark.parametrize("variant", ["fixture", "upper-case address"])
def test_mail_from_the_bots_own_address_is_ignored(bot, variant):
    raw = fixture("own_address.eml")
    if variant == "upper-case address":
        raw = raw.replace(b"From: Registrator VOK <registrator.vok@exempelby.se>",
                          b"From: Registrator VOK <Registrator.VOK@Exempelby.se>")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "ignored"
    assert "egen adress" in result["reason"]
    assert queued == set()
    assert case_count(bot) == 0


# ============================================================================ rule 3: registrator forwards
def test_registrator_forward_as_attached_message_is_classified_as_the_original(bot):
    result, queued = ingest(bot, fixture("forward_attached.eml"))

    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "incoming", "region-exempel")
    case = case1(bot)
    assert case.title == "Avvikelse läkemedelshantering – Hemtjänst Norr"
    assert (case.unit, case.severity) == ("hemtjanst-norr", "yellow")
    assert case.documents[0].sender == "lisa.larsson@regionexempel.se"
    assert queued == {("anna", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("sven", "incoming_diarised")}


@pytest.mark.parametrize("name, counterpart, unit, title, notified", [
    ("forward_inline_sv.eml", "folktandvarden", "solgarden", "Avvikelse munvård Solgårdens SÄBO",
     {("cecilia", "incoming_diarised"), ("maria", "incoming_diarised")}),
    ("forward_inline_en.eml", "vardcentralen", "hemsjukvard",
     "Avvikelse – ej utförd provtagning, Hemsjukvården",
     {("anna", "incoming_diarised"), ("david", "incoming_diarised"),
      ("maria", "incoming_diarised")}),
])
def test_registrator_inline_forward_is_classified_as_the_original(
        bot, name, counterpart, unit, title, notified):
    result, queued = ingest(bot, fixture(name))

    assert (result["outcome"], result["kind"], result["counterpart"], result["unit"]) == (
        "new_case", "incoming", counterpart, unit)
    case = case1(bot)
    assert case.title == title
    assert not case.documents[0].sender.startswith("rut.")
    assert queued == notified


def test_forward_override_unit(bot):
    result, queued = ingest(bot, fixture("forward_override_unit.eml"))

    # the original says Hemtjänst Norr; the registrator's "Enhet:" line wins
    assert (result["outcome"], result["unit"], result["counterpart"]) == (
        "new_case", "hemtjanst-soder", "region-exempel")
    assert case1(bot).unit == "hemtjanst-soder"
    assert queued == {("bengt", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("sven", "incoming_diarised")}


def test_forward_overrides_in_an_html_only_forward_from_outlook_mobile(bot):
    result, queued = ingest(bot, fixture("forward_inline_html_only.eml"))

    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "incoming", "region-exempel")
    assert (result["unit"], result["severity"]) == ("hemtjanst-soder", "red")
    assert case1(bot).title == "Avvikelse – utebliven hemtjänstinsats, Hemtjänst Norr"
    # red: the SAS (Hemtjänst Söder is social services) is asked for a Lex Sarah assessment
    assert queued == {("bengt", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("sven", "incoming_diarised"), ("sven", "lex_requested")}


@pytest.mark.parametrize("line, unit", [
    ("Enhet: HT Söder", "hemtjanst-soder"),
    ("enhet: hemtjänst söder.", "hemtjanst-soder"),
    ("**Enhet:** Solgårdens SÄBO", "solgarden"),
    ("Enhet: hemsjukvard", "hemsjukvard"),
])
def test_forward_override_unit_is_written_loosely(bot, line, unit):
    result, queued = ingest(bot, registrator_forward(f"{line}\n\n/Rut"))
    assert (result["outcome"], result["unit"]) == ("new_case", unit)
    managers = set(bot.settings.org.managers_of(unit))
    assert {r for r, event in queued if event == "incoming_diarised"} - {"maria", "sven"} == managers


def test_forward_override_with_an_unknown_unit_goes_to_triage(bot):
    result, queued = ingest(bot, registrator_forward("Enhet: Hemtjänst Väster\n\n/Rut"))
    assert result["outcome"] == "triage"
    assert "Hemtjänst Väster" in result["reason"]
    assert queued == {("rut", "triage")}


@pytest.mark.parametrize("line", ["Ärende: VOK 2026/0001", "Dnr: VOK 2026/1",
                                  "Diarienummer: vok-2026-0001", "ärende: VOK 2026/0001."])
def test_forward_override_case_is_written_loosely(bot, line):
    open_incoming_case(bot)
    raw = registrator_forward(f"{line}\n\nAnnas svar kom till mig.\n/Rut",
                              original_from=ANNA, subject="Svar insulindos",
                              body="Hej Rut,\n\nVårt svar: rutinen är ändrad.\n\nAnna\n")
    result, _ = ingest(bot, raw)
    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")


@pytest.mark.parametrize("line, kind, severity", [
    ("Typ: utgående avvikelse", "outgoing", None),
    ("Typ: Utgående", "outgoing", None),
    ("Allvarlighetsgrad: Röd (MA:s bedömning)", "incoming", "red"),
    ("Allvarlighetsgrad: grön.", "incoming", "green"),
])
def test_forward_override_kind_and_severity_are_written_loosely(bot, line, kind, severity):
    result, _ = ingest(bot, registrator_forward(f"{line}\n\n/Rut"))
    assert (result["outcome"], result["kind"], result["severity"]) == ("new_case", kind, severity)


def test_forward_override_case_attaches_the_original_to_that_case(bot):
    open_incoming_case(bot)
    result, queued = ingest(bot, fixture("forward_override_case.eml"))

    assert (result["outcome"], result["diary_number"], result["document"]) == (
        "added_to_case", CASE1, "response")
    case = case1(bot)
    assert case.status == "response_received"
    assert case.documents[-1].sender == "anna.andersson@exempelby.se"
    assert queued == {("rut", "response_incoming"), ("maria", "response_incoming"),
                      ("sven", "response_incoming")}


def test_forward_override_kind(bot):
    raw = fixture("forward_override_type.eml")
    result, queued = ingest(bot, raw)

    # an internal nurse's mail without the word "avvikelse": outgoing only because of "Typ:"
    assert (result["outcome"], result["kind"], result["counterpart"], result["unit"]) == (
        "new_case", "outgoing", "apoteket", "solgarden")
    assert case1(bot).title == "Fel i dosrullen för brukare på Solgården"
    assert ("rut", "outgoing_diarised") in queued


def test_forward_without_the_kind_override_goes_to_triage(bot):
    raw = _without(fixture("forward_override_type.eml"), b"Typ: utg=C3=A5ende\n")
    result, queued = ingest(bot, raw)
    assert result["outcome"] == "triage"
    assert queued == {("rut", "triage")}


@pytest.mark.parametrize("override, severity", [(True, "red"), (False, "yellow")])
def test_forward_override_severity(bot, override, severity):
    raw = fixture("forward_override_severity.eml")
    if not override:
        raw = _without(raw, b"Allvarlighetsgrad: r=C3=B6d\n")
    result, _ = ingest(bot, raw)

    assert (result["outcome"], result["unit"], result["severity"]) == (
        "new_case", "bjorkhagen", severity)
    assert case1(bot).severity == severity


# ============================================================================ decoding
def test_html_only_mail(bot):
    result, queued = ingest(bot, fixture("html_only.eml"))

    assert (result["outcome"], result["counterpart"], result["unit"], result["severity"]) == (
        "new_case", "folktandvarden", "bjorkhagen", "red")
    assert case1(bot).title == "Avvikelse efter akut tandvårdsbesök"
    # red, in a unit with both kinds of care: MA and SAS are asked for a Lex assessment
    assert queued == {("david", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("maria", "lex_requested"), ("sven", "lex_requested")}


@pytest.mark.parametrize("name, counterpart, severity, title", [
    ("latin1_qp.eml", "vardcentralen", None,
     "Avvikelse gällande brukare på Solgårdens särskilda boende"),
    ("cp1252_qp.eml", "apoteket", "green", "Avvikelse – dosrulle Solgården"),
])
def test_legacy_charsets(bot, name, counterpart, severity, title):
    result, queued = ingest(bot, fixture(name))

    assert (result["outcome"], result["counterpart"], result["unit"], result["severity"]) == (
        "new_case", counterpart, "solgarden", severity)
    assert case1(bot).title == title
    assert ("cecilia", "incoming_diarised") in queued


def test_rfc2047_encoded_subject(bot):
    result, queued = ingest(bot, fixture("subject_rfc2047_b64.eml"))

    assert (result["outcome"], result["counterpart"], result["unit"]) == (
        "new_case", None, "hemtjanst-soder")
    assert case1(bot).title == "Avvikelse: fördröjd hemgång, Hemtjänst Söder"
    assert ("bengt", "incoming_diarised") in queued


# ============================================================================ rule 1: duplicates
def test_mail_without_message_id_is_a_duplicate_by_content_hash(bot):
    raw = fixture("no_message_id.eml")
    first, _ = ingest(bot, raw)
    assert (first["outcome"], first["diary_number"], first["message_id"]) == (
        "new_case", CASE1, None)
    assert (first["unit"], first["severity"]) == ("hemsjukvard", "yellow")

    again, queued = ingest(bot, raw)
    assert again["outcome"] == "duplicate"
    assert again["diary_number"] is None
    assert queued == set()
    assert case_count(bot) == 1


@pytest.mark.parametrize("change", ["another Received header", "upper-case Message-ID"])
def test_same_message_id_with_different_bytes_is_a_duplicate(bot, change):
    raw = fixture("incoming_region.eml")
    ingest(bot, raw)
    if change == "another Received header":
        again = (b"Received: from mail.exempelby.se (10.10.0.12) by mail2.exempelby.se "
                 b"(10.10.0.13); Mon, 16 Nov 2026 09:00:00 +0100\r\n" + raw)
    else:
        again = raw.replace(b"<GV1PR07MB9120A1B2C3D4E5F60718293A4B5C6D7E8@GV1PR07MB9120",
                            b"<GV1PR07MB9120A1B2C3D4E5F60718293A4B5C6D7E8@gv1pr07mb9120")
    assert again != raw

    result, queued = ingest(bot, again)
    assert result["outcome"] == "duplicate"
    assert queued == set()
    assert case_count(bot) == 1
    assert len(case1(bot).documents) == 1


# ============================================================================ detection: unit
@pytest.mark.parametrize("source", ["two units", "no unit"])
def test_unknown_unit_asks_the_registrator(bot, source):
    raw = fixture("two_units.eml") if source == "two units" else region_mail(
        "Avvikelse – utebliven provtagning",
        "Hej,\n\nProvet som skulle tas i hemmet den 10/11 blev inte taget.\n\nLisa\n")
    result, queued = ingest(bot, raw)

    assert (result["outcome"], result["unit"]) == ("new_case", None)
    case = case1(bot)
    assert (case.unit, case.status) == (None, "diarised")   # diarised at once all the same
    assert queued == {("rut", "incoming_diarised_no_unit"), ("maria", "incoming_diarised_no_unit")}
    rut = [n for n in bot.store.outbox() if n["recipient"] == "rut"][0]
    assert rut["view"]["role"] == "act"
    assert f"enhet {CASE1} <enhet>" in rut["view"]["commands"]


@pytest.mark.parametrize("text, unit", [
    ("Händelsen gäller hemtjänst norr.", "hemtjanst-norr"),
    ("Händelsen gäller en brukare inom Hemtjänst\nNorr, kvällspatrullen.", "hemtjanst-norr"),
    ("Händelsen gäller Hemtjänst Norrs nattpatrull.", "hemtjanst-norr"),
    ("Händelsen inträffade i Solgårdens matsal.", "solgarden"),
    ("Händelsen inträffade på Solgårdens\nsärskilda boende.", "solgarden"),
    ("Rapporterat av HT Söder.", "hemtjanst-soder"),
    ("Hemsjukvården (HSV) kontaktades.", "hemsjukvard"),
    ("Brukaren bor i Hemtjänst Norrköping.", None),
    ("Brukaren flyttade från Björkhagen till Solgården.", None),
])
def test_unit_detection(bot, text, unit):
    result, _ = ingest(bot, region_mail("Avvikelse", f"Hej,\n\n{text}\n\nLisa\n"))
    assert (result["outcome"], result["unit"]) == ("new_case", unit)


@pytest.mark.parametrize("text, counterpart", [
    ("Receptet förnyades inte av Vårdcentralen\nTorget.", "vardcentralen"),
    ("Sjukhusets utskrivningsmeddelande kom aldrig.", "sjukhuset"),
    ("Regionens läkare ordinerade fel dos.", "region-exempel"),
    ("Dosapoteket och Apoteket levererade fel.", "apoteket"),
    ("Ingen extern part är inblandad.", None),
])
def test_outgoing_counterpart_detection(bot, text, counterpart):
    raw = make_mail(sender=MARIA, subject="Avvikelse Björkhagen",
                    body=f"Hej Rut,\n\nEn avvikelse att skicka: {text}\n\nMaria\n")
    result, _ = ingest(bot, raw)
    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "outgoing", counterpart)


# ============================================================================ detection: severity
@pytest.mark.parametrize("text, severity", [
    ("Allvarlighetsgrad: röd", "red"),
    ("Allvarlighetsgrad: Röd (vårdskada)", "red"),
    ("Händelsen är bedömd som gul.", "yellow"),
    ("Kategori: grön", "green"),
    ("Vår bedömning: GRÖN", "green"),
    ("Severity: red", "red"),
    ("Vi bedömer händelsen som gul.", "yellow"),
    ("Händelsen har bedömts som röd.", "red"),
    ("Riskbedömning: grön", "green"),
    ("Allvarlighetsbedömning:\nGul", "yellow"),
    ("Kategori: läkemedel. Ingen skada uppstod.", None),
    ("Ingen bedömning är gjord ännu.", None),
    ("", None),
])
def test_severity_detection(bot, text, severity):
    raw = region_mail("Avvikelse Hemtjänst Norr",
                      f"Hej,\n\nBrukaren fick fel dos i morse.\n{text}\n\nLisa\n")
    result, _ = ingest(bot, raw)
    assert result["outcome"] == "new_case"
    assert result["severity"] == severity
    assert case1(bot).severity == severity


# ============================================================================ detection: title
@pytest.mark.parametrize("subject, title", [
    ("SV: VB: RE: FW: AW: Antw: Avvikelse insulin", "Avvikelse insulin"),
    ("Re: Sv: Fwd: WG: Svar: Avvikelse insulin", "Avvikelse insulin"),
    ("SV: SV: SV: Avvikelse insulin", "Avvikelse insulin"),
    (f"Avvikelse gällande {PNR}, Hemtjänst Norr", "Avvikelse gällande [personnummer], Hemtjänst Norr"),
    ("SV: Avvikelse 121212-1212", "Avvikelse [personnummer]"),
    ("", "Avvikelse från Region Exempel"),
    ("SV: ", "Avvikelse från Region Exempel"),
])
def test_title(bot, subject, title):
    result, _ = ingest(bot, region_mail(subject, "Vi rapporterar en avvikelse.\n"))
    assert result["outcome"] == "new_case"
    assert case1(bot).title == title


@pytest.mark.parametrize("subject", ["SV: VOK 2026/0042 Avvikelse insulin",
                                     "Avvikelse insulin (VOK-2026-0042)",
                                     "RE: vok 2026/42 – Avvikelse insulin"])
def test_title_without_the_diary_number(subject):
    # any of our numbers sends the mail to rule 4, so the title rule is checked on its own
    assert make_title(subject, "VOK", "x") == "Avvikelse insulin"


# ============================================================================ arrival time
@pytest.mark.parametrize("source, expected", [
    ("topmost Received (Exchange)", "2026-11-16T07:12:40+00:00"),
    ("topmost Received (Postfix, with zone comment)", "2026-11-16T09:41:09+00:00"),
    ("Date only", "2026-11-13T15:05:00+00:00"),
    ("given by the mailbox", "2026-11-14T10:00:00+00:00"),
])
def test_arrival_time(bot, source, expected):
    kwargs = {}
    if source == "Date only":
        raw = region_mail("Avvikelse Hemtjänst Norr", "Vi rapporterar en avvikelse.\n",
                          date=datetime(2026, 11, 13, 16, 5, tzinfo=timezone(timedelta(hours=1))))
        assert b"Received:" not in raw
    elif source.startswith("topmost Received (Postfix"):
        raw = fixture("incoming_unknown_external.eml")
    else:
        raw = fixture("incoming_region.eml")
        if source == "given by the mailbox":
            kwargs["arrived"] = datetime(2026, 11, 14, 10, 0, tzinfo=timezone.utc)
    result, _ = ingest(bot, raw, **kwargs)

    assert result["outcome"] == "new_case"
    case = case1(bot)
    assert case.created == expected
    assert case.documents[0].received == expected
    record = [r for r in bot.store.mail_records() if r["number"] == CASE1][0]
    assert record["received"] == expected


# ============================================================================ raw bytes
def _assert_raw_kept(bot, relative: str, raw: bytes) -> None:
    path = bot.store.data_dir / relative
    assert path.read_bytes() == raw
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.parametrize("name, outcome", [
    ("incoming_region.eml", "new_case"),
    ("forward_attached.eml", "new_case"),
    ("external_question.eml", "triage"),
    ("autoreply_sv_exchange.eml", "ignored"),
    ("dsn_mailer_daemon.eml", "ignored"),
])
def test_raw_bytes_are_kept_for_every_outcome(bot, name, outcome):
    raw = fixture(name)
    result, _ = ingest(bot, raw)
    assert result["outcome"] == outcome

    records = bot.store.mail_records()
    assert len(records) == 1 and records[0]["outcome"] == outcome
    _assert_raw_kept(bot, records[0]["raw"], raw)
    if outcome == "new_case":
        assert case1(bot).documents[0].raw == records[0]["raw"]


# ============================================================================ privacy
def test_notifications_carry_neither_body_nor_personnummer(bot):
    result, queued = ingest(bot, fixture("personnummer.eml"))
    assert result["outcome"] == "new_case"
    assert case1(bot).title == "Avvikelse gällande [personnummer], Hemtjänst Norr"
    assert queued == {("anna", "incoming_diarised"), ("maria", "incoming_diarised"),
                      ("sven", "incoming_diarised")}

    # and a triage notification quotes the subject, never the body
    ingest(bot, region_mail(f"SV: VOK 2026/0077 gällande {PNR}",
                            "Patienten Tolvan Tolvansson fick fel insulin vid kvällsbesöket.\n"))
    everything = json.dumps(bot.store.outbox(), ensure_ascii=False)
    for leak in (PNR, "191212121212", "1212121212", "19701063-2391", "Tolvan",
                 "fick fel insulin", "Samordningsnummer"):
        assert leak not in everything
    assert "[personnummer]" in everything
    for record in bot.store.mail_records():
        assert PNR not in record["subject"]
