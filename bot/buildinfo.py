"""Which build this is: the release number and, for a build that is not the release's tag,
the commit it was built from. `avvikelsebot --version` prints `describe()`.

The release number is `version` in pyproject.toml (the package metadata); it never depends on
tags being present (a CI clone may have none). The commit is captured when the wheel is
built: setup.py's build step writes bot/_build.json from `from_git()` on the source tree, or
from AVVIKELSEBOT_BUILD_COMMIT when the build has no .git (e.g. a container build from copied
files). An installed wheel therefore needs no git at run time. A checkout run in place
(pip install -e) has no _build.json and asks git itself.

    0.3.0                  the tag v0.3.0, clean
    0.3.0+g1a2b3c4         commit 1a2b3c4, not the release's tag
    0.3.0+g1a2b3c4.dirty   built from a tree with uncommitted changes
    0.3.0+unknown          built without git and without AVVIKELSEBOT_BUILD_COMMIT

Standard library only: setup.py loads this file by path, before anything is installed."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

BUILD_FILE = "_build.json"
COMMIT_VARIABLE = "AVVIKELSEBOT_BUILD_COMMIT"


def _git(tree: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True,
                              timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def from_git(tree: Path, release: str) -> dict[str, Any] | None:
    """The build facts of a source tree, or None when it is no git checkout (or git is missing)."""
    if not (tree / ".git").exists():
        return None
    commit = _git(tree, "rev-parse", "--short=7", "HEAD")
    if not commit:
        return None
    tags = (_git(tree, "tag", "--points-at", "HEAD") or "").split()
    status = _git(tree, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "tagged": f"v{release}" in tags, "dirty": bool(status)}


def from_environment() -> dict[str, Any] | None:
    named = os.environ.get(COMMIT_VARIABLE, "").strip()
    if not re.fullmatch(r"[0-9a-fA-F]{7,40}", named):
        return None
    return {"commit": named[:7].lower(), "tagged": False, "dirty": False}


def for_build(tree: Path, release: str) -> dict[str, Any]:
    """What setup.py writes into the wheel: git first, then the variable, else unknown."""
    return from_git(tree, release) or from_environment() or {"commit": None, "tagged": False,
                                                             "dirty": False}


def release() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("avvikelsebot")
    except PackageNotFoundError:
        return "okänd"


def installed() -> dict[str, Any] | None:
    """The facts of the running code: the wheel's _build.json, else the checkout's git."""
    here = Path(__file__).resolve().parent
    try:
        return json.loads((here / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return from_git(here.parent, release())


def describe(release_number: str, facts: dict[str, Any] | None) -> str:
    if not facts or not facts.get("commit"):
        return f"{release_number}+unknown"
    if facts.get("tagged") and not facts.get("dirty"):
        return release_number
    return f"{release_number}+g{facts['commit']}" + (".dirty" if facts.get("dirty") else "")


def version_text() -> str:
    return describe(release(), installed())
