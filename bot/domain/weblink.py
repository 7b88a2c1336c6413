"""Addresses of the web overview's pages, and which sign-in targets are allowed.

Pure: a notification's link to its case and a sign-in link's `next` are built and checked
here, so the chat, the CLI and the web agree on them.
"""
from __future__ import annotations

import re

# a path of this site: one leading slash (never "//host", never "/\\host", which browsers
# read as another site), then only the characters our own addresses use
_LOCAL = re.compile(r"/(?![/\\])[A-Za-z0-9/_.~%=&+\-]*(\?[A-Za-z0-9/_.~%=&+\-]*)?")
_MAX = 300


def case_path(key: int) -> str:
    """The case page of the web overview for a case's key (DiaryNumber.key)."""
    year, seq = divmod(key, 1_000_000)
    return f"/arenden/{year}/{seq}"


def local_target(text: str | None) -> str | None:
    """`text` when it is a path of this site to land on after sign-in, else None: an
    absolute URL, a scheme-relative "//evil.example", a backslash or a control character
    would send the browser elsewhere (an open redirect), and the sign-in pages themselves
    are no place to land."""
    if not text or len(text) > _MAX or not _LOCAL.fullmatch(text):
        return None
    if text.startswith(("/inloggning", "/utloggning")):
        return None
    return text
