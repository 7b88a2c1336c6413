"""Exchange Online through Microsoft Graph: the functional mailbox as a MailSource and a
MailSender (O365 + msal, app-only, a shared mailbox by address).

- New mail comes from a **delta query** on the Inbox. The new delta link is saved
  (`<data>/graph-state.json`) only once every message of its round was acknowledged, so a
  crash between the store write and the acknowledgement makes those mails come back.
- A message is acknowledged by moving it to the folder *Diarierat* under the Inbox (as the
  Maildir source's `.Diarierat` and IMAP's `INBOX.Diarierat`), created when missing. So the
  Inbox only ever holds mail the bot has not filed: the first round after a start (or after a
  failed round) also lists the whole Inbox, which catches a mail left there while the saved
  delta link had already moved past it (an older state file, a failed move, a restore).
- Ids are immutable (`Prefer: IdType="ImmutableId"`), so a move keeps the id.
- Throttling (429 + Retry-After) and 5xx get a bounded back-off; an expired or revoked token
  is re-acquired once. Every other failure becomes a MailSourceError (sending: DeliveryError)
  with a message that says what to fix.
- The token endpoint is the cloud's own (login.microsoftonline.com for graph.microsoft.com,
  the national clouds' for theirs) or GRAPH_AUTHORITY_URL for anything else.
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import msal
import requests
from O365 import Account
from O365.connection import Connection, MSGraphProtocol
from O365.message import Message
from O365.utils.token import MemoryTokenBackend

from bot.domain.redact import redact
from bot.errors import BotError, ConfigError, DeliveryError, MailSourceError
from bot.files import write_durably
from bot.ports import Clock, SystemClock, Waiting
from bot.settings import Settings
from bot.texts import t

log = logging.getLogger(__name__)
# O365 logs each request's session headers (the bearer token) and body at DEBUG: a secret and
# mail content must never reach a log, so its connection logger stops at INFO.
logging.getLogger("O365.connection").setLevel(logging.INFO)


class _OwnWords(logging.Filter):
    """O365 logs every 4xx at ERROR. The reads of issue 26 say what went wrong themselves,
    once (bot.usecases.outlook, TeamsNotifier.delivered): a missing permission must not
    add a line per manager every 15 minutes."""
    PATHS = ("/mailboxSettings/automaticRepliesSetting", "/v1.0/chats/")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(path in message for path in self.PATHS)


logging.getLogger("O365.connection").addFilter(_OwnWords())

DEFAULT_BASE_URL = "https://graph.microsoft.com/"
ACK_FOLDER = "Diarierat"
STATE_FILE = "graph-state.json"
PERMISSIONS = ("Mail.ReadWrite", "Mail.Send")
# The token endpoint of each Graph cloud (Microsoft: "National cloud deployments").
AUTHORITY_HOSTS = {
    "graph.microsoft.com": "https://login.microsoftonline.com",
    "graph.microsoft.us": "https://login.microsoftonline.us",
    "dod-graph.microsoft.us": "https://login.microsoftonline.us",
    "microsoftgraph.chinacloudapi.cn": "https://login.partner.microsoftonline.cn",
}
DELTA_SELECT = "id,isDraft,receivedDateTime,conversationId,internetMessageId"
DELTA_PAGE_SIZE = 50
# a POST that may have been carried out must not be repeated after a 5xx (a mail sent twice)
RETRY_ANY = frozenset({429, 500, 502, 503, 504})
RETRY_UNPROCESSED = frozenset({429, 503})
_RAISE = object()   # GraphClient.call: a 404 is an error unless a value for it is given


# ============================================================================ configuration
@dataclass(frozen=True)
class GraphConfig:
    tenant_id: str
    client_id: str
    credential: str | dict = field(repr=False)   # secret, or {"private_key", "thumbprint"}
    mailbox: str
    base_url: str = DEFAULT_BASE_URL
    authority_url: str = AUTHORITY_HOSTS["graph.microsoft.com"]
    poll_seconds: float = 15.0
    verify: bool | str = True     # a CA bundle for a Graph stand-in with its own certificate
    language: str = "sv"
    series: str = "VOK"

    @property
    def authority(self) -> str:
        return f"{self.authority_url}/{self.tenant_id}"

    @property
    def uses_certificate(self) -> bool:
        return isinstance(self.credential, dict)

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True) -> GraphConfig:
        env, lang = settings.env, settings.org.language

        def fail(variable: str, text_key: str, **values) -> ConfigError:
            return ConfigError(t(lang, "graph_env"), variable, t(lang, text_key, **values))

        def required(key: str) -> str:
            value = (env.get(key) or "").strip()
            if not value:
                raise fail(key, "graph_config_missing", key=key)
            return value

        tenant, client = required("GRAPH_TENANT_ID"), required("GRAPH_CLIENT_ID")
        base_url = (env.get("GRAPH_BASE_URL") or DEFAULT_BASE_URL).strip()
        base_url = base_url if base_url.endswith("/") else base_url + "/"
        host = urlsplit(base_url).hostname
        if urlsplit(base_url).scheme != "https" or not host:
            raise fail("GRAPH_BASE_URL", "graph_config_url")
        authority = (env.get("GRAPH_AUTHORITY_URL") or AUTHORITY_HOSTS.get(host, "")).strip()
        if not authority:
            raise fail("GRAPH_AUTHORITY_URL", "graph_config_authority", host=host)
        if urlsplit(authority).scheme != "https":
            raise fail("GRAPH_AUTHORITY_URL", "graph_config_url")
        try:
            poll = float(env.get("GRAPH_POLL_SECONDS") or 15)
        except ValueError:
            poll = 0.0
        if poll <= 0:
            raise fail("GRAPH_POLL_SECONDS", "graph_config_poll")
        return cls(tenant_id=tenant, client_id=client, credential=_credential(env, fail),
                   mailbox=(env.get("GRAPH_MAILBOX") or settings.org.mailbox).strip().lower(),
                   base_url=base_url, authority_url=authority.rstrip("/"), poll_seconds=poll,
                   verify=verify, language=lang, series=settings.org.series)


def _credential(env, fail) -> str | dict:
    """A client secret, or a certificate (PEM private key + SHA-1 thumbprint) as msal takes it."""
    secret = (env.get("GRAPH_CLIENT_SECRET") or "").strip()
    if secret:
        return secret
    path = (env.get("GRAPH_CERTIFICATE_PATH") or "").strip()
    if not path:
        raise fail("GRAPH_CLIENT_SECRET", "graph_config_credential")
    thumbprint = re.sub(r"[\s:]", "", env.get("GRAPH_CERTIFICATE_THUMBPRINT") or "")
    if not re.fullmatch(r"[0-9A-Fa-f]{40}", thumbprint):
        raise fail("GRAPH_CERTIFICATE_THUMBPRINT", "graph_config_thumbprint")
    try:
        pem = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail("GRAPH_CERTIFICATE_PATH", "graph_config_unreadable", path=path,
                   error=getattr(exc, "strerror", None) or exc.__class__.__name__) from None
    if "PRIVATE KEY" not in pem:
        raise fail("GRAPH_CERTIFICATE_PATH", "graph_config_no_key", path=path)
    return {"private_key": pem, "thumbprint": thumbprint.upper()}


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded back-off for throttling and outages: `attempts` tries in all, waiting
    base_delay·2ⁿ or what Retry-After says; a wait beyond `max_wait` is not slept through."""
    attempts: int = 4
    base_delay: float = 1.0
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, response: requests.Response | None) -> float:
        told = _retry_after(response)
        return float(told) if told is not None else self.base_delay * 2 ** attempt


def _retry_after(response: requests.Response | None) -> float | None:
    """Retry-After in seconds: Graph sends seconds; RFC 9110 also allows an HTTP date (a
    gateway in front of Graph may send one), which is honoured as the time until then."""
    value = response.headers.get("Retry-After") if response is not None else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())


class GraphCallFailed(BotError):
    """One Graph call failed for good; `text` says why in the user's language."""

    def __init__(self, text: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(text)
        self.status = status
        self.retry_after = retry_after


# ============================================================================ O365 plumbing
class _TokenClient(msal.ConfidentialClientApplication):
    """msal's client that remembers the last token answer: O365 only logs the reason of a
    refused token and returns False, and the reason (AADSTS…) is what the admin needs."""
    last_error: dict | None = None

    def acquire_token_for_client(self, scopes, *args, **kwargs):
        result = super().acquire_token_for_client(scopes, *args, **kwargs)
        self.last_error = result if "error" in result else None
        return result


class _GraphConnection(Connection):
    """O365's Connection with the authority of the configured cloud: msal insists on https
    and, for a host it does not know, on instance discovery at login.microsoftonline.com."""

    def __init__(self, credentials, *, authority: str, **kwargs):
        super().__init__(credentials, **kwargs)
        self._msal_authority = authority

    @property
    def msal_client(self) -> _TokenClient:
        if self._msal_client is None:  # type: ignore[has-type]  # set by O365's Connection
            known = urlsplit(self._msal_authority).hostname in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS
            self._msal_client = _TokenClient(
                client_id=self.auth[0], client_credential=self.auth[1],
                authority=self._msal_authority, token_cache=self.token_backend,
                proxies=self.proxy, verify=self.verify_ssl, timeout=self.timeout,
                http_client=self._pinned_session(), instance_discovery=None if known else False)
        return self._msal_client

    # requests lets REQUESTS_CA_BUNDLE override a Session's `verify`; a CA bundle given
    # explicitly (a Graph stand-in's own certificate) must win, so it goes with each request
    def _internal_request(self, session_obj, url, method, ignore40x=False, **kwargs):
        if isinstance(self.verify_ssl, str):
            kwargs.setdefault("verify", self.verify_ssl)
        return super()._internal_request(session_obj, url, method, ignore40x=ignore40x, **kwargs)

    def _pinned_session(self) -> requests.Session | None:
        if not isinstance(self.verify_ssl, str):
            return None     # msal's own session, as in production
        session = requests.Session()
        session.proxies = self.proxy
        session.request = functools.partial(session.request, verify=self.verify_ssl,  # type: ignore[method-assign]
                                            timeout=self.timeout)
        return session


class _GraphAccount(Account):
    connection_constructor = _GraphConnection


class _GraphProtocol(MSGraphProtocol):
    """Graph at the configured base URL (a national cloud); the token scope follows it."""

    def __init__(self, base_url: str, **kwargs):
        self._protocol_url = base_url
        self._oauth_scope_prefix = base_url
        super().__init__(**kwargs)


class GraphClient:
    """One app-only O365 Account on one mailbox, with retries, token renewal and errors
    translated into sentences. Shared by the source, the sender and check_online."""

    def __init__(self, config: GraphConfig, *, retry: RetryPolicy | None = None):
        self.config = config
        self.retry = retry or RetryPolicy()
        self.lang = config.language
        protocol = _GraphProtocol(config.base_url, default_resource=config.mailbox, timezone="UTC")
        self.account = _GraphAccount(
            (config.client_id, config.credential), auth_flow_type="credentials",
            tenant_id=config.tenant_id, protocol=protocol, main_resource=config.mailbox,
            token_backend=MemoryTokenBackend(), requests_delay=0, request_retries=0,
            timeout=(10, 60), verify_ssl=config.verify, authority=config.authority,
            default_headers={"Prefer": 'IdType="ImmutableId"'})   # ids survive the move
        self.mailbox = self.account.mailbox(resource=config.mailbox)
        self._has_token = False
        self._lock = threading.RLock()   # O365's session and token refresh are not thread-safe

    # ------------------------------------------------------------------ tokens
    def ensure_token(self) -> None:
        """A token before the first call, and a fresh one when the old has run out (O365
        would otherwise spend one refused call per hour finding that out)."""
        backend = self.account.con.token_backend
        if self._has_token and not backend.token_is_expired():
            return
        try:
            ok = self.account.authenticate()
        except ValueError as exc:          # msal: the authority / tenant discovery failed;
            # msal re-raises the discovery's answer (with the AADSTS code) as a generic text
            raise GraphCallFailed(self._token_problem(f"{exc} {exc.__context__ or ''}")) from None
        except requests.RequestException as exc:
            raise GraphCallFailed(t(self.lang, "graph_unreachable", url=self.config.authority_url,
                                    error=_short(exc))) from None
        if not ok:
            error = self.account.con.msal_client.last_error or {}
            raise GraphCallFailed(self._token_problem(
                f"{error.get('error', '')}: {error.get('error_description', '')}"))
        self._has_token = True
        log.info("graph: token acquired for app %s", self.config.client_id)

    def _renew_token(self) -> None:
        """Graph refused a token our clock still thinks valid (revoked, clock skew): forget
        it, so msal asks the token endpoint instead of answering from its cache."""
        backend = self.account.con.token_backend
        for token in list(backend.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            backend.remove_at(token)
        self._has_token = False
        self.ensure_token()

    def access_token_claims(self) -> dict[str, Any] | None:
        """The claims of the app token (its `roles` are the granted application
        permissions); None when the token is not a readable JWT."""
        token = self.account.con.token_backend.get_access_token()
        try:
            payload = token["secret"].split(".")[1]
            return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (TypeError, KeyError, IndexError, ValueError, binascii.Error):
            return None

    def _token_problem(self, text: str) -> str:
        c = self.config
        if "AADSTS90002" in text or "invalid_tenant" in text:
            return t(self.lang, "graph_tenant_unknown", tenant=c.tenant_id)
        if "AADSTS700016" in text:
            return t(self.lang, "graph_client_unknown", client=c.client_id, tenant=c.tenant_id)
        if c.uses_certificate and re.search(r"AADSTS(700027|700024|7000274|50012)", text):
            return t(self.lang, "graph_certificate_refused", code=_aadsts(text))
        if re.search(r"AADSTS(7000215|7000222)", text):
            return t(self.lang, "graph_client_secret_wrong", client=c.client_id, code=_aadsts(text))
        return t(self.lang, "graph_token_failed", authority=c.authority_url, error=_short(text))

    # ------------------------------------------------------------------ calls
    def call(self, operation: str, request: Callable[[], Any], *,
             retry_on: frozenset[int] = RETRY_ANY, not_found: Any = _RAISE) -> Any:
        """Run one O365 call with a token, retries and translated errors. `operation` is the
        catalog key of what is being done; `not_found` (if given) is returned on a 404."""
        with self._lock:
            self.ensure_token()
            renewed = False
            for attempt in range(self.retry.attempts):
                try:
                    return request()
                except requests.HTTPError as exc:
                    status = exc.response.status_code if exc.response is not None else None
                    if status == 404 and not_found is not _RAISE:
                        return not_found
                    if status == 401 and not renewed:
                        renewed = True
                        self._renew_token()
                        continue
                    if status in retry_on and attempt + 1 < self.retry.attempts:
                        self._back_off(operation, attempt, exc.response)
                        continue
                    raise self._http_problem(operation, exc) from None
                except requests.RequestException as exc:   # no answer: refused, TLS, timeout
                    transient = isinstance(exc, (requests.ConnectionError, requests.Timeout))
                    if transient and attempt + 1 < self.retry.attempts and RETRY_ANY <= retry_on:
                        self._back_off(operation, attempt, None)
                        continue
                    raise GraphCallFailed(t(self.lang, "graph_unreachable", url=self.config.base_url,
                                            error=_short(exc))) from None
            raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _back_off(self, operation: str, attempt: int, response) -> None:
        delay = self.retry.delay(attempt, response)
        if delay > self.retry.max_wait:   # do not block the run loop for minutes: say so
            raise GraphCallFailed(t(self.lang, "graph_throttled", seconds=round(delay)),
                                  status=response.status_code if response is not None else None,
                                  retry_after=delay)
        log.info("graph: %s got %s, trying again in %.2f s", operation,
                 response.status_code if response is not None else "no answer", delay)
        self.retry.sleep(delay)

    def _http_problem(self, operation: str, exc: requests.HTTPError) -> GraphCallFailed:
        response = exc.response
        status = response.status_code if response is not None else None
        code, message = _graph_error(response)
        c, lang = self.config, self.lang
        if status == 401:
            text = t(lang, "graph_token_refused")
        elif status == 403:
            text = t(lang, "graph_mailbox_denied", mailbox=c.mailbox)
        elif status == 404 and code in ("ErrorInvalidUser", "MailboxNotEnabledForRESTAPI",
                                         "ResourceNotFound", "ErrorNonExistentMailbox"):
            text = t(lang, "graph_mailbox_missing", mailbox=c.mailbox)
        elif status == 429:
            text = t(lang, "graph_throttled", seconds=round(_retry_after(response) or 0))
        elif status is not None and status >= 500:
            text = t(lang, "graph_unavailable", operation=t(lang, operation), status=status)
        else:
            text = t(lang, "graph_failed", operation=t(lang, operation), status=status,
                     message=_short(f"{code} {message}".strip()))
        return GraphCallFailed(text, status=status, retry_after=_retry_after(response))

    def close(self) -> None:
        for session in (self.account.con.session, self.account.con.naive_session):
            if session is not None:
                session.close()


def _graph_error(response) -> tuple[str, str]:
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (AttributeError, ValueError):
        return "", ""


def _aadsts(text: str) -> str:
    found = re.search(r"AADSTS\d+", text)
    return found.group(0) if found else "?"


_URLLIB3_HOST = re.compile(r"host='(?P<host>[^']+)', port=(?P<port>\d+)")
_ERRNO_REASON = re.compile(r"\[Errno -?\d+\] (?P<reason>[^'\")\]]+)")


def _short(value: object) -> str:
    """A one-line, redacted excerpt of an outside error for logs and the CLI: for a
    connection failure urllib3 wraps in three layers, the host and the system's reason;
    otherwise the text, cut at a word."""
    text = " ".join(str(value).split())
    host, reason = _URLLIB3_HOST.search(text), _ERRNO_REASON.findall(text)
    if "Max retries exceeded" in text and host and reason:
        text = f"{host['host']}:{host['port']}: {reason[-1].strip()}"
    if len(text) > 300:
        text = text[:300].rsplit(" ", 1)[0] + " …"
    return redact(text)


def _utc(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# ============================================================================ the mail source
@dataclass
class _Seen:
    """A message the delta round (or the Inbox sweep) reported, before it is filed."""
    id: str
    received: datetime | None
    conversation_id: str | None
    data: dict = field(repr=False)


@dataclass
class _Round:
    """One delta round: its new delta link is saved once every message was acknowledged."""
    delta_link: str
    waiting: list[_Seen]
    unacknowledged: dict[str, _Seen] = field(default_factory=dict)

    def take(self, count: int) -> list[_Seen]:
        batch, self.waiting = self.waiting[:count], self.waiting[count:]
        self.unacknowledged.update((seen.id, seen) for seen in batch)
        return batch

    @property
    def done(self) -> bool:
        return not self.waiting and not self.unacknowledged


class GraphMailSource:
    name = "graph"

    def __init__(self, config: GraphConfig, *, state_path: Path, retry: RetryPolicy | None = None,
                 clock: Clock | None = None, batch_size: int = 50):
        self.config = config
        self.client = GraphClient(config, retry=retry)
        self.state_path = Path(state_path)
        self.clock = clock or SystemClock()
        self.batch_size = batch_size
        self.cursor = self._load_cursor()
        self._round: _Round | None = None
        self._sweep = True              # the first round after a start lists the whole Inbox
        self._folder_id: str | None = None
        self._throttled_until: datetime | None = None
        self._wake = threading.Event()

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True,
                      retry: RetryPolicy | None = None, clock: Clock | None = None) -> GraphMailSource:
        return cls(GraphConfig.from_settings(settings, verify=verify),
                   state_path=settings.data_dir / STATE_FILE, retry=retry, clock=clock)

    # ------------------------------------------------------------------ MailSource
    def fetch(self) -> list[tuple[bytes, datetime | None, str, str | None]]:
        """New mail, oldest first, at most batch_size at a time: (raw MIME, receivedDateTime,
        message id, conversationId). The run loop streams with waiting()/read() instead."""
        return [(raw, w.arrived, w.source_id, w.conversation_id) for w in self.waiting()
                if (raw := self.read(w)) is not None]

    def waiting(self) -> Iterator[Waiting]:
        """The next batch of the delta round, oldest first: ids only, no MIME yet."""
        now = self.clock.now()
        if self._throttled_until and now < self._throttled_until:
            return iter(())
        self._throttled_until = None
        if self._round and self._round.unacknowledged:
            # the last batch was never acknowledged (intake or the move failed): start over
            # from the saved link, and list the Inbox too, so nothing is skipped
            log.warning("graph: %d mails were not acknowledged; reading the Inbox again",
                        len(self._round.unacknowledged))
            self._round, self._sweep = None, True
        try:
            if self._round is None:
                self._round = self._new_round()
            batch = self._round.take(self.batch_size)
        except GraphCallFailed as exc:
            self._throttle(exc, now)
            raise MailSourceError(str(exc)) from None
        self._finish_round_if_done()
        return iter([Waiting(seen.id, seen.received or self.clock.now(), seen.conversation_id)
                     for seen in batch])

    def read(self, waiting: Waiting) -> bytes | None:
        """One message's MIME ($value); None when a person moved it away meanwhile."""
        seen = self._round.unacknowledged.get(waiting.source_id) if self._round else None
        try:
            raw = self._download(seen or _Seen(waiting.source_id, waiting.arrived,
                                               waiting.conversation_id, {"id": waiting.source_id}))
        except GraphCallFailed as exc:
            self._throttle(exc, self.clock.now())
            raise MailSourceError(str(exc)) from None
        self._finish_round_if_done()
        return raw

    def _throttle(self, exc: GraphCallFailed, now: datetime) -> None:
        if exc.retry_after:
            self._throttled_until = datetime.fromtimestamp(now.timestamp() + exc.retry_after,
                                                           timezone.utc)

    def acknowledge(self, source_id: str) -> None:
        """File the message in Diarierat (after its outcome is durable)."""
        folder_id = self._ack_folder()
        message = self._message({"id": source_id})
        try:
            moved = self.client.call("graph_op_move", lambda: message.move(folder_id), not_found=None)
        except GraphCallFailed as exc:
            raise MailSourceError(str(exc)) from None
        log.info("graph: message %s %s", _tail(source_id),
                 "filed in Diarierat" if moved else "already gone from the Inbox")
        if self._round:
            self._round.unacknowledged.pop(source_id, None)
            self._finish_round_if_done()

    # ------------------------------------------------------------------ for the run loop
    def wait_for_mail(self, timeout: float) -> None:
        """Sleep until the next poll (GRAPH_POLL_SECONDS) or `timeout`, whichever is sooner;
        a backlog of the current round is fetched at once. While Graph has said to wait
        (a Retry-After longer than a call may block), until that time exactly: the retry
        comes when it is allowed, not at whichever poll follows it."""
        if self._round and self._round.waiting:
            return
        wait = min(self.config.poll_seconds, timeout)
        if self._throttled_until is not None:
            allowed = (self._throttled_until - self.clock.now()).total_seconds()
            wait = min(max(allowed, 0.0), timeout)
        self._wake.wait(max(0.0, wait))
        self._wake.clear()

    def interrupt(self) -> None:
        """End a wait_for_mail early (the bot is stopping)."""
        self._wake.set()

    def describe(self) -> dict[str, Any]:
        """For logs and check-config: where the source stands. No secrets, no mail content."""
        pending = [*self._round.waiting, *self._round.unacknowledged.values()] if self._round else []
        oldest = min((s.received for s in pending if s.received), default=None)
        now = self.clock.now()
        return {
            "source": "graph",
            "mailbox": self.config.mailbox,
            "base_url": self.config.base_url,
            "cursor": {"delta_link": bool(self.cursor.get("delta_link")),
                       "last_round": self.cursor.get("last_round")},
            "pending": len(pending),
            "lag_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
            "throttled_until": self._throttled_until.isoformat() if self._throttled_until else None,
        }

    def close(self) -> None:
        self.interrupt()
        self.client.close()

    # ------------------------------------------------------------------ rounds
    def _new_round(self) -> _Round:
        found: dict[str, _Seen] = {}
        if self._sweep:
            for seen in self.client.call("graph_op_delta", self._list_inbox):
                found[seen.id] = seen
        changes, delta_link = self.client.call("graph_op_delta", self._delta)
        for seen in changes:
            found.setdefault(seen.id, seen)
        waiting = sorted(found.values(), key=lambda s: s.received or datetime.max.replace(tzinfo=timezone.utc))
        log.info("graph: delta round on %s: %d new mails%s", self.config.mailbox, len(waiting),
                 " (Inbox listed)" if self._sweep else "")
        return _Round(delta_link, waiting)

    def _delta(self) -> tuple[list[_Seen], str]:
        """Follow @odata.nextLink to the @odata.deltaLink; a delta link Graph no longer knows
        (410, sync state expired) starts a full round, which lists the whole Inbox again."""
        start = self.mailbox_url("/mailFolders/inbox/messages/delta")
        url = self.cursor.get("delta_link") or start
        params = None if url != start else {"$select": DELTA_SELECT}
        found: list[_Seen] = []
        while True:
            try:
                page = self.client.account.con.get(   # O365 adds the IdType to this Prefer
                    url, params=params,
                    headers={"Prefer": f"odata.maxpagesize={DELTA_PAGE_SIZE}"}).json()
            except requests.HTTPError as exc:
                if exc.response is not None and exc.response.status_code == 410 and url != start:
                    log.warning("graph: the delta link expired; reading the whole Inbox")
                    url, params, found = start, {"$select": DELTA_SELECT}, []
                    continue
                raise
            found += [self._seen(item) for item in page.get("value", []) if self._wanted(item)]
            if page.get("@odata.deltaLink"):
                return found, page["@odata.deltaLink"]
            if not page.get("@odata.nextLink"):
                raise GraphCallFailed(t(self.client.lang, "graph_failed",
                                        operation=t(self.client.lang, "graph_op_delta"),
                                        status=200, message="no @odata.nextLink or @odata.deltaLink"))
            url, params = page["@odata.nextLink"], None

    def _list_inbox(self) -> list[_Seen]:
        inbox = self.client.mailbox.inbox_folder()
        query = self.client.mailbox.new_query().select(*DELTA_SELECT.split(","))
        pages = inbox.get_messages(limit=None, batch=DELTA_PAGE_SIZE, query=query)
        return [self._seen({"id": m.object_id, "isDraft": m.is_draft,
                            "receivedDateTime": _iso(m.received), "conversationId": m.conversation_id})
                for m in pages if not m.is_draft]

    @staticmethod
    def _wanted(item: dict) -> bool:
        # @removed: moved away (e.g. by us, into Diarierat) or deleted; drafts never arrived
        return "@removed" not in item and item.get("isDraft") is not True and bool(item.get("id"))

    @staticmethod
    def _seen(item: dict) -> _Seen:
        return _Seen(item["id"], _utc(item.get("receivedDateTime")), item.get("conversationId"), item)

    def _download(self, seen: _Seen) -> bytes | None:
        message = self._message(seen.data)
        raw = self.client.call("graph_op_mime", message.get_mime_content, not_found=None)
        if raw is None:   # gone between the delta and the download: a person moved it
            log.warning("graph: message %s disappeared before it was read", _tail(seen.id))
            if self._round:
                self._round.unacknowledged.pop(seen.id, None)
            return None
        return raw

    def _message(self, data: dict) -> Message:
        """O365's Message for a message we know by its delta entry (or only its id)."""
        cloud = {**data, "isDraft": False}   # without isDraft O365 takes it for an unsaved draft
        return Message(parent=self.client.mailbox, **{Message._cloud_data_key: cloud})

    def _finish_round_if_done(self) -> None:
        if self._round is None or not self._round.done:
            return
        self.cursor = {"mailbox": self.config.mailbox, "delta_link": self._round.delta_link,
                       "last_round": self.clock.now().isoformat()}
        self.state_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_durably(self.state_path, json.dumps(self.cursor, indent=1).encode())
        self._round, self._sweep = None, False

    def _load_cursor(self) -> dict[str, Any]:
        """The saved delta link, if it belongs to this mailbox and this Graph endpoint."""
        try:
            cursor = json.loads(self.state_path.read_bytes())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("graph: ignoring unreadable %s (%s); reading the whole Inbox", self.state_path, exc)
            return {}
        link = str(cursor.get("delta_link") or "")
        if cursor.get("mailbox") != self.config.mailbox or not link.startswith(self.config.base_url):
            return {}
        return cursor

    # ------------------------------------------------------------------ Diarierat
    def _ack_folder(self) -> str:
        """The id of Inbox/Diarierat, looked up once and created when missing."""
        if self._folder_id is None:
            inbox = self.client.mailbox.inbox_folder()
            try:
                folder = self.client.call("graph_op_folder", lambda: inbox.get_folder(folder_name=ACK_FOLDER))
                if folder is None:
                    folder = self.client.call("graph_op_folder", lambda: self._create_folder(inbox),
                                              retry_on=RETRY_UNPROCESSED)
                    log.info("graph: created the folder Inkorgen/%s in %s", ACK_FOLDER, self.config.mailbox)
            except GraphCallFailed as exc:
                raise MailSourceError(str(exc)) from None
            self._folder_id = folder.folder_id
        return self._folder_id

    @staticmethod
    def _create_folder(inbox):
        try:
            return inbox.create_child_folder(ACK_FOLDER)
        except requests.HTTPError as exc:   # created meanwhile (another instance, a person)
            if exc.response is not None and exc.response.status_code == 409:
                return inbox.get_folder(folder_name=ACK_FOLDER)
            raise

    def mailbox_url(self, path: str) -> str:
        return self.client.mailbox.build_url(path)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat() if moment else None


def _tail(message_id: str) -> str:
    return f"…{message_id[-16:]}" if len(message_id) > 16 else message_id


# ============================================================================ the mail sender
class GraphMailSender:
    """Sends the bot's mail as raw MIME through the mailbox (POST /sendMail, base64 MIME), so
    In-Reply-To, References, Auto-Submitted and X-Auto-Response-Suppress go out unchanged;
    Graph keeps a copy in Sent Items."""

    def __init__(self, config: GraphConfig, *, retry: RetryPolicy | None = None):
        self.config = config
        self.client = GraphClient(config, retry=retry)

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True,
                      retry: RetryPolicy | None = None) -> GraphMailSender:
        return cls(GraphConfig.from_settings(settings, verify=verify), retry=retry)

    def send(self, message: EmailMessage) -> str:
        if message["Message-ID"] is None:
            message["Message-ID"] = make_msgid(domain=self.config.mailbox.rsplit("@", 1)[-1])
        message_id = str(message["Message-ID"])
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        url = self.client.mailbox.build_url("/sendMail")
        number = _diary_number(str(message["Subject"] or ""), self.config.series)
        try:
            # `Content-type` spelled so: with `Content-Type` O365 json-dumps the body anyway
            self.client.call("graph_op_send", lambda: self.client.account.con.post(
                url, data=base64.b64encode(raw), headers={"Content-type": "text/plain"}),
                retry_on=RETRY_UNPROCESSED)
        except GraphCallFailed as exc:
            log.warning("graph: sending %s failed: %s", number or message_id, exc)
            raise DeliveryError(str(exc), retry_after=exc.retry_after) from None
        log.info("graph: sent %s %s from %s", number or "-", message_id, self.config.mailbox)
        return message_id

    def close(self) -> None:
        self.client.close()


class GraphWorkingHours:
    """A person's Outlook working hours, `GET /users/{address}/mailboxSettings/workingHours`
    (issue 24; the app needs the application permission MailboxSettings.Read). One try per
    call: a 429 is not slept through but raised with its Retry-After, which the caller
    (bot.usecases.workhours) honours before it asks Graph again."""

    def __init__(self, config: GraphConfig, *, retry: RetryPolicy | None = None):
        self.config = config
        self.client = GraphClient(config, retry=retry or RetryPolicy(attempts=1))

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True,
                      retry: RetryPolicy | None = None) -> GraphWorkingHours:
        return cls(GraphConfig.from_settings(settings, verify=verify), retry=retry)

    def working_hours(self, address: str) -> dict[str, Any] | None:
        """Graph's workingHours object (daysOfWeek, startTime, endTime, timeZone), or None
        when the person has no mailbox there. Raises GraphCallFailed (status, retry_after)."""
        from urllib.parse import quote
        url = (f"{self.client.account.protocol.service_url}users/"
               f"{quote(address.strip().lower(), safe='@')}/mailboxSettings/workingHours")
        answer = self.client.call("graph_op_working_hours",
                                  lambda: self.client.account.con.get(url).json(),
                                  retry_on=RETRY_UNPROCESSED, not_found=None)
        log.info("graph: working hours of %s read", address)
        return answer if isinstance(answer, dict) else None

    def close(self) -> None:
        self.client.close()


def _diary_number(subject: str, series: str) -> str | None:
    found = re.search(rf"\b{re.escape(series)}\s+\d{{4}}/\d+", subject, re.IGNORECASE)
    return found.group(0) if found else None


# ============================================================================ check-config --online
def check_online(settings: Settings, *, verify: bool | str = True,
                 retry: RetryPolicy | None = None) -> list[tuple[bool, str]]:
    """Try the Graph credentials for real and say exactly what is missing: the token (tenant,
    client id, secret or certificate), the application permissions, the mailbox."""
    try:
        config = GraphConfig.from_settings(settings, verify=verify)
    except ConfigError as exc:
        return [(False, str(exc))]
    client = GraphClient(config, retry=retry or RetryPolicy(attempts=2, max_wait=5.0))
    results: list[tuple[bool, str]] = []
    try:
        results.append(_check_token(client))
        results += _check_permissions(client)
        results.append(_check_mailbox(client))
    except GraphCallFailed as exc:   # later checks make no sense without the earlier ones
        results.append((False, str(exc)))
    finally:
        client.close()
    return results


def _check_token(client: GraphClient) -> tuple[bool, str]:
    client.ensure_token()
    return True, t(client.lang, "graph_token_ok", client=client.config.client_id,
                   tenant=client.config.tenant_id)


def _check_permissions(client: GraphClient) -> Iterable[tuple[bool, str]]:
    claims = client.access_token_claims()
    if claims is None or not isinstance(claims.get("roles", []), list):
        return []   # not a readable token: the mailbox check below still tells
    roles = set(claims.get("roles", []))
    missing = [p for p in PERMISSIONS if p not in roles]
    if not missing:
        return [(True, t(client.lang, "graph_permissions_ok", permissions=", ".join(PERMISSIONS)))]
    return [(False, t(client.lang, "graph_permission_missing", permission=p)) for p in missing]


def _check_mailbox(client: GraphClient) -> tuple[bool, str]:
    inbox = client.call("graph_op_mailbox", lambda: client.mailbox.get_folder(folder_id="inbox"))
    return True, t(client.lang, "graph_mailbox_ok", mailbox=client.config.mailbox,
                   count=getattr(inbox, "total_items_count", 0))


# ============================================================================ automatic replies (issue 26)
REPLIES_FIELDS = ("status", "scheduledStartDateTime", "scheduledEndDateTime")


class GraphAutomaticReplies:
    """A person's Outlook automatic replies, as the stand-in routing reads them:
    GET /users/{address}/mailboxSettings/automaticRepliesSetting (application permission
    MailboxSettings.Read). One attempt per read, never a sleep: a 429 raises GraphCallFailed
    with its Retry-After, which the caller honours before the next read
    (bot.usecases.outlook)."""

    def __init__(self, config: GraphConfig, *, retry: RetryPolicy | None = None):
        self.client = GraphClient(config, retry=retry or RetryPolicy(attempts=1))

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True,
                      retry: RetryPolicy | None = None) -> GraphAutomaticReplies:
        return cls(GraphConfig.from_settings(settings, verify=verify), retry=retry)

    def read(self, address: str) -> dict[str, Any]:
        """{"status", "scheduledStartDateTime", "scheduledEndDateTime"} as Graph gives them."""
        url = (f"{self.client.config.base_url}v1.0/users/{quote(address, safe='@')}"
               "/mailboxSettings/automaticRepliesSetting")
        try:
            data = self.client.call("graph_op_replies",
                                    lambda: self.client.account.con.get(url).json())
        except GraphCallFailed as exc:
            if exc.status in (403, 404):   # the permission, or no such mailbox
                raise GraphCallFailed(t(self.client.lang, "outlook_replies_denied", address=address,
                                        status=exc.status), status=exc.status) from None
            raise
        return {key: data.get(key) for key in REPLIES_FIELDS}

    def close(self) -> None:
        self.client.close()


# ============================================================================ Teams posts in doubt (issue 26)
CHAT_PAGE = 50              # Graph's largest $top for chat messages
CHAT_MARGIN = 300           # seconds before an item was queued that its card cannot precede


class GraphChatMessages:
    """Finds a card the bot posted in a Teams chat by its marker: GET /chats/{chat-id}/messages
    (application permission Chat.Read.All, or the resource-specific ChatMessage.Read.Chat),
    newest first, until the messages are older than the item. An adaptive card's content
    comes back as a JSON string in chatMessage.attachments, the marker (an element id) in it."""

    def __init__(self, config: GraphConfig, *, retry: RetryPolicy | None = None):
        self.client = GraphClient(config, retry=retry or RetryPolicy(attempts=2, max_wait=5.0))

    @classmethod
    def from_settings(cls, settings: Settings, *, verify: bool | str = True,
                      retry: RetryPolicy | None = None) -> GraphChatMessages:
        return cls(GraphConfig.from_settings(settings, verify=verify), retry=retry)

    def find(self, chat_id: str, marker: str, since: datetime) -> str | None:
        """The id of the message carrying `marker`, or None when it is not in the chat."""
        url: str | None = f"{self.client.config.base_url}v1.0/chats/{quote(chat_id, safe=':@._-')}/messages"
        params: dict[str, Any] | None = {"$top": CHAT_PAGE, "$orderby": "createdDateTime desc"}
        oldest = since.timestamp() - CHAT_MARGIN
        while url:
            page = self.client.call("graph_op_chat", functools.partial(
                self._page, url, params), not_found=None)
            if page is None:
                return None          # no such chat: nothing was ever posted in it
            for message in page.get("value", []):
                shown = json.dumps([message.get("attachments"), message.get("body")])
                if marker in shown:
                    return str(message.get("id"))
                created = _utc(message.get("createdDateTime"))
                if created is not None and created.timestamp() < oldest:
                    return None
            url, params = page.get("@odata.nextLink"), None
        return None

    def _page(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        return self.client.account.con.get(url, params=params).json()

    def close(self) -> None:
        self.client.close()
