"""Sign-in to the web overview with the organisation's Entra ID account (OpenID Connect).

The authorization code flow, through msal's public API: `initiate_auth_code_flow` makes the
state, the nonce and the PKCE verifier (S256) and the address to send the browser to;
`acquire_token_by_auth_code_flow` checks the state that comes back, redeems the code with the
verifier and the client secret, and checks the nonce. msal (since 1.38, issue #911 of
AzureAD/microsoft-authentication-library-for-python) does not validate the
ID token itself, so it is validated here with PyJWT against the provider's published keys
(JWKS): RS256 signature, issuer from the tenant's discovery document, audience = our client
id, expiry, and the nonce once more. The token's `preferred_username` (or, for a member of the
tenant, `email`) is then looked up in the directory by canonical address; nobody outside the
directory gets in, and the refusal is logged.

The flow (state, nonce, verifier) stays on the server, where the sessions are; the browser
only holds a random key to it in a short-lived HTTP-only cookie, so the answer is bound to the
browser that asked and works once (a replayed answer finds nothing). That cookie is
SameSite=Lax: the provider sends the browser back with a top-level GET from its own site,
which a Strict cookie would not survive. For the same reason the session cookie (Strict) is
set on a small page that moves on to the requested page by itself: a redirect chain that
began on another site would not carry the Strict cookie.

Settings (environment, read once): WEB_ENTRA_TENANT_ID, WEB_ENTRA_CLIENT_ID,
WEB_ENTRA_CLIENT_SECRET (never logged), WEB_ENTRA_REDIRECT_URI (default
WEB_BASE_URL + /inloggning/entra/svar), WEB_ENTRA_AUTHORITY_URL (default
https://login.microsoftonline.com; a national cloud, or a local stand-in in tests).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from aiohttp import web

from bot.domain.org import Organisation, Person
from bot.errors import ConfigError
from bot.settings import Settings
from bot.texts import t
from bot.web.app import COOKIE
from bot.web.auth import Pending

if TYPE_CHECKING:
    from bot.web.app import WebApp

log = logging.getLogger(__name__)

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
START_PATH = "/inloggning/entra"
CALLBACK_PATH = "/inloggning/entra/svar"
FLOW_COOKIE = "avvikelsebot_entra"
FLOW_MINUTES = 10
SHARED_PREFIX = "entra:"         # the flows' keys in the web state's shared pending store
MAX_PENDING = 10_000            # flows begun and not finished; the oldest go first
# msal adds openid and profile itself (and refuses them here); email is the one more claim
SCOPES = ["email"]
LEEWAY_SECONDS = 120            # clock skew allowed on exp/iat, as msal allowed
HTTP_TIMEOUT = 10
ENV_NAMES = ("WEB_ENTRA_TENANT_ID", "WEB_ENTRA_CLIENT_ID", "WEB_ENTRA_CLIENT_SECRET",
             "WEB_ENTRA_REDIRECT_URI", "WEB_ENTRA_AUTHORITY_URL")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9-]{1,63}\.)+[a-z]{2,63}$", re.IGNORECASE)
# these would let any Microsoft account in: the issuer of a token is then not ours to check
_MULTI_TENANT = {"common", "organizations", "consumers"}
# a local page to go back to: one leading slash, no scheme, no host, no backslash
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\\\s]{0,500}$")


@dataclass(frozen=True)
class EntraConfig:
    tenant: str
    client_id: str
    client_secret: str = field(repr=False)          # never printed, never logged
    redirect_uri: str
    authority_url: str

    @property
    def authority(self) -> str:
        return f"{self.authority_url}/{self.tenant}"

    @property
    def discovery_url(self) -> str:
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @classmethod
    def from_settings(cls, settings: Settings, base_url: str) -> "EntraConfig | None":
        """None when no WEB_ENTRA_* variable is set (sign-in by chat links only); a
        ConfigError naming the variable when the set is incomplete or wrong."""
        env, lang = settings.env, settings.org.language
        if not any((env.get(name) or "").strip() for name in ENV_NAMES):
            return None

        def fail(name: str, key: str, **values: object) -> ConfigError:
            return ConfigError(t(lang, "env_label"), name, t(lang, key, **values))

        def required(name: str) -> str:
            value = (env.get(name) or "").strip()
            if not value:
                raise fail(name, "web_entra_missing")
            return value

        tenant = required("WEB_ENTRA_TENANT_ID")
        if tenant.lower() in _MULTI_TENANT or not (_GUID.match(tenant) or _DOMAIN.match(tenant)):
            raise fail("WEB_ENTRA_TENANT_ID", "web_entra_tenant", value=tenant)
        client_id = required("WEB_ENTRA_CLIENT_ID")
        if not _GUID.match(client_id):
            raise fail("WEB_ENTRA_CLIENT_ID", "web_entra_client_id", value=client_id)
        secret = required("WEB_ENTRA_CLIENT_SECRET")
        authority = (env.get("WEB_ENTRA_AUTHORITY_URL") or DEFAULT_AUTHORITY).strip().rstrip("/")
        parts = urlsplit(authority)
        if parts.scheme != "https" or not parts.hostname or parts.path or parts.query:
            raise fail("WEB_ENTRA_AUTHORITY_URL", "web_entra_authority")
        redirect = (env.get("WEB_ENTRA_REDIRECT_URI") or f"{base_url}{CALLBACK_PATH}").strip()
        if not _acceptable_redirect(redirect):
            raise fail("WEB_ENTRA_REDIRECT_URI", "web_entra_redirect", value=redirect,
                       path=CALLBACK_PATH)
        return cls(tenant=tenant, client_id=client_id, client_secret=secret,
                   redirect_uri=redirect, authority_url=authority)


def _acceptable_redirect(uri: str) -> bool:
    """https, or http to this machine only (as Entra allows); and our callback's path."""
    parts = urlsplit(uri)
    if not parts.hostname or parts.query or parts.fragment or not parts.path.endswith(CALLBACK_PATH):
        return False
    if parts.scheme == "https":
        return True
    return parts.scheme == "http" and _loopback(parts.hostname)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def local_path(value: str | None, default: str = "/arenden") -> str:
    """Where to go after signing in: a path of this site only (never another site's address),
    and never back into the sign-in itself."""
    if not value or not _LOCAL_PATH.match(value) or value.startswith("/inloggning"):
        return default
    return value


# ---------------------------------------------------------------------------- the flow
class SignInRefused(Exception):
    """The answer that came back does not sign anyone in; `reason` is for the log only."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(Exception):
    """The provider could not be asked (discovery, keys or the token endpoint unreachable)."""


@dataclass
class _Pending:
    flow: dict[str, Any]
    next_path: str
    expires: datetime


class PendingSignIns:
    """Flows begun and not yet answered, on the server side, by a random key the browser holds.
    A key is taken once: a second answer with the same key (a replay) finds nothing."""

    def __init__(self, minutes: int = FLOW_MINUTES, limit: int = MAX_PENDING,
                 shared: Any = None):
        """`shared`: the web state's pending store (PostgreSQL: every instance on the
        database can take the answer, once); without it, this process's memory."""
        self.lifetime = timedelta(minutes=minutes)
        self.limit = limit
        self.shared = shared
        self._items: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def put(self, flow: dict[str, Any], next_path: str, now: datetime) -> str:
        key = secrets.token_urlsafe(32)
        if self.shared is not None:
            self.shared.put(SHARED_PREFIX + key, {"flow": flow, "next": next_path},
                            now + self.lifetime, now)
            return key
        with self._lock:
            for old in [k for k, p in self._items.items() if p.expires <= now]:
                del self._items[old]
            while len(self._items) >= self.limit:          # the oldest begun goes first
                del self._items[next(iter(self._items))]
            self._items[key] = _Pending(flow, next_path, now + self.lifetime)
        return key

    def take(self, key: str | None, now: datetime) -> _Pending | None:
        if not key:
            return None
        if self.shared is not None:
            value = self.shared.take(SHARED_PREFIX + key, now)
            return None if value is None else _Pending(value["flow"], value["next"],
                                                       now + self.lifetime)
        with self._lock:
            pending = self._items.pop(key, None)
        return pending if pending is not None and pending.expires > now else None


def _nonce_hash(nonce: str) -> str:
    # what msal sends as the nonce, and so what the ID token carries (OIDC Core, nonce notes)
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


class EntraSignIn:
    """The protocol side: msal's confidential client and the provider's keys, made on first
    use (both ask the provider, which must not keep the web from starting)."""

    def __init__(self, config: EntraConfig, pending: PendingSignIns | None = None):
        self.config = config
        self.pending = pending or PendingSignIns()
        self._client: Any = None
        self._keys: Any = None
        self._issuer = ""
        self._lock = threading.Lock()

    def _ready(self) -> Any:
        import jwt
        import msal
        import requests
        with self._lock:
            if self._client is None:
                c = self.config
                try:
                    answer = requests.get(c.discovery_url, timeout=HTTP_TIMEOUT)
                    answer.raise_for_status()
                    document = answer.json()
                    issuer, jwks_uri = document["issuer"], document["jwks_uri"]
                    known = urlsplit(c.authority_url).hostname in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
                    client = msal.ConfidentialClientApplication(
                        c.client_id, client_credential=c.client_secret, authority=c.authority,
                        token_cache=_no_token_cache(), timeout=HTTP_TIMEOUT,
                        # a host msal does not know (a national cloud's stand-in, the local
                        # provider of the tests) is not checked at login.microsoftonline.com
                        instance_discovery=None if known else False)
                except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
                    raise ProviderUnavailable(f"{c.discovery_url}: {type(exc).__name__}") from None
                self._keys = jwt.PyJWKClient(jwks_uri, timeout=HTTP_TIMEOUT)
                self._issuer, self._client = issuer, client
            return self._client

    def start(self, next_path: str, now: datetime) -> tuple[str, str]:
        """(the key for the browser's cookie, the provider's address to send the browser to)."""
        import requests
        client = self._ready()
        try:
            flow = client.initiate_auth_code_flow(SCOPES, redirect_uri=self.config.redirect_uri,
                                                  response_mode="query")
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        return self.pending.put(flow, next_path, now), flow["auth_uri"]

    def finish(self, key: str | None, answer: dict[str, str], now: datetime) -> tuple[dict, str]:
        """The verified ID token's claims and the page to go to; SignInRefused otherwise."""
        import requests
        pending = self.pending.take(key, now)
        if pending is None:
            raise SignInRefused("no sign-in begun in this browser, or its answer came already")
        client = self._ready()
        try:
            result = client.acquire_token_by_auth_code_flow(pending.flow, answer)
        except ValueError as exc:            # msal: the state does not match, or no code
            raise SignInRefused(f"answer refused by msal: {str(exc)[:80]}") from None
        except RuntimeError:                 # msal: the nonce does not match
            raise SignInRefused("nonce in the ID token does not match") from None
        except requests.RequestException as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if "error" in result:
            description = str(result.get("error_description") or "").splitlines()[:1]
            raise SignInRefused(f"{result['error']}: {' '.join(description)[:200]}")
        id_token = result.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("no ID token in the answer")
        return self.verify(id_token, pending.flow["nonce"]), pending.next_path

    def verify(self, id_token: str, nonce: str) -> dict:
        """The claims of an ID token signed by the provider (RS256, a key of its JWKS), issued
        by our tenant to us, not expired, carrying our nonce."""
        import jwt
        try:
            key = self._keys.get_signing_key_from_jwt(id_token)
            claims = jwt.decode(id_token, key.key, algorithms=["RS256"],
                                audience=self.config.client_id, issuer=self._issuer,
                                leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]})
        except jwt.PyJWKClientConnectionError as exc:
            raise ProviderUnavailable(f"keys: {type(exc).__name__}") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
            raise SignInRefused(f"ID token refused: {type(exc).__name__}: {str(exc)[:80]}") from None
        if not hmac.compare_digest(str(claims.get("nonce")), _nonce_hash(nonce)):
            raise SignInRefused("nonce in the ID token does not match")
        return claims

    @property
    def issuer(self) -> str:
        return self._issuer


def _no_token_cache() -> Any:
    """A token cache that keeps nothing: sign-in needs the ID token once, and a cache would
    hold every signed-in person's tokens in memory."""
    import msal

    class NoTokenCache(msal.TokenCache):
        def add(self, event, now=None):        # msal's hook for every token answer
            return None
    return NoTokenCache()


def person_for(org: Organisation, claims: dict, issuer: str) -> tuple[Person | None, str]:
    """The directory's person for the token, and the address that was looked up.

    `preferred_username` (the account's sign-in name) first. `email` only for an account of
    our own tenant (no `idp` of another issuer) or when Entra says the domain owner verified it
    (`xms_edov`): a guest's e-mail claim can name an address nobody verified."""
    username, email = claims.get("preferred_username"), claims.get("email")
    candidates = [username]
    if claims.get("idp") in (None, issuer) or claims.get("xms_edov") in (True, "1", "true"):
        candidates.append(email)
    for address in candidates:
        if isinstance(address, str) and address.strip():
            person = org.person_by_email(address.strip())
            if person is not None:
                return person, address.strip()
    shown = next((a for a in (username, email) if isinstance(a, str) and a.strip()), "")
    return None, shown.strip()[:200]


def check_online(settings: Settings, base_url: str) -> list[tuple[bool, str]]:
    """`check-config --online`: the tenant's discovery document, then a token for the app
    itself by client credentials (no permission needed), which proves tenant, client id and
    secret without a person. The redirect URI is only tried by a real sign-in."""
    import msal
    import requests
    lang = settings.org.language
    config = EntraConfig.from_settings(settings, base_url)
    if config is None:
        return []
    try:
        answer = requests.get(config.discovery_url, timeout=HTTP_TIMEOUT)
        if answer.status_code != 200:
            error = answer.json().get("error_description", "") if answer.headers.get(
                "Content-Type", "").startswith("application/json") else ""
            return [(False, t(lang, "web_entra_online_failed",
                              error=f"{answer.status_code} {str(error).splitlines()[0] if error else ''}".strip()))]
        known = urlsplit(config.authority_url).hostname in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
        client = msal.ConfidentialClientApplication(
            config.client_id, client_credential=config.client_secret, authority=config.authority,
            token_cache=_no_token_cache(), timeout=HTTP_TIMEOUT,
            instance_discovery=None if known else False)
        result = client.acquire_token_for_client([f"{config.client_id}/.default"])
    except (requests.RequestException, ValueError) as exc:
        return [(False, t(lang, "web_entra_online_failed", error=t(
            lang, "web_entra_unreachable", url=config.authority_url, error=type(exc).__name__)))]
    if "error" in result:
        text = str(result.get("error_description") or result["error"]).splitlines()[0]
        return [(False, t(lang, "web_entra_online_failed", error=text[:200]))]
    return [(True, t(lang, "web_entra_online_ok", tenant=config.tenant, client=config.client_id,
                     redirect=config.redirect_uri))]


# ---------------------------------------------------------------------------- the pages
class EntraPages:
    """The two routes: /inloggning/entra (go to Microsoft) and /inloggning/entra/svar."""

    def __init__(self, webapp: "WebApp", signin: EntraSignIn):
        self.webapp, self.signin = webapp, signin

    def start_link(self, next_path: str | None) -> str:
        return f"{START_PATH}?nasta={quote(local_path(next_path), safe='/')}"

    async def start(self, request: web.Request) -> web.StreamResponse:
        app = self.webapp
        next_path = local_path(request.query.get("nasta"))
        try:
            key, address = await asyncio.to_thread(self.signin.start, next_path, app.clock.now())
        except ProviderUnavailable as exc:
            log.warning("webben: Entra ID kan inte nås (%s)", exc)
            return self._refused(request, "web_entra_unavailable", status=503)
        response = web.HTTPFound(address)
        response.set_cookie(FLOW_COOKIE, key, httponly=True, samesite="Lax", path=START_PATH,
                            secure=app.options.secure_cookie, max_age=FLOW_MINUTES * 60)
        raise response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        app = self.webapp
        answer = {k: v for k, v in request.query.items() if len(v) < 8192}
        try:
            claims, next_path = await asyncio.to_thread(
                self.signin.finish, request.cookies.get(FLOW_COOKIE), answer, app.clock.now())
        except SignInRefused as exc:
            log.warning("webben: inloggning med Entra ID avvisad: %s", exc.reason)
            return self._refused(request, "web_entra_refused")
        except ProviderUnavailable as exc:
            log.warning("webben: Entra ID kan inte nås (%s)", exc)
            return self._refused(request, "web_entra_unavailable", status=503)
        person, address = person_for(app.org, claims, self.signin.issuer)
        if person is None:
            log.warning("webben: inloggning med Entra ID avvisad: %s finns inte i katalogen",
                        address or "(ingen adress i ID-token)")
            return self._refused(request, "web_entra_unknown", address=address or "–")
        session_id = app.sessions.start(person.id, app.clock.now())
        log.info("webben: %s loggade in med Entra ID", person.id)
        response = app.render("signin_entra_done.html", request, next_path=next_path)
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict",
                            path="/", secure=app.options.secure_cookie,
                            max_age=int(app.sessions.lifetime.total_seconds()))
        response.del_cookie(FLOW_COOKIE, path=START_PATH)
        return response

    def _refused(self, request: web.Request, key: str, status: int = 403,
                 **values: object) -> web.Response:
        response = self.webapp.render("signin_entra_refused.html", request, http_status=status,
                                      message=t(self.webapp.lang, key, **values))
        response.del_cookie(FLOW_COOKIE, path=START_PATH)
        return response


def attach(app: web.Application, webapp: "WebApp") -> EntraPages | None:
    """Add the Entra routes when Entra sign-in is configured; the pages to link to, or None."""
    config = EntraConfig.from_settings(webapp.settings, webapp.options.base_url)
    if config is None:
        return None
    # with PostgreSQL the flows live in the database, so the answer may reach any instance
    shared = None if isinstance(webapp.pending, Pending) else webapp.pending
    pages = EntraPages(webapp, EntraSignIn(config, PendingSignIns(shared=shared)))
    app.router.add_get(START_PATH, pages.start)
    app.router.add_get(CALLBACK_PATH, pages.callback)
    return pages
