"""What a stored case looks like is bound to the data format, so that an older release never
opens data it cannot read.

A release builds a case from every stored key (Case.from_dict): a key it does not know stops
it with a TypeError, perhaps in the middle of a run (0.3.0 on the lagrum, lagrum_by and
fsn_closing of format 4; its reminder scan on a request case's step). The reader stays strict on purpose: dropping unknown keys would
lose them as soon as the case is written back. What keeps an older release out is the
format number it checks before it writes (FORMAT in a data directory, schema_version in
PostgreSQL, tests/contract/test_rollback.py). So a change of the stored shape (a field, a
kind, a kind's statuses) without a new FORMAT and a breaking migration fails here.
"""
from __future__ import annotations

from dataclasses import fields
from importlib import resources

import pytest

from bot.domain import case as stored
from bot.store.layout import FORMAT
from bot.store.postgres import ADDITIVE_MARK

RELEASE_0_3_0 = {
    "Case": ["number", "key", "kind", "title", "status", "created", "unit", "counterpart",
             "severity", "status_since", "documents", "actions", "events", "snoozes",
             "message_ids", "conversation_ids", "close_reason", "links", "imported",
             "reference", "lex_requested", "lex_decision", "acks", "public_title", "hold"],
    "Document": ["no", "type", "received", "sender", "subject", "message_id", "raw",
                 "attachments", "secrecy"],
    "Action": ["no", "text", "owner", "due", "created", "done", "done_by"],
    "Event": ["at", "who", "channel", "what", "details"],
    "Snooze": ["step", "until", "reason", "by"],
    "statuses": {"incoming": ["diarised", "registered", "response_received", "response_sent",
                              "closed"],
                 "outgoing": ["diarised", "sent", "response_received", "closed"]},
}
FORMAT_4 = {
    **RELEASE_0_3_0,
    "Case": RELEASE_0_3_0["Case"] + ["lagrum", "lagrum_by", "fsn_closing"],
    "statuses": {**RELEASE_0_3_0["statuses"],
                 "klagomål": ["diarised", "answered", "closed"],
                 "fsn": ["diarised", "closed"],
                 "request": ["diarised", "closed"]},
}
# data format → (the stored shape, the newest breaking PostgreSQL migration)
SHAPES = {3: (RELEASE_0_3_0, 2), 4: (FORMAT_4, 4)}


def _shape() -> dict:
    found: dict = {cls.__name__: [f.name for f in fields(cls)]
                   for cls in (stored.Case, stored.Document, stored.Action, stored.Event,
                               stored.Snooze)}
    found["statuses"] = {kind: list(statuses) for kind, statuses in stored.STATUSES.items()}
    return found


def _newest_breaking_migration() -> int:
    scripts = [f for f in resources.files("bot.store.migrations").iterdir()
               if f.name.endswith(".sql")]
    return max(int(f.name.split("_", 1)[0]) for f in scripts
               if not f.read_text(encoding="utf-8").startswith(ADDITIVE_MARK))


def test_the_stored_shape_of_a_case_is_the_one_of_this_format():
    shape, migration = SHAPES[max(SHAPES)]
    assert max(SHAPES) == FORMAT, "a new FORMAT needs its stored shape recorded here"
    assert _shape() == shape, (
        "the stored shape of a case changed: an older release cannot read such a case. Raise "
        "FORMAT (bot/store/layout.py, with its upgrade step), add a breaking migration "
        "(bot/store/migrations, without the additive mark), record the shape here, and say "
        "in README (Rollback) and CHANGELOG which release refuses the data from now on")
    assert _newest_breaking_migration() == migration, (
        "the newest breaking migration is not the one of this format")


def test_a_case_with_a_key_this_version_does_not_know_is_refused_not_dropped():
    """Written back, a case read without a newer version's key would lose it for good."""
    case = stored.Case(number="VOK 2026/0001", key="k", kind=stored.INCOMING, title="t",
                       status="diarised", created="2026-11-16T09:00:00+00:00", unit="u",
                       counterpart="c")
    data = case.to_dict()
    assert stored.Case.from_dict(data) == case
    with pytest.raises(TypeError, match="begaran"):
        stored.Case.from_dict({**data, "begaran": {"handlingar": ["VOK 2026/0001"]}})
