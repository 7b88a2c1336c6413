"""FakeNotifier: records what it was asked to deliver; can be told to fail."""
from __future__ import annotations

from typing import Any

from bot.errors import DeliveryError


class FakeNotifier:
    def __init__(self, channel: str = "console", fail_times: int = 0,
                 error: DeliveryError | None = None):
        self.channel = channel
        self.sent: list[dict[str, Any]] = []
        self.fail_times = fail_times
        self.error = error or DeliveryError("kanalen svarar inte (test)")

    def send(self, notification: dict[str, Any]) -> dict[str, Any]:
        if self.fail_times > 0:
            self.fail_times -= 1
            raise self.error
        self.sent.append(notification)
        return {"message": len(self.sent)}

    def to(self, person: str) -> list[dict[str, Any]]:
        return [n for n in self.sent if n["recipient"] == person]

    def items(self) -> list[str]:
        """The outbox items delivered, a bundle's members each (one message, several items)."""
        return delivered_items(self.sent)


def delivered_items(sent: list[dict[str, Any]]) -> list[str]:
    return [member for n in sent for member in (n.get("members") or [n["id"]])]
