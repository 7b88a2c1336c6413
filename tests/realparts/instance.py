"""One `run` instance on a shared PostgreSQL database, for the failover tests:

    python -m tests.realparts.instance DATABASE_URL DATA_DIR SEEN_FILE ['{"MAIL_SOURCE": …}']

The mailbox is the Maildir DATA_DIR/inbox (all instances share it; only the leader reads
it), or the IMAP mailbox of MAIL_SOURCE=imap and IMAP_* in the JSON object given last.
Notifications are "delivered" by appending a line to SEEN_FILE (fsync'd), which plays a
recipient's screen: a line seen twice is a notification seen twice. Like Slack, the notifier
can tell whether an item found in flight after a crash was delivered."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bot.app import build
from bot.settings import Settings, load_organisation
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender


SEND_SECONDS = 0.2


class ScreenNotifier:
    channel = "console"

    def __init__(self, path: Path):
        self.path = path

    def send(self, notification: dict[str, Any]) -> dict[str, Any]:
        time.sleep(SEND_SECONDS)        # a network round trip: items stay in flight a while
        line = json.dumps({"id": notification["id"], "pid": os.getpid()}) + "\n"
        with open(self.path, "a", encoding="utf-8") as screen:
            screen.write(line)
            screen.flush()
            os.fsync(screen.fileno())
        return {"pid": os.getpid()}

    def delivered(self, notification: dict[str, Any]) -> dict[str, Any] | None:
        if not self.path.exists():
            return None
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.endswith("}") and json.loads(line)["id"] == notification["id"]:
                return {"found": True}
        return None


def main() -> None:
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s")
    url, data_dir, seen = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    # MAIL_SOURCE=imap and IMAP_*: the mailbox on a real Dovecot (an argument, as
    # tests.conftest clears such variables from the environment)
    mailbox = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    # each notification its own message at once (bundling off, issue 24): these instances run
    # on the real clock, where kännedom copies would wait for 08:00/13:00 on a business day;
    # a bundle's crash safety is tested on the injected clock (tests/scenario/test_bundling.py);
    # and "dygnet runt" (at any hour): the example's "omedelbart" would hold every notice
    # until the next business morning when the test runs in the evening or at a weekend
    from dataclasses import replace
    from bot.domain.org import Notifications
    org = replace(load_organisation(EXAMPLE_CONFIG), notifications=Notifications(bundle_minutes=0),
                  notify_default="dygnet runt")
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data_dir, org=org,
                        env={"DATABASE_URL": url, **mailbox})
    bot = build(settings, notifiers={"console": ScreenNotifier(seen)}, sender=FakeMailSender())

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await bot.run_forever(poll_seconds=0.2, stop=stop)

    try:
        asyncio.run(run())
    finally:
        bot.close()


if __name__ == "__main__":
    main()
