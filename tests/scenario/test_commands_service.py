"""Chat commands through Services.handle_command on a wired bot (TinyDB in tmp_path, fixed
clock, recording notifier and mail sender): answers, permissions, what is sent and stored."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.domain.access import Actor
from bot.texts import t
from tests.fakes.mail import make_mail

NUMBER = "VOK 2026/0001"
LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"
LISA_ID = "<avv-1@regionexempel.se>"
TITLE = "Avvikelse Hemtjänst Norr – utebliven insulindos"


def say(bot, who: str | Actor, text: str, channel: str = "cli"):
    actor = who if isinstance(who, Actor) else Actor.person(who)
    return bot.services.handle_command(actor, text, channel)


def ingest(bot, **kw) -> dict:
    result = bot.services.ingest_mail(make_mail(**kw))
    return result


@pytest.fixture
def case(bot):
    """An incoming deviation from the region for Hemtjänst Norr, Monday 16 November 10:00."""
    result = ingest(bot, sender=LISA, subject=TITLE, message_id=LISA_ID,
                    body="Hej,\nvi vill anmäla en avvikelse: brukaren fick inte sin insulindos.\n"
                         "Mvh Lisa Larsson, patientsäkerhetssamordnare")
    assert (result["outcome"], result["diary_number"]) == ("new_case", NUMBER), result
    assert result["unit"] == "hemtjanst-norr"
    return bot.store.get_case_by_text(NUMBER)


def unit_response(bot, *, when=datetime(2026, 11, 18, 13, 0, tzinfo=timezone.utc)) -> dict:
    """Anna mails the unit's response in, with the diary number in the subject."""
    result = ingest(bot, sender="Anna Andersson <anna.andersson@exempelby.se>",
                    subject=f"SV: {NUMBER} {TITLE}", date=when, message_id="<svar-1@exempelby.se>",
                    body="Vi har gått igenom händelsen och infört dubbelkontroll.")
    assert (result["outcome"], result["document"]) == ("added_to_case", "response"), result
    return result


def snapshot(bot):
    case = bot.store.get_case_by_text(NUMBER)
    return case.to_dict(), len(bot.store.outbox())


# --------------------------------------------------------------------------- status
def test_status_answer_has_title_first_then_status_and_next_step(bot, case):
    reply = say(bot, "anna", "status VOK 2026/1")
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "«Avvikelse Hemtjänst Norr – utebliven insulindos»"
    assert NUMBER in lines[1] and "Status: Diarierad" in lines[1]
    assert "Nästa steg: registrera i verksamhetssystemet senast onsdag 18 november" in reply.text
    assert "Hemtjänst Norr" in reply.text and "Region Exempel" in reply.text
    assert "Ej bedömd" in reply.text


@pytest.mark.parametrize("typed", ["VOK 2026/0001", "2026/1", "vok-2026-0001", "VOK 2026/1"])
def test_status_accepts_loose_numbers_and_mentions(bot, case, typed):
    assert say(bot, "rut", f"<@U0123> status {typed}", "slack").text.startswith("«Avvikelse")


def test_status_of_a_case_that_does_not_exist(bot, case):
    reply = say(bot, "rut", "status VOK 2026/0099")
    assert not reply.ok and reply.text == "Ärendet VOK 2026/0099 finns inte."


def test_status_shows_overdue(bot, case, clock):
    clock.set(datetime(2026, 11, 19, 8, 0, tzinfo=timezone.utc))      # Thursday, after Wed 18
    assert "senast onsdag 18 november – FÖRSENAT" in say(bot, "anna", "status 2026/1").text


# --------------------------------------------------------------------------- lists
def test_mina_oppna_forsenade(bot, case, clock):
    assert NUMBER in say(bot, "anna", "mina").text
    assert say(bot, "bengt", "mina").text == "Inga ärenden."
    assert NUMBER in say(bot, "rut", "öppna").text
    assert NUMBER in say(bot, "anna", "öppna Hemtjänst Norr").text
    assert say(bot, "anna", "öppna HT Söder").text == "Inga ärenden."
    assert say(bot, "bengt", "öppna").text == "Inga ärenden.", "not bengt's unit"
    assert say(bot, "anna", "försenade").text == "Inga ärenden."

    clock.set(datetime(2026, 11, 19, 7, 0, tzinfo=timezone.utc))      # Thursday 08:00
    overdue = say(bot, "anna", "försenade")
    assert overdue.text.splitlines()[0] == t("sv", "list_header", count=1)
    assert NUMBER in overdue.text and "«Avvikelse Hemtjänst Norr – utebliven insulindos»" in overdue.text
    assert "FÖRSENAT" in overdue.text
    assert NUMBER in say(bot, "maria", "overdue").text
    assert say(bot, "bengt", "försenade").text == "Inga ärenden."


def test_a_unit_channel_sees_its_own_unit_only(bot, case):
    assert NUMBER in bot.services.handle_command(Actor.channel("hemtjanst-norr"), "öppna", "slack").text
    assert bot.services.handle_command(Actor.channel("hemtjanst-norr"), "status 2026/1",
                                       "slack").ok
    other = bot.services.handle_command(Actor.channel("solgarden"), "status 2026/1", "slack")
    assert not other.ok and NUMBER in other.text


# --------------------------------------------------------------------------- changes
def test_register_assess_action_and_close_refused_with_open_actions(bot, case):
    reply = say(bot, "anna", "registrerad VOK 2026/0001", "slack")
    assert reply.ok and reply.text == f"{NUMBER} är markerat som registrerat i verksamhetssystemet."
    reply = say(bot, "anna", "bedöm VOK 2026/1 röd")
    assert reply.ok and reply.text == f"{NUMBER} är bedömt som Röd."
    assert "senast måndag 23 november" in say(bot, "anna", "status 2026/1").text   # red: 5 days

    reply = say(bot, "anna", "åtgärd VOK 2026/1 Inför dubbelkontroll av insulin senast 2026-12-01")
    assert reply.ok and reply.text == f"Åtgärd 1 är tillagd i {NUMBER}."
    say(bot, "anna", "åtgärd 2026/1 Utbilda personalgruppen")
    assert say(bot, "anna", "åtgärd klar 2026/1 2").ok

    stored = bot.store.get_case_by_text(NUMBER)
    assert (stored.status, stored.severity) == ("registered", "red")
    assert [(a.no, a.due, a.done is not None) for a in stored.actions] == [
        (1, "2026-12-01", False), (2, None, True)]
    assert [e.what for e in stored.events][-6:] == [     # red asks for a Lex assessment
        "status", "assessed", "lex_requested", "action_added", "action_added", "action_done"]
    assert stored.events[-6].channel == "slack" and stored.events[-6].who == "anna"

    unit_response(bot)
    assert say(bot, "rut", "skickad 2026/1").ok
    refused = say(bot, "anna", "avsluta 2026/1")
    assert not refused.ok
    assert NUMBER in refused.text and "1. Inför dubbelkontroll av insulin" in refused.text
    assert "Utbilda" not in refused.text
    assert bot.store.get_case_by_text(NUMBER).status == "response_sent"

    closed = say(bot, "anna", "avsluta 2026/1 åtgärden följs upp i egenkontrollen")
    assert closed.ok and closed.text == f"{NUMBER} är avslutat."
    stored = bot.store.get_case_by_text(NUMBER)
    assert stored.status == "closed"
    assert stored.events[-1].details["reason"] == "åtgärden följs upp i egenkontrollen"
    # a closed case is archived, and still answers
    status = say(bot, "anna", "status 2026/1")
    assert status.ok and "Status: Avslutad" in status.text
    assert NUMBER not in say(bot, "anna", "öppna").text


def test_every_refused_command_changes_nothing(bot, case):
    for who, text in [("anna", "skicka 2026/1"), ("bengt", "registrerad 2026/1"),
                      ("anna", "enhet 2026/1 HT Söder"), ("anna", "avsluta 2026/1"),
                      ("rut", "avsluta 2026/1"), ("anna", "snooza 2026/1 2026-11-01 semester"),
                      ("anna", "åtgärd klar 2026/1 1"), ("okand", "registrerad 2026/1"),
                      ("anna", "bedöm 2026/1 lila"), ("anna", "skickad 2026/1")]:
        before = snapshot(bot)
        reply = say(bot, who, text)
        assert not reply.ok, (who, text, reply.text)
        assert snapshot(bot) == before, (who, text)
        assert not bot.store.dirty


# --------------------------------------------------------------------------- skicka
def test_skicka_by_the_registrator_sends_the_units_response(bot, case, sender):
    unit_response(bot)
    before = bot.store.get_case_by_text(NUMBER)
    reply = say(bot, "rut", "skicka VOK 2026/1", "slack")
    assert reply.ok, reply.text
    assert reply.text.startswith(f"{NUMBER} skickas nu till patientsakerhet@regionexempel.se.")
    assert sender.sent == [] and bot.store.get_case_by_text(NUMBER).status == "response_received"
    assert not say(bot, "rut", "skicka VOK 2026/1").ok, "one send at a time"
    bot.services.deliver_outbox()      # the outbox sends it; the case moves when it went

    assert len(sender.sent) == 1
    mail = sender.sent[0]
    assert mail["To"] == "patientsakerhet@regionexempel.se"
    assert mail["From"] == "registrator.vok@exempelby.se"
    assert NUMBER in mail["Subject"]
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == LISA_ID
    assert LISA_ID in mail["References"]
    attached = [part for part in mail.iter_attachments()]
    assert [p.get_content_type() for p in attached] == ["message/rfc822"]
    inner = attached[0].get_content()
    assert inner["Message-ID"] == "<svar-1@exempelby.se>", "the unit's response, not Lisa's own mail"

    after = bot.store.get_case_by_text(NUMBER)
    assert (before.status, after.status) == ("response_received", "response_sent")
    assert after.documents[-1].type == "sent"
    assert after.documents[-1].message_id == mail["Message-ID"].strip("<>")
    assert after.events[-1].who == "rut" and after.events[-1].channel == "slack"
    # the sent mail is threaded: the counterpart's answer to it finds the case
    assert mail["Message-ID"].strip("<>") in after.message_ids


def test_skicka_is_for_the_registrator_only(bot, case, sender):
    unit_response(bot)
    for who in ("anna", "maria", "sven"):
        before = snapshot(bot)
        reply = say(bot, who, "skicka 2026/1")
        assert not reply.ok and NUMBER in reply.text and "registrator" in reply.text
        assert snapshot(bot) == before
    assert sender.sent == []


def test_skicka_never_sends_what_the_case_refuses(bot, case, sender):
    unit_response(bot)
    assert say(bot, "rut", "skickad 2026/1").ok          # sent by hand already
    reply = say(bot, "rut", "skicka 2026/1")
    assert not reply.ok and reply.text == f"{NUMBER} är redan skickat."
    assert sender.sent == [], "nothing may leave the house when the step is already done"

    assert say(bot, "rut", "avsluta 2026/1").ok
    reply = say(bot, "rut", "skicka 2026/1")
    assert not reply.ok and reply.text == f"{NUMBER} är redan avslutat."
    assert sender.sent == []


def test_skicka_before_the_units_response_sends_nothing(bot, case, sender):
    assert say(bot, "anna", "registrerad 2026/1").ok
    before = snapshot(bot)
    reply = say(bot, "rut", "skicka 2026/1")
    assert not reply.ok and NUMBER in reply.text and "skickad" in reply.text
    assert sender.sent == [] and snapshot(bot) == before


def test_skicka_an_outgoing_deviation(bot, sender):
    result = ingest(bot, sender="Maria Medicinsson <maria.medicinsson@exempelby.se>",
                    subject="Avvikelse till Sjukhuset: utskrivning utan läkemedelslista, Solgården",
                    body="Vi vill skicka en avvikelse till Akutmottagningen. Enhet Solgården.",
                    message_id="<ut-1@exempelby.se>")
    assert (result["outcome"], result["kind"]) == ("new_case", "outgoing"), result
    number = result["diary_number"]
    reply = say(bot, "rut", f"skicka {number}")
    assert reply.ok, reply.text
    bot.services.deliver_outbox()
    mail = sender.sent[-1]
    assert mail["To"] == "avvikelser@sjukhus.regionexempel.se" and number in mail["Subject"]
    assert mail["In-Reply-To"] is None, "nothing from the counterpart to answer yet"
    inner = [p.get_content() for p in mail.iter_attachments()]
    assert [m["Message-ID"] for m in inner] == ["<ut-1@exempelby.se>"]
    assert bot.store.get_case_by_text(number).status == "sent"


# --------------------------------------------------------------------------- subscriptions
def test_prenumerera_gives_info_copies(bot, notifier, clock):
    refused = say(bot, "bengt", "prenumerera Solgården")   # not his unit: he may not see it
    assert not refused.ok and "egna enheter" in refused.text
    reply = say(bot, "sven", "prenumerera Solgården")
    assert reply.ok and reply.text == "Du får nu kopior för kännedom från Solgårdens särskilda boende."
    result = ingest(bot, sender=LISA, subject="Avvikelse Solgården: fel kost serverad",
                    body="Avvikelse gällande Solgårdens särskilda boende.")
    assert result["unit"] == "solgarden", result
    clock.set(clock.now() + timedelta(hours=4))   # kännedom copies go at 13:00 (issue 24)
    bot.services.deliver_outbox()
    copies = notifier.to("sven")
    assert [(n["event"], n["view"]["role"]) for n in copies] == [("incoming_diarised", "info")]
    assert result["diary_number"] in copies[0]["text"]
    assert [n["view"]["role"] for n in notifier.to("cecilia")] == ["act"]

    assert say(bot, "sven", "avprenumerera Solgården").ok
    again = say(bot, "sven", "avprenumerera Solgården")
    assert not again.ok and again.text == "Du prenumererar inte på Solgårdens särskilda boende."
    ingest(bot, sender=LISA, subject="Ny avvikelse Solgården: fall", body="Avvikelse.")
    bot.services.deliver_outbox()
    assert len(notifier.to("sven")) == 1
    assert notifier.to("bengt") == []


def test_prenumerera_alla(bot):
    reply = say(bot, "sven", "prenumerera alla")
    assert reply.ok and "alla enheter" in reply.text
    assert not say(bot, "cecilia", "prenumerera alla").ok


# --------------------------------------------------------------------------- help, typos, strangers
@pytest.mark.parametrize("text", ["hjälp", "help", "?", "", "@Avvikelsebot"])
def test_help(bot, text):
    reply = say(bot, "anna", text)
    assert reply.ok
    assert reply.text.startswith("Så här pratar du med Avvikelsebot")
    assert "status <dnr>" in reply.text and "åtgärd klar <dnr> <nr>" in reply.text


def test_typo_answers_with_a_suggestion_and_help(bot, case):
    reply = say(bot, "anna", "statsu VOK 2026/1")
    assert not reply.ok
    assert reply.text.startswith("Jag förstod inte «statsu». Menade du «status»?")
    assert "Så här pratar du med Avvikelsebot" in reply.text


@pytest.mark.parametrize("text", ["registrerd 2026/1", "bedöm 2026/1", "status", "åtgärd klar 2026/1 x",
                                  "snooza 2026/1 imorgon semester", "öppna Månskenet", "\x00\u202e",
                                  "x" * 10_000])
def test_bad_input_is_answered_never_raised(bot, case, text):
    before = snapshot(bot)
    reply = say(bot, "anna", text)
    assert not reply.ok and reply.text
    assert snapshot(bot) == before


@pytest.mark.parametrize("text", ["status VOK 2026/1", "mina", "öppna", "registrerad 2026/1",
                                  "hjälp", "statsu 2026/1", "prenumerera alla"])
def test_an_unknown_person_gets_the_polite_refusal(bot, case, text):
    for actor in (Actor.person("okand"), Actor("unknown", "U999")):
        before = snapshot(bot)
        reply = bot.services.handle_command(actor, text, "slack")
        assert not reply.ok
        assert reply.text == ("Du finns inte i organisationens katalog, så jag kan inte visa "
                              "eller ändra ärenden. Kontakta registrator.")
        assert snapshot(bot) == before
    assert bot.store.subscriptions() == ()


def test_a_manager_of_another_unit_cannot_see_the_case(bot, case):
    reply = say(bot, "bengt", "status VOK 2026/1")
    assert not reply.ok and reply.text == f"Du har inte behörighet till {NUMBER}."
    assert "insulin" not in reply.text


# --------------------------------------------------------------------------- webb
def test_webb_gives_a_personal_link_only_in_private_and_only_when_the_web_is_on(
        org, tmp_path, clock):
    from bot.app import build
    from bot.settings import Settings
    from tests.conftest import EXAMPLE_CONFIG
    from tests.fakes.notifier import FakeNotifier
    off = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "off", org=org, env={}),
                clock=clock, notifiers={"console": FakeNotifier()})
    try:
        reply = off.services.handle_command(Actor.person("anna"), "webb", "slack")
        assert not reply.ok and "WEB_PORT" in reply.text
    finally:
        off.close()
    on = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "on", org=org,
                        env={"WEB_PORT": "8089", "WEB_BASE_URL": "https://avvikelser.exempelby.se"}),
               clock=clock, notifiers={"console": FakeNotifier()})
    try:
        reply = on.services.handle_command(Actor.person("anna"), "webb", "teams", private=False)
        assert not reply.ok and "privat" in reply.text and "https://" not in reply.text
        first = on.services.handle_command(Actor.person("anna"), "webb", "slack")
        second = on.services.handle_command(Actor.person("anna"), "webb", "slack")
        assert first.ok and "https://avvikelser.exempelby.se/inloggning/" in first.text
        assert first.text != second.text, "a new one-time link each time"
        refused = on.services.handle_command(Actor("unknown"), "webb", "slack")
        assert not refused.ok and "inloggning" not in refused.text
    finally:
        on.close()
