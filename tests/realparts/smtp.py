"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every mail it receives, with
optional STARTTLS or implicit TLS and AUTH, as an organisation's mail relay would."""
from __future__ import annotations

import asyncio
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.realparts.dovecot import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    # from the hold_from-th mail on, the mail is kept but the answer to DATA never comes
    # (until released): a sender killed then cannot know the mail went
    hold_from: int | None = None
    released: threading.Event = field(default_factory=threading.Event)

    async def handle_DATA(self, server, session, envelope):
        auth = session.auth_data if session.authenticated else None
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content, login))
        while (self.hold_from is not None and len(self.received) >= self.hold_from
               and not self.released.is_set()):
            await asyncio.sleep(0.05)
        return "250 OK"


class SmtpServer:
    """security: "none" | "starttls" | "ssl"; with a user, AUTH is required."""

    def __init__(self, *, security: str = "none", user: str | None = None,
                 password: str | None = None, cert: tuple[Path, Path] | None = None):
        self.handler = RecordingHandler()
        self.port = free_port()
        self.user, self.password = user, password
        kwargs = {}
        context = None
        if cert:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        if security == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        elif security == "ssl":
            kwargs.update(ssl_context=context)
        if user:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=security != "none")
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     server_hostname="127.0.0.1", **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.user
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
