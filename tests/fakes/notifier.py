"""FakeNotifier: records what it was asked to deliver; can be told to fail."""
from __future__ import annotations

from typing import Any

from bot.errors import DeliveryError


class FakeNotifier:
    def __init__(self, channel: str = "console", fail_times: int = 0):
        self.channel = channel
        self.sent: list[dict[str, Any]] = []
        self.fail_times = fail_times

    def send(self, notification: dict[str, Any]) -> None:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise DeliveryError("kanalen svarar inte (test)")
        self.sent.append(notification)

    def to(self, person: str) -> list[dict[str, Any]]:
        return [n for n in self.sent if n["recipient"] == person]
