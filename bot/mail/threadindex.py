"""Thread-Index and Thread-Topic: how Outlook groups a conversation ([MS-OXOMSG] 2.2.1.3,
PidTagConversationIndex), beside In-Reply-To/References which other clients use.

The index is a 22-byte header — the FILETIME when the conversation began without its 16 least
significant bits, in 6 bytes big-endian (the spec's "reserved 0x01" and 40 bits of time: the
first byte is 0x01 for any date from 1972 to 2057, which is how Outlook's indexes read,
"AdfP…"), a GUID for the conversation — followed by one 5-byte block per answer:
a delta-code bit, 31 bits of the time since the header (bits 18..48 of the difference, or
bits 23..53 when it is 1.7 years or more, delta code 1), and 8 bits that tell two answers in
the same moment apart. The header travels base64-encoded. Pure: time and values in, bytes out.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from datetime import datetime, timezone

HEADER = 22
BLOCK = 5
_EPOCH_AS_FILETIME = 116_444_736_000_000_000      # 1970-01-01 in 100 ns since 1601
_SHORT_DELTA = 1 << 49                            # about 1.78 years in 100 ns


def filetime(moment: datetime) -> int:
    delta = moment.astimezone(timezone.utc) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return _EPOCH_AS_FILETIME + (delta.days * 86_400 + delta.seconds) * 10_000_000 \
        + delta.microseconds * 10


def from_filetime(value: int) -> datetime:
    from datetime import timedelta
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(
        microseconds=(value - _EPOCH_AS_FILETIME) // 10)


def new_index(moment: datetime, seed: str) -> bytes:
    """The index of a new conversation; its GUID derived from `seed` (the same mail built
    again after a crash gets the same index)."""
    guid = uuid.uuid5(uuid.NAMESPACE_URL, f"avvikelsebot:{seed}")
    return (filetime(moment) >> 16).to_bytes(6, "big") + guid.bytes


def answer_index(parent: bytes, moment: datetime, seed: str) -> bytes:
    """The parent's index with one block for this answer."""
    started = int.from_bytes(parent[0:6], "big") << 16
    delta = max(0, filetime(moment) - started)
    if delta < _SHORT_DELTA:
        block = ((delta >> 18) & 0x7FFF_FFFF) << 8
    else:
        block = (1 << 39) | (((delta >> 23) & 0x7FFF_FFFF) << 8)
    block |= hashlib.sha256(seed.encode("utf-8")).digest()[0]
    return parent + block.to_bytes(BLOCK, "big")


def parse(value: str | None) -> bytes | None:
    """A Thread-Index header's bytes, or None when it is missing or not an index."""
    if not value:
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) < HEADER or (len(raw) - HEADER) % BLOCK:
        return None
    return raw


def encode(index: bytes) -> str:
    return base64.b64encode(index).decode("ascii")


def describe(index: bytes) -> tuple[datetime, uuid.UUID, list[datetime]]:
    """When the conversation began, its GUID, and when each answer was made (for tests
    and for reading a counterpart's index)."""
    started = int.from_bytes(index[0:6], "big") << 16
    answers = []
    for at in range(HEADER, len(index), BLOCK):
        block = int.from_bytes(index[at:at + BLOCK], "big")
        delta = (block >> 8) & 0x7FFF_FFFF
        delta <<= 23 if block >> 39 else 18
        answers.append(from_filetime(started + delta))
    return from_filetime(started), uuid.UUID(bytes=index[6:HEADER]), answers


def thread_headers(topic: str, parent_value: str | None, moment: datetime,
                   seed: str) -> dict[str, str]:
    """Thread-Topic and Thread-Index for a mail the bot sends: continuing the index of the
    mail it answers when that one had one, else a new conversation."""
    parent = parse(parent_value)
    index = answer_index(parent, moment, seed) if parent else new_index(moment, seed)
    return {"Thread-Topic": topic, "Thread-Index": encode(index)}
