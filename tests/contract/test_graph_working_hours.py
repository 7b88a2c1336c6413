"""Issue 24: a person's Outlook working hours, `GET /users/{id}/mailboxSettings/workingHours`,
through the real O365 and msal code against the local Graph (tests/fakes/graph_server.py),
read at most every few hours per person, kept in the store's state; a 429 honoured; a
failure or a person without a mailbox: the office's hours."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.domain.notify import HOURS_PREFIX
from bot.mail.graph import GraphWorkingHours
from bot.usecases.workhours import WorkingHoursRefresh
from tests.fakes.graph_server import FakeGraphServer
from tests.fakes.mail import make_mail
from tests.fakes.notifier import FakeNotifier

ANNA = "anna.andersson@exempelby.se"
# the shape of the Graph documentation's example (workingHours resource type)
ANNA_HOURS = {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday"],
              "startTime": "07:00:00.0000000", "endTime": "13:00:00.0000000",
              "timeZone": {"name": "W. Europe Standard Time"}}
MONDAY_0930 = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)


@pytest.fixture
def graph():
    with FakeGraphServer() as server:
        server.working_hours[ANNA] = ANNA_HOURS
        yield server


@pytest.fixture
def wired(settings, graph, clock):
    graph_settings = dataclasses.replace(settings, env=graph.env())
    notifier = FakeNotifier()
    bot = build(graph_settings, notifiers={"console": notifier}, clock=clock)
    source = GraphWorkingHours.from_settings(graph_settings, verify=graph.ca_path)
    bot.services.working_hours = WorkingHoursRefresh(bot.services.deps, source)
    yield bot, notifier
    bot.close()


def hours_requests(graph) -> list[str]:
    return [r.path for r in graph.graph_requests("GET", r"/mailboxSettings/workingHours$")]


def test_the_adapter_reads_the_documented_shape(graph, settings):
    source = GraphWorkingHours.from_settings(dataclasses.replace(settings, env=graph.env()),
                                             verify=graph.ca_path)
    try:
        answer = source.working_hours(ANNA)
        assert {k: answer[k] for k in ANNA_HOURS} == ANNA_HOURS
        assert source.working_hours("nobody@exempelby.se") is None      # no mailbox there
        assert hours_requests(graph) == [f"/v1.0/users/{ANNA}/mailboxSettings/workingHours",
                                         "/v1.0/users/nobody@exempelby.se/mailboxSettings/workingHours"]
        assert graph.graph_requests()[0].headers["authorization"].startswith("Bearer ")
    finally:
        source.close()


def test_hours_are_kept_read_every_few_hours_and_used_for_delivery(wired, graph, clock):
    bot, notifier = wired
    counts = bot.services.refresh_working_hours(MONDAY_0930)
    people = len(bot.settings.org.people)
    assert counts == {"read": people, "failed": 0, "skipped": 0, "throttled": 0}
    assert len(hours_requests(graph)) == people
    saved = bot.store.get_state(HOURS_PREFIX + "anna")
    assert saved["hours"] == {"days": [0, 1, 2, 3], "start": "07:00:00", "end": "13:00:00",
                              "tz": "Europe/Stockholm"}
    assert bot.store.get_state(HOURS_PREFIX + "eva")["hours"] is None    # office hours
    # within the refresh interval nobody is asked again
    bot.services.refresh_working_hours(MONDAY_0930 + timedelta(hours=3))
    assert len(hours_requests(graph)) == people
    bot.services.refresh_working_hours(MONDAY_0930 + timedelta(hours=4))
    assert len(hours_requests(graph)) == 2 * people
    # Anna works 07–13: `omedelbart` at 14:00 waits for her Tuesday 07:00, not the office's 08:00
    hjalp = bot.services.handle_command(Actor.person("anna"), "hjälp", "slack").text
    assert "arbetstid 07:00–13:00, från Outlook" in hjalp
    assert bot.services.handle_command(Actor.person("anna"), "avisering omedelbart", "slack").ok
    clock.set(datetime(2026, 11, 16, 13, 0, tzinfo=timezone.utc))           # 14:00 local
    bot.services.ingest_mail(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                       subject="Avvikelse – Hemtjänst Norr", body="Utebliven insats.",
                                       date=clock.now()))
    held = [n for n in bot.store.outbox() if n["recipient"] == "anna"]
    assert [n["held_until"] for n in held] == ["2026-11-17T06:00:00+00:00"]


def test_a_429_is_honoured_before_anyone_is_asked_again(wired, graph):
    bot, _ = wired
    graph.fail_next(429, path=r"/mailboxSettings/workingHours$", headers={"Retry-After": "600"})
    counts = bot.services.refresh_working_hours(MONDAY_0930)
    assert counts["throttled"] == 1 and counts["read"] == 0
    assert len(hours_requests(graph)) == 1
    bot.services.refresh_working_hours(MONDAY_0930 + timedelta(seconds=599))
    assert len(hours_requests(graph)) == 1                                  # still waiting
    counts = bot.services.refresh_working_hours(MONDAY_0930 + timedelta(seconds=601))
    assert counts["read"] == len(bot.settings.org.people)


def test_a_failure_leaves_the_person_on_the_office_hours(wired, graph):
    bot, _ = wired
    graph.fail_next(403, path=r"/users/anna\.andersson@exempelby\.se/mailboxSettings",
                    code="ErrorAccessDenied")
    counts = bot.services.refresh_working_hours(MONDAY_0930)
    assert counts["failed"] == 1
    saved = bot.store.get_state(HOURS_PREFIX + "anna")
    assert saved["hours"] is None and saved["error"]
    assert "arbetstid 08:00–16:30, kontorets" in bot.services.handle_command(
        Actor.person("anna"), "hjälp", "slack").text
