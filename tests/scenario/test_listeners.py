"""Every listener of `run` (Slack HTTP mode, Teams, health) binds 127.0.0.1 unless the
admin names another address (SLACK_BIND, TEAMS_BIND, HEALTH_BIND): started for real, then
probed with TCP connections on loopback and, where this machine has one, on a
non-loopback address of its own."""
from __future__ import annotations

import asyncio
import socket

import psutil
import pytest

from bot.app import build
from bot.errors import ConfigError
from bot.ops.health import HealthServer
from bot.settings import Settings, load_organisation
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import FakeMailSender
from tests.fakes.slack_api import FakeSlackApi
from tests.scenario.test_slack import SECRET, USERS, slack_config

TEAMS_APP = {"TEAMS_CLIENT_ID": "11111111-2222-3333-4444-555555555555",
             "TEAMS_CLIENT_SECRET": "not-a-real-secret",
             "TEAMS_TENANT_ID": "66666666-7777-8888-9999-000000000000"}


def own_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (none in a bare sandbox)."""
    return [a.address for addrs in psutil.net_if_addrs().values() for a in addrs
            if a.family == socket.AF_INET and not a.address.startswith("127.")]


def accepts(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def slack_api():
    with FakeSlackApi(USERS) as api:
        yield api


def settings_with(tmp_path, api, **env) -> Settings:
    config = slack_config(tmp_path)
    return Settings(config_path=config, data_dir=tmp_path / "data", org=load_organisation(config),
                    env={"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET,
                         "SLACK_API_URL": api.url, "SLACK_PORT": "0", "TEAMS_PORT": "0",
                         "HEALTH_PORT": "0", **TEAMS_APP, **env})


def listeners(settings, clock) -> dict[str, tuple[str, int]]:
    """Start every frontend `run` would start; where each one listens."""
    bot = build(settings, clock=clock, sender=FakeMailSender())
    found = {}

    async def main():
        for frontend in bot.frontends:
            await frontend.start()
        try:
            for frontend in bot.frontends:
                runner = getattr(frontend, "_runner", None)
                [address] = runner.addresses
                found[frontend.channel] = (address[0], address[1])
                host, port = address[0], address[1]
                assert accepts("127.0.0.1", port) == (host in ("127.0.0.1", "0.0.0.0"))
                for other in own_addresses():
                    assert accepts(other, port) == (host == "0.0.0.0"), (frontend.channel, other)
        finally:
            for frontend in reversed(bot.frontends):
                await frontend.stop()
    try:
        asyncio.run(main())
    finally:
        bot.close()
    return found


def test_by_default_every_listener_is_on_loopback_only(tmp_path, clock, slack_api):
    found = listeners(settings_with(tmp_path, slack_api), clock)
    assert set(found) == {"slack", "teams", "health"}
    assert {host for host, _ in found.values()} == {"127.0.0.1"}


def test_each_listener_binds_the_address_the_admin_names(tmp_path, clock, slack_api):
    found = listeners(settings_with(tmp_path, slack_api, SLACK_BIND="0.0.0.0", TEAMS_BIND="0.0.0.0",
                                    HEALTH_BIND="0.0.0.0"), clock)
    assert {host for host, _ in found.values()} == {"0.0.0.0"}


def test_anonymous_teams_refuses_to_listen_beyond_this_machine(tmp_path, clock, slack_api):
    settings = settings_with(tmp_path, slack_api, TEAMS_ANONYMOUS="true", TEAMS_BIND="0.0.0.0")
    with pytest.raises(ConfigError) as refused:
        build(settings, clock=clock)
    assert refused.value.key == "TEAMS_BIND"


@pytest.mark.parametrize("name", ["SLACK_BIND", "TEAMS_BIND", "HEALTH_BIND"])
def test_a_bind_that_is_no_address_names_the_variable(tmp_path, clock, slack_api, name):
    with pytest.raises(ConfigError) as refused:
        build(settings_with(tmp_path, slack_api, **{name: "alla"}), clock=clock)
    assert refused.value.key == name and "alla" in str(refused.value)


def test_health_is_no_chat_channel(tmp_path, clock, slack_api):
    bot = build(settings_with(tmp_path, slack_api), clock=clock, sender=FakeMailSender())
    try:
        assert isinstance(bot.frontends[-1], HealthServer)
        assert "health" not in bot.notifiers and "health" not in bot.services.channels
    finally:
        bot.close()
