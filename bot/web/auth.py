"""Sign-in without a password: one-time links and short sessions.

A person asks for a link (`webb` in chat, `avvikelsebot web-link --as PERSON`); the link
carries a random token that is valid for a few minutes and works once. Only a hash of the
token is kept, in <state>/web/login-tokens.json, written atomically under a file lock, so
the process that issues links (the bot, the CLI) and the process that serves the pages
(`run` or a standalone `web`) share it. The web process marks a token used in the same
locked write that checks it: a link opened twice, or by two browsers at once, signs in once.

Sessions live in the web process's memory only (a restart signs everyone out): a random
id in an HTTP-only, SameSite=Strict cookie, valid for a few hours.

That is the JSON store's way, for one instance. With DATABASE_URL the composition root
(bot.app.web_state) hands the web the same four things kept in PostgreSQL instead
(bot.store.web_state): tokens, sessions, pending sign-in flows and the read log, shared by
every instance on the database. WebState holds whichever four the process uses.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator, Protocol

from bot.domain.weblink import local_target
from bot.errors import ConfigError
from bot.files import write_durably
from bot.settings import Settings
from bot.texts import t

TOKEN_FILE = "login-tokens.json"
DEFAULT_LINK_MINUTES = 10
DEFAULT_SESSION_HOURS = 8


@dataclass(frozen=True)
class WebOptions:
    """The web's settings from the environment (read once, through Settings.env)."""
    bind: str
    port: int
    base_url: str
    secure_cookie: bool
    link_minutes: int
    session_hours: int
    state_dir: Path                  # where tokens and the read log go; writable on a replica

    @classmethod
    def from_settings(cls, settings: Settings) -> "WebOptions":
        env, lang = settings.env, settings.org.language
        bind = (env.get("WEB_BIND") or "127.0.0.1").strip()
        port = settings.port("WEB_PORT", 8080)
        base_url = (env.get("WEB_BASE_URL") or f"http://{bind}:{port}").rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(t(lang, "env_label"), "WEB_BASE_URL", t(lang, "web_bad_base_url"))
        secure = env.get("WEB_SECURE_COOKIE")
        return cls(
            bind=bind, port=port, base_url=base_url,
            # behind the organisation's https proxy the cookie must never travel in clear
            secure_cookie=base_url.startswith("https://") if secure is None
            else secure.strip().lower() in {"1", "true", "yes", "ja", "on"},
            link_minutes=_positive(settings, "WEB_LINK_MINUTES", DEFAULT_LINK_MINUTES),
            session_hours=_positive(settings, "WEB_SESSION_HOURS", DEFAULT_SESSION_HOURS),
            state_dir=Path(env.get("WEB_STATE_DIR") or settings.data_dir))


def _positive(settings: Settings, name: str, default: int) -> int:
    value = (settings.env.get(name) or "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) <= 24 * 60:
        lang = settings.org.language
        raise ConfigError(t(lang, "env_label"), name, t(lang, "web_bad_number", value=value))
    return int(value)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginTokens:
    """The file of issued one-time tokens (hashes only), shared between processes."""

    def __init__(self, state_dir: Path, minutes: int = DEFAULT_LINK_MINUTES):
        self.folder = Path(state_dir) / "web"
        self.path = self.folder / TOKEN_FILE
        self.minutes = minutes
        self._thread_lock = threading.Lock()

    @contextmanager
    def _locked(self) -> Iterator[dict]:
        """Read, let the caller change, write back: one process and one thread at a time."""
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._thread_lock:
            fd = os.open(self.folder / "tokens.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                tokens = json.loads(self.path.read_bytes()) if self.path.exists() else {}
                before = json.dumps(tokens, sort_keys=True)
                yield tokens
                if json.dumps(tokens, sort_keys=True) != before:
                    write_durably(self.path, json.dumps(tokens, indent=1).encode())
            finally:
                os.close(fd)          # closing releases the flock

    def issue(self, person_id: str, now: datetime, next_path: str | None = None) -> str:
        """A new token for the person; `next_path` (a path of this site, checked by the
        caller with local_target) is where the browser lands after signing in."""
        token = secrets.token_urlsafe(32)
        with self._locked() as tokens:
            _forget_old(tokens, now)
            entry = {"person": person_id, "issued": _iso(now),
                     "expires": _iso(now + timedelta(minutes=self.minutes)), "used": None}
            if next_path:
                entry["next"] = next_path
            tokens[_digest(token)] = entry
        return token

    def redeem(self, token: str, now: datetime) -> str | None:
        """The person the token was issued to, once; None when unknown, used or expired."""
        found = self.redeem_with_target(token, now)
        return found[0] if found else None

    def redeem_with_target(self, token: str, now: datetime) -> tuple[str, str | None] | None:
        """(person, the page to land on or None), once; None when unknown, used or expired.
        The target is checked again here: the file is not trusted to hold only good ones."""
        if not token or len(token) > 200:
            return None
        with self._locked() as tokens:
            entry = tokens.get(_digest(token))
            if entry is None or entry["used"] is not None:
                return None
            if datetime.fromisoformat(entry["expires"]) <= now:
                return None
            entry["used"] = _iso(now)
            return entry["person"], local_target(entry.get("next"))


def _forget_old(tokens: dict, now: datetime) -> None:
    """Expired and used entries go after a day: the file stays small, and a reused link is
    still recognised as used (not merely unknown) for a while, in the log of the refusal."""
    horizon = now - timedelta(days=1)
    for key in [k for k, v in tokens.items() if datetime.fromisoformat(v["expires"]) < horizon]:
        del tokens[key]


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


class LoginLinks:
    """Issues personal sign-in links: what `webb` in chat and `web-link` give a person."""

    def __init__(self, settings: Settings, options: WebOptions | None = None,
                 tokens: "TokenStore | None" = None):
        self.org = settings.org
        self.options = options or WebOptions.from_settings(settings)
        self.tokens = tokens or LoginTokens(self.options.state_dir, self.options.link_minutes)

    def issue_login_link(self, person_id: str, now: datetime, next_path: str | None = None) -> str:
        """The link; with `next_path` the browser lands on that page after signing in. A
        target that is not a path of this site (an absolute URL, "//host") is refused with
        ValueError: a sign-in link is never a way to send someone elsewhere."""
        if person_id not in self.org.people:   # nobody outside the directory gets in
            raise PermissionError(person_id)
        if next_path is not None and local_target(next_path) is None:
            raise ValueError(next_path)
        token = self.tokens.issue(person_id, now, next_path)
        return f"{self.options.base_url}/inloggning/{token}"


@dataclass(frozen=True)
class Session:
    person: str
    expires: datetime


class Sessions:
    """Signed-in browsers of this web process: random ids, in memory, a few hours each."""

    def __init__(self, hours: int = DEFAULT_SESSION_HOURS):
        self.lifetime = timedelta(hours=hours)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def start(self, person: str, now: datetime) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.expires <= now]:
                del self._sessions[key]
            self._sessions[session_id] = Session(person, now + self.lifetime)
        return session_id

    def person(self, session_id: str | None, now: datetime) -> str | None:
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None or session.expires <= now:
                self._sessions.pop(session_id, None)
                return None
            return session.person

    def end(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)


class Pending:
    """Short-lived values a sign-in flow keeps between two requests (an OIDC state and
    nonce, say), each taken once: in this process's memory (one instance)."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[dict, datetime]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: dict, expires: datetime, now: datetime) -> None:
        with self._lock:
            for old in [k for k, (_, until) in self._values.items() if until <= now]:
                del self._values[old]
            self._values[key] = (dict(value), expires)

    def take(self, key: str, now: datetime) -> dict | None:
        """The value, once (a second take, or one after it expired, gets None)."""
        with self._lock:
            found = self._values.pop(key, None)
        if found is None or found[1] <= now:
            return None
        return found[0]


# ---------------------------------------------------------------------- the ports
class TokenStore(Protocol):
    def issue(self, person_id: str, now: datetime, next_path: str | None = None) -> str: ...

    def redeem(self, token: str, now: datetime) -> str | None: ...

    def redeem_with_target(self, token: str, now: datetime) -> tuple[str, str | None] | None: ...


class SessionStore(Protocol):
    lifetime: timedelta

    def start(self, person: str, now: datetime) -> str: ...

    def person(self, session_id: str | None, now: datetime) -> str | None: ...

    def end(self, session_id: str | None) -> None: ...


class PendingStore(Protocol):
    def put(self, key: str, value: dict, expires: datetime, now: datetime) -> None: ...

    def take(self, key: str, now: datetime) -> dict | None: ...


class ReadLogStore(Protocol):
    def record(self, *, person: str, number: str, what: str, at: datetime,
               channel: str = ..., document: int | None = None,
               detail: str | None = None) -> None: ...

    def entries(self, start: date, end: date) -> Iterator[dict]: ...


@dataclass
class WebState:
    """What the web keeps besides the diary: one-time sign-in tokens, sessions, pending
    sign-in flows and the read log. `local` is the JSON store's (files and memory: one
    instance); bot.app.web_state gives PostgreSQL's with DATABASE_URL."""
    tokens: TokenStore
    sessions: SessionStore
    pending: PendingStore
    readlog: ReadLogStore
    close: Callable[[], None] = lambda: None
    shared: bool = False             # True: every instance on the database sees the same

    @classmethod
    def local(cls, options: WebOptions) -> "WebState":
        from bot.web.readlog import ReadLog
        return cls(LoginTokens(options.state_dir, options.link_minutes),
                   Sessions(options.session_hours), Pending(), ReadLog(options.state_dir))
