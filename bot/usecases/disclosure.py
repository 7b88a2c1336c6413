"""Utlämnande (bot.domain.disclosure): a request for documents becomes a case of its own, a
masked copy of what it asks for is made for the registrator to read, and the decision closes
it. Only the registrator does any of it (access.DISCLOSE on the requested case).

The copy is text and PDF, made from what the store keeps: a mail's text (its raw bytes read
as intake reads them), a note's text. Attachments are named (masked), not copied: they are
files of any kind and are assessed one by one.
"""
from __future__ import annotations

from dataclasses import dataclass

from bot.domain import access
from bot.domain import disclosure as dis
from bot.domain.access import Actor
from bot.domain.case import DOC_NOTE, Case, Document, iso
from bot.domain.diary import DiaryNumber, parse_diary_number
from bot.domain.records import replace_names, secrecy_of
from bot.errors import DomainError
from bot.texts import t
from bot.usecases.base import Deps


@dataclass(frozen=True)
class MaskedCopy:
    """One requested document, masked: a file name (no names in it), its text and its PDF."""
    name: str
    text: str
    pdf: bytes
    paragraph: str | None


class Disclosure:
    def __init__(self, deps: Deps):
        self.deps = deps

    # ------------------------------------------------------------------ the request
    def open(self, actor: Actor, requested: Case, document: int | None, channel: str) -> str:
        """Diarise a request for `requested`'s documents (one of them, or all); the answer.
        Runs inside the caller's unit of work."""
        org, store, lang = self.deps.org, self.deps.store, self.deps.lang
        access.require(org, actor, access.DISCLOSE, requested)
        now = self.deps.clock.now()
        documents = (document,) if document is not None else None
        year = self.deps.calendar.local(now).year
        number = store.next_number(year)
        formatted = number.format(org.digits)
        request = dis.open_request(number=formatted, key=number.key, requested=requested,
                                   documents=documents, actor=actor.audit_name, channel=channel,
                                   now_iso=iso(now), org=org)
        dis.note_request(requested, request, actor.audit_name, channel, iso(now), documents)
        store.put_case(request)
        store.put_case(requested)
        hours = org.records.request_reminders
        return t(lang, "done_request_opened", number=formatted, requested=requested.number,
                 documents=request.title,
                 hours=", ".join(str(h) for h in hours),
                 person=actor.id if actor.kind == "person" else "<id>")

    def decide(self, actor: Actor, case: Case, decision: str, reason: str | None,
               paragraph: str | None, channel: str) -> str:
        """Record the decision on a request case and close it; the requested case notes it.
        Without a paragraph given, a masking or refusal takes the requested documents'."""
        org, store, lang = self.deps.org, self.deps.store, self.deps.lang
        request = dis.request_of(case)
        if request is None:
            raise DomainError(t(lang, "refused_not_request", number=case.number))
        requested = self._requested(request)
        access.require(org, actor, access.DISCLOSE, requested or case)
        if paragraph is None and requested is not None and decision != dis.RELEASED:
            paragraph = dis.paragraph_for(org, requested, request.documents)
        now = iso(self.deps.clock.now())
        message = dis.decide(case, decision, reason, paragraph, actor=actor.audit_name,
                             channel=channel, now_iso=now, org=org)
        store.put_case(case)
        if requested is not None:
            found = dis.decision_of(case)
            assert found is not None
            dis.note_decision(requested, case, found, actor.audit_name, channel, now)
            store.put_case(requested)
        return message

    def _requested(self, request: dis.Request) -> Case | None:
        parsed = parse_diary_number(request.number, self.deps.org.series)
        return self.deps.store.get_case(parsed) if parsed else None

    # ------------------------------------------------------------------ the masked copy
    def copies(self, actor: Actor, number: DiaryNumber, document: int | None = None
               ) -> tuple[Case, list[MaskedCopy]]:
        """The masked copies of what a request case asks for (or, for any other case, of its
        document `document` or all its documents): (the case they come from, the copies)."""
        org, lang = self.deps.org, self.deps.lang
        with self.deps.uow:
            case = self.deps.store.get_case(number)
            if case is None:
                raise DomainError(t(lang, "refused_no_case", number=number.format(org.digits)))
            request = dis.request_of(case)
            documents: tuple[int, ...] | None = (document,) if document is not None else None
            if request is not None:
                source = self._requested(request)
                if source is None:
                    raise DomainError(t(lang, "refused_no_case", number=request.number))
                documents = request.documents if document is None else documents
            else:
                source = case
            access.require(org, actor, access.DISCLOSE, source)
            chosen = dis.requested_documents(source, documents)
            if not chosen:
                raise DomainError(t(lang, "refused_no_document", number=source.number,
                                    no=document if document is not None else "–"))
            copies = [self._copy(source, d) for d in chosen]
        return source, copies

    def _copy(self, case: Case, document: Document) -> MaskedCopy:
        from bot.pdf import text_pdf
        org, lang = self.deps.org, self.deps.lang
        paragraph = secrecy_of(org, case, document)
        body, subject, attachments = self._text_of(document)
        label = dis.mask_label(paragraph)
        # a name given on a name line is masked wherever the document names that person again
        names = dis.named_in(f"{subject}\n{body}")
        lines = [t(lang, "copy_heading", number=case.number, no=document.no),
                 t(lang, "copy_type", type=t(lang, f"doc_{document.type}")),
                 t(lang, "copy_received", at=document.received[:10]),
                 t(lang, "copy_secrecy", paragraph=paragraph or t(lang, "secrecy_public")),
                 t(lang, "copy_subject", subject=dis.mask_text(org, subject, paragraph, names)), ""]
        lines.append(dis.mask_text(org, body, paragraph, names).strip() or "–")
        if attachments:
            lines += ["", t(lang, "copy_attachments", names="; ".join(
                dis.mask_text(org, a, paragraph, names) for a in attachments))]
        lines += ["", t(lang, "copy_footer", label=label)]
        text = "\n".join(lines) + "\n"
        # the file name carries the diary number only: never a subject that may name someone
        slug = case.number.replace(" ", "-").replace("/", "-")
        title = replace_names(org, t(lang, "copy_heading", number=case.number, no=document.no),
                              label)
        return MaskedCopy(f"{slug}-handling-{document.no}", text, text_pdf(title, text),
                          paragraph)

    def _text_of(self, document: Document) -> tuple[str, str, list[str]]:
        """(body, subject, attachment names) of a document as the store keeps it."""
        if document.type == DOC_NOTE or not document.raw:
            return document.subject, document.subject, list(document.attachments)
        from bot.mail.parse import parse_mail
        mail = parse_mail(self.deps.store.read_raw(document.raw))
        return (mail.text or "", mail.subject or document.subject,
                [a.filename for a in mail.attachments] or list(document.attachments))
