"""What `--version` says for each kind of build (bot/buildinfo.py)."""
from __future__ import annotations

import subprocess

from bot.buildinfo import describe, for_build, from_git


def test_a_tagged_clean_build_is_the_release_number_alone():
    assert describe("0.3.0", {"commit": "1a2b3c4", "tagged": True, "dirty": False}) == "0.3.0"


def test_an_untagged_or_changed_build_names_its_commit():
    assert describe("0.3.0", {"commit": "1a2b3c4", "tagged": False, "dirty": False}) == "0.3.0+g1a2b3c4"
    assert describe("0.3.0", {"commit": "1a2b3c4", "tagged": True, "dirty": True}) == "0.3.0+g1a2b3c4.dirty"
    assert describe("0.3.0", None) == "0.3.0+unknown"


def _commit(tree, message):
    subprocess.run(["git", "-C", str(tree), "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit", "-q", "--allow-empty", "-m", message], check=True)
    return subprocess.run(["git", "-C", str(tree), "rev-parse", "--short=7", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_release_number_needs_no_tag_and_the_tag_must_be_the_release(tmp_path, monkeypatch):
    monkeypatch.delenv("AVVIKELSEBOT_BUILD_COMMIT", raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    commit = _commit(tmp_path, "one")
    assert from_git(tmp_path, "0.3.0") == {"commit": commit, "tagged": False, "dirty": False}
    subprocess.run(["git", "-C", str(tmp_path), "tag", "v0.2.0"], check=True)
    assert from_git(tmp_path, "0.3.0")["tagged"] is False      # another release's tag
    subprocess.run(["git", "-C", str(tmp_path), "tag", "v0.3.0"], check=True)
    assert from_git(tmp_path, "0.3.0")["tagged"] is True


def test_a_build_without_git_takes_the_commit_from_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AVVIKELSEBOT_BUILD_COMMIT", "1A2B3C4D5E6F")
    assert for_build(tmp_path, "0.3.0") == {"commit": "1a2b3c4", "tagged": False, "dirty": False}
    monkeypatch.setenv("AVVIKELSEBOT_BUILD_COMMIT", "not a commit")
    assert for_build(tmp_path, "0.3.0")["commit"] is None
