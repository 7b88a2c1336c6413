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
`Received:` line; anything below that line came with the message and may be forged. So we
read top-down and take the trusted `Authentication-Results` above the point where the mail
entered the trusted receiver:
- a `Received:` written *by* a trusted host (authserv-id or pattern) *from* an outside host
  is that entry point; `Received: from localhost` (amavis, rspamd re-injection) is not;
- with Exchange Online, the entry is EOP's front door (`by *.mail.protection.outlook.com`);
- when neither is recognisable (authserv-id other than the host name), the first
  `Received:` below the trusted results ends them.
Exchange Online writes its results without an authserv-id (`Authentication-Results:
spf=pass (sender IP is …) smtp.mailfrom=…; dkim=…; dmarc=pass action=none header.from=…;
compauth=pass reason=100`); those count only when the admin trusts "exchange-online".
Exchange's header firewall strips X-MS-Exchange-Organization-* headers from mail that
arrives from the internet and stamps its own, so `…-AuthAs: Internal` can be believed when
the mailbox is in Exchange — and only then: in any other mailbox an outsider can write it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.mail.message import FAILED, UNVERIFIED, VERIFIED, InboundMail, SenderVerdict
from bot.mail.trust import EXCHANGE_ONLINE
AR = "authentication-results"
RECEIVED = "received"
AUTH_AS = "x-ms-exchange-organization-authas"
AUTH_SOURCE = "x-ms-exchange-organization-authsource"
TRACE_HEADERS = (AR, RECEIVED, AUTH_AS, AUTH_SOURCE)

_EOP_FRONT_DOOR = ".mail.protection.outlook.com"
_BY = re.compile(r"\bby\s+([^\s;()]+)", re.IGNORECASE)
_FROM = re.compile(r"^\s*from\s+([^\s;()]+)", re.IGNORECASE)
_LOOPBACK = re.compile(r"\[(?:127\.\d+\.\d+\.\d+|::1|ipv6:::1)\]|\blocalhost\b", re.IGNORECASE)
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


def _is_entry(received: str, trusted: tuple[str, ...]) -> bool:
    """The Received line where the mail came from outside into the trusted receiver."""
    by = _BY.search(received)
    if by is None:
        return False
    by_host = by.group(1).lower()
    if EXCHANGE_ONLINE in trusted and by_host.endswith(_EOP_FRONT_DOOR):
        return True
    hosts = [p for p in trusted if p != EXCHANGE_ONLINE]
    if not any(_matches(by_host, p) for p in hosts):
        return False
    head = received[:by.start()]
    sender = _FROM.search(head)
    if sender is None or _LOOPBACK.search(head):
        return False
    return not any(_matches(sender.group(1), p) for p in hosts)


def trusted_results(trace: tuple[tuple[str, str], ...],
                    trusted: tuple[str, ...]) -> list[AuthResults]:
    """The trusted receiver's Authentication-Results, top first (see module docstring)."""
    found: list[AuthResults] = []
    for name, value in trace:
        if name == AR:
            parsed = parse_authentication_results(value)
            if _trusted_id(parsed.authserv_id, trusted):
                found.append(parsed)
        elif name == RECEIVED:
            if found or _is_entry(value, trusted):
                break
    return found


def _domain(value: str | None) -> str:
    value = (value or "").strip().strip("<>").lower()
    return value.rsplit("@", 1)[-1].strip(".") if value else ""


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
    headers = trusted_results(mail.trace, trusted)
    if not headers:
        return SenderVerdict(UNVERIFIED, "inget Authentication-Results från en betrodd server")
    from_domain = _domain(mail.sender_address)
    by_method: dict[str, list[tuple[AuthResult, str]]] = {}
    for header in headers:
        for r in header.results:
            by_method.setdefault(r.method, []).append((r, header.authserv_id or EXCHANGE_ONLINE))

    def verdict(status: str, r: AuthResult, who: str) -> SenderVerdict:
        return SenderVerdict(status, f"{r.method}={r.result}", who)

    for r, who in by_method.get("compauth", ()):      # Microsoft's composite verdict on From:
        if r.result == "pass":
            return verdict(VERIFIED, r, who)
        if r.result == "fail":
            return verdict(FAILED, r, who)
    for r, who in by_method.get("dmarc", ()):
        checked = _domain(r.props.get("header.from"))
        if checked and from_domain and checked != from_domain:
            # the receiver judged another From: than the one we read: a From: trick
            return SenderVerdict(FAILED, f"dmarc gällde {checked}, inte {from_domain}", who)
        if r.result == "fail":
            return verdict(FAILED, r, who)
    for r, who in by_method.get("dmarc", ()):
        if r.result == "pass":
            return verdict(VERIFIED, r, who)
    dkim = by_method.get("dkim", [])
    for r, who in dkim:
        signer = _domain(r.props.get("header.d") or r.props.get("header.i"))
        if r.result == "pass" and _aligned(signer, from_domain):
            return verdict(VERIFIED, r, who)
    spf = by_method.get("spf", [])
    for r, who in spf:
        envelope = _domain(r.props.get("smtp.mailfrom"))
        if r.result == "pass" and _aligned(envelope, from_domain):
            return verdict(VERIFIED, r, who)
    bad_spf = next(((r, who) for r, who in spf if r.result in _SPF_BAD), None)
    if bad_spf and not any(r.result == "pass" for r, _ in dkim):
        r, who = bad_spf
        return SenderVerdict(FAILED, f"spf={r.result}, ingen giltig dkim", who)
    return SenderVerdict(UNVERIFIED, "ingen dmarc-bedömning", headers[0].authserv_id or EXCHANGE_ONLINE)
