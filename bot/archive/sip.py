"""The package's METS (E-ARK CSIP 2.x + SIP 2.1 = FGS Paketstruktur 2.0), pure.

Layout of one diary year (OBJID = the series and the year, e.g. "VOK-2026"):

    VOK-2026/METS.xml                                       this file
    VOK-2026/metadata/descriptive/VOK-2026-0042.xml         one ERMS v3 file per case
    VOK-2026/schemas/ERMS_v3.xsd                            the schema those follow
    VOK-2026/documentation/leverans.txt                     what the package holds, in words
    VOK-2026/representations/rep1/data/VOK-2026-0042/1.eml  each document's raw mail,
                                   …/1-bilaga-1.pdf          its attachments,
                                   …/3-anteckning.txt        a note's text

Every ERMS file is a dmdSec (mdRef) and every other file a fileSec entry in the file group
of its kind (Documentation, Schemas, Representations/rep1), each with its size,
MIME type, time and SHA-256 (CHECKSUMTYPE="SHA-256"). Nothing here is a time of the run: the
package's time is given (the newest moment in the year's cases, or --skapad), so the same
diary gives the same bytes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from lxml import etree

from bot.domain.case import iso
from bot.domain.org import Organisation
from bot.texts import t

METS_NS = "http://www.loc.gov/METS/"
CSIP_NS = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP_NS = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
SCHEMA_LOCATION = " ".join((
    METS_NS, "http://www.loc.gov/standards/mets/mets.xsd",
    XLINK_NS, "http://www.loc.gov/standards/mets/xlink.xsd",
    CSIP_NS, "https://earkcsip.dilcis.eu/schema/DILCISExtensionMETS.xsd",
    SIP_NS, "https://earksip.dilcis.eu/schema/DILCISExtensionSIPMETS.xsd"))
REPRESENTATION = "representations/rep1"
# the CSIP vocabulary has "citserms_v2_1" only; ERMS v3 is named under OTHER
CONTENT_INFORMATION_TYPE = "citserms_v3_0"
_M = f"{{{METS_NS}}}"
_CSIP = f"{{{CSIP_NS}}}"
_XLINK = f"{{{XLINK_NS}}}"


@dataclass(frozen=True)
class Entry:
    """A file of the package, as METS lists it."""
    path: str             # relative to the package root
    mimetype: str
    size: int
    sha256: str
    created: str          # ISO moment


def package_id(series: str, year: int) -> str:
    return f"{re.sub(r'[^0-9A-Za-z]+', '-', series).strip('-') or 'DIARIUM'}-{year}"


def _xml_id(prefix: str, path: str) -> str:
    """An xs:ID from a path (an NCName: letters, digits, '-', '_', '.')."""
    return f"{prefix}-{re.sub(r'[^0-9A-Za-z._-]+', '_', path)}"


def _sub(parent: etree._Element, name: str, attributes: dict[str, str] | None = None,
         text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, _M + name, attributes or {})
    if text is not None:
        element.text = text
    return element


def _file_attributes(entry: Entry, file_id: str) -> dict[str, str]:
    return {"ID": file_id, "MIMETYPE": entry.mimetype, "SIZE": str(entry.size),
            "CREATED": iso(datetime.fromisoformat(entry.created)),
            "CHECKSUM": entry.sha256, "CHECKSUMTYPE": "SHA-256"}


def root_mets(org: Organisation, year: int, objid: str, *, descriptive: Sequence[Entry],
              documentation: Sequence[Entry], schemas: Sequence[Entry], data: Sequence[Entry],
              created: datetime,
              software: str, version: str) -> bytes:
    """The package's root METS.xml (UTF-8 bytes)."""
    lang = org.language
    when = iso(created)
    root = etree.Element(_M + "mets", nsmap={
        "mets": METS_NS, "csip": CSIP_NS, "sip": SIP_NS, "xlink": XLINK_NS, "xsi": XSI_NS})
    root.set("OBJID", objid)
    root.set("LABEL", t(lang, "archive_package_label", org=org.name, year=year))
    root.set("TYPE", "Other")
    root.set(_CSIP + "OTHERTYPE", "ERMS")
    root.set(_CSIP + "CONTENTINFORMATIONTYPE", "OTHER")
    root.set(_CSIP + "OTHERCONTENTINFORMATIONTYPE", CONTENT_INFORMATION_TYPE)
    root.set("PROFILE", PROFILE)
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)

    header = _sub(root, "metsHdr", {"CREATEDATE": when, "LASTMODDATE": when,
                                    "RECORDSTATUS": "NEW", _CSIP + "OAISPACKAGETYPE": "SIP"})
    # CSIP: the software that made the package is the CREATOR; the organisation whose
    # records these are is the ARCHIVIST (SIP: the archival creator)
    software_agent = _sub(header, "agent", {"ROLE": "CREATOR", "TYPE": "OTHER",
                                            "OTHERTYPE": "SOFTWARE"})
    _sub(software_agent, "name", text=software)
    _sub(software_agent, "note", {_CSIP + "NOTETYPE": "SOFTWARE VERSION"}, version)
    _sub(_sub(header, "agent", {"ROLE": "ARCHIVIST", "TYPE": "ORGANIZATION"}), "name",
         text=org.name)

    dmd_ids = []
    for entry in descriptive:
        dmd_id = _xml_id("dmd", entry.path.rsplit("/", 1)[-1].removesuffix(".xml"))
        dmd_ids.append(dmd_id)
        section = _sub(root, "dmdSec", {"ID": dmd_id, "CREATED": iso(
            datetime.fromisoformat(entry.created)), "STATUS": "CURRENT"})
        attributes = {"LOCTYPE": "URL", _XLINK + "type": "simple", _XLINK + "href": entry.path,
                      "MDTYPE": "OTHER", "OTHERMDTYPE": "ERMS"}
        file_attributes = _file_attributes(entry, "unused")
        del file_attributes["ID"]
        _sub(section, "mdRef", {**attributes, **file_attributes})

    file_sec = _sub(root, "fileSec", {"ID": "file-sec"})
    struct = _sub(root, "structMap", {"ID": "struct-map", "TYPE": "PHYSICAL", "LABEL": "CSIP"})
    package_div = _sub(struct, "div", {"ID": "struct-div", "LABEL": objid})
    if dmd_ids:
        _sub(package_div, "div", {"ID": "struct-div-metadata", "LABEL": "Metadata",
                                  "DMDID": " ".join(dmd_ids)})
    # one file group and one structMap division per kind of content; a division points to
    # its file group (CSIP 2.1: "one file group reference per fptr")
    for use, label, group_id, entries in (
            ("Documentation", "Documentation", "fgrp-documentation", documentation),
            ("Schemas", "Schemas", "fgrp-schemas", schemas),
            (f"Representations/{REPRESENTATION.rsplit('/', 1)[-1]}", "Representations",
             "fgrp-rep1", data)):
        if not entries:
            continue
        group = _sub(file_sec, "fileGrp", {
            "ID": group_id, "USE": use, _CSIP + "CONTENTINFORMATIONTYPE": "OTHER",
            _CSIP + "OTHERCONTENTINFORMATIONTYPE": CONTENT_INFORMATION_TYPE})
        for entry in entries:
            element = _sub(group, "file", _file_attributes(entry, _xml_id("file", entry.path)))
            _sub(element, "FLocat", {"LOCTYPE": "URL", _XLINK + "type": "simple",
                                     _XLINK + "href": entry.path})
        division = _sub(package_div, "div", {"ID": f"struct-div-{group_id.removeprefix('fgrp-')}",
                                             "LABEL": label})
        _sub(division, "fptr", {"FILEID": group_id})
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def package_readme(org: Organisation, objid: str, year: int, *, cases: int, open_cases: int,
                   created: datetime) -> bytes:
    """documentation/leverans.txt: the package in words, for the archivist who opens it."""
    lang = org.language
    kinds = sorted(set(org.records.classification) | set(org.records.culling))
    lines = [t(lang, "archive_readme_head", org=org.name, year=year, objid=objid,
               created=iso(created), cases=cases, open=open_cases), ""]
    for kind in kinds:
        lines.append(t(lang, "archive_readme_kind", kind=t(lang, f"kind_{kind}"),
                       code=org.records.classification.get(kind, "–"),
                       decision=org.records.culling.get(kind)
                       or t(lang, "archive_disposal_keep")))
    lines += ["", t(lang, "archive_readme_layout")]
    return ("\n".join(lines) + "\n").encode("utf-8")
