"""SIGKILL while mail is in flight: e-mail notifications and `skicka`.

The delivering process is killed once the local SMTP server (aiosmtpd) has taken the k-th
mail but before it answered: the mail exists, the outbox does not know. After a restart:
- every e-mail notification went out under one Message-ID, fixed by its outbox id, so a
  resend is the same message to the recipient's server and client (never a second one);
- `skicka` reaches the counterpart under one Message-ID, the one the diary records, and the
  case shows one sent document.
"""
from __future__ import annotations

import email
import email.policy
import signal
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

from bot.store.repository import TinyDbCaseStore
from tests.conftest import round_the_clock_config
from tests.fakes.mail import make_mail
from tests.realparts.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from bot.app import build
    from bot.domain.access import Actor
    from bot.settings import Settings, load_organisation
    config, data, port, step, mails = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
    settings = Settings(config_path=config, data_dir=data, org=load_organisation(config),
                        env={"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_SECURITY": "none"})
    bot = build(settings)
    for path in mails:
        bot.services.ingest_mail(Path(path).read_bytes())
    if step == "skicka":
        bot.services.deliver_outbox()
        print(bot.services.handle_command(Actor.person("rut"), "skicka VOK 2026/1", "cli"), flush=True)
    bot.services.deliver_outbox()
    bot.close()
""")


def _run(data: Path, port: int, step: str, mails: list[Path]) -> subprocess.Popen:
    # on the real clock: notices at any hour ("dygnet runt"), else the example's "omedelbart"
    # holds them in the evening and at weekends and nothing is sent to crash in
    config = round_the_clock_config(data.parent / "etc")
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(config), str(data),
                             str(port), step, *map(str, mails)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait(condition, timeout: float = 30.0) -> None:
    import time
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the chosen moment never came"
        time.sleep(0.02)


def _kill_at_mail(data: Path, server: SmtpServer, k: int, step: str, mails: list[Path]) -> None:
    server.handler.hold_from = k
    child = _run(data, server.port, step, mails)
    _wait(lambda: len(server.received) >= k or child.poll() is not None)
    child.send_signal(signal.SIGKILL)
    child.wait()
    server.handler.released.set()


def _by_message_id(server: SmtpServer) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = defaultdict(list)
    for received in server.received:
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        seen[str(message["Message-ID"])].append(received.rcpt_tos[0])
    return seen


TRIALS = [(t, 1 + t % 5) for t in range(20)]


@pytest.mark.parametrize("trial,k", TRIALS, ids=[f"kill-at-mail-{k}-#{t}" for t, k in TRIALS])
def test_email_notifications_killed_mid_send_keep_one_message_id_each(tmp_path, trial, k):
    mail = tmp_path / "m.eml"
    mail.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                               subject=f"Avvikelse {trial} Hemtjänst Norr", body="Vi anmäler.",
                               message_id=f"<mailcrash-{trial}@regionexempel.se>"))
    data = tmp_path / "data"
    server = SmtpServer().start()
    try:
        _kill_at_mail(data, server, k, "notify", [mail])
        finish = _run(data, server.port, "notify", [])
        _, err = finish.communicate(timeout=60)
        assert finish.returncode == 0, err[-2000:]
        # (kännedom copies wait for their bundle at 08:00/13:00 of a business day on this real
        # clock, issue 24: not sent yet, not part of the crash; a bundle's crash is tested in
        # tests/scenario/test_bundling.py)
        items = [n for n in TinyDbCaseStore(data, readonly=True).outbox() if n["channel"] == "email"
                 and not (n.get("bundlable") and n["state"] == "pending" and not n["attempts"])]
        assert items and all(n["state"] == "sent" for n in items)
        seen = _by_message_id(server)
        assert len(seen) == len(items), "one Message-ID per notification, whatever was resent"
        for message_id, recipients in seen.items():
            assert len(set(recipients)) == 1, f"{message_id} went to {recipients}"
    finally:
        server.stop()


@pytest.mark.parametrize("trial", range(20))
def test_skicka_killed_mid_send_reaches_the_counterpart_under_one_message_id(tmp_path, trial):
    response = tmp_path / "svar.eml"
    deviation = tmp_path / "avv.eml"
    deviation.write_bytes(make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                                    subject="Avvikelse Hemtjänst Norr", body="Vi anmäler.",
                                    message_id=f"<avv-{trial}@regionexempel.se>"))
    response.write_bytes(make_mail(sender="Anna Andersson <anna.andersson@exempelby.se>",
                                   subject="SV: VOK 2026/0001 Avvikelse", body="Enhetens svar.",
                                   message_id=f"<svar-{trial}@exempelby.se>"))
    data = tmp_path / "data"
    server = SmtpServer().start()
    try:
        # notifications first (k-1 of them answered), then the counterpart's mail is held
        before = _count_notifications(tmp_path, [deviation, response], trial)
        _kill_at_mail(data, server, before + 1 + trial % 2, "skicka", [deviation, response])
        finish = _run(data, server.port, "notify", [])
        _, err = finish.communicate(timeout=60)
        assert finish.returncode == 0, err[-2000:]
        to_region = {mid: rcpts for mid, rcpts in _by_message_id(server).items()
                     if rcpts[0] == "patientsakerhet@regionexempel.se"}
        case = TinyDbCaseStore(data, readonly=True).get_case_by_text("VOK 2026/0001")
        sent = [d for d in case.documents if d.type == "sent"]
        assert len(to_region) == 1 and len(sent) == 1, (to_region, sent)
        assert f"<{sent[0].message_id}>" in to_region
        assert case.status == "response_sent"
    finally:
        server.stop()


_COUNTED: dict[str, int] = {}


def _count_notifications(tmp_path: Path, mails: list[Path], trial: int) -> int:
    """How many e-mail notifications the two mails cause (a dry run in a scratch folder,
    once: every trial's mails differ only in their Message-IDs)."""
    if "n" in _COUNTED:
        return _COUNTED["n"]
    server = SmtpServer().start()
    try:
        child = _run(tmp_path / "scratch", server.port, "notify", mails)
        child.communicate(timeout=60)
        _COUNTED["n"] = len(server.received)
        return _COUNTED["n"]
    finally:
        server.stop()
