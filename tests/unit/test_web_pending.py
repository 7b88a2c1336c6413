"""The JSON store's pending sign-in flows (bot.web.auth.Pending, in the web process's memory):
a value is taken once, and not after it expired; the PostgreSQL one is tested in
tests/contract/test_web_state_postgres.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.web.auth import Pending, WebOptions, WebState

NOW = datetime(2026, 11, 16, 9, tzinfo=timezone.utc)


def test_a_pending_value_is_taken_once_and_not_after_it_expired():
    pending = Pending()
    pending.put("oidc:1", {"nonce": "n"}, NOW + timedelta(minutes=10), NOW)
    assert pending.take("oidc:1", NOW + timedelta(minutes=1)) == {"nonce": "n"}
    assert pending.take("oidc:1", NOW + timedelta(minutes=1)) is None
    pending.put("oidc:2", {"nonce": "m"}, NOW + timedelta(minutes=10), NOW)
    assert pending.take("oidc:2", NOW + timedelta(minutes=10)) is None
    pending.put("oidc:3", {}, NOW + timedelta(minutes=1), NOW)
    pending.put("oidc:4", {}, NOW + timedelta(minutes=10), NOW + timedelta(minutes=2))
    assert "oidc:3" not in pending._values            # an expired one is cleared by the next put


def test_the_json_store_s_web_state_is_local(tmp_path):
    options = WebOptions(bind="127.0.0.1", port=0, base_url="http://127.0.0.1", secure_cookie=False,
                         link_minutes=10, session_hours=8, state_dir=tmp_path)
    state = WebState.local(options)
    assert not state.shared
    session = state.sessions.start("rut", NOW)
    assert state.sessions.person(session, NOW) == "rut"
    state.close()
