"""One canonical form for addresses, and look-alikes (bot/domain/address.py, issue 23)."""
from __future__ import annotations

import dataclasses
import unicodedata

import idna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.address import LookAlikes, canonical, look_keys, shown
from bot.settings import load_organisation
from tests.conftest import EXAMPLE_CONFIG


@pytest.mark.parametrize("written, expected", [
    ("Anna.Andersson@Exempelby.SE", "anna.andersson@exempelby.se"),
    ("<anna.andersson@exempelby.se>", "anna.andersson@exempelby.se"),
    ("anna.andersson@exempelby.se.", "anna.andersson@exempelby.se"),
    ("x@Höör.se", "x@xn--hr-fkaa.se"),
    ("x@HÖÖR.SE", "x@xn--hr-fkaa.se"),          # Ö is ö: non-ASCII to non-ASCII
    ("x@XN--HR-FKAA.SE", "x@xn--hr-fkaa.se"),
    ("MAILER-DAEMON", "mailer-daemon"),
])
def test_the_same_address_has_one_form(written, expected):
    assert canonical(written) == expected
    assert canonical(canonical(written)) == canonical(written)


@pytest.mark.parametrize("look_alike", [
    "anna.andersson@norrvi\u212a.se",       # Kelvin sign: str.lower() made it k
    "anna.andersson@norrvik.\uff53\uff45",  # fullwidth
    "anna.ander\u017f\u017fon@norrvik.se",  # long s: UTS 46 maps it to s
    "anna.andersson@norr\u00advik.se",      # soft hyphen: UTS 46 drops it
    "anna.anders\u200bson@norrvik.se",      # zero-width space
    "\u212anut@norrvik.se",                 # Kelvin in the local part
    "anna.andersson@n\u043errvik.se",       # Cyrillic о: another (valid) domain
    "anna.andersson@norrv\u0131k.se",       # dotless ı
])
def test_a_look_alike_never_has_the_form_of_the_address_it_imitates(look_alike):
    assert canonical(look_alike) not in ("anna.andersson@norrvik.se", "knut@norrvik.se")


@settings(max_examples=300, deadline=None)
@given(local=st.text(min_size=1, max_size=12), domain=st.text(min_size=1, max_size=12))
def test_canonical_never_turns_a_non_ascii_address_into_an_ascii_one(local, domain):
    address = f"{local}@{domain}.se"
    if not address.replace("@", "").isascii():
        assert not canonical(address).isascii() or "xn--" in canonical(address), address


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127, blacklist_characters="@<> \t\r\n"),
               min_size=1, max_size=20))
def test_ascii_case_never_makes_another_address(local):
    assert canonical(f"{local.upper()}@EXEMPELBY.SE") == canonical(f"{local.lower()}@exempelby.se")


def test_look_alikes_of_people_domains_and_counterparts():
    org = load_organisation(EXAMPLE_CONFIG)
    known = org.lookalikes()
    anna = org.people["anna"].email
    assert known.of(anna) is None and known.of(anna.upper()) is None
    assert known.of("\u0430" + anna[1:]) == anna                                 # Cyrillic а
    assert known.of(anna.replace("@", "@").replace("exempelby", "ex\u0435mpelby")) == anna
    a_label = idna.encode("regi\u043enexempel.se", uts46=False).decode()
    assert known.of(f"someone@{a_label}") == "regionexempel.se"
    assert known.of("someone@regionexempe1.se") == "regionexempel.se"            # 1 for l
    assert known.of("someone@mail.regionexempel.se") is None                    # a subdomain
    assert known.of("someone@gmail.com") is None
    assert known.of(org.mailbox.replace("vok", "v0k")) == org.mailbox


def test_shown_reveals_what_is_not_ascii():
    assert shown("anna@norrvi\u212a.se") == "anna@norrvi[U+212A].se"
    assert look_keys("ANNA@NORRVI\u212a.SE") >= {"anna@norrvik.se"}


def test_the_directory_and_domains_compare_in_the_one_form():
    org = load_organisation(EXAMPLE_CONFIG)
    anna = org.people["anna"]
    assert org.person_by_email(anna.email.upper()) == anna
    assert org.person_by_email(anna.email.replace("a", "\u0430", 1)) is None
    assert org.is_internal("x@EXEMPELBY.se") and not org.is_internal("x@ex\u0435mpelby.se")
    assert org.counterpart_by_address("lisa@REGIONEXEMPEL.SE") is not None
    assert org.counterpart_by_address("lisa@regi\u043enexempel.se") is None
    kelvin = dataclasses.replace(anna, email="knut@exempelby.se")
    org2 = dataclasses.replace(org, people={**org.people, "anna": kelvin})
    assert org2.person_by_email("\u212anut@exempelby.se") is None
    assert LookAlikes([kelvin.email], []).of("\u212anut@exempelby.se") == "knut@exempelby.se"
    assert unicodedata.normalize("NFKC", "\u212a") == "K"     # what NFKC/lower() would do


@pytest.mark.parametrize("address", ["0@\x85.se", "anna@\u00a0exempelby.se",
                                     "anna@exempelby.se\u3000", "\u2003anna@exempelby.se"])
def test_a_unicode_blank_is_never_trimmed_into_an_ascii_address(address):
    """Found by hypothesis: str.strip() dropped U+0085 and the domain became ASCII."""
    assert not canonical(address).isascii() or "xn--" in canonical(address)
