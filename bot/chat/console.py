"""ConsoleNotifier: the embedded default's chat channel, a readable block per notification."""
from __future__ import annotations

import sys
from typing import Any, TextIO

from bot.domain.org import Organisation
from bot.domain.redact import redact
from bot.texts import t


class ConsoleNotifier:
    channel = "console"

    def __init__(self, org: Organisation, stream: TextIO | None = None):
        self.org = org
        self.stream = stream

    def send(self, notification: dict[str, Any]) -> None:
        lang = self.org.language
        person = self.org.people.get(notification["recipient"])
        name = person.name if person else notification["recipient"]
        role = t(lang, "role_" + notification.get("view", {}).get("role", "act"))
        out = self.stream or sys.stdout
        channel = t(lang, f"channel_{notification['channel']}")
        out.write(t(lang, "cli_console_to", name=name, role=role, channel=channel) + "\n")
        out.write(redact(notification["text"]) + "\n\n")
        out.flush()
