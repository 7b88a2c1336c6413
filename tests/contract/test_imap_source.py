"""ImapMailSource against a real Dovecot on 127.0.0.1 (started by the test, never skipped):
fetch without marking read, MOVE to Diarierat, IDLE wake-up, reconnect after a restart."""
from __future__ import annotations

import threading
import time

import pytest

from bot.errors import MailSourceError
from bot.mail.imap import ImapAccount, ImapMailSource
from tests.fakes.mail import make_mail
from tests.realparts.dovecot import PASSWORD, Dovecot

USER = "registrator"


def source(server: Dovecot, **kw) -> ImapMailSource:
    return ImapMailSource(ImapAccount("127.0.0.1", server.port, "none", USER, PASSWORD,
                                      timeout=5, **kw))


def deviation(n: int) -> bytes:
    return make_mail(sender="Lisa Larsson <lisa.larsson@regionexempel.se>",
                     subject=f"Avvikelse {n} Hemtjänst Norr", body="Vi anmäler en avvikelse.\n")


def test_fetch_returns_the_exact_bytes_and_leaves_them_unread(dovecot):
    sent = deviation(1)
    dovecot.deliver(USER, sent)
    mailbox = source(dovecot)
    [(raw, arrived, source_id, conversation)] = mailbox.fetch()
    assert raw.replace(b"\r\n", b"\n") == sent.replace(b"\r\n", b"\n")
    assert arrived.tzinfo is not None and conversation is None
    with dovecot.client(USER) as other:          # a person reading the mailbox sees it unread
        other.select_folder("INBOX", readonly=True)
        assert other.search(["UNSEEN"]) != []
    mailbox.close()


def test_acknowledge_moves_to_diarierat_created_when_missing(dovecot):
    for n in (1, 2):
        dovecot.deliver(USER, deviation(n))
    mailbox = source(dovecot)
    fetched = mailbox.fetch()
    mailbox.acknowledge(fetched[0][2])
    assert len(dovecot.messages(USER, "INBOX")) == 1
    assert [b"Avvikelse 1" in m for m in dovecot.messages(USER, "Diarierat")] == [True]
    assert [m[0] for m in mailbox.fetch()] == [fetched[1][0]]   # what is left is fetched again
    mailbox.close()


def test_idle_wakes_up_when_mail_arrives(dovecot):
    mailbox = source(dovecot)
    assert mailbox.fetch() == []
    timer = threading.Timer(0.3, dovecot.deliver, (USER, deviation(1)))
    timer.start()
    started = time.monotonic()
    mailbox.wait_for_mail(10)
    waited = time.monotonic() - started
    timer.join()
    assert waited < 3, waited       # Dovecot notifies IDLE about 0.5 s after the APPEND
    assert len(mailbox.fetch()) == 1
    mailbox.close()


def test_interrupt_ends_an_idle_at_once(dovecot):
    mailbox = source(dovecot)
    mailbox.fetch()
    threading.Timer(0.2, mailbox.interrupt).start()
    started = time.monotonic()
    mailbox.wait_for_mail(30)
    assert time.monotonic() - started < 3
    mailbox.close()


def test_server_restart_is_an_error_then_a_reconnect(dovecot):
    dovecot.deliver(USER, deviation(1))
    mailbox = source(dovecot)
    assert len(mailbox.fetch()) == 1
    dovecot.stop()
    with pytest.raises(MailSourceError):
        mailbox.fetch()
    dovecot.start()
    dovecot.deliver(USER, deviation(2))
    assert len(mailbox.fetch()) == 2          # reconnected; nothing acknowledged, nothing lost
    mailbox.close()


def test_wrong_password_says_which_setting(dovecot):
    mailbox = ImapMailSource(ImapAccount("127.0.0.1", dovecot.port, "none", USER, "fel", timeout=5))
    with pytest.raises(MailSourceError, match="IMAP_USER/IMAP_PASSWORD"):
        mailbox.fetch()
    lines = mailbox.check()
    assert lines and not lines[0][0]


def test_check_reports_login_folder_and_idle(dovecot):
    lines = source(dovecot).check()
    assert all(ok for ok, _ in lines) and any("Diarierat" in text for _, text in lines)
