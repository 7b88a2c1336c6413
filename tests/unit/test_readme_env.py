"""The README documents every environment variable the bot reads (issue 14)."""
from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ENV_NAMES

REPO = Path(__file__).resolve().parents[2]


def variables_in_code() -> set[str]:
    found = set(ENV_NAMES)
    for path in [*REPO.glob("bot/**/*.py"), *REPO.glob("handlers/*.py"), *REPO.glob("reminders/*.py")]:
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"(?:env|environ)(?:\.get\(|\[)\"([A-Z][A-Z0-9_]+)\"", text))
        found |= set(re.findall(r"\.port\(\"([A-Z][A-Z0-9_]+)\"", text))
    return found


def test_every_variable_is_in_the_readme_table():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Every environment variable", 1)[1].split("\n## ", 1)[0]
    missing = sorted(v for v in variables_in_code() | {"REQUESTS_CA_BUNDLE"} if f"`{v}`" not in table)
    assert not missing
    assert len(variables_in_code()) >= 30
