"""Logging for a person reading a service's log (DESIGN §8, issue 14).

One handler on the root logger, so every logger — ours and the libraries' (O365, slack_bolt,
slack_sdk, aiohttp, apscheduler, microsoft_agents) — goes through one formatter that:

* redacts personnummer and strips control sequences from the message, its arguments and
  any traceback (a subject with ANSI codes or a line break cannot forge a log line);
* writes one line per event: a line break inside a message is shown as ``⏎``;
* leaves the timestamp out under journald (it stamps each line itself) and gives the
  syslog priority prefix journald reads instead;
* writes JSON, one object per line, with ``--log-format json``;
* shows an expected network failure (refused, reset, timed out, name not resolved) as one
  line with its reason, without a traceback.

The libraries are tamed by filters rather than by changing their code: APScheduler's two
INFO lines per scan are dropped, O365's ERROR for a 429/401/410 it recovers from is
lowered to INFO (so is urllib3's "Retrying …"), and the Teams SDK's "App ID is not provided" warning of every turn in
anonymous mode is dropped.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import datetime
from typing import TextIO

from bot.domain.redact import clean_for_terminal

FORMATS = ("text", "json")

# journald's priority prefixes (sd-daemon(3)): read when SyslogLevelPrefix= is on, the default
_PRIORITY = {logging.CRITICAL: "<2>", logging.ERROR: "<3>", logging.WARNING: "<4>",
             logging.INFO: "<6>", logging.DEBUG: "<7>"}

# exception class names (from libraries we do not import here) that mean "the network or
# the service is not there right now": expected, retried, worth one line
_NETWORK_NAMES = frozenset({
    "ClientConnectionError", "ClientConnectorError", "ClientOSError", "ServerDisconnectedError",
    "ServerTimeoutError", "ConnectionTimeout", "ConnectTimeout", "ReadTimeout", "Timeout",
    "NewConnectionError", "MaxRetryError", "ProtocolError", "SMTPServerDisconnected",
    "SMTPConnectError", "abort", "WSServerHandshakeError",
})


def running_under_journald(stream: TextIO | None = None) -> bool:
    """True when our stderr is the journal stream systemd gave us (JOURNAL_STREAM is
    "device:inode" of that stream; a redirected stderr does not count)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    if not value:
        return False
    stream = stream or sys.stderr
    try:
        device, inode = (int(part) for part in value.split(":", 1))
        info = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def is_network_failure(error: BaseException | None) -> bool:
    """An expected failure of the network or a remote service, anywhere in the chain."""
    seen = 0
    # a name-lookup error can only exist once socket is loaded (not imported here: every
    # CLI command sets up logging)
    socket = sys.modules.get("socket")
    failures = (ConnectionError, TimeoutError) + ((socket.gaierror, socket.herror) if socket else ())
    while error is not None and seen < 10:
        if isinstance(error, failures):
            return True
        if type(error).__name__ in _NETWORK_NAMES:
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def _local_time(record: logging.LogRecord) -> str:
    """The moment in the machine's local time with its offset (admin output has one zone)."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


def _one_line(text: str) -> str:
    return clean_for_terminal(text).replace("\r", "").replace("\n", " ⏎ ").strip()


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> tuple[str, str]:
    """(short reason, full traceback); the traceback is empty for a network failure."""
    if not record.exc_info or record.exc_info[1] is None:
        return "", clean_for_terminal(record.stack_info or "")
    error = record.exc_info[1]
    reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    if is_network_failure(error):
        return _one_line(reason)[:300], ""
    return "", clean_for_terminal(formatter.formatException(record.exc_info))


class ServiceFormatter(logging.Formatter):
    """Text or JSON, redacted, one line per event (a traceback follows, indented)."""

    def __init__(self, fmt: str = "text", *, journald: bool = False):
        super().__init__()
        self.fmt = fmt
        self.journald = journald

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:              # a library's bad format string still gives a line
            message = f"{record.msg!r} {record.args!r}"
        message = _one_line(message)
        reason, trace = _exception_text(self, record)
        if reason and reason not in message:
            message = f"{message} ({reason})" if message else reason
        if self.fmt == "json":
            data = {"time": _local_time(record), "level": record.levelname,
                    "logger": record.name, "message": message}
            if trace:
                data["traceback"] = trace
            return json.dumps(data, ensure_ascii=False)
        line = f"{record.levelname} {record.name}: {message}"
        if self.journald:
            line = _PRIORITY.get(record.levelno, "<6>") + line
        else:
            line = f"{_local_time(record)} {line}"
        if trace:   # continuation lines start with a space: the event stays recognisable
            line += "\n" + "\n".join("  " + part for part in trace.splitlines())
        return line


class TameLibraries(logging.Filter):
    """Lower or drop the third-party lines that are noise for a person (see module doc).
    On the handler, so it sees every record; `threshold` is the level the handler shows."""

    _O365_RECOVERED = re.compile(r"\b(429|401|410)\b")

    def __init__(self, threshold: int):
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name.startswith("apscheduler") and record.levelno < logging.WARNING:
            return False
        if name.startswith("microsoft_agents") and "App ID is not provided" in str(record.msg):
            return False
        if name.startswith("urllib3") and str(record.msg).startswith("Retrying"):
            record.levelno, record.levelname = logging.INFO, "INFO"   # a retry; the outcome is ours to log
        if name == "O365.connection" and record.levelno == logging.ERROR \
                and self._O365_RECOVERED.search(str(record.msg)):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return record.levelno >= self.threshold


def setup_logging(level: int, fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Install the one handler on the root logger (replacing any earlier one)."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ServiceFormatter(fmt, journald=fmt == "text" and running_under_journald()))
    handler.addFilter(TameLibraries(level))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # O365 logs a recovered 429 at ERROR; its logger must let ERROR through to be lowered,
    # and the libraries' chatter below WARNING is not for a service log
    for name in ("apscheduler", "aiohttp.access", "slack_bolt", "slack_sdk", "microsoft_agents",
                 "msal", "urllib3", "O365"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)      # Python warnings become one log line, redacted too
    return handler
