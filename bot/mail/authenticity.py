"""Sender authenticity (DESIGN §8): who the receiving server verified, not what From: claims.

Pure: the mail's trace headers (top first, as parse_mail keeps them) + the admin's trusted
authserv-ids -> a SenderVerdict:

- verified   the trusted receiver vouches for the From: domain: DMARC pass, an aligned DKIM
             or SPF pass, Microsoft's compauth=pass, or Exchange's own
             `X-MS-Exchange-Organization-AuthAs: Internal` (the sender logged in to the tenant);
- failed     the claimed domain fails DMARC (or compauth), or SPF fails and no DKIM
             signature passes, or From: holds several addresses;
- unverified no trusted verdict (nothing configured, or nothing from a trusted receiver).

Which headers count. Receivers prepend, so what a trusted receiver wrote sits above its own
`Received:` line; anything below that line came with the message and may be forged. Only
what the trusted receiver itself writes decides where that line is:
- the entry is the topmost `Received:` whose `by` host is a trusted one (for Exchange
  Online: EOP's front door, `by *.mail.protection.outlook.com`), unless the client address
  the receiver recorded in its TCP-info is its own loopback (a content filter such as
  amavis re-injecting the mail: its results sit below that line) or absent (a hand-over
  over a local socket, Dovecot's LMTP); the HELO word and the client's name are the
  sender's to choose ("localhost", the MX's own name) and never count;
- per method, the topmost Authentication-Results header with a trusted authserv-id counts,
  and a lower one never overrides it (a forged `dmarc=pass` under the receiver's
  `dmarc=none` counts for nothing);
- a positive result counts only above the entry line; with no entry line of the trusted
  receiver's (no `Received:` at all, or none by it) nothing is verified. A negative one
  (fail) counts wherever it sits: a forger only hurts his own mail with it.
Exchange Online writes its results without an authserv-id (`Authentication-Results:
spf=pass (sender IP is …) smtp.mailfrom=…; dkim=…; dmarc=pass action=none header.from=…;
compauth=pass reason=100`); those count only when the admin trusts "exchange-online".
Exchange's header firewall strips X-MS-Exchange-Organization-* headers from mail that
arrives from the internet and stamps its own, so `…-AuthAs: Internal` can be believed when
the mailbox is in Exchange — and only then: in any other mailbox an outsider can write it.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from bot.domain.address import canonical_domain
from bot.mail.message import FAILED, UNVERIFIED, VERIFIED, InboundMail, SenderVerdict
from bot.mail.trust import EXCHANGE_ONLINE
AR = "authentication-results"
RECEIVED = "received"
AUTH_AS = "x-ms-exchange-organization-authas"
AUTH_SOURCE = "x-ms-exchange-organization-authsource"
TRACE_HEADERS = (AR, RECEIVED, AUTH_AS, AUTH_SOURCE)

_EOP_FRONT_DOOR = ".mail.protection.outlook.com"
_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
# a client address in a Received: line's TCP-info: [192.0.2.25], [IPv6:2001:db8::1], (::1),
# Exchange's (203.0.113.66); each candidate is checked with ipaddress
_IP_CANDIDATE = re.compile(r"(?:\[|\(|\s)(?:ipv6:)?([0-9a-f:.]{3,})(?=[\])\s])", re.IGNORECASE)
_FROM_CLAUSE = re.compile(r"\s*from\s", re.IGNORECASE)
_HELO_PARAM = re.compile(r"\bhelo=\S*", re.IGNORECASE)
_SPF_BAD = frozenset({"fail", "softfail"})


def sender_check(trusted: tuple[str, ...], lang: str = "sv") -> tuple[bool, str]:
    """For check-config: (verified?, one line). Unverified is a warning, not an error:
    the bot then believes From: as it always did."""
    from bot.texts import t
    if not trusted:
        return False, t(lang, "check_senders_unverified")
    return True, t(lang, "check_senders_verified", ids=", ".join(trusted))


# --------------------------------------------------------------------------- RFC 8601
@dataclass(frozen=True)
class AuthResult:
    method: str                       # spf, dkim, dmarc, compauth, ...
    result: str                       # pass, fail, none, ...
    props: dict[str, str] = field(default_factory=dict)  # "header.from" -> "exempelby.se"


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str | None           # None: Exchange Online's form without an id
    results: tuple[AuthResult, ...]


def _segments(value: str) -> list[str]:
    """Split on ';' outside quoted strings, with (comments) removed, nesting and escapes
    respected, as RFC 8601 §2.2 and RFC 5322 CFWS say."""
    segments, current, depth, quoted, escaped = [], [], 0, False, False
    for ch in value:
        if escaped:
            if depth == 0:
                current.append(ch)
            escaped = False
        elif ch == "\\" and (quoted or depth):
            escaped = True
        elif quoted:
            current.append(ch)
            quoted = ch != '"'
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif ch == '"':
            current.append(ch)
            quoted = True
        elif ch == ";":
            segments.append("".join(current))
            current = []
        else:
            current.append(ch)
    segments.append("".join(current))
    return [" ".join(s.split()) for s in segments]


def _pairs(segment: str) -> list[tuple[str, str]]:
    """'dmarc=pass action=none header.from=x.se' -> [(dmarc, pass), (action, none), ...]."""
    out = []
    for m in re.finditer(r'([A-Za-z0-9_.\-/]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s]*)', segment):
        out.append((m.group(1).lower(), m.group(2).strip('"')))
    return out


def parse_authentication_results(value: str) -> AuthResults:
    """One Authentication-Results value; never raises (junk gives no results)."""
    segments = _segments(value or "")
    first = segments[0] if segments else ""
    authserv_id: str | None
    if "=" in first:              # Exchange Online: no authserv-id, the first result at once
        authserv_id, rest = None, segments
    else:
        words = first.split()
        authserv_id, rest = (words[0].lower() if words else ""), segments[1:]
    results = []
    for segment in rest:
        pairs = _pairs(segment)
        if not pairs:
            continue              # "outlook.com" between Exchange's results, or "none"
        (method, result), props = pairs[0], dict(pairs[1:])
        results.append(AuthResult(method.split("/", 1)[0], result.lower(), props))
    return AuthResults(authserv_id, tuple(results))


# --------------------------------------------------------------------------- trust
def _matches(host: str, pattern: str) -> bool:
    host, pattern = host.lower().rstrip("."), pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _trusted_id(authserv_id: str | None, trusted: tuple[str, ...]) -> bool:
    if authserv_id is None:
        return EXCHANGE_ONLINE in trusted
    return any(_matches(authserv_id, p) for p in trusted if p != EXCHANGE_ONLINE)


def _client_ip(from_part: str) -> str | None:
    """The client address the receiving server recorded in its TCP-info: the last IP
    address of the from-clause once every `helo=…` (Exim's) is taken out. Postfix and
    Sendmail write it after the HELO word (`from HELO (rDNS [IP])`), Exchange as `(IP)`, so
    a HELO that mimics `(localhost [127.0.0.1])` comes before it and never counts."""
    found = None
    for candidate in _IP_CANDIDATE.findall(_HELO_PARAM.sub(" ", from_part)):
        try:
            found = str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return found


def _hop(received: str, trusted: tuple[str, ...]) -> str | None:
    """What a Received: line is to the trusted receiver, read from what the receiver writes
    (its `by` host, and whether and which client address its TCP-info gives):
    - "entry": written by it, the mail coming from another host, or with no from-clause at
      all (handed to it on the host itself: what came with it is the local sender's);
    - "internal": written by it, the client its own loopback address (a content filter such
      as amavis handing the mail back) or no client address at all (a hand-over over a
      local socket, Dovecot's LMTP): its results may sit below this line;
    - None: another host's line.
    The HELO word and the client's own name (the sender's to choose, "localhost" or the
    MX's own name included) never decide."""
    head = received.rsplit(";", 1)[0]
    hosts = [p for p in trusted if p != EXCHANGE_ONLINE]
    for by in reversed(list(_BY.finditer(head))):       # the last: the receiver's own
        host = by.group(1).lower()
        if EXCHANGE_ONLINE in trusted and host.endswith(_EOP_FRONT_DOOR):
            return "entry"              # EOP's front door: where internet mail enters Exchange
        if any(_matches(host, p) for p in hosts):
            from_part = head[:by.start()]
            if not _FROM_CLAUSE.match(from_part):
                return "entry"
            ip = _client_ip(from_part)
            if ip is None or ipaddress.ip_address(ip).is_loopback:
                return "internal"
            return "entry"
    return None


def entry_index(trace: tuple[tuple[str, str], ...], trusted: tuple[str, ...]) -> int | None:
    """Where in the trace the mail entered the trusted receiver (the index of that
    Received: line), or None when no line of the trusted receiver's says so."""
    for i, (name, value) in enumerate(trace):
        if name == RECEIVED and _hop(value, trusted) == "entry":
            return i
    return None


def trusted_results(trace: tuple[tuple[str, str], ...],
                    trusted: tuple[str, ...]) -> list[AuthResults]:
    """The trusted receiver's Authentication-Results above its entry line, top first; [] when
    no entry line of its own is found (then nothing proves which results it wrote)."""
    entry = entry_index(trace, trusted)
    if entry is None:
        return []
    return [parsed for name, value in trace[:entry] if name == AR
            for parsed in [parse_authentication_results(value)]
            if _trusted_id(parsed.authserv_id, trusted)]


@dataclass(frozen=True)
class _Counted:
    """The results for one method that count: those of the topmost header carrying a
    trusted authserv-id and that method; `inside` when it sits above the entry line."""
    results: tuple[AuthResult, ...]
    who: str
    inside: bool


def counted_results(trace: tuple[tuple[str, str], ...],
                    trusted: tuple[str, ...]) -> dict[str, _Counted]:
    """Per method, the topmost trusted-id header's results; a lower header never overrides
    it (a forged `dmarc=pass` under the receiver's own `dmarc=none` counts for nothing)."""
    entry = entry_index(trace, trusted)
    counted: dict[str, _Counted] = {}
    for i, (name, value) in enumerate(trace):
        if name != AR:
            continue
        parsed = parse_authentication_results(value)
        if not _trusted_id(parsed.authserv_id, trusted):
            continue
        methods: dict[str, list[AuthResult]] = {}
        for r in parsed.results:
            methods.setdefault(r.method, []).append(r)
        for method, results in methods.items():
            if method not in counted:
                counted[method] = _Counted(tuple(results), parsed.authserv_id or EXCHANGE_ONLINE,
                                           entry is not None and i < entry)
    return counted


def _domain(value: str | None) -> str:
    """The canonical domain (bot.domain.address) of an address or a bare domain."""
    value = (value or "").strip().strip("<>")
    return canonical_domain(value.rsplit("@", 1)[-1].strip(".")) if value else ""


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment, approximated without the public suffix list: the same domain,
    or one a subdomain of the other (mail.exempelby.se and exempelby.se)."""
    if not domain or not from_domain:
        return False
    return domain == from_domain or domain.endswith("." + from_domain) \
        or from_domain.endswith("." + domain)


def judge(mail: InboundMail, trusted: tuple[str, ...]) -> SenderVerdict:
    """The verdict on mail.sender_address's domain; never raises."""
    try:
        return _judge(mail, tuple(t.lower() for t in trusted))
    except Exception:  # noqa: BLE001 - hostile headers must not stop intake
        return SenderVerdict(UNVERIFIED, "oläsbara autentiseringshuvuden")


def _judge(mail: InboundMail, trusted: tuple[str, ...]) -> SenderVerdict:
    if not trusted:
        return SenderVerdict(UNVERIFIED, "ingen betrodd authserv-id konfigurerad")
    if mail.from_count == 0:
        return SenderVerdict(UNVERIFIED, "ingen adress i From:")
    if mail.from_count > 1:
        return SenderVerdict(FAILED, f"{mail.from_count} adresser i From:")
    if EXCHANGE_ONLINE in trusted:
        auth_as = next((v for n, v in mail.trace if n == AUTH_AS), "")
        if auth_as.strip().lower() == "internal":
            return SenderVerdict(VERIFIED, "X-MS-Exchange-Organization-AuthAs: Internal",
                                 EXCHANGE_ONLINE)
    counted = counted_results(mail.trace, trusted)
    if not counted:
        return SenderVerdict(UNVERIFIED, "inget Authentication-Results från en betrodd server")
    from_domain = _domain(mail.sender_address)

    def each(method: str):
        found = counted.get(method)
        return [(r, found.who, found.inside) for r in found.results] if found else []

    def verdict(status: str, r: AuthResult, who: str) -> SenderVerdict:
        return SenderVerdict(status, f"{r.method}={r.result}", who)

    # Negative verdicts count wherever the result sits (a forger only hurts his own mail);
    # positive ones only when the trusted receiver wrote them, above its entry line.
    for r, who, inside in each("compauth"):           # Microsoft's composite verdict on From:
        if r.result == "pass" and inside:
            return verdict(VERIFIED, r, who)
        if r.result == "fail":
            return verdict(FAILED, r, who)
    for r, who, _inside in each("dmarc"):
        checked = _domain(r.props.get("header.from"))
        if checked and from_domain and checked != from_domain:
            # the receiver judged another From: than the one we read: a From: trick
            return SenderVerdict(FAILED, f"dmarc gällde {checked}, inte {from_domain}", who)
        if r.result == "fail":
            return verdict(FAILED, r, who)
    for r, who, inside in each("dmarc"):
        if r.result == "pass" and inside:
            return verdict(VERIFIED, r, who)
    dkim = each("dkim")
    for r, who, inside in dkim:
        signer = _domain(r.props.get("header.d") or r.props.get("header.i"))
        if r.result == "pass" and inside and _aligned(signer, from_domain):
            return verdict(VERIFIED, r, who)
    spf = each("spf")
    for r, who, inside in spf:
        envelope = _domain(r.props.get("smtp.mailfrom"))
        if r.result == "pass" and inside and _aligned(envelope, from_domain):
            return verdict(VERIFIED, r, who)
    bad_spf = next(((r, who) for r, who, _inside in spf if r.result in _SPF_BAD), None)
    if bad_spf and not any(r.result == "pass" and inside for r, _, inside in dkim):
        r, who = bad_spf
        return SenderVerdict(FAILED, f"spf={r.result}, ingen giltig dkim", who)
    if entry_index(mail.trace, trusted) is None:
        return SenderVerdict(UNVERIFIED, "ingen Received: från den betrodda servern, så inget "
                             "Authentication-Results kan vara dess")
    inside = [c for c in counted.values() if c.inside]
    if not inside:
        return SenderVerdict(UNVERIFIED, "inget Authentication-Results från en betrodd server")
    dmarc = counted.get("dmarc")
    if dmarc is not None and dmarc.inside and dmarc.results:
        return SenderVerdict(UNVERIFIED, f"dmarc={dmarc.results[0].result}", dmarc.who)
    return SenderVerdict(UNVERIFIED, "ingen dmarc-bedömning", inside[0].who)
