"""The per-person ceiling (issue 24): how many bot messages a person gets on a business day.

    .venv/bin/python benchmarks/notification_ceiling.py [--days 30] [--mails-per-day 25] [--seed 24]

A 30-business-day simulation through the product's own use cases (intake, chat commands, the
reminder scan every 5 minutes as `run` does, outbox delivery), with an injected clock and a
counting notifier at the edge (one call = one message: a bundle is one message). The
organisation is the care office of a large municipality, sized for 25 incoming deviations a
business day (about 6,000 a year): 36 units, 30 managers, two MA and two SAS following every
unit, two registrators. 25 incoming deviation mails per business day arrive at random
office-hour minutes (a few red, a few with the unit unknown); answer times are realistic: most
cases are registered within a few days, a tail late, 8 % never within the window; the unit's
response arrives by mail days later, the registrator marks it sent within hours, the manager
closes days after. One more manager (Olle, Korttidsboendet Linden, a small unit with about a
new case a week) starts with 40 overdue cases and answers nothing.

Printed: p95 messages per person per business day outside red cases (messages about a red
case and Lex Maria/Sarah requests are not counted: they always go at once), per role, and the
messages a day of the manager with 40 overdue cases; each with the same run without bundling
([notifications] bundle_minutes = 0) beside it. p95 is by nearest rank over every
(person, business day), days without a message counted as 0.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.app import build  # noqa: E402
from bot.domain.access import Actor  # noqa: E402
from bot.domain.org import Notifications  # noqa: E402
from bot.ports import FixedClock  # noqa: E402
from bot.settings import Settings, load_organisation  # noqa: E402
from reminders.calendar import BusinessCalendar  # noqa: E402
from tests.fakes.mail import FakeMailSender, make_mail  # noqa: E402

def _units() -> list[tuple[str, str, str, int]]:
    """A large municipality's care office (25 incoming deviations a business day is about
    6,000 a year): 14 home-care areas, 12 residential homes, 6 LSS homes, 3 day activities;
    30 managers (five of them with two units), and Olle's small short-stay home."""
    areas = ["Norr", "Söder", "Öster", "Väster", "Centrum", "Hamnen", "Berga", "Dalen", "Kullen",
             "Skogen", "Ängen", "Viken", "Åsen", "Torget"]
    homes = ["Solgården", "Björkhagen", "Ekbacken", "Lindgården", "Rosengården", "Tallbacken",
             "Almgården", "Lärkan", "Ängsgården", "Sjöbo", "Granbacken", "Hagaberg"]
    units = [(f"ht-{i}", f"Hemtjänst {a}", 14) for i, a in enumerate(areas)]
    units += [(f"sabo-{i}", name, 10) for i, name in enumerate(homes)]
    units += [(f"lss-{i}", f"LSS-boendet {name}", 5) for i, name in
              enumerate(["Tallen", "Eken", "Björken", "Aspen", "Rönnen", "Hasseln"])]
    units += [(f"dv-{i}", f"Daglig verksamhet {name}", 4) for i, name in
              enumerate(["Granen", "Furan", "Lönnen"])]
    result = []
    for i, (uid, name, weight) in enumerate(units):
        result.append((uid, name, f"m{i % 30 + 1}", weight))
    result.append(("korttids-linden", "Korttidsboendet Linden", "olle", 2))
    return result


UNITS = _units()
MANAGERS = [f"m{i}" for i in range(1, 31)] + ["olle"]
OVERSIGHT = [("rut", "registrator"), ("rolf", "registrator"), ("maria", "ma"), ("mats", "ma"),
             ("sven", "sas"), ("sara", "sas")]
OVERLOADED = "olle"
TICK = timedelta(minutes=5)


def organisation_toml() -> str:
    people = [f'[[people]]\nid = "{p}"\nname = "{p.title()} {role.upper()}"\n'
              f'email = "{p}@exempelby.se"\nroles = ["{role}"]\n' for p, role in OVERSIGHT]
    people += [f'[[people]]\nid = "{m}"\nname = "Chef {m.upper()}"\nemail = "{m}@exempelby.se"\n'
               f'roles = ["manager"]\n' for m in MANAGERS]
    units = [f'[[units]]\nid = "{uid}"\nname = "{name}"\nmanagers = ["{manager}"]\n'
             for uid, name, manager, _ in UNITS]
    return "\n".join([
        '[organisation]\nname = "Vård- och omsorgskontoret"\ninternal_domains = ["exempelby.se"]\n'
        'mailbox = "registrator.vok@exempelby.se"\n',
        '[[counterparts]]\nid = "region"\nname = "Region Exempel"\ndomains = ["regionexempel.se"]\n'
        'address = "patientsakerhet@regionexempel.se"\n',
        *people, *units,
        *[f'[[subscriptions]]\nperson = "{p}"\nunits = ["*"]\n'
          for p, role in OVERSIGHT if role != "registrator"]])


class CountingNotifier:
    """The console of the simulation: one call, one message; kept per person and local day,
    with whether it was about a red case or a Lex request (those are not counted)."""
    channel = "console"

    def __init__(self, calendar: BusinessCalendar, clock: FixedClock) -> None:
        self.calendar, self.clock = calendar, clock
        self.messages: Counter[tuple[str, date]] = Counter()
        self.red: Counter[tuple[str, date]] = Counter()
        self.items = 0

    def send(self, notification: dict) -> dict:
        view = notification.get("view") or {}
        day = self.calendar.local(self.clock.now()).date()
        key = (notification["recipient"], day)
        self.items += len(notification.get("members") or [1])
        if view.get("red") or notification["event"] == "lex_requested":
            self.red[key] += 1
        else:
            self.messages[key] += 1
        return {"n": sum(self.messages.values())}


def business_days(calendar: BusinessCalendar, start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if calendar.is_business_day(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def simulate(days_count: int, per_day: int, seed: int, bundling: bool) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ceiling-"))
    config = folder / "org.toml"
    config.write_text(organisation_toml(), encoding="utf-8")
    org = load_organisation(config)
    if not bundling:
        org = replace(org, notifications=Notifications(bundle_minutes=0))
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    rng = random.Random(seed)
    first = date(2027, 1, 11)            # a Monday in an ordinary month
    # three weeks before: Olle's 40 cases arrive, and he never answers
    before = business_days(calendar, first - timedelta(days=21), 15)
    days = business_days(calendar, first, days_count + 40)
    sim_days = days[:days_count]
    clock = FixedClock(calendar.office_start(before[0]))
    settings = Settings(config_path=config, data_dir=folder / "data", org=org, env={})
    notifier = CountingNotifier(calendar, clock)
    bot = build(settings, clock=clock, sender=FakeMailSender(), command="bench",
                notifiers={"console": notifier})
    bot.notifiers["console"] = bot.services.notifiers["console"] = notifier
    say = bot.services.handle_command
    events: list[tuple[datetime, int, str, str, str]] = []   # (when, seq, what, number, who)
    seq = 0

    def at(day_index: int, minute: int | None = None) -> datetime:
        day = days[day_index] if day_index < len(days) else days[-1] + timedelta(days=60)
        start = calendar.office_start(day)
        return start + timedelta(minutes=minute if minute is not None else rng.randrange(8 * 60))

    def plan(number: str, day_index: int, manager: str) -> None:
        """A realistic answer: registered in a few days (a tail late, some never), the unit's
        response by mail days later, sent on by the registrator within hours, closed after."""
        nonlocal seq
        roll = rng.random()
        if manager == OVERLOADED or roll < 0.08:
            return                                            # never, within the window
        wait = (rng.choice([0, 0, 1, 1, 1, 2]) if roll < 0.6 else
                rng.randint(2, 4) if roll < 0.85 else rng.randint(5, 12))
        d = day_index + wait
        severity = rng.choices(["grön", "gul", "röd"], [60, 35, 5])[0]
        seq += 1
        events.append((at(d), seq, "register", number, f"{manager}:{severity}"))
        d += rng.choice([1, 2, 3, 3, 4, 5, 6, 8, 10, 14])
        seq += 1
        respond = at(d)
        events.append((respond, seq, "response", number, manager))
        seq += 1
        events.append((respond + timedelta(minutes=rng.randint(20, 180)), seq, "sent", number, "rut"))
        d += rng.randint(1, 5)
        seq += 1
        events.append((at(d), seq, "close", number, manager))

    def deviation(n: int, unit_name: str, red: bool) -> bytes:
        body = f"Vi rapporterar en avvikelse hos {unit_name}: fel läkemedel utdelat." + (
            " Allvarlighetsgrad: röd." if red else "")
        return make_mail(sender="Handläggare <h@regionexempel.se>",
                         subject=f"Avvikelse {n}: fel läkemedel, {unit_name}", body=body,
                         message_id=f"<c{n}@regionexempel.se>")

    started = time.monotonic()
    for i, day in enumerate(before[:10]):            # Olle's backlog
        for k in range(4):
            clock.set(calendar.office_start(day) + timedelta(minutes=30 + k))
            bot.services.ingest_mail(deviation(10_000 + 4 * i + k, "Korttidsboendet Linden", False),
                                     arrived=clock.now())
        clock.set(calendar.office_start(day) + timedelta(hours=1))
        bot.services.deliver_outbox()
    # the mails of the window, and the unknown-unit ones picked by the registrator
    mails: list[tuple[datetime, int, bytes, str | None]] = []
    weights = [w for *_, w in UNITS]
    n = 0
    for i in range(days_count):
        for _ in range(per_day):
            n += 1
            uid, name, manager, _ = rng.choices(UNITS, weights)[0]
            unknown = rng.random() < 0.04
            red = rng.random() < 0.03
            moment = at(i, rng.randrange(8 * 60 + 25))
            text = deviation(n, "okänd enhet" if unknown else name, red)
            mails.append((moment, i, text, name if unknown else None))
    mails.sort(key=lambda m: m[0])
    unit_of = {name: (uid, manager) for uid, name, manager, _ in UNITS}
    m = 0
    end = calendar.office_start(days[days_count]) if days_count < len(days) else None
    for i, day in enumerate(sim_days):
        clock.set(calendar.office_start(day))
        stop = calendar.office_start(day) + timedelta(hours=8, minutes=35)
        while clock.now() <= stop:
            now = clock.now()
            while m < len(mails) and mails[m][0] <= now:
                _, index, raw, picked = mails[m]
                m += 1
                result = bot.services.ingest_mail(raw, arrived=now)
                number = result.get("diary_number")
                if not number:
                    continue
                if picked is not None:
                    seq += 1
                    events.append((now + timedelta(minutes=rng.randint(15, 90)), seq, "unit",
                                   number, picked))
                    plan(number, index, unit_of[picked][1])
                else:
                    case = bot.store.get_case_by_text(number)
                    manager = next(mm for uid, _, mm, _ in UNITS if uid == case.unit)
                    plan(number, index, manager)
            events.sort()
            while events and events[0][0] <= now:
                _, _, what, number, who = events.pop(0)
                if what == "register":
                    manager, severity = who.split(":")
                    say(Actor.person(manager), f"registrerad {number}", "slack")
                    say(Actor.person(manager), f"bedöm {number} {severity}", "slack")
                elif what == "response":
                    case = bot.store.get_case_by_text(number)
                    if case is None or case.is_closed:
                        continue
                    bot.services.ingest_mail(make_mail(
                        sender=f"Chef <{who}@exempelby.se>", subject=f"SV: {number} {case.title}",
                        body="Enhetens svar: vi har gått igenom rutinen.",
                        message_id=f"<svar-{number.replace(' ', '-').replace('/', '-')}@exempelby.se>"),
                        arrived=now)
                elif what == "sent":
                    say(Actor.person(rng.choice(["rut", "rolf"])), f"skickad {number}", "slack")
                elif what == "close":
                    say(Actor.person(who), f"avsluta {number}", "slack")
                elif what == "unit":
                    say(Actor.person(rng.choice(["rut", "rolf"])), f"enhet {number} {who}", "slack")
            bot.services.run_reminders()
            bot.services.deliver_outbox()
            clock.set(now + TICK)
        bot.services.housekeep(force=True)       # as `run` does: delivered items leave the file
    if end is not None:      # what waited overnight goes the next morning: not counted
        clock.set(end)
    bot.close()
    seconds = time.monotonic() - started

    people = list(org.people)
    per_person_day = {(p, d): notifier.messages[(p, d)] for p in people for d in sim_days}
    return {"counts": per_person_day, "people": org.people, "seconds": seconds,
            "olle": [notifier.messages[(OVERLOADED, d)] for d in sim_days],
            "red": sum(notifier.red.values()), "items": notifier.items}


def p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]     # nearest rank


def figures(result: dict) -> dict[str, float]:
    counts, people = result["counts"], result["people"]

    def role(keep) -> list[int]:
        return [c for (p, _), c in counts.items() if keep(people[p])]
    every = list(counts.values())
    return {
        "p95 messages / person / business day": p95(every),
        "  registrator p95": p95(role(lambda p: "registrator" in p.roles)),
        "  MA and SAS p95": p95(role(lambda p: p.roles & {"ma", "sas"})),
        "  managers p95": p95(role(lambda p: "manager" in p.roles)),
        "  max of anyone": max(every),
        "manager with 40 overdue: max / day": max(result["olle"]),
        "manager with 40 overdue: mean / day": round(sum(result["olle"]) / len(result["olle"]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--mails-per-day", type=int, default=25)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    bundled = simulate(args.days, args.mails_per_day, args.seed, bundling=True)
    single = simulate(args.days, args.mails_per_day, args.seed, bundling=False)
    with_, without = figures(bundled), figures(single)
    targets = {"p95 messages / person / business day": "≤ 5",
               "manager with 40 overdue: max / day": "≤ 2"}
    header = ["figure", "measured", "target", "without bundling"]
    rows = [[name, str(value), targets.get(name, ""), str(without[name])]
            for name, value in with_.items()]
    width = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    print(f"{args.days} business days, {args.mails_per_day} incoming deviations a day, "
          f"{len(bundled['people'])} people; messages about red cases and Lex requests "
          f"(at once, not counted): {bundled['red']}; notifications delivered: "
          f"{bundled['items']} (without bundling {single['items']}); "
          f"{bundled['seconds']:.0f} s + {single['seconds']:.0f} s")
    print(" | ".join(h.ljust(w) for h, w in zip(header, width)))
    print("-+-".join("-" * w for w in width))
    for row in rows:
        print(" | ".join(c.ljust(w) for c, w in zip(row, width)))


if __name__ == "__main__":
    main()
