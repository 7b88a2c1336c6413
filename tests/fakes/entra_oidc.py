"""A local OpenID Connect provider shaped like Entra ID (v2.0 endpoints), over real TLS.

It speaks the authorization code flow the way Entra does, under a tenant path:

    GET  /{tenant}/v2.0/.well-known/openid-configuration   discovery
    GET  /{tenant}/discovery/v2.0/keys                      JWKS (one RSA key, kid)
    GET  /{tenant}/oauth2/v2.0/authorize                    "signs in" the chosen user and
                                                            redirects back with code + state
    POST /{tenant}/oauth2/v2.0/token                        checks the code (once, unexpired,
                                                            same client and redirect URI), the
                                                            PKCE code_verifier (S256) and the
                                                            client secret; returns an RS256 ID
                                                            token with the nonce of the request

Who signs in is set by the test (`sign_in_as`), as a person typing a password would decide.
Faults for the refusal tests: claims overridden in the next ID tokens (`tamper`), a token
signed by a key that is not in the JWKS (`sign_with_foreign_key`). Every request is recorded.

    with FakeEntra() as entra:
        entra.redirect_uris.add("http://127.0.0.1:8080/inloggning/entra/svar")
        env = entra.env()          # WEB_ENTRA_* and the CA for the web process
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.realparts.tls import start_https, stop_https

TENANT = "3c9a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
CLIENT_ID = "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70"
CLIENT_SECRET = "entra-test-secret-not-real-9f3k"
KEY_ID = "fake-entra-key-1"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    nonce: str | None
    scope: str
    claims: dict
    expires: float
    used: bool = False


@dataclass
class FakeEntra:
    tenant: str = TENANT
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    redirect_uris: set[str] = field(default_factory=set)
    # the name in its addresses: "localhost" makes it another site than a web on 127.0.0.1,
    # as login.microsoftonline.com is for the organisation's web (SameSite rules apply)
    host: str = "127.0.0.1"
    # a sign-in page with a button, as Entra shows (the browser then leaves from the provider's
    # own page, which is what a browser's SameSite rules look at); else straight back
    interactive: bool = False
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.RLock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._codes: dict[str, _Code] = {}
        self._asked: dict[str, dict[str, str]] = {}     # interactive: authorize requests shown
        self._user: dict | None = None
        self._tamper: dict = {}
        self._foreign = False
        self.id_tokens: list[str] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._dir: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeEntra:
        handler = type("Handler", (_Handler,), {"entra": self})
        self._server, self._dir, self.ca_path = start_https(handler, "fake-entra-")
        return self

    def stop(self) -> None:
        stop_https(self._server, self._dir)
        self._server = self._dir = None

    def __enter__(self) -> FakeEntra:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        assert self._server is not None
        return f"https://{self.host}:{self._server.server_address[1]}"

    @property
    def issuer(self) -> str:
        return f"{self.origin}/{self.tenant}/v2.0"

    def env(self, **overrides: str) -> dict[str, str]:
        """The WEB_ENTRA_* variables for this provider, and its certificate as the CA that
        requests (REQUESTS_CA_BUNDLE) and ssl (SSL_CERT_FILE, for the JWKS) trust."""
        values = {"WEB_ENTRA_TENANT_ID": self.tenant, "WEB_ENTRA_CLIENT_ID": self.client_id,
                  "WEB_ENTRA_CLIENT_SECRET": self.client_secret,
                  "WEB_ENTRA_AUTHORITY_URL": self.origin,
                  "REQUESTS_CA_BUNDLE": self.ca_path, "SSL_CERT_FILE": self.ca_path}
        values.update(overrides)
        return values

    # ------------------------------------------------------------------ what the test decides
    def sign_in_as(self, address: str | None, **claims) -> None:
        """The next authorize request signs in this account (None: the user cancels)."""
        with self._lock:
            self._user = None if address is None else {
                "preferred_username": address, "name": address.split("@")[0],
                "oid": secrets.token_hex(16), **claims}

    def tamper(self, **claims) -> None:
        """Claims of the next ID tokens overridden (aud, iss, nonce, exp...); {} to stop."""
        with self._lock:
            self._tamper = dict(claims)

    def sign_with_foreign_key(self, on: bool = True) -> None:
        with self._lock:
            self._foreign = on

    def reset(self) -> None:
        with self._lock:
            self._tamper, self._foreign, self._user = {}, False, None

    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/oauth2/v2.0/token")]

    # ------------------------------------------------------------------ protocol
    def handle(self, method: str, target: str, body: bytes):
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        form = parse_qs(body.decode("ascii", "replace"), keep_blank_values=True) if body else {}
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, form))
        prefix = f"/{self.tenant}"
        if not parts.path.startswith(prefix + "/"):
            return _json(400, {"error": "invalid_tenant", "error_description":
                               "AADSTS90002: Tenant not found."})
        rest = parts.path[len(prefix):]
        if method == "GET" and rest == "/v2.0/.well-known/openid-configuration":
            return _json(200, self._discovery())
        if method == "GET" and rest == "/discovery/v2.0/keys":
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
            return _json(200, {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]})
        if method == "GET" and rest == "/oauth2/v2.0/authorize":
            if self.interactive:
                return self._sign_in_page({k: v[0] for k, v in query.items()})
            return self._authorize({k: v[0] for k, v in query.items()})
        if method == "POST" and rest == "/oauth2/v2.0/authorize":     # the page's button
            with self._lock:
                asked = self._asked.pop(form.get("ticket", [""])[0], None)
            if asked is None:
                return _json(400, {"error": "invalid_request"})
            return self._authorize(asked)
        if method == "POST" and rest == "/oauth2/v2.0/token":
            return self._token({k: v[0] for k, v in form.items()})
        return _json(404, {"error": "not_found"})

    def _discovery(self) -> dict:
        base = f"{self.origin}/{self.tenant}"
        return {"issuer": self.issuer,
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token"],
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                          "private_key_jwt", "client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
                "tenant_region_scope": "EU"}

    def _sign_in_page(self, q: dict[str, str]):
        ticket = secrets.token_urlsafe(16)
        with self._lock:
            self._asked[ticket] = q
        page = (f'<!doctype html><html lang="sv"><title>Logga in</title><form method="post" '
                f'action="/{self.tenant}/oauth2/v2.0/authorize"><input type="hidden" '
                f'name="ticket" value="{ticket}"><button id="idSIButton9" type="submit">'
                f'Logga in</button></form></html>').encode()
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page

    def _authorize(self, q: dict[str, str]):
        if q.get("client_id") != self.client_id:
            return _json(400, {"error": "unauthorized_client", "error_description":
                               "AADSTS700016: Application not found in the directory."})
        redirect = q.get("redirect_uri", "")
        if redirect not in self.redirect_uris:
            return _json(400, {"error": "invalid_request", "error_description":
                               "AADSTS50011: The redirect URI does not match the redirect URIs "
                               "configured for the application."})
        if q.get("response_type") != "code" or q.get("code_challenge_method") != "S256" \
                or not q.get("code_challenge"):
            return _redirect(redirect, {"error": "invalid_request", "state": q.get("state", ""),
                                        "error_description": "AADSTS9002325: PKCE S256 required."})
        with self._lock:
            user = self._user
            if user is None:
                return _redirect(redirect, {"error": "access_denied", "state": q.get("state", ""),
                                            "error_description": "AADSTS65004: User declined."})
            code = secrets.token_urlsafe(48)
            self._codes[code] = _Code(self.client_id, redirect, q["code_challenge"], "S256",
                                      q.get("nonce"), q.get("scope", ""), dict(user),
                                      time.time() + 600)
        return _redirect(redirect, {"code": code, "state": q.get("state", ""),
                                    "session_state": secrets.token_hex(8)})

    def _token(self, f: dict[str, str]):
        def refuse(error: str, text: str, status: int = 400):
            return _json(status, {"error": error, "error_description": text,
                                  "error_codes": [int(text[6:text.index(":")])]})
        if f.get("grant_type") == "client_credentials":     # check-config --online
            if f.get("client_id") != self.client_id:
                return refuse("unauthorized_client", "AADSTS700016: Application not found.")
            if not secrets.compare_digest(f.get("client_secret", ""), self.client_secret):
                return refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
            if not f.get("scope", "").endswith("/.default"):
                return refuse("invalid_scope", "AADSTS1002012: Client credential flows must have "
                              "a scope value with /.default suffixed to the resource identifier.")
            return _json(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                               "access_token": secrets.token_urlsafe(40)})
        if f.get("grant_type") != "authorization_code":
            return refuse("unsupported_grant_type", "AADSTS70003: grant type not supported.")
        if f.get("client_id") != self.client_id:
            return refuse("unauthorized_client", "AADSTS700016: Application not found.")
        if not secrets.compare_digest(f.get("client_secret", ""), self.client_secret):
            return refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
        with self._lock:
            code = self._codes.get(f.get("code", ""))
            if code is None or code.expires < time.time():
                return refuse("invalid_grant", "AADSTS70008: The provided authorization code "
                              "or refresh token has expired.")
            if code.used:
                return refuse("invalid_grant", "AADSTS54005: OAuth2 Authorization code was "
                              "already redeemed.")
            code.used = True
        if f.get("redirect_uri") != code.redirect_uri:
            return refuse("invalid_grant", "AADSTS50148: The redirect_uri does not match.")
        verifier = f.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()) \
            .rstrip(b"=").decode()
        if not verifier or not secrets.compare_digest(challenge, code.challenge):
            return refuse("invalid_grant", "AADSTS501481: The Code_Verifier does not match "
                          "the code_challenge supplied in the authorization request.")
        return _json(200, {"token_type": "Bearer", "scope": code.scope, "expires_in": 3599,
                           "ext_expires_in": 3599, "access_token": secrets.token_urlsafe(40),
                           "id_token": self._id_token(code)})

    def _id_token(self, code: _Code) -> str:
        now = int(time.time())
        claims = {"aud": self.client_id, "iss": self.issuer, "iat": now, "nbf": now,
                  "exp": now + 3600, "sub": secrets.token_urlsafe(16), "tid": self.tenant,
                  "ver": "2.0", **code.claims}
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        with self._lock:
            claims.update(self._tamper)
            key = self._foreign_key if self._foreign else self._key
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": KEY_ID})
        self.id_tokens.append(token)
        return token


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    entra: FakeEntra

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, headers, payload = self.entra.handle(self.command, self.path, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _serve

    def log_message(self, *args) -> None:
        pass


def _json(status: int, body: dict):
    return status, {"Content-Type": "application/json; charset=utf-8",
                    "Cache-Control": "no-store"}, json.dumps(body).encode()


def _redirect(uri: str, params: dict[str, str]):
    return 302, {"Location": f"{uri}?{urlencode(params)}"}, b""
