"""Several delivery rounds at once in one process (the run loop starts one after each mail
batch, one every poll interval and one after a command): an item is sent once. A round that
has claimed items must have its channel marked busy before another round looks, or the other
round finds them `sending` under this process's own token, with no worker on them, and sends
them again (seen twice in tests/contract/test_frozen_leader.py)."""
from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta
from typing import Any

from bot.app import build
from tests.fakes.mail import make_mail


class SlowNotifier:
    """A chat API with a round trip: the post exists only when the call returns."""
    channel = "console"

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._lock = threading.Lock()

    def send(self, notification: dict[str, Any]) -> dict[str, Any]:
        time.sleep(0.05)
        with self._lock:     # a bundle is one post of several items (issue 24)
            self.sent += notification.get("members") or [notification["id"]]
        return {"ok": True}

    def delivered(self, notification: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            ids = notification.get("members") or [notification["id"]]
            return {"found": True} if ids[0] in self.sent else None


def test_concurrent_delivery_rounds_send_each_notification_once(settings, clock, sender):
    notifier = SlowNotifier()
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    try:
        for n in range(8):
            bot.services.ingest_mail(make_mail(
                sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                subject=f"Avvikelse Hemtjänst Norr – händelse {n}",
                message_id=f"<rounds-{n}@regionexempel.se>", body=f"Hej,\nhändelse {n}.\nMvh Lisa"))
        queued = {n["id"] for n in bot.store.outbox()}
        assert len(queued) >= 8
        # 13:00: the kännedom copies' bundles are due too, and claimed by the racing rounds
        clock.set(clock.now() + timedelta(hours=4))
        stop = time.monotonic() + 3

        def rounds() -> None:
            while time.monotonic() < stop:
                bot.services.deliver_outbox(wait=False)

        threads = [threading.Thread(target=rounds) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        deadline = time.monotonic() + 30
        while any(n["state"] != "sent" for n in bot.store.outbox()):
            assert time.monotonic() < deadline, "the outbox did not empty"
            bot.services.deliver_outbox(wait=True)
        twice = [i for i, count in Counter(notifier.sent).items() if count > 1]
        assert twice == [], f"sent twice: {twice}"
        assert set(notifier.sent) == queued
    finally:
        bot.close()
