"""PostgreSQL-only guarantees: diary numbers from several instances at once (never reused,
never skipped), schema migrations recorded once, and the whole bot (intake, a command,
delivery) wired by build() on DATABASE_URL."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import psycopg

from bot.app import build
from bot.domain.access import Actor
from bot.domain.case import Case, iso
from bot.settings import Settings
from bot.store.postgres import PostgresCaseStore
from bot.usecases.uow import UnitOfWork
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


def test_diary_numbers_from_four_instances_at_once_are_unique_and_gapless(database_url):
    stores = [PostgresCaseStore(database_url) for _ in range(4)]
    taken: list[str] = []
    taken_lock = threading.Lock()
    errors: list[BaseException] = []

    def diarise(store: PostgresCaseStore, who: int) -> None:
        try:
            for i in range(25):
                try:
                    with UnitOfWork(store):
                        number = store.next_number(2026)
                        store.put_case(Case(number=number.format(4), key=number.key,
                                            kind="incoming", title=f"{who}-{i}",
                                            status="diarised", created=iso(NOW)))
                        if i % 5 == 4:
                            raise LookupError("this use case fails after taking a number")
                    with taken_lock:
                        taken.append(number.format(4))
                except LookupError:
                    pass
        except BaseException as exc:      # surfaced below: a thread's failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=diarise, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(taken) == 80 and len(set(taken)) == 80, "a number was given out twice"
    assert sorted(taken) == [f"VOK 2026/{n:04d}" for n in range(1, 81)], "a number was skipped"
    reader = stores[0]
    assert sorted(c.number for c in reader.all_cases(2026)) == sorted(taken)
    for store in stores:
        store.close()


def test_migrations_are_applied_once_and_recorded(database_url):
    PostgresCaseStore(database_url).close()
    PostgresCaseStore(database_url).close()
    with psycopg.connect(database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version")]
    assert sorted(versions) == [1, 2, 4]        # each once, however often opened; 003 is
    #                                             additive (schema_additions)


def test_the_bot_on_database_url_diarises_answers_and_delivers(org, tmp_path, clock, notifier,
                                                                sender, database_url):
    settings = Settings(config_path=EXAMPLE_CONFIG,
                        data_dir=tmp_path / "data", org=org, env={"DATABASE_URL": database_url})
    bot = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    assert isinstance(bot.store, PostgresCaseStore)
    result = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse Hemtjänst Norr – utebliven insulindos", message_id="<avv-1@regionexempel.se>",
        body="Hej,\nbrukaren fick inte sin insulindos.\nMvh Lisa"))
    assert (result["outcome"], result["diary_number"]) == ("new_case", "VOK 2026/0001")
    again = bot.services.ingest_mail(make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
        subject="Avvikelse Hemtjänst Norr – utebliven insulindos", message_id="<avv-1@regionexempel.se>",
        body="Hej,\nbrukaren fick inte sin insulindos.\nMvh Lisa"))
    assert again["outcome"] == "duplicate"
    reply = bot.services.handle_command(Actor.person("anna"), "status VOK 2026/1", "cli")
    assert reply.ok and "VOK 2026/0001" in reply.text
    counts = bot.services.deliver_outbox()
    assert counts["sent"] >= 1 and notifier.sent
    clock.set(clock.now() + timedelta(hours=4))    # 13:00: the kännedom copies (issue 24)
    bot.services.deliver_outbox()
    assert all(n["state"] == "sent" for n in bot.store.outbox())
    bot.close()
    # another instance on the same database sees it all
    other = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    case = other.store.get_case_by_text("VOK 2026/0001")
    assert case is not None and case.documents[0].raw
    assert b"insulindos" in other.store.read_raw(case.documents[0].raw)
    other.close()


def test_the_web_overview_follows_another_instance_and_shows_mail_from_the_database(
        org, tmp_path, clock, notifier, sender, database_url):
    from bot.web.diary import DiarySource
    from reminders.calendar import BusinessCalendar
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org,
                        env={"DATABASE_URL": database_url})
    writer = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    calendar = BusinessCalendar(org.timezone, org.office_hours.start, org.office_hours.end,
                                org.office_hours.closed_days)
    source = DiarySource(lambda: PostgresCaseStore(database_url, readonly=True), org, calendar,
                         settings.data_dir, refresh_seconds=0)
    store, index = source.current()
    assert index.rows == []
    writer.services.ingest_mail(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                          subject="Avvikelse Hemtjänst Norr – fall",
                                          message_id="<w1@regionexempel.se>", body="Hej,\nfall.\n"))
    assert source._version() != source._signature, "the web did not notice the commit"
    source.refresh_now()
    store, index = source.current()
    assert len(index.rows) == 1
    case = store.get_case_by_text("VOK 2026/0001")
    assert b"fall" in store.read_raw(case.documents[0].raw)
    writer.close()
