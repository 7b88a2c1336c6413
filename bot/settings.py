"""Settings: the organisation file and the environment, loaded and validated once.

Nothing else in the bot reads os.environ or the TOML file. A bad file is refused
with ConfigError(file, key, problem), which the CLI turns into exit code 2.
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any, Literal, Mapping, overload
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


from bot.domain.address import canonical
from bot.domain.case import KINDS, REQUEST
from bot.domain.org import (ALL_UNITS, CARE_BOTH, CARE_KINDS, LAGRUM, ROLES, SERIOUS_WORDS,
                            Counterpart, parse_lagrum,
                            Deadlines, Notifications, OfficeHours, Organisation, PatientSafety, Person, Records,
                            Subscription, Unit)
from bot.errors import ConfigError

ENV_NAMES = (
    "AVVIKELSEBOT_ENV",
    "AVVIKELSEBOT_CONFIG", "AVVIKELSEBOT_DATA", "MAIL_SOURCE",
    # the shared store (PostgreSQL) instead of the data directory's TinyDB
    "DATABASE_URL",
    "IMAP_HOST", "IMAP_PORT", "IMAP_SECURITY", "IMAP_USER", "IMAP_PASSWORD", "IMAP_FOLDER",
    "SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY", "SMTP_USER", "SMTP_PASSWORD",
    "GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_CERTIFICATE_PATH",
    "GRAPH_CERTIFICATE_THUMBPRINT", "GRAPH_MAILBOX", "GRAPH_POLL_SECONDS", "GRAPH_BASE_URL",
    "GRAPH_AUTHORITY_URL",
    "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_PORT", "SLACK_API_URL",
    "TEAMS_CLIENT_ID", "TEAMS_CLIENT_SECRET", "TEAMS_TENANT_ID", "TEAMS_PORT", "TEAMS_ANONYMOUS",
    # the web overview (bot/web): off in `run` unless WEB_PORT is set
    "WEB_BIND", "WEB_PORT", "WEB_BASE_URL", "WEB_SECURE_COOKIE", "WEB_LINK_MINUTES",
    "WEB_SESSION_HOURS", "WEB_STATE_DIR",
    # sign-in to the web with Entra ID (bot/web/entra.py)
    "WEB_ENTRA_TENANT_ID", "WEB_ENTRA_CLIENT_ID", "WEB_ENTRA_CLIENT_SECRET", "WEB_ENTRA_REDIRECT_URI",
    "WEB_ENTRA_AUTHORITY_URL",
    "SLACK_BIND", "TEAMS_BIND", "HEALTH_BIND", "HEALTH_PORT",
)
SECRET_NAMES = frozenset({"IMAP_PASSWORD", "SMTP_PASSWORD", "GRAPH_CLIENT_SECRET",
                          "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET",
                          "TEAMS_CLIENT_SECRET", "WEB_ENTRA_CLIENT_SECRET"})
MAIL_SOURCES = ("maildir", "imap", "graph")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}$")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SERIES = re.compile(r"^[A-ZÅÄÖ]{1,10}$")
# a KLASSA code ("2.3.1"), with the class's name after it if wanted ("2.3.1 Hantera avvikelser")
_UNKNOWN_KIND = "okänd typ: ange incoming, outgoing, \"klagomål\", fsn eller request"
_KLASSA = re.compile(r"^\d{1,3}(\.\d{1,3}){0,5}( \S.*)?$")

# how long delivered notifications are kept ([retention] notifications_days): two years
DEFAULT_NOTIFICATION_RETENTION_DAYS = 730

_ALLOWED = {
    "": {"organisation", "diary", "office_hours", "deadlines", "people", "units",
         "counterparts", "subscriptions", "web", "mail", "patient_safety", "records",
         "notification_preferences", "teams", "notifications", "retention"},
    "notifications": {"bundle_minutes", "info_at"},
    "notification_preferences": {"default", "working_hours_refresh_hours"},
    "teams": {"graph_chat_read"},
    "records": {"secrecy", "culling", "classification", "request_reminders"},
    "patient_safety": {"serious_words", "assess_days", "escalate_maria", "escalate_sarah"},
    "mail": {"trusted_authserv_ids", "closed_case", "outlook_absence"},
    "organisation": {"name", "language", "timezone", "internal_domains", "mailbox",
                     "mailbox_alert_minutes"},
    "diary": {"series", "digits"},
    "retention": {"notifications_days"},
    "office_hours": {"start", "end", "closed_days"},
    "deadlines": {"register", "respond", "send_response", "close", "external_response",
                  "escalate_after", "repeat_every", "acknowledged_for", "complaint_answer", "fsn"},
    "people": {"id", "name", "email", "slack", "teams", "roles"},
    "units": {"id", "name", "aliases", "managers", "slack_channel", "teams_channel", "care",
              "stand_in", "lagrum", "licensed"},
    "counterparts": {"id", "name", "aliases", "domains", "address", "automated_reports", "receipt",
                     "answer_within", "remind_automatically", "reference", "lagrum", "supplier"},
    "subscriptions": {"person", "units"},
    "web": {"managers_see_mail"},
}


@dataclass(frozen=True)
class Settings:
    config_path: Path
    data_dir: Path
    org: Organisation
    env: Mapping[str, str] = field(default_factory=dict, repr=False)  # secrets: never print
    env_file: Path | None = None      # the .env file that was read, if any (check-config says)

    def port(self, name: str, default: int) -> int:
        """A port from the environment (0–65535; 0 = any free port); the default when unset."""
        from bot.texts import t
        value = (self.env.get(name) or "").strip()
        if not value:
            return default
        if not value.isdigit() or int(value) > 65535:
            lang = self.org.language
            raise ConfigError(t(lang, "env_label"), name, t(lang, "env_bad_port", value=value))
        return int(value)

    def bind(self, name: str) -> str:
        """The address a listener binds (SLACK_BIND, TEAMS_BIND, HEALTH_BIND): an IP
        address, 127.0.0.1 unless the admin opens it up (DESIGN §8)."""
        return listen_address(self.env, name, self.org.language)

    @property
    def mail_source(self) -> str:
        return self.env.get("MAIL_SOURCE") or "maildir"

    def channels(self) -> dict[str, bool]:
        """Which channels are configured (DESIGN §9: a channel without variables is off)."""
        e = self.env
        return {
            "slack": bool(e.get("SLACK_BOT_TOKEN") and (e.get("SLACK_APP_TOKEN")
                                                        or e.get("SLACK_SIGNING_SECRET"))),
            "teams": bool(e.get("TEAMS_CLIENT_ID") or _truthy(e.get("TEAMS_ANONYMOUS"))),
            "email": bool(e.get("SMTP_HOST") or self.mail_source == "graph"),
            "console": True,
        }


LOOPBACK = "127.0.0.1"


def listen_address(env: Mapping[str, str], name: str, lang: str) -> str:
    import ipaddress
    from bot.texts import t
    value = (env.get(name) or "").strip()
    if not value:
        return LOOPBACK
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise ConfigError(t(lang, "env_label"), name, t(lang, "env_bad_bind", value=value)) from None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "ja", "on"}


# --------------------------------------------------------------------------- loading
def load_environment(environ: Mapping[str, str] | None = None,
                     dotenv_path: Path | None = None) -> dict[str, str]:
    """The bot's variables from the given .env file overlaid by the real environment. Never
    a .env of the current directory: a test or a command started in a deployed checkout must
    not pick up production secrets, and `run` started elsewhere must not silently lose them."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    if dotenv_path is not None:
        if not dotenv_path.is_file():
            raise ConfigError(str(dotenv_path), "AVVIKELSEBOT_ENV", "filen finns inte")
        from dotenv import dotenv_values     # only when there is a file to read
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if k in ENV_NAMES and v})
    values.update({k: v for k, v in environ.items() if k in ENV_NAMES and v})
    return values


def env_file_for(explicit: str | Path | None, environ: Mapping[str, str],
                 config: str | Path | None) -> Path | None:
    """Where secrets are read from: --env, else AVVIKELSEBOT_ENV, else `.env` beside the
    organisation file when there is one; never the current directory."""
    named = explicit or environ.get("AVVIKELSEBOT_ENV")
    if named:
        return Path(named)
    if config:
        beside = Path(config).parent / ".env"
        if beside.is_file():
            return beside
    return None


def load_settings(config: str | Path | None, data: str | Path | None,
                  environ: Mapping[str, str] | None = None,
                  env_file: str | Path | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    dotenv_path = env_file_for(env_file, environ, config or environ.get("AVVIKELSEBOT_CONFIG"))
    env = load_environment(environ, dotenv_path)
    config_path = Path(config or env.get("AVVIKELSEBOT_CONFIG") or "")
    if not str(config_path) or str(config_path) == ".":
        raise ConfigError("--config", "AVVIKELSEBOT_CONFIG",
                          "ingen organisationsfil angiven (kopiera config/organisation.example.toml)")
    if dotenv_path is None:       # AVVIKELSEBOT_CONFIG came from nowhere else: look beside it
        dotenv_path = env_file_for(None, environ, config_path)
        if dotenv_path is not None:
            env = load_environment(environ, dotenv_path)
    data_dir = Path(data or env.get("AVVIKELSEBOT_DATA") or "data")
    org = load_organisation(config_path)
    source = env.get("MAIL_SOURCE") or "maildir"
    if source not in MAIL_SOURCES:
        raise ConfigError("miljön", "MAIL_SOURCE", f"'{source}' är inte en av {', '.join(MAIL_SOURCES)}")
    return Settings(config_path=config_path, data_dir=data_dir, org=org, env=env,
                    env_file=dotenv_path)


_AGREEMENT = re.compile(
    r"^\s*(?P<n>\d{1,3})\s*(?P<unit>kalenderdagar|kalenderdag|dagar|dag|arbetsdagar|arbetsdag"
    r"|calendar days?|days?|business days?|working days?)?\s*$", re.IGNORECASE)


def parse_agreement(value: object) -> tuple[int, bool] | None:
    """A counterpart's answer_within: "60 kalenderdagar" -> (60, True), "20 arbetsdagar" or
    20 -> (20, False). Plain "dagar"/"days" are calendar days, as in an agreement's text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, False) if 0 < value < 1000 else None
    m = _AGREEMENT.match(value) if isinstance(value, str) else None
    if m is None or not 0 < int(m["n"]) < 1000:
        return None
    unit = (m["unit"] or "arbetsdagar").lower()
    return int(m["n"]), not unit.startswith(("arbetsdag", "business", "working"))


def load_organisation(path: Path) -> Organisation:
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(name, "-", "filen finns inte") from None
    except OSError as exc:
        raise ConfigError(name, "-", f"kan inte läsas: {exc.strerror}") from exc
    try:
        # utf-8-sig: Notepad and some editors start the file with a byte order mark
        doc = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ConfigError(name, "-", "filen är inte UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(name, "-", f"ogiltig TOML: {exc}") from exc
    return _OrganisationReader(name, doc).read()


class _OrganisationReader:
    """Turns the TOML document into an Organisation, naming the key of every problem."""

    def __init__(self, file: str, doc: dict[str, Any]):
        self.file = file
        self.doc = doc

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    # --- typed getters ----------------------------------------------------------
    def _check_keys(self, section: str, table: dict, key_prefix: str) -> None:
        allowed = _ALLOWED[section]
        for key in table:
            if key not in allowed:
                raise self.fail(f"{key_prefix}{key}",
                                f"okänd nyckel (tillåtna: {', '.join(sorted(allowed))})")

    def _table(self, key: str, required: bool = True) -> dict:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise self.fail(f"[{key}]", "avsnittet saknas")
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"[{key}]", "ska vara en tabell")
        self._check_keys(key, value, f"{key}.")
        return value

    def _array(self, key: str) -> list[dict]:
        value = self.doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(f"[[{key}]]", "ska vara en lista av tabeller ([[...]])")
        for i, item in enumerate(value):
            self._check_keys(key, item, f"{key}[{i}].")
        return value

    @overload
    def _str(self, table: dict, key: str, path: str, *, required: Literal[True] = True,
             default: None = None) -> str: ...

    @overload
    def _str(self, table: dict, key: str, path: str, *, required: bool,
             default: str | None = None) -> str | None: ...

    def _str(self, table: dict, key: str, path: str, *, required: bool = True,
             default: str | None = None) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(path, "saknas")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, "ska vara en icke-tom text")
        return value.strip()

    def _str_list(self, table: dict, key: str, path: str, *, required: bool = False) -> list[str]:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(path, "saknas")
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(path, "ska vara en lista av texter")
        return [v.strip() for v in value]

    def _int(self, table: dict, key: str, path: str, default: int, low: int, high: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"ska vara ett heltal mellan {low} och {high}, inte {value!r}")
        return value

    def _time(self, table: dict, key: str, path: str, default: time) -> time:
        value = table.get(key)
        if value is None:
            return default
        if isinstance(value, time):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
            hours, minutes = (int(p) for p in value.strip().split(":"))
            if hours < 24 and minutes < 60:
                return time(hours, minutes)
        raise self.fail(path, f"ska vara en tid som \"08:00\", inte {value!r}")

    # --- sections -----------------------------------------------------------------
    def read(self) -> Organisation:
        self._check_keys("", self.doc, "")
        org = self._table("organisation")
        diary = self._table("diary", required=False)
        hours = self._table("office_hours", required=False)
        deadlines = self._table("deadlines", required=False)

        language = self._str(org, "language", "organisation.language", required=False, default="sv")
        if language not in ("sv", "en"):
            raise self.fail("organisation.language", f"ska vara \"sv\" eller \"en\", inte {language!r}")
        timezone = self._str(org, "timezone", "organisation.timezone", required=False,
                             default="Europe/Stockholm") or "Europe/Stockholm"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("organisation.timezone", f"okänd tidszon {timezone!r}") from None
        domains = [d.lower() for d in self._str_list(org, "internal_domains",
                                                     "organisation.internal_domains", required=True)]
        if not domains:
            raise self.fail("organisation.internal_domains", "minst en domän behövs")
        for i, d in enumerate(domains):
            if not _DOMAIN.match(d):
                raise self.fail(f"organisation.internal_domains[{i}]", f"{d!r} är ingen domän")
        mailbox = self._str(org, "mailbox", "organisation.mailbox").lower()
        if not _EMAIL.match(mailbox):
            raise self.fail("organisation.mailbox", f"{mailbox!r} är ingen e-postadress")

        series = self._str(diary, "series", "diary.series", required=False, default="VOK") or "VOK"
        if not _SERIES.match(series):
            raise self.fail("diary.series", "ska vara 1–10 versaler, t.ex. \"VOK\"")
        digits = self._int(diary, "digits", "diary.digits", 4, 1, 8)

        office = OfficeHours(
            start=self._time(hours, "start", "office_hours.start", time(8, 0)),
            end=self._time(hours, "end", "office_hours.end", time(16, 30)),
            closed_days=frozenset(self._closed_days(hours)),
        )
        if office.end <= office.start:
            raise self.fail("office_hours.end", "ska vara senare än office_hours.start")

        people = self._people()
        units = self._units(people)
        web = self._table("web", required=False)
        managers_see_mail = web.get("managers_see_mail", False)
        if not isinstance(managers_see_mail, bool):
            raise self.fail("web.managers_see_mail", "ska vara true eller false")
        return Organisation(
            name=self._str(org, "name", "organisation.name"),
            internal_domains=tuple(domains), mailbox=mailbox, language=language,
            timezone=timezone, series=series, digits=digits, office_hours=office,
            deadlines=self._deadlines(deadlines), people=people, units=units,
            counterparts=self._counterparts(set(domains)),
            subscriptions=self._subscriptions(people, units),
            mailbox_alert_minutes=self._int(org, "mailbox_alert_minutes",
                                            "organisation.mailbox_alert_minutes", 15, 1, 24 * 60),
            managers_see_mail=managers_see_mail,
            trusted_authserv_ids=self._trusted_authserv_ids(self._table("mail", required=False)),
            closed_case=self._closed_case(self._table("mail", required=False)),
            outlook_absence=self._flag(self._table("mail", required=False), "outlook_absence",
                                       "mail.outlook_absence"),
            teams_graph_chat_read=self._flag(self._table("teams", required=False),
                                             "graph_chat_read", "teams.graph_chat_read"),
            patient_safety=self._patient_safety(self._table("patient_safety", required=False),
                                                people),
            records=self._records(self._table("records", required=False)),
            **self._notification_preferences(office),
            notifications=self._notifications(self._table("notifications", required=False)),
            notification_retention_days=self._int(
                self._table("retention", required=False), "notifications_days",
                "retention.notifications_days", DEFAULT_NOTIFICATION_RETENTION_DAYS, 1, 36500),
        )

    def _notification_preferences(self, office: OfficeHours) -> dict[str, Any]:
        from bot.domain.notify import BATCHED, parse_preference
        table = self._table("notification_preferences", required=False)
        default = self._str(table, "default", "notification_preferences.default",
                            required=False, default="") or ""
        preference = parse_preference(default) if default else None
        if default and preference is None:
            raise self.fail("notification_preferences.default",
                            f"ska vara \"omedelbart\", \"samlat TT:MM\", \"tyst\" eller \"dygnet runt\", "
                            f"inte {default!r}")
        if preference is not None and preference.mode == BATCHED and preference.at is not None and not (
                office.start <= preference.at < office.end):
            raise self.fail("notification_preferences.default",
                            f"tiden {preference.at:%H:%M} ligger utanför kontorstiden "
                            f"{office.start:%H:%M}–{office.end:%H:%M}")
        refresh = self._int(table, "working_hours_refresh_hours",
                            "notification_preferences.working_hours_refresh_hours", 4, 1, 7 * 24)
        return {"notify_default": preference.word() if preference else "",
                "working_hours_refresh_hours": refresh}

    def _flag(self, table: dict, key: str, path: str) -> bool:
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(path, "ska vara true eller false")
        return value

    def _notifications(self, table: dict) -> Notifications:
        """[notifications]: bundle_minutes (0 = every notification at once, alone) and
        info_at, the local times kännedom copies are gathered to (bot.domain.bundling)."""
        minutes = self._int(table, "bundle_minutes", "notifications.bundle_minutes",
                            Notifications().bundle_minutes, 0, 24 * 60)
        if "info_at" not in table:
            return Notifications(bundle_minutes=minutes)
        value = table["info_at"]
        if not isinstance(value, list):
            raise self.fail("notifications.info_at",
                            "ska vara en lista av tider som [\"08:00\", \"13:00\"]")
        times = tuple(sorted({self._time({"at": v}, "at", f"notifications.info_at[{i}]", time(0, 0))
                              for i, v in enumerate(value)}))
        return Notifications(bundle_minutes=minutes, info_at=times)

    def _closed_case(self, mail: dict) -> str:
        """[mail] closed_case: what a counterpart's mail to a closed case does."""
        value = mail.get("closed_case", "new_linked")
        if value not in ("new_linked", "supplement", "triage"):
            raise self.fail("mail.closed_case",
                            f"{value!r}: ange \"new_linked\", \"supplement\" eller \"triage\"")
        return value

    def _patient_safety(self, table: dict, people: dict) -> PatientSafety:
        words = tuple(w.casefold() for w in self._str_list(
            table, "serious_words", "patient_safety.serious_words")) or SERIOUS_WORDS
        days = self._int(table, "assess_days", "patient_safety.assess_days",
                         PatientSafety().assess_days, 0, 60)
        chase = {}
        for key in ("escalate_maria", "escalate_sarah"):
            ids = self._str_list(table, key, f"patient_safety.{key}")
            for i, person in enumerate(ids):
                if person not in people:
                    raise self.fail(f"patient_safety.{key}[{i}]", f"okänd person {person!r}")
            chase[key] = tuple(ids)
        return PatientSafety(serious_words=words, assess_days=days, **chase)

    def _records(self, table: dict) -> Records:
        """[records] secrecy = { incoming = "auto", outgoing = "auto" }: per kind "auto",
        "offentlig" or a paragraph of OSL ("25:1", "OSL 26 kap. 1 §")."""
        from bot.domain.records import AUTO, parse_paragraph
        rules = table.get("secrecy", {})
        if not isinstance(rules, dict):
            raise self.fail("records.secrecy", "ska vara en tabell, t.ex. { incoming = \"auto\" }")
        secrecy = dict(Records().secrecy)
        for kind, value in rules.items():
            path = f"records.secrecy.{kind}"
            if kind not in KINDS + (REQUEST,):
                raise self.fail(path, _UNKNOWN_KIND)
            if not isinstance(value, str):
                raise self.fail(path, "ska vara en text")
            parsed = AUTO if value == AUTO else parse_paragraph(value)
            if parsed is None:
                raise self.fail(path, f"{value!r}: ange \"auto\", \"offentlig\" eller en paragraf "
                                      "i OSL, t.ex. \"25:1\"")
            secrecy[kind] = parsed
        culling = table.get("culling", {})
        if not isinstance(culling, dict):
            raise self.fail("records.culling", "ska vara en tabell, t.ex. { incoming = \"Beslut …\" }")
        for kind, decision in culling.items():
            path = f"records.culling.{kind}"
            if kind not in KINDS + (REQUEST,):
                raise self.fail(path, _UNKNOWN_KIND)
            if not isinstance(decision, str) or not decision.strip():
                raise self.fail(path, "ange gallringsbeslutet som text (vem, när, paragraf)")
        classification = table.get("classification", {})
        if not isinstance(classification, dict):
            raise self.fail("records.classification",
                            "ska vara en tabell, t.ex. { incoming = \"2.3.1\" } (KLASSA)")
        for kind, code in classification.items():
            path = f"records.classification.{kind}"
            if kind not in KINDS + (REQUEST,):
                raise self.fail(path, _UNKNOWN_KIND)
            if not isinstance(code, str) or not _KLASSA.match(" ".join(code.split())):
                raise self.fail(path, f"{code!r}: ange en KLASSA-kod, t.ex. \"2.3.1\" eller "
                                      "\"2.3.1 Hantera avvikelser\"")
        hours = table.get("request_reminders", list(Records().request_reminders))
        if (not isinstance(hours, list) or not hours or len(hours) > 8
                or any(isinstance(h, bool) or not isinstance(h, int) or not 1 <= h <= 40
                       for h in hours)
                or any(b <= a for a, b in zip(hours, hours[1:]))):
            raise self.fail("records.request_reminders",
                            f"{hours!r}: ange kontorstimmar som växande heltal 1–40, t.ex. [2, 4]")
        return Records(secrecy=secrecy, culling={k: " ".join(v.split()) for k, v in culling.items()},
                       classification={k: " ".join(v.split()) for k, v in classification.items()},
                       request_reminders=tuple(hours))

    def _stand_in(self, item: dict, path: str, people: dict) -> str | None:
        stand_in = self._str(item, "stand_in", f"{path}.stand_in", required=False)
        if stand_in is not None and stand_in not in people:
            raise self.fail(f"{path}.stand_in", f"okänd person {stand_in!r}")
        return stand_in

    def _lagrum(self, item: dict, path: str) -> str | None:
        """A unit's or counterpart's `lagrum`: "HSL", "SoL" or "LSS" (issue 26)."""
        value = item.get("lagrum")
        if value is None:
            return None
        law = parse_lagrum(value) if isinstance(value, str) and len(value.split()) == 1 else None
        if law is None:
            raise self.fail(f"{path}.lagrum", f"{value!r}: ange " + ", ".join(
                repr(law) for law in LAGRUM))
        return law

    def _licensed(self, item: dict, path: str, people: dict) -> str | None:
        """The unit's licensed contact for HSL cases: a person with the role "ma"."""
        person = self._str(item, "licensed", f"{path}.licensed", required=False)
        if person is None:
            return None
        if person not in people:
            raise self.fail(f"{path}.licensed", f"okänd person {person!r}")
        if "ma" not in people[person].roles:
            raise self.fail(f"{path}.licensed", f"{person!r} har inte rollen ma (medicinskt "
                                                "ansvarig, den som utreder enligt HSL)")
        return person

    def _care(self, item: dict, path: str) -> str:
        care = item.get("care", CARE_BOTH)
        if care not in CARE_KINDS:
            raise self.fail(f"{path}.care", "ska vara " + ", ".join(repr(c) for c in CARE_KINDS))
        return str(care)

    def _trusted_authserv_ids(self, mail: dict) -> tuple[str, ...]:
        """[mail] trusted_authserv_ids: host names, "*.domain" patterns or "exchange-online"."""
        from bot.mail.trust import valid_trust_entry
        ids = [v.lower() for v in self._str_list(mail, "trusted_authserv_ids", "mail.trusted_authserv_ids")]
        for i, value in enumerate(ids):
            if not valid_trust_entry(value):
                raise self.fail(f"mail.trusted_authserv_ids[{i}]",
                                f"{value!r}: ange ett värdnamn (mx.exempelby.se), ett mönster "
                                "(*.exempelby.se) eller \"exchange-online\"")
        return tuple(dict.fromkeys(ids))

    def _closed_days(self, hours: dict) -> list[date]:
        result = []
        raw = hours.get("closed_days", [])
        if not isinstance(raw, list):
            raise self.fail("office_hours.closed_days", "ska vara en lista av datum")
        for i, value in enumerate(raw):
            if isinstance(value, date):
                result.append(value)
                continue
            try:
                result.append(date.fromisoformat(str(value)))
            except ValueError:
                raise self.fail(f"office_hours.closed_days[{i}]",
                                f"{value!r} är inget datum ÅÅÅÅ-MM-DD") from None
        return result

    def _deadlines(self, table: dict) -> Deadlines:
        days = {key: self._int(table, key, f"deadlines.{key}", getattr(Deadlines(), key), 0, 365)
                for key in ("register", "send_response", "close", "external_response",
                            "escalate_after", "acknowledged_for", "complaint_answer", "fsn")}
        days["repeat_every"] = self._int(table, "repeat_every", "deadlines.repeat_every", 2, 1, 365)
        respond = dict(Deadlines().respond)
        given = table.get("respond", {})
        if not isinstance(given, dict):
            raise self.fail("deadlines.respond", "ska vara en tabell { red = 5, yellow = 10, ... }")
        for key in given:
            if key not in respond:
                raise self.fail(f"deadlines.respond.{key}",
                                "okänd allvarlighetsgrad (red, yellow, green, unassessed)")
            respond[key] = self._int(given, key, f"deadlines.respond.{key}", 10, 0, 365)
        return Deadlines(respond=respond, **days)

    def _unique_id(self, item: dict, path: str, seen: set[str]) -> str:
        ident = self._str(item, "id", f"{path}.id")
        if not _ID.match(ident):
            raise self.fail(f"{path}.id", f"{ident!r}: använd gemener, siffror, - och _")
        if ident in seen:
            raise self.fail(f"{path}.id", f"{ident!r} finns redan")
        seen.add(ident)
        return ident

    def _people(self) -> dict[str, Person]:
        people: dict[str, Person] = {}
        emails: set[str] = set()
        for i, item in enumerate(self._array("people")):
            path = f"people[{i}]"
            ident = self._unique_id(item, path, set(people))
            email = self._str(item, "email", f"{path}.email").lower()
            if not _EMAIL.match(email):
                raise self.fail(f"{path}.email", f"{email!r} är ingen e-postadress")
            if canonical(email) in emails:
                raise self.fail(f"{path}.email", f"{email!r} används redan av en annan person")
            emails.add(canonical(email))
            roles = self._str_list(item, "roles", f"{path}.roles", required=True)
            if not roles:   # a person without a role could do nothing and would get nothing
                raise self.fail(f"{path}.roles", f"minst en roll behövs ({', '.join(ROLES)})")
            for role in roles:
                if role not in ROLES:
                    raise self.fail(f"{path}.roles", f"okänd roll {role!r} (tillåtna: {', '.join(ROLES)})")
            people[ident] = Person(
                id=ident, name=self._str(item, "name", f"{path}.name"), email=email,
                roles=frozenset(roles),
                slack=self._str(item, "slack", f"{path}.slack", required=False),
                teams=self._str(item, "teams", f"{path}.teams", required=False))
        if not any("registrator" in p.roles for p in people.values()):
            raise self.fail("[[people]]", "minst en person med rollen \"registrator\" behövs "
                                          "(triage och saknad enhet går till registrator)")
        return people

    def _units(self, people: dict[str, Person]) -> dict[str, Unit]:
        units: dict[str, Unit] = {}
        names: dict[str, str] = {}
        for i, item in enumerate(self._array("units")):
            path = f"units[{i}]"
            ident = self._unique_id(item, path, set(units))
            managers = self._str_list(item, "managers", f"{path}.managers")
            for manager in managers:
                if manager not in people:
                    raise self.fail(f"{path}.managers", f"okänd person {manager!r}")
                if "manager" not in people[manager].roles:
                    raise self.fail(f"{path}.managers", f"{manager!r} har inte rollen manager")
            unit = Unit(id=ident, name=self._str(item, "name", f"{path}.name"),
                        aliases=tuple(self._str_list(item, "aliases", f"{path}.aliases")),
                        managers=tuple(managers),
                        slack_channel=self._str(item, "slack_channel", f"{path}.slack_channel",
                                                required=False),
                        teams_channel=self._str(item, "teams_channel", f"{path}.teams_channel",
                                                required=False),
                        care=self._care(item, path),
                        stand_in=self._stand_in(item, path, people),
                        lagrum=self._lagrum(item, path),
                        licensed=self._licensed(item, path, people))
            for name in unit.names:
                other = names.setdefault(name.casefold(), ident)
                if other != ident:
                    raise self.fail(f"{path}.aliases", f"namnet {name!r} används redan av enheten {other!r}")
            units[ident] = unit
        if not units:
            raise self.fail("[[units]]", "minst en enhet behövs")
        return units

    def _counterparts(self, internal: set[str]) -> dict[str, Counterpart]:
        result: dict[str, Counterpart] = {}
        for i, item in enumerate(self._array("counterparts")):
            path = f"counterparts[{i}]"
            ident = self._unique_id(item, path, set(result))
            domains = [d.lower().lstrip("@") for d in self._str_list(item, "domains", f"{path}.domains")]
            for d in domains:
                if not _DOMAIN.match(d):
                    raise self.fail(f"{path}.domains", f"{d!r} är ingen domän")
                if d in internal:
                    raise self.fail(f"{path}.domains", f"{d!r} är en av organisationens egna domäner")
            address = self._str(item, "address", f"{path}.address", required=False)
            if address and not _EMAIL.match(address):
                raise self.fail(f"{path}.address", f"{address!r} är ingen e-postadress")
            automated = item.get("automated_reports", False)
            if not isinstance(automated, bool):
                raise self.fail(f"{path}.automated_reports", "ska vara true eller false")
            receipt = item.get("receipt", False)
            remind = item.get("remind_automatically", False)
            for key, value in (("receipt", receipt), ("remind_automatically", remind)):
                if not isinstance(value, bool):
                    raise self.fail(f"{path}.{key}", "ska vara true eller false")
            reference = item.get("reference")
            if reference is not None:
                try:
                    if not isinstance(reference, str) or not reference or len(reference) > 200:
                        raise re.error("")
                    re.compile(reference)
                except re.error:
                    raise self.fail(f"{path}.reference", "ska vara ett reguljärt uttryck, "
                                    "till exempel \"Ärende (RS-\\\\d+)\"") from None
            supplier = item.get("supplier", False)
            if not isinstance(supplier, bool):
                raise self.fail(f"{path}.supplier", "ska vara true eller false")
            within = item.get("answer_within")
            agreement = parse_agreement(within) if within is not None else None
            if within is not None and agreement is None:
                raise self.fail(f"{path}.answer_within",
                                f"{within!r}: skriv till exempel \"60 kalenderdagar\" eller \"20 arbetsdagar\"")
            result[ident] = Counterpart(
                id=ident, name=self._str(item, "name", f"{path}.name"),
                aliases=tuple(self._str_list(item, "aliases", f"{path}.aliases")),
                domains=tuple(domains), address=address.lower() if address else None,
                automated_reports=automated, receipt=receipt, answer_within=agreement,
                remind_automatically=remind, reference=reference,
                lagrum=self._lagrum(item, path), supplier=supplier)
        return result

    def _subscriptions(self, people: dict[str, Person],
                       units: dict[str, Unit]) -> tuple[Subscription, ...]:
        result = []
        for i, item in enumerate(self._array("subscriptions")):
            path = f"subscriptions[{i}]"
            person = self._str(item, "person", f"{path}.person")
            if person not in people:
                raise self.fail(f"{path}.person", f"okänd person {person!r}")
            unit_ids = self._str_list(item, "units", f"{path}.units", required=True)
            for unit_id in unit_ids:
                if unit_id != ALL_UNITS and unit_id not in units:
                    raise self.fail(f"{path}.units", f"okänd enhet {unit_id!r} (använd \"*\" för alla)")
            result.append(Subscription(person=person, units=tuple(unit_ids)))
        return tuple(result)
