"""Waiting mail through intake one at a time: memory bounded by one mail, not the backlog.

drain(source, ingest_many) is what the run loop's poll_mailbox does with a streaming
source: the bytes of each mail are read only when intake takes it and dropped after, and
each group of mails is acknowledged in the mailbox right after ingest_many made its
outcomes durable (DESIGN §4: acknowledged only after the outcome is stored). Sources
without waiting()/read() (fakes, older adapters) go through fetch() as before.
"""
from __future__ import annotations

import itertools
from collections import deque
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from bot.ports import MailSource

Item = tuple[bytes, "datetime | None", str, "str | None"]   # raw, arrived, source id, conversation
IngestMany = Callable[..., list[dict[str, Any]]]


def stream(source: MailSource) -> Iterator[Item]:
    """(raw, arrived, source id, conversation id) per mail, each read when it is asked for.
    A mail that cannot be read is skipped here (its source reports it) and stays waiting."""
    waiting = getattr(source, "waiting", None)
    read = getattr(source, "read", None)
    if waiting is None or read is None:
        yield from source.fetch()
        return
    for handle in waiting():
        raw = read(handle)
        if raw is not None:
            yield raw, handle.arrived, handle.source_id, handle.conversation_id
        raw = None                # drop this mail's bytes before reading the next


def drain(source: MailSource, ingest_many: IngestMany) -> list[dict[str, Any]]:
    """Stream every waiting mail through ingest_many(items, on_durable=...) and acknowledge
    each mail once its group is durable. Returns the intake results in order."""
    in_flight: deque[str] = deque()
    mails = stream(source)
    first = next(mails, None)
    if first is None:
        return []                 # nothing waits: no intake call, no store write

    def items() -> Iterable[tuple[bytes, datetime | None, str | None]]:
        nonlocal first
        head, first = first, None
        assert head is not None
        for raw, arrived, source_id, conversation_id in itertools.chain((head,), mails):
            head = None
            in_flight.append(source_id)
            yield raw, arrived, conversation_id
            del raw               # drop the bytes before the next mail is read

    def on_durable(results: list[dict[str, Any]]) -> None:
        for _ in results:
            source.acknowledge(in_flight.popleft())

    return ingest_many(items(), on_durable=on_durable)
