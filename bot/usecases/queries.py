"""Read-only use cases: what a person may see of the diary, as text or as data."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.chat.render import case_labels
from bot.domain import access
from bot.domain.access import Actor
from bot.domain.diary import parse_diary_number
from bot.domain.case import DOC_NOTE, INCOMING, Case, iso
from bot.domain.lagrum import case_lagrum
from bot.domain.process import current_step, step_deadline
from bot.domain.records import public_title, secrecy_of
from bot.domain.redact import redact
from bot.texts import long_date, t
from bot.usecases.base import Deps

if TYPE_CHECKING:
    from bot.commands import Command


SEARCH_LIMIT = 20        # matches shown for `sök`; more means the text was too short
SEARCH_YEARS = 5         # diary years searched, this one included


class Queries:
    def __init__(self, deps: Deps):
        self.deps = deps

    def visible_cases(self, actor: Actor, *, include_closed: bool = False) -> list[Case]:
        store, org = self.deps.store, self.deps.org
        source = store.all_cases() if include_closed else store.open_cases()
        return [c for c in source if access.can_view(org, actor, c)]

    def query(self, actor: Actor, command: Command) -> list[Case]:
        cases = self.visible_cases(actor)
        if command.name == "mine":
            cases = [c for c in cases if actor.id in self.responsible(c)]
        elif command.name == "open" and command.args.get("unit"):
            cases = [c for c in cases if c.unit == command.args["unit"]]
        elif command.name == "overdue":
            cases = [c for c in cases if self.is_overdue(c)]
        return sorted(cases, key=lambda c: (not self.is_overdue(c), c.key))

    def search(self, actor: Actor, text: str, *, limit: int | None = None,
               years: int = SEARCH_YEARS) -> tuple[list[Case], bool]:
        """Cases the actor may see whose number, title, unit or counterpart contains the text:
        open cases first, then the diary year by year back `years` years, newest first.
        Streams and stops at `limit` (the second value says there were more)."""
        store, limit = self.deps.store, limit or SEARCH_LIMIT
        needle = " ".join(text.split()).casefold()
        this_year = self.deps.calendar.local(self.deps.clock.now()).year
        found: list[Case] = []
        seen: set[int] = set()
        sources = [iter(store.open_cases())]
        sources += [store.all_cases(y) for y in range(this_year, this_year - years, -1)]
        for source in sources:
            for case in source:
                if case.key in seen or not self._matches(case, needle):
                    continue
                seen.add(case.key)
                if not access.can_view(self.deps.org, actor, case):
                    continue
                if len(found) == limit:
                    return found, True
                found.append(case)
        return found, False

    def _matches(self, case: Case, needle: str) -> bool:
        org = self.deps.org
        counterpart = org.counterparts.get(case.counterpart or "")
        unit = org.units.get(case.unit or "")
        haystack = [case.number, case.title, case.counterpart or "", case.unit or ""]
        haystack += list(counterpart.names) if counterpart else []
        haystack += [unit.name] if unit else []
        if any(needle in field.casefold() for field in haystack):
            return True
        wanted = parse_diary_number(needle, org.series)  # "2026/42" finds VOK 2026/0042
        return wanted is not None and wanted.key == case.key

    def search_text(self, actor: Actor, text: str) -> str:
        lang = self.deps.lang
        cases, capped = self.search(actor, text)
        shown = redact(" ".join(text.split()))
        if not cases:
            return t(lang, "search_none", text=shown)
        lines = [t(lang, "search_header", text=shown, count=len(cases))]
        lines += [self.list_line(case) for case in cases]
        if capped:
            lines.append(t(lang, "search_capped", limit=len(cases)))
        return redact("\n".join(lines))

    def responsible(self, case: Case) -> set[str]:
        step = current_step(case, self.deps.org)
        return set(step.owners if step else ()) | set(self.deps.org.managers_of(case.unit))

    def is_overdue(self, case: Case, now: datetime | None = None) -> bool:
        deadline = step_deadline(case, self.deps.org, self.deps.calendar)
        return deadline is not None and (now or self.deps.clock.now()) > deadline

    def list_text(self, cases: list[Case]) -> str:
        lang = self.deps.lang
        if not cases:
            return t(lang, "no_cases")
        lines = [t(lang, "list_header", count=len(cases))]
        lines += [self.list_line(case) for case in cases]
        return "\n".join(lines)

    def list_line(self, case: Case, now: datetime | None = None) -> str:
        labels = case_labels(self.deps.org, case)
        mark = f" – {t(self.deps.lang, 'overdue_mark')}" if self.is_overdue(case, now) else ""
        return f"{case.number} «{labels['title']}» · {labels['unit']} · {labels['status']}{mark}"

    def deadline_text(self, case: Case) -> str | None:
        org, calendar, lang = self.deps.org, self.deps.calendar, self.deps.lang
        step = current_step(case, org)
        deadline = step_deadline(case, org, calendar)
        if step is None or deadline is None:
            return None
        key = "status_deadline_overdue" if self.is_overdue(case) else "status_deadline"
        return t(lang, key, step=t(lang, f"step_{step.name}"),
                 deadline=long_date(lang, calendar.local(deadline).date()))

    def status_text(self, case: Case) -> str:
        lang, calendar = self.deps.lang, self.deps.calendar
        labels = case_labels(self.deps.org, case)
        lines = [f"«{labels['title']}»",
                 f"{case.number} · {labels['kind']} · {t(lang, 'label_status')}: {labels['status']}",
                 f"{t(lang, 'label_unit')}: {labels['unit']} · "
                 f"{t(lang, 'label_counterpart')}: {labels['counterpart']} · "
                 f"{t(lang, 'label_severity')}: {labels['severity']}"]
        lines.append(f"{t(lang, 'label_lagrum')}: {labels['lagrum']}")
        if case.fsn_closing:
            lines.append(f"{t(lang, 'label_fsn')}: " + t(
                lang, "fsn_status", lmv=t(lang, "fsn_lmv_yes" if case.fsn_closing["lmv_reported"]
                                          else "fsn_lmv_no")))
        lines.append(f"{t(lang, 'label_public_title')}: {public_title(self.deps.org, case)}")
        if case.reference:
            lines.append(f"{t(lang, 'label_reference')}: {case.reference}")
        if case.links:
            lines.append(f"{t(lang, 'label_links')}: {', '.join(case.links)}")
        deadline = self.deadline_text(case)
        if deadline:
            lines.append(f"{t(lang, 'label_deadline')}: {deadline}")
        lines.append(f"{t(lang, 'label_documents')}:")
        for doc in case.documents:
            sender = self._person_name(doc.sender) if doc.type == DOC_NOTE else doc.sender
            line = (f"  {doc.no}. {t(lang, 'doc_' + doc.type)} "
                    f"{_local_moment(calendar.local(datetime.fromisoformat(doc.received)))}"
                    f" {t(lang, 'status_from', sender=sender)}")
            if doc.type == DOC_NOTE:
                line += f": {doc.subject}"
            secrecy = secrecy_of(self.deps.org, case, doc) or t(lang, "secrecy_public")
            lines.append(f"{line} · {t(lang, 'label_secrecy')}: {secrecy}")
        lex = self.lex_text(case)
        if lex:
            lines.append(f"{t(lang, 'label_lex')}: {lex}")
        lines += self.disclosure_lines(case)
        if case.actions:
            lines.append(f"{t(lang, 'label_actions')}:")
            for action in case.actions:
                state = (t(lang, "action_state_done") if action.done else
                         t(lang, "action_state_due", due=action.due) if action.due else
                         t(lang, "action_state_open"))
                lines.append(f"  {action.no}. {action.text} ({state})")
        return redact("\n".join(lines))

    def disclosure_lines(self, case: Case) -> list[str]:
        """Utlämnande in status (bot.domain.disclosure.summary)."""
        from bot.domain.disclosure import summary
        calendar = self.deps.calendar
        return [f"{label}: {text}" for label, text in summary(
            self.deps.org, case,
            lambda at: _local_moment(calendar.local(datetime.fromisoformat(at))),
            self._person_name)]

    def lex_text(self, case: Case) -> str | None:
        """The Lex Maria / Lex Sarah line of status: asked and waiting, or who decided what."""
        lang, calendar = self.deps.lang, self.deps.calendar
        decided, asked = case.lex_decision, case.lex_requested
        if decided:
            at = _local_moment(calendar.local(datetime.fromisoformat(decided["at"])))
            text = t(lang, "lex_status_decided", decision=t(lang, f"lex_{decided['decision']}"),
                     reason=decided["reason"], who=self._person_name(decided["by"]), at=at)
            if decided["decision"] != "ingen":
                text += " · " + (t(lang, "lex_status_ivo", ivo=decided["ivo"]) if decided.get("ivo")
                                 else t(lang, "lex_status_ivo_missing"))
            return text
        if asked:
            since = _local_moment(calendar.local(datetime.fromisoformat(asked["at"])))
            return t(lang, "lex_status_asked", since=since)
        return None

    def _person_name(self, who: str) -> str:
        """A person of the directory by name; a note written by mail by its address."""
        person = self.deps.org.people.get(who)
        if person is not None:
            return person.name
        return who[5:] if who.startswith("mail:") else who

    def status_json(self, case: Case, *, events: bool = True) -> dict[str, Any]:
        org, calendar = self.deps.org, self.deps.calendar
        step = current_step(case, org)
        deadline = step_deadline(case, org, calendar)
        data: dict[str, Any] = {
            "diary_number": case.number, "kind": case.kind, "title": redact(case.title),
            "status": case.status, "unit": case.unit, "counterpart": case.counterpart,
            "severity": case.severity, "managers": org.managers_of(case.unit),
            "lagrum": case_lagrum(case, org), "fsn_closing": case.fsn_closing,
            "created": case.created,
            "deadline": {"step": step.name, "owners": list(step.owners), "due": iso(deadline),
                         "overdue": self.is_overdue(case)} if step and deadline else None,
            "public_title": public_title(org, case),
            "documents": [{"no": d.no, "type": d.type, "received": d.received, "sender": d.sender,
                           "subject": redact(d.subject), "message_id": d.message_id,
                           "secrecy": secrecy_of(org, case, d),
                           "secrecy_marked": d.secrecy,
                           **({"author": self._person_name(d.sender)} if d.type == DOC_NOTE
                              else {})}
                          for d in case.documents],
            "actions": [{"no": a.no, "text": a.text, "owner": a.owner, "due": a.due,
                         "done": a.done} for a in case.actions],
            "close_reason": case.close_reason,
            "links": list(case.links),
            "reference": case.reference,
            "lex": {"requested": case.lex_requested, "decision": case.lex_decision},
        }
        from bot.domain import disclosure as dis
        request = dis.request_of(case)
        if request is not None:
            data["disclosure"] = {"case": request.number,
                                  "documents": list(request.documents) if request.documents
                                  else None, "decision": dis.decision_of(case)}
        if events:
            data["events"] = [{"at": e.at, "who": e.who, "channel": e.channel, "what": e.what,
                               "details": e.details} for e in case.events]
        return data

    # ------------------------------------------------------------------ report
    def report(self, year: int | None = None) -> dict[str, Any]:
        cases = list(self.deps.store.all_cases(year))
        counts: dict[str, dict[str, int]] = {"kind": {}, "unit": {}, "counterpart": {},
                                             "severity": {}, "status": {}, "lagrum": {}}
        durations: dict[str, list[float]] = {}
        for case in cases:
            for field, value in (("kind", case.kind), ("unit", case.unit or "okänd"),
                                 ("counterpart", case.counterpart or "okänd"),
                                 ("severity", case.severity or "unassessed"),
                                 ("status", case.status),
                                 ("lagrum", case_lagrum(case, self.deps.org) or "okänt")):
                counts[field][value] = counts[field].get(value, 0) + 1
            for step, days in _step_durations(case):
                durations.setdefault(step, []).append(days)
        import statistics     # only the report needs it (and it is slow to import)
        steps = {step: {"count": len(v), "median_days": round(statistics.median(v), 1),
                        "p90_days": round(_percentile(v, 90), 1)}
                 for step, v in sorted(durations.items())}
        overdue = sorted(c.number for c in cases if not c.is_closed and self.is_overdue(c))
        return {"year": year, "cases": len(cases), "counts": counts, "steps": steps,
                "overdue": overdue}


def _local_moment(moment: datetime) -> str:
    """Local time with its offset: one time zone in everything an admin reads."""
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


_STEP_SPANS = {  # (kind, from status, to status) -> step name, for the report
    (INCOMING, "diarised", "registered"): "register",
    (INCOMING, "diarised", "response_received"): "respond",
    (INCOMING, "response_received", "response_sent"): "send_response",
    (INCOMING, "response_sent", "closed"): "close",
    ("outgoing", "diarised", "sent"): "send",
    ("outgoing", "sent", "response_received"): "external_response",
    ("outgoing", "response_received", "closed"): "close",
    ("klagomål", "diarised", "answered"): "answer",
    ("klagomål", "answered", "closed"): "close",
    ("fsn", "diarised", "closed"): "fsn",
}


def _step_durations(case: Case) -> list[tuple[str, float]]:
    result = []
    for (kind, start, end), step in _STEP_SPANS.items():
        if kind == case.kind and start in case.status_since and end in case.status_since:
            began = datetime.fromisoformat(case.status_since[start])
            ended = datetime.fromisoformat(case.status_since[end])
            result.append((step, max((ended - began).total_seconds() / 86400, 0.0)))
    return result


def _percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
