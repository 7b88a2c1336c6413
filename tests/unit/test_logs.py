"""The service log (bot/logs.py): every logger redacted and one line per event; the
libraries' noise tamed; journald without our timestamp; JSON on request."""
from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from bot.logs import ServiceFormatter, TameLibraries, is_network_failure, setup_logging

PNR = "19121212-1212"


@pytest.fixture
def log_stream():
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(logging.INFO, "text", stream=stream)
    yield stream
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    logging.captureWarnings(False)


def _refused() -> ConnectionRefusedError:
    """A real refused connection: a port that was just free."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2)
    except ConnectionRefusedError as exc:
        return exc
    raise AssertionError("the port answered")


def test_every_logger_is_redacted_including_arguments_and_tracebacks(log_stream):
    for name in ("bot.app", "O365.connection", "slack_bolt.App", "aiohttp.server",
                 "apscheduler.scheduler", "microsoft_agents.hosting.core", "some.future.library"):
        logging.getLogger(name).warning("ämne %s och %r", f"Autosvar: {PNR}", {"id": "191212121212"})
    try:
        raise ValueError(f"bad mail from {PNR.replace('-', '')}@x.se")
    except ValueError:
        logging.getLogger("handlers.slack").exception("a request about %s failed", "１９１２１２１２－１２１２")
    text = log_stream.getvalue()
    assert "1212" not in text.replace("[personnummer]", "")
    assert text.count("[personnummer]") == 7 * 2 + 1 + 1     # the message, the traceback
    assert "Traceback" in text                              # an unexpected error keeps its trace


def test_a_line_break_or_escape_code_in_a_message_cannot_forge_a_log_line(log_stream):
    logging.getLogger("bot.services").warning("ämne %s", "x\n2026-01-01 ERROR bot: falsk\x1b[2K")
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1 and "\x1b" not in lines[0] and "⏎" in lines[0]


def test_an_expected_network_failure_is_one_line_with_its_reason(log_stream):
    error = _refused()
    try:
        raise RuntimeError("slack is down") from error
    except RuntimeError:
        logging.getLogger("slack_sdk.socket_mode.aiohttp").exception("Failed to connect; Retrying...")
    lines = log_stream.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "Failed to connect" in lines[0] and "RuntimeError: slack is down" in lines[0]
    assert is_network_failure(error) and not is_network_failure(ValueError("x"))


def test_apscheduler_per_run_lines_are_dropped_but_its_warnings_kept(log_stream):
    scheduler = logging.getLogger("apscheduler.executors.default")
    scheduler.info('Running job "scan (trigger: interval[0:05:00])"')
    scheduler.info('Job "scan" executed successfully')
    scheduler.warning('Run time of job "scan" was missed by 0:01:00')
    text = log_stream.getvalue()
    assert "Running job" not in text and "executed successfully" not in text
    assert "was missed" in text


def test_o365_recovered_errors_are_lowered_and_real_ones_kept(log_stream):
    o365 = logging.getLogger("O365.connection")
    # the exact form O365/connection.py logs an HTTPError with (f"Client Error: {e} | ...")
    for status in (429, 401, 410):
        o365.error(f"Client Error: {status} Client Error: Too Many Requests for url: "
                   f"https://graph.microsoft.com/v1.0/users/x/messages | Error Message:  | Error Code: ")
    o365.error("Client Error: 403 Client Error: Forbidden for url: https://graph.microsoft.com/")
    lines = log_stream.getvalue().splitlines()
    assert sum(" INFO O365.connection:" in line for line in lines) == 3
    assert sum(" ERROR O365.connection:" in line and " 403 " in line for line in lines) == 1


def test_lowered_o365_lines_are_not_shown_below_the_threshold():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ServiceFormatter())
    handler.addFilter(TameLibraries(logging.WARNING))
    record = logging.LogRecord("O365.connection", logging.ERROR, __file__, 1,
                               "Client Error: 429 Client Error: Too Many Requests", None, None)
    handler.handle(record)
    assert stream.getvalue() == ""


def test_the_teams_sdk_turn_warning_is_dropped(log_stream):
    logging.getLogger("microsoft_agents.hosting.core.connector.client.user_token_client").warning(
        "App ID is not provided. Some operations may not work without an App ID.")
    logging.getLogger("microsoft_agents.hosting.core").warning("JWT audience not accepted.")
    text = log_stream.getvalue()
    assert "App ID" not in text and "JWT audience" in text


def test_json_lines(tmp_path):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ServiceFormatter("json"))
    try:
        raise KeyError("x")
    except KeyError:
        exc_info = sys.exc_info()
    record = logging.LogRecord("bot.app", logging.ERROR, __file__, 1, "brukare %s\nrad två",
                               (PNR,), exc_info)
    handler.handle(record)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["level"] == "ERROR" and data["logger"] == "bot.app"
    assert data["message"] == "brukare [personnummer] ⏎ rad två"
    assert "KeyError" in data["traceback"] and data["time"][-6] in "+-"


SNIPPET = """
import logging, sys
from bot.logs import setup_logging
setup_logging(logging.INFO, sys.argv[1])
logging.getLogger("bot.app").info("brukare 19121212-1212 diarierad")
logging.getLogger("bot.app").warning("brevlådan svarar inte")
"""


def _run_snippet(tmp_path, fmt: str, journal: bool) -> list[str]:
    log = tmp_path / f"stderr-{fmt}-{journal}.log"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    with log.open("w") as err:
        if journal:
            info = os.fstat(err.fileno())
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"
        subprocess.run([sys.executable, "-c", SNIPPET, fmt], stderr=err, env=env, cwd=tmp_path,
                       check=True, timeout=60)
    return log.read_text().splitlines()


def test_under_journald_no_timestamp_but_the_priority_journald_reads(tmp_path):
    lines = _run_snippet(tmp_path, "text", journal=True)
    assert lines == ["<6>INFO bot.app: brukare [personnummer] diarierad",
                     "<4>WARNING bot.app: brevlådan svarar inte"]


def test_outside_journald_a_local_timestamp_with_offset(tmp_path):
    lines = _run_snippet(tmp_path, "text", journal=False)
    assert len(lines) == 2
    stamp, rest = lines[0].split(" ", 1)
    assert stamp[10] == "T" and stamp[-6] in "+-" and rest == "INFO bot.app: brukare [personnummer] diarierad"


def test_a_journal_stream_that_is_not_our_stderr_does_not_count(tmp_path):
    env_other = tmp_path / "other"
    env_other.write_text("")
    info = os.stat(env_other)
    log = tmp_path / "stderr.log"
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path),
           "JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
    with log.open("w") as err:
        subprocess.run([sys.executable, "-c", SNIPPET, "text"], stderr=err, env=env, cwd=tmp_path,
                       check=True, timeout=60)
    assert not log.read_text().startswith("<")


def test_json_format_from_a_process(tmp_path):
    lines = _run_snippet(tmp_path, "json", journal=True)
    assert [json.loads(line)["message"] for line in lines] == ["brukare [personnummer] diarierad",
                                                                "brevlådan svarar inte"]
