"""A local stand-in for Microsoft Graph and the Entra ID token endpoint, over real TLS.

It speaks the few endpoints the bot uses, with the JSON shapes of the Graph documentation
(../shared/corpora/msgraph): OpenID discovery and the client-credentials token endpoint
(msal runs for real against it), the Inbox delta query with @odata.nextLink /
@odata.deltaLink / @removed, listing the Inbox, `$value` MIME, move, child folders,
sendMail with base64 MIME. Faults can be scripted (429 + Retry-After, 503, an expired
token), and every request is recorded.

    with FakeGraphServer() as graph:
        graph.add_message(raw)                      # also at runtime, e.g. from a benchmark
        ... GRAPH_BASE_URL=graph.base_url, GRAPH_AUTHORITY_URL=graph.authority_url,
            verify=graph.ca_path ...
        graph.folder_of(message_id) == "Diarierat"

The server listens on 127.0.0.1 on a free port; its certificate (for 127.0.0.1) is made with
`cryptography` at start and is its own CA (`ca_path`).
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import http.server
import itertools
import json
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from tests.realparts.tls import start_https, stop_https


TENANT = "6f1c2d3e-4a5b-4c6d-8e7f-901a2b3c4d5e"
CLIENT_ID = "8a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c2d"
CLIENT_SECRET = "test-secret-not-real"
MAILBOX = "registrator.vok@exempelby.se"
INBOX_ID = "AQMkADExempelInkorgAAAA="


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Message:
    id: str
    folder: str                    # folder id
    mime: bytes
    received: str
    conversation_id: str
    internet_message_id: str | None
    is_draft: bool = False
    subject: str = ""


@dataclass
class _Fault:
    status: int
    method: str | None
    path: str | None
    headers: dict[str, str]
    body: dict
    times: int


@dataclass
class _Throttle:
    """Graph's throttling as it is: every matching request is refused with 429 until the
    Retry-After it first gave has passed (a retry that comes too early is refused again)."""
    method: str | None
    path: str | None
    seconds: float
    http_date: bool = False         # Retry-After as an HTTP date (RFC 9110) instead of seconds
    until: float | None = None      # time.monotonic() when the window ends, from the first 429


@dataclass
class _Token:
    value: str
    revoked: bool = False


@dataclass
class FakeGraphServer:
    mailbox: str = MAILBOX
    tenant: str = TENANT
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET
    page_size: int = 2               # small, so a round has pages
    token_lifetime: int = 3599
    roles: tuple[str, ...] = ("Mail.ReadWrite", "Mail.Send")
    deny_mailbox: bool = False       # 403 on the mailbox: permission or access policy missing
    certificate_public_key: object | None = None   # accept client assertions signed with it

    requests: list[Recorded] = field(default_factory=list)
    sent: list[bytes] = field(default_factory=list)
    # address -> the workingHours object of that user's mailboxSettings (issue 24)
    working_hours: dict[str, dict] = field(default_factory=dict)
    # issue 26: each person's automaticRepliesSetting by address (MailboxSettings.Read), and
    # the Teams chats' messages by chat id (Chat.Read.All or ChatMessage.Read.Chat)
    auto_replies: dict[str, dict] = field(default_factory=dict)
    chats: dict[str, list[dict]] = field(default_factory=dict)

    def __post_init__(self):
        self._lock = threading.RLock()
        self._messages: dict[str, _Message] = {}
        self._folders: dict[str, dict] = {INBOX_ID: {"id": INBOX_ID, "displayName": "Inkorgen",
                                                     "parentFolderId": "root"}}
        self._delta_states: dict[str, frozenset[str]] = {}
        self._skip_pages: dict[str, tuple[list[dict], str, int]] = {}
        self._faults: list[_Fault] = []
        self._throttles: list[_Throttle] = []
        self._tokens: dict[str, _Token] = {}
        self._ids = itertools.count(1)
        self._server: http.server.ThreadingHTTPServer | None = None
        self._dir: Path | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeGraphServer:
        handler = type("Handler", (_Handler,), {"graph": self})
        self._server, self._dir, self.ca_path = start_https(handler, "fake-graph-")
        return self

    def stop(self) -> None:
        stop_https(self._server, self._dir)
        self._server = self._dir = None

    def __enter__(self) -> FakeGraphServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/"

    @property
    def authority_url(self) -> str:
        return self.origin

    def env(self, **overrides: str) -> dict[str, str]:
        """The GRAPH_* variables that point the bot at this server."""
        values = {"MAIL_SOURCE": "graph", "GRAPH_TENANT_ID": self.tenant,
                  "GRAPH_CLIENT_ID": self.client_id, "GRAPH_CLIENT_SECRET": self.client_secret,
                  "GRAPH_MAILBOX": self.mailbox, "GRAPH_BASE_URL": self.base_url,
                  "GRAPH_AUTHORITY_URL": self.authority_url}
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not None}

    # ------------------------------------------------------------------ the mailbox
    def add_message(self, raw: bytes, *, received: dt.datetime | None = None,
                    conversation_id: str | None = None, is_draft: bool = False) -> str:
        """Deliver a mail into the Inbox (thread-safe, also while the bot runs); its id."""
        headers = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
        message_id = _header(headers, "Message-ID")
        if received is None:
            date = _header(headers, "Date")
            received = parsedate_to_datetime(date) if date else dt.datetime.now(dt.timezone.utc)
        with self._lock:
            ident = f"AAMkADExempel{next(self._ids):06d}AAA="
            self._messages[ident] = _Message(
                id=ident, folder=INBOX_ID, mime=raw,
                received=received.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                conversation_id=conversation_id or f"AAQkADExempelKonv{ident[13:19]}=",
                internet_message_id=message_id, is_draft=is_draft,
                subject=_header(headers, "Subject") or "")
            return ident

    def folder_of(self, message_id: str) -> str | None:
        """The display name of the folder the message is in now (None: no such message)."""
        with self._lock:
            message = self._messages.get(message_id)
            return self._folders[message.folder]["displayName"] if message else None

    def folder_names(self) -> list[str]:
        with self._lock:
            return [f["displayName"] for f in self._folders.values()]

    def inbox_ids(self) -> list[str]:
        with self._lock:
            return [m.id for m in self._messages.values() if m.folder == INBOX_ID]

    def current_delta_link(self) -> str:
        """A delta link for the Inbox as it is now (what a round ending now would give)."""
        with self._lock:
            return self._delta_link(self._inbox_snapshot())

    # ------------------------------------------------------------------ scripted faults
    def fail_next(self, status: int, *, method: str | None = None, path: str | None = None,
                  headers: dict[str, str] | None = None, code: str | None = None,
                  times: int = 1) -> None:
        """The next `times` Graph requests matching method and path (a regex) get `status`."""
        code = code or {429: "TooManyRequests", 503: "ServiceNotAvailable",
                        500: "InternalServerError", 504: "GatewayTimeout"}.get(status, "Error")
        message = {429: "Application is over its MailboxConcurrency limit.",
                   503: "Service unavailable."}.get(status, "Scripted failure.")
        with self._lock:
            self._faults.append(_Fault(status, method, path, headers or {},
                                       _error(code, message), times))

    def throttle(self, seconds: float, *, method: str | None = None, path: str | None = None,
                 http_date: bool = False) -> None:
        """From the next matching request on, 429 + Retry-After for `seconds` (strictly)."""
        with self._lock:
            self._throttles.append(_Throttle(method, path, seconds, http_date))

    def expire_tokens(self) -> None:
        """Every access token issued so far is refused from now on, as Graph does after expiry."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True

    def forget_delta_links(self) -> None:
        """Graph's sync state is gone: old delta links answer 410."""
        with self._lock:
            self._delta_states.clear()

    @property
    def tokens_issued(self) -> int:
        return len(self._tokens)

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    def graph_requests(self, method: str | None = None, path: str | None = None) -> list[Recorded]:
        return [r for r in list(self.requests) if r.path.startswith("/v1.0/")
                and (method is None or r.method == method)
                and (path is None or re.search(path, r.path))]

    # ------------------------------------------------------------------ request handling
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes):
        url = urlsplit(target)
        path, query = url.path, parse_qs(url.query)
        record = Recorded(method, path, query, headers, body)
        self.requests.append(record)
        with self._lock:
            status, reply_headers, payload = self._route(method, path, query, headers, body)
        record.status = status
        return status, reply_headers, payload

    def _route(self, method, path, query, headers, body):
        identity = re.fullmatch(r"/([^/]+)/(v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)",
                                path)
        if identity:
            tenant, what = identity.groups()
            if what.startswith("v2.0"):
                return self._openid_configuration(tenant)
            return self._token(tenant, headers, body)
        if not path.startswith("/v1.0/"):
            return _json(404, _error("ResourceNotFound", f"Unsupported path {path}"))
        for throttle in self._throttles:
            if throttle.method in (None, method) and (throttle.path is None
                                                      or re.search(throttle.path, path)):
                now = time.monotonic()
                if throttle.until is None:
                    throttle.until = now + throttle.seconds
                if now < throttle.until:
                    wait = max(1, math.ceil(throttle.until - now))
                    told = str(wait) if not throttle.http_date else format_datetime(
                        dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=wait), usegmt=True)
                    return _json(429, _error("TooManyRequests", "Application is over its "
                                             "MailboxConcurrency limit."), {"Retry-After": told})
        for fault in self._faults:
            if (fault.method in (None, method) and (fault.path is None or re.search(fault.path, path))
                    and fault.times > 0):
                fault.times -= 1
                return _json(fault.status, fault.body, fault.headers)
        authorization = headers.get("authorization", "")
        token = self._tokens.get(authorization.removeprefix("Bearer "))
        if token is None or token.revoked:
            return _json(401, _error("InvalidAuthenticationToken",
                                     "Lifetime validation failed, the token is expired."))
        replies = re.fullmatch(r"/v1\.0/users/([^/]+)/mailboxSettings/automaticRepliesSetting", path)
        if replies and method == "GET":
            return self._automatic_replies(replies.group(1))
        chat = re.fullmatch(r"/v1\.0/chats/([^/]+)/messages", path)
        if chat and method == "GET":
            return self._chat_messages(chat.group(1), query)
        users = re.fullmatch(r"/v1\.0/users/([^/]+)(/.*)", path)
        if not users:
            return _json(404, _error("ResourceNotFound", f"Unsupported path {path}"))
        user, rest = users.groups()
        if method == "GET" and rest == "/mailboxSettings/workingHours":
            return self._working_hours(user)
        if user.lower() != self.mailbox:
            return _json(404, _error("ErrorInvalidUser", f"The requested user '{user}' is invalid."))
        if self.deny_mailbox:
            return _json(403, _error("ErrorAccessDenied", "Access is denied. Check credentials and try again."))
        return self._mailbox(method, rest, query, headers, body)

    # --- issue 26: automatic replies, chat messages ------------------------------------
    def set_auto_replies(self, address: str, status: str, start: dt.datetime | None = None,
                         end: dt.datetime | None = None, zone: str = "UTC") -> None:
        """A person's Outlook automatic replies, as Graph's automaticRepliesSetting has them:
        dateTimeTimeZone with seven fraction digits, in `zone` (a Windows zone name or UTC)."""
        def moment(value):
            if value is None:
                return {"dateTime": "0001-01-01T00:00:00.0000000", "timeZone": zone}
            if zone == "UTC":
                value = value.astimezone(dt.timezone.utc)
            return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}
        with self._lock:
            self.auto_replies[address.lower()] = {
                "status": status, "externalAudience": "all",
                "internalReplyMessage": "<html><body>Jag är ledig.</body></html>",
                "externalReplyMessage": "<html><body>Jag är ledig.</body></html>",
                "scheduledStartDateTime": moment(start), "scheduledEndDateTime": moment(end)}

    def _automatic_replies(self, user: str):
        from urllib.parse import unquote
        if "MailboxSettings.Read" not in self.roles and "MailboxSettings.ReadWrite" not in self.roles:
            return _json(403, _error("ErrorAccessDenied", "Access is denied. Check credentials and try again."))
        setting = self.auto_replies.get(unquote(user).lower())
        if setting is None:
            return _json(404, _error("ErrorInvalidUser", f"The requested user '{user}' is invalid."))
        return _json(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users"
                                             f"('{user}')/mailboxSettings/automaticRepliesSetting",
                           **setting})

    def add_chat_message(self, chat_id: str, activity: dict, message_id: str) -> None:
        """What Graph lists for a message the bot posted through the Bot Connector: an
        adaptive card attachment's content is a JSON string (chatMessage.attachments)."""
        attachments = [{"id": str(uuid.uuid4()), "contentType": a.get("contentType"),
                        "contentUrl": None, "content": json.dumps(a.get("content")),
                        "name": None, "thumbnailUrl": None}
                       for a in activity.get("attachments") or []]
        body = "".join(f'<attachment id="{a["id"]}"></attachment>' for a in attachments) or \
            (activity.get("text") or "")
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._lock:
            self.chats.setdefault(chat_id, []).append({
                "id": message_id, "replyToId": None, "messageType": "message",
                "createdDateTime": now, "lastModifiedDateTime": now, "chatId": chat_id,
                "from": {"application": {"id": self.client_id, "displayName": "Avvikelsebot"}},
                "body": {"contentType": "html", "content": body},
                "summary": activity.get("summary"), "attachments": attachments})

    def _chat_messages(self, chat_id: str, query):
        if not {"Chat.Read.All", "Chat.ReadWrite.All", "ChatMessage.Read.Chat"} & set(self.roles):
            return _json(403, _error("Forbidden", "Missing role permissions on the request. API "
                                     "requires one of 'ChatMessage.Read.Chat, Chat.Read.All, "
                                     "Chat.ReadWrite.All'."))
        if chat_id not in self.chats:
            return _json(404, _error("NotFound", "Resource not found."))
        newest_first = sorted(self.chats[chat_id], key=lambda m: m["createdDateTime"], reverse=True)
        top = min(int(query.get("$top", ["20"])[0]), 50)
        skip = int(query.get("$skip", ["0"])[0])
        body = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#chats('{chat_id}')/messages",
                "@odata.count": len(newest_first), "value": newest_first[skip:skip + top]}
        if skip + top < len(newest_first):
            body["@odata.nextLink"] = (f"{self.base_url}v1.0/chats/{chat_id}/messages"
                                       f"?$top={top}&$skip={skip + top}")
        return _json(200, body)

    # --- identity --------------------------------------------------------------------
    def _openid_configuration(self, tenant):
        if tenant != self.tenant:
            return _json(400, {"error": "invalid_tenant", "error_description":
                               f"AADSTS90002: Tenant '{tenant}' not found. Check to make sure you "
                               "have the correct tenant ID and are signing into the correct cloud."})
        base = f"{self.origin}/{tenant}"
        return _json(200, {"token_endpoint": f"{base}/oauth2/v2.0/token",
                           "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                           "issuer": f"{base}/v2.0", "tenant_region_scope": "EU",
                           "token_endpoint_auth_methods_supported": [
                               "client_secret_post", "private_key_jwt", "client_secret_basic"]})

    def _token(self, tenant, headers, body):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if tenant != self.tenant:
            return _json(400, {"error": "invalid_request", "error_description":
                               f"AADSTS90002: Tenant '{tenant}' not found."})
        if form.get("client_id") != self.client_id:
            return _json(400, {"error": "unauthorized_client", "error_description":
                               f"AADSTS700016: Application with identifier '{form.get('client_id')}' "
                               f"was not found in the directory '{tenant}'."})
        if form.get("grant_type") != "client_credentials" or not form.get("scope", "").endswith("/.default"):
            return _json(400, {"error": "invalid_request", "error_description":
                               "AADSTS90014: The request must use client_credentials and a .default scope."})
        if not self._client_authenticated(form):
            return _json(401, {"error": "invalid_client", "error_description":
                               "AADSTS7000215: Invalid client secret provided. Ensure the secret being "
                               "sent in the request is the client secret value, not the client secret ID."})
        value = self._access_token()
        return _json(200, {"token_type": "Bearer", "expires_in": self.token_lifetime,
                           "ext_expires_in": self.token_lifetime, "access_token": value})

    def _client_authenticated(self, form) -> bool:
        if "client_secret" in form:
            return form["client_secret"] == self.client_secret
        assertion = form.get("client_assertion")
        if assertion and self.certificate_public_key is not None:
            import jwt  # PyJWT, msal's own dependency
            try:
                jwt.decode(assertion, self.certificate_public_key, algorithms=["RS256", "PS256"],
                           audience=f"{self.origin}/{self.tenant}/oauth2/v2.0/token")
                return True
            except jwt.PyJWTError:
                return False
        return False

    def _access_token(self) -> str:
        """A JWT-shaped token whose `roles` are the app's application permissions."""
        claims = {"aud": self.base_url.rstrip("/"), "tid": self.tenant, "appid": self.client_id,
                  "roles": list(self.roles), "jti": uuid.uuid4().hex}
        parts = [{"typ": "JWT", "alg": "none"}, claims]
        value = ".".join(base64.urlsafe_b64encode(json.dumps(p).encode()).decode().rstrip("=")
                         for p in parts) + "." + uuid.uuid4().hex
        self._tokens[value] = _Token(value)
        return value

    # --- the mailbox -----------------------------------------------------------------
    def _mailbox(self, method, rest, query, headers, body):
        immutable = 'IdType="ImmutableId"' in headers.get("prefer", "")
        # well-known folder names ignore case (O365 writes "Inbox")
        rest = re.sub(r"^/mailFolders/inbox(?=/|$)", "/mailFolders/inbox", rest, flags=re.IGNORECASE)
        if method == "GET" and rest == "/mailFolders/inbox/messages/delta":
            return self._delta(query, headers)
        if method == "GET" and rest == "/mailFolders/inbox/messages":
            return self._list_inbox(query)
        if method == "GET" and rest in ("/mailFolders/inbox", f"/mailFolders/{INBOX_ID}"):
            return _json(200, self._folder_json(INBOX_ID))
        if rest == "/mailFolders/inbox/childFolders":
            return self._child_folders(method, query, body)
        found = re.fullmatch(r"/messages/([^/]+)(/\$value|/move)?", rest)
        if found:
            message = self._messages.get(found.group(1))
            if message is None:
                return _json(404, _error("ErrorItemNotFound",
                                         "The specified object was not found in the store."))
            if method == "GET" and found.group(2) == "/$value":
                return 200, {"Content-Type": "text/plain"}, message.mime
            if method == "POST" and found.group(2) == "/move":
                return self._move(message, json.loads(body or b"{}"), immutable)
        if method == "POST" and rest == "/sendMail":
            return self._send_mail(headers, body)
        return _json(400, _error("BadRequest", f"Unsupported {method} {rest}"))

    def _working_hours(self, user: str):
        """GET /users/{id}/mailboxSettings/workingHours: any user of the tenant, with the
        shape of the Graph documentation (workingHours resource type)."""
        found = self.working_hours.get(user.lower())
        if found is None:
            return _json(404, _error("ErrorInvalidUser", f"The requested user '{user}' is invalid."))
        return _json(200, {"@odata.context": f"{self.base_url}v1.0/$metadata#users('{user}')/"
                           "mailboxSettings/workingHours", **found})

    def _inbox_snapshot(self) -> frozenset[str]:
        return frozenset(m.id for m in self._messages.values() if m.folder == INBOX_ID)

    def _delta_link(self, snapshot: frozenset[str]) -> str:
        token = uuid.uuid4().hex
        self._delta_states[token] = snapshot
        return (f"{self.base_url}v1.0/users/{self.mailbox}/mailFolders/inbox/messages/delta"
                f"?$deltatoken={token}")

    def _delta(self, query, headers):
        """Initial round: the whole Inbox; with a $deltatoken: what was added since, and
        @removed for what left the Inbox. Pages of `page_size` (or Prefer maxpagesize)."""
        if "$skiptoken" in query:
            remaining = self._skip_pages.pop(query["$skiptoken"][0], None)
            if remaining is None:
                return _json(400, _error("BadRequest", "Invalid skip token."))
            return self._delta_page(*remaining)
        snapshot = self._inbox_snapshot()
        before = frozenset()
        if "$deltatoken" in query:
            before = self._delta_states.get(query["$deltatoken"][0])
            if before is None:
                return _json(410, _error("SyncStateNotFound",
                                         "The sync state generation is not found. Resync required."))
        items = [self._message_json(self._messages[i]) for i in sorted(snapshot - before)]
        items += [{"@odata.type": "#microsoft.graph.message", "id": i, "@removed": {"reason": "deleted"}}
                  for i in sorted(before - snapshot)]
        size = self.page_size
        asked = re.search(r"odata\.maxpagesize=(\d+)", headers.get("prefer", ""))
        if asked:
            size = min(size, int(asked.group(1)))
        return self._delta_page(items, self._delta_link(snapshot), size)

    def _delta_page(self, items, delta_link, size=None):
        size = size or self.page_size
        page, rest = items[:size], items[size:]
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(message)",
                "value": page}
        if rest:
            skip = uuid.uuid4().hex
            self._skip_pages[skip] = (rest, delta_link, size)
            body["@odata.nextLink"] = (f"{self.base_url}v1.0/users/{self.mailbox}/mailFolders/inbox/"
                                       f"messages/delta?$skiptoken={skip}")
        else:
            body["@odata.deltaLink"] = delta_link
        return _json(200, body)

    def _list_inbox(self, query):
        inbox = sorted((m for m in self._messages.values() if m.folder == INBOX_ID),
                       key=lambda m: m.received, reverse=True)
        top = int(query.get("$top", ["10"])[0])
        skip = int(query.get("$skip", ["0"])[0])
        body = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('x')/messages",
                "value": [self._message_json(m) for m in inbox[skip:skip + top]]}
        if skip + top < len(inbox):
            body["@odata.nextLink"] = (f"{self.base_url}v1.0/users/{self.mailbox}/mailFolders/inbox/"
                                       f"messages?$top={top}&$skip={skip + top}")
        return _json(200, body)

    def _child_folders(self, method, query, body):
        children = [f for f in self._folders.values() if f["parentFolderId"] == INBOX_ID]
        if method == "GET":
            wanted = re.search(r"displayName eq '([^']*)'", query.get("$filter", [""])[0])
            if wanted:
                children = [f for f in children if f["displayName"] == wanted.group(1)]
            return _json(200, {"value": [self._folder_json(f["id"]) for f in children]})
        name = json.loads(body or b"{}").get("displayName", "")
        if any(f["displayName"] == name for f in children):
            return _json(409, _error("ErrorFolderExists", "A folder with the specified name already exists."))
        ident = f"AAMkADExempelMapp{next(self._ids):04d}AAA="
        self._folders[ident] = {"id": ident, "displayName": name, "parentFolderId": INBOX_ID}
        return _json(201, self._folder_json(ident))

    def _move(self, message, data, immutable):
        destination = {"inbox": INBOX_ID}.get(data.get("destinationId"), data.get("destinationId"))
        if destination not in self._folders:
            return _json(400, _error("ErrorInvalidIdMalformed", "Id is malformed."))
        message.folder = destination
        if not immutable:   # without ImmutableId, Exchange gives a moved item a new id
            del self._messages[message.id]
            message.id = f"AAMkADExempel{next(self._ids):06d}AAA="
            self._messages[message.id] = message
        return _json(201, self._message_json(message))

    def _send_mail(self, headers, body):
        if headers.get("content-type", "").split(";")[0].strip() != "text/plain":
            return _json(400, _error("ErrorInvalidRequest", "This test server takes MIME only."))
        try:
            self.sent.append(base64.b64decode(body, validate=True))
        except (binascii.Error, ValueError):
            return _json(400, _error("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."))
        return 202, {}, b""

    def _message_json(self, message: _Message) -> dict:
        return {"@odata.type": "#microsoft.graph.message",
                "@odata.etag": f'W/"CQAAABYAAAARn2vdzPFjSbaPPxzjlzOT{message.id[13:19]}"',
                "id": message.id, "receivedDateTime": message.received,
                "internetMessageId": message.internet_message_id,
                "conversationId": message.conversation_id, "isDraft": message.is_draft,
                "subject": message.subject, "parentFolderId": message.folder}

    def _folder_json(self, ident: str) -> dict:
        folder = self._folders[ident]
        return {**folder, "childFolderCount": sum(1 for f in self._folders.values()
                                                  if f["parentFolderId"] == ident),
                "unreadItemCount": 0,
                "totalItemCount": sum(1 for m in self._messages.values() if m.folder == ident)}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True   # headers and body are two writes: no 40 ms delayed-ACK wait
    graph: FakeGraphServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, reply_headers, payload = self.graph.handle(self.command, self.path, headers, body)
        self.send_response(status)
        for name, value in reply_headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, *args) -> None:   # the test output stays readable
        pass


def _json(status: int, body: dict, headers: dict[str, str] | None = None):
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


def _error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message, "innerError": {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}


def _header(headers: str, name: str) -> str | None:
    found = re.search(rf"^{name}:[ \t]*(.*(?:\r?\n[ \t].*)*)", headers, re.IGNORECASE | re.MULTILINE)
    return " ".join(found.group(1).split()) if found else None
