"""Changing commands from the command line while `run` runs: the running process carries
them out (bot.commandbox), through the installed console script and a real `run`."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

from bot import commandbox
from bot.mail.maildir import MaildirMailSource
from bot.store.lock import WriterLock
from tests.fakes.mail import make_mail
from tests.scenario.test_cli import CLI, DEVIATION, EXAMPLE_CONFIG, cli


def start_run(data: Path, config: Path = EXAMPLE_CONFIG) -> subprocess.Popen:
    return subprocess.Popen([CLI, "--config", str(config), "--data", str(data), "run"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(runner: subprocess.Popen) -> str:
    runner.send_signal(signal.SIGINT)
    _, err = runner.communicate(timeout=20)
    assert runner.returncode == 0, err
    return err


def wait_until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.05)
    return result


def status(data: Path) -> str:
    done = cli(data, "status", "2026/1", "--json")
    return json.loads(done.stdout)["status"] if done.returncode == 0 else ""


def test_a_changing_command_runs_through_the_running_bot(tmp_path):
    data = tmp_path / "data"
    runner = start_run(data)
    try:
        MaildirMailSource(data / "inbox").deliver(make_mail(**DEVIATION))
        wait_until(lambda: status(data) == "diarised")
        done = cli(data, "command", "--as", "anna", "registrerad VOK 2026/1")
        assert done.returncode == 0, done.stderr
        assert "registrerat" in done.stdout
        assert status(data) == "registered"
        # the same permission check as chat, answered through run too
        refused = cli(data, "command", "--as", "bengt", "avsluta VOK 2026/1")
        assert refused.returncode == 2 and refused.stdout.strip()
        assert status(data) == "registered"
    finally:
        stop(runner)
    box = data / commandbox.FOLDER
    assert box.stat().st_mode & 0o777 == 0o700
    assert not list(box.iterdir())                  # every request answered and cleaned up


def test_without_a_run_taking_it_the_command_is_withdrawn_and_not_run(tmp_path):
    data = tmp_path / "data"
    cli(data, "list")                                # the data directory exists
    # something that is not `run` holds the directory: the usual refusal, nothing dropped
    with WriterLock(data, command="run"):            # a `run` that does not serve (hung)
        done = cli(data, "command", "--as", "anna", "registrerad VOK 2026/1", "--wait", "0.5")
    assert done.returncode == 1
    assert "kördes inte" in done.stderr
    assert not list((data / commandbox.FOLDER).glob("*.json"))
    with WriterLock(data, command="ingest"):
        done = cli(data, "command", "--as", "anna", "registrerad VOK 2026/1")
    assert done.returncode == 1 and "ingest" in done.stderr


def test_a_request_claimed_by_a_run_that_stopped_is_answered_not_run_again(tmp_path):
    ran: list[str] = []
    first = commandbox.drop(tmp_path, "anna", "registrerad VOK 2026/1", "2026-11-16T09:00:00+00:00")

    def dies(person: str, text: str):
        ran.append(text)
        raise KeyboardInterrupt              # run stopped after it claimed the request
    try:
        commandbox.serve(tmp_path, dies)
    except KeyboardInterrupt:
        pass
    assert commandbox.answer_abandoned(tmp_path, "okänt") == 1
    assert commandbox.serve(tmp_path, lambda p, t: (True, "igen")) == 0   # never twice
    assert commandbox.wait_for_reply(tmp_path, first, 0) == {"ok": False, "text": "okänt"}
    assert ran == ["registrerad VOK 2026/1"]
