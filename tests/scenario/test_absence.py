"""Issue 16: stand-ins. `frånvaro <från> <till> [ersättare]` from chat, or the unit's
`stand_in`: while a manager is away their notifications and reminders go to the stand-in,
saying on whose behalf; after the absence the manager gets them again."""
from __future__ import annotations

from datetime import date, datetime, timezone

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


def test_away_with_a_named_stand_in_and_back_again(bot):
    reply = say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 David Dahl")
    assert reply.ok and reply.text == ("Du är frånvarande 2026-11-16–2026-11-20. Under tiden får "
                                       "David Dahl dina aviseringar och påminnelser.")
    deviation(bot)                                                     # Mon 16: Anna is away
    new = [n for n in bot.store.outbox() if n["event"] == "incoming_diarised"
           and n["view"].get("on_behalf_of") == "anna"]
    assert [n["recipient"] for n in new] == ["david"]
    assert "För Anna Andersson, som är frånvarande:" in new[0]["text"]
    assert "anna" not in {n["recipient"] for n in bot.store.outbox()}
    bot.services.run_reminders(utc(19))                                # Thu 19: still away
    assert [r for r, _ in to(bot, "reminder")] == ["david"]
    bot.services.run_reminders(utc(23))                                # Mon 23: back
    assert [r for r, _ in to(bot, "reminder")] == ["david", "anna"]
    assert not any("För Anna" in n["text"] for n in bot.store.outbox()
                   if n["recipient"] == "anna")


def test_the_units_stand_in_from_the_organisation_file(bot):
    # Hemtjänst Norr names Bengt as stand-in: `frånvaro` without a name uses him
    assert say(bot, "anna", "frånvaro 2026-11-16 2026-11-17").ok
    deviation(bot)
    assert ("bengt", "incoming_diarised") in {(n["recipient"], n["event"]) for n in bot.store.outbox()}


def test_absence_refusals(bot):
    assert not say(bot, "anna", "frånvaro 2026-11-20 2026-11-16").ok
    assert not say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 anna").ok
    unknown = say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 Okänd Person")
    assert not unknown.ok and "finns inte i organisationsfilen" in unknown.text
    assert not say(bot, "anna", "frånvaro 2026-11-01 2026-11-02 bengt").ok   # already over
    nobody = say(bot, "cecilia", "frånvaro 2026-11-16 2026-11-20")       # her unit names none
    assert not nobody.ok and "Ange en ersättare" in nobody.text


def test_stand_in_for_is_pure_and_bounded_by_the_dates(org):
    away = Absence("anna", date(2026, 7, 1), date(2026, 7, 31), None)
    assert stand_in_for(org, "anna", away, date(2026, 7, 15)) == "bengt"     # the unit's
    assert stand_in_for(org, "anna", away, date(2026, 8, 1)) is None
    assert stand_in_for(org, "anna", Absence("anna", date(2026, 7, 1), date(2026, 7, 31),
                                             "david"), date(2026, 7, 1)) == "david"
    assert stand_in_for(org, "cecilia", Absence("cecilia", date(2026, 7, 1),
                                                date(2026, 7, 31)), date(2026, 7, 2)) is None


def test_absence_from_the_cli(tmp_path):
    data = tmp_path / "data"
    done = cli(data, "command", "--as", "anna", "frånvaro 2099-07-01 2099-07-31 bengt")
    assert done.returncode == 0 and "Bengt Berg" in done.stdout
