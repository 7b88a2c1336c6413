"""What a notification says, built once from the case and the catalog.

`notification_view` gives structured data (kept in the outbox so Slack and Teams can
build blocks and cards from it); `plain_text` renders it for the console and e-mail.
Never the mail body, never attachments; every value that came from outside is
redacted again here, as the last line of defence (DESIGN §8).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.domain.case import INCOMING, Case
from bot.domain.diary import parse_diary_number
from bot.domain.lagrum import case_lagrum
from bot.domain.org import Organisation
from bot.domain.process import current_step
from bot.domain.redact import redact
from bot.domain.weblink import case_path
from bot.texts import long_date, t, tn

# which commands a recipient is offered, per event and role
_COMMANDS = {
    "incoming_diarised": ("cmd_register", "cmd_assess"),
    "incoming_diarised_no_unit": ("cmd_unit",),
    "unit_assigned": ("cmd_register", "cmd_assess"),
    "outgoing_diarised": ("cmd_send", "cmd_mark_sent"),
    "response_incoming": ("cmd_send", "cmd_mark_sent"),
    "response_outgoing": ("cmd_close",),
    "supplement": ("cmd_status",),
    "lex_requested": ("cmd_lex", "cmd_status"),
    "complaint_diarised": ("cmd_mark_sent", "cmd_status"),
    "complaint_diarised_no_unit": ("cmd_unit",),
    "fsn_diarised": ("cmd_close_fsn", "cmd_status"),
    "investigate": ("cmd_assess", "cmd_status"),
}
_TODO = {
    "incoming_diarised": "todo_register",
    "unit_assigned": "todo_register",
    "incoming_diarised_no_unit": "todo_pick_unit",
    "outgoing_diarised": "todo_send",
    "response_incoming": "todo_send_response",
    "response_outgoing": "todo_close",
    "supplement": "todo_supplement",
    "lex_requested": "todo_lex",
    "complaint_diarised": "todo_answer_complaint",
    "complaint_diarised_no_unit": "todo_pick_unit",
    "fsn_diarised": "todo_fsn",
    "investigate": "todo_investigate",
}


def case_labels(org: Organisation, case: Case) -> dict[str, str]:
    """Human names of a case's fields in the organisation's language."""
    lang = org.language
    unit = org.units.get(case.unit or "")
    counterpart = org.counterparts.get(case.counterpart or "")
    return {
        "number": case.number,
        "title": redact(case.title),
        "kind": t(lang, f"kind_{case.kind}"),
        "unit": unit.name if unit else t(lang, "unknown_unit"),
        "counterpart": counterpart.name if counterpart else t(lang, "unknown_counterpart"),
        # after a label ("Enhet: …") the noun is not repeated: "Enhet: okänd"
        "unit_field": unit.name if unit else t(lang, "field_unknown"),
        "counterpart_field": counterpart.name if counterpart else t(lang, "field_unknown"),
        "severity": t(lang, f"severity_{case.severity or 'none'}"),
        "status": t(lang, f"status_{case.status}"),
        "lagrum": case_lagrum(case, org) or t(lang, "lagrum_none"),
    }


def notification_view(org: Organisation, case: Case, event: str, role: str,
                      deadline: datetime | None, calendar_local=None) -> dict[str, Any]:
    lang = org.language
    labels = case_labels(org, case)
    local_deadline = calendar_local(deadline) if (deadline and calendar_local) else deadline
    deadline_text = long_date(lang, local_deadline.date()) if local_deadline else "–"
    headline = t(lang, f"event_{event}", unit=labels["unit"], counterpart=labels["counterpart"])
    if role == "act":
        todo = t(lang, _TODO[event], deadline=deadline_text, counterpart=labels["counterpart"],
                 number=case.number)
        if case.kind != INCOMING and not case.counterpart and event == "outgoing_diarised":
            todo += " " + t(lang, "todo_counterpart_unknown", number=case.number)
        commands = [t(lang, key, number=case.number) for key in _COMMANDS[event]]
    else:
        todo = t(lang, "info_line")
        commands = [t(lang, "cmd_status", number=case.number)]
    step = current_step(case, org)
    if role == "act":
        actions = case_actions(org, case, _EVENT_BUTTONS.get(event, ()))
    else:   # a copy of a red case can be acknowledged: "seen, I'm on it"
        actions = case_actions(org, case, ("acknowledge",) if case.severity == "red" else ())
    return {**labels, "event": event, "role": role, "headline": headline, "todo": todo,
            "deadline": local_deadline.date().isoformat() if local_deadline else None,
            "step": step.name if step else None, "commands": commands, "actions": actions,
            "links": list(case.links), "red": case.severity == "red"}


def with_web_link(org: Organisation, view: dict[str, Any], base_url: str | None) -> dict[str, Any]:
    """The view with "url": the case's page of the web overview, when the overview is on and
    the view is about one case (a triage prompt's number is only a suggestion)."""
    if not base_url or not view.get("number") or view.get("event") in _NOT_ONE_CASE:
        return view
    number = parse_diary_number(view["number"], org.series)
    if number is None:
        return view
    return {**view, "url": base_url.rstrip("/") + case_path(number.key)}


_NOT_ONE_CASE = frozenset({"triage", "digest", "unreachable", "mailbox_down", "mailbox_up"})


def triage_view(org: Organisation, *, sender: str, subject: str, reason: str,
                suggestion: str | None, key: str, units: list[str], triage_id: str) -> dict[str, Any]:
    lang = org.language
    lines = t(lang, "triage_text", sender=sender or "?", subject=redact(subject) or "–",
              reason=redact(reason))
    if suggestion:
        lines += " " + t(lang, "triage_suggest", number=suggestion)
    lines += " " + t(lang, "triage_id_line", id=triage_id)
    # the three choices triage_todo names, always all three (attaching needs a number,
    # which the registrator may know although no case was suggested)
    commands = [t(lang, "cmd_triage_new", id=triage_id), t(lang, "cmd_triage_attach", id=triage_id),
                t(lang, "cmd_triage_dismiss", id=triage_id)]
    return {"event": "triage", "role": "act", "number": suggestion, "title": redact(subject),
            "headline": t(lang, "event_triage"), "todo": t(lang, "triage_todo"), "text": lines,
            "mail_key": key, "triage_id": triage_id, "unit_choices": units, "commands": commands,
            "actions": triage_actions(org, triage_id, suggestion, units)}


def plain_text(org: Organisation, view: dict[str, Any]) -> str:
    """The console and e-mail rendering: title first, then the facts, then what to do."""
    lang = org.language
    if view["event"] == BUNDLE:
        return bundle_text(org, view)
    if view["event"] in ("triage", "digest", "unreachable", "mailbox_down", "mailbox_up",
                         "send_failed"):
        lines = [view["headline"], view["text"], view["todo"]]
        if view["commands"]:
            lines.append(f"{t(lang, 'label_commands')}: " + " · ".join(view["commands"]))
        if view.get("url"):       # a send that failed is about one case
            lines.append(f"{t(lang, 'web_open_case')}: {view['url']}")
        return redact("\n".join(lines))
    lines = [
        f"«{view['title']}»",
        f"{view['headline']}: {view['number']}",
        " · ".join([f"{t(lang, 'label_kind')}: {view['kind']}",
                    f"{t(lang, 'label_counterpart')}: {view.get('counterpart_field', view['counterpart'])}",
                    f"{t(lang, 'label_unit')}: {view.get('unit_field', view['unit'])}",
                    f"{t(lang, 'label_severity')}: {view['severity']}",
                    f"{t(lang, 'label_status')}: {view['status']}"]),
        f"{t(lang, 'label_todo') if view['role'] == 'act' else t(lang, 'label_info')}: {view['todo']}",
    ]
    if view.get("links"):
        lines.insert(2, f"{t(lang, 'label_links')}: {', '.join(view['links'])}")
    if view["commands"]:
        lines.append(f"{t(lang, 'label_commands')}: " + " · ".join(view["commands"]))
    if view.get("url"):
        lines.append(f"{t(lang, 'web_open_case')}: {view['url']}")
    return redact("\n".join(lines))


# ---------------------------------------------------------------------------- reminders
_STEP_COMMANDS = {
    "register": ("cmd_register", "cmd_assess", "cmd_snooze"),
    "respond": ("cmd_assess", "cmd_status", "cmd_snooze"),
    "send_response": ("cmd_send", "cmd_mark_sent", "cmd_snooze"),
    "close": ("cmd_close", "cmd_snooze"),
    "send": ("cmd_send", "cmd_mark_sent", "cmd_snooze"),
    "external_response": ("cmd_remind", "cmd_status", "cmd_snooze", "cmd_close"),
    "lex": ("cmd_lex", "cmd_status"),
    "answer": ("cmd_mark_sent", "cmd_status", "cmd_snooze"),
    "fsn": ("cmd_close_fsn", "cmd_status", "cmd_snooze"),
    "disclosure": ("cmd_disclosure_copy", "cmd_disclosure_decide", "cmd_status"),
}


def _step_words(lang: str, case: Case, step: str) -> str:
    if step.startswith("action:"):
        no = int(step.split(":", 1)[1])
        action = next((a for a in case.actions if a.no == no), None)
        return t(lang, "action_step", no=no, text=action.text if action else "")
    return t(lang, f"step_{step}")


def reminder_view(org: Organisation, case: Case, *, step: str, level: str, deadline: datetime,
                  calendar_local, owners: list[str]) -> dict[str, Any]:
    """A reminder to the step's owner or an escalation to MA/SAS: title, which step is
    overdue and since when ("svar senast 30 november"), what to do, the commands for it."""
    lang = org.language
    labels = case_labels(org, case)
    local = calendar_local(deadline)
    words = _step_words(lang, case, step)
    deadline_text = long_date(lang, local.date())
    line = t(lang, "reminder_line" if level == "reminder" else "escalation_line",
             step_cap=words[:1].upper() + words[1:], deadline=deadline_text, since=deadline_text,
             owners=", ".join(org.people[p].name for p in owners if p in org.people) or "–")
    if level == "escalation":
        todo = t(lang, "todo_escalation")
    elif step.startswith("action:"):
        todo = t(lang, "todo_action")
    elif step == "external_response":
        todo = t(lang, "todo_external_response")
    elif step == "lex":
        todo = t(lang, "todo_lex", deadline=deadline_text, number=case.number)
    elif step == "disclosure":
        todo = t(lang, "todo_disclosure", number=case.number)
    else:
        todo = t(lang, "todo_reminder")
    if step.startswith("action:"):
        commands = [t(lang, "cmd_action_done", number=case.number, no=step.split(":")[1])]
    else:
        commands = [t(lang, key, number=case.number) for key in _STEP_COMMANDS[step]]
    if level == "escalation":
        commands.append(t(lang, "cmd_acknowledge", number=case.number))
    headline = t(lang, f"event_{level}", step=words, unit=labels["unit"])
    if step == "disclosure":    # not late yet: "skyndsamt", reminded within the same day
        line = t(lang, "disclosure_reminder_line", since=_local_time(calendar_local, case.created))
        headline = t(lang, "event_disclosure_reminder")
    if step.startswith("action:"):
        actions = [action_done_button(lang, case, int(step.split(":")[1]))]
    elif level == "escalation":
        actions = case_actions(org, case, ("acknowledge",))   # the owner acts; MA/SAS say "seen"
    else:
        actions = case_actions(org, case, _STEP_BUTTONS[step])
    return {**labels, "event": level, "role": "act", "headline": headline,
            "todo": f"{line} {todo}", "deadline": local.date().isoformat(), "step": step,
            "commands": commands, "actions": actions, "red": case.severity == "red"}


def _local_time(calendar_local, moment: str) -> str:
    return calendar_local(datetime.fromisoformat(moment)).strftime("%Y-%m-%d %H:%M")


def digest_view(org: Organisation, lines: list[str], count: int, overdue: int) -> dict[str, Any]:
    lang = org.language
    return {"event": "digest", "role": "act", "number": None, "title": "",
            "headline": t(lang, "event_digest", count=count, overdue=overdue),
            "todo": t(lang, "todo_digest"), "text": "\n".join(lines), "commands": [],
            "actions": []}


def unreachable_view(org: Organisation, name: str, channel: str, fallback: str) -> dict[str, Any]:
    """To the registrator: a person cannot be reached in chat, their notifications go by mail."""
    lang = org.language
    words = {"name": name, "channel": t(lang, f"channel_{channel}"),
             "fallback": t(lang, f"channel_{fallback}")}
    return {"event": "unreachable", "role": "act", "number": None, "title": "",
            "headline": t(lang, "event_unreachable", **words),
            "todo": t(lang, "todo_unreachable", **words), "text": t(lang, "unreachable_text", **words),
            "commands": [], "actions": []}


def send_failed_view(org: Organisation, number: str, address: str, error: str) -> dict[str, Any]:
    """To the registrator: `skicka` did not reach the counterpart after every retry."""
    lang = org.language
    return {"event": "send_failed", "role": "act", "number": number, "title": "",
            "headline": t(lang, "event_send_failed", number=number),
            "text": redact(t(lang, "send_failed_text", number=number, address=address, error=error)),
            "todo": t(lang, "todo_send_failed", number=number), "commands": [], "actions": []}


def mailbox_view(org: Organisation, event: str, *, mailbox: str, since: str,
                 error: str) -> dict[str, Any]:
    """To the registrator: the mailbox cannot be read (or can again)."""
    lang = org.language
    return {"event": event, "role": "act", "number": None, "title": "",
            "headline": t(lang, f"event_{event}"),
            "text": redact(t(lang, f"{event}_text", mailbox=mailbox, since=since, error=error)),
            "todo": t(lang, f"todo_{event}"), "commands": [], "actions": []}


# ---------------------------------------------------------------------------- bundles
BUNDLE = "bundle"


def bundle_view(org: Organisation, members: list[dict[str, Any]], rows: int,
                web_base: str | None = None) -> dict[str, Any]:
    """One message for a bundle of outbox items (bot.domain.bundling): a row per item, each
    with the case's own buttons, in the order they were queued; past `rows` rows "… och 37
    till" and, with the web overview, a link to the list of exactly those cases."""
    lang = org.language
    counts: dict[str, int] = {}
    all_rows = []
    digest: dict[str, str] | None = None
    # handed to e-mail after the chat channel's retries: said once, at the top
    intro = next((m["fallback_intro"] for m in members if m.get("fallback_intro")), None)
    for item in members:
        view = item.get("view") or {}
        if item["event"] == "digest":      # Monday's overview leads the bundle, as it was
            digest = {"headline": view.get("headline") or "", "text": view.get("text") or ""}
            continue
        kind = (item["event"] if item["event"] in ("reminder", "escalation")
                else "info" if view.get("role") == "info" else "other")
        counts[kind] = counts.get(kind, 0) + 1
        all_rows.append({"id": item["id"],
                         "number": view.get("number") or item.get("diary_number") or "",
                         "title": redact(view.get("title") or ""),
                         "line": redact(view.get("headline") or ""), "role": view.get("role"),
                         "deadline": view.get("deadline"), "event": item["event"],
                         "actions": view.get("actions") or [],
                         "commands": view.get("commands") or []})
    shown, more = all_rows[:rows], max(0, len(all_rows) - rows)
    summary = " · ".join(tn(lang, f"bundle_count_{kind}", counts[kind])
                         for kind in ("reminder", "escalation", "info", "other") if kind in counts)
    numbers = list(dict.fromkeys(r["number"] for r in all_rows if r["number"]))
    link = (f"{web_base.rstrip('/')}/arenden?nr=" + ",".join(n.replace(" ", "-").replace("/", "-")
                                                              for n in numbers)
            if web_base and more else None)
    return {"event": BUNDLE, "role": "act" if any(r["role"] == "act" for r in all_rows) else "info",
            "number": None, "title": "", "headline": tn(lang, "event_bundle", len(all_rows)),
            "text": summary, "todo": t(lang, "todo_bundle"), "rows": shown, "more": more,
            "more_link": link, "numbers": numbers, "digest": digest, "intro": intro, "commands": [],
            "actions": []}


def bundle_row_detail(lang: str, row: dict[str, Any]) -> str:
    """What a bundle's row says after the case's number and title."""
    deadline = f" ({t(lang, 'bundle_row_deadline', deadline=row['deadline'])})" if row.get(
        "deadline") and row.get("role") == "act" else ""
    return f"{row['line']}{deadline}"


def bundle_row_text(lang: str, row: dict[str, Any]) -> str:
    return f"{row['number']} «{row['title']}» – {bundle_row_detail(lang, row)}"


def bundle_more_line(lang: str, view: dict[str, Any]) -> str | None:
    if not view.get("more"):
        return None
    if view.get("more_link"):
        return t(lang, "bundle_more_link", count=view["more"], url=view["more_link"])
    return t(lang, "bundle_more", count=view["more"])


def bundle_text(org: Organisation, view: dict[str, Any], row_extra=None) -> str:
    """The console and e-mail rendering of a bundle: a line per case (and, by e-mail, what to
    answer for it: `row_extra`), then "… och 37 till"."""
    lang = org.language
    lines = [view["headline"], view["text"], ""]
    if view.get("intro"):
        lines[:0] = [view["intro"], ""]
    if view.get("digest"):
        lines += [view["digest"]["headline"], view["digest"]["text"], ""]
    for i, row in enumerate(view["rows"], 1):
        lines.append(f"{i}. {bundle_row_text(lang, row)}")
        if row_extra is not None:
            lines += [f"   {extra}" for extra in row_extra(row)]
        elif row["commands"]:
            lines.append(f"   {t(lang, 'label_commands')}: " + " · ".join(row["commands"]))
    more = bundle_more_line(lang, view)
    if more:
        lines += ["", more]
    return redact("\n".join(lines))


# ---------------------------------------------------------------------------- buttons
# A button is a command of the shared grammar (always the Swedish words, which every
# language accepts), so a press goes through the same parsing and permission checks as a
# typed command. "{unit}", "{until}" and "{reason}" are filled in by the chat frontend
# from the input it shows ("input": "unit" or "snooze").
_EVENT_BUTTONS = {
    "incoming_diarised": ("register", "assess", "snooze"),
    "unit_assigned": ("register", "assess", "snooze"),
    "incoming_diarised_no_unit": ("unit",),
    "outgoing_diarised": ("send", "mark_sent"),
    "response_incoming": ("send", "mark_sent"),
    "response_outgoing": ("close",),
    "complaint_diarised": ("mark_sent", "snooze"),
    "complaint_diarised_no_unit": ("unit",),
    "investigate": ("assess", "snooze"),
}
_STEP_BUTTONS = {
    "register": ("register", "assess", "snooze"),
    "respond": ("assess", "snooze"),
    "send_response": ("send", "mark_sent", "snooze"),
    "close": ("close", "snooze"),
    "send": ("send", "mark_sent", "snooze"),
    "external_response": ("remind", "snooze", "close"),
    "lex": (),                 # a decision needs a reason: typed, not pressed
    "answer": ("mark_sent", "snooze"),
    "fsn": ("snooze",),        # closing needs the supplier's answer and a yes/no: typed
    "disclosure": (),          # a decision on a request is typed (a refusal needs its reason)
}
_SEVERITY_WORDS = (("green", "grön"), ("yellow", "gul"), ("red", "röd"))


def _button(action_id: str, label: str, command: str, style: str | None = None,
            **extra: Any) -> dict[str, Any]:
    return {"id": action_id, "label": label, "command": command, "style": style, **extra}


def unit_choices(org: Organisation, unit_ids: list[str] | None = None) -> list[dict[str, str]]:
    ids = unit_ids or list(org.units)
    return [{"value": u, "label": org.units[u].name} for u in ids if u in org.units]


def case_actions(org: Organisation, case: Case, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    lang, n = org.language, case.number
    buttons: list[dict[str, Any]] = []
    for kind in kinds:
        if kind == "register":
            buttons.append(_button("register", t(lang, "btn_register"), f"registrerad {n}", "primary"))
        elif kind == "assess":
            buttons += [_button(f"assess_{sev}", t(lang, f"btn_assess_{sev}"), f"bedöm {n} {word}",
                                "danger" if sev == "red" else None)
                        for sev, word in _SEVERITY_WORDS]
        elif kind == "send":
            buttons.append(_button("send", t(lang, "btn_send"), f"skicka {n}", "primary"))
        elif kind == "remind":
            buttons.append(_button("remind", t(lang, "btn_remind"), f"påminn {n}", "primary"))
        elif kind == "mark_sent":
            buttons.append(_button("mark_sent", t(lang, "btn_mark_sent"), f"skickad {n}"))
        elif kind == "close":
            buttons.append(_button("close", t(lang, "btn_close"), f"avsluta {n}", "primary"))
        elif kind == "snooze":
            buttons.append(_button("snooze", t(lang, "btn_snooze"), f"snooza {n} {{until}} {{reason}}",
                                   input="snooze"))
        elif kind == "acknowledge":
            buttons.append(_button("acknowledge", t(lang, "btn_acknowledge"), f"kvittera {n}"))
        elif kind == "unit":
            buttons.append(_button("unit", t(lang, "btn_unit"), f"enhet {n} {{unit}}", "primary",
                                   input="unit", choices=unit_choices(org)))
    return buttons


def action_done_button(lang: str, case: Case, no: int) -> dict[str, Any]:
    return _button("action_done", t(lang, "btn_action_done", no=no),
                   f"åtgärd klar {case.number} {no}", "primary")


def triage_actions(org: Organisation, triage_id: str, suggestion: str | None,
                   units: list[str]) -> list[dict[str, Any]]:
    lang = org.language
    buttons = [_button("triage_new", t(lang, "btn_triage_new"), f"diarisera {triage_id} {{unit}}",
                       "primary", input="unit", choices=unit_choices(org, units))]
    if suggestion:
        buttons.append(_button("triage_attach", t(lang, "btn_triage_attach", number=suggestion),
                               f"koppla {triage_id} {suggestion}"))
    buttons.append(_button("triage_dismiss", t(lang, "btn_triage_dismiss"),
                           f"avfärda {triage_id}", "danger"))
    return buttons
