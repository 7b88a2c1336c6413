"""A public text masks a person of the directory as one "[namn]", whatever the process's hash
seed (a set's order decided whether "Anna Andersson" came out "[namn]" or "[namn] [namn]",
so the same case gave different public titles and archive files from run to run)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROGRAM = """
from bot.settings import load_organisation
from bot.domain.records import mask_names
from tests.conftest import EXAMPLE_CONFIG
print(mask_names(load_organisation(EXAMPLE_CONFIG), "Fallolycka, Anna Andersson och Bengt"))
"""


def test_a_full_name_is_masked_once_under_every_hash_seed():
    seen = set()
    for seed in range(8):
        done = subprocess.run([sys.executable, "-c", PROGRAM], cwd=REPO, capture_output=True,
                              text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)},
                              check=True)
        seen.add(done.stdout.strip())
    assert seen == {"Fallolycka, [namn] och [namn]"}
