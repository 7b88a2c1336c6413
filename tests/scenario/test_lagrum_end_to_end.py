"""Issue 26 end to end, on both stores: a case's law (HSL, SoL, LSS) decides who investigates
and who assesses Lex Maria / Lex Sarah; the registrator's `Lagrum:` line and `lagrum` command
change it (audited); a complaint from the public and a supplier's safety notice (FSN) are
kinds of their own from intake through notification to closing; a case written before the
law was stored is read by its unit. The mails are hand-written fixtures in tests/fixtures/mail
(the public corpora hold no FSN or Swedish complaint)."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.ports import FixedClock
from bot.report import build_report, render_text
from bot.settings import Settings
from reminders.calendar import BusinessCalendar
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mail"
FORMAT1 = Path(__file__).resolve().parents[1] / "fixtures" / "format1" / "data"
CASE1 = "VOK 2026/0001"


def utc(day: int, hour: int = 7) -> datetime:
    """08:00 in Stockholm is 07:00 UTC in November."""
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["tinydb", "postgresql"])
def store_env(request) -> dict[str, str]:
    """Both stores (the real PostgreSQL from tests/realparts: fails, never skips)."""
    if request.param == "postgresql":
        return {"DATABASE_URL": request.getfixturevalue("database_url")}
    return {}


@pytest.fixture
def make_bot(org, tmp_path, store_env):
    made: list = []
    closed: list = []

    def make(moment: datetime = utc(16)):
        bot = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                             env=store_env),
                    clock=FixedClock(moment), notifiers={"console": FakeNotifier()},
                    sender=FakeMailSender())
        made.append(bot)
        return bot

    def stop(bot):
        """Close the bot (and its store's lock), as a stopped process would."""
        bot.close()
        closed.append(bot)
    make.stop = stop  # type: ignore[attr-defined]
    yield make
    for bot in reversed(made):
        if bot not in closed:
            bot.close()


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "teams")


def ingest(bot, name: str) -> dict:
    return bot.services.ingest_mail((FIXTURES / name).read_bytes())


def queued(bot) -> list[tuple[str, str]]:
    return sorted((n["event"], n["recipient"]) for n in bot.store.outbox())


def text_to(bot, recipient: str, event: str) -> str:
    return "\n".join(n["text"] for n in bot.store.outbox()
                     if n["recipient"] == recipient and n["event"] == event)


def test_hsl_is_investigated_by_the_licensed_contact_and_reminded_to_them(make_bot):
    bot = make_bot()
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse – läkemedel, Kommunal hemsjukvård",
        body="Patienten fick inte sitt blodförtunnande läkemedel under helgen.",
        message_id="<hsl-1@regionexempel.se>", date=utc(16, 8)))
    assert (result["outcome"], result["diary_number"]) == ("new_case", CASE1)
    assert "Lagrum: HSL" in say(bot, "rut", "status 2026/1").text
    reply = say(bot, "anna", "registrerad 2026/1")
    assert reply.ok
    # the MA is told the investigation is hers, with the deadline
    assert ("investigate", "maria") in queued(bot)
    assert "hanteras enligt HSL" in text_to(bot, "maria", "investigate")
    # the respond step's reminder (10 business days, unassessed: Monday 30 November) goes
    # to her the next morning, not to the enhetschef
    bot.services.run_reminders(datetime(2026, 12, 1, 7, 0, tzinfo=timezone.utc))
    reminded = {n["recipient"] for n in bot.store.outbox() if n["event"] == "reminder"}
    assert reminded == {"maria"}


def test_the_registrators_lagrum_line_and_command_route_the_investigation(make_bot):
    bot = make_bot(utc(19, 9))
    result = ingest(bot, "forward_override_lagrum.eml")
    assert result["outcome"] == "new_case" and result["unit"] == "hemtjanst-soder"
    case = bot.store.get_case_by_text(CASE1)
    assert (case.lagrum, case.lagrum_by) == ("LSS", "registrator")
    assert say(bot, "bengt", "registrerad 2026/1").ok
    status = bot.services.queries.status_json(bot.store.get_case_by_text(CASE1))
    assert status["lagrum"] == "LSS" and status["deadline"]["owners"] == ["bengt"]

    # a manager may not change the law; the registrator may, and it is in the audit trail
    assert not say(bot, "bengt", "lagrum 2026/1 HSL").ok
    refused = say(bot, "rut", "lagrum 2026/1 hälsa")
    assert not refused.ok and "HSL, SoL, LSS" in refused.text
    reply = say(bot, "rut", "lagrum 2026/1 hsl")
    assert reply.ok and reply.text == "VOK 2026/0001 hanteras nu enligt HSL."
    case = bot.store.get_case_by_text(CASE1)
    assert (case.events[-1].what, case.events[-1].who, case.events[-1].details) == (
        "lagrum", "rut", {"from": "LSS", "to": "HSL", "by": "registrator"})
    status = bot.services.queries.status_json(case)
    assert status["lagrum"] == "HSL" and status["deadline"]["owners"] == ["maria"]


def test_a_complaint_from_the_public_is_answered_and_closed(make_bot):
    bot = make_bot(utc(17, 15))
    result = ingest(bot, "complaint_private.eml")
    assert (result["outcome"], result["kind"], result["unit"], result["counterpart"]) == (
        "new_case", "klagomål", "hemtjanst-norr", None)
    # the enhetschef is asked to answer the complainant, by the complaint deadline (10 days)
    assert ("complaint_diarised", "anna") in queued(bot)
    notice = text_to(bot, "anna", "complaint_diarised")
    assert "Klagomål diarierat för Hemtjänst Norr" in notice
    assert "Svara den som klagat senast tisdag 1 december" in notice
    assert "skickad VOK 2026/0001" in notice
    status = say(bot, "anna", "status 2026/1").text
    assert "Klagomål" in status and "Lagrum: SoL" in status and "besvara klagomålet" in status

    # the answer is the unit's own: its manager marks it sent, then closes
    assert say(bot, "anna", "skickad 2026/1").ok
    assert bot.store.get_case_by_text(CASE1).status == "answered"
    assert say(bot, "anna", "avsluta 2026/1").ok
    assert bot.store.get_case_by_text(CASE1).is_closed


def test_a_region_mail_quoting_a_complaint_stays_the_regions_deviation(make_bot):
    bot = make_bot(utc(19, 13))
    result = ingest(bot, "region_quoting_complaint.eml")
    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "incoming", "region-exempel")


def test_a_safety_notice_closes_only_with_the_supplier_answered_and_a_yes_or_no(make_bot):
    bot = make_bot(utc(18, 9))
    result = ingest(bot, "fsn_supplier.eml")
    assert (result["outcome"], result["kind"], result["counterpart"]) == (
        "new_case", "fsn", "medicinteknik")
    case = bot.store.get_case_by_text(CASE1)
    assert case.lagrum == "HSL" and case.lex_requested is None
    # the MA handles it (licensed contact; the unit is not known), the registrator hears of it
    assert ("fsn_diarised", "maria") in queued(bot) and ("fsn_diarised", "rut") in queued(bot)
    assert "avsluta VOK 2026/0001 svar till leverantören skickat, Läkemedelsverket ja|nej" in \
        text_to(bot, "maria", "fsn_diarised")

    refused = say(bot, "maria", "avsluta 2026/1 klart")
    assert not refused.ok
    assert refused.text.startswith("VOK 2026/0001 är ett säkerhetsmeddelande (FSN) och kan "
                                   "avslutas först när svaret till leverantören är skickat")
    assert not bot.store.get_case_by_text(CASE1).is_closed

    reply = say(bot, "maria", "avsluta 2026/1 svar till leverantören skickat, "
                              "Läkemedelsverket nej, inga X200 hos oss")
    assert reply.ok and "ingen rapport till Läkemedelsverket" in reply.text

    # what was recorded survives a restart of the bot on the same store
    make_bot.stop(bot)
    again = make_bot(utc(18, 10))
    case = again.store.get_case_by_text(CASE1)
    assert case.is_closed and case.fsn_closing["lmv_reported"] is False
    assert case.close_reason == "inga X200 hos oss"
    assert ("Säkerhetsmeddelande: svar till leverantören skickat, ingen rapport till "
            "Läkemedelsverket") in say(again, "rut", "status 2026/1").text


def test_the_report_counts_complaints_and_notices_apart_and_splits_by_law(make_bot, org):
    bot = make_bot(utc(19, 13))
    for name in ("complaint_private.eml", "fsn_supplier.eml", "forward_override_lagrum.eml",
                 "region_quoting_complaint.eml"):
        assert ingest(bot, name)["outcome"] == "new_case", name
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    report = build_report(bot.store.all_cases(), org, calendar, 2026, utc(20))
    assert {c.name: c.count for c in report.by_kind} == {
        "Inkommande avvikelse": 2, "Utgående avvikelse": 0, "Klagomål": 1,
        "Säkerhetsmeddelande (FSN)": 1}
    # complaint at Hemtjänst Norr: SoL; FSN: HSL; the registrator's LSS; the region's
    # deviation at Solgården (both kinds of care, the region says nothing here): undecided
    assert {c.name: c.count for c in report.by_lagrum} == {
        "HSL": 1, "SoL": 1, "LSS": 1, "Ej bestämt": 1}
    assert "Per lagrum" in render_text(report)


def test_a_case_stored_before_lagrum_is_read_by_its_unit_on_postgresql(org, tmp_path, database_url):
    """A case from 0.3.0 has no lagrum in its record: read gracefully, derived from its
    unit (the stored document is stripped to what 0.3.0 wrote)."""
    import psycopg
    bot = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                         env={"DATABASE_URL": database_url}),
                clock=FixedClock(utc(16)), notifiers={"console": FakeNotifier()},
                sender=FakeMailSender())
    try:
        bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject="Avvikelse, Kommunal hemsjukvård", body="Fel dos.",
            message_id="<old-shape@regionexempel.se>", date=utc(16, 8)))
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("UPDATE cases SET doc = doc - 'lagrum' - 'lagrum_by' - 'fsn_closing'")
            row = conn.execute("SELECT doc ? 'lagrum' FROM cases").fetchone()
            assert row is not None and row[0] is False
        case = bot.store.get_case_by_text(CASE1)
        assert case is not None and case.lagrum is None
        assert "Lagrum: HSL" in say(bot, "rut", "status 2026/1").text
        assert say(bot, "anna", "registrerad 2026/1").ok
        assert ("investigate", "maria") in queued(bot)
    finally:
        bot.close()


def test_a_case_from_an_old_data_directory_is_read_by_its_unit(org, tmp_path):
    """The format-1 data directory (written long before lagrum): its Solgården case from
    the region is undecided (both kinds of care), a Hemtjänst Norr case is SoL."""
    data = tmp_path / "data"
    shutil.copytree(FORMAT1, data)
    bot = build(Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={}),
                clock=FixedClock(utc(17, 9)), notifiers={"console": FakeNotifier()},
                sender=FakeMailSender())
    try:
        assert "Lagrum: SoL" in say(bot, "rut", "status VOK 2025/2").text
        assert "Lagrum: ej bestämt" in say(bot, "rut", "status VOK 2026/1").text
    finally:
        bot.close()


def test_the_web_case_page_shows_the_law_and_the_fsn_closing(org, tmp_path):
    from tests.web_support import Client, WebProcess
    data = tmp_path / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, clock=FixedClock(utc(18, 9)), notifiers={"console": FakeNotifier()},
                sender=FakeMailSender())
    try:
        assert ingest(bot, "fsn_supplier.eml")["kind"] == "fsn"
        assert say(bot, "maria", "avsluta 2026/1 svar till leverantören skickat, LV ja").ok
        assert say(bot, "rut", "lagrum 2026/1 HSL").ok is False      # closed: refused
    finally:
        bot.close()
    server = WebProcess(data).start()
    try:
        client = Client(server.url)
        client.sign_in(server.link(settings, "maria"))
        page = client.get("/arenden/2026/1")
        assert page.status == 200
        assert "<dt>Lagrum</dt><dd>HSL</dd>" in page.body
        assert "Säkerhetsmeddelande (FSN)" in page.body
        assert "svar till leverantören skickat, rapport till Läkemedelsverket gjord" in page.body
    finally:
        server.stop()


def test_a_lagrum_line_on_a_mail_to_a_case_changes_its_law(make_bot):
    bot = make_bot(utc(16, 9))
    first = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse Hemtjänst Norr",
        body="Insulin gavs inte.", message_id="<line-1@regionexempel.se>", date=utc(16, 8)))
    assert bot.store.get_case_by_text(first["diary_number"]).lagrum == "SoL"
    result = bot.services.ingest_mail(make_mail(
        sender="Rut Registrator <rut.registrator@exempelby.se>", subject="Komplettering",
        body="Ärende: VOK 2026/0001\nLagrum: HSL\n\nGäller delegerad insulingivning.",
        message_id="<line-2@exempelby.se>", date=utc(16, 9)))
    assert result["outcome"] == "added_to_case"
    case = bot.store.get_case_by_text(CASE1)
    assert (case.lagrum, case.lagrum_by) == ("HSL", "registrator")
    assert case.events[-1].what == "lagrum" and case.events[-1].details["from"] == "SoL"
