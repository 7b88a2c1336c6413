"""The archive export (`arkivera --år ÅÅÅÅ --till MAPP`): one diary year as one E-ARK SIP.

Reads the year's cases and their raw mails from the store and hands the package on as
(path, bytes) pairs, file by file, the root METS last (it carries every other file's SHA-256):
a year of mail is never held in memory at once. The builders are pure (bot/archive); writing
the files is the caller's business (the CLI).

A document whose raw mail the store cannot give is an error, not a gap: the package would be
an incomplete delivery, and the archivist must know before it leaves.
"""
from __future__ import annotations

import email
import email.policy
import hashlib
import mimetypes
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from bot.archive import erms_schema
from bot.archive.erms import PackedFile, case_erms, case_slug
from bot.archive.sip import REPRESENTATION, Entry, package_id, package_readme, root_mets
from bot.domain.case import DOC_NOTE, Case, from_iso
from bot.errors import BotError, DomainError
from bot.texts import t
from bot.usecases.base import Deps

SOFTWARE = "Avvikelsebot"
_EXTENSION = re.compile(r"\.([0-9A-Za-z]{1,8})$")


class ArchiveError(BotError):
    """The package cannot be made complete (a raw mail is missing)."""


@dataclass(frozen=True)
class Plan:
    year: int
    objid: str
    cases: list[Case]
    created: datetime
    open_cases: list[str]           # diary numbers still open (exported as they stand)


def attachment_parts(raw: bytes) -> list[tuple[str, str, bytes]]:
    """(file name, MIME type, bytes) of every part of a mail that has a file name, in order
    (the web case page numbers attachments the same way)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    found = []
    for part in message.walk():
        if part.is_multipart() or not part.get_filename():
            continue
        payload = part.get_payload(decode=True)
        found.append((str(part.get_filename()), part.get_content_type(),
                      payload if isinstance(payload, bytes) else b""))
    return found


def _extension(filename: str, mimetype: str) -> str:
    """The file's own extension when it is a plain one, else one from its MIME type: the
    name itself stays out of the package (it may name a patient)."""
    found = _EXTENSION.search(filename)
    if found:
        return "." + found.group(1).lower()
    return mimetypes.guess_extension(mimetype) or ".bin"


class Archive:
    def __init__(self, deps: Deps):
        self.deps = deps

    def plan(self, year: int, created: datetime | None = None) -> Plan:
        """The year's cases (oldest number first); refused when a kind among them has no
        KLASSA code ([records] classification) or the year has no case."""
        lang = self.deps.lang
        with self.deps.uow:
            cases = sorted(self.deps.store.all_cases(year), key=lambda c: c.key)
        if not cases:
            raise DomainError(t(lang, "refused_archive_empty", year=year))
        codes = self.deps.org.records.classification
        missing = sorted({c.kind for c in cases} - set(codes))
        if missing:
            raise DomainError(t(lang, "refused_archive_classification",
                                kinds=", ".join(missing)))
        moments = [from_iso(m) for c in cases for m in (
            c.created, *c.status_since.values(), *(d.received for d in c.documents),
            *(e.at for e in c.events))]
        return Plan(year, package_id(self.deps.org.series, year), cases,
                    created or max(moments),
                    [c.number for c in cases if not c.is_closed])

    def package(self, plan: Plan, *, version: str) -> Iterator[tuple[str, bytes]]:
        """Every file of the package as (path under the package directory, bytes)."""
        org = self.deps.org
        descriptive: list[Entry] = []
        data: list[Entry] = []
        readme = package_readme(org, plan.objid, plan.year, cases=len(plan.cases),
                                open_cases=len(plan.open_cases), created=plan.created)
        readme_entry = Entry(f"documentation/{t(self.deps.lang, 'archive_readme_file')}",
                             "text/plain", len(readme), hashlib.sha256(readme).hexdigest(),
                             plan.created.isoformat())
        yield readme_entry.path, readme
        schema = erms_schema()
        schema_entry = Entry("schemas/ERMS_v3.xsd", "application/xml", len(schema),
                             hashlib.sha256(schema).hexdigest(), plan.created.isoformat())
        yield schema_entry.path, schema
        for case in plan.cases:
            packed: list[PackedFile] = []
            for path, content, document, role, mimetype, when in self._files(case):
                item = PackedFile(path, document, role, mimetype, len(content),
                                  hashlib.sha256(content).hexdigest(), when)
                packed.append(item)
                data.append(Entry(path, mimetype, item.size, item.sha256, when))
                yield path, content
            slug = case_slug(case.number)
            path = f"metadata/descriptive/{slug}.xml"
            document_bytes = case_erms(org, case, classification=org.records.classification[
                case.kind], files=packed, created=plan.created, identifier=f"{plan.objid}/{slug}",
                software=f"{SOFTWARE} {version}")
            descriptive.append(Entry(path, "text/xml", len(document_bytes),
                                     hashlib.sha256(document_bytes).hexdigest(),
                                     plan.created.isoformat()))
            yield path, document_bytes
        yield "METS.xml", root_mets(org, plan.year, plan.objid, descriptive=descriptive,
                                    documentation=[readme_entry], schemas=[schema_entry], data=data, created=plan.created,
                                    software=SOFTWARE, version=version)

    def _files(self, case: Case) -> Iterator[tuple[str, bytes, int, str, str, str]]:
        """(path, bytes, document number, role, MIME type, time) per file of the case."""
        folder = f"{REPRESENTATION}/data/{case_slug(case.number)}"
        lang = self.deps.lang
        for document in sorted(case.documents, key=lambda d: d.no):
            if document.raw is None:
                if document.type == DOC_NOTE:       # a note's text is the document itself
                    yield (f"{folder}/{document.no}-{t(lang, 'archive_note_file')}.txt",
                           (document.subject + "\n").encode("utf-8"), document.no, "note",
                           "text/plain", document.received)
                continue
            try:
                with self.deps.uow:
                    raw = self.deps.store.read_raw(document.raw)
            except (OSError, KeyError) as exc:
                raise ArchiveError(t(lang, "archive_raw_missing", number=case.number,
                                     document=document.no, reason=type(exc).__name__)) from None
            yield (f"{folder}/{document.no}.eml", raw, document.no, "mail", "message/rfc822",
                   document.received)
            for index, (filename, mimetype, content) in enumerate(attachment_parts(raw), 1):
                yield (f"{folder}/{document.no}-{t(lang, 'archive_attachment_file')}-{index}"
                       f"{_extension(filename, mimetype)}", content, document.no, "attachment",
                       mimetype, document.received)
