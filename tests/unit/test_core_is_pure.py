"""The core takes data and returns decisions: no adapter library may creep into it."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ADAPTERS = {"slack_bolt", "slack_sdk", "tinydb", "O365", "msal", "imapclient", "apscheduler",
            "aiohttp", "microsoft_agents", "orjson", "smtplib", "imaplib", "requests",
            "openpyxl", "jinja2"}
PURE = sorted([*(REPO / "bot" / "domain").glob("*.py"), REPO / "bot" / "mail" / "classify.py",
               REPO / "reminders" / "rules.py", REPO / "bot" / "commands.py",
               REPO / "bot" / "report.py", *(REPO / "bot" / "archive").glob("*.py")])


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", PURE, ids=lambda p: str(p.relative_to(REPO)))
def test_pure_modules_import_no_adapter_library(path):
    assert PURE, "no pure modules found"
    assert not _imported_roots(path) & ADAPTERS
