"""A data directory written by the previous version (format 1) is upgraded on start: the
same diary, no diary number reused, reminders not sent again, a copy of the old files kept;
a reader refuses it until a writer has upgraded it; a newer format is refused."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.errors import StoreError
from bot.ports import FixedClock
from bot.settings import Settings
from bot.store.repository import TinyDbCaseStore
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender, make_mail
from tests.fakes.notifier import FakeNotifier

FORMAT1 = Path(__file__).resolve().parents[1] / "fixtures" / "format1" / "data"


@pytest.fixture
def old_data(tmp_path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FORMAT1, data)
    return data


def _bot(org, data: Path, moment: datetime):
    return build(Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={}),
                 clock=FixedClock(moment), notifiers={"console": FakeNotifier()},
                 sender=FakeMailSender())


def test_a_reader_refuses_an_old_directory_until_a_writer_upgraded_it(old_data):
    with pytest.raises(StoreError, match="äldre avvikelsebot"):
        TinyDbCaseStore(old_data, readonly=True)


def test_the_old_diary_is_upgraded_whole_and_numbering_goes_on(org, old_data):
    moment = datetime(2026, 11, 17, 9, 0, tzinfo=timezone.utc)
    bot = _bot(org, old_data, moment)
    try:
        store = bot.store
        closed = store.get_case_by_text("VOK 2025/0001")
        assert closed is not None and closed.status == "closed"         # from the old archive
        assert {c.number for c in store.open_cases()} == {"VOK 2025/0002", "VOK 2025/0003",
                                                          "VOK 2026/0001"}
        # the mail index of the archived case still knows its mail: a repeat is a duplicate
        again = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse 0 Hemtjänst Norr",
            body="Vi anmäler en avvikelse.", message_id="<old-0@regionexempel.se>"))
        assert again["outcome"] == "duplicate"
        # numbering continues where the old counters were: never a number twice
        fresh = bot.services.ingest_mail(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="Avvikelse ny Solgården",
            body="Vi anmäler en avvikelse.", message_id="<new-1@regionexempel.se>", date=moment))
        assert fresh["diary_number"] == "VOK 2026/0002"
        # what the old version already queued is not queued again; an escalation nobody
        # acknowledged repeats (issue 16), so only those are new
        queued = {n["id"] for n in store.outbox()}
        due = [r for r in bot.services.run_reminders(datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc))
               if not r["already_sent"]]
        assert {r["level"] for r in due} <= {"escalation"}, due
        assert {n["event"] for n in store.outbox() if n["id"] not in queued} <= {"escalation"}
        # the chat-made subscription survived
        assert [s.person for s in store.subscriptions()] == ["maria"]
        reply = bot.services.handle_command(Actor.person("rut"), "status VOK 2025/3", "cli")
        assert reply.ok and "VOK 2025/0003" in reply.text
    finally:
        bot.close()
    backups = list(old_data.glob("format1-backup-*"))
    assert len(backups) == 1 and (backups[0] / "live.json").exists()
    assert (backups[0] / "cases-2025.json").exists()
    assert not list((old_data / "archive").glob("cases-*.json"))
    reader = TinyDbCaseStore(old_data, readonly=True)          # now readers work beside it
    assert reader.get_case_by_text("VOK 2026/0002") is not None


def test_a_newer_format_is_refused(org, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "live.json").write_bytes(orjson.dumps({"meta": {"1": {"format": 99, "seq": 0}}}))
    with pytest.raises(StoreError, match="nyare"):
        TinyDbCaseStore(data)
