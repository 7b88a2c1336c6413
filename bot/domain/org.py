"""The organisation as plain data: people, units, counterparts, deadlines.

Built once from the configuration (bot/settings.py) and handed to the pure rules.
Nothing here reads files or the environment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from typing import Mapping

from bot.domain.address import LookAlikes, canonical, domain_matches

ROLES = ("manager", "ma", "sas", "registrator")
OVERSIGHT_ROLES = frozenset({"registrator", "ma", "sas"})
SEVERITIES = ("green", "yellow", "red")
ALL_UNITS = "*"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    roles: frozenset[str]
    slack: str | None = None
    teams: str | None = None

    @property
    def has_oversight(self) -> bool:
        """Registrator, MA and SAS see and may act on every case."""
        return bool(self.roles & OVERSIGHT_ROLES)


# a unit's kind of care decides who assesses Lex Maria (MA, health care) or Lex Sarah (SAS,
# social services); a unit with both has both asked
CARE_HEALTH, CARE_SOCIAL, CARE_BOTH = "hälso- och sjukvård", "socialtjänst", "båda"
CARE_KINDS = (CARE_HEALTH, CARE_SOCIAL, CARE_BOTH)
# the law a case is handled under (issue 26): hälso- och sjukvårdslagen, socialtjänstlagen, LSS.
# HSL: the investigation goes to the unit's licensed contact (the MA) and Lex Maria applies;
# SoL and LSS: the enhetschef investigates and Lex Sarah applies
HSL, SOL, LSS = "HSL", "SoL", "LSS"
LAGRUM = (HSL, SOL, LSS)


def parse_lagrum(text: str | None) -> str | None:
    """'hsl', 'SoL', 'lss', 'HSL (läkemedel)' -> the law's canonical spelling, else None."""
    words = (text or "").split()
    word = words[0].strip(" \t.,;:!()*").casefold() if words else ""
    return next((law for law in LAGRUM if law.casefold() == word), None)


# words in a deviation that signal serious harm (IVO: vårdskada, missförhållande)
SERIOUS_WORDS = ("allvarlig vårdskada", "allvarlig skada", "avled", "avlidit", "dödsfall",
                 "missförhållande", "lex maria", "lex sarah")


@dataclass(frozen=True)
class PatientSafety:
    """[patient_safety]: when a case asks for a Lex Maria / Lex Sarah assessment, and how
    many business days the assessor has before reminders and escalation."""
    serious_words: tuple[str, ...] = SERIOUS_WORDS
    assess_days: int = 2
    # who is chased when the assessment is late: for Lex Maria (HSL) the verksamhetschef
    # enligt HSL or the MA's own stand-in, for Lex Sarah (SoL/LSS) the socialchef; never the
    # other function (a SAS does not answer for a Lex Maria assessment). Unset: the registrators.
    escalate_maria: tuple[str, ...] = ()
    escalate_sarah: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notifications:
    """[notifications]: bundling (bot.domain.bundling). Within `bundle_minutes` every
    reminder, escalation and kännedom copy for one person on one channel is one message
    (0 = off: every notification its own message, at once). Kännedom copies are held to the
    next of `info_at` (local times on business days) so an MA/SAS following every unit gets
    them a few times a day, not with every mail; empty = only the window."""
    bundle_minutes: int = 10
    info_at: tuple[time, ...] = (time(8, 0), time(13, 0))


@dataclass(frozen=True)
class Records:
    """[records]: the secrecy marking a document gets by its case's kind: "auto" (OSL 25:1 or
    26:1 by the unit's care), "offentlig", or a paragraph ("OSL 25 kap. 1 §")."""
    secrecy: Mapping[str, str] = field(default_factory=lambda: {"incoming": "auto",
                                                                "outgoing": "auto",
                                                                "request": "offentlig"})
    # the gallring decision per kind (e.g. "Gallringsbeslut SN 2025-03-12 § 41: avvikelser
    # gallras 2 år efter avslut"): a kind without one is never culled
    culling: Mapping[str, str] = field(default_factory=dict)
    # the KLASSA code per kind for the archive export ("2.3.1" or "2.3.1 Hantera avvikelser");
    # `arkivera` refuses a year with a kind that has none
    classification: Mapping[str, str] = field(default_factory=dict)
    # a request for documents (utlämna): the registrators are reminded this many office hours
    # after it came in, then again every last-of-these hours until a decision is recorded
    # ("skyndsamt", JO 4209-09: normally the same day)
    request_reminders: tuple[int, ...] = (2, 4)


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    slack_channel: str | None = None
    teams_channel: str | None = None
    care: str = CARE_BOTH
    stand_in: str | None = None      # gets the managers' notifications while they are away
    # the law its cases fall under when its care does not say (an LSS group home has care
    # "socialtjänst" and lagrum "LSS"); None: by its care (bot.domain.lagrum)
    lagrum: str | None = None
    # the licensed contact who investigates its HSL cases (a person with role "ma"); None: the
    # MA subscribed to the unit, else every MA
    licensed: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Counterpart:
    id: str
    name: str
    aliases: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    address: str | None = None
    # its reporting system marks reports Auto-Submitted: auto-generated; diarise them (DESIGN §4)
    automated_reports: bool = False
    # opt-in: a receipt with our diary number for each deviation they send (never the body)
    receipt: bool = False
    # the agreed time for their answer to our deviation ("60 kalenderdagar", "20 arbetsdagar"):
    # (days, calendar days?); None: the organisation's deadlines.external_response
    answer_within: tuple[int, bool] | None = None
    # a reminder from the functional mailbox on the agreed day, once (as `påminn`)
    remind_automatically: bool = False
    # their own case numbers, e.g. r"Ärende\s+(RS-\d+)": stored on the case, shown in status,
    # and a later mail naming it joins that case (the first group, else the whole match)
    reference: str | None = None
    # the law its deviations concern when our unit's care does not decide (a region or a
    # hospital: "HSL"); None: it says nothing
    lagrum: str | None = None
    # a supplier of medical devices: its säkerhetsmeddelanden (FSN) become cases of kind `fsn`
    supplier: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Deadlines:
    """Business days per step (DESIGN §3, §6)."""
    register: int = 2
    respond: dict[str, int] = field(
        default_factory=lambda: {"red": 5, "yellow": 10, "green": 20, "unassessed": 10})
    send_response: int = 1
    close: int = 5
    external_response: int = 20
    escalate_after: int = 3
    repeat_every: int = 2
    # `kvittera` stops a step's escalations; still open this many business days later,
    # they start again
    acknowledged_for: int = 3
    # a complaint from the public (kind klagomål): the answer to the complainant
    complaint_answer: int = 10
    # a medical-device safety notice (kind fsn): handled and answered to the supplier
    fsn: int = 10

    def respond_days(self, severity: str | None) -> int:
        return self.respond[severity or "unassessed"]


@dataclass(frozen=True)
class OfficeHours:
    start: time = time(8, 0)
    end: time = time(16, 30)
    closed_days: frozenset[date] = frozenset()


@dataclass(frozen=True)
class Subscription:
    person: str
    units: tuple[str, ...]
    paused: bool = False      # chat said "avprenumerera" to one from the organisation file

    def covers(self, unit_id: str | None) -> bool:
        return ALL_UNITS in self.units or (unit_id is not None and unit_id in self.units)


@dataclass(frozen=True)
class Organisation:
    name: str
    internal_domains: tuple[str, ...]
    mailbox: str
    language: str = "sv"
    timezone: str = "Europe/Stockholm"
    series: str = "VOK"
    digits: int = 4
    office_hours: OfficeHours = OfficeHours()
    deadlines: Deadlines = Deadlines()
    people: dict[str, Person] = field(default_factory=dict)
    units: dict[str, Unit] = field(default_factory=dict)
    counterparts: dict[str, Counterpart] = field(default_factory=dict)
    subscriptions: tuple[Subscription, ...] = ()
    # the registrator is told when the mailbox could not be read for this long
    mailbox_alert_minutes: int = 15
    # the web overview: may a unit's manager read a diarised mail's text and attachments,
    # or only its metadata (registrator, MA and SAS always may)
    managers_see_mail: bool = False
    # whose Authentication-Results are believed (DESIGN §8): authserv-ids, "*.domain"
    # patterns, or "exchange-online"; empty = senders are not verified
    trusted_authserv_ids: tuple[str, ...] = ()
    # a counterpart's mail to a closed case: "new_linked" (a new case linked to the old),
    # "supplement" (filed in the closed case), "triage" (the registrator decides)
    closed_case: str = "new_linked"
    # issue 26: Outlook's automatic replies (Graph, MailboxSettings.Read) route to the stand-in
    outlook_absence: bool = False
    # issue 26: the Graph app may read the bot's Teams chats (Chat.Read.All or the RSC
    # ChatMessage.Read.Chat): a card in doubt is looked for instead of marked "kan ha visats"
    teams_graph_chat_read: bool = False
    patient_safety: PatientSafety = PatientSafety()
    records: Records = Records()
    # notification preferences (issue 24): the default of a person who set none
    # (`omedelbart` | `samlat HH:MM` | `tyst` | `dygnet runt`; "" = at once, at any hour, as before), and
    # how often a person's Outlook working hours are read again when Graph is the mail source
    notify_default: str = ""
    working_hours_refresh_hours: int = 4
    notifications: Notifications = Notifications()
    # days a delivered notification is kept in the outbox log ([retention]); the diary and
    # the read log are never shortened by it
    notification_retention_days: int = 730

    # --- people -------------------------------------------------------------
    def person_by_email(self, address: str | None) -> Person | None:
        """The person whose address this is, compared in the one canonical form
        (bot.domain.address): never a look-alike of it."""
        if not address:
            return None
        address = canonical(address)
        for person in self.people.values():
            if canonical(person.email) == address:
                return person
        return None

    def with_role(self, role: str) -> list[Person]:
        return [p for p in self.people.values() if role in p.roles]

    def _care_for(self, unit_id: str | None, lagrum: str | None) -> str:
        """The kind of care that decides Lex Maria or Lex Sarah: the case's law when it is
        known (HSL: health care; SoL, LSS: social services), else the unit's care."""
        if lagrum == HSL:
            return CARE_HEALTH
        if lagrum in (SOL, LSS):
            return CARE_SOCIAL
        unit = self.units.get(unit_id or "")
        return unit.care if unit else CARE_BOTH

    def licensed_contact(self, unit_id: str | None) -> list[str]:
        """Who investigates the unit's HSL cases: its configured licensed contact, else the
        MA subscribed to it, else every MA; the managers (or registrators) when there is none."""
        unit = self.units.get(unit_id or "")
        if unit is not None and unit.licensed:
            return [unit.licensed]
        mas = [p.id for p in self.with_role("ma")]
        subscribed = [p for p in self.subscribers_of(unit_id) if p in mas]
        return subscribed or mas or self.managers_of(unit_id) or self.registrators()

    def lex_assessors(self, unit_id: str | None, lagrum: str | None = None) -> list[str]:
        """Who assesses Lex Maria / Lex Sarah: by the case's law (HSL: the MA; SoL, LSS: the
        SAS), without one by the unit's kind of care: the MA for health care, the SAS for
        social services, both for a unit with both or an unknown unit; the registrators when
        the organisation names nobody."""
        care = self._care_for(unit_id, lagrum)
        roles = {CARE_HEALTH: ("ma",), CARE_SOCIAL: ("sas",)}.get(care, ("ma", "sas"))
        people = [p.id for role in roles for p in self.with_role(role)]
        return list(dict.fromkeys(people)) or self.registrators()

    def lex_escalation(self, unit_id: str | None, assessors: tuple[str, ...],
                       lagrum: str | None = None) -> list[str]:
        """Who is chased when a Lex Maria / Lex Sarah assessment is late: the configured
        person for the unit's kind of care (escalate_maria for health care, escalate_sarah for
        social services, both for a unit with both; the case's law first), else the
        registrators; never one of the assessors themselves, never the other function's MA/SAS."""
        care = self._care_for(unit_id, lagrum)
        safety = self.patient_safety
        chosen = {CARE_HEALTH: safety.escalate_maria, CARE_SOCIAL: safety.escalate_sarah}.get(
            care, safety.escalate_maria + safety.escalate_sarah)
        people = [p for p in (chosen or tuple(self.registrators())) if p not in assessors]
        return list(dict.fromkeys(people))

    def registrators(self) -> list[str]:
        return [p.id for p in self.with_role("registrator")]

    def managers_of(self, unit_id: str | None) -> list[str]:
        unit = self.units.get(unit_id or "")
        return list(unit.managers) if unit else []

    def units_managed_by(self, person_id: str) -> list[str]:
        return [u.id for u in self.units.values() if person_id in u.managers]

    def acts_for(self, unit_id: str | None) -> list[str]:
        """Who may see and manage the unit's cases: its managers and the stand-in the
        organisation file names for it (who gets their notifications while they are away,
        and so must be able to open what those notifications are about)."""
        unit = self.units.get(unit_id or "")
        if unit is None:
            return []
        return list(unit.managers) + ([unit.stand_in] if unit.stand_in else [])

    def units_acted_for(self, person_id: str) -> list[str]:
        return [u.id for u in self.units.values() if person_id in self.acts_for(u.id)]

    def subscribers_of(self, unit_id: str | None,
                       extra: tuple[Subscription, ...] = ()) -> list[str]:
        """People who follow a unit *för kännedom* (configured and chat-made subscriptions)."""
        paused = {(s.person, u) for s in extra if s.paused for u in s.units}
        seen: list[str] = []
        for sub in (*self.subscriptions, *extra):
            if sub.paused or not sub.covers(unit_id) or sub.person in seen:
                continue
            if (sub.person, unit_id) in paused or (
                    ALL_UNITS in sub.units and (sub.person, ALL_UNITS) in paused):
                continue
            seen.append(sub.person)
        return seen

    def escalation_targets(self, unit_id: str | None,
                           extra: tuple[Subscription, ...] = ()) -> list[str]:
        """MA and SAS subscribed to the unit (DESIGN §6)."""
        return [pid for pid in self.subscribers_of(unit_id, extra)
                if pid in self.people and self.people[pid].roles & {"ma", "sas"}]

    # --- addresses ----------------------------------------------------------
    @staticmethod
    def domain_of(address: str | None) -> str:
        """The canonical domain (IDNA A-label, ASCII lower-cased; bot.domain.address)."""
        address = canonical(address)
        return address.rsplit("@", 1)[1] if "@" in address else ""

    def is_internal(self, address: str | None) -> bool:
        domain = self.domain_of(address)
        return bool(domain) and any(domain_matches(domain, d) for d in self.internal_domains)

    def counterpart_by_address(self, address: str | None) -> Counterpart | None:
        domain = self.domain_of(address)
        if not domain:
            return None
        # the most specific domain wins: sjukhus.regionexempel.se before regionexempel.se
        matches = [(len(d), cp) for cp in self.counterparts.values() for d in cp.domains
                   if domain_matches(domain, d)]
        return max(matches, key=lambda m: m[0])[1] if matches else None

    def unit_by_name(self, text: str) -> Unit | None:
        """A unit by id, name or alias, case-insensitively (for commands and override lines)."""
        wanted = " ".join(text.split()).casefold()
        for unit in self.units.values():
            if wanted == unit.id.casefold() or wanted in (n.casefold() for n in unit.names):
                return unit
        return None

    def lookalikes(self) -> LookAlikes:
        """Our people's, the mailbox's and the counterparts' addresses and domains, to tell
        a look-alike of them (build once per organisation: bot.mail.classify.Detector)."""
        addresses = [p.email for p in self.people.values()] + [self.mailbox] + [
            c.address for c in self.counterparts.values() if c.address]
        domains = [*self.internal_domains, self.domain_of(self.mailbox),
                   *(d for c in self.counterparts.values() for d in c.domains)]
        return LookAlikes(addresses, domains)
