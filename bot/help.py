"""`hjälp` per role (issue 14): a person is shown the commands they may use.

Pure: the language and the person's roles in, the text out. The lines live in the
catalog (bot/texts.py, keys help_<command>); this module only decides which are shown.
"""
from __future__ import annotations

from typing import Iterable

from bot.texts import t

OVERSIGHT = frozenset({"registrator", "ma", "sas"})

# (command, who sees it): "all" = anyone in the directory, "oversight" = registrator,
# MA or SAS, "registrator" = the registrator only (DESIGN §7, bot/domain/access.py)
COMMANDS: tuple[tuple[str, str], ...] = (
    ("status", "all"), ("mine", "all"), ("open", "all"), ("overdue", "all"),
    ("register", "all"), ("assess", "all"), ("action", "all"), ("action_done", "all"),
    ("title", "all"), ("snooze", "all"), ("close", "all"),
    ("note", "all"), ("link", "all"), ("search", "all"), ("acknowledge", "all"),
    ("absence", "all"), ("notify", "all"),
    ("send", "registrator"), ("remind", "registrator"), ("mark_sent", "oversight"),
    ("secrecy", "registrator"), ("public_title", "registrator"), ("hold", "registrator"),
    ("disclose", "registrator"),
    ("lex", "lex"), ("ivo", "lex"),
    ("unit", "oversight"), ("counterpart", "oversight"), ("lagrum", "oversight"),
    ("triage_new", "oversight"), ("triage_attach", "oversight"), ("triage_dismiss", "oversight"),
    ("subscribe", "all"), ("unsubscribe", "all"), ("web", "all"), ("help", "all"),
)


def visible_commands(roles: Iterable[str]) -> list[str]:
    roles = frozenset(roles)
    allowed = {"all": True, "oversight": bool(roles & OVERSIGHT), "lex": bool(roles & {"ma", "sas"}),
               "registrator": "registrator" in roles}
    return [command for command, audience in COMMANDS if allowed[audience]]


def help_text(lang: str, roles: Iterable[str], notify_setting: str | None = None) -> str:
    """`notify_setting`: the person's current notification setting (`avisering`), shown
    after the commands."""
    lines = [t(lang, "help_intro")]
    lines += ["  " + t(lang, f"help_{command}") for command in visible_commands(roles)]
    if notify_setting:
        lines.append(notify_setting)
    lines.append(t(lang, "help_footer"))
    return "\n".join(lines)
