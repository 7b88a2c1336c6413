"""A fixed diary of two years for the report's golden files and the web tests.

Each case is written as its process went: arrival, then the moments each status was
reached (UTC). The comments give what the report must make of it, worked out by hand
against the example organisation's deadlines (register 2, respond red 5 / yellow 10 /
green 20 / unassessed 10, send_response 1, close 5, external_response 20 business days).
"""
from __future__ import annotations

from datetime import datetime, timezone

from bot.domain.case import (CH_MAIL, DOC_DEVIATION, INCOMING, OUTGOING, Case, Document, Event,
                             Action)
from bot.domain.diary import DiaryNumber

# the report is made on Friday 15 January 2027: 2026 is a complete year
REPORT_NOW = datetime(2027, 1, 15, 12, 0, tzinfo=timezone.utc)


def make_case(year: int, seq: int, kind: str, created: str, *, unit: str | None,
              counterpart: str | None, severity: str | None = None,
              title: str = "Läkemedel gavs vid fel tid", lex_asked: str | None = None,
              lex: dict | None = None, **reached: str) -> Case:
    """`reached` maps a status to when it was reached; the last one is the status now.
    `lex_asked`: when a Lex Maria/Lex Sarah assessment was asked for; `lex`: the decision."""
    number = DiaryNumber(year, seq)
    since = {"diarised": created, **reached}
    status = max(since, key=lambda s: since[s])
    document = Document(no=1, type=DOC_DEVIATION, received=created,
                        sender="avvikelse@regionexempel.se", subject=title,
                        message_id=f"<{year}-{seq}@test>", raw=None, attachments=["rapport.pdf"])
    events = [Event(created, "mail:avvikelse@regionexempel.se", CH_MAIL, "diarised",
                    {"kind": kind, "unit": unit})]
    events += [Event(at, "rut", "slack", "status", {"to": status_name})
               for status_name, at in reached.items()]
    return Case(number=number.format(4), key=number.key, kind=kind, title=title,
                status=status, created=created, unit=unit, counterpart=counterpart,
                severity=severity, status_since=since, documents=[document], events=events,
                actions=[Action(no=1, text="Se över rutinen", owner="anna", due="2026-12-01",
                                created=created)] if seq == 1 else [],
                lex_requested={"at": lex_asked, "reason": "red", "assessors": ["sven"]}
                if lex_asked else None, lex_decision=lex)


def fixed_cases() -> list[Case]:
    return [
        # --- 2025: the year before --------------------------------------------------------
        make_case(2025, 1, INCOMING, "2025-01-10T09:00:00+00:00", unit="hemtjanst-norr",
                  counterpart="region-exempel", closed="2025-02-01T09:00:00+00:00"),
        make_case(2025, 2, INCOMING, "2025-03-05T09:00:00+00:00", unit="solgarden",
                  counterpart="sjukhuset", closed="2025-04-01T09:00:00+00:00"),
        make_case(2025, 3, OUTGOING, "2025-03-20T09:00:00+00:00", unit="hemsjukvard",
                  counterpart="apoteket", closed="2025-04-20T09:00:00+00:00"),
        # closed in January 2026: not open at the end of 2026
        make_case(2025, 4, INCOMING, "2025-11-03T09:00:00+00:00", unit="bjorkhagen",
                  counterpart="region-exempel", closed="2026-01-20T09:00:00+00:00"),
        # still open (registered, respond 10 days): open and overdue at the end of 2026
        make_case(2025, 5, INCOMING, "2025-12-01T09:00:00+00:00", unit="hemtjanst-soder",
                  counterpart="sjukhuset", registered="2025-12-02T09:00:00+00:00"),
        # --- 2026 ---------------------------------------------------------------------------
        # every step within its deadline: register 1, respond 4 (red 5), send 1, close 4
        make_case(2026, 1, INCOMING, "2026-01-12T08:00:00+00:00", unit="hemtjanst-norr",
                  counterpart="region-exempel", severity="red",
                  # Lex Sarah: assessed, reported, IVO's reference recorded
                  lex_asked="2026-01-13T10:00:00+00:00",
                  lex={"decision": "sarah", "reason": "Risk för allvarligt missförhållande",
                       "by": "sven", "at": "2026-01-14T09:00:00+00:00", "ivo": "3.5.1-00123/2026"},
                  registered="2026-01-13T10:00:00+00:00",
                  response_received="2026-01-16T12:00:00+00:00",
                  response_sent="2026-01-19T09:00:00+00:00", closed="2026-01-23T09:00:00+00:00"),
        # late except sending: register 4 (>2), respond 14 (>10), send 0, close 6 (>5)
        make_case(2026, 2, INCOMING, "2026-02-02T09:00:00+00:00", unit="hemtjanst-soder",
                  counterpart="sjukhuset", severity="yellow",
                  registered="2026-02-06T09:00:00+00:00",
                  response_received="2026-02-20T09:00:00+00:00",
                  response_sent="2026-02-20T15:00:00+00:00", closed="2026-03-02T09:00:00+00:00"),
        # registered, green (20 days), never answered: overdue at the year's end
        make_case(2026, 3, INCOMING, "2026-02-10T09:00:00+00:00", unit="solgarden",
                  counterpart="region-exempel", severity="green",
                  registered="2026-02-11T09:00:00+00:00"),
        # outgoing, sent the same day (0), answered after 15 business days, closed after 2
        make_case(2026, 4, OUTGOING, "2026-03-03T10:00:00+00:00", unit="hemsjukvard",
                  counterpart="apoteket", sent="2026-03-03T14:00:00+00:00",
                  response_received="2026-03-24T10:00:00+00:00", closed="2026-03-26T10:00:00+00:00"),
        # outgoing, sent late (2 > 1), never answered: overdue at the year's end
        make_case(2026, 5, OUTGOING, "2026-04-07T08:00:00+00:00", unit="hemsjukvard",
                  counterpart="apoteket", sent="2026-04-09T08:00:00+00:00"),
        # outgoing, answered late (after midsummer and 33 business days), closed after 1
        make_case(2026, 6, OUTGOING, "2026-06-15T08:00:00+00:00", unit="bjorkhagen",
                  counterpart="vardcentralen", sent="2026-06-15T12:00:00+00:00",
                  response_received="2026-07-31T08:00:00+00:00", closed="2026-08-03T08:00:00+00:00"),
        # wrongly diarised, closed early: no step measured
        make_case(2026, 7, INCOMING, "2026-06-22T08:00:00+00:00", unit=None, counterpart=None,
                  closed="2026-06-23T08:00:00+00:00"),
        # response sent in October, closed in 2027: open and overdue at the year's end,
        # its closing step measured all the same (58 business days: 23 December is a
        # closed day of the organisation, 24, 25, 31 December, 1 and 6 January holidays)
        make_case(2026, 8, INCOMING, "2026-10-05T08:00:00+00:00", unit="hemtjanst-norr",
                  counterpart="region-exempel", severity="red",
                  # Lex: assessed, no report
                  lex_asked="2026-10-06T08:00:00+00:00",
                  lex={"decision": "ingen", "reason": "Ingen vårdskada uppstod", "by": "sven",
                       "at": "2026-10-07T08:00:00+00:00", "ivo": None},
                  registered="2026-10-06T08:00:00+00:00",
                  response_received="2026-10-09T08:00:00+00:00",
                  response_sent="2026-10-12T08:00:00+00:00", closed="2027-01-08T08:00:00+00:00"),
        # outgoing without a known counterpart, never sent: overdue
        make_case(2026, 9, OUTGOING, "2026-11-20T08:00:00+00:00", unit="hemtjanst-norr",
                  counterpart=None),
        # arrived Monday 28 December: register by Wednesday 30th, so overdue on 1 January
        # the mail spoke of serious harm: a Lex assessment asked for and not made
        make_case(2026, 10, INCOMING, "2026-12-28T08:00:00+00:00", unit="hemtjanst-norr",
                  counterpart="folktandvarden", lex_asked="2026-12-28T08:00:00+00:00"),
        # arrived Wednesday 30 December: register by 5 January (31/12 and 1/1 are not
        # business days), so open but not overdue on 1 January
        make_case(2026, 11, INCOMING, "2026-12-30T08:00:00+00:00", unit="solgarden",
                  counterpart="folktandvarden"),
    ]
