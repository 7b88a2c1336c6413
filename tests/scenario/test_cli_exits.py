"""Nothing sensitive leaves the CLI (issue 12): personnummer placed in every field a mail,
a command and an argument can carry never reach stdout, stderr or the log, in any written
form; terminal output carries no control sequences.

The real console script runs as a subprocess with a clean environment (PATH and HOME only)
in a temporary working directory. The check for a leaked number is independent of the
redactor: the digits of the number, after NFKC, must not occur in the digits of any line.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from email.header import Header
from pathlib import Path

import pytest

from tests.conftest import CORPORA, EXAMPLE_CONFIG, round_the_clock_config
from tests.fakes.mail import make_mail

CLI = str(Path(sys.executable).with_name("avvikelsebot"))

# Skatteverket test numbers (allPins/allCoords), a personnummer and a samordningsnummer,
# each in a different written form; and a sample spread over the whole corpus for the
# argument checks
PINS = json.loads((CORPORA / "personnummer" / "allPins.json").read_text())
COORDS = json.loads((CORPORA / "personnummer" / "allCoords.json").read_text())


def forms(n12: str) -> list[str]:
    n10 = n12[2:]
    return [n12, f"{n12[:8]}-{n12[8:]}", f"{n10[:6]}-{n10[6:]}", f"{n10[:6]}+{n10[6:]}",
            f"{n12[:8]} - {n12[8:]}", f"{n12[:8]}\u2010{n12[8:]}", f"{n10[:6]}\u2212{n10[6:]}",
            f"{n12[:4]}\u00ad{n12[4:8]}-{n12[8:]}", f"{n12[:8]}\u200b-{n12[8:]}",
            n12.translate(str.maketrans("0123456789", "０１２３４５６７８９"))]


def run(tmp: Path, *args: str, env: dict | None = None, config: Path = EXAMPLE_CONFIG,
        timeout: int = 60) -> subprocess.CompletedProcess:
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp), **(env or {})}
    return subprocess.run([CLI, "--config", str(config), "--data", str(tmp / "data"), *args],
                          capture_output=True, text=True, timeout=timeout, env=clean, cwd=tmp)


def leaked(output: str, numbers: list[str]) -> list[str]:
    """The numbers whose 10-digit core appears in the digits of a line of `output`."""
    found = []
    for line in output.splitlines():
        digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", line))
        found += [n for n in numbers if n[2:] in digits]
    return found


def assert_clean(done: subprocess.CompletedProcess, numbers: list[str]) -> None:
    for stream in (done.stdout, done.stderr):
        assert not leaked(stream, numbers), stream[-2000:]
        assert "\x1b" not in stream and not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", stream)


# ---------------------------------------------------------------------------- arguments
# every written form, each with another number (personnummer and samordningsnummer)
ARGUMENT_CASES = [(form_no, n12) for form_no, n12 in
                  enumerate(PINS[::5141][:7] + COORDS[::755][:3])]


@pytest.mark.parametrize("form_no,n12", ARGUMENT_CASES)
def test_argument_errors_do_not_echo_a_personnummer(tmp_path, form_no, n12):
    form = forms(n12)[form_no]
    attempts = [
        ["status", form], ["status", "--json", form], ["list", "--unit", form],
        ["reminders", "--at", form], ["ingest", str(tmp_path / f"brukare {form}.eml")],
        ["report", "--year", form], [form], ["list", f"--{form}"],
        ["command", "--as", form, "status", "2026/1"],
    ]
    for args in attempts:
        done = run(tmp_path, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert (done.stderr + done.stdout).strip(), args   # a reason is given
        assert "Traceback" not in done.stderr
        assert_clean(done, [n12])


# ---------------------------------------------------------------------------- mail fields
def hostile_mails(tmp: Path, numbers: list[str]) -> list[Path]:
    """Mails with a number in every field the bot reads; each number in another form."""
    a, b, c, d, e, f, g, h = (forms(n) for n in numbers)
    paths = []

    def write(name: str, raw: bytes) -> None:
        path = tmp / name
        path.write_bytes(raw)
        paths.append(path)

    write("deviation.eml", make_mail(
        sender=f"\"Brukare {a[1]}\" <{a[0]}@regionexempel.se>",
        subject=f"Avvikelse för {a[4]} \x1b[31mHemtjänst Norr\x1b[0m",
        body=f"Avvikelse för brukare {b[2]} ({b[5]}) i Hemtjänst Norr.\n\x1b]0;titel\x07",
        message_id=f"<{b[0]}@regionexempel.se>",
        headers={"Reply-To": f"{c[0]}@regionexempel.se"}))
    # the subject split across RFC 2047 encoded words mid-number (the folding whitespace
    # between adjacent encoded words is not part of the text)
    first = Header(f"Avvikelse brukare {c[1][:6]}", "utf-8").encode()
    second = Header(f"{c[1][6:]} Solgården", "utf-8").encode()
    raw = make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject="x",
                    body=f"Avvikelse på Solgården, brukare {c[7]}.",
                    message_id=f"<{c[1]}.{d[0]}@regionexempel.se>")
    raw = raw.replace(b"Subject: x", f"Subject: {first}\n {second}".encode())
    write("split-subject.eml", raw)
    write("autoreply.eml", make_mail(
        sender="Lisa Larsson <lisa.larsson@regionexempel.se>", subject=f"Autosvar: {d[1]}",
        body=f"Jag är ledig. {d[3]}", headers={"Auto-Submitted": "auto-replied"}))
    write("forward.eml", make_mail(
        sender="Rut Registrator <rut.registrator@exempelby.se>",
        subject=f"VB: Avvikelse {e[6]}",
        body=f"Enhet: {e[1]}\n\n---------- Vidarebefordrat meddelande ----------\n"
             f"Från: {e[8]}@regionexempel.se\nÄmne: Avvikelse {e[9]}\n\nBrukare {f[2]}.",
        message_id=f"<{f[1]}@exempelby.se>"))
    write("outgoing.eml", make_mail(
        sender="Anna Andersson <anna.andersson@exempelby.se>",
        subject=f"Avvikelse till regionen gällande {g[4]}",
        body=f"Utgående avvikelse, Hemtjänst Norr, patient {g[5]}.",
        message_id=f"<{g[0]}.{h[0]}@exempelby.se>"))
    msg = make_mail(sender=f"{h[0]} <{h[2]}@lyftteknik-syd.se>", subject=f"{h[1]}",
                    body=f"{h[6]}", message_id=f"<{h[4]}@lyftteknik-syd.se>")
    write("stranger.eml", msg)
    return paths


def test_no_personnummer_in_any_output_of_any_command(tmp_path):
    numbers = PINS[7::5141][:6] + COORDS[11::1100][:2]
    assert len(numbers) == 8
    mails = hostile_mails(tmp_path, numbers)
    outputs = [run(tmp_path, "-v", "ingest", *map(str, mails[:3])),
               run(tmp_path, "-v", "ingest", "--json", *map(str, mails[3:]))]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    results = json.loads(outputs[1].stdout)
    assert len(results) == 3
    for args in (["list"], ["list", "--json"], ["list", "--open"], ["outbox"], ["outbox", "--json"],
                 ["report"], ["report", "--json"], ["reminders", "--at", "2026-12-24"],
                 ["reminders", "--json", "--at", "2026-12-24T10:00"],
                 ["status", "2026/1"], ["status", "--json", "2026/1"],
                 ["status", "2026/2"], ["status", "--json", "2026/2"],
                 ["status", "--json", "2026/3"], ["status", "2026/4"],
                 ["command", "--as", "rut", "öppna"], ["command", "--as", "maria", "status", "2026/1"],
                 ["command", "--as", "rut", f"rubrik 2026/1 brukare {forms(numbers[0])[3]}"],
                 ["command", "--as", "rut", f"åtgärd 2026/1 ring {forms(numbers[1])[5]}"],
                 ["command", "--as", "rut", "status", "2026/1"],
                 ["-v", "--log-format", "json", "list"], ["check-config"]):
        outputs.append(run(tmp_path, *args))
    for done in outputs:
        assert "Traceback" not in done.stderr, done.args
        assert_clean(done, numbers)
    # the commands did run: the cases are there, with their placeholders
    listing = json.loads(run(tmp_path, "list", "--json").stdout)
    assert len(listing) >= 3 and any("[personnummer]" in c["title"] for c in listing)


def test_a_long_output_line_split_across_writes_is_still_redacted(tmp_path):
    """print(a, b) writes in pieces; a number spanning two pieces must still be caught."""
    n12 = PINS[1234]
    script = (f"import sys; from bot.terminal import clean_std_streams\n"
              f"with clean_std_streams():\n"
              f"    sys.stdout.write('brukare {n12[:5]}'); sys.stdout.write('{n12[5:]} klar\\n')\n"
              f"    print('x' * 70000 + ' {n12}', end=''); sys.stdout.flush()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("brukare [personnummer] klar\n")
    assert done.stdout.endswith(" [personnummer]") and not leaked(done.stdout, [n12])


def test_control_sequences_in_a_subject_do_not_reach_the_terminal(tmp_path):
    mail = tmp_path / "ansi.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject="Avvikelse \x1b[2J\x1b]0;pwnd\x07Hemtjänst Norr\u202e",
                               body="Avvikelse i Hemtjänst Norr.\r\nfalsk rad"))
    assert run(tmp_path, "ingest", str(mail)).returncode == 0
    for args in (["list"], ["status", "2026/1"], ["outbox"], ["list", "--json"]):
        done = run(tmp_path, *args)
        assert done.returncode == 0, done.stderr
        assert_clean(done, [])
        assert "\u202e" not in done.stdout and "pwnd" not in done.stdout


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_run_writes_no_personnummer_to_its_log_or_its_console(tmp_path, log_format):
    """`run` diarises the same hostile mails from its Maildir; its log (every logger, at
    INFO) and the console notifications carry none of the numbers."""
    import signal
    import time

    from bot.mail.maildir import MaildirMailSource
    numbers = PINS[19::5141][:6] + COORDS[5::1100][:2]
    inbox = MaildirMailSource(tmp_path / "data" / "inbox")
    mails = hostile_mails(tmp_path, numbers)
    for path in mails:
        inbox.deliver(path.read_bytes())
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    # `run` on the real clock: notices at any hour, so their printed text is checked too at
    # any time of day (the example's "omedelbart" would hold them in the evening)
    config = round_the_clock_config(tmp_path / "etc")
    runner = subprocess.Popen([CLI, "--config", str(config), "--data", str(tmp_path / "data"),
                               "--log-format", log_format, "-v", "run"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=clean, cwd=tmp_path)
    filed = tmp_path / "data" / "inbox" / ".Diarierat" / "cur"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(filed.iterdir())) < len(mails):
            time.sleep(0.1)
    finally:
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=30)
    assert runner.returncode == 0, err
    assert len(list(filed.iterdir())) == len(mails)
    done = subprocess.CompletedProcess(runner.args, 0, out, err)
    assert_clean(done, numbers)
    assert "Traceback" not in err
    if log_format == "json":
        records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
        assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
