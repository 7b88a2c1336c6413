"""ImapMailSource: any IMAP mailbox, watched with IDLE (MAIL_SOURCE=imap).

A mail stays in the watched folder until its outcome is durable in the diary; then it is
moved to *Diarierat*. So the folder itself is the queue: after a crash, a restart or a
server that went away, whatever is still there is fetched again, and the diary's
duplicate check (Message-ID or content hash) keeps a re-fetched mail from opening a
second case. Fetching uses BODY.PEEK[] so the mail is not marked read for the people who
also look at the functional mailbox.
"""
from __future__ import annotations

import logging
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Iterator

from bot.errors import ConfigError, MailSourceError
from bot.ports import Waiting

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)

ARCHIVE_FOLDER = "Diarierat"
# RFC 2177: servers may drop an IDLE after 30 minutes; re-issue well before
IDLE_RENEW_SECONDS = 25 * 60
IDLE_RECHECK_SECONDS = 1.0
FETCH_CHUNK = 50
SECURITIES = ("ssl", "starttls", "none")


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: str
    user: str
    password: str = ""
    folder: str = "INBOX"
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImapAccount":
        env = settings.env
        host, user = env.get("IMAP_HOST"), env.get("IMAP_USER")
        if not host:
            raise ConfigError("miljön", "IMAP_HOST", "saknas (MAIL_SOURCE=imap)")
        if not user:
            raise ConfigError("miljön", "IMAP_USER", "saknas (MAIL_SOURCE=imap)")
        security = (env.get("IMAP_SECURITY") or "ssl").lower()
        if security not in SECURITIES:
            raise ConfigError("miljön", "IMAP_SECURITY", f"'{security}' är inte en av ssl, starttls, none")
        port = settings.port("IMAP_PORT", 993 if security == "ssl" else 143)
        return cls(host, port, security, user, env.get("IMAP_PASSWORD") or "",
                   env.get("IMAP_FOLDER") or "INBOX")


class ImapMailSource:
    """MailSource over IMAP: fetch → (raw, arrival, "uidvalidity:uid", None); acknowledge →
    MOVE to Diarierat; wait_for_mail → IDLE until the server says something changed."""

    def __init__(self, account: ImapAccount, archive_folder: str = ARCHIVE_FOLDER):
        self.account = account
        self.archive_folder = archive_folder
        self._client = None
        self._uidvalidity: int | None = None
        self._interrupted = threading.Event()
        self._oldest_waiting: datetime | None = None
        self._last_fetch: datetime | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImapMailSource":
        return cls(ImapAccount.from_settings(settings))

    # ------------------------------------------------------------------ connection
    def _connect(self):
        if self._client is not None:
            return self._client
        from imapclient import IMAPClient
        a = self.account
        try:
            client = IMAPClient(a.host, port=a.port, ssl=a.security == "ssl",
                                ssl_context=ssl.create_default_context(), timeout=a.timeout)
            if a.security == "starttls":
                client.starttls(ssl.create_default_context())
            if (a.user + a.password).isascii():
                client.login(a.user, a.password)
            else:   # LOGIN is ASCII-only; AUTHENTICATE PLAIN carries UTF-8 ("lösenord")
                client.plain_login(a.user, a.password)
            if not client.folder_exists(self.archive_folder):
                client.create_folder(self.archive_folder)
                log.info("skapade mappen %s i %s", self.archive_folder, a.user)
            selected = client.select_folder(a.folder)
        except Exception as exc:
            raise MailSourceError(f"IMAP {a.host}:{a.port} ({a.user}): {_describe(exc)}") from exc
        self._client = client
        self._uidvalidity = int(selected.get(b"UIDVALIDITY", 0))
        log.info("IMAP ansluten till %s:%s mapp %s", a.host, a.port, a.folder)
        return client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.logout()
            except Exception:   # the server may already be gone; nothing to save
                try:
                    client.shutdown()
                except Exception:
                    pass

    def _failed(self, what: str, exc: Exception) -> MailSourceError:
        """Drop the connection so the next call reconnects; tell the caller in one line."""
        self.close()
        a = self.account
        return MailSourceError(f"IMAP {what} mot {a.host}:{a.port}: {_describe(exc)}")

    # ------------------------------------------------------------------ MailSource
    def fetch(self) -> list[tuple[bytes, datetime | None, str, str | None]]:
        """Every waiting mail with its bytes (tests, tools); the run loop streams instead."""
        return [(raw, w.arrived, w.source_id, None) for w in self.waiting()
                if (raw := self.read(w)) is not None]

    def waiting(self) -> Iterator[Waiting]:
        """The uids and INTERNALDATEs of what waits, oldest first; no bodies yet."""
        client = self._connect()
        try:
            client.noop()   # lets the server report new mail when we did not IDLE
            uids = sorted(client.search(["NOT", "DELETED"]))
            found = []
            for start in range(0, len(uids), FETCH_CHUNK):
                chunk = uids[start:start + FETCH_CHUNK]
                data = client.fetch(chunk, ["INTERNALDATE"])
                found += [Waiting(f"{self._uidvalidity}:{uid}", _utc(data[uid].get(b"INTERNALDATE")))
                          for uid in chunk if uid in data]
        except MailSourceError:
            raise
        except Exception as exc:
            raise self._failed("hämtning", exc) from exc
        self._last_fetch = datetime.now(timezone.utc)
        self._oldest_waiting = min((w.arrived for w in found if w.arrived is not None), default=None)
        if found:
            log.info("IMAP %s: %d mejl att diarieföra", self.account.folder, len(found))
        return iter(found)

    def read(self, waiting: Waiting) -> bytes | None:
        """One mail's bytes (BODY.PEEK[]: not marked read); None when it was expunged."""
        validity, _, uid_text = waiting.source_id.partition(":")
        client = self._connect()
        if int(validity) != self._uidvalidity:
            return None     # the folder was recreated: listed again on the next round
        uid = int(uid_text)
        try:
            item = client.fetch([uid], ["BODY.PEEK[]"]).get(uid)
        except Exception as exc:
            raise self._failed("hämtning", exc) from exc
        if item is None or b"BODY[]" not in item:
            return None     # expunged meanwhile by someone else
        return item[b"BODY[]"]

    def acknowledge(self, source_id: str) -> None:
        """Move one diarised mail to Diarierat (MOVE, or COPY + delete on old servers)."""
        validity, _, uid_text = source_id.partition(":")
        client = self._connect()
        if int(validity) != self._uidvalidity:
            # the folder was recreated: the uid means another mail now; it is fetched again
            log.warning("UIDVALIDITY ändrades (%s -> %s); kvitterar inte %s", validity,
                        self._uidvalidity, source_id)
            return
        uid = int(uid_text)
        try:
            if client.has_capability("MOVE"):
                client.move([uid], self.archive_folder)
            else:
                client.copy([uid], self.archive_folder)
                client.delete_messages([uid])
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge([uid])
                else:
                    client.expunge()
        except Exception as exc:
            raise self._failed("flytt till " + self.archive_folder, exc) from exc

    def wait_for_mail(self, timeout: float) -> None:
        """IDLE until the server reports a change, `timeout` passes or interrupt() is called.

        A mail appended just as the IDLE starts can go unreported by the server (Dovecot
        reports it only with its next "Still here", two minutes later). So after the first
        seconds of quiet the IDLE is ended once and a NOOP asks again, then the long IDLE
        follows."""
        client = self._connect()
        deadline = time.monotonic() + min(timeout, IDLE_RENEW_SECONDS)
        try:
            if self._idle(client, min(deadline, time.monotonic() + IDLE_RECHECK_SECONDS)):
                return
            if time.monotonic() >= deadline or self._interrupted.is_set():
                return
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in client.noop()[1]):
                return
            self._idle(client, deadline)
        except Exception as exc:
            raise self._failed("IDLE", exc) from exc

    def _idle(self, client, until: float) -> bool:
        """One IDLE, checked in one-second slices so a stop is noticed quickly; True when
        the server reported new mail."""
        client.idle()
        try:
            if _arrived_while_entering_idle(client):
                return True
            while time.monotonic() < until and not self._interrupted.is_set():
                responses = client.idle_check(timeout=min(1.0, max(until - time.monotonic(), 0.01)))
                if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                    return True
                if not responses and _closed_by_peer(client.socket()):
                    # imapclient's idle_check swallows EOF: without this check a server
                    # that went away would look like a quiet mailbox forever
                    raise ConnectionError("servern stängde förbindelsen")
            return False
        finally:
            client.idle_done()

    def interrupt(self) -> None:
        """The bot is stopping: end the current IDLE and do not start another."""
        self._interrupted.set()

    def describe(self) -> dict[str, Any]:
        """For the run log: where we read, how far, how late. Never the password."""
        now = datetime.now(timezone.utc)
        return {"source": "imap", "mailbox": f"{self.account.user}@{self.account.host}",
                "folder": self.account.folder, "cursor": f"uidvalidity {self._uidvalidity}",
                "last_fetch": self._last_fetch.isoformat() if self._last_fetch else None,
                "lag_seconds": round((now - self._oldest_waiting).total_seconds(), 1)
                if self._oldest_waiting else 0.0}

    def check(self, lang: str = "sv") -> list[tuple[bool, str]]:
        """check-config --online: log in, open the folder, make sure Diarierat can be used."""
        from bot.texts import t
        a, results = self.account, []
        try:
            client = self._connect()
            results.append((True, t(lang, "online_imap_login", user=a.user, host=a.host, port=a.port)))
            results.append((True, t(lang, "online_imap_folder", folder=a.folder,
                                    archive=self.archive_folder)))
            if not client.has_capability("IDLE"):
                results.append((False, t(lang, "online_imap_no_idle")))
        except MailSourceError as exc:
            results.append((False, str(exc)))
        finally:
            self.close()
        return results


def _arrived_while_entering_idle(client) -> bool:
    """A mail that arrives between our SEARCH and the server's "+ idling" is reported
    before the continuation; imapclient's idle() leaves that report in imaplib's buffer,
    where idle_check never looks. Without this, such a mail waits for the next one."""
    buffered = client._imap.untagged_responses
    return bool(buffered.pop("EXISTS", None) or buffered.pop("RECENT", None))


def _closed_by_peer(sock) -> bool:
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except OSError:
        return True


def _utc(moment) -> datetime:
    """INTERNALDATE as UTC; imapclient normalises it to naive local time, which astimezone
    reads as local."""
    if not isinstance(moment, datetime):
        return datetime.now(timezone.utc)
    return moment.astimezone(timezone.utc)


def _describe(exc: Exception) -> str:
    """One line a registrator or an operator can act on."""
    from imapclient.exceptions import LoginError
    if isinstance(exc, LoginError):
        return "inloggningen nekades (IMAP_USER/IMAP_PASSWORD)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS misslyckades: {exc.reason or exc}"
    if isinstance(exc, (ConnectionRefusedError, socket.timeout, TimeoutError)):
        return f"servern svarar inte ({type(exc).__name__})"
    if isinstance(exc, socket.gaierror):
        return "okänt värdnamn (IMAP_HOST)"
    return f"{type(exc).__name__}: {exc}"[:200]
