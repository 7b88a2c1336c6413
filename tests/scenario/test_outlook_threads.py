"""Threads Outlook keeps, over a real Dovecot and SMTP server: the counterpart writes from
Outlook (Thread-Topic, Thread-Index), the bot's notification and its `skicka` carry both —
continuing the counterpart's index — and the counterpart's Outlook answer to that lands in
the same case."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.app import build
from bot.domain.access import Actor
from bot.mail import threadindex as ti
from tests.fakes.mail import make_mail
from tests.scenario.test_act_by_reply import mails, status
from tests.scenario.test_mail_imap import LISA, USER, imap_settings, run_bot, smtp  # noqa: F401
from tests.scenario.test_mail_imap import eventually as _eventually

TOPIC = "Avvikelse Hemtjänst Norr – utebliven insulindos"
STARTED = datetime(2026, 11, 16, 8, 0, tzinfo=timezone.utc)


async def eventually(check, timeout: float = 90.0):
    """Polls until true; generous, as the machine running the tests may be busy."""
    return await _eventually(check, timeout)


def outlook(subject: str, body: str, index: bytes, **kw) -> bytes:
    return make_mail(sender=LISA, subject=subject, body=body,
                     headers={"Thread-Topic": TOPIC, "Thread-Index": ti.encode(index),
                              "X-MS-Has-Attach": "", "X-MS-TNEF-Correlator": ""}, **kw)


def test_outlook_threads_round_trip(org, tmp_path, dovecot, smtp):
    bot = build(imap_settings(org, tmp_path / "data", dovecot, smtp))
    theirs = ti.new_index(STARTED, "lisa's first mail")
    region, anna = "patientsakerhet@regionexempel.se", "anna.andersson@exempelby.se"

    async def scenario():
        await asyncio.to_thread(dovecot.deliver, USER, outlook(TOPIC, "Vi anmäler en avvikelse.", theirs))
        notice = (await eventually(lambda: mails(smtp, anna)))[0]
        assert notice["Thread-Topic"] == str(notice["Subject"])
        assert len(ti.parse(notice["Thread-Index"])) == 22       # a conversation of its own
        response = make_mail(sender="Anna Andersson <anna.andersson@exempelby.se>",
                             subject="VOK 2026/0001 Svar", body="Rutinen är ändrad.")
        await asyncio.to_thread(dovecot.deliver, USER, response)
        await eventually(lambda: status(bot) == "response_received")
        reply = await asyncio.to_thread(bot.services.handle_command, Actor.person("rut"),
                                        "skicka VOK 2026/0001", "cli")
        assert reply.ok, reply.text
        sent = (await eventually(lambda: mails(smtp, region)))[0]
        ours = ti.parse(sent["Thread-Index"])
        assert ours[:22] == theirs and len(ours) == 27          # continues the counterpart's
        assert sent["Thread-Topic"] == str(sent["Subject"])
        # the counterpart answers from Outlook: its index continues ours
        answer = outlook(f"SV: {sent['Subject']}", "Tack, vi har tagit emot svaret.",
                         ti.answer_index(ours, STARTED + timedelta(days=3), "lisa"),
                         in_reply_to=str(sent["Message-ID"]))
        await asyncio.to_thread(dovecot.deliver, USER, answer)
        await eventually(lambda: len(bot.store.get_case_by_text("VOK 2026/0001").documents) == 4)

    try:
        run_bot(bot, scenario)
        case = bot.store.get_case_by_text("VOK 2026/0001")
        assert [d.type for d in case.documents] == ["deviation", "response", "sent", "supplement"]
        assert len(list(bot.store.all_cases())) == 1
    finally:
        bot.close()
