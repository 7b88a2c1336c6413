"""Issue 26: Outlook's automatic replies as absence. With Graph as the mail source and
`[mail] outlook_absence = true`, a manager's automatic replies (Graph
automaticRepliesSetting, MailboxSettings.Read) send their notifications to the unit's
stand-in for that period, as `frånvaro` does; read through the real O365/msal client against
the local Graph, at most every 15 minutes per person, a 429's Retry-After honoured, a failed
read keeping the last known value and logged once. `frånvaro av` ends an absence."""
from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta, timezone

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.mail.graph import GraphAutomaticReplies
from bot.ports import FixedClock
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

MONDAY = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)          # 09:30 in Stockholm
MANAGERS = ("anna", "bengt", "cecilia", "david")
REPLIES = r"/mailboxSettings/automaticRepliesSetting$"
ROLES = ("Mail.ReadWrite", "Mail.Send", "MailboxSettings.Read")


@pytest.fixture
def graph():
    with FakeGraphServer(roles=ROLES) as server:
        for person in MANAGERS:
            server.set_auto_replies(f"{_address(person)}", "disabled")
        yield server


def _address(person: str) -> str:
    return {"anna": "anna.andersson", "bengt": "bengt.berg", "cecilia": "cecilia.carlsson",
            "david": "david.dahl"}[person] + "@exempelby.se"


@pytest.fixture
def clock():
    return FixedClock(MONDAY)


@pytest.fixture(params=["tinydb", "postgresql"])
def bot(request, settings, graph, clock):
    """The cached replies and the absence trail live in the store's state: both stores."""
    org = dataclasses.replace(settings.org, outlook_absence=True)
    graph_settings = dataclasses.replace(settings, org=org, env=graph.env())
    store = None
    if request.param == "postgresql":
        from bot.store.postgres import PostgresCaseStore
        store = PostgresCaseStore(request.getfixturevalue("database_url"))
    wired = build(graph_settings, mail=_NoMail(), notifiers={"console": FakeNotifier()},
                  clock=clock, sender=FakeMailSender(), store=store)
    wired.services.use_outlook(GraphAutomaticReplies.from_settings(graph_settings, verify=graph.ca_path))
    yield wired
    wired.close()


class _NoMail:
    def fetch(self):
        return []

    def acknowledge(self, source_id):
        pass


_numbers = iter(range(1, 1000))


def deviation(bot) -> str:
    n = next(_numbers)
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject=f"Avvikelse {n} – utebliven insats, Hemtjänst Norr", body="Avvikelse.",
        message_id=f"<outlook-{n}@regionexempel.se>", date=bot.clock.now()))
    assert result["outcome"] == "new_case"
    return result["diary_number"]


def told(bot, number: str) -> list[tuple[str, str | None]]:
    """Who was told that `number` was diarised, and on whose behalf."""
    return [(n["recipient"], n["view"].get("on_behalf_of")) for n in bot.store.outbox()
            if n["event"] == "incoming_diarised" and n["diary_number"] == number]


def reads(graph, person: str = "anna") -> int:
    return len(graph.graph_requests("GET", f"/users/{_address(person)}{REPLIES}"))


def say(bot, who: str, text: str):
    return bot.services.handle_command(Actor.person(who), text, "slack")


def test_scheduled_automatic_replies_send_the_notifications_to_the_stand_in_for_that_period(
        bot, graph, clock):
    # Anna's replies: Tuesday 08:00 to Thursday 17:00, in Exchange's Windows zone name
    start, end = datetime(2026, 11, 17, 8, 0), datetime(2026, 11, 19, 17, 0)
    graph.set_auto_replies(_address("anna"), "scheduled", start, end, zone="W. Europe Standard Time")
    assert bot.services.refresh_outlook(force=True) == {"read": 4, "failed": 0}
    assert ("anna", None) in told(bot, deviation(bot))                 # Monday: not yet

    clock.set(datetime(2026, 11, 17, 7, 0, tzinfo=timezone.utc))      # Tue 08:00 Stockholm
    number = deviation(bot)
    assert ("eva", "anna") in told(bot, number)                        # the unit's stand-in
    assert "anna" not in {recipient for recipient, _ in told(bot, number)}
    [item] = [n for n in bot.store.outbox() if n["diary_number"] == number and n["recipient"] == "eva"]
    assert "För Anna Andersson, som är frånvarande:" in item["text"]

    clock.set(datetime(2026, 11, 19, 16, 0, tzinfo=timezone.utc))     # Thu 17:00: over
    assert ("anna", None) in told(bot, deviation(bot))


def test_always_enabled_replies_and_read_at_most_every_fifteen_minutes(bot, graph, clock):
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    bot.services.refresh_outlook(force=True)
    assert ("eva", "anna") in told(bot, deviation(bot))
    graph.set_auto_replies(_address("anna"), "disabled")               # she is back
    for minutes in (1, 5, 14):                                         # the cached value holds
        clock.set(MONDAY + timedelta(minutes=minutes))
        bot.services.refresh_outlook(force=True)
    assert reads(graph) == 1
    assert ("eva", "anna") in told(bot, deviation(bot))
    clock.set(MONDAY + timedelta(minutes=15))
    bot.services.refresh_outlook(force=True)
    assert reads(graph) == 2
    assert ("anna", None) in told(bot, deviation(bot))
    state = bot.store.get_state("outlook:anna")
    assert state["read_at"] == (MONDAY + timedelta(minutes=15)).isoformat()
    assert state["replies"]["status"] == "disabled"


def test_a_429_is_honoured_and_a_failure_keeps_the_last_value_logged_once(bot, graph, clock, caplog):
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    bot.services.refresh_outlook(force=True)
    graph.set_auto_replies(_address("anna"), "disabled")
    # Graph throttles: Retry-After 120 s; nobody is read again before then
    graph.fail_next(429, method="GET", path=REPLIES, headers={"Retry-After": "120"})
    clock.set(MONDAY + timedelta(minutes=15))
    before = len(graph.graph_requests("GET", REPLIES))
    bot.services.refresh_outlook(force=True)
    assert len(graph.graph_requests("GET", REPLIES)) == before + 1      # the refused one
    clock.set(MONDAY + timedelta(minutes=16))
    bot.services.refresh_outlook(force=True)
    assert len(graph.graph_requests("GET", REPLIES)) == before + 1      # waiting, as told
    assert ("eva", "anna") in told(bot, deviation(bot))                 # the last known value
    clock.set(MONDAY + timedelta(minutes=17, seconds=1))
    bot.services.refresh_outlook(force=True)
    statuses = [r.status for r in graph.graph_requests("GET", f"/users/{_address('anna')}{REPLIES}")]
    assert statuses == [200, 429, 200]                                  # after the wait, once
    assert ("anna", None) in told(bot, deviation(bot))

    # Graph fails for an hour: the last value holds, one warning for Anna
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    clock.set(MONDAY + timedelta(minutes=32, seconds=1))
    bot.services.refresh_outlook(force=True)
    assert bot.store.get_state("outlook:anna")["replies"]["status"] == "alwaysEnabled"
    graph.fail_next(503, method="GET", path=f"{_address('anna')}{REPLIES}", times=100)
    caplog.set_level(logging.WARNING, logger="bot.usecases.outlook")
    for quarter in range(3, 7):
        clock.set(MONDAY + timedelta(minutes=17 + 15 * quarter, seconds=1))
        bot.services.refresh_outlook(force=True)
    assert reads(graph) == 8                                            # one per quarter
    warnings = [r for r in caplog.records
                if r.name == "bot.usecases.outlook" and "anna" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert bot.store.get_state("outlook:anna")["failing"] is True
    assert ("eva", "anna") in told(bot, deviation(bot))


def test_a_manual_absence_wins_and_franvaro_av_ends_both(bot, graph, clock):
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    bot.services.refresh_outlook(force=True)
    assert say(bot, "anna", "frånvaro 2026-11-16 2026-11-20 Sven Samordnare").ok
    assert ("sven", "anna") in told(bot, deviation(bot))               # frånvaro wins
    assert ("eva", "anna") not in told(bot, deviation(bot))

    reply = say(bot, "anna", "frånvaro av")
    assert reply.ok and "Du får dina aviseringar och påminnelser igen." in reply.text
    assert "automatiska svar i Outlook" in reply.text
    assert ("anna", None) in told(bot, deviation(bot))                 # both set aside
    trail = bot.store.get_state("absence-audit:anna")["events"]
    assert [(e["what"], e["by"]) for e in trail] == [("set", "anna"), ("cancelled", "anna")]
    assert trail[-1]["details"]["outlook_period"] == "alwaysEnabled"
    assert trail[-1]["at"] == MONDAY.isoformat()
    assert not say(bot, "anna", "frånvaro slut").ok                    # nothing left to end

    # a new Outlook period counts again
    graph.set_auto_replies(_address("anna"), "scheduled", MONDAY - timedelta(hours=1),
                           MONDAY + timedelta(days=1))
    clock.set(MONDAY + timedelta(minutes=15))
    bot.services.refresh_outlook(force=True)
    assert ("eva", "anna") in told(bot, deviation(bot))


def test_without_the_permission_nothing_is_routed_and_it_is_said_once(settings, clock, caplog):
    with FakeGraphServer(roles=("Mail.ReadWrite", "Mail.Send")) as graph:
        org = dataclasses.replace(settings.org, outlook_absence=True)
        graph_settings = dataclasses.replace(settings, org=org, env=graph.env())
        bot = build(graph_settings, mail=_NoMail(), notifiers={"console": FakeNotifier()},
                    clock=clock, sender=FakeMailSender())
        try:
            bot.services.use_outlook(GraphAutomaticReplies.from_settings(graph_settings,
                                                                         verify=graph.ca_path))
            caplog.set_level(logging.WARNING, logger="bot.usecases.outlook")
            assert bot.services.refresh_outlook(force=True) == {"read": 0, "failed": 4}
            clock.set(MONDAY + timedelta(minutes=15))
            bot.services.refresh_outlook(force=True)
            messages = [r.getMessage() for r in caplog.records if "anna" in r.getMessage()]
            assert len(messages) == 1 and "MailboxSettings.Read" in messages[0]
            assert ("anna", None) in told(bot, deviation(bot))
        finally:
            bot.close()


def test_check_config_says_when_the_settings_cannot_work(settings):
    from bot.config_check import check_environment
    org = dataclasses.replace(settings.org, outlook_absence=True, teams_graph_chat_read=True)
    warnings = check_environment(dataclasses.replace(settings, org=org, env={}))
    assert any("outlook_absence" in w and "MAIL_SOURCE=graph" in w for w in warnings)
    assert any("graph_chat_read" in w and "GRAPH_TENANT_ID" in w for w in warnings)


def test_run_reads_the_automatic_replies_by_itself(settings, graph, clock):
    """`run`'s loop refreshes the replies (as leader), without anyone asking."""
    from tests.contract.test_graph_retry_after import Running, wait_for
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    org = dataclasses.replace(settings.org, outlook_absence=True)
    graph_settings = dataclasses.replace(settings, org=org, env=graph.env())
    bot = build(graph_settings, mail=_NoMail(), notifiers={"console": FakeNotifier()},
                clock=clock, sender=FakeMailSender())
    bot.services.use_outlook(GraphAutomaticReplies.from_settings(graph_settings, verify=graph.ca_path))
    with Running(bot):
        assert wait_for(lambda: bot.store.get_state("outlook:anna") is not None, 20)
    assert bot.store.get_state("outlook:anna")["replies"]["status"] == "alwaysEnabled"
    assert reads(graph) == 1


def test_ending_an_outlook_period_keeps_an_absence_planned_for_later(bot, graph, clock):
    graph.set_auto_replies(_address("anna"), "alwaysEnabled")
    bot.services.refresh_outlook(force=True)
    assert say(bot, "anna", "frånvaro 2026-11-23 2026-11-27 Sven Samordnare").ok   # next week
    assert say(bot, "anna", "frånvaro av").ok                          # today: Outlook's ends
    assert ("anna", None) in told(bot, deviation(bot))
    clock.set(datetime(2026, 11, 24, 9, tzinfo=timezone.utc))
    assert ("sven", "anna") in told(bot, deviation(bot))               # the plan holds
