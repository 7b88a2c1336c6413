"""The law a case is handled under (issue 26): HSL, SoL or LSS. Pure.

Decided in this order, the first that speaks wins:

1. the registrator: a `Lagrum:` line in a forwarded mail, or the `lagrum` command;
2. the kind: a medical-device safety notice (fsn) is health care, HSL;
3. the unit: its own `lagrum` (an LSS group home), else its care when it has one kind
   ("hälso- och sjukvård" -> HSL, "socialtjänst" -> SoL);
4. the counterpart: its `lagrum` (a region or a hospital -> HSL) for a unit with both kinds
   of care, or while the unit is unknown;
5. none: undecided ("ej bestämt"); the case is then handled as before issue 26 (the
   managers investigate, both MA and SAS are asked about Lex Maria / Lex Sarah).

The unit's own single kind of care comes before the counterpart's: a region's deviation about
Hemtjänst Norr (socialtjänst) concerns what hemtjänst did under SoL; the registrator's line or
command says otherwise when it concerns delegated health care.

A case stores the result with where it came from; a case from 0.3.0 has neither and is read
as derived from its unit now (`case_lagrum`). A derived law follows a new unit or counterpart;
the registrator's choice stays until the registrator changes it.
"""
from __future__ import annotations

from bot.domain.case import FSN, Case
from bot.domain.org import CARE_HEALTH, CARE_SOCIAL, HSL, SOL, Organisation

BY_REGISTRATOR, BY_KIND, BY_UNIT, BY_COUNTERPART = "registrator", "kind", "unit", "counterpart"


def decide_lagrum(org: Organisation, *, kind: str, unit: str | None, counterpart: str | None,
                  override: str | None = None) -> tuple[str | None, str | None]:
    """(law, where it came from), or (None, None) when nothing decides it."""
    if override:
        return override, BY_REGISTRATOR
    if kind == FSN:
        return HSL, BY_KIND
    found = org.units.get(unit or "")
    if found is not None:
        if found.lagrum:
            return found.lagrum, BY_UNIT
        by_care = {CARE_HEALTH: HSL, CARE_SOCIAL: SOL}.get(found.care)
        if by_care:
            return by_care, BY_UNIT
    party = org.counterparts.get(counterpart or "")
    if party is not None and party.lagrum:
        return party.lagrum, BY_COUNTERPART
    return None, None


def case_lagrum(case: Case, org: Organisation) -> str | None:
    """The case's law: as stored, else (a record from 0.3.0) derived from its unit,
    kind and counterpart now."""
    if case.lagrum:
        return case.lagrum
    return decide_lagrum(org, kind=case.kind, unit=case.unit, counterpart=case.counterpart)[0]


def rederive(case: Case, org: Organisation) -> tuple[str | None, str | None]:
    """After a new unit or counterpart: the registrator's choice stays, a derived law follows."""
    if case.lagrum_by == BY_REGISTRATOR and case.lagrum:
        return case.lagrum, BY_REGISTRATOR
    return decide_lagrum(org, kind=case.kind, unit=case.unit, counterpart=case.counterpart)
