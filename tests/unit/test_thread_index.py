"""Thread-Index ([MS-OXOMSG] 2.2.1.3), pure: what Outlook groups a conversation by."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.mail import threadindex as ti

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=timezone.utc)


def test_an_index_outlook_wrote_reads_as_its_time_and_guid():
    started, guid, answers = ti.describe(ti.parse("AcZz/Jx3fOmU3yjDQGCrFi6YzT6K5A=="))
    assert started.year == 2006 and answers == []
    assert str(guid) == "7ce994df-28c3-4060-ab16-2e98cd3e8ae4"


def test_a_new_conversation_is_22_bytes_starting_like_outlooks():
    value = ti.encode(ti.new_index(MONDAY, "mail-1"))
    assert value.startswith("Ad") and len(ti.parse(value)) == 22
    started, _, _ = ti.describe(ti.parse(value))
    assert abs(started - MONDAY) < timedelta(milliseconds=10)


def test_an_answer_continues_the_parent_with_one_block_of_its_time():
    parent = ti.new_index(MONDAY, "theirs")
    child = ti.answer_index(parent, MONDAY + timedelta(days=2, hours=1), "ours")
    assert child[:22] == parent and len(child) == 27
    _, _, answers = ti.describe(child)
    assert abs(answers[0] - (MONDAY + timedelta(days=2, hours=1))) < timedelta(milliseconds=30)
    grandchild = ti.answer_index(child, MONDAY + timedelta(days=3), "theirs again")
    assert grandchild[:27] == child and len(ti.describe(grandchild)[2]) == 2


def test_an_answer_years_later_uses_the_long_delta_code():
    parent = ti.new_index(MONDAY, "old")
    later = MONDAY + timedelta(days=800)
    child = ti.answer_index(parent, later, "new")
    assert child[22] & 0x80                       # delta code 1
    assert abs(ti.describe(child)[2][0] - later) < timedelta(seconds=1)


def test_what_is_not_an_index_is_ignored():
    assert ti.parse(None) is None and ti.parse("inte base64!") is None
    assert ti.parse(ti.encode(b"\x01" * 23)) is None      # neither header nor blocks


def test_the_same_mail_built_again_gets_the_same_index():
    assert ti.thread_headers("Ämne", None, MONDAY, "id-1") == ti.thread_headers("Ämne", None, MONDAY, "id-1")
