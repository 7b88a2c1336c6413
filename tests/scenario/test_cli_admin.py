"""The CLI as an admin meets it (issues 12 and 14): check-config refuses what run refuses,
with one line naming the variable; Swedish help; --version; a closed pipe; an unusable or
mistyped data directory; local time with its offset in admin output; private folders.

The real console script, a clean environment (PATH and HOME only), a temporary cwd.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))


def run(tmp: Path, *args: str, env: dict | None = None, data: Path | None = None,
        config: Path | None = EXAMPLE_CONFIG, timeout: int = 60) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp), **(env or {})}
    head = [CLI] + (["--config", str(config)] if config else [])
    head += ["--data", str(data or tmp / "data")]
    return subprocess.run([*head, *args], capture_output=True, text=True, timeout=timeout,
                          env=clean, cwd=tmp)


# ---------------------------------------------------------------------------- check-config = run
BROKEN = [
    ({"MAIL_SOURCE": "imap"}, "IMAP_HOST"),
    ({"MAIL_SOURCE": "imap", "IMAP_HOST": "imap.exempelby.se"}, "IMAP_USER"),
    ({"MAIL_SOURCE": "graph"}, "GRAPH_TENANT_ID"),
    ({"MAIL_SOURCE": "graph", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c",
      "GRAPH_CLIENT_SECRET": "s", "GRAPH_BASE_URL": "http://graph.exempelby.se/"}, "GRAPH_BASE_URL"),
    ({"MAIL_SOURCE": "imap", "IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_PORT": "99999"}, "IMAP_PORT"),
    ({"MAIL_SOURCE": "imap", "IMAP_HOST": "h", "IMAP_USER": "u", "IMAP_SECURITY": "tls13"},
     "IMAP_SECURITY"),
    ({"SLACK_PORT": "abc"}, "SLACK_PORT"),
    ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_PORT": "abc"}, "SLACK_PORT"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN"),
    ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
    ({"SMTP_HOST": "smtp.exempelby.se", "SMTP_SECURITY": "tls"}, "SMTP_SECURITY"),
    ({"TEAMS_CLIENT_ID": "id"}, "TEAMS_CLIENT_SECRET"),
    ({"MAIL_SOURCE": "pop3"}, "MAIL_SOURCE"),
    ({"WEB_PORT": "8081", "WEB_BASE_URL": "ftp://avvikelser.exempelby.se"}, "WEB_BASE_URL"),
    ({"WEB_PORT": "80800"}, "WEB_PORT"),
    # sign-in with Entra ID (issue 26)
    ({"WEB_PORT": "8081", "WEB_ENTRA_TENANT_ID": "3c9a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"},
     "WEB_ENTRA_CLIENT_ID"),
    ({"WEB_PORT": "8081", "WEB_ENTRA_TENANT_ID": "organizations", "WEB_ENTRA_CLIENT_ID":
      "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70", "WEB_ENTRA_CLIENT_SECRET": "s"}, "WEB_ENTRA_TENANT_ID"),
    ({"WEB_PORT": "8081", "WEB_BASE_URL": "http://avvikelser.exempelby.se",
      "WEB_ENTRA_TENANT_ID": "exempelby.onmicrosoft.com", "WEB_ENTRA_CLIENT_ID":
      "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70", "WEB_ENTRA_CLIENT_SECRET": "s"}, "WEB_ENTRA_REDIRECT_URI"),
]


@pytest.mark.parametrize("env,variable", BROKEN, ids=[v for _, v in BROKEN])
def test_check_config_refuses_exactly_what_run_refuses(tmp_path, env, variable):
    for command in (["check-config"], ["check-config", "--json"], ["run"]):
        done = run(tmp_path, *command, env=env, timeout=30)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert len(lines) == 1 and variable in lines[0], (command, done.stderr)
        assert "Traceback" not in done.stderr


def test_entra_sign_in_settings_pass_and_the_secret_is_not_shown(tmp_path):
    env = {"WEB_PORT": "8081", "WEB_BASE_URL": "https://avvikelser.exempelby.se",
           "WEB_ENTRA_TENANT_ID": "3c9a1f2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
           "WEB_ENTRA_CLIENT_ID": "d4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
           "WEB_ENTRA_CLIENT_SECRET": "hemlig-entra-nyckel"}
    for command in (["check-config"], ["check-config", "--json"]):
        done = run(tmp_path, *command, env=env)
        assert done.returncode == 0, done.stderr
        assert "hemlig-entra-nyckel" not in done.stdout + done.stderr


def test_a_password_over_an_unencrypted_connection_is_a_warning_not_a_refusal(tmp_path):
    env = {"SMTP_HOST": "smtp.exempelby.se", "SMTP_SECURITY": "none", "SMTP_PASSWORD": "hemligt"}
    done = run(tmp_path, "check-config", env=env)
    assert done.returncode == 0, done.stderr
    assert "SMTP_PASSWORD skickas okrypterat" in done.stdout and "hemligt" not in done.stdout
    summary = json.loads(run(tmp_path, "check-config", "--json", env=env).stdout)
    assert any("SMTP_SECURITY=none" in w for w in summary["warnings"])


def test_a_missing_data_directory_is_not_reported_as_fine(tmp_path):
    done = run(tmp_path, "check-config", data=tmp_path / "ny")
    assert done.returncode == 0
    assert "finns inte än – den skapas (0700)" in done.stdout
    assert not (tmp_path / "ny").exists()                 # checking creates nothing
    assert json.loads(run(tmp_path, "check-config", "--json", data=tmp_path / "ny").stdout)[
        "data_exists"] is False


def test_an_unusable_data_directory_is_one_line_and_exit_2(tmp_path):
    a_file = tmp_path / "fil"
    a_file.write_text("x")
    for data in (a_file, a_file / "data"):
        for command in (["check-config"], ["list"], ["ingest", str(a_file)], ["run"]):
            done = run(tmp_path, *command, data=data)
            assert done.returncode == 2, (data, command, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "AVVIKELSEBOT_DATA" in lines[0] and str(data) in lines[0]


def test_a_mistyped_data_directory_warns_that_it_holds_no_diary(tmp_path):
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse Hemtjänst Norr", body="Avvikelse i Hemtjänst Norr."))
    assert run(tmp_path, "ingest", str(mail)).returncode == 0
    right = run(tmp_path, "list")
    assert right.returncode == 0 and right.stderr == "" and "VOK 2026/0001" in right.stdout
    wrong = run(tmp_path, "list", data=tmp_path / "dta")
    assert wrong.returncode == 0 and "Inga ärenden" in wrong.stdout
    assert "innehåller inget diarium – fel --data?" in wrong.stderr
    assert not (tmp_path / "dta").exists()


def test_with_database_url_a_reader_does_not_warn_that_the_data_directory_holds_no_diary(
        tmp_path, database_url):
    """The diary is in the database (issue 22, item 10): the data directory holds none."""
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse Hemtjänst Norr", body="Avvikelse i Hemtjänst Norr."))
    env = {"DATABASE_URL": database_url}
    assert run(tmp_path, "ingest", str(mail), env=env).returncode == 0
    for command in (["status", "VOK 2026/1"], ["list"], ["outbox"]):
        done = run(tmp_path, *command, env=env)
        assert done.returncode == 0 and done.stderr == "", (command, done.stderr)
    assert "VOK 2026/0001" in run(tmp_path, "list", env=env).stdout


def test_the_organisation_file_may_start_with_a_byte_order_mark(tmp_path):
    config = tmp_path / "org.toml"
    config.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_CONFIG.read_bytes())
    done = run(tmp_path, "check-config", config=config)
    assert done.returncode == 0, done.stderr


def test_a_person_without_roles_is_refused(tmp_path):
    config = tmp_path / "org.toml"
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    config.write_text(text.replace('roles = ["sas"]', "roles = []", 1), encoding="utf-8")
    done = run(tmp_path, "check-config", config=config)
    assert done.returncode == 2 and "people[2].roles" in done.stderr and "minst en roll" in done.stderr


# ---------------------------------------------------------------------------- help, version, pipe
def test_help_is_swedish_including_argparse_own_words(tmp_path):
    top = run(tmp_path, "--help", config=None)
    assert top.returncode == 0
    assert top.stdout.startswith("användning: avvikelsebot")
    assert "flaggor:" in top.stdout and "visa den här hjälpen och avsluta" in top.stdout
    assert "usage:" not in top.stdout and "options:" not in top.stdout
    for command in ("run", "demo", "ingest", "status", "list", "outbox", "report", "reminders",
                    "check-config", "web", "web-link", "logg", "command"):
        done = run(tmp_path, command, "--help", config=None)
        assert done.returncode == 0 and done.stdout.startswith("användning: avvikelsebot " + command)
        description = done.stdout.split("\n\n")[1]
        assert description.strip() and "show this help" not in done.stdout
        # every option and argument has a description
        for line in done.stdout.split("flaggor:")[1].splitlines():
            if line.startswith("  -") and not line.startswith("  -h"):
                assert len(line.split(None, 2)) >= 2, (command, line)
    error = run(tmp_path, "list", "--oppen")
    assert error.returncode == 2 and "fel: okända argument: --oppen" in error.stderr


def test_help_follows_the_organisation_language_when_the_file_says_en(tmp_path):
    config = tmp_path / "org.toml"
    config.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
        'language = "sv"', 'language = "en"'), encoding="utf-8")
    done = run(tmp_path, "--help", config=config)
    assert done.stdout.startswith("usage: avvikelsebot") and "show the version and exit" in done.stdout


def test_version(tmp_path):
    """The release number, and the commit for a build that is not the release's tag (a
    checkout run in place asks git; the installed wheel is checked in test_shipped.py)."""
    done = run(tmp_path, "--version", config=None)
    assert done.returncode == 0
    assert re.fullmatch(rf"avvikelsebot {re.escape(version('avvikelsebot'))}"
                        r"(\+g[0-9a-f]{7}(\.dirty)?)?", done.stdout.strip()), done.stdout


def test_a_closed_pipe_ends_quietly(tmp_path):
    for i in range(40):
        (tmp_path / f"m{i}.eml").write_bytes(make_mail(
            sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
            subject=f"Avvikelse {i} Hemtjänst Norr", body="Avvikelse i Hemtjänst Norr.",
            message_id=f"<pipe{i}@regionexempel.se>"))
    assert run(tmp_path, "ingest", *map(str, sorted(tmp_path.glob("m*.eml")))).returncode == 0
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    for args in (["list"], ["list", "--json"], ["outbox"]):
        command = " ".join([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / "data"),
                            *args])
        done = subprocess.run(["bash", "-o", "pipefail", "-c", f"{command} | head -c 10"],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
        assert len(done.stdout.encode()) == 10
        assert done.stderr == "", done.stderr
        assert done.returncode == 0


# ---------------------------------------------------------------------------- one time zone
def test_admin_output_is_local_time_with_its_offset(tmp_path):
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse Hemtjänst Norr", body="Avvikelse i Hemtjänst Norr."))
    assert run(tmp_path, "ingest", str(mail)).returncode == 0
    winter = run(tmp_path, "reminders", "--at", "2026-12-02")
    assert winter.returncode == 0
    # office start is 08:00 local (not 07:00 UTC), shown with its offset
    assert re.search(r"^2026-1\d-\d\d 08:00 \+01:00 ", winter.stdout, re.M), winter.stdout
    due = json.loads(run(tmp_path, "reminders", "--json", "--at", "2026-12-02").stdout)
    assert due and all(d["due"].endswith("+01:00") for d in due)
    assert all("T08:00:00" in d["due"] for d in due)
    outbox = run(tmp_path, "outbox").stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d \+0[12]:00", outbox) and "+00:00" not in outbox
    items = json.loads(run(tmp_path, "outbox", "--json").stdout)
    assert items and all(re.search(r"\+0[12]:00$", n["created"]) for n in items)
    status = json.loads(run(tmp_path, "status", "--json", "2026/1").stdout)
    assert status["documents"][0]["received"].endswith(("+01:00", "+02:00"))


# ---------------------------------------------------------------------------- private folders
def test_inbox_and_raw_folders_are_private(tmp_path):
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse Hemtjänst Norr", body="Avvikelse i Hemtjänst Norr."))
    assert run(tmp_path, "ingest", str(mail)).returncode == 0
    data = tmp_path / "data"
    from bot.mail.maildir import MaildirMailSource
    os.umask(0o022)
    MaildirMailSource(data / "inbox")
    folders = [p for p in data.rglob("*") if p.is_dir()] + [data]
    assert any(p.name == "raw" for p in folders) and any(p.name == "inbox" for p in folders)
    loose = [str(p) for p in folders if stat.S_IMODE(p.stat().st_mode) != 0o700]
    assert not loose


# ---------------------------------------------------------------------------- wording
def test_help_per_role_through_the_cli(tmp_path):
    manager = run(tmp_path, "command", "--as", "anna", "hjälp")
    registrator = run(tmp_path, "command", "--as", "rut", "hjälp")
    assert manager.returncode == 0 and registrator.returncode == 0
    assert "skicka <dnr>" not in manager.stdout and "koppla <triage-id>" not in manager.stdout
    assert "skicka <dnr>" in registrator.stdout and "koppla <triage-id>" in registrator.stdout


def test_triage_lists_all_three_choices_and_labels_do_not_repeat_their_noun(tmp_path):
    mail = tmp_path / "a.eml"
    mail.write_bytes(make_mail(sender="Okänd Person <okand@gmail.com>", subject="Fråga om faktura",
                               body="Hej, en fråga om fakturan."))
    lisa = tmp_path / "b.eml"
    lisa.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse", body="Vi rapporterar en avvikelse.",
                               message_id="<b@regionexempel.se>"))
    assert run(tmp_path, "ingest", str(mail), str(lisa)).returncode == 0
    texts = [n["text"] for n in json.loads(run(tmp_path, "outbox", "--json").stdout)]
    triage = next(text for text in texts if "diarisera" in text and "avfärda" in text)
    assert "koppla" in triage
    assert any("Enhet: okänd" in text for text in texts)
    assert not any("Enhet: okänd enhet" in text for text in texts)


def test_the_demo_names_the_channel_in_swedish(tmp_path):
    done = run(tmp_path, "demo", config=None, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "via konsolen" in done.stdout and "via console" not in done.stdout


def test_an_unreachable_graph_is_one_readable_line_in_check_config_online(tmp_path):
    import socket
    with socket.socket() as probe:          # a port that was just free: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"MAIL_SOURCE": "graph", "GRAPH_TENANT_ID": "t", "GRAPH_CLIENT_ID": "c",
           "GRAPH_CLIENT_SECRET": "s", "GRAPH_BASE_URL": f"https://127.0.0.1:{port}/v1.0/",
           "GRAPH_AUTHORITY_URL": f"https://127.0.0.1:{port}"}
    done = run(tmp_path, "check-config", "--online", env=env, timeout=90)
    assert done.returncode == 2
    failed = [line for line in done.stdout.splitlines() if "✘" in line]
    assert len(failed) == 1 and f"127.0.0.1:{port}: Connection refused" in failed[0], done.stdout
    assert "urllib3" not in done.stdout + done.stderr and "Traceback" not in done.stderr
