"""The web overview as people meet it: a real `avvikelsebot web` process on 127.0.0.1 over a
data directory filled through the product's own store and intake, and a small HTTP client
that signs in with a one-time link like a browser does."""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

from bot.web.auth import LoginLinks
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.report_cases import fixed_cases

# a mail with a personnummer in its text, markup in its subject and an HTML attachment:
# what the pages must redact, escape and never run
PNR = "19121212-1212"
MAIL_ARRIVED = datetime(2027, 1, 11, 8, 0, tzinfo=timezone.utc)   # VOK 2027/0001


def hostile_mail() -> bytes:
    message = EmailMessage()
    message["From"] = "Patientsäkerhet <avvikelse@regionexempel.se>"
    message["To"] = "registrator.vok@exempelby.se"
    message["Subject"] = "Avvikelse Hemtjänst Norr <b>fel dos</b> – Er ref RX-4711"
    message["Message-ID"] = "<hostile-1@regionexempel.se>"
    message["Date"] = "Mon, 11 Jan 2027 09:00:00 +0100"
    message.set_content(f"Patienten {PNR} fick fel dos.\n<script>alert('x')</script>\n"
                        "Allvarlighetsgrad: gul\n")
    message.add_attachment(b"<html><script>alert(1)</script>rapport</html>", maintype="text",
                           subtype="html", filename="rapport.html")
    return message.as_bytes()


def fill_diary(bot) -> None:
    """The fixed two years of cases, then one real mail through intake (with its raw file)."""
    for case in fixed_cases():
        bot.store.put_case(case)
    bot.store.commit()
    results = bot.services.ingest_many([(hostile_mail(), MAIL_ARRIVED, None)])
    assert results[0]["outcome"] == "new_case" and results[0]["diary_number"] == "VOK 2027/0001", results


@dataclass
class WebProcess:
    """`avvikelsebot web` in its own process; fails the test (never skips) if it cannot start."""
    data_dir: Path
    env: dict = field(default_factory=dict)
    config: Path = EXAMPLE_CONFIG
    process: subprocess.Popen | None = None
    url: str = ""

    def start(self, timeout: float = 30.0) -> "WebProcess":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "AVVIKELSEBOT_"))}
        env.update({"WEB_PORT": "0", "PYTHONPATH": str(REPO), **self.env})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--config", str(self.config), "--data",
             str(self.data_dir), "web"], cwd=REPO, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"(http://127\.0\.0\.1:\d+)", line)
            if found:
                self.url = found.group(1)
                return self
        self.stop()
        raise AssertionError("`avvikelsebot web` did not start:\n" + "".join(seen))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def link(self, settings, person: str, now: datetime | None = None) -> str:
        """A one-time link as `web-link` would print it, pointed at this server (with
        DATABASE_URL in the settings, issued into the database, as `web-link` does)."""
        from bot.app import web_state
        state = web_state(settings)
        try:
            url = LoginLinks(settings, tokens=state.tokens).issue_login_link(
                person, now or datetime.now(timezone.utc))
        finally:
            state.close()
        return self.url + urlsplit(url).path


@dataclass
class Page:
    status: int
    body: str
    headers: dict


class Client:
    """Just enough of a browser: keeps the session cookie, does not follow redirects."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.cookie = ""

    def request(self, method: str, path: str, headers: dict | None = None) -> Page:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {**({"Cookie": self.cookie} if self.cookie else {}), **(headers or {})}
        connection.request(method, path, headers=headers)
        response = connection.getresponse()
        body = response.read()
        headers = {k.lower(): v for k, v in response.getheaders()}
        connection.close()
        if "set-cookie" in headers:
            self.cookie = headers["set-cookie"].split(";", 1)[0]
        return Page(response.status, body.decode("utf-8", "replace"), headers)

    def get(self, path: str) -> Page:
        return self.request("GET", path)

    def sign_in(self, link: str) -> Page:
        return self.request("POST", urlsplit(link).path)


# --------------------------------------------------------------------------- a busy office
LONG_UNIT = ("Hemtjänst Norr – hemtjänstgruppen Västra Kyrkbacken, Östra Ängsbacka och "
             "Norra Stenhammarsvägen med nattpatrull")
LONG_SUBJECT = ("Avvikelse läkemedelshantering: ordinerad dos av Alvedon, Waran och Metformin "
                "gavs inte enligt signeringslistan under helgen, anhöriga informerade, "
                "Er referens RX-2026-000123456789")


def busy_office(folder: Path) -> Path:
    """The example organisation with long unit and counterpart names, as real offices have."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    text = text.replace('name = "Hemtjänst Norr"', f'name = "{LONG_UNIT}"', 1)
    text = text.replace('name = "Björkhagens korttidsboende"',
                        'name = "Björkhagens korttidsboende och växelvårdsenhet för personer '
                        'med demenssjukdom"', 1)
    config = folder / "organisation.toml"
    config.write_text(text, encoding="utf-8")
    return config


def fill_busy_diary(bot, org, now: datetime, count: int = 140, first_seq: int = 1) -> list[str]:
    """Many open cases of one unit (many overdue) with long subjects, made through the
    process's own open_case; returns their numbers, oldest first."""
    from datetime import timedelta
    from bot.domain.access import Actor
    from bot.domain.case import CH_MAIL, DOC_DEVIATION, INCOMING, Document, iso
    from bot.domain.diary import DiaryNumber
    from bot.domain.process import Context, open_case
    numbers = []
    for seq in range(first_seq, first_seq + count):
        arrived = now - timedelta(days=(first_seq + count - seq) % 60 + 1, hours=seq % 7)
        number = DiaryNumber(now.year, seq)
        document = Document(no=1, type=DOC_DEVIATION, received=iso(arrived),
                            sender="avvikelse@regionexempel.se",
                            subject=f"{LONG_SUBJECT} ({seq})", message_id=f"<busy-{seq}@test>")
        ctx = Context(org=org, actor=Actor.mail("avvikelse@regionexempel.se"), channel=CH_MAIL,
                      now=arrived)
        case = open_case(number=number.format(4), key=number.key, kind=INCOMING,
                         title=f"{LONG_SUBJECT} ({seq})", document=document,
                         unit="hemtjanst-norr", counterpart="region-exempel",
                         severity=("red", "yellow", "green")[seq % 3], conversation_id=None,
                         ctx=ctx).case
        bot.store.put_case(case)
        numbers.append(case.number)
    bot.store.commit()
    return numbers
