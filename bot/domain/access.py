"""Who may see and do what (DESIGN §7). Pure: the organisation, the actor and the case."""
from __future__ import annotations

from dataclasses import dataclass

from bot.domain.case import COMPLAINT, Case
from bot.domain.org import Organisation
from bot.errors import PermissionDenied
from bot.texts import t

# what each operation needs
RECORDS = "records"        # sekretess, publik: the registrator keeps the diary
MANAGE = "manage"          # registrerad, bedöm, åtgärd, rubrik, snooza: unit manager or oversight
SEND = "send"              # skicka: the registrator
MARK_SENT = "mark_sent"    # skickad: registrator, MA, SAS; a complaint's answer also its manager
ROUTE = "route"            # enhet, motpart: registrator, MA, SAS
CLOSE = "close"            # avsluta: manager at the closing step; oversight at any time
LEX = "lex"                # lex, ivo: the MA (Lex Maria) or the SAS (Lex Sarah)
DISCLOSE = "disclose"      # utlämna: the registrator handles requests for documents


@dataclass(frozen=True)
class Actor:
    """Who asks: a person of the directory, a unit's team channel, the mail intake or the bot."""
    kind: str                  # person | channel | mail | system | unknown
    id: str = ""

    @classmethod
    def person(cls, person_id: str) -> "Actor":
        return cls("person", person_id)

    @classmethod
    def channel(cls, unit_id: str) -> "Actor":
        return cls("channel", unit_id)

    @classmethod
    def mail(cls, address: str) -> "Actor":
        return cls("mail", address)

    @classmethod
    def system(cls) -> "Actor":
        return cls("system", "avvikelsebot")

    @property
    def audit_name(self) -> str:
        return self.id if self.kind == "person" else f"{self.kind}:{self.id}"


def can_view(org: Organisation, actor: Actor, case: Case) -> bool:
    if actor.kind in ("mail", "system"):
        return True
    if actor.kind == "channel":
        return case.unit is not None and case.unit == actor.id
    person = org.people.get(actor.id) if actor.kind == "person" else None
    if person is None:
        return False
    if person.has_oversight:
        return True
    return case.unit is not None and person.id in org.acts_for(case.unit)


def _stranger(org: Organisation, actor: Actor) -> bool:
    """Someone not in the directory: they get one polite refusal and learn nothing of cases."""
    return actor.kind == "unknown" or (actor.kind == "person" and actor.id not in org.people)


def require_view(org: Organisation, actor: Actor, case: Case) -> None:
    if _stranger(org, actor):
        raise PermissionDenied(t(org.language, "denied_unknown"))
    if not can_view(org, actor, case):
        raise PermissionDenied(t(org.language, "denied_view", number=case.number))


def require(org: Organisation, actor: Actor, operation: str, case: Case) -> None:
    """Raise PermissionDenied with a user-facing reason unless the actor may do it."""
    if actor.kind in ("mail", "system"):
        return
    lang = org.language
    if _stranger(org, actor):
        raise PermissionDenied(t(lang, "denied_unknown"))
    if actor.kind != "person":   # a unit channel may look (can_view) but changes need a person
        raise PermissionDenied(t(lang, f"denied_{operation}", number=case.number))
    person = org.people[actor.id]
    is_manager = case.unit is not None and person.id in org.acts_for(case.unit)
    allowed = {
        MANAGE: person.has_oversight or is_manager,
        CLOSE: person.has_oversight or is_manager,
        SEND: "registrator" in person.roles,
        # a complaint's answer is the unit's own: its manager marks it sent (issue 26)
        MARK_SENT: person.has_oversight or (case.kind == COMPLAINT and is_manager),
        ROUTE: person.has_oversight,
        LEX: bool(person.roles & {"ma", "sas"}),
        RECORDS: "registrator" in person.roles,
        DISCLOSE: "registrator" in person.roles,
    }[operation]
    if not allowed:
        raise PermissionDenied(t(lang, f"denied_{operation}", number=case.number))


def can_read_mail(org: Organisation, actor: Actor, case: Case) -> bool:
    """A diarised mail's text and attachments (the web overview): registrator, MA and SAS;
    the unit's managers only where the organisation allows it (`[web] managers_see_mail`).
    Everyone else who may see the case sees the mail's metadata only."""
    if actor.kind != "person" or not can_view(org, actor, case):
        return False
    person = org.people[actor.id]
    return person.has_oversight or org.managers_see_mail
