"""Sign-in to the web overview with Entra ID (issue 26), as a person meets it: a real
`avvikelsebot web` process, a local OpenID Connect provider over TLS that speaks the protocol
(tests/fakes/entra_oidc.py: discovery under the tenant path, JWKS, authorize, a token endpoint
that checks the code, the PKCE verifier and the client secret and signs the ID token), and a
client that follows redirects and keeps cookies like a browser.

A person of the directory ends on the page they asked for; a wrong audience, issuer or nonce,
an expired token, a bad signature, a replayed answer, an answer in another browser and a
person outside the directory are refused with a Swedish page and a line in the log."""
from __future__ import annotations

import html
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.entra_oidc import FakeEntra
from tests.realparts.dovecot import free_port
from tests.web_support import WebProcess, fill_diary

CASE_PAGE = "/arenden/2027/1"             # VOK 2027/0001, diarised by fill_diary
REGISTRATOR = "rut.registrator@exempelby.se"


@pytest.fixture(scope="module")
def entra():
    with FakeEntra() as provider:
        yield provider


@pytest.fixture(scope="module")
def site(tmp_path_factory, org, entra):
    from bot.app import build
    from bot.ports import FixedClock
    from bot.settings import Settings
    from tests.conftest import MONDAY
    from tests.fakes.mail import FakeMailSender
    from tests.fakes.notifier import FakeNotifier
    data = tmp_path_factory.mktemp("entra") / "data"
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
    bot = build(settings, notifiers={"console": FakeNotifier()}, clock=FixedClock(MONDAY),
                sender=FakeMailSender())
    fill_diary(bot)
    bot.close()
    port = free_port()      # the redirect URI is registered at the provider before the start
    entra.redirect_uris.add(f"http://127.0.0.1:{port}/inloggning/entra/svar")
    server = WebProcess(data, env={"WEB_PORT": str(port), **entra.env()}).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def fresh_provider(entra):
    entra.reset()
    yield
    entra.reset()


def browser(entra) -> requests.Session:
    session = requests.Session()
    session.trust_env = False         # REQUESTS_CA_BUNDLE of the environment must not win
    session.verify = entra.ca_path
    return session


def begin(site, entra, session: requests.Session, page: str = CASE_PAGE) -> str:
    """Ask for a page, be told to sign in, press "Logga in med Microsoft-konto": the address
    of the provider's answer (the callback) that the browser is about to open."""
    asked = session.get(site.url + page, allow_redirects=False)
    assert asked.status_code == 401
    found = re.search(r'id="entra-signin" href="([^"]+)"', asked.text)
    assert found, asked.text
    to_provider = session.get(site.url + html.unescape(found.group(1)), allow_redirects=False)
    assert to_provider.status_code == 302
    assert to_provider.headers["Location"].startswith(f"{entra.origin}/{entra.tenant}/oauth2/v2.0/authorize?")
    back = session.get(to_provider.headers["Location"], allow_redirects=False)
    assert back.status_code == 302
    return back.headers["Location"]


def follow_refresh(site, session: requests.Session, page: requests.Response) -> requests.Response:
    """The signed-in page moves on by itself (meta refresh), as a browser does."""
    found = re.search(r'http-equiv="refresh" content="0; url=([^"]+)"', page.text)
    assert found, page.text
    return session.get(site.url + html.unescape(found.group(1)), allow_redirects=False)


_LOGGED: list[str] = []          # everything the web process wrote to stderr, in order


def read_log(site) -> str:
    """All the web process logged so far (its stderr), read without blocking."""
    import os
    import select
    stream = site.process.stderr
    while select.select([stream], [], [], 0.1)[0]:
        data = os.read(stream.fileno(), 65536)
        if not data:
            break
        _LOGGED.append(data.decode("utf-8", "replace"))
    return "".join(_LOGGED)


def wait_for_log(site, text: str, deadline: float = 10.0) -> str:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if text in read_log(site):
            return read_log(site)
    raise AssertionError(f"{text!r} not in the log:\n{read_log(site)}")


# ------------------------------------------------------------------------------ signing in
def test_a_person_of_the_directory_signs_in_and_lands_on_the_page_asked_for(site, entra):
    session = browser(entra)
    entra.sign_in_as("Rut.Registrator@Exempelby.se")      # the case of the address differs
    callback = begin(site, entra, session)
    query = parse_qs(urlsplit(callback).query)
    assert urlsplit(callback).path == "/inloggning/entra/svar" and "code" in query and "state" in query

    done = session.get(callback, allow_redirects=False)
    assert done.status_code == 200
    cookies = done.headers["Set-Cookie"]
    assert "avvikelsebot_session=" in cookies and "SameSite=Strict" in cookies and "HttpOnly" in cookies
    page = follow_refresh(site, session, done)
    assert page.status_code == 200 and "VOK 2027/0001" in page.text
    assert "Rut" in page.text                                # signed in as her
    # the provider saw the protocol done right: PKCE verifier and secret at the token endpoint
    token_call = entra.token_requests()[-1].form
    assert token_call["code_verifier"][0] and token_call["client_secret"] == [entra.client_secret]
    authorize = [r for r in entra.requests if r.path.endswith("/authorize")][-1].query
    assert authorize["code_challenge_method"] == ["S256"] and authorize["nonce"][0]
    assert set(authorize["scope"][0].split()) >= {"openid", "profile", "email"}


def test_the_flow_state_is_on_the_server_not_in_the_cookie(site, entra):
    session = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    begin(site, entra, session)
    flow_cookie = session.cookies.get("avvikelsebot_entra")
    assert flow_cookie and len(flow_cookie) < 60          # a random key, not state/nonce/verifier
    authorize = [r for r in entra.requests if r.path.endswith("/authorize")][-1].query
    assert authorize["state"][0] not in flow_cookie and authorize["nonce"][0] not in flow_cookie


# ------------------------------------------------------------------------------ refused
@pytest.mark.parametrize("fault, claims", [
    ("wrong audience", {"aud": "00000000-0000-0000-0000-000000000001"}),
    ("wrong issuer", {"iss": "https://login.microsoftonline.com/other-tenant/v2.0"}),
    ("wrong nonce", {"nonce": "0" * 64}),
    ("expired", {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200,
                 "nbf": int(time.time()) - 7200}),
])
def test_a_bad_id_token_signs_nobody_in(site, entra, fault, claims):
    session = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    entra.tamper(**claims)
    callback = begin(site, entra, session)
    refused = session.get(callback, allow_redirects=False)
    assert refused.status_code == 403, fault
    assert "Inloggningen gick inte" in refused.text
    assert "avvikelsebot_session=" not in refused.headers.get("Set-Cookie", "")
    assert session.get(site.url + CASE_PAGE, allow_redirects=False).status_code == 401


def test_a_token_signed_with_another_key_is_refused(site, entra):
    session = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    entra.sign_with_foreign_key()
    refused = session.get(begin(site, entra, session), allow_redirects=False)
    assert refused.status_code == 403 and "Inloggningen gick inte" in refused.text
    assert session.get(site.url + CASE_PAGE, allow_redirects=False).status_code == 401


def test_a_replayed_answer_is_refused(site, entra):
    session = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    callback = begin(site, entra, session)
    flow_cookie = session.cookies.get("avvikelsebot_entra")
    assert session.get(callback, allow_redirects=False).status_code == 200      # once
    again = requests.get(callback, cookies={"avvikelsebot_entra": flow_cookie},
                         allow_redirects=False)
    assert again.status_code == 403 and "Inloggningen gick inte" in again.text
    assert "avvikelsebot_session=" not in again.headers.get("Set-Cookie", "")


def test_an_answer_opened_in_another_browser_is_refused(site, entra):
    """Login CSRF: an attacker's own answer (code + state) opened by the victim's browser."""
    attacker = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    callback = begin(site, entra, attacker)
    victim = browser(entra)
    refused = victim.get(callback, allow_redirects=False)
    assert refused.status_code == 403
    assert "avvikelsebot_session" not in victim.cookies


def test_a_person_outside_the_directory_is_refused_and_logged(site, entra):
    session = browser(entra)
    entra.sign_in_as("okand.person@exempelby.se")
    refused = session.get(begin(site, entra, session), allow_redirects=False)
    assert refused.status_code == 403
    assert "okand.person@exempelby.se" in refused.text and "finns inte i Avvikelsebots katalog" in refused.text
    assert session.get(site.url + CASE_PAGE, allow_redirects=False).status_code == 401
    wait_for_log(site, "okand.person@exempelby.se finns inte i katalogen")


def test_a_guest_email_claim_does_not_name_a_directory_person(site, entra):
    """A guest account (another issuer in idp) whose e-mail claim is a directory address."""
    session = browser(entra)
    entra.sign_in_as("gast@annan.example", email=REGISTRATOR,
                     idp="https://sts.windows.net/99999999-9999-9999-9999-999999999999/")
    refused = session.get(begin(site, entra, session), allow_redirects=False)
    assert refused.status_code == 403 and "gast@annan.example" in refused.text


def test_a_cancelled_sign_in_is_refused(site, entra):
    session = browser(entra)
    entra.sign_in_as(None)                  # the person presses Cancel at Microsoft
    callback = begin(site, entra, session)
    assert "error=access_denied" in callback
    assert session.get(callback, allow_redirects=False).status_code == 403


def test_the_page_to_return_to_is_of_this_site_only(site, entra):
    session = browser(entra)
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        start = session.get(f"{site.url}/inloggning/entra", params={"nasta": evil},
                            allow_redirects=False)
        assert start.status_code == 302
    entra.sign_in_as(REGISTRATOR)
    back = session.get(start.headers["Location"], allow_redirects=False)
    done = session.get(back.headers["Location"], allow_redirects=False)
    assert done.status_code == 200
    assert re.search(r'content="0; url=/arenden"', done.text), done.text


def test_the_chat_link_still_signs_in_beside_entra(site, org):
    """The one-time links stay the fallback when Entra sign-in is on."""
    from bot.settings import Settings
    from tests.web_support import Client
    settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=site.data_dir, org=org, env={})
    client = Client(site.url)
    assert client.sign_in(site.link(settings, "rut")).status == 303
    assert client.get(CASE_PAGE).status == 200


def test_an_unreachable_provider_is_a_swedish_page_and_the_link_still_works(tmp_path, org, entra):
    from bot.settings import Settings
    from tests.web_support import Client
    closed = free_port()                       # nothing listens there
    data = tmp_path / "data"
    server = WebProcess(data, env={"WEB_PORT": str(free_port()),
                                   **entra.env(WEB_ENTRA_AUTHORITY_URL=f"https://127.0.0.1:{closed}")})
    server.start()
    try:
        session = browser(entra)
        start = session.get(server.url + "/inloggning/entra", params={"nasta": "/arenden"},
                            allow_redirects=False)
        assert start.status_code == 503
        assert "Microsofts inloggning går inte att nå just nu" in start.text
        settings = Settings(config_path=EXAMPLE_CONFIG, data_dir=data, org=org, env={})
        client = Client(server.url)
        assert client.sign_in(server.link(settings, "rut")).status == 303
        assert client.get("/arenden").status == 200
    finally:
        server.stop()


def test_check_config_online_tries_tenant_client_and_secret(tmp_path, entra):
    import os
    import subprocess
    import sys
    from pathlib import Path
    cli = str(Path(sys.executable).with_name("avvikelsebot"))

    def check(**env):
        clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "WEB_PORT": "8081",
                 "WEB_BASE_URL": "https://diariet.exempelby.se", **entra.env(**env)}
        return subprocess.run([cli, "--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / "d"),
                               "check-config", "--online"], capture_output=True, text=True,
                              env=clean, timeout=60)
    good = check()
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"katalogen {entra.tenant} och appen {entra.client_id} godtas" in good.stdout
    bad = check(WEB_ENTRA_CLIENT_SECRET="fel-hemlighet")
    assert bad.returncode != 0 and "AADSTS7000215" in bad.stdout + bad.stderr
    assert "fel-hemlighet" not in bad.stdout + bad.stderr
    tenant = check(WEB_ENTRA_TENANT_ID="11111111-2222-4333-8444-555555555555")
    assert tenant.returncode != 0 and "AADSTS90002" in tenant.stdout + tenant.stderr


def test_the_secret_is_never_logged(site, entra):
    """Last in the module: whatever every sign-in above (granted, refused) made the web log."""
    session = browser(entra)
    entra.sign_in_as(REGISTRATOR)
    entra.tamper(aud="00000000-0000-0000-0000-000000000002")
    session.get(begin(site, entra, session), allow_redirects=False)
    logged = wait_for_log(site, "ID token refused: InvalidAudienceError")
    assert entra.client_secret not in logged
    assert all(token not in logged for token in entra.id_tokens)
