"""`avvikelsebot demo`: the whole process of both kinds on the embedded default.

A temporary data directory, the sample organisation, sample Swedish mails delivered into
the Maildir inbox, people answering through the shared command grammar, and time moved
forward by a fixed clock. It needs no credentials and no network, and prints, in Swedish,
what each person would receive.
"""
from __future__ import annotations

import email
import email.policy
import importlib.resources
import tempfile
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import TextIO

from bot.app import Bot, build
from bot.chat.console import ConsoleNotifier
from bot.domain.access import Actor
from bot.domain.case import CH_CLI
from bot.ports import FixedClock
from bot.settings import Settings, load_organisation
from bot.texts import t

START = datetime(2026, 11, 16, 8, 5, tzinfo=timezone.utc)   # måndag 16 november, 09:05


def _example_config() -> Path:
    return Path(str(importlib.resources.files("config") / "organisation.example.toml"))


def _mail(sender: str, subject: str, body: str, when: datetime, message_id: str,
          in_reply_to: str | None = None, headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "Registrator VOK <registrator.vok@exempelby.se>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return bytes(msg)


class Demo:
    def __init__(self, out: TextIO, data_dir: Path):
        self.out = out
        org = load_organisation(_example_config())
        settings = Settings(config_path=_example_config(), data_dir=data_dir, org=org, env={})
        self.clock = FixedClock(START)
        self.bot: Bot = build(settings, clock=self.clock,
                              notifiers={"console": ConsoleNotifier(org, out)}, command="demo")
        self.org = org

    # ------------------------------------------------------------------ narration
    def say(self, text: str) -> None:
        self.out.write(f"\n=== {text}\n\n")

    def at(self, moment: datetime) -> None:
        self.clock.set(moment)
        local = self.bot.calendar.local(moment)
        self.out.write(f"[{local:%Y-%m-%d %H:%M}]\n")

    def arrive(self, raw: bytes) -> None:
        self.bot.mail.deliver(raw, when=self.clock.now())  # type: ignore[union-attr]  # the demo's Maildir
        lang = self.org.language
        for result in self.bot.poll_mailbox():
            number = f" {result['diary_number']}" if result["diary_number"] else ""
            self.out.write(f"Intaget: {t(lang, 'outcome_' + result['outcome'])}{number} "
                           f"– {result['reason']}\n\n")
        self.bot.services.deliver_outbox()

    def command(self, person: str, text: str) -> None:
        name = self.org.people[person].name
        self.out.write(f"{name} skriver: {text}\n")
        reply = self.bot.services.handle_command(Actor.person(person), text, CH_CLI)
        self.out.write("Boten svarar: " + reply.text.replace("\n", "\n  ") + "\n\n")
        self.bot.services.deliver_outbox()

    def last_sent(self) -> EmailMessage:
        folder = self.bot.settings.data_dir / "utkorg"
        newest = max(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
        return email.message_from_bytes(newest.read_bytes(), policy=email.policy.default)

    def show_sent(self) -> EmailMessage:
        sent = self.last_sent()
        names = [part.get_filename() or part.get_content_type() for part in sent.iter_attachments()]
        self.out.write(f"Skickat mejl (i utkorgen): Till {sent['To']} · Ämne «{sent['Subject']}» · "
                       f"In-Reply-To {sent['In-Reply-To'] or '–'} · bilagor: {len(names)}\n\n")
        return sent

    # ------------------------------------------------------------------ the story
    def incoming(self) -> None:
        self.say("1. Region Exempel mejlar en avvikelse om Hemtjänst Norr")
        self.at(START)
        self.arrive(_mail(
            "Lisa Larsson <lisa.larsson@regionexempel.se>",
            "Avvikelse – utebliven insulindos vid hemgång",
            "Hej!\n\nVi vill rapportera en avvikelse. Patienten (19121212-1212) skrevs ut från "
            "avdelning 12 till Hemtjänst Norr. Insulindosen på kvällen gavs inte.\n"
            "Allvarlighetsgrad: gul\n\nMed vänlig hälsning\nLisa Larsson\nPatientsäkerhetsenheten",
            START - timedelta(minutes=20), "<a1@regionexempel.se>"))
        self.say("2. Anna registrerar avvikelsen i verksamhetssystemet och lägger en åtgärd")
        self.at(START + timedelta(hours=3))
        self.command("anna", "registrerad VOK 2026/1")
        self.command("anna", "åtgärd VOK 2026/1 Gå igenom rutinen för läkemedel vid hemgång senast 2026-12-04")
        self.say("3. Anna mejlar enhetens svar till registrator")
        self.at(START + timedelta(days=3, hours=1))
        self.arrive(_mail("Anna Andersson <anna.andersson@exempelby.se>",
                          "SV: VOK 2026/0001 Avvikelse – utebliven insulindos vid hemgång",
                          "Hej, här är enhetens svar. Vi har gått igenom händelsen med personalen.",
                          START + timedelta(days=3, hours=1), "<svar1@exempelby.se>"))
        self.say("4. Rut skickar svaret till Region Exempel med ett klick")
        self.at(START + timedelta(days=3, hours=2))
        self.command("rut", "skicka VOK 2026/1")
        self.show_sent()
        self.say("5. Sven (SAS) frågar om läget")
        self.command("sven", "status VOK 2026/1")
        self.say("6. Anna avslutar – först med en öppen åtgärd, sedan när den är klar")
        self.at(START + timedelta(days=7))
        self.command("anna", "avsluta VOK 2026/1")
        self.command("anna", "åtgärd klar VOK 2026/1 1")
        self.command("anna", "avsluta VOK 2026/1")

    def outgoing(self) -> None:
        self.say("7. Maria (MA) mejlar en utgående avvikelse om Dosapoteket, för Solgården")
        self.at(START + timedelta(days=8))
        self.arrive(_mail("Maria Medicinsson <maria.medicinsson@exempelby.se>",
                          "Avvikelse till Dosapoteket – fel dospåse levererad till Solgården",
                          "Till registrator: en boende på Solgården fick fel dospåse från Dosapoteket "
                          "den 13 november. Bedömd som röd. Skicka gärna vidare.",
                          START + timedelta(days=8), "<ut1@exempelby.se>"))
        self.say("8. Rut skickar avvikelsen till Dosapoteket")
        self.at(START + timedelta(days=8, hours=1))
        self.command("rut", "skicka VOK 2026/2")
        sent = self.show_sent()
        self.say("9. Dosapoteket svarar på mejlet – svaret hamnar i samma ärende")
        self.at(START + timedelta(days=15))
        self.arrive(_mail("Kvalitet Dosapoteket <reklamation@dosapoteket.example>",
                          f"RE: {sent['Subject']}",
                          "Hej, vi har utrett händelsen. Orsaken var en felmärkning i packningen.",
                          START + timedelta(days=15), "<dos-svar@dosapoteket.example>",
                          in_reply_to=str(sent["Message-ID"])))
        self.say("10. Cecilia för in svaret och avslutar")
        self.command("cecilia", "avsluta VOK 2026/2")

    def edge_cases(self) -> None:
        self.say("11. Ett autosvar och ett nyhetsbrev – ignoreras, ingen blir störd")
        self.at(START + timedelta(days=16, hours=1))
        self.arrive(_mail("Lisa Larsson <lisa.larsson@regionexempel.se>",
                          "Automatiskt svar: VOK 2026/0001", "Jag är på semester till och med 30/11.",
                          START + timedelta(days=16, hours=1), "<auto1@regionexempel.se>",
                          headers={"Auto-Submitted": "auto-replied"}))
        self.arrive(_mail("Vårdnytt <nyhetsbrev@vardnytt.example>",
                          "Nyhetsbrev: nya riktlinjer för avvikelsehantering",
                          "Läs om årets nyheter inom patientsäkerhet.",
                          START + timedelta(days=16, hours=1), "<nl-77@vardnytt.example>",
                          headers={"List-Unsubscribe": "<mailto:avregistrera@vardnytt.example>",
                                   "Precedence": "bulk"}))
        self.say("12. En avvikelse som nämner två enheter – Rut väljer enhet")
        self.arrive(_mail("Folktandvården <kvalitet@ftvexempel.se>",
                          "Avvikelse vid tandvårdsbesök",
                          "Avvikelse: en brukare från Björkhagen, tidigare på Solgården, kom utan "
                          "tandvårdskort till besöket.", START + timedelta(days=16, hours=1),
                          "<ftv1@ftvexempel.se>"))
        self.command("rut", "enhet VOK 2026/3 Björkhagen")
        self.say("13. Ett mejl som inte går att avgöra – frågan går till Rut")
        self.arrive(_mail("Okänd Avsändare <info@foretag.example>", "Fråga om samverkan",
                          "Hej, vi undrar om ni har tid för ett möte nästa vecka?",
                          START + timedelta(days=16, hours=2), "<x1@foretag.example>"))
        self.say("14. Ett stavfel ger hjälp, inte ett felmeddelande")
        self.command("bengt", "statsu VOK 2026/3")

    def reminders(self) -> None:
        self.say("15. Måndag morgon: David har inte registrerat VOK 2026/0003 – påminnelse och veckoöversikt")
        self.scan(datetime(2026, 12, 7, 7, 0, tzinfo=timezone.utc))    # 08:00 i Stockholm
        self.say("16. Tisdag: inget nytt att påminna om – ingen blir störd")
        self.scan(datetime(2026, 12, 8, 7, 0, tzinfo=timezone.utc))
        self.say("17. Onsdag: en ny påminnelse till David, och eskalering till MA")
        self.scan(datetime(2026, 12, 9, 7, 0, tzinfo=timezone.utc))
        self.say("18. Registrator ser vad som är försenat; David snoozar med en orsak")
        self.at(datetime(2026, 12, 9, 9, 0, tzinfo=timezone.utc))
        self.command("rut", "försenade")
        self.command("david", "snooza VOK 2026/3 2026-12-14 väntar på journalkopia från tandvården")
        self.scan(datetime(2026, 12, 11, 7, 0, tzinfo=timezone.utc))

    def scan(self, moment: datetime) -> None:
        """What the scheduler's scan does at that moment (fast-forwarded)."""
        self.at(moment)
        fresh = [r for r in self.bot.services.run_reminders() if not r["already_sent"]]
        if not fresh:
            self.out.write("Inga nya påminnelser.\n\n")
        self.bot.services.deliver_outbox()


def run_demo(out: TextIO) -> int:
    with tempfile.TemporaryDirectory(prefix="avvikelsebot-demo-") as tmp:
        demo = Demo(out, Path(tmp) / "data")
        out.write("Avvikelsebot – demo med Exempelby kommuns vård- och omsorgskontor\n"
                  f"(datakatalog {tmp}, inga nätverk, inga lösenord)\n")
        try:
            demo.incoming()
            demo.outgoing()
            demo.edge_cases()
            demo.reminders()
        finally:
            demo.bot.close()
        out.write("\nDemo klar.\n")
    return 0
