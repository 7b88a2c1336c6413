"""SmtpMailSender against a real SMTP server (aiosmtpd on 127.0.0.1): plain, STARTTLS
with AUTH, implicit TLS; refusals become DeliveryError with a reason a person can act on."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from bot.errors import DeliveryError
from bot.mail.smtp import SmtpAccount, SmtpMailSender
from tests.realparts.smtp import SmtpServer
from tests.realparts.tls import make_certificate


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "registrator.vok@exempelby.se"
    message["To"] = "patientsakerhet@regionexempel.se"
    message["Subject"] = "VOK 2026/0001 Utebliven insulindos – svar från Hemtjänst Norr"
    message["Message-ID"] = "<skicka-1@exempelby.se>"
    message["In-Reply-To"] = "<avv-1@regionexempel.se>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content("Svaret bifogas.")
    return message


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))   # the client trusts this test CA only
    return cert, key


def test_plain_relay_gets_the_exact_headers():
    server = SmtpServer().start()
    try:
        sent_id = SmtpMailSender(SmtpAccount("127.0.0.1", server.port, "none")).send(mail())
    finally:
        server.stop()
    assert sent_id == "<skicka-1@exempelby.se>"
    [got] = server.received
    assert got.rcpt_tos == ["patientsakerhet@regionexempel.se"]
    assert b"In-Reply-To: <avv-1@regionexempel.se>" in got.data
    assert b"Auto-Submitted: auto-generated" in got.data


def test_starttls_with_login(certificate):
    server = SmtpServer(security="starttls", user="registrator", password="hemligt",
                        cert=certificate).start()
    try:
        account = SmtpAccount("127.0.0.1", server.port, "starttls", "registrator", "hemligt")
        SmtpMailSender(account).send(mail())
    finally:
        server.stop()
    assert [r.login for r in server.received] == ["registrator"]


def test_implicit_tls(certificate):
    server = SmtpServer(security="ssl", cert=certificate).start()
    try:
        SmtpMailSender(SmtpAccount("127.0.0.1", server.port, "ssl")).send(mail())
    finally:
        server.stop()
    assert len(server.received) == 1


def test_wrong_password_is_a_clear_delivery_error(certificate):
    server = SmtpServer(security="starttls", user="registrator", password="hemligt",
                        cert=certificate).start()
    try:
        account = SmtpAccount("127.0.0.1", server.port, "starttls", "registrator", "fel")
        with pytest.raises(DeliveryError, match="SMTP_USER/SMTP_PASSWORD"):
            SmtpMailSender(account).send(mail())
        ok, line = SmtpMailSender(account).check()
        assert not ok and "SMTP_PASSWORD" in line
    finally:
        server.stop()
    assert server.received == []


def test_untrusted_certificate_is_refused(tmp_path):
    cert = make_certificate(tmp_path)          # SSL_CERT_FILE not set: the system store
    server = SmtpServer(security="ssl", cert=cert).start()
    try:
        with pytest.raises(DeliveryError, match="TLS"):
            SmtpMailSender(SmtpAccount("127.0.0.1", server.port, "ssl")).send(mail())
    finally:
        server.stop()


def test_server_not_there_is_a_delivery_error():
    from tests.realparts.dovecot import free_port
    with pytest.raises(DeliveryError, match="svarar inte"):
        SmtpMailSender(SmtpAccount("127.0.0.1", free_port(), "none", timeout=2)).send(mail())
