"""Layers point one way (DESIGN §11): domain and grammar <- use cases <- store and adapters
<- handlers <- cli/app. A module may import its own layer and the layers below it only."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# what each layer may NOT import (the layers above it)
FORBIDDEN = {
    "bot/domain": ("bot.usecases", "bot.services", "bot.store", "bot.mail", "bot.chat", "bot.app",
                   "bot.cli", "handlers", "bot.commands"),
    "bot/commands.py": ("bot.usecases", "bot.services", "bot.store", "bot.mail", "bot.chat",
                        "bot.app", "bot.cli", "handlers"),
    "bot/mail/classify.py": ("bot.usecases", "bot.services", "bot.store", "bot.app", "bot.cli",
                             "handlers"),
    "reminders/rules.py": ("bot.usecases", "bot.services", "bot.store", "bot.app", "handlers"),
    "bot/usecases": ("bot.store", "bot.app", "bot.cli", "handlers", "bot.chat.slack",
                     "bot.chat.teams", "bot.chat.email", "bot.chat.console", "bot.mail.imap",
                     "bot.mail.graph", "bot.mail.smtp", "bot.mail.maildir", "bot.web"),
    "bot/services.py": ("bot.store", "bot.app", "bot.cli", "handlers", "bot.chat.slack",
                        "bot.chat.teams", "bot.mail.imap", "bot.mail.graph", "bot.mail.smtp"),
    "bot/store": ("bot.services", "bot.app", "bot.cli", "handlers", "bot.mail", "bot.chat"),
    "bot/chat": ("bot.app", "bot.cli", "handlers"),
    "bot/mail": ("bot.app", "bot.cli", "handlers", "bot.services"),
    # the year's report is pure; the web reads the store only through what the CLI hands it
    "bot/report.py": ("bot.usecases", "bot.services", "bot.store", "bot.app", "bot.cli",
                      "handlers", "bot.web"),
    "bot/web": ("bot.usecases", "bot.services", "bot.store", "bot.app", "bot.cli", "handlers"),
    # the archive export's builders: data in, XML bytes out; the use case reads the store
    "bot/archive": ("bot.usecases", "bot.services", "bot.store", "bot.mail", "bot.chat",
                    "bot.app", "bot.cli", "handlers", "bot.web", "bot.reading"),
}


def _modules(layer: str) -> list[Path]:
    path = REPO / layer
    return sorted(path.rglob("*.py")) if path.is_dir() else [path]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


CASES = [(layer, path) for layer in FORBIDDEN for path in _modules(layer)]


@pytest.mark.parametrize("layer,path", CASES, ids=[str(p.relative_to(REPO)) for _, p in CASES])
def test_a_module_imports_only_the_layers_below_it(layer, path):
    bad = sorted(name for name in _imports(path)
                 if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]))
    assert not bad, f"{path.relative_to(REPO)} imports {bad} from a layer above it"


def test_every_layer_has_modules():
    assert all(_modules(layer) for layer in FORBIDDEN)
