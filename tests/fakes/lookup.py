"""FakeCaseLookup: what classify() may ask the diary (bot.mail.classify.CaseLookup), kept in
dicts. record() stores a mail the way the real store does: by duplicate key, with the
content hash of the first mail under that key."""
from __future__ import annotations

from bot.domain.diary import DiaryNumber
from bot.mail.classify import CaseRef


class FakeCaseLookup:
    def __init__(self, cases: list[CaseRef] | None = None):
        self.cases = {c.number: c for c in cases or []}
        self.hashes: dict[str, str | None] = {}      # duplicate key -> first content hash
        self.message_ids: dict[str, str] = {}         # message id -> case number
        self.conversations: dict[str, str] = {}

    def record(self, key: str, content_hash: str | None, number: str | None = None,
               message_id: str | None = None) -> None:
        self.hashes.setdefault(key, content_hash)
        if number and message_id:
            self.message_ids[message_id.lower()] = number

    # --- CaseLookup
    def seen(self, duplicate_key: str) -> bool:
        return duplicate_key in self.hashes

    def seen_hash(self, duplicate_key: str) -> str | None:
        return self.hashes.get(duplicate_key)

    def by_number(self, number: DiaryNumber) -> CaseRef | None:
        for ref in self.cases.values():
            if ref.number == number.format(4):
                return ref
        return None

    def by_message_ids(self, ids: tuple[str, ...]) -> CaseRef | None:
        for mid in reversed(ids):
            number = self.message_ids.get(mid.lower())
            if number:
                return self.cases.get(number)
        return None

    def by_conversation(self, conversation_id: str) -> CaseRef | None:
        number = self.conversations.get(conversation_id)
        return self.cases.get(number) if number else None
