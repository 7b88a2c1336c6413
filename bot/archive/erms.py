"""One case as a CITS ERMS v3 file (FGS Ärendehantering 2.0), pure.

The case is an aggregation of type caseFile: its diary number, the KLASSA code of its kind
([records] classification), its public title (never the real title or a mail's subject: they
may name a patient), its status, links, disposal (the kind's gallring decision from [records]
culling, `disposable` false without one), agents (organisations and units only, never a
person's address), dates. Each document is a record: its number, type, a title made of its
type and the public title, its secrecy marking as a restriction with the OSL paragraph, its
direction (incoming/outgoing; a note is an internal memo), the other party as an
organisation, its date, and the files that hold it in the package (appendix, path relative to
the package root).

The schema is strict on element order; the order below follows ERMS_v3.xsd (aggregationType,
recordType, restrictionsType, disposalType, agentComplexType).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from lxml import etree

from bot.domain.case import DOC_NOTE, Case, Document, from_iso, iso
from bot.domain.org import Organisation
from bot.domain.records import is_received, mask_names, party_of, public_title, secrecy_of
from bot.domain.redact import redact
from bot.texts import t

ERMS_NS = "https://DILCIS.eu/XML/ERMS"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_ID = "KLASSA"
_E = f"{{{ERMS_NS}}}"
# "Gallringsbeslut …: avvikelser gallras 2 år efter avslut" → 2
_YEARS = re.compile(r"(\d{1,3})\s*(?:år|years?)\b", re.IGNORECASE)


@dataclass(frozen=True)
class PackedFile:
    """A file of the package that holds (part of) a document."""
    path: str             # relative to the package root, "/"-separated
    document: int
    role: str             # "mail" | "attachment" | "note"
    mimetype: str
    size: int
    sha256: str
    created: str          # ISO moment (the document's)


def case_slug(number: str) -> str:
    """"VOK 2026/0042" → "VOK-2026-0042": a file and directory name."""
    return re.sub(r"[^0-9A-Za-z]+", "-", number).strip("-")


def split_classification(value: str) -> tuple[str, str]:
    """"2.3.1 Hantera avvikelser" → ("2.3.1", "Hantera avvikelser"); a bare code is its own
    name."""
    code, _, name = " ".join(value.split()).partition(" ")
    return code, name or code


def disposal_years(decision: str | None) -> int | None:
    """The years a decision keeps a case after it is closed, when it says so ("2 år")."""
    found = _YEARS.search(decision or "")
    return int(found.group(1)) if found else None


def _sub(parent: etree._Element, tag: str, text: str | None = None, /,
         **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _E + tag, {k: v for k, v in attributes.items()})
    if text is not None:
        element.text = text
    return element


def _moment(text: str) -> str:
    return iso(from_iso(text))


def _agent(parent: etree._Element, kind: str, name: str, *, organisation: str | None = None,
           unit: str | None = None, role: str | None = None) -> None:
    agent = _sub(parent, "agent", agentType=kind)
    _sub(agent, "name", name)
    if organisation:
        _sub(agent, "organisation", organisation)
    if unit:
        _sub(agent, "unitName", unit)
    if role:
        _sub(agent, "role", role)


def case_erms(org: Organisation, case: Case, *, classification: str,
              files: Sequence[PackedFile], created: datetime, identifier: str,
              software: str) -> bytes:
    """The ERMS document for one case (UTF-8 XML bytes, deterministic for the same input)."""
    lang = org.language
    title = mask_names(org, public_title(org, case))
    code, class_name = split_classification(classification)
    root = etree.Element(_E + "erms", nsmap={None: ERMS_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{ERMS_NS} ../../schemas/ERMS_v3.xsd")

    control = _sub(root, "control")
    _sub(control, "identification", identifier, identificationType="erms_file")
    schema = _sub(control, "classificationSchema", classificationSchemaId=SCHEMA_ID,
                  classificationSchemaStatus="current")
    _sub(_sub(schema, "textualDescriptionOfClassificationSchema"), "p",
         t(lang, "archive_classification_schema"))
    maintenance = _sub(control, "maintenanceInformation")
    _sub(maintenance, "maintenanceStatus", value="new")
    _sub(_sub(maintenance, "maintenanceAgency"), "agencyName", org.name)
    event = _sub(_sub(maintenance, "maintenanceHistory"), "maintenanceEvent")
    _sub(event, "eventType", value="created")
    _sub(event, "eventDateTime", iso(created))
    _agent(event, "creator", software, role=t(lang, "archive_software_role"))

    aggregation = _sub(_sub(root, "aggregations"), "aggregation", systemIdentifier=case.number,
                       aggregationType="caseFile", classificationSchemaUsed=SCHEMA_ID)
    _sub(aggregation, "objectId", case.number)
    if case.reference:
        _sub(aggregation, "extraId", redact(case.reference), extraIdType="counterpart_reference")
    _sub(aggregation, "classification", class_name, classificationCode=code,
         fullyQualifiedClassificationCode=code)
    _sub(aggregation, "title", title)
    _sub(aggregation, "status", value="closed" if case.is_closed else "open")
    for link in sorted(case.links):
        _sub(aggregation, "relation", link, relationType="reference")
    _disposal(aggregation, org, case)
    agents = _sub(aggregation, "agents")
    counterpart = org.counterparts.get(case.counterpart or "")
    if counterpart:
        _agent(agents, "counterpart", counterpart.name, organisation=counterpart.name)
    unit = org.units.get(case.unit or "")
    _agent(agents, "administrator", unit.name if unit else org.name, organisation=org.name,
           unit=unit.name if unit else None)
    _sub(aggregation, "description", t(lang, f"kind_{case.kind}"))
    dates = _sub(aggregation, "dates")
    _sub(dates, "date", _moment(case.created), dateType="created")
    closed = case.status_since.get("closed") if case.is_closed else None
    if closed:
        _sub(dates, "date", _moment(closed), dateType="closed")
    by_document: dict[int, list[PackedFile]] = {}
    for packed in files:
        by_document.setdefault(packed.document, []).append(packed)
    for document in sorted(case.documents, key=lambda d: d.no):
        _record(aggregation, org, case, document, title, by_document.get(document.no, []))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _disposal(parent: etree._Element, org: Organisation, case: Case) -> None:
    lang = org.language
    decision = org.records.culling.get(case.kind)
    disposal = _sub(parent, "disposal", disposable="true" if decision else "false")
    _sub(disposal, "disposalAction", t(lang, "archive_disposal_cull" if decision
                                       else "archive_disposal_keep"))
    years = disposal_years(decision)
    if years is not None:
        _sub(disposal, "disposalPeriod", f"P{years}Y")
    if decision:
        _sub(disposal, "disposalMandate", decision)
    comments = []
    if case.hold:
        comments.append(t(lang, "archive_disposal_held",
                          reason=mask_names(org, str(case.hold.get("reason", ""))),
                          at=str(case.hold.get("at", ""))[:10]))
    if comments:
        box = _sub(disposal, "disposalComments")
        for comment in comments:
            _sub(box, "disposalComment", comment)
    dates = _sub(disposal, "dates")
    closed = case.status_since.get("closed") if case.is_closed else None
    if closed:
        start = from_iso(closed)
        _sub(dates, "disposalDate", iso(start), dateType="retention_period_start")
        if decision and years is not None:
            try:
                due = start.replace(year=start.year + years)
            except ValueError:             # 29 February
                due = start.replace(year=start.year + years, day=28)
            _sub(dates, "disposalDate", iso(due), dateType="action_due")
    else:
        # still open: the retention has not begun; the date says from when it is held
        _sub(dates, "disposalDate", _moment(case.created), dateType="other_date",
             otherDisposalDateType="case_open_since")


def _direction(case: Case, document: Document) -> str:
    if document.type == DOC_NOTE:
        return "internal_memo_without_follow-up"
    return "incoming" if is_received(case, document) else "outgoing"


def _record(parent: etree._Element, org: Organisation, case: Case, document: Document,
            title: str, files: list[PackedFile]) -> None:
    lang = org.language
    record = _sub(parent, "record", systemIdentifier=f"{case.number}:{document.no}",
                  recordType=document.type, recordPhysicalOrDigital="digital")
    _sub(record, "objectId", f"{case.number}:{document.no}")
    _sub(record, "title", t(lang, "public_diary_description",
                            type=t(lang, f"doc_{document.type}").capitalize(), title=title))
    _sub(record, "runningNumber", str(document.no))
    paragraph = secrecy_of(org, case, document)
    if paragraph:
        restriction = _sub(record, "restriction", restrictionType="confidential")
        _sub(restriction, "explanatoryText", t(lang, "archive_secrecy_text"))
        _sub(restriction, "regulation", paragraph)
        marked = (document.secrecy or {}).get("at")
        if marked:
            _sub(_sub(restriction, "dates"), "date", _moment(marked),
                 dateType="confidentiality_assessed")
    direction = _direction(case, document)
    _sub(record, "direction", definition_text(lang, direction), directionDefinition=direction)
    received = direction == "incoming"
    if document.type != DOC_NOTE:
        party = party_of(org, case, document, received)
        _agent(_sub(record, "agents"), "sender" if received else "recipient", party,
               organisation=party)
    dates = _sub(record, "dates")
    kind = "received" if received else ("sent" if document.type in ("sent", "reminder")
                                         else "created")
    _sub(dates, "date", _moment(document.received), dateType=kind)
    if files:
        extra = _sub(record, "additionalInformation")
        for packed in files:
            _sub(extra, "appendix", name=packed.path.rsplit("/", 1)[-1],
                 description=t(lang, f"archive_file_{packed.role}"),
                 fileFormat=packed.mimetype, path=packed.path)


def definition_text(lang: str, direction: str) -> str:
    return t(lang, f"archive_direction_{direction.replace('-', '_')}")
