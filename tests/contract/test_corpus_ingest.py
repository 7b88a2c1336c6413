"""Every rfc822 mail of the public corpus goes through `avvikelsebot ingest` in one call:
no exception, each one of the five outcomes, raw bytes kept; a second pass is all duplicates."""
from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

from bot.mail.classify import OUTCOMES
from tests.conftest import EXAMPLE_CONFIG

CLI = str(Path(sys.executable).with_name("avvikelsebot"))


def _corpus_files(corpora: Path) -> list[str]:
    rows = (corpora / "email" / "INDEX.tsv").read_text(encoding="utf-8").splitlines()[1:]
    files = [str(corpora / row.split("\t")[0]) for row in rows if row.split("\t")[1] == "rfc822"]
    assert len(files) > 1200, "the corpus index lists fewer rfc822 mails than expected"
    return files


def _ingest(files: list[str], data: Path) -> list[dict]:
    done = subprocess.run([CLI, "--config", str(EXAMPLE_CONFIG), "--data", str(data), "ingest",
                           "--json", *files], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_whole_corpus_ingests_once_then_only_duplicates(corpora, tmp_path):
    files = _corpus_files(corpora)
    data = tmp_path / "data"

    first = _ingest(files, data)
    assert len(first) == len(files)
    outcomes = collections.Counter(r["outcome"] for r in first)
    assert set(outcomes) <= set(OUTCOMES), outcomes
    assert outcomes["ignored"] > 300, outcomes  # the corpus is mostly bounces and auto-replies
    assert not [r for r in first if "internt fel" in r["reason"]]
    kept = list((data / "raw").rglob("*.eml"))
    assert len(kept) == len(files) - outcomes["duplicate"]

    second = _ingest(files, data)
    assert collections.Counter(r["outcome"] for r in second) == {"duplicate": len(files)}
