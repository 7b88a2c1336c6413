"""Shared fixtures: the sample organisation, a bot on a temporary data directory with a
fixed clock and a recording notifier, and the public corpora."""
from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.app import build
from bot.ports import FixedClock
from bot.settings import Settings, load_organisation
from tests.fakes.mail import FakeMailSender
from tests.fakes.notifier import FakeNotifier

# Tests and the CLI processes they start never see the caller's bot settings or secrets
# (a deployed checkout's environment must not reach a test's `run`).
for _name in list(os.environ):
    if _name.startswith(("AVVIKELSEBOT_", "MAIL_SOURCE", "IMAP_", "SMTP_", "GRAPH_", "SLACK_",
                         "TEAMS_", "HEALTH_", "WEB_", "DATABASE_URL")):
        del os.environ[_name]

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_CONFIG = REPO / "config" / "organisation.example.toml"
CORPORA = REPO.parent / "shared" / "corpora"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# The example with notices at once at any hour (`default = "dygnet runt"`): for tests whose
# `run` works on the real clock, where the example's "omedelbart" would hold a notice until
# the next business morning when the test runs in the evening or at a weekend.
EXAMPLE_SHIPPED_DEFAULT = 'default = "omedelbart"\n'
ROUND_THE_CLOCK_DEFAULT = 'default = "dygnet runt"   # tests on the real clock: any hour\n'


def round_the_clock(text: str) -> str:
    """A config's text (the example, or one made from it) with notices at any hour."""
    assert EXAMPLE_SHIPPED_DEFAULT in text, "the example's [notification_preferences] default moved"
    return text.replace(EXAMPLE_SHIPPED_DEFAULT, ROUND_THE_CLOCK_DEFAULT, 1)


def round_the_clock_config(folder: Path) -> Path:
    """The example config written to `folder`, notices at any hour (see round_the_clock)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "organisation.toml"
    path.write_text(round_the_clock(EXAMPLE_CONFIG.read_text(encoding="utf-8")), encoding="utf-8")
    return path


# Monday 16 November 2026, 09:30 in Stockholm
MONDAY = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def org():
    return load_organisation(EXAMPLE_CONFIG)


@pytest.fixture
def settings(org, tmp_path) -> Settings:
    return Settings(config_path=EXAMPLE_CONFIG, data_dir=tmp_path / "data", org=org, env={})


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY)


@pytest.fixture
def notifier() -> FakeNotifier:
    return FakeNotifier()


@pytest.fixture
def sender() -> FakeMailSender:
    return FakeMailSender()


@pytest.fixture
def bot(settings, clock, notifier, sender):
    """A wired bot on the embedded default with fakes at the edges."""
    wired = build(settings, notifiers={"console": notifier}, clock=clock, sender=sender)
    yield wired
    wired.close()


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.fail(f"the public test corpora are missing: expected {CORPORA}")
    return CORPORA


@pytest.fixture
def dovecot():
    """A real Dovecot on 127.0.0.1 for this test; fails, never skips, when it cannot start."""
    from tests.realparts.dovecot import Dovecot
    server = Dovecot().start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL on 127.0.0.1 for the session; fails, never skips, when it cannot start."""
    from tests.realparts.postgres import Postgres
    server = Postgres().start()
    yield server
    server.stop()


@pytest.fixture
def database_url(postgres) -> str:
    """An empty database of its own for this test."""
    return postgres.new_database()
