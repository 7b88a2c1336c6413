"""SIGKILL while notifications are in flight: every notification is seen once.

The delivering process is killed at chosen moments, decided by what it has durably done on
the other side: after the local Slack has made the k-th post but before its answer came back
(the worst moment: the post exists, the outbox does not know). A second process then
delivers the rest. Each outbox item must appear exactly once in Slack (found by the
idempotency key in the message metadata), and the outbox must end with everything sent.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from bot.chat.slack import notification_ref
from bot.store.repository import TinyDbCaseStore
from tests.fakes.mail import make_mail
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import SECRET, USERS, slack_config

REPO = Path(__file__).resolve().parents[2]

DELIVER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from bot.app import build
    from bot.settings import Settings, load_organisation
    from tests.fakes.mail import FakeMailSender
    config, data, api, mails = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4:]
    settings = Settings(config_path=config, data_dir=data, org=load_organisation(config),
                        env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "%s",
                             "SLACK_API_URL": api, "SLACK_PORT": "0"})
    bot = build(settings, sender=FakeMailSender())
    for path in mails:
        bot.services.ingest_mail(Path(path).read_bytes())
    print("queued", flush=True)
    bot.services.deliver_outbox()
    bot.close()
    print("done", flush=True)
""" % SECRET)

TRIALS = [(trial, 1 + trial % 6) for trial in range(20)]


def _deliver(config: Path, data: Path, api: FakeSlackApi, mails: list[Path]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DELIVER, str(config), str(data), api.url,
                             *map(str, mails)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("trial,kill_after", TRIALS, ids=[f"kill-after-post-{k}-#{t}" for t, k in TRIALS])
def test_killed_mid_post_every_notification_is_seen_once(tmp_path, trial, kill_after):
    config = slack_config(tmp_path, any_hour=True)   # real clock: at any hour (not held)
    data = tmp_path / "data"
    mails = []
    for i in range(3):
        path = tmp_path / f"m{i}.eml"
        path.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                   subject=f"Avvikelse {trial}-{i} Hemtjänst Norr",
                                   body="Vi anmäler en avvikelse.",
                                   message_id=f"<crash-{trial}-{i}@regionexempel.se>"))
        mails.append(path)
    with FakeSlackApi(USERS) as api:
        api.hold_from = kill_after
        first = _deliver(config, data, api, mails)
        posts = lambda: sum(len(m) for m in api.messages.values())    # noqa: E731
        api.wait_for(lambda: posts() >= kill_after, timeout=30)
        first.send_signal(signal.SIGKILL)        # the k-th post exists; its answer never came
        first.wait()
        assert first.returncode == -signal.SIGKILL
        api.released.set()

        second = _deliver(config, data, api, [])
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err[-2000:]

        store = TinyDbCaseStore(data, readonly=True)
        items = [n for n in store.outbox() if n["channel"] == "slack"]
        assert items and all(n["state"] == "sent" for n in items), [n["state"] for n in items]
        seen = Counter((m.get("metadata") or {}).get("event_payload", {}).get("ref")
                       for messages in api.messages.values() for m in messages)
        for item in items:
            assert seen[notification_ref(item["id"])] == 1, f"{item['id']} seen {seen[notification_ref(item['id'])]} times"
        assert sum(seen.values()) == len(items)
