"""`hjälp` per role and the wording a Swedish registrator reads (issue 14)."""
from __future__ import annotations

import pytest

from bot.help import help_text
from bot.texts import SV, t, tn


def commands_shown(text: str) -> set[str]:
    return {line.split()[0] + (" " + line.split()[1] if line.split()[:2] == ["åtgärd", "klar"] else "")
            for line in text.splitlines()[1:-1]}


def test_a_manager_is_not_shown_registrator_or_triage_commands():
    shown = commands_shown(help_text("sv", {"manager"}))
    assert {"status", "mina", "registrerad", "bedöm", "avsluta", "åtgärd", "åtgärd klar",
            "snooza", "prenumerera", "avprenumerera", "hjälp"} <= shown
    assert not shown & {"skicka", "skickad", "enhet", "motpart", "diarisera", "koppla", "avfärda"}


@pytest.mark.parametrize("role", ["registrator", "ma", "sas"])
def test_oversight_roles_see_the_triage_commands(role):
    shown = commands_shown(help_text("sv", {role}))
    assert {"diarisera", "koppla", "avfärda", "enhet", "motpart", "skickad"} <= shown
    assert ("skicka" in shown) == (role == "registrator")


def test_help_in_english_and_without_a_role():
    assert help_text("en", {"registrator"}).startswith("How to talk to Avvikelsebot:")
    assert "send <number>" in help_text("en", {"registrator"})
    assert "skicka" not in help_text("sv", ())


def test_the_refusal_to_close_says_one_action_in_the_singular():
    one = tn("sv", "refused_close_open_actions", 1, number="VOK 2026/0001", actions="1. ring")
    two = tn("sv", "refused_close_open_actions", 2, number="VOK 2026/0001", actions="1. a; 2. b")
    assert "en öppen åtgärd" in one and "Markera den som klar" in one
    assert "2 öppna åtgärder" in two and "Markera dem som klara" in two


def test_reminder_lines_are_grammatical_for_every_step():
    for step in ("register", "respond", "send_response", "close", "send", "external_response"):
        words = t("sv", f"step_{step}")
        line = t("sv", "reminder_line", step_cap=words[:1].upper() + words[1:],
                 deadline="tisdag 1 december")
        assert line.startswith("Försenat: ") and "skulle ha gjorts" not in line


def test_no_english_word_left_in_swedish_texts():
    for key, text in SV.items():
        assert " via console" not in text and "okänd enhet»" not in text, key
