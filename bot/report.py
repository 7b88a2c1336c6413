"""The year's figures for the patientsäkerhetsberättelse (issue 15), computed from cases.

Pure: cases, the organisation, a business-day calendar, a year and the moment of the
report in; a Report out. No store, no files: the CLI and the web hand in the cases.

Decisions a reader of the figures should know:
- A case belongs to the year of its diary number; its month is that of its arrival
  (the diary's *inkom* date) in the organisation's time zone.
- A step is measured for a case of the year when both of its ends are recorded,
  even if the step ended the year after. Business days count as the deadlines do:
  the business days after the start's date up to and including the end's date, so a
  step done the same day took 0 business days. Calendar days are the difference of the
  local dates.
- "Within the deadline" compares the step's end with the deadline of DESIGN §6 (the
  end of the N-th business day after the start), as the reminders do.
- Open and overdue "at the year's end" are as of 1 January of the next year, 00:00
  local time, or as of the report's moment for the current year: cases of any earlier
  year still open then count too, so the caller passes every year up to the report's.
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Iterable, Protocol
from zoneinfo import ZoneInfo

from bot.domain.case import COMPLAINT, FSN, INCOMING, KINDS, OUTGOING, STATUSES, Case, from_iso
from bot.domain.lagrum import case_lagrum
from bot.domain.org import LAGRUM, SEVERITIES, Organisation
from bot.domain.process import step_deadline
from bot.cells import safe_cell
from bot.domain.redact import redact
from bot.texts import t


class BusinessDays(Protocol):
    def deadline(self, start: datetime, n: int) -> datetime: ...
    def business_days_between(self, start: date, end: date) -> int: ...
    def local(self, dt: datetime) -> datetime: ...


# (kind, step) -> (status the step starts from, or None for the arrival; status that ends it)
STEP_SPANS: dict[tuple[str, str], tuple[str | None, str]] = {
    (INCOMING, "register"): (None, "registered"),
    (INCOMING, "respond"): (None, "response_received"),
    (INCOMING, "send_response"): ("response_received", "response_sent"),
    (INCOMING, "close"): ("response_sent", "closed"),
    (OUTGOING, "send"): (None, "sent"),
    (OUTGOING, "external_response"): ("sent", "response_received"),
    (OUTGOING, "close"): ("response_received", "closed"),
    (COMPLAINT, "answer"): (None, "answered"),
    (COMPLAINT, "close"): ("answered", "closed"),
    (FSN, "fsn"): (None, "closed"),
}
# the order steps are shown in: the incoming process, the outgoing one, a complaint's answer,
# a safety notice handled; closing last (every kind that has it)
STEP_ORDER = ("register", "respond", "send_response", "send", "external_response", "answer",
              "fsn", "close")
SEVERITY_KEYS = (*SEVERITIES[::-1], None)          # red, yellow, green, unassessed


# --------------------------------------------------------------------------- the figures
@dataclass(frozen=True)
class MonthInflow:
    month: int                       # 1..12
    count: int
    previous: int                    # the same month the year before

    @property
    def change(self) -> int:
        return self.count - self.previous


@dataclass(frozen=True)
class Count:
    name: str                        # a display name (unit, counterpart, kind, severity)
    count: int


@dataclass(frozen=True)
class StepFigures:
    step: str                        # step id: register, respond, …
    kind: str                        # incoming | outgoing | both (close)
    count: int                       # steps measured
    median_business_days: float | None
    p90_business_days: float | None
    median_calendar_days: float | None
    p90_calendar_days: float | None
    within_deadline: int             # of count

    @property
    def share_within(self) -> float | None:
        return self.within_deadline / self.count if self.count else None


@dataclass(frozen=True)
class AnswerRate:
    counterpart: str                 # display name
    sent: int                        # outgoing deviations sent to them
    answered: int
    answered_in_time: int
    median_business_days: float | None

    @property
    def rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None


@dataclass(frozen=True)
class Report:
    year: int
    organisation: str
    language: str
    generated: datetime
    as_of: datetime                  # the year's end, or the report's moment for this year
    year_complete: bool
    total: int
    previous_total: int
    inflow: list[MonthInflow]
    by_unit: list[Count]
    by_counterpart: list[Count]
    by_kind: list[Count]
    by_severity: list[Count]
    steps: list[StepFigures]
    open_at_end: int
    overdue_at_end: int
    overdue_by_unit: list[Count] = field(default_factory=list)
    answer_rates: list[AnswerRate] = field(default_factory=list)
    lex: list[Count] = field(default_factory=list)     # Lex Maria / Lex Sarah, _lex_figures
    # HSL, SoL, LSS and undecided (issue 26); a case from 0.3.0 by its unit
    by_lagrum: list[Count] = field(default_factory=list)


# --------------------------------------------------------------------------- building
def build_report(cases: Iterable[Case], org: Organisation, calendar: BusinessDays, year: int,
                 now: datetime) -> Report:
    """The figures of `year`. `cases` should hold every case up to that year (at least this
    year's and last year's; earlier open ones count as open at the year's end)."""
    lang = org.language
    tz = ZoneInfo(org.timezone)
    year_end = datetime.combine(date(year + 1, 1, 1), time(0, 0), tzinfo=tz)
    as_of = min(year_end, now)
    this_year: list[Case] = []
    previous_months: Counter[int] = Counter()
    open_at_end: list[Case] = []
    overdue_at_end: list[Case] = []
    for case in cases:
        if case.year == year:
            this_year.append(case)
        elif case.year == year - 1:
            previous_months[_month(case, tz, year - 1)] += 1
        if case.year <= year:
            snapshot = _as_of(case, as_of)
            if snapshot is not None and not snapshot.is_closed:
                open_at_end.append(snapshot)
                deadline = step_deadline(snapshot, org, calendar)
                if deadline is not None and deadline < as_of:
                    overdue_at_end.append(snapshot)
    months = Counter(_month(c, tz, year) for c in this_year)
    inflow = [MonthInflow(m, months[m], previous_months[m]) for m in range(1, 13)]
    return Report(
        year=year, organisation=redact(org.name), language=lang, generated=now, as_of=as_of,
        year_complete=now >= year_end, total=len(this_year),
        previous_total=sum(previous_months.values()), inflow=inflow,
        by_unit=_counts(this_year, lambda c: unit_name(org, c.unit)),
        by_counterpart=_counts(this_year, lambda c: counterpart_name(org, c.counterpart)),
        by_kind=_ordered_counts(this_year, lambda c: c.kind,
                                {k: t(lang, f"kind_{k}") for k in KINDS}),
        by_severity=_ordered_counts(this_year, lambda c: c.severity,
                                    {s: severity_name(lang, s) for s in SEVERITY_KEYS}),
        steps=_step_figures(this_year, org, calendar),
        open_at_end=len(open_at_end), overdue_at_end=len(overdue_at_end),
        overdue_by_unit=_counts(overdue_at_end, lambda c: unit_name(org, c.unit)),
        answer_rates=_answer_rates(this_year, org, calendar),
        lex=_lex_figures(this_year, lang),
        by_lagrum=_ordered_counts(this_year, lambda c: case_lagrum(c, org),
                                  {**{law: law for law in LAGRUM},
                                   None: t(lang, "report_lagrum_none")}),
    )


# the Lex Maria / Lex Sarah measures, in the order they are shown (key, which cases count)
_LEX_MEASURES = (
    ("requested", lambda c: bool(c.lex_requested)),
    ("decided", lambda c: bool(c.lex_decision)),
    ("maria", lambda c: bool(c.lex_decision) and c.lex_decision["decision"] == "maria"),
    ("sarah", lambda c: bool(c.lex_decision) and c.lex_decision["decision"] == "sarah"),
    ("ingen", lambda c: bool(c.lex_decision) and c.lex_decision["decision"] == "ingen"),
    ("ivo", lambda c: bool(c.lex_decision) and bool(c.lex_decision.get("ivo"))),
    ("waiting", lambda c: bool(c.lex_requested) and not c.lex_decision),
)


def _lex_figures(cases: list[Case], lang: str) -> list[Count]:
    """Assessments asked for, decisions by kind, reports with IVO's reference, and those
    still not assessed: the patient-safety report says whether anyone looked."""
    return [Count(t(lang, f"report_lex_{key}"), sum(1 for c in cases if counts(c)))
            for key, counts in _LEX_MEASURES]


def unit_name(org: Organisation, unit_id: str | None) -> str:
    unit = org.units.get(unit_id or "")
    return unit.name if unit else t(org.language, "report_unknown_unit")


def counterpart_name(org: Organisation, counterpart_id: str | None) -> str:
    counterpart = org.counterparts.get(counterpart_id or "")
    return counterpart.name if counterpart else t(org.language, "report_unknown_counterpart")


def severity_name(lang: str, severity: str | None) -> str:
    return t(lang, f"severity_{severity}" if severity else "severity_none")


def _month(case: Case, tz: ZoneInfo, year: int) -> int:
    arrived = from_iso(case.created).astimezone(tz).date()
    if arrived.year != year:          # a diary year and an arrival year may differ at New Year
        return 1 if arrived.year < year else 12
    return arrived.month


def _counts(cases: list[Case], name_of) -> list[Count]:
    """Most first, then by name: the list a reader scans from the top."""
    counter = Counter(name_of(c) for c in cases)
    return [Count(name, n) for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _ordered_counts(cases: list[Case], key_of, names: dict) -> list[Count]:
    """A fixed order (kinds, severities), zeros kept: the reader sees every category."""
    counter = Counter(key_of(c) for c in cases)
    return [Count(name, counter[key]) for key, name in names.items()]


def _as_of(case: Case, moment: datetime) -> Case | None:
    """The case as it stood at `moment` (its status then), or None when it had not arrived.
    Statuses are passed in process order, so the last one reached by then is the status."""
    if from_iso(case.created) > moment:
        return None
    status = "diarised"
    for candidate in STATUSES[case.kind]:
        reached = case.status_since.get(candidate)
        if reached is not None and from_iso(reached) <= moment:
            status = candidate
    return case if status == case.status else replace(case, status=status)


def _span(case: Case, step: str) -> tuple[datetime, datetime] | None:
    span = STEP_SPANS.get((case.kind, step))
    if span is None:
        return None
    start_status, end_status = span
    start = case.created if start_status is None else case.status_since.get(start_status)
    end = case.status_since.get(end_status)
    if start is None or end is None:
        return None
    began, ended = from_iso(start), from_iso(end)
    return (began, ended) if ended >= began else None


def _deadline_days(org: Organisation, case: Case, step: str) -> int:
    d = org.deadlines
    return {"register": d.register, "respond": d.respond_days(case.severity),
            "send_response": d.send_response, "close": d.close, "send": d.send_response,
            "external_response": d.external_response, "answer": d.complaint_answer,
            "fsn": d.fsn}[step]


def _step_figures(cases: list[Case], org: Organisation, calendar: BusinessDays) -> list[StepFigures]:
    business: dict[str, list[int]] = {s: [] for s in STEP_ORDER}
    calendar_days: dict[str, list[int]] = {s: [] for s in STEP_ORDER}
    within: Counter[str] = Counter()
    for case in cases:
        for step in STEP_ORDER:
            span = _span(case, step)
            if span is None:
                continue
            began, ended = span
            start_day, end_day = calendar.local(began).date(), calendar.local(ended).date()
            business[step].append(calendar.business_days_between(start_day, end_day))
            calendar_days[step].append((end_day - start_day).days)
            if ended <= calendar.deadline(began, _deadline_days(org, case, step)):
                within[step] += 1
    kinds = {"register": INCOMING, "respond": INCOMING, "send_response": INCOMING,
             "send": OUTGOING, "external_response": OUTGOING, "answer": COMPLAINT, "fsn": FSN,
             "close": "both"}
    return [StepFigures(step, kinds[step], len(business[step]), _median(business[step]),
                        _p90(business[step]), _median(calendar_days[step]),
                        _p90(calendar_days[step]), within[step])
            for step in STEP_ORDER]


def _agreed_deadline(org: Organisation, case: Case, began: datetime,
                     calendar: BusinessDays) -> datetime:
    """When the counterpart should have answered: its agreement (answer_within), else the
    organisation's deadline."""
    from datetime import timedelta
    counterpart = org.counterparts.get(case.counterpart or "")
    days, calendar_days = (counterpart.answer_within if counterpart and counterpart.answer_within
                           else (org.deadlines.external_response, False))
    if calendar_days:
        return calendar.deadline(began + timedelta(days=days), 0)
    return calendar.deadline(began, days)


def _answer_rates(cases: list[Case], org: Organisation,
                  calendar: BusinessDays) -> list[AnswerRate]:
    """The counterparts' answers to our outgoing deviations: how many, how fast."""
    sent: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    in_time: Counter[str] = Counter()
    days: dict[str, list[int]] = {}
    for case in cases:
        if case.kind != OUTGOING or "sent" not in case.status_since:
            continue
        name = counterpart_name(org, case.counterpart)
        sent[name] += 1
        span = _span(case, "external_response")
        if span is None:
            continue
        began, ended = span
        answered[name] += 1
        days.setdefault(name, []).append(calendar.business_days_between(
            calendar.local(began).date(), calendar.local(ended).date()))
        if ended <= _agreed_deadline(org, case, began, calendar):
            in_time[name] += 1
    return [AnswerRate(name, n, answered[name], in_time[name], _median(days.get(name, [])))
            for name, n in sorted(sent.items(), key=lambda kv: (-kv[1], kv[0]))]


def _nearest_rank(values: list[int], share: float) -> float | None:
    """The percentile by nearest rank: the smallest measured value that at least `share` of
    the values do not exceed. Always one real case's time (10 and 20 days give 20, never an
    interpolated 18), so a figure in the report can be looked up in the diary."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(share * len(ordered))) - 1])


def _median(values: list[int]) -> float | None:
    """The usual median: the middle value, or the mean of the two middle ones."""
    return float(statistics.median(values)) if values else None


def _p90(values: list[int]) -> float | None:
    return _nearest_rank(values, 0.9)


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """One section of the report as rows: shared by the CSV, Markdown and xlsx renderers."""
    key: str                         # section id (stable, for CSV consumers)
    title: str
    header: tuple[str, ...]
    rows: list[tuple[object, ...]]


def tables(report: Report) -> list[Table]:
    """The report as tables with labels from the catalog; numbers stay numbers."""
    lang = report.language
    label = lambda key, **v: t(lang, key, **v)   # noqa: E731 - a short local alias
    prev = report.year - 1
    count_col = label("report_col_cases")
    result = [
        Table("summary", label("report_summary_title"),
              (label("report_col_measure"), label("report_col_value")), [
                  (label("report_measure_total", year=report.year), report.total),
                  (label("report_measure_total", year=prev), report.previous_total),
                  (label("report_measure_open", moment=_moment_label(report)), report.open_at_end),
                  (label("report_measure_overdue", moment=_moment_label(report)),
                   report.overdue_at_end),
              ]),
        Table("inflow", label("report_inflow_title"),
              (label("report_col_month"), str(report.year), str(prev), label("report_col_change")),
              [(month_name(lang, m.month), m.count, m.previous, m.change) for m in report.inflow]),
        Table("unit", label("report_by_unit_title"), (label("label_unit"), count_col),
              [(c.name, c.count) for c in report.by_unit]),
        Table("counterpart", label("report_by_counterpart_title"),
              (label("label_counterpart"), count_col),
              [(c.name, c.count) for c in report.by_counterpart]),
        Table("kind", label("report_by_kind_title"), (label("label_kind"), count_col),
              [(c.name, c.count) for c in report.by_kind]),
        Table("lagrum", label("report_by_lagrum_title"), (label("label_lagrum"), count_col),
              [(c.name, c.count) for c in report.by_lagrum]),
        Table("severity", label("report_by_severity_title"), (label("label_severity"), count_col),
              [(c.name, c.count) for c in report.by_severity]),
        Table("steps", label("report_steps_title"),
              (label("report_col_step"), label("report_col_measured"),
               label("report_col_median_business"), label("report_col_p90_business"),
               label("report_col_median_calendar"), label("report_col_p90_calendar"),
               label("report_col_within"), label("report_col_within_share")),
              [(step_name(lang, s.step), s.count, s.median_business_days, s.p90_business_days,
                s.median_calendar_days, s.p90_calendar_days, s.within_deadline,
                _share(s.share_within)) for s in report.steps]),
        Table("overdue_unit", label("report_overdue_by_unit_title",
                                    moment=_moment_label(report)),
              (label("label_unit"), count_col),
              [(c.name, c.count) for c in report.overdue_by_unit]),
        Table("answers", label("report_answers_title"),
              (label("label_counterpart"), label("report_col_sent"), label("report_col_answered"),
               label("report_col_answer_share"), label("report_col_answered_in_time"),
               label("report_col_median_business")),
              [(a.counterpart, a.sent, a.answered, _share(a.rate), a.answered_in_time,
                a.median_business_days) for a in report.answer_rates]),
        Table("lex", label("report_lex_title"), (label("report_col_measure"), count_col),
              [(c.name, c.count) for c in report.lex]),
    ]
    return result


def _share(value: float | None) -> float | None:
    """A share as a percentage with one decimal (a number, so spreadsheets can sum it)."""
    return None if value is None else round(100 * value, 1)


def month_name(lang: str, month: int) -> str:
    from bot.texts import MONTHS
    return MONTHS.get(lang, MONTHS["sv"])[month - 1]


def step_name(lang: str, step: str) -> str:
    return t(lang, f"report_step_{step}")


def _moment_label(report: Report) -> str:
    if report.year_complete:
        return t(report.language, "report_at_year_end", year=report.year)
    return t(report.language, "report_at_moment", date=report.as_of.date().isoformat())


# --------------------------------------------------------------------------- renderers
def number(lang: str, value: float | int | None) -> str:
    """1 / 1,5 in Swedish, 1 / 1.5 in English; a dash for nothing measured."""
    if value is None:
        return "–"
    text = str(int(value)) if float(value).is_integer() else f"{value:.1f}"
    return text.replace(".", ",") if lang == "sv" else text


def counted(lang: str, n: float | int, word: str) -> str:
    """'1 ärende', '2 ärenden', '1,5 arbetsdagar': the catalog holds both forms."""
    form = "one" if n == 1 else "other"
    return t(lang, f"report_n_{word}_{form}", n=number(lang, n))


def signed(lang: str, n: int) -> str:
    return ("+" if n > 0 else "±" if n == 0 else "−") + str(abs(n))


def render_text(report: Report) -> str:
    """Readable text for the terminal or a mail: a heading per section, aligned columns."""
    lang = report.language
    moment = _moment_label(report)
    out = [t(lang, "report_title", year=report.year, organisation=report.organisation),
           t(lang, "report_lead", cases=counted(lang, report.total, "cases"),
             previous_year=report.year - 1,
             previous=counted(lang, report.previous_total, "cases"),
             change=signed(lang, report.total - report.previous_total)),
           t(lang, "report_open_line", moment=moment[:1].upper() + moment[1:],
             open=counted(lang, report.open_at_end, "cases"),
             overdue=counted(lang, report.overdue_at_end, "cases")),
           ""]
    out.append(t(lang, "report_inflow_title"))
    width = max(len(month_name(lang, m)) for m in range(1, 13))
    for m in report.inflow:
        out.append(f"  {month_name(lang, m.month).ljust(width)}  "
                   + t(lang, "report_inflow_line", cases=counted(lang, m.count, "cases"),
                       previous_year=report.year - 1, previous=m.previous,
                       change=signed(lang, m.change)))
    for title_key, counts in (("report_by_unit_title", report.by_unit),
                              ("report_by_counterpart_title", report.by_counterpart),
                              ("report_by_kind_title", report.by_kind),
                              ("report_by_lagrum_title", report.by_lagrum),
                              ("report_by_severity_title", report.by_severity)):
        out += ["", t(lang, title_key)] + _count_lines(lang, counts)
    out += ["", t(lang, "report_steps_title"), "  " + t(lang, "report_steps_note")]
    for s in report.steps:
        out.append("  " + _step_line(lang, s))
    out += ["", t(lang, "report_overdue_by_unit_title", moment=moment)]
    out += _count_lines(lang, report.overdue_by_unit) or ["  " + t(lang, "report_none")]
    out += ["", t(lang, "report_answers_title")]
    for a in report.answer_rates:
        out.append("  " + t(lang, "report_answer_line", counterpart=a.counterpart,
                            sent=counted(lang, a.sent, "deviations"), answered=a.answered,
                            share=_percent(lang, a.rate), in_time=a.answered_in_time,
                            median=_days(lang, a.median_business_days, "business_days")))
    if not report.answer_rates:
        out.append("  " + t(lang, "report_none"))
    out += ["", t(lang, "report_lex_title")]
    width = max((len(c.name) for c in report.lex), default=0)
    out += [f"  {c.name.ljust(width)}  {c.count}" for c in report.lex]
    return redact("\n".join(out)) + "\n"


def _count_lines(lang: str, counts: list[Count]) -> list[str]:
    if not counts:
        return []
    width = max(len(c.name) for c in counts)
    return [f"  {c.name.ljust(width)}  {counted(lang, c.count, 'cases')}" for c in counts]


def _percent(lang: str, share: float | None) -> str:
    if share is None:
        return "–"
    # Swedish writes a space before the per cent sign, English does not
    return number(lang, round(100 * share)) + (" %" if lang == "sv" else "%")


def _days(lang: str, value: float | None, word: str) -> str:
    return "–" if value is None else counted(lang, value, word)


def _step_line(lang: str, s: StepFigures) -> str:
    name = step_name(lang, s.step)
    if not s.count:
        return t(lang, "report_step_none", step=name)
    return t(lang, "report_step_line", step=name,
             median=_days(lang, s.median_business_days, "business_days"),
             median_calendar=_days(lang, s.median_calendar_days, "calendar_days"),
             p90=_days(lang, s.p90_business_days, "business_days"),
             p90_calendar=_days(lang, s.p90_calendar_days, "calendar_days"),
             within=s.within_deadline, count=counted(lang, s.count, "steps"),
             share=_percent(lang, s.share_within))


def render_markdown(report: Report) -> str:
    lang = report.language
    out = [f"# {_md(t(lang, 'report_title', year=report.year, organisation=report.organisation))}",
           "", _md(t(lang, "report_steps_note")), ""]
    for table in tables(report):
        out += [f"## {_md(table.title)}", "",
                "| " + " | ".join(_md(h) for h in table.header) + " |",
                "|" + "|".join("---" if i == 0 else "---:" for i in range(len(table.header))) + "|"]
        out += ["| " + " | ".join(_md(_cell(lang, v)) for v in row) + " |" for row in table.rows]
        if not table.rows:
            out.append("| " + _md(t(lang, "report_none")) + " |" + " |" * (len(table.header) - 1))
        out.append("")
    return redact("\n".join(out))


def _md(text: str) -> str:
    """Names come from the organisation file: keep a | or markup in them from breaking a table."""
    return "".join("\\" + ch if ch in "\\|*_`[]<>#" else ch for ch in text)


def _cell(lang: str, value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, (int, float)):
        return number(lang, value)
    return str(value)


def render_csv(report: Report) -> str:
    """One long table (section, item, measure, value): one header, easy to filter or pivot.
    Comma-separated, decimal point, UTF-8, as RFC 4180; empty value = nothing measured."""
    lang = report.language
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([t(lang, "report_col_section"), t(lang, "report_col_item"),
                     t(lang, "report_col_measure"), t(lang, "report_col_value")])
    for table in tables(report):
        for row in table.rows:
            for header, value in zip(table.header[1:], row[1:]):
                writer.writerow([safe_cell(table.key), safe_cell(str(row[0])),
                                 safe_cell(str(header)),
                                 "" if value is None else
                                 (safe_cell(value) if isinstance(value, str) else value)])
    return redact(buffer.getvalue())
