"""The command folder (bot.commandbox) trusts only what the command line itself writes there:
no symlinks, no other owner, no oversized or malformed file, and a folder others can write
is tightened before anything is read from it."""
from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from bot import commandbox
from bot.errors import StoreError

AT = "2026-11-16T09:00:00+00:00"


def serve(data, ran):
    return commandbox.serve(data, lambda person, text: (ran.append((person, text)) or (True, "ok")),
                            refused="avvisad")


def drop_raw(data, name: str, body: bytes) -> str:
    box = commandbox.folder(data)
    (box / f"{name}{commandbox.REQUEST}").write_bytes(body)
    return name


def test_a_symlinked_request_is_refused_and_its_target_not_read(tmp_path, caplog):
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"person": "rut", "text": "skicka VOK 2026/1"}))
    box = commandbox.folder(tmp_path / "data")
    (box / f"evil{commandbox.REQUEST}").symlink_to(elsewhere)
    ran: list = []
    assert serve(tmp_path / "data", ran) == 0
    assert ran == []
    assert commandbox.wait_for_reply(tmp_path / "data", "evil", 0) == {"ok": False, "text": "avvisad"}
    assert elsewhere.exists()


def test_a_request_of_another_owner_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test gives a file to another user: run it as root (CI does)")
    name = drop_raw(tmp_path / "data", "other", json.dumps({"person": "rut", "text": "hjälp"}).encode())
    os.chown(commandbox.folder(tmp_path / "data") / f"{name}{commandbox.REQUEST}", 65534, 65534)
    ran: list = []
    assert serve(tmp_path / "data", ran) == 0 and ran == []


def test_an_oversized_request_is_refused_at_once_and_the_next_one_runs(tmp_path):
    data = tmp_path / "data"
    huge = json.dumps({"person": "rut", "text": "hjälp " + "x" * (60 * 1024 * 1024)}).encode()
    drop_raw(data, "huge", huge)
    real = commandbox.drop(data, "anna", "registrerad VOK 2026/1", AT)
    ran: list = []
    assert serve(data, ran) == 1
    assert ran == [("anna", "registrerad VOK 2026/1")]
    assert commandbox.wait_for_reply(data, "huge", 0)["ok"] is False
    assert commandbox.wait_for_reply(data, real, 0) == {"ok": True, "text": "ok"}


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b'{"person": 1}', b""])
def test_a_malformed_request_is_one_log_line_without_a_traceback(tmp_path, caplog, body):
    data = tmp_path / "data"
    drop_raw(data, "bad", body)
    caplog.set_level(logging.WARNING, logger="bot.commandbox")
    ran: list = []
    assert serve(data, ran) == 0 and ran == []
    lines = [r for r in caplog.records if r.name == "bot.commandbox"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert not list(commandbox.folder(data).glob(f"*{commandbox.CLAIMED}"))


def test_a_folder_others_can_write_is_tightened(tmp_path):
    box = tmp_path / "data" / commandbox.FOLDER
    box.mkdir(parents=True)
    os.chmod(box, 0o777)
    commandbox.folder(tmp_path / "data")
    assert stat.S_IMODE(box.stat().st_mode) == 0o700


def test_a_folder_that_is_a_symlink_is_refused(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / commandbox.FOLDER).symlink_to(elsewhere)
    with pytest.raises(StoreError):
        commandbox.folder(tmp_path / "data")
