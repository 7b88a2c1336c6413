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
from bot.domain.org import Organisation
from bot.domain.process import current_step
from bot.domain.redact import redact
from bot.texts import long_date, t

# which commands a recipient is offered, per event and role
_COMMANDS = {
    "incoming_diarised": ("cmd_register", "cmd_assess"),
    "incoming_diarised_no_unit": ("cmd_unit",),
    "unit_assigned": ("cmd_register", "cmd_assess"),
    "outgoing_diarised": ("cmd_send", "cmd_mark_sent"),
    "response_incoming": ("cmd_send", "cmd_mark_sent"),
    "response_outgoing": ("cmd_close",),
    "supplement": ("cmd_status",),
}
_TODO = {
    "incoming_diarised": "todo_register",
    "unit_assigned": "todo_register",
    "incoming_diarised_no_unit": "todo_pick_unit",
    "outgoing_diarised": "todo_send",
    "response_incoming": "todo_send_response",
    "response_outgoing": "todo_close",
    "supplement": "todo_supplement",
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
        "severity": t(lang, f"severity_{case.severity or 'none'}"),
        "status": t(lang, f"status_{case.status}"),
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
    return {**labels, "event": event, "role": role, "headline": headline, "todo": todo,
            "deadline": local_deadline.date().isoformat() if local_deadline else None,
            "step": step.name if step else None, "commands": commands}


def triage_view(org: Organisation, *, sender: str, subject: str, reason: str,
                suggestion: str | None, key: str, units: list[str]) -> dict[str, Any]:
    lang = org.language
    lines = t(lang, "triage_text", sender=sender or "?", subject=redact(subject) or "–",
              reason=redact(reason))
    if suggestion:
        lines += " " + t(lang, "triage_suggest", number=suggestion)
    return {"event": "triage", "role": "act", "number": suggestion, "title": redact(subject),
            "headline": t(lang, "event_triage"), "todo": t(lang, "triage_todo"), "text": lines,
            "mail_key": key, "unit_choices": units, "commands": []}


def plain_text(org: Organisation, view: dict[str, Any]) -> str:
    """The console and e-mail rendering: title first, then the facts, then what to do."""
    lang = org.language
    if view["event"] in ("triage", "digest"):
        return redact("\n".join([view["headline"], view["text"], view["todo"]]))
    lines = [
        f"«{view['title']}»",
        f"{view['headline']}: {view['number']}",
        " · ".join([f"{t(lang, 'label_kind')}: {view['kind']}",
                    f"{t(lang, 'label_counterpart')}: {view['counterpart']}",
                    f"{t(lang, 'label_unit')}: {view['unit']}",
                    f"{t(lang, 'label_severity')}: {view['severity']}",
                    f"{t(lang, 'label_status')}: {view['status']}"]),
        f"{t(lang, 'label_todo') if view['role'] == 'act' else t(lang, 'label_info')}: {view['todo']}",
    ]
    if view["commands"]:
        lines.append(f"{t(lang, 'label_commands')}: " + " · ".join(view["commands"]))
    return redact("\n".join(lines))


# ---------------------------------------------------------------------------- reminders
_STEP_COMMANDS = {
    "register": ("cmd_register", "cmd_assess", "cmd_snooze"),
    "respond": ("cmd_assess", "cmd_status", "cmd_snooze"),
    "send_response": ("cmd_send", "cmd_mark_sent", "cmd_snooze"),
    "close": ("cmd_close", "cmd_snooze"),
    "send": ("cmd_send", "cmd_mark_sent", "cmd_snooze"),
    "external_response": ("cmd_status", "cmd_snooze", "cmd_close"),
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
    else:
        todo = t(lang, "todo_reminder")
    if step.startswith("action:"):
        commands = [t(lang, "cmd_action_done", number=case.number, no=step.split(":")[1])]
    else:
        commands = [t(lang, key, number=case.number) for key in _STEP_COMMANDS[step]]
    headline = t(lang, f"event_{level}", step=words, unit=labels["unit"])
    return {**labels, "event": level, "role": "act", "headline": headline,
            "todo": f"{line} {todo}", "deadline": local.date().isoformat(), "step": step,
            "commands": commands}


def digest_view(org: Organisation, lines: list[str], count: int, overdue: int) -> dict[str, Any]:
    lang = org.language
    return {"event": "digest", "role": "act", "number": None, "title": "",
            "headline": t(lang, "event_digest", count=count, overdue=overdue),
            "todo": t(lang, "todo_digest"), "text": "\n".join(lines), "commands": []}
