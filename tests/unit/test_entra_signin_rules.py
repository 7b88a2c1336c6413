"""Entra ID sign-in's pure parts (bot/web/entra.py): the settings and what check-config says
of them, where a person may be sent after signing in, which claim names a person, and the
server-side flows (taken once, forgotten after their minutes)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.errors import ConfigError
from bot.settings import Settings
from bot.web.entra import CALLBACK_PATH, EntraConfig, PendingSignIns, local_path, person_for
from tests.conftest import EXAMPLE_CONFIG

TENANT = "3c9a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
CLIENT = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70"
BASE = "https://avvikelser.exempelby.se"
ISSUER = f"https://login.microsoftonline.com/{TENANT}/v2.0"
NOW = datetime(2026, 11, 16, 8, 30, tzinfo=timezone.utc)


def config(org, **env) -> EntraConfig | None:
    values = {"WEB_ENTRA_TENANT_ID": TENANT, "WEB_ENTRA_CLIENT_ID": CLIENT,
              "WEB_ENTRA_CLIENT_SECRET": "hemligt", **env}
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=EXAMPLE_CONFIG.parent, org=org,
                        env={k: v for k, v in values.items() if v is not None})
    return EntraConfig.from_settings(settings, BASE)


def test_off_without_any_entra_variable(org):
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=EXAMPLE_CONFIG.parent, org=org, env={})
    assert EntraConfig.from_settings(settings, BASE) is None


def test_defaults_and_the_secret_stays_out_of_repr(org):
    c = config(org)
    assert c.redirect_uri == BASE + CALLBACK_PATH
    assert c.authority == f"https://login.microsoftonline.com/{TENANT}"
    assert c.discovery_url == f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    assert "hemligt" not in repr(c)
    assert config(org, WEB_ENTRA_TENANT_ID="exempelby.onmicrosoft.com").tenant == "exempelby.onmicrosoft.com"
    assert config(org, WEB_ENTRA_REDIRECT_URI="http://localhost:8080" + CALLBACK_PATH)


@pytest.mark.parametrize("env, variable, words", [
    ({"WEB_ENTRA_CLIENT_SECRET": None}, "WEB_ENTRA_CLIENT_SECRET", "saknas"),
    ({"WEB_ENTRA_TENANT_ID": "common"}, "WEB_ENTRA_TENANT_ID", "common, organizations"),
    ({"WEB_ENTRA_TENANT_ID": "consumers"}, "WEB_ENTRA_TENANT_ID", "GUID"),
    ({"WEB_ENTRA_CLIENT_ID": "avvikelsebot"}, "WEB_ENTRA_CLIENT_ID", "GUID"),
    ({"WEB_ENTRA_AUTHORITY_URL": "http://login.microsoftonline.com"}, "WEB_ENTRA_AUTHORITY_URL", "https"),
    ({"WEB_ENTRA_REDIRECT_URI": "http://avvikelser.exempelby.se" + CALLBACK_PATH},
     "WEB_ENTRA_REDIRECT_URI", "localhost"),
    ({"WEB_ENTRA_REDIRECT_URI": BASE + "/svar"}, "WEB_ENTRA_REDIRECT_URI", CALLBACK_PATH),
])
def test_a_bad_setting_is_named_in_swedish(org, env, variable, words):
    with pytest.raises(ConfigError) as refused:
        config(org, **env)
    assert refused.value.key == variable and words in refused.value.problem


@pytest.mark.parametrize("asked, goes_to", [
    ("/arenden/2027/1", "/arenden/2027/1"),
    ("/arenden?status=open&sida=2", "/arenden?status=open&sida=2"),
    (None, "/arenden"), ("", "/arenden"),
    ("https://evil.example/", "/arenden"), ("//evil.example/x", "/arenden"),
    ("/\\evil.example", "/arenden"), ("/inloggning/entra", "/arenden"),
    ("/arenden\r\nSet-Cookie: x", "/arenden"), ("javascript:alert(1)", "/arenden"),
])
def test_after_signing_in_only_a_page_of_this_site(asked, goes_to):
    assert local_path(asked) == goes_to


def test_the_sign_in_name_is_looked_up_by_canonical_address(org):
    person, address = person_for(org, {"preferred_username": " Anna.Andersson@EXEMPELBY.SE"}, ISSUER)
    assert person is not None and person.email == "anna.andersson@exempelby.se"


def test_email_counts_for_a_member_of_the_tenant_but_not_for_a_guest(org):
    member = {"preferred_username": "aa123@exempelby.onmicrosoft.com",
              "email": "anna.andersson@exempelby.se"}
    assert person_for(org, member, ISSUER)[0] is not None
    guest = {**member, "idp": "https://sts.windows.net/99999999-9999-9999-9999-999999999999/"}
    person, shown = person_for(org, guest, ISSUER)
    assert person is None and shown == "aa123@exempelby.onmicrosoft.com"
    assert person_for(org, {**guest, "xms_edov": True}, ISSUER)[0] is not None


def test_nobody_for_an_unknown_or_missing_address(org):
    assert person_for(org, {"preferred_username": "okand@exempelby.se"}, ISSUER) == (None, "okand@exempelby.se")
    assert person_for(org, {}, ISSUER) == (None, "")
    assert person_for(org, {"preferred_username": 7}, ISSUER) == (None, "")


def test_a_flow_is_taken_once_and_not_after_its_minutes():
    pending = PendingSignIns(minutes=10, limit=3)
    key = pending.put({"state": "s"}, "/arenden", NOW)
    assert pending.take(key, NOW + timedelta(minutes=9)).flow == {"state": "s"}
    assert pending.take(key, NOW) is None
    late = pending.put({"state": "t"}, "/arenden", NOW)
    assert pending.take(late, NOW + timedelta(minutes=10)) is None
    assert pending.take(None, NOW) is None and pending.take("gissat", NOW) is None


def test_the_oldest_flows_go_when_too_many_are_begun():
    pending = PendingSignIns(minutes=10, limit=3)
    keys = [pending.put({"n": n}, "/", NOW) for n in range(5)]
    assert [pending.take(k, NOW) is not None for k in keys] == [False, False, True, True, True]
