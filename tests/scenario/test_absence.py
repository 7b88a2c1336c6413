"""Issue 16: stand-ins. `frånvaro <från> <till> [ersättare]` from chat, or the unit's
`stand_in`: while a manager is away their notifications and reminders go to the stand-in,
saying on whose behalf; after the absence the manager gets them again."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from bot.domain.absence import Absence, stand_in_for
from bot.domain.access import Actor
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import cli


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "slack")


def utc(day: int, hour: int = 7) -> datetime:
    return datetime(2026, 11, day, hour, 0, tzinfo=timezone.utc)


def deviation(bot, n: int = 1, day: int = 16):
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse – utebliven insats, Hemtjänst Norr", body="Avvikelse.",
        message_id=f"<abs-{n}@regionexempel.se>", date=utc(day, 8)))
    assert result["outcome"] == "new_case"


def to(bot, event: str) -> list[tuple[str, str]]:
    return [(n["recipient"], n["text"].splitlines()[0]) for n in bot.store.outbox()
            if n["event"] == event]


def test_a_stand_in_who_may_not_open_the_cases_is_refused(bot):
    """Issue 24: David manages Kommunal hemsjukvård but not Hemtjänst Norr; as Anna's
    stand-in he would be told about cases he may not open."""
    reply = say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 David Dahl")
    assert not reply.ok and "Hemtjänst Norr" in reply.text and "David Dahl" in reply.text
    assert not say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 bengt").ok   # another unit's
    deviation(bot)
    told = {n["recipient"] for n in bot.store.outbox() if n["event"] == "incoming_diarised"}
    assert "anna" in told and not told & {"david", "bengt"}


def test_away_with_a_named_stand_in_and_back_again(bot):
    reply = say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 Sven Samordnare")
    assert reply.ok and reply.text == ("Du är frånvarande 2026-11-16–2026-11-20. Under tiden får "
                                       "Sven Samordnare dina aviseringar och påminnelser.")
    deviation(bot)                                                     # Mon 16: Anna is away
    new = [n for n in bot.store.outbox() if n["event"] == "incoming_diarised"
           and n["view"].get("on_behalf_of") == "anna"]
    assert [n["recipient"] for n in new] == ["sven"]
    assert "För Anna Andersson, som är frånvarande:" in new[0]["text"]
    assert "anna" not in {n["recipient"] for n in bot.store.outbox()}
    bot.services.run_reminders(utc(19))                                # Thu 19: still away
    assert [r for r, _ in to(bot, "reminder")] == ["sven"]
    bot.services.run_reminders(utc(23))                                # Mon 23: back
    assert [r for r, _ in to(bot, "reminder")] == ["sven", "anna"]
    assert not any("För Anna" in n["text"] for n in bot.store.outbox()
                   if n["recipient"] == "anna")


def test_the_units_stand_in_from_the_organisation_file(bot):
    # Hemtjänst Norr names Eva as stand-in: `frånvaro` without a name uses her
    assert say(bot, "anna", "frånvaro 2026-11-16 2026-11-17").ok
    deviation(bot)
    assert ("eva", "incoming_diarised") in {(n["recipient"], n["event"]) for n in bot.store.outbox()}


def test_absence_refusals(bot):
    assert not say(bot, "anna", "frånvaro 2026-11-20 2026-11-16").ok
    assert not say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 anna").ok
    unknown = say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 Okänd Person")
    assert not unknown.ok and "finns inte i organisationsfilen" in unknown.text
    assert not say(bot, "anna", "frånvaro 2026-11-01 2026-11-02 eva").ok   # already over
    nobody = say(bot, "cecilia", "frånvaro 2026-11-16 2026-11-20")       # her unit names none
    assert not nobody.ok and "Ange en ersättare" in nobody.text


def test_stand_in_for_is_pure_and_bounded_by_the_dates(org):
    away = Absence("anna", date(2026, 7, 1), date(2026, 7, 31), None)
    assert stand_in_for(org, "anna", away, date(2026, 7, 15)) == "eva"     # the unit's
    assert stand_in_for(org, "anna", away, date(2026, 8, 1)) is None
    assert stand_in_for(org, "anna", Absence("anna", date(2026, 7, 1), date(2026, 7, 31),
                                             "sven"), date(2026, 7, 1)) == "sven"
    # one who may not open Anna's cases is never used, even if recorded earlier
    assert stand_in_for(org, "anna", Absence("anna", date(2026, 7, 1), date(2026, 7, 31),
                                             "david"), date(2026, 7, 1)) is None
    assert stand_in_for(org, "cecilia", Absence("cecilia", date(2026, 7, 1),
                                                date(2026, 7, 31)), date(2026, 7, 2)) is None


def test_absence_from_the_cli(tmp_path):
    data = tmp_path / "data"
    done = cli(data, "command", "--as", "anna", "frånvaro 2099-07-01 2099-07-31 eva")
    assert done.returncode == 0 and "Eva Ek" in done.stdout


def test_the_units_named_stand_in_may_open_and_manage_its_cases(org):
    from bot.domain.access import MANAGE, can_view, require
    from bot.errors import PermissionDenied
    from bot.domain.case import Case
    case = Case(number="VOK 2026/0001", key=2026_000001, kind="incoming", title="t",
                status="diarised", created="2026-11-16T08:00:00+00:00", unit="hemtjanst-norr")
    assert can_view(org, Actor.person("eva"), case)
    require(org, Actor.person("eva"), MANAGE, case)
    assert not can_view(org, Actor.person("bengt"), case)
    with pytest.raises(PermissionDenied):
        require(org, Actor.person("bengt"), MANAGE, case)


def test_the_dry_run_shows_who_really_gets_the_reminder(bot):
    """`reminders --at` (issue 24): while Anna is away her reminder goes to Eva, and the dry
    run says so, as `run` then does."""
    assert say(bot, "anna", "frånvaro 2026-11-16 2026-11-30").ok
    deviation(bot)
    due = [d for d in bot.services.run_reminders(utc(19), dry_run=True) if d["level"] == "reminder"]
    assert due and {(d["recipient"], d["on_behalf_of"]) for d in due} == {("eva", "anna")}
    bot.services.run_reminders(utc(19))
    assert {r for r, _ in to(bot, "reminder")} == {"eva"}


def test_franvaro_av_ends_the_absence_and_the_person_is_told_again(bot):
    """Issue 26: `frånvaro av` (or `slut`) ends a recorded absence, with an audit trail."""
    assert not say(bot, "anna", "frånvaro av").ok                       # nothing to end
    assert say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 Sven Samordnare").ok
    deviation(bot, 1)
    reply = say(bot, "anna", "frånvaro slut")
    assert reply.ok and reply.text == "Din frånvaro är avslutad. Du får dina aviseringar och påminnelser igen."
    deviation(bot, 2)
    told = [(n["recipient"], n["view"].get("on_behalf_of")) for n in bot.store.outbox()
            if n["event"] == "incoming_diarised"]
    assert ("sven", "anna") in told and ("anna", None) in told
    trail = bot.store.get_state("absence-audit:anna")["events"]
    assert [(e["what"], e["by"]) for e in trail] == [("set", "anna"), ("cancelled", "anna")]
    assert trail[-1]["details"]["absence"]["stand_in"] == "sven"
