"""The whole bot on a real mailbox: Dovecot (IMAP IDLE) in, aiosmtpd (SMTP) out.

APPEND → IDLE → diarised → moved to Diarierat; the server restarted mid-run; the bot
stopped between the store write and the acknowledgement; a `skicka` round trip whose
reply, written as a mail client writes it, lands in the same case."""
from __future__ import annotations

import dataclasses

import asyncio
import email
import email.policy
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest

from bot.app import build
from bot.domain.access import Actor
from bot.settings import Settings
from tests.conftest import EXAMPLE_CONFIG
from tests.fakes.mail import make_mail
from tests.fakes.notifier import FakeNotifier
from tests.realparts.dovecot import PASSWORD
from tests.realparts.smtp import SmtpServer

USER = "registrator.vok"
LISA = "Lisa Larsson <lisa.larsson@regionexempel.se>"


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def imap_settings(org, data_dir, dovecot, smtp) -> Settings:
    # these bots run on the real clock: notices at any hour ("dygnet runt"), else the example's
    # "omedelbart" holds them until the next business morning in the evening or at a weekend
    org = dataclasses.replace(org, notify_default="dygnet runt")
    return Settings(config_path=EXAMPLE_CONFIG, data_dir=data_dir, org=org, env={
        "MAIL_SOURCE": "imap", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port),
        "IMAP_SECURITY": "none", "IMAP_USER": USER, "IMAP_PASSWORD": PASSWORD,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none"})


def deviation(n: int, **kw) -> bytes:
    return make_mail(sender=LISA, subject=f"Avvikelse Hemtjänst Norr – händelse {n}",
                     body="Hej,\nvi anmäler en avvikelse i hemtjänsten.\nMvh Lisa", **kw)


async def eventually(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = await asyncio.to_thread(check)
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {check.__doc__ or check}")
        await asyncio.sleep(0.05)


def run_bot(bot, scenario):
    """Run the bot's loop and the scenario side by side; stop the bot when it is done."""
    async def main():
        stop = asyncio.Event()
        task = asyncio.create_task(bot.run_forever(poll_seconds=0.2, stop=stop))
        try:
            await scenario()
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=15)
    asyncio.run(main())


def cases(bot) -> list[str]:
    return sorted(c.number for c in bot.store.all_cases())   # the store locks for itself


def test_appended_mail_is_diarised_notified_and_moved(org, tmp_path, dovecot, smtp):
    notifier = FakeNotifier()
    bot = build(imap_settings(org, tmp_path / "data", dovecot, smtp),
                notifiers={"console": notifier})

    async def scenario():
        await asyncio.sleep(0.5)                     # the bot is idling on an empty INBOX
        await asyncio.to_thread(dovecot.deliver, USER, deviation(1))

        def moved():
            """the mail is in Diarierat and the manager was told"""
            return (dovecot.messages(USER, "Diarierat") and not dovecot.messages(USER, "INBOX")
                    and notifier.to("anna"))
        await eventually(moved)
    try:
        run_bot(bot, scenario)
        assert cases(bot) == ["VOK 2026/0001"]
        assert notifier.to("anna")[0]["diary_number"] == "VOK 2026/0001"
    finally:
        bot.close()


def test_server_restart_mid_run_loses_nothing(org, tmp_path, dovecot, smtp):
    bot = build(imap_settings(org, tmp_path / "data", dovecot, smtp),
                notifiers={"console": FakeNotifier()})

    async def scenario():
        await asyncio.to_thread(dovecot.deliver, USER, deviation(1))
        await eventually(lambda: len(cases(bot)) == 1)
        await asyncio.to_thread(dovecot.stop)        # the server goes away under an IDLE
        await asyncio.sleep(1.0)                     # the bot fails a round or two meanwhile
        await asyncio.to_thread(dovecot.start)
        for n in (2, 3):
            await asyncio.to_thread(dovecot.deliver, USER, deviation(n))
        await eventually(lambda: len(cases(bot)) == 3, timeout=30)
        await eventually(lambda: not dovecot.messages(USER, "INBOX"))
    try:
        run_bot(bot, scenario)
        assert cases(bot) == ["VOK 2026/0001", "VOK 2026/0002", "VOK 2026/0003"]
        assert len(dovecot.messages(USER, "Diarierat")) == 3
    finally:
        bot.close()


class Crash(Exception):
    pass


class CrashBeforeAcknowledge:
    """The real source, except the process 'dies' right after the durable store write."""

    def __init__(self, real):
        self.real = real

    def fetch(self):
        return self.real.fetch()

    def acknowledge(self, source_id):
        raise Crash("killed between the store write and the acknowledgement")


def test_stopped_between_store_write_and_acknowledgement_no_duplicate(org, tmp_path, dovecot, smtp):
    settings = imap_settings(org, tmp_path / "data", dovecot, smtp)
    dovecot.deliver(USER, deviation(1))
    from bot.mail.imap import ImapMailSource
    first = build(settings, mail=CrashBeforeAcknowledge(ImapMailSource.from_settings(settings)),
                  notifiers={"console": FakeNotifier()})
    with pytest.raises(Crash):
        first.poll_mailbox()
    first.mail.real.close()
    first.close()
    assert len(dovecot.messages(USER, "INBOX")) == 1     # still there: not acknowledged

    notifier = FakeNotifier()
    again = build(settings, notifiers={"console": notifier})
    try:
        results = again.poll_mailbox()
        assert [r["outcome"] for r in results] == ["duplicate"]
        assert cases(again) == ["VOK 2026/0001"]
        assert dovecot.messages(USER, "INBOX") == []          # acknowledged this time
        assert len(dovecot.messages(USER, "Diarierat")) == 1
    finally:
        again.mail.close()
        again.close()


def reply_as_mail_client(sent: email.message.EmailMessage, *, subject: str | None = None) -> bytes:
    """What Outlook or Thunderbird makes of 'Svara': Re: subject, In-Reply-To the sent
    Message-ID, References the whole chain, the original quoted below."""
    reply = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    reply["From"] = LISA
    reply["To"] = str(sent["From"])
    reply["Subject"] = subject or f"SV: {sent['Subject']}"
    reply["Date"] = format_datetime(sent_date())
    reply["Message-ID"] = make_msgid(domain="regionexempel.se")
    reply["In-Reply-To"] = str(sent["Message-ID"])
    reply["References"] = f"{sent.get('References', '')} {sent['Message-ID']}".strip()
    quoted = "\n".join("> " + line for line in sent.get_body(("plain",)).get_content().splitlines())
    reply.set_content(f"Tack, vi har tagit del av ert svar.\n\n{quoted}\n")
    return bytes(reply)


def sent_date():
    from datetime import datetime, timezone
    return datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("subject", [None, "SV: angående er återkoppling"])
def test_skicka_round_trip_reply_lands_in_the_same_case(org, tmp_path, dovecot, smtp, subject):
    bot = build(imap_settings(org, tmp_path / "data", dovecot, smtp),
                notifiers={"console": FakeNotifier()})
    try:
        dovecot.deliver(USER, deviation(1, message_id="<avv-1@regionexempel.se>"))
        dovecot.deliver(USER, make_mail(
            sender="Anna Andersson <anna.andersson@exempelby.se>", message_id="<svar-1@exempelby.se>",
            subject="SV: VOK 2026/0001 Avvikelse Hemtjänst Norr – händelse 1",
            body="Vi har gått igenom händelsen och infört dubbelkontroll."))
        bot.poll_mailbox()
        assert bot.store.get_case_by_text("VOK 2026/0001").status == "response_received"

        reply = bot.services.handle_command(Actor.person("rut"), "skicka VOK 2026/0001", "cli")
        assert reply.ok, reply.text
        bot.services.deliver_outbox()
        [out] = smtp.received
        assert out.rcpt_tos == ["patientsakerhet@regionexempel.se"]
        sent = email.message_from_bytes(out.data, policy=email.policy.default)
        assert "VOK 2026/0001" in sent["Subject"]
        assert sent["In-Reply-To"] == "<avv-1@regionexempel.se>"
        assert sent["Auto-Submitted"] == "auto-generated" and sent["X-Auto-Response-Suppress"] == "All"
        attached = [part.get_content() for part in sent.iter_attachments()]
        assert [a["Message-ID"] for a in attached] == ["<svar-1@exempelby.se>"]
        case = bot.store.get_case_by_text("VOK 2026/0001")
        assert case.status == "response_sent" and case.documents[-1].type == "sent"
        kept = (bot.store.data_dir / case.documents[-1].raw).read_bytes()
        assert email.message_from_bytes(kept)["Message-ID"] == sent["Message-ID"]

        dovecot.deliver(USER, reply_as_mail_client(sent, subject=subject))
        [result] = bot.poll_mailbox()
        assert (result["outcome"], result["diary_number"]) == ("added_to_case", "VOK 2026/0001")
        assert cases(bot) == ["VOK 2026/0001"]
        assert dovecot.messages(USER, "INBOX") == []
    finally:
        bot.mail.close()
        bot.close()


def check_config_online(tmp_path, env: dict[str, str]):
    import os
    import subprocess
    import sys
    from pathlib import Path
    cli = str(Path(sys.executable).with_name("avvikelsebot"))
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IMAP_", "SMTP_", "MAIL_"))}
    return subprocess.run([cli, "--config", str(EXAMPLE_CONFIG), "--data", str(tmp_path / "d"),
                           "check-config", "--online"], capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


def test_check_config_online_tries_imap_and_smtp(tmp_path, dovecot, smtp):
    env = {"MAIL_SOURCE": "imap", "IMAP_HOST": "127.0.0.1", "IMAP_PORT": str(dovecot.port),
           "IMAP_SECURITY": "none", "IMAP_USER": USER, "IMAP_PASSWORD": PASSWORD,
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_SECURITY": "none"}
    good = check_config_online(tmp_path, env)
    assert good.returncode == 0, good.stderr
    assert "✔ IMAP: inloggning som registrator.vok" in good.stdout and "✔ SMTP 127.0.0.1" in good.stdout
    assert PASSWORD not in good.stdout + good.stderr

    bad = check_config_online(tmp_path, {**env, "IMAP_PASSWORD": "fel-lösenord"})
    assert bad.returncode == 2
    assert "IMAP_USER/IMAP_PASSWORD" in bad.stdout and len(bad.stderr.strip().splitlines()) == 1
    assert "fel-lösenord" not in bad.stdout + bad.stderr
