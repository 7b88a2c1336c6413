"""E-mail addresses in one canonical form, and look-alikes of the ones we know.

Every comparison of addresses (the directory, the functional mailbox, internal domains,
counterparts' domains and addresses, command by reply, the CLI's look-up by e-mail) goes
through canonical(): two addresses are the same address only when their canonical forms
are equal.

- The domain: ASCII letters lower-cased; a non-ASCII character is mapped by IDNA's UTS 46
  table only when it stays non-ASCII (an upper-case Ö becomes ö); then IDNA 2008 gives
  the A-label (höör.se -> xn--hr-fkaa.se). A non-ASCII character that UTS 46 would map to
  ASCII or to nothing (the Kelvin sign K -> k, fullwidth ｅ -> e, long ſ -> s, a soft
  hyphen or zero-width space -> "") is never mapped: the domain is then kept as written
  and equals no real domain. One trailing dot is dropped.
- The local part: ASCII letters lower-cased, nothing else (str.lower() would turn the
  Kelvin sign into k); NFC only when it maps no non-ASCII character to ASCII.

Look-alikes (Unicode TR39 confusables, through disarm's skeleton_key with the TR39 digit
classes 1 ≡ l, 0 ≡ O): an address that is not a known address but looks like one, or whose
domain looks like one of ours or a counterpart's, is named by LookAlikes.of(). On top of
the skeleton, combining marks are dropped and "rn"/"vv" read as "m"/"w".
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Iterable


# only ASCII blanks are trimmed: str.strip() would also drop U+0085, U+00A0 or U+3000 from
# a domain, and "0@\x85.se" would become the ASCII "0@.se" (hypothesis found it)
_ASCII_BLANKS = " \t\r\n\x0b\x0c"
_ASCII_UPPER = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})


def ascii_lower(text: str) -> str:
    """Lower-case A-Z only; every other character stays as it is."""
    return text.translate(_ASCII_UPPER)


def _to_ascii(char: str, mapped: str) -> bool:
    """A non-ASCII character whose mapping is all ASCII (or nothing): a look-alike trick."""
    return not char.isascii() and all(c.isascii() for c in mapped)


@lru_cache(maxsize=4096)
def canonical_domain(domain: str) -> str:
    domain = (domain or "").strip(_ASCII_BLANKS)
    if domain.endswith("."):
        domain = domain[:-1]
    if domain.isascii():
        return ascii_lower(domain)
    import idna     # only for a domain that is not ASCII (every CLI command reads the settings)
    out = []
    for char in domain:
        if char.isascii():
            out.append(ascii_lower(char))
            continue
        try:
            mapped = idna.uts46_remap(char, std3_rules=False, transitional=False)
        except (idna.IDNAError, ValueError):
            return ascii_lower(domain)
        if _to_ascii(char, mapped):
            return ascii_lower(domain)      # never the ASCII domain it imitates
        out.append(mapped)
    mapped_domain = unicodedata.normalize("NFC", "".join(out))
    try:
        return idna.encode(mapped_domain, uts46=False).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        return ascii_lower(domain)


def _canonical_local(local: str) -> str:
    local = ascii_lower(local)
    if local.isascii():
        return local
    if any(_to_ascii(c, unicodedata.normalize("NFD", c)) for c in local):
        return local
    return unicodedata.normalize("NFC", local)


@lru_cache(maxsize=8192)
def canonical(address: str | None) -> str:
    """The one form addresses are compared in ("" for none)."""
    address = (address or "").strip(_ASCII_BLANKS).strip("<>").strip(_ASCII_BLANKS)
    if "@" not in address:
        return ascii_lower(address)
    local, _, domain = address.rpartition("@")
    return f"{_canonical_local(local)}@{canonical_domain(domain)}"


def domain_of(address: str | None) -> str:
    """The canonical domain of an address ("" without one)."""
    address = canonical(address)
    return address.rsplit("@", 1)[1] if "@" in address else ""


def same_address(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and canonical(a) == canonical(b)


def domain_matches(domain: str, configured: str) -> bool:
    """A canonical domain is the configured one or a subdomain of it."""
    configured = canonical_domain(configured.lstrip("@"))
    return bool(domain) and (domain == configured or domain.endswith("." + configured))


# --------------------------------------------------------------------------- look-alikes
def _readable(text: str) -> str:
    """A-labels (xn--…) shown as what they look like, for the skeleton."""
    if "xn--" not in text:
        return text
    import idna
    local, at, domain = text.rpartition("@")
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                try:
                    label = label[4:].encode("ascii").decode("punycode")
                except (UnicodeError, ValueError):
                    pass
        labels.append(label)
    return f"{local}{at}{'.'.join(labels)}"


def _key(text: str) -> str:
    from disarm import skeleton_key    # a Rust extension: loaded by intake, not by every CLI command
    key = skeleton_key(text, digit_policy="tr39")
    key = "".join(c for c in unicodedata.normalize("NFD", key) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", key).replace("rn", "m").replace("vv", "w")


def look_keys(text: str) -> frozenset[str]:
    """What a text looks like: skeletons of it as written and with ASCII lower-cased
    (an upper-case I reads as l; lower-cased it is an i)."""
    text = (text or "").strip().strip("<>").strip().rstrip(".")
    return frozenset(_key(_readable(v)) for v in {text, ascii_lower(text)} if v)


class LookAlikes:
    """The organisation's known addresses and domains, to tell a look-alike of them."""

    def __init__(self, addresses: Iterable[str], domains: Iterable[str]):
        self.addresses: dict[str, str] = {}       # canonical -> as configured
        self.address_keys: dict[str, str] = {}    # look key -> canonical
        for address in addresses:
            if address and "@" in address:
                self.addresses.setdefault(canonical(address), address)
        for canon in self.addresses:
            for key in look_keys(canon):
                self.address_keys.setdefault(key, canon)
        self.domains: dict[str, str] = {}
        self.domain_keys: dict[str, str] = {}
        for domain in domains:
            if domain:
                self.domains.setdefault(canonical_domain(domain.lstrip("@")), domain)
        for canon in self.domains:
            for key in look_keys(canon):
                self.domain_keys.setdefault(key, canon)

    def of(self, address: str | None) -> str | None:
        """The known address or domain this one imitates, or None (also when it IS one)."""
        if not address or "@" not in address:
            return None
        canon = canonical(address)
        if canon not in self.addresses:
            for key in look_keys(address):
                if key in self.address_keys:
                    return self.addresses[self.address_keys[key]]
        domain = canon.rsplit("@", 1)[1]
        if any(domain_matches(domain, d) for d in self.domains):
            return None
        written = address.strip().strip("<>").strip().rpartition("@")[2]
        for key in look_keys(written):
            for known_key, known in self.domain_keys.items():
                if key == known_key or key.endswith("." + known_key):
                    return self.domains[known]
        return None


def shown(address: str | None) -> str:
    """An address for a person to read: every character outside printable ASCII written
    as [U+XXXX], so a look-alike shows what it is (anna@norrvi[U+212A].se)."""
    return "".join(c if c.isascii() and c.isprintable() else f"[U+{ord(c):04X}]"
                   for c in (address or ""))
