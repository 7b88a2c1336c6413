"""The read-only web overview: aiohttp with Jinja2 templates rendered on the server.

Served by `run` (when WEB_PORT is set) and by the standalone `avvikelsebot web`, always on
127.0.0.1 unless WEB_BIND says otherwise, for use behind the organisation's reverse proxy.

Every page:
- is for a signed-in person of the directory only (a one-time link starts a session);
- shows exactly what that person may see in chat (bot.domain.access): a case of another
  unit answers 404, as a case that does not exist does, so a URL reveals nothing;
- leaves through one middleware that redacts personnummer from the whole body, after
  Jinja2 has escaped every text that came from outside.
Opening a case, a mail or an attachment is written to the read log before the page is sent.
"""
from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from bot.domain.access import Actor, can_read_mail, can_view
from bot.domain.case import STATUSES, Case, from_iso
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.lagrum import case_lagrum
from bot.domain.disclosure import summary as disclosure_summary
from bot.domain.records import public_title, secrecy_of
from bot.domain.redact import redact
from bot.errors import DatabaseUnavailable
from bot.domain.weblink import case_path, local_target
from bot.mail.parse import parse_mail
from bot.ports import Clock, SystemClock
from bot.report import build_report, counted, month_name, signed, step_name, tables
from bot.settings import Settings
from bot.texts import t
from bot.web import charts
from bot.web.auth import WebOptions, WebState
from bot.web.diary import DiarySource, Filters, Row
from bot.web.readlog import VIEW_ATTACHMENT, VIEW_CASE, VIEW_MAIL, VIEW_REFUSED

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
COOKIE = "avvikelsebot_session"
NEXT_COOKIE = "avvikelsebot_next"       # the page a signed-out visit asked for
NEXT_SECONDS = 3600
PAGE_SIZE = 50
_TEXT_TYPES = ("text/html", "text/plain", "text/csv")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",          # a sign-in link must not leak to another site
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",               # patient matters stay out of shared caches
}

WEB: web.AppKey["WebApp"] = web.AppKey("web")
SESSION_PERSON = "session_person"      # request key: whom the session cookie names (or None)
# a number in a query is ASCII digits, a few of them: "²" and 5,000 digits are not numbers here
_SMALL_NUMBER = re.compile(r"[0-9]{1,6}")
# right-to-left and other direction controls: a subject "\u202eexe.gnidrocer" would show as
# "recording.exe"; they are removed from every rendered value and download name
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# the web answers as itself, not as the library and version it is built on
SERVER_NAME = "avvikelsebot"


def small_number(text: str | None) -> int | None:
    """A query parameter as a number when it is 1-6 ASCII digits, else None."""
    return int(text) if text and _SMALL_NUMBER.fullmatch(text) else None


def without_bidi(value: Any) -> Any:
    """Jinja's finalize: every rendered value without direction controls (markup the code
    made itself, a chart, stays markup)."""
    if isinstance(value, Markup):
        return Markup(_BIDI.sub("", str(value)))
    return _BIDI.sub("", value) if isinstance(value, str) else value


@dataclass
class Viewer:
    person: str
    name: str
    oversight: bool


class WebApp:
    def __init__(self, settings: Settings, source: DiarySource, calendar, *,
                 options: WebOptions | None = None, clock: Clock | None = None,
                 state: WebState | None = None):
        self.settings, self.org, self.source, self.calendar = settings, settings.org, source, calendar
        self.options = options or WebOptions.from_settings(settings)
        self.clock = clock or SystemClock()
        self.lang = self.org.language
        # tokens, sessions, pending sign-in flows, read log: files and memory (one instance)
        # or PostgreSQL (every instance on the database), as the composition root chose
        self.state = state or WebState.local(self.options)
        self.tokens = self.state.tokens
        self.sessions = self.state.sessions
        self.pending = self.state.pending
        self.readlog = self.state.readlog
        self.entra: Any = None            # bot.web.entra.EntraPages when Entra ID sign-in is set
        self._reports: dict[tuple, Any] = {}
        self.jinja = Environment(loader=FileSystemLoader(HERE / "templates"),
                                 autoescape=select_autoescape(default=True, default_for_string=True),
                                 trim_blocks=True, lstrip_blocks=True, finalize=without_bidi)
        self.jinja.globals.update(t=lambda key, **v: t(self.lang, key, **v), lang=self.lang,
                                  org_name=self.org.name,
                                  counted=lambda n, word: counted(self.lang, n, word),
                                  signed=lambda n: signed(self.lang, n))
        self.jinja.filters["local"] = self._local

    # ------------------------------------------------------------------ helpers
    def _local(self, value: str | datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return "–"
        moment = from_iso(value) if isinstance(value, str) else value
        return self.calendar.local(moment).strftime(fmt)

    def render(self, name: str, request: web.Request, http_status: int = 200,
               **context) -> web.Response:
        viewer = request.get("viewer")
        html = self.jinja.get_template(name).render(viewer=viewer, path=request.path, **context)
        return web.Response(text=html, content_type="text/html", status=http_status)

    def viewer(self, request: web.Request) -> Viewer:
        """The signed-in person, or a 401 page that says how to get a link. The middleware
        has looked the session up already, off the event loop (a database round trip with
        PostgreSQL)."""
        if SESSION_PERSON in request:
            person_id = request[SESSION_PERSON]
        else:
            person_id = self.sessions.person(request.cookies.get(COOKIE), self.clock.now())
        person = self.org.people.get(person_id or "")
        if person is None:                    # also: someone removed from the directory
            raise self._signin_needed(request)
        viewer = Viewer(person.id, person.name, person.has_oversight)
        request["viewer"] = viewer
        return viewer

    def _signin_needed(self, request: web.Request) -> web.HTTPException:
        """Not signed in. A link followed from Slack, Teams or a mail is a navigation from
        another site, and the browser then leaves our SameSite=Strict cookie at home: the
        page loads itself once more from here, which carries it. Still signed out, the page
        is remembered (a short cookie) and the next sign-in lands there."""
        target = local_target(request.path_qs) if request.method == "GET" else None
        if target and request.headers.get("Sec-Fetch-Site") == "cross-site":
            html = self.jinja.get_template("signin_bounce.html").render(viewer=None, path="")
            return web.HTTPOk(text=html, content_type="text/html")
        html = self.jinja.get_template("signin_needed.html").render(
            viewer=None, path="", returning=bool(target),
            entra_link=self.entra_link(target or request.path_qs))
        refusal = web.HTTPUnauthorized(text=html, content_type="text/html")
        if target:
            refusal.set_cookie(NEXT_COOKIE, target, httponly=True, samesite="Strict", path="/",
                               secure=self.options.secure_cookie, max_age=NEXT_SECONDS)
        return refusal

    def not_found(self, request: web.Request) -> web.HTTPNotFound:
        """The same answer for a case that does not exist and one the person may not see."""
        html = self.jinja.get_template("not_found.html").render(viewer=request.get("viewer"),
                                                                 path=request.path)
        return web.HTTPNotFound(text=html, content_type="text/html")

    def unit_name(self, unit_id: str | None) -> str:
        unit = self.org.units.get(unit_id or "")
        return unit.name if unit else t(self.lang, "report_unknown_unit")

    def counterpart_name(self, cp_id: str | None) -> str:
        cp = self.org.counterparts.get(cp_id or "")
        return cp.name if cp else t(self.lang, "report_unknown_counterpart")

    def person_label(self, who: str) -> str:
        if who in self.org.people:
            return self.org.people[who].name
        if who.startswith("mail:"):
            return t(self.lang, "web_who_mail", address=who[5:])
        return t(self.lang, "web_who_system") if who.startswith("system") else who

    def row_view(self, row: Row, now: datetime) -> dict[str, Any]:
        return {"number": row.number, "url": case_path(row.key), "title": row.title,
                "kind": t(self.lang, f"kind_{row.kind}"), "unit": self.unit_name(row.unit),
                "unit_id": row.unit, "counterpart": self.counterpart_name(row.counterpart),
                "status": t(self.lang, f"status_{row.status}"), "created": row.created,
                "severity": t(self.lang, f"severity_{row.severity}" if row.severity else "severity_none"),
                "deadline": row.deadline, "overdue": row.overdue(now)}

    async def case_for(self, request: web.Request, viewer: Viewer) -> Case:
        try:
            number = DiaryNumber(int(request.match_info["year"]), int(request.match_info["seq"]),
                                 self.org.series)
        except ValueError:
            raise self.not_found(request) from None
        store, _ = await asyncio.to_thread(self.source.current)
        case = await asyncio.to_thread(store.get_case, number)
        if case is None or not can_view(self.org, Actor.person(viewer.person), case):
            await self.refused(viewer, number.format(self.org.digits), request)
            raise self.not_found(request)
        return case

    async def refused(self, viewer: Viewer, number: str, request: web.Request) -> None:
        """A refused look is in the read log as well as a granted one."""
        await asyncio.to_thread(self.readlog.record, person=viewer.person, number=number,
                                what=VIEW_REFUSED, at=self.clock.now(), detail=request.path)

    # ------------------------------------------------------------------ sign-in
    def entra_link(self, next_path: str | None) -> str | None:
        """Where "Logga in med Microsoft" goes (back to next_path after), when it is set up."""
        return self.entra.start_link(next_path) if self.entra else None

    async def signin_help(self, request: web.Request) -> web.Response:
        return self.render("signin_needed.html", request,
                           entra_link=self.entra_link(request.query.get("nasta")))

    async def signin_form(self, request: web.Request) -> web.Response:
        """A GET only shows a button: a mail scanner that follows the link spends nothing."""
        return self.render("signin.html", request, token=request.match_info["token"])

    async def signin(self, request: web.Request) -> web.Response:
        found = await asyncio.to_thread(self.tokens.redeem_with_target,
                                        request.match_info["token"], self.clock.now())
        person, target = found or (None, None)
        if person is None or person not in self.org.people:
            log.info("webben: inloggningslänk avvisad (okänd, förbrukad eller för gammal)")
            return self.render("signin_refused.html", request, http_status=403)
        session_id = await asyncio.to_thread(self.sessions.start, person, self.clock.now())
        log.info("webben: %s loggade in", person)
        # the link's own page first, then the page that asked for a sign-in, then the list
        target = target or local_target(request.cookies.get(NEXT_COOKIE)) or "/arenden"
        response = web.HTTPSeeOther(target)
        if NEXT_COOKIE in request.cookies:
            response.del_cookie(NEXT_COOKIE, path="/")
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict", path="/",
                            secure=self.options.secure_cookie,
                            max_age=int(self.sessions.lifetime.total_seconds()))
        raise response

    async def signout(self, request: web.Request) -> web.Response:
        await asyncio.to_thread(self.sessions.end, request.cookies.get(COOKIE))
        response = web.HTTPSeeOther("/inloggning")
        response.del_cookie(COOKIE, path="/")
        raise response

    # ------------------------------------------------------------------ pages
    async def home(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/arenden")

    def _filters(self, request: web.Request) -> Filters:
        q = request.query
        return Filters(unit=q.get("enhet", ""), counterpart=q.get("motpart", ""),
                       status=q.get("status", ""), overdue=q.get("forsenade") == "1",
                       year=small_number(q.get("ar")), query=q.get("sok", "")[:200],
                       numbers=self._numbers(q.get("nr", "")))

    def _numbers(self, text: str) -> frozenset[int]:
        """?nr=VOK-2026-0001,VOK-2026-0002: the cases a bundled notification listed (at most
        1,000; what is not a diary number of the series is left out)."""
        keys = set()
        for part in text.split(",")[:1000]:
            parsed = parse_diary_number(part.strip(), self.org.series)
            if parsed is not None:
                keys.add(parsed.key)
        return frozenset(keys)

    async def case_list(self, request: web.Request) -> web.Response:
        viewer = self.viewer(request)
        filters = self._filters(request)
        now = self.clock.now()
        _, index = await asyncio.to_thread(self.source.current)
        rows = await asyncio.to_thread(index.query, filters,
                                       index.visible(self.org, viewer.person), now)
        paged = self._page(request, "/arenden", rows, now)
        statuses = sorted({s for kind in STATUSES.values() for s in kind},
                          key=lambda s: t(self.lang, f"status_{s}"))
        return self.render("list.html", request, total=len(rows), **paged, filters=filters,
                           units=self._visible_units(viewer), counterparts=self.org.counterparts.values(),
                           statuses=[(s, t(self.lang, f"status_{s}")) for s in statuses],
                           years=index.years)

    def _page(self, request: web.Request, path: str, rows: list[Row],
              now: datetime) -> dict[str, Any]:
        """One page of rows (?sida=N, PAGE_SIZE a page) and the links to its neighbours,
        the query's other parameters kept: only the page's rows are made into views."""
        page = max(1, small_number(request.query.get("sida")) or 1)
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        page = min(page, pages)
        shown = [self.row_view(r, now) for r in rows[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
        params = {k: v for k, v in request.query.items() if k != "sida" and v}
        link = lambda p: f"{path}?" + urlencode({**params, "sida": p})   # noqa: E731
        return {"rows": shown, "page": page, "pages": pages,
                "prev_link": link(page - 1) if page > 1 else None,
                "next_link": link(page + 1) if page < pages else None}

    def _visible_units(self, viewer: Viewer) -> list:
        if viewer.oversight:
            return list(self.org.units.values())
        return [self.org.units[u] for u in self.org.units_acted_for(viewer.person)]

    async def case_page(self, request: web.Request) -> web.Response:
        viewer = self.viewer(request)
        case = await self.case_for(request, viewer)
        now = self.clock.now()
        from bot.domain.process import current_step, step_deadline
        step = current_step(case, self.org)
        deadline = step_deadline(case, self.org, self.calendar)
        await asyncio.to_thread(self.readlog.record, person=viewer.person, number=case.number,
                                what=VIEW_CASE, at=now)
        readable = can_read_mail(self.org, Actor.person(viewer.person), case)
        events = [{"at": e.at, "who": self.person_label(e.who),
                   "channel": t(self.lang, f"web_channel_{e.channel}")
                   if e.channel in ("mail", "cli", "slack", "teams", "system", "webb") else e.channel,
                   "what": self._event_text(e.what, e.details)} for e in case.events]
        return self.render(
            "case.html", request, case=case, base=case_path(case.key),
            kind=t(self.lang, f"kind_{case.kind}"), unit=self.unit_name(case.unit),
            unit_id=case.unit, counterpart=self.counterpart_name(case.counterpart),
            status=t(self.lang, f"status_{case.status}"),
            severity=t(self.lang, f"severity_{case.severity}" if case.severity else "severity_none"),
            lagrum=case_lagrum(case, self.org) or t(self.lang, "lagrum_none"),
            fsn=t(self.lang, "fsn_status", lmv=t(self.lang, "fsn_lmv_yes" if case.fsn_closing[
                "lmv_reported"] else "fsn_lmv_no")) if case.fsn_closing else None,
            step=step_name(self.lang, step.name) if step else None,
            owners=", ".join(self.person_label(p) for p in step.owners) if step else "",
            deadline=deadline, overdue=bool(deadline and now > deadline), events=events,
            documents=case.documents, readable=readable, links=self._links(case),
            doc_type=lambda d: t(self.lang, f"doc_{d}"),
            person_label=self.person_label, public_title=public_title(self.org, case),
            secrecy=lambda d: secrecy_of(self.org, case, d) or t(self.lang, "secrecy_public"),
            disclosure=disclosure_summary(self.org, case,
                                          lambda at: self._local_text(at), self.person_label))

    def _local_text(self, at: str) -> str:
        return self.calendar.local(datetime.fromisoformat(at)).strftime("%Y-%m-%d %H:%M")

    def _links(self, case: Case) -> list[dict[str, str]]:
        """Linked cases as (number, address); a number that no longer parses is shown bare."""
        links = []
        for number in case.links:
            parsed = parse_diary_number(number, self.org.series)
            href = f"/arenden/{parsed.year}/{parsed.seq}" if parsed else ""
            links.append({"number": number, "href": href})
        return links

    def _event_text(self, what: str, details: dict) -> str:
        label = t(self.lang, f"web_event_{what}") if f"web_event_{what}" in _EVENT_KEYS else what
        def value(key: str, v: Any) -> str:
            if v is None:
                return t(self.lang, "severity_none") if key == "severity" else "–"
            if key in ("from", "to") and what == "status":
                return t(self.lang, f"status_{v}")
            if what == "unit" or key == "unit":
                return self.unit_name(v)
            if what == "counterpart" or key == "counterpart":
                return self.counterpart_name(v)
            if what == "lagrum" and key in ("from", "to"):
                return v or t(self.lang, "lagrum_none")
            if key == "kind":
                return t(self.lang, f"kind_{v}")
            if key == "type":
                return t(self.lang, f"doc_{v}")
            if key == "severity":
                return t(self.lang, f"severity_{v}")
            if key == "document":
                return f"{t(self.lang, 'web_mail').lower()} {v}"
            if key == "decision" and what == "disclosure_decided":
                return t(self.lang, f"disclosure_{v}")
            if key == "documents" and isinstance(v, list):
                return ", ".join(str(n) for n in v)
            return str(v)
        if "from" in details or "to" in details:
            return f"{label}: {value('from', details.get('from'))} → {value('to', details.get('to'))}"
        shown = [value(k, v) for k, v in details.items() if v not in (None, "", [])
                 or k == "severity"]
        return f"{label}: {', '.join(shown)}" if shown else label

    async def mail_page(self, request: web.Request) -> web.Response:
        viewer = self.viewer(request)
        case = await self.case_for(request, viewer)
        document = self._document(request, case)
        if not can_read_mail(self.org, Actor.person(viewer.person), case):
            await self.refused(viewer, case.number, request)
            return self.render("mail_forbidden.html", request, http_status=403, case=case)
        mail = await asyncio.to_thread(self._parse_raw, document.raw)
        await asyncio.to_thread(self.readlog.record, person=viewer.person, number=case.number,
                                what=VIEW_MAIL, at=self.clock.now(), document=document.no)
        return self.render("mail.html", request, case=case, document=document, mail=mail,
                           base=case_path(case.key),
                           attachments=list(enumerate(mail["attachments"])) if mail else [])

    async def attachment(self, request: web.Request) -> web.StreamResponse:
        viewer = self.viewer(request)
        case = await self.case_for(request, viewer)
        document = self._document(request, case)
        if not can_read_mail(self.org, Actor.person(viewer.person), case):
            await self.refused(viewer, case.number, request)
            return self.render("mail_forbidden.html", request, http_status=403, case=case)
        found = await asyncio.to_thread(self._attachment_bytes, document.raw,
                                        int(request.match_info["index"]))
        if found is None:
            raise self.not_found(request)
        filename, payload = found
        await asyncio.to_thread(self.readlog.record, person=viewer.person, number=case.number,
                                what=VIEW_ATTACHMENT, at=self.clock.now(), document=document.no,
                                detail=filename)
        safe = re.sub(r"[^\w.\-\[\] ]", "_", redact(without_bidi(filename)))[:120] or "bilaga"
        # always a download, never shown inline: an HTML attachment must not run in our origin
        return web.Response(body=payload, content_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="{safe}"'})

    def _document(self, request: web.Request, case: Case):
        no = request.match_info["no"]
        document = next((d for d in case.documents if str(d.no) == no), None)
        if document is None:
            raise self.not_found(request)
        return document

    def _raw_path(self, raw: str | None) -> Path | None:
        if not raw:
            return None
        base = self.settings.data_dir.resolve()
        path = (base / raw).resolve()
        return path if path.is_relative_to(base) and path.is_file() else None

    def _raw_bytes(self, raw: str | None) -> bytes | None:
        """A document's raw mail: a file of the data directory, or (PostgreSQL) a row."""
        path = self._raw_path(raw)
        if path is not None:
            return path.read_bytes()
        store = self.source.current()[0]
        if not raw or hasattr(store, "data_dir"):     # a file store: only the checked path
            return None
        try:
            return store.read_raw(raw)
        except (OSError, ValueError):
            return None

    def _parse_raw(self, raw: str | None):
        data = self._raw_bytes(raw)
        if data is None:
            return None
        mail = parse_mail(data)
        return {"subject": redact(mail.subject), "sender": mail.sender_address,
                "sender_name": redact(mail.sender_name), "date": mail.date,
                "text": redact(mail.text), "attachments": mail.attachments}

    def _attachment_bytes(self, raw: str | None, index: int) -> tuple[str, bytes] | None:
        data = self._raw_bytes(raw)
        if data is None:
            return None
        message = email.message_from_bytes(data, policy=email.policy.default)
        parts = [p for p in message.walk() if p.get_filename()]
        if not 0 <= index < len(parts):
            return None
        part = parts[index]
        payload = part.get_payload(decode=True)
        return part.get_filename() or "bilaga", payload if isinstance(payload, bytes) else b""

    async def unit_page(self, request: web.Request) -> web.Response:
        viewer = self.viewer(request)
        unit = self.org.units.get(request.match_info["unit"])
        if unit is None or unit not in self._visible_units(viewer):
            raise self.not_found(request)
        now = self.clock.now()
        _, index = await asyncio.to_thread(self.source.current)
        rows = await asyncio.to_thread(index.query, Filters(unit=unit.id, status="open"),
                                       index.visible(self.org, viewer.person), now)
        # overdue first, then by deadline; paged like the list (a unit of a large office has
        # thousands of open cases, and a phone shows fifty rows well)
        ordered = sorted(rows, key=lambda r: (not r.overdue(now), r.deadline or now, r.key))
        return self.render("unit.html", request, unit=unit, total=len(rows),
                           **self._page(request, f"/enheter/{unit.id}", ordered, now),
                           overdue=sum(1 for r in rows if r.overdue(now)),
                           managers=", ".join(self.person_label(p) for p in unit.managers))

    async def report_page(self, request: web.Request) -> web.Response:
        viewer = self.viewer(request)
        now = self.clock.now()
        this_year = self.calendar.local(now).year
        asked = small_number(request.query.get("ar"))
        year = asked if asked and 1990 < asked <= this_year else this_year
        report = await asyncio.to_thread(self._report, viewer, year, now)
        lang = self.lang
        measured = [s for s in report.steps if s.count]

        def drawn(narrow: bool) -> dict[str, Markup]:
            """The three charts, wide (a screen) or narrow (a phone: its own ids)."""
            tail = "-smal" if narrow else ""
            return {
                "inflow": charts.grouped_columns(
                    f"chart-inflow{tail}", t(lang, "report_inflow_title"),
                    t(lang, "web_chart_inflow_desc", year=year, previous=year - 1),
                    [month_name(lang, m.month) for m in report.inflow],
                    [(str(year), charts.THIS_YEAR, [m.count for m in report.inflow]),
                     (str(year - 1), charts.LAST_YEAR, [m.previous for m in report.inflow])],
                    lang, narrow=narrow),
                "steps": charts.horizontal_bars(
                    f"chart-steps{tail}", t(lang, "report_steps_title"),
                    t(lang, "web_chart_steps_desc"),
                    [(step_name(lang, s.step), s.median_business_days or 0, s.p90_business_days)
                     for s in measured], t(lang, "web_chart_median"), lang,
                    second=t(lang, "web_chart_p90"), narrow=narrow),
                "overdue": charts.horizontal_bars(
                    f"chart-overdue{tail}", t(lang, "web_overdue_by_unit"),
                    t(lang, "web_chart_overdue_desc"),
                    [(c.name, c.count, None) for c in report.overdue_by_unit],
                    t(lang, "report_col_cases"), lang, colour=charts.ACCENT, narrow=narrow),
            }
        return self.render("report.html", request, report=report, year=year,
                           years=list(range(this_year, this_year - 6, -1)),
                           wide=drawn(False), narrow=drawn(True), tables=tables(report))

    def _report(self, viewer: Viewer, year: int, now: datetime):
        """The report over the cases this person may see; kept while the diary is unchanged."""
        store, index = self.source.current()
        scope = "all" if viewer.oversight else tuple(self.org.units_managed_by(viewer.person))
        key = (id(index), year, scope, self.calendar.local(now).date())
        if key not in self._reports:
            person = Actor.person(viewer.person)
            cases = (c for c in store.all_cases() if c.year <= year
                     and (viewer.oversight or can_view(self.org, person, c)))
            self._reports = {key: build_report(cases, self.org, self.calendar, year, now)}
        return self._reports[key]


_EVENT_KEYS = {f"web_event_{w}" for w in ("diarised", "status", "assessed", "document",
                                         "action_added", "action_done", "unit", "counterpart",
                                         "title", "snoozed", "linked",
                                         "lex_requested", "lex_decided", "ivo_reference",
                                         "acknowledged", "secrecy", "public_title", "hold",
                                         "hold_lifted", "lagrum", "disclosure_requested",
                                         "disclosure_decided")}


# ---------------------------------------------------------------------- the middleware
@web.middleware
async def redact_and_secure(request: web.Request, handler):
    """Every page leaves through here: personnummer redacted from the whole text body,
    security headers set. Error pages (raised as HTTP exceptions) pass through too, and an
    unexpected error becomes a plain error page (its trace goes to the log only); the
    database out of reach (DatabaseUnavailable) a 503 page that says so."""
    webapp: WebApp = request.app[WEB]
    try:
        if request.method not in ("GET", "HEAD", "OPTIONS") and not _same_origin(request):
            log.warning("webben: %s %s från en annan webbplats avvisades", request.method,
                        request.path.split("/")[1][:40])
            raise web.HTTPForbidden()
        cookie = request.cookies.get(COOKIE)
        if cookie and not request.path.startswith("/static/"):
            request[SESSION_PERSON] = await asyncio.to_thread(
                webapp.sessions.person, cookie, webapp.clock.now())
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
    except DatabaseUnavailable as exc:
        # an outage, not a fault of the page: 503 with a page that says so, no traceback
        # (the store logs the outage once when it starts and once when it ends); nothing was
        # shown that the read log does not hold
        log.debug("webben: %s svarar 503: %s", request.path.split("/")[1][:40] or "/", exc)
        html = webapp.jinja.get_template("error.html").render(
            viewer=request.get("viewer"), path=request.path, status=503, unavailable=True)
        response = web.Response(text=html, content_type="text/html", status=503,
                                headers={"Retry-After": "10"})
    except Exception:
        log.exception("webben: fel på %s", request.path)
        response = web.HTTPInternalServerError()
    if response.status >= 400 and not (response.content_type == "text/html" and response.text):
        app: WebApp = request.app[WEB]
        html = app.jinja.get_template("error.html").render(
            viewer=request.get("viewer"), path=request.path, status=response.status)
        response = web.Response(text=html, content_type="text/html", status=response.status)
    if isinstance(response, web.Response) and response.body is not None \
            and response.content_type in _TEXT_TYPES:
        response.text = redact(response.text or "")
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _same_origin(request: web.Request) -> bool:
    """A POST (sign-in, sign-out) made by a page of another site is refused: a browser names
    where a request comes from in Sec-Fetch-Site and Origin, and a form of an attacker's page
    would otherwise sign the victim in as the attacker, or out. A client that sends neither
    (not a browser) has no victim's cookies to misuse."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:         # a browser's own word, which no page can change
        return fetch_site in ("same-origin", "none")
    # an older browser: Origin ("null" under our no-referrer policy counts as foreign)
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    app: WebApp = request.app[WEB]
    allowed = {_origin_of(app.options.base_url), f"{request.scheme}://{request.host}"}
    return origin.rstrip("/") in allowed


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def _server_name(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = SERVER_NAME


def create_app(settings: Settings, source: DiarySource, calendar, *,
               options: WebOptions | None = None, clock: Clock | None = None,
               state: WebState | None = None) -> web.Application:
    webapp = WebApp(settings, source, calendar, options=options, clock=clock, state=state)
    app = web.Application(middlewares=[redact_and_secure])

    async def close_state(_: web.Application) -> None:
        await asyncio.to_thread(webapp.state.close)
    app.on_cleanup.append(close_state)
    app.on_response_prepare.append(_server_name)
    app[WEB] = webapp
    app.add_routes([
        web.get("/", webapp.home),
        web.get("/inloggning", webapp.signin_help),
        web.get("/inloggning/{token}", webapp.signin_form),
        web.post("/inloggning/{token}", webapp.signin),
        web.post("/utloggning", webapp.signout),
        web.get("/arenden", webapp.case_list),
        web.get(r"/arenden/{year:\d{4}}/{seq:\d{1,6}}", webapp.case_page),
        web.get(r"/arenden/{year:\d{4}}/{seq:\d{1,6}}/handlingar/{no:\d{1,4}}", webapp.mail_page),
        web.get(r"/arenden/{year:\d{4}}/{seq:\d{1,6}}/handlingar/{no:\d{1,4}}/bilagor/{index:\d{1,4}}",
                webapp.attachment),
        web.get("/enheter/{unit}", webapp.unit_page),
        web.get("/rapport", webapp.report_page),
        web.static("/static", HERE / "static"),
    ])
    from bot.web import entra          # sign-in with Entra ID, when WEB_ENTRA_* is set
    webapp.entra = entra.attach(app, webapp)
    return app


# ---------------------------------------------------------------------- serving
def diary_source(settings: Settings, calendar, open_store) -> DiarySource:
    return DiarySource(open_store, settings.org, calendar, settings.data_dir)


async def start_web(settings: Settings, open_store, calendar, *, clock: Clock | None = None,
                    options: WebOptions | None = None,
                    state: WebState | None = None) -> web.AppRunner:
    """Start serving on WEB_BIND:WEB_PORT inside the running event loop; returns the runner
    (await runner.cleanup() to stop). The store is opened read-only by `open_store`."""
    options = options or WebOptions.from_settings(settings)
    source = diary_source(settings, calendar, open_store)
    app = create_app(settings, source, calendar, options=options, clock=clock, state=state)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, options.bind, options.port)
    await site.start()
    # the first page would otherwise pay for reading the whole diary
    asyncio.get_running_loop().run_in_executor(None, source.current)
    log.info("webböversikten: %s (lyssnar på %s:%d)", options.base_url, options.bind, options.port)
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (WEB_PORT=0 picks a free one: tests)."""
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server and server.sockets:
            return server.sockets[0].getsockname()[1]
    raise RuntimeError("the web server is not listening")

