"""Act by reply over a real mailbox: Dovecot (IMAP IDLE) in, aiosmtpd (SMTP) out, and the
people of the office with nothing but e-mail.

A manager takes an incoming case from diarised to closed by answering the bot's mails; the
registrator sends the unit's response on by answering hers; the counterpart gets the
response and never the one-word answers. A forged answer (dmarc=fail from the trusted
receiver) changes nothing and goes to the registrator."""
from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
from email.message import EmailMessage

from bot.app import build
from bot.domain.org import Notifications
from bot.domain.diary import parse_diary_number
from tests.fakes.mail import make_mail
from tests.scenario.test_mail_imap import USER, deviation, imap_settings, run_bot, smtp  # noqa: F401
from tests.scenario.test_mail_imap import eventually as _eventually

ANNA = "Anna Andersson <anna.andersson@exempelby.se>"
RUT = "Rut Registrator <rut.registrator@exempelby.se>"
NUMBER = "VOK 2026/0001"
TRUSTED = "mx.exempelby.se"


async def eventually(check, timeout: float = 90.0):
    """Polls until true; generous, as the machine running the tests may be busy."""
    return await _eventually(check, timeout)


def trace(sender: str, dmarc: str) -> bytes:
    """What the organisation's own receiving server (Postfix + OpenDMARC) writes on top."""
    domain = sender.rsplit("@", 1)[1].strip(">")
    return (f"Authentication-Results: {TRUSTED}; dmarc={dmarc} header.from={domain}\r\n"
            f"Received: from ws-1.example (ws-1.example [198.51.100.7])\r\n"
            f"\tby {TRUSTED} (Postfix) with ESMTPS id 4Cf1; Mon, 16 Nov 2026 10:00:00 +0100\r\n"
            ).encode()


def answer(to: EmailMessage, sender: str, first_line: str, *, dmarc: str = "pass") -> bytes:
    """An answer as a mail client writes it: own text on top, the mail answered quoted."""
    quoted = "\n".join("> " + line for line in to.get_content().splitlines()[:6])
    raw = make_mail(sender=sender, subject=f"SV: {to['Subject']}",
                    body=f"{first_line}\n\nMvh\n\nDen 16 nov 2026 skrev Avvikelsebot:\n{quoted}\n",
                    in_reply_to=str(to["Message-ID"]))
    return trace(sender, dmarc) + raw


def mails(smtp_server, to: str) -> list[EmailMessage]:
    """What reached `to`, one per Message-ID: a send the outbox retried after a slow answer
    from the server is the same message again (that is its guarantee), not a second one."""
    seen: dict[str, EmailMessage] = {}
    for r in list(smtp_server.handler.received):
        if to in r.rcpt_tos:
            message = email.message_from_bytes(r.data, policy=email.policy.default)
            seen.setdefault(str(message["Message-ID"]), message)
    return list(seen.values())


def readable(message: EmailMessage) -> str:
    """Every text part, decoded, attached mails included: what the counterpart can read."""
    return "\n".join(part.get_content() for part in message.walk()
                     if part.get_content_type() == "text/plain")


def status(bot) -> str:
    case = bot.store.get_case(parse_diary_number(NUMBER, "VOK"))
    return case.status if case else "-"


def trusted(org):
    # each notification its own mail at once (bundling off, issue 24): these run on the real
    # clock and answer one case's mail, whose subject names the case; a bundle's mail is
    # answered through its per-case mailto: lines (tests/scenario/test_bundling.py)
    return dataclasses.replace(org, trusted_authserv_ids=(TRUSTED,),
                               notifications=Notifications(bundle_minutes=0))


def test_manager_with_only_email_takes_a_case_from_diarised_to_closed(org, tmp_path, dovecot, smtp):
    bot = build(imap_settings(trusted(org), tmp_path / "data", dovecot, smtp))
    anna, rut = "anna.andersson@exempelby.se", "rut.registrator@exempelby.se"
    region = "patientsakerhet@regionexempel.se"
    delivered: list[bytes] = []

    def deliver(raw: bytes) -> None:
        delivered.append(raw)
        dovecot.deliver(USER, raw)

    async def scenario():
        await asyncio.to_thread(deliver, deviation(1))
        notice = (await eventually(lambda: mails(smtp, anna)))[0]
        body = notice.get_content()
        # the notification says how to answer, and its buttons are mailto: links
        assert "Svara med ordet REGISTRERAD" in body
        assert "mailto:registrator.vok@exempelby.se?subject=%5Bkommando%5D%20registrerad%20VOK%202026%2F0001" in body

        # 1. "Registrerad" answered to the notification: the case is registered
        registered = answer(notice, ANNA, "Registrerad. Tack, vi tittar på det")
        await asyncio.to_thread(deliver, registered)
        await eventually(lambda: status(bot) == "registered")
        done = (await eventually(lambda: [m for m in mails(smtp, anna)
                                          if m["In-Reply-To"]]))[0]
        assert done["Auto-Submitted"] == "auto-replied"
        assert done["In-Reply-To"] == email.message_from_bytes(
            registered, policy=email.policy.default)["Message-ID"]
        assert "registrerad VOK 2026/0001" in done.get_content()

        # 2. the unit's response, written as a mail with the diary number
        response = trace(ANNA, "pass") + make_mail(
            sender=ANNA, subject=f"{NUMBER} Svar från Hemtjänst Norr",
            body="Vi har utrett händelsen. Rutinen för insulin är uppdaterad.")
        await asyncio.to_thread(deliver, response)
        await eventually(lambda: status(bot) == "response_received")

        # 3. the registrator answers her notification with "skicka"
        to_rut = (await eventually(lambda: [m for m in mails(smtp, rut)
                                            if NUMBER in str(m["Subject"])]))[0]
        await asyncio.to_thread(deliver, answer(to_rut, RUT, "skicka"))
        await eventually(lambda: status(bot) == "response_sent")

        # 4. the manager answers the first notification again: "avsluta"
        await asyncio.to_thread(deliver, answer(notice, ANNA, "avsluta"))
        await eventually(lambda: status(bot) == "closed")
        await eventually(lambda: len([m for m in mails(smtp, anna) if m["In-Reply-To"]]) == 2)

    try:
        run_bot(bot, scenario)
        sent = mails(smtp, region)
        assert len(sent) == 1                        # the response went on, once
        whole = readable(sent[0])
        assert "Rutinen för insulin" in whole
        assert "vi tittar på det" not in whole       # the one-word answer never left
        case = bot.store.get_case(parse_diary_number(NUMBER, "VOK"))
        assert [d.type for d in case.documents] == ["deviation", "response", "sent"]
        outcomes = [bot.store.mail_seen(_key(raw))["outcome"] for raw in delivered]
        assert outcomes == ["new_case", "command", "added_to_case", "command", "command"]
    finally:
        bot.close()


def _key(raw: bytes) -> str:
    mid = email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]
    return "mid:" + str(mid).strip("<>").lower()


def test_a_forged_answer_changes_nothing(org, tmp_path, dovecot, smtp):
    bot = build(imap_settings(trusted(org), tmp_path / "data", dovecot, smtp))
    anna, rut = "anna.andersson@exempelby.se", "rut.registrator@exempelby.se"

    async def scenario():
        await asyncio.to_thread(dovecot.deliver, USER, deviation(1))
        notice = (await eventually(lambda: mails(smtp, anna)))[0]
        forged = answer(notice, ANNA, "registrerad", dmarc="fail")
        await asyncio.to_thread(dovecot.deliver, USER, forged)
        # the registrator is asked about it; nothing else happens
        triage = (await eventually(lambda: [m for m in mails(smtp, rut)
                                            if "bedömning" in str(m["Subject"])]))[0]
        assert "dmarc=fail" in triage.get_content()
        await eventually(lambda: not dovecot.messages(USER, "INBOX"))

    try:
        run_bot(bot, scenario)
        assert status(bot) == "diarised"
        assert len(mails(smtp, anna)) == 1           # no answer to a forged sender
        case = bot.store.get_case(parse_diary_number(NUMBER, "VOK"))
        assert [d.type for d in case.documents] == ["deviation"]
    finally:
        bot.close()


def test_the_units_response_written_as_an_answer_reaches_the_case_through_the_registrator(
        org, tmp_path, dovecot, smtp):
    """Anna answers the notification with the response itself: it is not filed on its own;
    Rut is asked, with the case suggested, and answers "koppla": now it is the response."""
    bot = build(imap_settings(trusted(org), tmp_path / "data", dovecot, smtp))
    anna, rut = "anna.andersson@exempelby.se", "rut.registrator@exempelby.se"

    async def scenario():
        await asyncio.to_thread(dovecot.deliver, USER, deviation(1))
        notice = (await eventually(lambda: mails(smtp, anna)))[0]
        prose = answer(notice, ANNA, "Hej! Vi har utrett händelsen och ändrat rutinen för insulin.")
        await asyncio.to_thread(dovecot.deliver, USER, prose)
        asked = (await eventually(lambda: [m for m in mails(smtp, rut)
                                           if "bedömning" in str(m["Subject"])]))[0]
        assert "svar på en avisering" in asked.get_content()
        assert status(bot) == "diarised"                 # not into the case by itself
        await asyncio.to_thread(dovecot.deliver, USER, answer(asked, RUT, "koppla"))
        await eventually(lambda: status(bot) == "response_received")

    try:
        run_bot(bot, scenario)
        case = bot.store.get_case(parse_diary_number(NUMBER, "VOK"))
        assert [d.type for d in case.documents] == ["deviation", "response"]
    finally:
        bot.close()
