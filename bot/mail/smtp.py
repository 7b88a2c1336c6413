"""SmtpMailSender: `skicka` and e-mail notifications over SMTP (with MAIL_SOURCE=imap).

smtplib with implicit TLS (SMTP_SECURITY=ssl, port 465), STARTTLS (starttls, port 587) or
plain (none, port 25, for a relay on the local network), and AUTH when SMTP_USER is set.
Certificates are verified against the system's trust store.
"""
from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING

from bot.errors import ConfigError, DeliveryError

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)
SECURITIES = ("ssl", "starttls", "none")
_DEFAULT_PORT = {"ssl": 465, "starttls": 587, "none": 25}


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: str
    user: str = ""
    password: str = ""
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpAccount":
        env = settings.env
        host = env.get("SMTP_HOST")
        if not host:
            raise ConfigError("miljön", "SMTP_HOST", "saknas")
        security = (env.get("SMTP_SECURITY") or "starttls").lower()
        if security not in SECURITIES:
            raise ConfigError("miljön", "SMTP_SECURITY", f"'{security}' är inte en av ssl, starttls, none")
        port = settings.port("SMTP_PORT", _DEFAULT_PORT[security])
        return cls(host, port, security, env.get("SMTP_USER") or "", env.get("SMTP_PASSWORD") or "")


class SmtpMailSender:
    def __init__(self, account: SmtpAccount):
        self.account = account

    @classmethod
    def from_settings(cls, settings: Settings) -> "SmtpMailSender":
        return cls(SmtpAccount.from_settings(settings))

    def _open(self) -> smtplib.SMTP:
        a = self.account
        context = ssl.create_default_context()
        server: smtplib.SMTP
        if a.security == "ssl":
            server = smtplib.SMTP_SSL(a.host, a.port, timeout=a.timeout, context=context)
        else:
            server = smtplib.SMTP(a.host, a.port, timeout=a.timeout)
            if a.security == "starttls":
                server.starttls(context=context)
        if a.user:
            server.login(a.user, a.password)
        return server

    def send(self, message: EmailMessage) -> str:
        """Send; the Message-ID it went out with. DeliveryError when the server refuses."""
        a = self.account
        try:
            with self._open() as server:
                refused = server.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {a.host}:{a.port}: {_describe(exc)}") from exc
        if refused:
            raise DeliveryError(f"SMTP {a.host}: mottagare nekades: {', '.join(refused)}")
        log.info("SMTP skickade %s till %s", message["Message-ID"], message["To"])
        return str(message["Message-ID"])

    def check(self) -> tuple[bool, str]:
        """check-config --online: connect, TLS and log in, send nothing."""
        a = self.account
        try:
            with self._open() as server:
                server.noop()
        except (smtplib.SMTPException, OSError) as exc:
            return False, f"SMTP {a.host}:{a.port}: {_describe(exc)}"
        return True, f"SMTP {a.host}:{a.port} ({a.security}{', inloggad' if a.user else ''})"


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "inloggningen nekades (SMTP_USER/SMTP_PASSWORD)"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"servern stöder inte det: {exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS misslyckades: {exc.reason or exc}"
    if isinstance(exc, (ConnectionRefusedError, socket.timeout, TimeoutError)):
        return f"servern svarar inte ({type(exc).__name__})"
    return f"{type(exc).__name__}: {exc}"[:200]
