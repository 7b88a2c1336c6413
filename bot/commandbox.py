"""Changing commands from the command line while `run` holds the data directory.

`command --as` cannot take the writer lock while `run` runs, and an office without chat must
still be able to act. So the command line drops the request into `<data>/commands/` (a
private folder, 0700; the file written durably, 0600) and waits for the answer. `run` claims
each request by renaming it — a rename happens once, so a request runs once — runs it
through the same use case as chat (Commands.handle, with its permission check), and writes
the answer beside it. A request the command line withdraws (it gave up waiting) before
`run` claimed it never runs; one `run` claimed but did not answer (it stopped in between) is
answered at the next start with "unknown, look with status". Only someone who can write in
the data directory can drop a request: the same trust as running the command line itself.

That trust is checked, not assumed: the folder must be a real folder owned by the bot's user
(a wider mode is tightened to 0700 at start, another owner or a symlink is refused); a request
must be a regular file owned by that user, opened without following a symlink, at most
MAX_REQUEST_BYTES. A bad request is answered "refused", logged in one line, and removed.
"""
from __future__ import annotations

import json
import logging
import os
import stat
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from bot.errors import StoreError
from bot.files import fsync_directory, private_dir, write_durably

log = logging.getLogger(__name__)

FOLDER = "commands"
REQUEST, CLAIMED, REPLY = ".request.json", ".claimed.json", ".reply.json"
MAX_REQUEST_BYTES = 64 * 1024       # a command line is a line: this is generous


class BadRequest(Exception):
    """A request file that is not what the command line writes."""


def folder(data_dir: Path) -> Path:
    """The request folder: created 0700; an existing one must be a real folder of this user,
    and a wider mode is tightened (a 0777 folder let anyone drop a request)."""
    path = Path(data_dir) / FOLDER
    private_dir(path)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} är inte en mapp (en symbolisk länk?); ta bort den")
    if info.st_uid != os.geteuid():
        raise StoreError(f"{path} ägs av en annan användare (uid {info.st_uid}); "
                         "kommandon tas inte emot därifrån")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, 0o700)
        log.warning("kommandomappen hade rättigheterna %o; nu 0700",
                    stat.S_IMODE(info.st_mode))
    return path


def _read_request(path: Path) -> dict[str, Any]:
    """The claimed request, read without following a symlink and only when it is a regular
    file of this user and not too large; its fields checked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise BadRequest("symbolisk länk eller oläsbar fil") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise BadRequest("inte en vanlig fil")
        if info.st_uid != os.geteuid():
            raise BadRequest(f"ägs av uid {info.st_uid}")
        if info.st_size > MAX_REQUEST_BYTES:
            raise BadRequest(f"{info.st_size} byte, mer än {MAX_REQUEST_BYTES}")
        raw = os.read(fd, MAX_REQUEST_BYTES + 1)
    finally:
        os.close(fd)
    try:
        request = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise BadRequest("inte JSON i UTF-8") from exc
    if not (isinstance(request, dict) and isinstance(request.get("person"), str)
            and isinstance(request.get("text"), str)):
        raise BadRequest("person eller text saknas")
    return request


def drop(data_dir: Path, person: str, text: str, at: str, *, op: str | None = None) -> str:
    """Leave one request for `run`; its id. `op` names an administrator's operation
    (`outbox --retry`: "outbox-retry") instead of a chat command."""
    request_id = uuid.uuid4().hex
    box = folder(data_dir)
    request: dict[str, Any] = {"id": request_id, "person": person, "text": text, "at": at}
    if op:
        request["op"] = op
    body = json.dumps(request, ensure_ascii=False).encode("utf-8")
    write_durably(box / f"{request_id}{REQUEST}", body, temp=box / f".tmp-{request_id}")
    fsync_directory(box)
    return request_id


def withdraw(data_dir: Path, request_id: str) -> bool:
    """Take a request back; False when `run` has already claimed it (it runs, or ran)."""
    try:
        os.unlink(folder(data_dir) / f"{request_id}{REQUEST}")
        return True
    except FileNotFoundError:
        return False


def wait_for_reply(data_dir: Path, request_id: str, timeout: float,
                   poll: float = 0.05) -> dict[str, Any] | None:
    """The answer `run` wrote (removed once read), or None when none came within timeout."""
    path = folder(data_dir) / f"{request_id}{REPLY}"
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            if time.monotonic() >= deadline:
                return None
            time.sleep(poll)
            continue
        path.unlink(missing_ok=True)
        return reply


Op = Callable[[], tuple[bool, str, Any]]


def serve(data_dir: Path, handle: Callable[[str, str], tuple[bool, str]],
          ops: dict[str, Op] | None = None, refused: str = "refused") -> int:
    """Run every waiting request, oldest first: claim, handle(person, text) — or the named
    operation, ops[op]() -> (ok, text, data) — answer. The number of requests run. A bad
    request is answered `refused` and never run."""
    box = folder(data_dir)
    requests = sorted(box.glob(f"*{REQUEST}"), key=_age)
    done = 0
    for path in requests:
        request_id = path.name[:-len(REQUEST)]
        claimed = box / f"{request_id}{CLAIMED}"
        try:
            os.rename(path, claimed)          # withdrawn meanwhile: not ours to run
        except FileNotFoundError:
            continue
        fsync_directory(box)
        try:
            request = _read_request(claimed)
        except BadRequest as exc:
            log.warning("kommandobegäran %s avvisades: %s", request_id[:64], exc)
            _answer(box, request_id, False, refused)
            continue
        data = None
        if request.get("op"):
            operation = (ops or {}).get(request["op"])
            ok, text, data = operation() if operation else (False, refused, None)
        else:
            ok, text = handle(request["person"], request["text"])
        _answer(box, request_id, ok, text, data)
        done += 1
    return done


def _age(path: Path) -> int:
    try:
        return path.lstat().st_mtime_ns
    except FileNotFoundError:            # withdrawn meanwhile: skipped when claimed
        return 0


def answer_abandoned(data_dir: Path, text: str) -> int:
    """Requests claimed by a `run` that stopped before it answered: whether they ran is not
    known here, so the command line is told to look (never run twice)."""
    box = folder(data_dir)
    abandoned = list(box.glob(f"*{CLAIMED}"))
    for path in abandoned:
        _answer(box, path.name[:-len(CLAIMED)], False, text)
    return len(abandoned)


def _answer(box: Path, request_id: str, ok: bool, text: str, data: Any = None) -> None:
    reply: dict[str, Any] = {"ok": ok, "text": text}
    if data is not None:
        reply["data"] = data
    body = json.dumps(reply, ensure_ascii=False).encode("utf-8")
    write_durably(box / f"{request_id}{REPLY}", body, temp=box / f".tmp-{request_id}-reply")
    (box / f"{request_id}{CLAIMED}").unlink(missing_ok=True)
    fsync_directory(box)
