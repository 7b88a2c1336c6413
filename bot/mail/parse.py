"""Raw RFC 822 bytes -> InboundMail.

parse_mail() never raises. Everything goes through the standard library's
`email` package with policy.default; every access that can fail on hostile or
broken input is guarded, and what had to be repaired is recorded as short
strings in InboundMail.defects (including the class names of the email
package's own defects). Charsets are trusted when they work and repaired when
they do not (utf-8, then windows-1252, then latin-1).
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import codecs
import email
import email.header
import email.policy
import email.utils
import hashlib
import html as html_lib
import quopri
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message

from bot.domain.address import canonical
from bot.domain.redact import redact
from bot.mail.authenticity import TRACE_HEADERS
from bot.mail.message import Attachment, InboundMail

POLICY = email.policy.default

MAX_ATTACHED_DEPTH = 3      # attached messages inside attached messages, at most this deep
MAX_MIME_DEPTH = 60         # nesting of multiparts we are willing to walk
MAX_STRUCTURED_HEADER = 64_000  # longer header values are not fed to the (slow) structured parser
HEADER_VALUE_MAX = 500      # InboundMail.headers values are truncated to this
TRACE_MAX = 200             # trace headers kept (the trusted ones are at the top)
TRACE_VALUE_MAX = 4000

_ATTACHED_TYPES = {"message/rfc822", "message/global"}
_LATIN1ISH = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "iso8859-1", "iso_8859-1",
              "iso-8859-15", "windows-1252", "cp1252"}
_MSGID_RE = re.compile(r"<([^<>]*)>")
_EMAIL_RE = re.compile(r"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])"   # linear: see bot.mail.forward
                       r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]++@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
_C1_RE = re.compile(rb"[\x80-\x9f]")
# Memory: the stdlib parser needs ~9x a mail's size (a 42 MB mail peaks at ~370 MB), nearly
# all of it for long base64 payloads. Runs of base64 lines longer than this are replaced,
# before parsing, by a short base64 marker carrying the decoded size (attachments are kept
# as raw bytes by the store; intake only needs their names and sizes).
ELIDE_ABOVE_BYTES = 4 * 1024 * 1024
B64_RUN_LINES = 4000        # ... of at least this many lines
# A maximal run of base64-looking lines, each matched from a line start and never given back
# (possessive): the engine reads every byte a bounded number of times, so a 5 MB line of
# base64 letters costs one pass, not ~1,000 tries per byte (the non-possessive
# "{16,998}" re-tried every shorter length at every offset of a long line: minutes at 5 MB).
# Runs shorter than B64_RUN_LINES are skipped in _elide_large_base64.
_B64_RUN = re.compile(rb"^(?:[A-Za-z0-9+/=]{16,998}+\r?\n)++", re.MULTILINE)
_ELIDED = b"AVVIKELSEBOT-ELIDED:"
# ... keeping the run's first lines, so that a long base64 *text* body still has text to
# read (TEXT_MAX_CHARS of it at most; an attachment only needs its size)
ELIDE_KEEP_BYTES = 512 * 1024
# What intake reads of a mail's text (the raw mail is always kept whole, in raw/): the rules
# (diary numbers, units, severity, forwards, override lines) and the web page's text see at
# most TEXT_MAX_CHARS characters of the body, and inscriptis at most HTML_MAX_CHARS of an
# HTML body (after inline data: images are dropped). A deviation report is a few kB; these
# bounds keep intake time linear in the mail's size however a large body is shaped (one
# 5 MB line, deep tag soup): parsing is linear, what the rules read is bounded.
TEXT_MAX_CHARS = 256 * 1024
HTML_MAX_CHARS = 256 * 1024      # inscriptis reads text a character at a time: ~0.7 s per MB
_DATA_URI = re.compile(r"(data:[\w/+.-]{0,100}+;base64,)[A-Za-z0-9+/=\s]{1024,}+", re.IGNORECASE)
_WRITTEN_YEAR = re.compile(r"(?<![+\-\d])(\d{3,})(?![\d:])")   # a year of 3+ digits, not a zone


# --------------------------------------------------------------------------- public


def parse_mail(raw: bytes, *, conversation_id: str | None = None,
               trusted_authserv_ids: tuple[str, ...] | None = None) -> InboundMail:
    """Parse raw message bytes. Never raises; see module docstring. With the organisation's
    trusted authserv-ids, the mail carries its sender verdict (bot.mail.authenticity)."""
    mail = _parse_mail(raw, conversation_id)
    mail = dataclasses.replace(mail, fingerprint=body_fingerprint(_as_bytes(raw)))
    if trusted_authserv_ids is None:
        return mail
    from bot.mail.authenticity import judge
    return dataclasses.replace(mail, verdict=judge(mail, trusted_authserv_ids))


def body_fingerprint(raw: bytes) -> str:
    """sha256 of what follows the header block, without CR (line endings change in transit)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    start = min(ends) if ends else len(raw)
    digest = hashlib.sha256()
    for offset in range(start, len(raw), 1 << 20):
        digest.update(raw[offset:offset + (1 << 20)].replace(b"\r", b""))
    return digest.hexdigest()


def _parse_mail(raw: bytes, conversation_id: str | None) -> InboundMail:
    try:
        raw = _as_bytes(raw)
    except Exception:  # pragma: no cover - _as_bytes is itself defensive
        raw = b""
    content_hash = hashlib.sha256(raw).hexdigest()
    try:
        return _parse_bytes(raw, content_hash, conversation_id, depth=0)
    except BaseException as exc:  # noqa: BLE001 - the contract is "never raise"
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return InboundMail(
            message_id=None,
            content_hash=content_hash,
            conversation_id=conversation_id,
            text=_clean_text(raw.decode("latin-1", errors="replace")),
            defects=(f"parse-failed:{type(exc).__name__}",),
        )


# --------------------------------------------------------------------------- plumbing


def _redacted(value):
    return redact(value) if value else value


def _as_bytes(raw: object) -> bytes:
    if raw is None:
        return b""
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, (bytearray, memoryview)):
        return bytes(raw)
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return bytes(raw)  # type: ignore[call-overload]


@dataclass
class _Fields:
    """Accumulates InboundMail fields so that a failure late on keeps what was read."""

    values: dict = field(default_factory=dict)
    defects: list[str] = field(default_factory=list)
    parsed: dict = field(default_factory=dict)   # (name, raw value) -> header object or exception

    def defect(self, what: str) -> None:
        if what not in self.defects:
            self.defects.append(what)

    def step(self, name: str, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            self.defect(f"{name}-failed:{type(exc).__name__}")


def _parse_bytes(raw: bytes, content_hash: str, conversation_id: str | None, depth: int) -> InboundMail:
    f = _Fields()
    if not raw or raw.isspace():   # not raw.strip(): no copy of a large mail
        f.defect("empty-input")
    if len(raw) > ELIDE_ABOVE_BYTES:
        raw = _elide_large_base64(raw, f)
    try:
        msg = email.message_from_bytes(raw, policy=POLICY)
    except Exception as exc:  # noqa: BLE001
        f.defect(f"mime-parse-failed:{type(exc).__name__}")
        return InboundMail(message_id=None, content_hash=content_hash, conversation_id=conversation_id,
                           text=_clean_text(_decode_bytes(raw, None, f)), defects=tuple(f.defects))
    return _from_message(msg, content_hash, conversation_id, depth, f)


def _elide_large_base64(raw: bytes, f: _Fields) -> bytes:
    """Replace long base64 runs with a marker that decodes to their size (see ELIDE_ABOVE_BYTES)."""
    pieces, last = [], 0
    for m in _B64_RUN.finditer(raw):
        start, end = m.span()         # no copy of the run: it may be tens of megabytes
        lines = raw.count(b"\n", start, end)
        if lines < B64_RUN_LINES:
            continue
        chars = end - start - lines - raw.count(b"\r", start, end)
        tail = raw[max(start, end - 8):end].rstrip()
        size = chars * 3 // 4 - (2 if tail.endswith(b"==") else 1 if tail.endswith(b"=") else 0)
        newline = b"\r\n" if tail and raw[end - 2:end] == b"\r\n" else b"\n"
        kept = _b64_prefix_end(raw, start, end)
        pieces += [raw[last:kept], base64.b64encode(_ELIDED + str(size).encode()), newline]
        last = end
    if not pieces:
        return raw
    f.defect("large-parts-elided")
    pieces.append(raw[last:])
    return b"".join(pieces)


def _b64_prefix_end(raw: bytes, start: int, end: int) -> int:
    """Where the kept first lines of a base64 run end: whole lines, about ELIDE_KEEP_BYTES,
    a multiple of 4 characters without padding (so that they and the marker after them decode
    as one); `start` (nothing kept) when the run's lines do not allow it."""
    cut = raw.find(b"\n", start + ELIDE_KEEP_BYTES, end)
    if cut < 0:
        return start
    cut += 1
    chars = cut - start - raw.count(b"\n", start, cut) - raw.count(b"\r", start, cut)
    if chars % 4 or raw.find(b"=", start, cut) >= 0:
        return start
    return cut


def _elided(data: bytes) -> tuple[bytes, int] | None:
    """(the kept beginning, the whole decoded size) of a payload whose base64 run was elided
    before parsing, or None when it was not."""
    at = data.rfind(_ELIDED)
    if at < 0:
        return None
    try:
        return data[:at], int(data[at + len(_ELIDED):].strip())
    except ValueError:
        return None


def _whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 sequence cut off at its end (the kept beginning of a text)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return data
        if byte >= 0xC0:                 # the lead byte of the last sequence
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if back >= need else data[:-back]
    return data


def _from_message(msg: Message, content_hash: str, conversation_id: str | None, depth: int,
                  f: _Fields | None = None) -> InboundMail:
    f = f or _Fields()
    v = f.values
    v["content_hash"] = content_hash
    v["conversation_id"] = conversation_id
    v["message_id"] = None

    headers: dict[str, list[str]] = {}

    def read_headers() -> None:
        headers.update(_read_headers(msg, f))
        if not headers and "empty-input" not in f.defects:
            f.defect("no-headers")
        v["headers"] = {k: vals[0][:HEADER_VALUE_MAX] for k, vals in headers.items() if vals}

    f.step("headers", read_headers)

    def trace() -> None:
        v["trace"] = _trace(msg, f)

    f.step("trace", trace)

    # Ids and addresses are stored in the diary and shown (status --json, logs): a
    # personnummer in them is redacted here, once, and every comparison (duplicates,
    # threads) is made between redacted forms. Only raw/ keeps the original.
    def ids() -> None:
        mids = _raw_values(msg, "message-id", f)
        v["message_id"] = _redacted(_message_id(mids[0])) if mids else None
        v["in_reply_to"] = tuple(_redacted(m) for m in _msg_ids(_raw_values(msg, "in-reply-to", f)))
        v["references"] = tuple(_redacted(m) for m in _msg_ids(_raw_values(msg, "references", f)))

    f.step("ids", ids)

    def people() -> None:
        v["from_count"] = len([a for _n, a in _addresses(msg, "from", f) if a])
        for name in ("from", "sender", "return-path"):
            addrs = [(n, a) for n, a in _addresses(msg, name, f) if a or n]
            with_addr = [(n, a) for n, a in addrs if a]
            if with_addr:
                v["sender_name"], v["sender_address"] = (redact(part) for part in with_addr[0])
                written = [a for _n, a in _addresses(msg, name, f, bare=_written) if a]
                v["sender_written"] = redact(written[0]) if written else v["sender_address"]
                break
            if addrs and "sender_name" not in v:
                v["sender_name"] = redact(addrs[0][0])
        to = [a for name in ("to", "cc") for _n, a in _addresses(msg, name, f) if a]
        v["to"] = tuple(dict.fromkeys(to))

    f.step("addresses", people)

    def subject() -> None:
        subj = headers.get("subject")
        if subj:
            v["subject"] = " ".join(subj[0].split())

    f.step("subject", subject)

    def dates() -> None:
        d = _raw_values(msg, "date", f)
        if d:
            v["date"] = _parse_date(d[0])
            if v["date"] is None:
                f.defect("unparseable-date")
        rec = _raw_values(msg, "received", f)
        if rec:
            top = rec[0]
            v["received"] = _parse_date(top.rsplit(";", 1)[1]) if ";" in top else None
            if v["received"] is None:
                f.defect("unparseable-received")

    f.step("dates", dates)

    def content_type() -> None:
        v["content_type"] = _ctype(msg)
        if v["content_type"] == "multipart/report":
            rt = _param(msg, "report-type")
            v["report_type"] = rt.strip().lower() if rt else None

    f.step("content-type", content_type)

    def body() -> None:
        _Body(f, depth).run(msg)

    f.step("body", body)

    for d in _msg_defects(msg):
        f.defect(d)

    v["defects"] = tuple(f.defects)
    return InboundMail(**v)


# --------------------------------------------------------------------------- body walk


class _Body:
    def __init__(self, f: _Fields, depth: int):
        self.f = f
        self.depth = depth
        self.plain: list[str] = []
        self.html: list[str] = []
        self.broken: list[str] = []   # multiparts whose parts could not be split
        self.attachments: list[Attachment] = []
        self.attached: list[InboundMail] = []
        self.preamble = ""
        self.visited: list[Message] = []   # parts whose defects are collected after decoding

    def run(self, msg: Message) -> None:
        f = self.f
        try:
            if msg.is_multipart() and isinstance(msg.preamble, str):
                self.preamble = _fix_surrogates(msg.preamble)
            self.walk(msg, 0)
        finally:
            # decoding payloads adds defects (bad base64 ...) to the parts, so collect them last
            for part in self.visited:
                for d in _msg_defects(part):
                    f.defect(d)
            # Whatever was collected before a failure is kept.
            text = ""
            plain = [t for t in self.plain if t.strip()]
            if plain:
                text = "\n\n".join(t.strip("\n") for t in plain)
            else:
                html = [t for t in (self._html_to_text(h) for h in self.html) if t.strip()]
                if html:
                    text = "\n\n".join(html)
                elif self.broken:
                    text = "\n\n".join(self.broken)
                elif self.preamble.strip():
                    # e.g. old DSNs that put the human-readable report before the first boundary
                    f.defect("text-from-preamble")
                    text = self.preamble
            f.values["text"] = _clean_text(_bounded(text, TEXT_MAX_CHARS, f, "text-truncated"))
            f.values["attachments"] = tuple(self.attachments)
            f.values["attached_messages"] = tuple(self.attached)

    def walk(self, part: Message, level: int) -> None:
        if level > MAX_MIME_DEPTH:
            self.f.defect("mime-too-deep")
            return
        ctype = _ctype(part)
        self.visited.append(part)
        if ctype in _ATTACHED_TYPES:
            self.attached_message(part, ctype)
            return
        maintype = ctype.split("/", 1)[0]
        if maintype == "message":
            # message/delivery-status, message/disposition-notification, message/partial ...:
            # metadata, never an attached message; list it only when it is a named attachment.
            self.maybe_attachment(part, ctype)
            return
        if part.is_multipart():
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else ():
                if isinstance(sub, Message):
                    self.walk(sub, level + 1)
            return
        if maintype == "multipart":
            # declared multipart but the parser found no parts (missing/wrong boundary)
            self.f.defect("multipart-without-parts")
            data = self.payload_bytes(part)
            if data:
                self.broken.append(_decode_bytes(data, _charset(part), self.f))
            return
        disposition = _disposition(part)
        if maintype == "text" and disposition != "attachment" and ctype in ("text/plain", "text/html"):
            data = self.payload_bytes(part)
            elided = _elided(data)
            if elided is not None:      # a long base64 text: its kept beginning is read
                self.f.defect("text-truncated")
                data = _whole_characters(elided[0])
            text = _decode_bytes(data, _charset(part), self.f) if data else ""
            (self.plain if ctype == "text/plain" else self.html).append(text)
            return
        self.maybe_attachment(part, ctype)

    def maybe_attachment(self, part: Message, ctype: str) -> None:
        filename = _filename(part, self.f)
        disposition = _disposition(part)
        if not filename and disposition != "attachment":
            return
        if ctype.startswith("message/") or part.is_multipart():
            size = len(_message_bytes(part))
        else:
            data = self.payload_bytes(part)
            elided = _elided(data)
            size = len(data) if elided is None else elided[1]
        self.attachments.append(Attachment(filename=filename, content_type=ctype, size=size))

    def payload_bytes(self, part: Message) -> bytes:
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:  # noqa: BLE001
            self.f.defect(f"payload-decode-failed:{type(exc).__name__}")
            data = None
        if data is None:
            try:
                p = part.get_payload()
                data = p.encode("ascii", "surrogateescape") if isinstance(p, str) else b""
            except Exception:  # noqa: BLE001
                data = b""
        if isinstance(data, str):  # pragma: no cover - defensive
            data = data.encode("utf-8", "surrogateescape")
        return data if isinstance(data, bytes) else b""

    def attached_message(self, part: Message, ctype: str) -> None:
        """A message/rfc822 part: parsed recursively (bounded), and listed as an attachment when named."""
        filename = _filename(part, self.f)
        raw = b""
        try:
            inner = _inner_message(part, self.f)
            if inner is None:
                self.f.defect("attached-message-empty")
            else:
                raw = _message_bytes(inner)
                if self.depth >= MAX_ATTACHED_DEPTH:
                    self.f.defect("attached-message-depth-limit")
                else:
                    self.attached.append(
                        _from_message(inner, hashlib.sha256(raw).hexdigest(), None, self.depth + 1))
        except Exception as exc:  # noqa: BLE001
            self.f.defect(f"attached-message-failed:{type(exc).__name__}")
        if filename or _disposition(part) == "attachment":
            self.attachments.append(Attachment(filename=filename, content_type=ctype, size=len(raw)))

    def _html_to_text(self, markup: str) -> str:
        if len(markup) > HTML_MAX_CHARS:
            markup = _DATA_URI.sub(r"\1", markup)
        return html_to_text(_bounded(markup, HTML_MAX_CHARS, self.f, "html-truncated"), self.f)


def _bounded(text: str, limit: int, f: _Fields, defect: str) -> str:
    """The first `limit` characters of `text` (see TEXT_MAX_CHARS), noting the cut."""
    if len(text) <= limit:
        return text
    f.defect(defect)
    return text[:limit]


def _inner_message(part: Message, f: _Fields) -> Message | None:
    """The message inside a message/rfc822 part, re-parsed when it was (illegally) encoded."""
    payload = part.get_payload()
    inner: Message | None = None
    if isinstance(payload, list):
        inner = payload[0] if payload and isinstance(payload[0], Message) else None
    elif isinstance(payload, Message):
        inner = payload
    elif isinstance(payload, (str, bytes)):
        data = payload.encode("ascii", "surrogateescape") if isinstance(payload, str) else payload
        return email.message_from_bytes(data, policy=POLICY) if data.strip() else None
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    if inner is not None and cte in ("base64", "quoted-printable"):
        # RFC 2046 forbids it, some clients do it: the "message" the parser saw is encoded text.
        f.defect(f"encoded-message-rfc822:{cte}")
        try:
            enc = _payload_of(inner) if not inner.keys() else _message_bytes(inner)
            data = base64.b64decode(b"".join(enc.split()), validate=False) if cte == "base64" \
                else quopri.decodestring(enc)
            if data.strip():
                return email.message_from_bytes(data, policy=POLICY)
        except (binascii.Error, ValueError, TypeError):
            pass
    return inner


def _payload_of(msg: Message) -> bytes:
    p = msg.get_payload()
    if isinstance(p, str):
        return p.encode("ascii", "surrogateescape")
    return _message_bytes(msg)


def _message_bytes(msg: Message) -> bytes:
    try:
        return msg.as_bytes(policy=POLICY.clone(linesep="\n"))
    except Exception:  # noqa: BLE001
        pass
    try:
        return msg.as_bytes()
    except Exception:  # noqa: BLE001
        pass
    try:
        return str(msg).encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001
        return b""


# --------------------------------------------------------------------------- text


def html_to_text(markup: str, f: _Fields | None = None) -> str:
    """HTML -> readable text with inscriptis; never raises."""
    if not markup or not markup.strip():
        return ""
    markup = markup.replace("\x00", "")
    try:
        from inscriptis import get_text
        from inscriptis.css_profiles import CSS_PROFILES
        from inscriptis.model.config import ParserConfig

        # lxml refuses str input that carries an XML encoding declaration
        markup_ = re.sub(r"^\s*<\?xml[^>]*\?>", "", markup)
        # "strict": no indentation for every <div> (Outlook wraps everything in divs)
        text = get_text(markup_, ParserConfig(css=CSS_PROFILES["strict"])) or ""
    except Exception as exc:  # noqa: BLE001
        if f is not None:
            f.defect(f"html-conversion-failed:{type(exc).__name__}")
        text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", markup)
        text = re.sub(r"(?i)<br\s*/?>|</p\s*>|</div\s*>|</tr\s*>", "\n", text)
        text = html_lib.unescape(re.sub(r"<[^>]*>", "", text))
    lines = [ln.rstrip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _clean_text(text: str) -> str:
    text = _fix_surrogates(text).replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.lstrip("\n").rstrip()


def _norm_charset(cs: str | None) -> str | None:
    if not cs:
        return None
    cs = cs.strip().strip("\"'").lower()
    if cs.startswith("charset="):  # Content-Type: text/plain; charset="charset=us-ascii"
        cs = cs[len("charset="):].strip("\"' ")
    return cs or None


def _codec(cs: str | None) -> str | None:
    if not cs:
        return None
    for cand in (cs, cs[2:] if cs.startswith("x-") else None, cs.replace("_", "-")):
        if not cand:
            continue
        try:
            return codecs.lookup(cand).name
        except (LookupError, ValueError, TypeError):
            continue
    return None


def _decode_bytes(data: bytes, charset: str | None, f: _Fields | None) -> str:
    """Decode a body with the declared charset, repairing mislabelled/unknown ones."""
    def note(what: str) -> None:
        if f is not None:
            f.defect(what)

    cs = _norm_charset(charset)
    codec = _codec(cs)
    if cs and codec is None:
        note(f"unknown-charset:{cs[:40]}")
    ascii_only = data.isascii()
    if codec:
        if cs in _LATIN1ISH and not ascii_only:
            # Mislabelled charsets: utf-8 sent as latin-1/ascii, windows-1252 sent as latin-1.
            try:
                text = data.decode("utf-8")
                note(f"charset-mislabelled:{cs}->utf-8")
                return text
            except UnicodeDecodeError:
                pass
            if codec in ("ascii", "latin-1", "iso8859-1") and (codec == "ascii" or _C1_RE.search(data)):
                try:
                    text = data.decode("cp1252")
                    note(f"charset-mislabelled:{cs}->windows-1252")
                    return text
                except UnicodeDecodeError:
                    return data.decode("latin-1")
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError, TypeError):
            note(f"charset-decode-failed:{cs}")
            if codec == "utf-8":
                return data.decode("utf-8", errors="replace")
        except Exception:  # noqa: BLE001 - some codecs raise odd things on junk
            note(f"charset-decode-failed:{cs}")
    elif ascii_only:
        return data.decode("ascii")
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1", errors="replace")


def _fix_surrogates(s: str) -> str:
    """Undo surrogateescape (raw 8-bit bytes in headers/payloads) by decoding those bytes."""
    if not s or not _SURROGATE_RE.search(s):
        return s
    try:
        data = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _SURROGATE_RE.sub("\ufffd", s)
    for enc in ("utf-8", "cp1252"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# --------------------------------------------------------------------------- headers


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", " ")


def _raw_values(msg: Message, name: str, f: _Fields) -> list[str]:
    """Raw (undecoded) header values, unfolded, 8-bit bytes repaired."""
    out: list[str] = []
    try:
        items = list(msg.raw_items())
    except Exception:  # noqa: BLE001
        f.defect("raw-headers-unreadable")
        return out
    for k, val in items:
        try:
            if str(k).strip().lower() == name:
                if not isinstance(val, str):
                    val = str(val)
                out.append(_fix_surrogates(_unfold(val)).strip())
        except Exception:  # noqa: BLE001
            f.defect(f"header-unreadable:{name}")
    return out


def _trace(msg: Message, f: _Fields) -> tuple[tuple[str, str], ...]:
    """The headers sender authenticity reads, in order, top first, bounded."""
    out = []
    for k, val in list(msg.raw_items()):
        try:
            name = str(k).strip().lower()
            if name in TRACE_HEADERS:
                value = _fix_surrogates(_unfold(val if isinstance(val, str) else str(val)))
                out.append((name, " ".join(value[:TRACE_VALUE_MAX].split())))
        except Exception:  # noqa: BLE001
            f.defect("trace-header-unreadable")
        if len(out) >= TRACE_MAX:
            f.defect("trace-truncated")
            break
    return tuple(out)


def _read_headers(msg: Message, f: _Fields) -> dict[str, list[str]]:
    """All headers, decoded (RFC 2047), lower-cased name -> values in order."""
    out: dict[str, list[str]] = {}
    for k, val in list(msg.raw_items()):
        try:
            name = str(k).strip().lower()
        except Exception:  # noqa: BLE001
            continue
        out.setdefault(name, []).append(_decode_header_value(name, val, msg, f))
    return out


def _decode_header_value(name: str, val, msg: Message, f: _Fields) -> str:
    if not isinstance(val, str):
        try:
            return _fix_surrogates(str(val))
        except Exception:  # noqa: BLE001
            return ""
    if _SURROGATE_RE.search(val):
        f.defect(f"8bit-header:{name}")
    val = _fix_surrogates(_unfold(val)).strip()
    if "=?" not in val:
        return " ".join(_unfold(val).split()) if len(val) < 20000 else _unfold(val).strip()
    h = _parsed_header(msg, name, val, f)
    if not isinstance(h, Exception):
        try:
            return str(h)
        except Exception:  # noqa: BLE001
            pass
    return _decode_header_fallback(_unfold(val))


def _parsed_header(msg: Message, name: str, val: str, f: _Fields):
    """The policy's structured header object for a raw value (memoised), or the exception."""
    key = (name, val)
    if key not in f.parsed:
        if len(val) > MAX_STRUCTURED_HEADER:
            f.defect(f"header-too-long:{name}")
            f.parsed[key] = ValueError("header too long")
        else:
            try:
                f.parsed[key] = msg.policy.header_fetch_parse(name, val)
            except Exception as exc:  # noqa: BLE001
                f.defect(f"header-unreadable:{name}:{type(exc).__name__}")
                f.parsed[key] = exc
    return f.parsed[key]


def _decode_header_fallback(val: str) -> str:
    try:
        parts = email.header.decode_header(val)
        out = []
        for chunk, cs in parts:
            if isinstance(chunk, bytes):
                out.append(_decode_bytes(chunk, cs, None))
            else:
                out.append(chunk)
        return "".join(out)
    except Exception:  # noqa: BLE001
        return _fix_surrogates(val)


def _addresses(msg: Message, name: str, f: _Fields, bare=None) -> list[tuple[str, str]]:
    """(display name, canonical bare address) for every address in header `name`."""
    bare = bare or _bare
    out: list[tuple[str, str]] = []
    for raw in _raw_values(msg, name, f):
        found = False
        try:
            h = _parsed_header(msg, name, raw, f)
            addrs = None if isinstance(h, Exception) else getattr(h, "addresses", None)
            if addrs:
                for a in addrs:
                    addr = bare(a.addr_spec)
                    if addr and "@" not in addr and _EMAIL_RE.search(raw):
                        continue  # parser lost the address in junk; fall back below
                    if addr and "@" not in addr and re.search(r'[\s"]', addr):
                        # "From: Lisa Larsson": a name, not an address (MAILER-DAEMON stays an address)
                        name_only = _fix_surrogates(a.display_name or str(a.username or "")).strip().strip('"')
                        out.append((" ".join(name_only.split()), ""))
                        found = True
                        continue
                    out.append((_fix_surrogates(a.display_name or "").strip(), addr))
                    found = True
        except Exception as exc:  # noqa: BLE001
            f.defect(f"address-unreadable:{name}:{type(exc).__name__}")
        if found:
            continue
        decoded = _decode_header_fallback(raw)
        try:
            pairs = email.utils.getaddresses([decoded])
        except Exception:  # noqa: BLE001
            pairs = []
        pairs = [(n, bare(a)) for n, a in pairs if a and "@" in a]
        if not pairs:
            pairs = [("", bare(m)) for m in _EMAIL_RE.findall(decoded)]
            if pairs:
                f.defect(f"address-salvaged:{name}")
        if not pairs and name == "from" and decoded.strip():
            # a name without an address ("From: Mailer Daemon")
            pairs = [(decoded.strip().strip('"'), "")]
        out.extend(pairs)
    return out


def _bare(addr: str | None) -> str:
    """The address in its one canonical form (bot.domain.address): never str.lower(),
    which turns the Kelvin sign into k and a look-alike into the address it imitates."""
    if not addr:
        return ""
    addr = _fix_surrogates(str(addr)).strip().strip("<>").strip()
    return "" if addr in ("@", "<>", "") else canonical(addr)


def _written(addr: str | None) -> str:
    """The address as written, only trimmed."""
    if not addr:
        return ""
    addr = _fix_surrogates(str(addr)).strip().strip("<>").strip()
    return "" if addr in ("@", "<>") else addr


def _message_id(value: str) -> str | None:
    m = _MSGID_RE.search(value)
    mid = m.group(1) if m else value.strip().strip("<>")
    mid = re.sub(r"\s+", "", mid)
    return mid or None


def _msg_ids(values: list[str]) -> tuple[str, ...]:
    out = []
    for value in values:
        for m in _MSGID_RE.findall(value):
            mid = re.sub(r"\s+", "", m)
            if mid:
                out.append(mid)
    return tuple(dict.fromkeys(out))


def _parse_date(value: str) -> datetime | None:
    """A header date as UTC, or None when it cannot be one (garbage, year 0, or a moment
    like 31 Dec 9999 23:00 -0500 that lies beyond what a datetime can hold in UTC)."""
    value = (value or "").strip()
    if not value or len(value) > 200:
        return None
    try:
        d = email.utils.parsedate_to_datetime(value)
        if d is None:
            return None
        written = _WRITTEN_YEAR.search(value)
        if written and int(written.group(1)) != d.year:
            return None       # "0000" read as 2000, "0026" as 2026: a year nobody wrote
        if d.tzinfo is None:
            d = d.replace(tzinfo=timezone.utc)
        return d.astimezone(timezone.utc)
    except Exception:  # noqa: BLE001 - ValueError, OverflowError, TypeError, IndexError
        return None


# --------------------------------------------------------------------------- per-part helpers


def _ctype(part: Message) -> str:
    try:
        return str(part.get_content_type()).strip().lower() or "text/plain"
    except Exception:  # noqa: BLE001
        return "application/octet-stream"


def _param(part: Message, name: str) -> str | None:
    try:
        val = part.get_param(name)
    except Exception:  # noqa: BLE001
        return None
    if val is None:
        return None
    try:
        return _fix_surrogates(str(email.utils.collapse_rfc2231_value(val)))
    except Exception:  # noqa: BLE001
        return str(val) if isinstance(val, str) else None


def _charset(part: Message) -> str | None:
    try:
        cs = part.get_content_charset()
    except Exception:  # noqa: BLE001
        cs = _param(part, "charset")
    return str(cs) if cs else None


def _disposition(part: Message) -> str | None:
    try:
        d = part.get_content_disposition()
        return str(d).lower() if d else None
    except Exception:  # noqa: BLE001
        return None


def _filename(part: Message, f: _Fields) -> str:
    name = None
    try:
        name = part.get_filename()
    except Exception as exc:  # noqa: BLE001
        f.defect(f"filename-unreadable:{type(exc).__name__}")
    if not name:
        name = _param(part, "name")
    if not name:
        return ""
    try:
        name = _fix_surrogates(str(name))
        if "=?" in name:
            name = _decode_header_fallback(name)
        return " ".join(name.split()).strip()
    except Exception:  # noqa: BLE001
        return ""


def _msg_defects(part: Message) -> list[str]:
    try:
        return [type(d).__name__ for d in (getattr(part, "defects", None) or [])]
    except Exception:  # noqa: BLE001
        return []
