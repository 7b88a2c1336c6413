"""The command-line contract of DESIGN §10, through the installed console script."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.mail.maildir import MaildirMailSource
from bot.store.lock import WriterLock
from tests.conftest import EXAMPLE_CONFIG, round_the_clock_config
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))
DEVIATION = dict(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                 subject="Avvikelse – fall i badrummet, Hemtjänst Norr",
                 body="Vi rapporterar en avvikelse för brukare 19121212-1212 i Hemtjänst Norr.")


def cli(data: Path, *args: str, config: Path = EXAMPLE_CONFIG, timeout: int = 60,
        cwd: Path | None = None):
    """The installed command, from a working directory of its own (never the checkout's)."""
    return subprocess.run([CLI, "--config", str(config), "--data", str(data), *args],
                          capture_output=True, text=True, timeout=timeout,
                          cwd=cwd or data.parent)


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def one_case(data, tmp_path) -> Path:
    mail = tmp_path / "avvikelse.eml"
    mail.write_bytes(make_mail(**DEVIATION, message_id="<cli-1@regionexempel.se>"))
    done = cli(data, "ingest", str(mail))
    assert done.returncode == 0, done.stderr
    return mail


def test_check_config_reports_what_is_on(data):
    done = cli(data, "check-config")
    assert done.returncode == 0
    assert "är giltig" in done.stdout and "console: på" in done.stdout and "slack: av" in done.stdout
    summary = json.loads(cli(data, "check-config", "--json").stdout)
    assert summary["ok"] and summary["units"] == 5 and summary["mail_source"] == "maildir"


def test_a_bad_config_exits_2_with_one_line_naming_file_key_and_problem(data, tmp_path):
    bad = tmp_path / "org.toml"
    bad.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        'end = "16:30"', 'end = "25:99"'), encoding="utf-8")
    for command in (["check-config"], ["list"], ["run"]):
        done = cli(data, *command, config=bad)
        assert done.returncode == 2, command
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr
        assert str(bad) in lines[0] and "office_hours.end" in lines[0] and "25:99" in lines[0]


def test_no_config_at_all_is_bad_input(data):
    done = subprocess.run([CLI, "--data", str(data), "list"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "AVVIKELSEBOT_CONFIG"})
    assert done.returncode == 2 and "AVVIKELSEBOT_CONFIG" in done.stderr


def test_ingest_json_has_the_documented_keys_and_redacts_nothing_it_should_not(data, tmp_path):
    files = []
    for i in range(3):
        path = tmp_path / f"m{i}.eml"
        path.write_bytes(make_mail(**DEVIATION, message_id=f"<k{i}@regionexempel.se>"))
        files.append(str(path))
    done = cli(data, "ingest", "--json", *files)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r["diary_number"] for r in results] == ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"]
    for result in results:
        assert {"message_id", "outcome", "diary_number", "kind", "unit", "counterpart", "severity",
                "document", "reason"} <= set(result)
        assert result["unit"] == "hemtjanst-norr" and result["counterpart"] == "region-exempel"


def test_ingest_of_a_missing_file_is_bad_input_and_changes_nothing(data):
    done = cli(data, "ingest", "/nonexistent/x.eml")
    assert done.returncode == 2 and "finns inte" in done.stderr
    assert not (data / "live.json").exists()


def test_status_list_outbox_report_json(data, one_case):
    status = json.loads(cli(data, "status", "VOK", "2026/1", "--json").stdout)
    assert {"diary_number", "kind", "title", "status", "unit", "counterpart", "severity", "managers",
            "deadline", "documents", "actions", "events"} <= set(status)
    assert status["title"] == "Avvikelse – fall i badrummet, Hemtjänst Norr"
    assert status["managers"] == ["anna"] and status["documents"][0]["type"] == "deviation"
    assert {"type", "received", "sender"} <= set(status["documents"][0])
    listed = json.loads(cli(data, "list", "--open", "--json").stdout)
    assert [c["diary_number"] for c in listed] == ["VOK 2026/0001"] and "events" not in listed[0]
    assert json.loads(cli(data, "list", "--unit", "Solgården", "--json").stdout) == []
    outbox = json.loads(cli(data, "outbox", "--json").stdout)
    assert {n["recipient"] for n in outbox} == {"anna", "maria", "sven"}
    for n in outbox:
        assert set(n) == {"recipient", "channel", "diary_number", "event", "text", "state", "created"}
        assert n["state"] == "pending" and "19121212" not in n["text"]
    report = json.loads(cli(data, "report", "--year", "2026", "--json").stdout)
    assert report["total"] == 1
    assert {"name": "Inkommande avvikelse", "count": 1} in report["by_kind"]
    text = cli(data, "status", "2026/1").stdout
    assert text.startswith("«Avvikelse – fall i badrummet, Hemtjänst Norr»")


def test_status_answers_without_loading_the_channels_or_the_holidays_package(data, one_case,
                                                                            tmp_path):
    """`status` is asked beside a running writer and should answer at once: it opens the
    diary for reading only (not the Slack, Teams, mail and metrics parts of the bot), and
    takes the holidays from the copy the writer keeps (loading the package is 0.1–0.2 s)."""
    loaded = tmp_path / "modules.txt"
    program = ("import sys\nfrom bot.cli import main\n"
               f"code = main(['--config', {str(EXAMPLE_CONFIG)!r}, '--data', {str(data)!r}, "
               "'status', 'VOK 2026/1'])\n"
               f"open({str(loaded)!r}, 'w').write('\\n'.join(sorted(sys.modules)))\n"
               "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Nästa steg:" in done.stdout and "VOK 2026/0001" in done.stdout
    modules = set(loaded.read_text().split())
    assert not {m for m in modules if m.split(".")[0] in ("holidays", "slack_bolt", "slack_sdk")
                or m in ("bot.app", "bot.services", "bot.chat.slack", "bot.chat.teams",
                         "bot.mail.imap", "bot.mail.graph", "bot.ops.metrics")}


def test_unknown_case_and_bad_number_are_bad_input(data, one_case):
    assert cli(data, "status", "VOK 2026/99").returncode == 2
    done = cli(data, "status", "nittionio")
    assert done.returncode == 2 and "inget diarienummer" in done.stderr


def test_a_second_writer_is_refused_but_readers_work_beside_it(data, one_case, tmp_path):
    with WriterLock(data, command="run"):
        done = cli(data, "ingest", str(one_case))
        assert done.returncode == 1
        assert "används redan" in done.stderr and str(os.getpid()) in done.stderr
        assert cli(data, "status", "VOK 2026/1").returncode == 0
        assert cli(data, "list").returncode == 0
        assert cli(data, "command", "--as", "rut", "status 2026/1").returncode == 0


def test_command_typo_gets_help_not_a_traceback(data, one_case):
    done = cli(data, "command", "--as", "anna", "registrerd VOK 2026/1")
    assert done.returncode == 2 and "Traceback" not in done.stderr + done.stdout
    assert "Menade du «registrerad»" in done.stdout and "status <dnr>" in done.stdout
    done = cli(data, "command", "--as", "anna", "registrerad VOK 2026/1")
    assert done.returncode == 0 and "registrerat" in done.stdout
    assert json.loads(cli(data, "status", "2026/1", "--json").stdout)["status"] == "registered"


def test_run_watches_the_maildir_prints_notifications_and_stops_cleanly(data, tmp_path):
    inbox = MaildirMailSource(data / "inbox")
    # `run` on the real clock: notices at any hour, else Anna's waits for the business morning
    config = round_the_clock_config(tmp_path / "etc")
    runner = subprocess.Popen([CLI, "--config", str(config), "--data", str(data), "run"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        inbox.deliver(make_mail(**DEVIATION, message_id="<run-1@regionexempel.se>"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not list((data / "inbox" / ".Diarierat" / "cur").iterdir()):
            time.sleep(0.1)
        time.sleep(1.5)  # one more round delivers the outbox
    finally:
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=20)
    assert runner.returncode == 0, err
    assert "Till Anna Andersson (att göra)" in out and "VOK 2026/0001" in out
    assert "19121212" not in out + err
    assert "har stoppat" in err
    assert inbox.pending() == 0
    assert len(list((data / "inbox" / ".Diarierat" / "cur").iterdir())) == 1


# --------------------------------------------------------------------------- secrets' file
def test_a_dotenv_in_the_working_directory_is_never_read(tmp_path, data):
    (tmp_path / ".env").write_text("MAIL_SOURCE=imap\nIMAP_HOST=prod.example\n", encoding="utf-8")
    done = cli(data, "check-config", "--json", cwd=tmp_path)
    summary = json.loads(done.stdout)
    assert summary["mail_source"] == "maildir" and summary["env_file"] is None


def test_the_dotenv_beside_the_organisation_file_or_the_named_one_is_read(tmp_path, data):
    config = tmp_path / "etc" / "organisation.toml"
    config.parent.mkdir()
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    beside = config.parent / ".env"
    # (MAIL_SOURCE=graph alone is refused now: check-config refuses what run refuses)
    beside.write_text("SMTP_HOST=smtp.exempelby.se\n", encoding="utf-8")
    summary = json.loads(cli(data, "check-config", "--json", config=config).stdout)
    assert (summary["channels"]["email"], summary["env_file"]) == (True, str(beside))
    named = tmp_path / "secrets.env"
    named.write_text("MAIL_SOURCE=maildir\n", encoding="utf-8")
    done = subprocess.run([CLI, "--config", str(config), "--data", str(data), "--env", str(named),
                           "check-config", "--json"], capture_output=True, text=True, cwd=tmp_path)
    assert json.loads(done.stdout)["env_file"] == str(named)
    missing = subprocess.run([CLI, "--config", str(config), "--env", str(tmp_path / "nej.env"),
                              "check-config"], capture_output=True, text=True, cwd=tmp_path)
    assert missing.returncode == 2 and "nej.env" in missing.stderr


def test_check_config_says_whether_senders_are_verified(tmp_path, data):
    summary = json.loads(cli(data, "check-config", "--json").stdout)
    assert summary["senders_verified"] is False
    assert any("verifieras inte" in w for w in summary["warnings"])
    config = tmp_path / "org.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "trusted_authserv_ids = []" in text
    config.write_text(text.replace("trusted_authserv_ids = []",
                                   'trusted_authserv_ids = ["mx.exempelby.se"]', 1), encoding="utf-8")
    verified = json.loads(cli(data, "check-config", "--json", config=config).stdout)
    assert verified["senders_verified"] is True
    assert not any("verifieras inte" in w for w in verified["warnings"])
