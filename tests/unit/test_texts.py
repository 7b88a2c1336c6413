"""The message catalog: English is complete and shaped exactly like Swedish."""
from __future__ import annotations

import string
from datetime import date

import pytest

from bot.texts import EN, SV, long_date, t


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_swedish_key_has_an_english_text():
    assert sorted(set(SV) - set(EN)) == []


def test_no_english_key_without_swedish():
    assert sorted(set(EN) - set(SV)) == []


@pytest.mark.parametrize("key", sorted(SV))
def test_placeholders_are_identical(key):
    assert fields(EN[key]) == fields(SV[key]), key


@pytest.mark.parametrize("lang,catalog", [("sv", SV), ("en", EN)])
def test_every_template_formats(lang, catalog):
    for key, template in catalog.items():
        values = {name: f"<{name}>" for name in fields(template)}
        text = template.format(**values)
        assert text and "{" not in text and "}" not in text, (lang, key)
        assert t(lang, key, **values) == text


def test_long_date():
    assert long_date("sv", date(2026, 11, 30)) == "måndag 30 november"
    assert long_date("en", date(2026, 11, 30)) == "Monday 30 November"
    assert long_date("fi", date(2026, 11, 30)) == "måndag 30 november"


def test_english_texts():
    assert t("en", "severity_red") == "Red"
    assert t("en", "no_cases") == "No cases."
    assert t("en", "cmd_register", number="VOK 2026/0042") == "registered VOK 2026/0042"
    assert t("en", "cmd_snooze", number="VOK 2026/0042") == "snooze VOK 2026/0042 YYYY-MM-DD <reason>"
    assert t("en", "refused_no_case", number="VOK 2026/0042") == "Case VOK 2026/0042 does not exist."
    assert t("en", "help_intro") == "How to talk to Avvikelsebot:"
    assert t("sv", "no_cases") == "Inga ärenden."


def test_help_mirrors_swedish_line_by_line():
    assert {k for k in EN if k.startswith("help_")} == {k for k in SV if k.startswith("help_")}


def test_unknown_language_falls_back_to_swedish():
    assert t("fi", "no_cases") == "Inga ärenden."


def test_missing_key_raises():
    with pytest.raises(KeyError):
        t("en", "no_such_key")
    with pytest.raises(KeyError):
        t("sv", "no_such_key")
