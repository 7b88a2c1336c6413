"""Issue 16: Lex Maria / Lex Sarah. A red or seriously worded deviation asks the MA (health
care) or the SAS (social services) for an assessment; reminders and escalation until it is
recorded with `lex`; a decision to report holds IVO's reference; the yearly report counts.
Through the service layer on a wired bot and through the installed CLI."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from bot.domain.access import Actor
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import cli

HEMSJUKVARD = "VOK 2026/0001"


def say(bot, who: str, text: str, channel: str = "teams"):
    return bot.services.handle_command(Actor.person(who), text, channel)


def utc(day: int, hour: int = 7) -> datetime:
    """08:00 in Stockholm is 07:00 UTC in November."""
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


def deviation(bot, unit: str, body: str, n: int = 1) -> str:
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse – läkemedel, {unit}", body=body,
        message_id=f"<lex-{n}@regionexempel.se>", date=utc(16, 8)))
    assert result["outcome"] == "new_case", result
    return result["diary_number"]


def lex_items(bot) -> list[tuple[str, str]]:
    return sorted((n["event"], n["recipient"]) for n in bot.store.outbox()
                  if n["event"] == "lex_requested"
                  or (n["event"] in ("reminder", "escalation") and "Lex Maria" in n["text"]))


def test_a_seriously_worded_health_care_deviation_asks_the_ma_reminds_escalates_and_is_decided(bot):
    number = deviation(bot, "Kommunal hemsjukvård",
                       "Patienten fick dubbel dos och avled senare samma dag.")
    assert number == HEMSJUKVARD
    case = bot.store.get_case_by_text(number)
    assert case.lex_requested["reason"] == "words" and case.lex_requested["assessors"] == ["maria"]
    # the MA is asked (health care: Lex Maria), told where IVO's e-service is
    asked = [n for n in bot.store.outbox() if n["event"] == "lex_requested"]
    assert [n["recipient"] for n in asked] == ["maria"]
    assert "https://www.ivo.se/" in asked[0]["text"] and "lex VOK 2026/0001 maria|sarah|ingen" in asked[0]["text"]
    assert "onsdag 18 november" in asked[0]["text"]                 # two business days
    assert "Lex Maria/Lex Sarah: bedömning begärd" in say(bot, "maria", "status 2026/1").text

    bot.services.run_reminders(utc(18))                              # deadline day: nothing
    assert lex_items(bot) == [("lex_requested", "maria")]
    bot.services.run_reminders(utc(19))                              # the day after: reminder
    assert lex_items(bot) == [("lex_requested", "maria"), ("reminder", "maria")]
    bot.services.run_reminders(utc(23))                              # 18 + 3: escalation
    # to the registrator (no escalate_maria configured), never to the SAS: a Lex Maria
    # assessment is not the SAS's to answer for (issue 24)
    assert lex_items(bot) == [("escalation", "rut"),
                              ("lex_requested", "maria"), ("reminder", "maria"),
                              ("reminder", "maria")]

    # only the MA or SAS may decide; a reason is required
    denied = say(bot, "anna", "lex 2026/1 ingen Ingen skada")
    assert not denied.ok and "Bara MA eller SAS" in denied.text
    no_reason = say(bot, "maria", "lex 2026/1 ingen")
    assert not no_reason.ok and "motivering" in no_reason.text
    reply = say(bot, "maria", "lex 2026/1 ingen Dödsfallet hade ingen koppling till dosen enligt läkaren")
    assert reply.ok and reply.text == "Bedömningen av VOK 2026/0001 är sparad: ingen anmälan till IVO."
    case = bot.store.get_case_by_text(number)
    assert case.lex_decision["decision"] == "ingen" and case.lex_decision["by"] == "maria"
    assert case.events[-1].what == "lex_decided" and case.events[-1].channel == "teams"
    assert "ingen anmälan – Dödsfallet hade ingen koppling" in say(bot, "maria", "status 2026/1").text

    before = len(lex_items(bot))
    bot.services.run_reminders(utc(25))                              # decided: the clock stops
    assert len(lex_items(bot)) == before
    refused = say(bot, "maria", "ivo 2026/1 3.5.1-1/2026")
    assert not refused.ok and "inget beslut om anmälan" in refused.text

    from bot.report import build_report
    report = build_report(bot.store.all_cases(), bot.settings.org, bot.services.calendar, 2026, utc(30))
    assert [(c.name, c.count) for c in report.lex][:3] == [
        ("Bedömning begärd", 1), ("Bedömda", 1), ("Beslut: anmälan enligt Lex Maria", 0)]


def test_a_red_social_services_case_asks_the_sas_and_a_report_holds_ivos_reference(bot):
    number = deviation(bot, "Hemtjänst Norr", "Brukaren blev utan tillsyn under natten.")
    assert bot.store.get_case_by_text(number).lex_requested is None   # not red, no such words
    assert say(bot, "anna", f"bedöm {number} röd").ok
    case = bot.store.get_case_by_text(number)
    assert case.lex_requested["reason"] == "red" and case.lex_requested["assessors"] == ["sven"]
    assert [n["recipient"] for n in bot.store.outbox() if n["event"] == "lex_requested"] == ["sven"]
    # a second red assessment does not ask again
    assert say(bot, "anna", f"bedöm {number} röd").ok
    assert [n["event"] for n in bot.store.outbox()].count("lex_requested") == 1

    reply = say(bot, "sven", "lex 2026/1 sarah Risk för ett allvarligt missförhållande")
    assert reply.ok and "https://www.ivo.se/" in reply.text and "ivo VOK 2026/0001" in reply.text
    assert "IVO:s referens saknas" in say(bot, "sven", "status 2026/1").text
    reply = say(bot, "sven", "ivo 2026/1 3.5.1-01234/2026")
    assert reply.ok and reply.text == "IVO:s referens 3.5.1-01234/2026 är sparad i VOK 2026/0001."
    decision = bot.store.get_case_by_text(number).lex_decision
    assert (decision["decision"], decision["ivo"], decision["by"]) == ("sarah", "3.5.1-01234/2026", "sven")
    status = say(bot, "anna", "status 2026/1").text
    assert "Lex Sarah – Risk för ett allvarligt missförhållande (Sven Samordnare" in status
    assert "IVO:s referens 3.5.1-01234/2026" in status


def test_the_decision_and_ivos_reference_in_one_command_from_the_cli(tmp_path):
    data = tmp_path / "data"
    mail = tmp_path / "1.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse – allvarlig vårdskada, Kommunal hemsjukvård",
                               body="Patienten 19121212-1212 fick fel läkemedel.",
                               message_id="<lex-cli@regionexempel.se>"))
    assert cli(data, "ingest", str(mail)).returncode == 0
    outbox = json.loads(cli(data, "outbox", "--json").stdout)
    assert ("maria", "lex_requested") in {(n["recipient"], n["event"]) for n in outbox}
    done = cli(data, "command", "--as", "maria",
               "lex 2026/1 maria Patienten fick fel läkemedel, 19121212-1212 ivo 3.5.1-555/2026")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "IVO:s referens 3.5.1-555/2026" in done.stdout
    status = json.loads(cli(data, "status", "2026/1", "--json").stdout)
    assert status["lex"]["decision"]["decision"] == "maria"
    assert status["lex"]["decision"]["ivo"] == "3.5.1-555/2026"
    assert "19121212" not in json.dumps(status)
    denied = cli(data, "command", "--as", "anna", "lex 2026/1 ingen Ångrar mig")
    assert denied.returncode != 0 and "Bara MA eller SAS" in denied.stdout + denied.stderr


# --------------------------------------------------------------------------- kvittera
def escalations(bot) -> list[tuple[str, str]]:
    return sorted((n["recipient"], n["created"][:10]) for n in bot.store.outbox()
                  if n["event"] == "escalation")


def test_an_acknowledged_escalation_does_not_repeat_and_the_digest_lists_red_ones_not_acknowledged(bot, clock):
    number = deviation(bot, "Hemtjänst Norr", "Brukaren fick fel tabletter.")   # register by Wed 18
    assert say(bot, "anna", f"bedöm {number} röd").ok                           # not registered
    assert say(bot, "sven", f"lex {number} ingen Ingen skada uppstod").ok        # Lex aside
    bot.services.run_reminders(utc(23))                          # Mon 23: first escalation
    assert escalations(bot) == [("maria", "2026-11-23"), ("sven", "2026-11-23")]
    escalation = next(n for n in bot.store.outbox() if n["event"] == "escalation")
    assert "kvittera VOK 2026/0001" in escalation["text"]
    digest = next(n for n in bot.store.outbox() if n["event"] == "digest" and n["recipient"] == "anna")
    assert "Röda ärenden som ingen har kvitterat:" in digest["text"]

    clock.set(utc(23, 9))
    reply = say(bot, "maria", "kvittera 2026/1", "slack")            # the button's command
    assert reply.ok and reply.text.startswith("Kvitterat: VOK 2026/0001.")
    bot.services.run_reminders(utc(25))                                # no repeat for anyone
    assert escalations(bot) == [("maria", "2026-11-23"), ("sven", "2026-11-23")]
    assert [n["recipient"] for n in bot.store.outbox()
            if n["event"] == "reminder" and n["created"].startswith("2026-11-25")] == ["anna"]

    bot.services.run_reminders(utc(26))                                # still open 3 days on
    assert [e for e in escalations(bot) if e[1] == "2026-11-26"] == [
        ("maria", "2026-11-26"), ("sven", "2026-11-26")]
    bot.services.run_reminders(utc(30))                                # next Monday's digest
    digests = [n for n in bot.store.outbox() if n["event"] == "digest" and n["recipient"] == "anna"]
    assert len(digests) == 2 and "ingen har kvitterat" not in digests[-1]["text"]


def test_kvittera_needs_a_case_one_may_change(bot):
    deviation(bot, "Hemtjänst Norr", "Brukaren fick fel tabletter.")
    denied = say(bot, "bengt", "kvittera 2026/1")
    assert not denied.ok and bot.store.get_case_by_text("VOK 2026/0001").acks == []


def test_a_late_assessment_chases_who_answers_for_that_kind_of_care(org):
    """[patient_safety] escalate_maria / escalate_sarah (issue 24): Lex Maria chases the
    configured person for health care, Lex Sarah the one for social services; never the other
    function, never the assessor; unset, the registrators."""
    from dataclasses import replace
    safety = replace(org.patient_safety, escalate_maria=("david",), escalate_sarah=("cecilia",))
    configured = replace(org, patient_safety=safety)
    assert configured.lex_escalation("hemsjukvard", ("maria",)) == ["david"]
    assert configured.lex_escalation("hemtjanst-norr", ("sven",)) == ["cecilia"]
    assert org.lex_escalation("hemsjukvard", ("maria",)) == ["rut"]
    assert "sven" not in org.lex_escalation("hemsjukvard", ("maria",))
    assert "maria" not in org.lex_escalation("hemtjanst-norr", ("sven",))
