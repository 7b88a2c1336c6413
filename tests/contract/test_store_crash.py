"""Contract: SIGKILL at any moment never corrupts or loses flushed data.

A child process appends ~1.5 KB documents to a diary that already holds ~2,000
of them, making each insert durable and then printing the durable count.  The
parent SIGKILLs it at random moments; meanwhile it reads the file concurrently
(every read must see a complete file).  After each kill the file must parse and
hold exactly the reported count (or one more, if the kill hit between flush
and print).  Set CRASH_SEED to reproduce a run.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson

from bot.store.atomic import (
    AtomicOrjsonStorage,
    durable,
    open_db,
    remove_orphan_temp_files,
)
from bot.store.lock import WriterLock

REPO_ROOT = Path(__file__).resolve().parents[2]
INITIAL_DOCS = 2000
RUNS = 15
BODY = "x" * 1450


def make_doc(seq: int) -> dict:
    return {"seq": seq, "title": f"Avvikelse {seq}", "body": BODY}


CHILD = textwrap.dedent(
    f"""
    import sys
    from bot.store.atomic import durable, open_db
    from bot.store.lock import WriterLock

    data_dir, path = sys.argv[1], sys.argv[2]
    WriterLock(data_dir, command="crash-test").acquire()
    db = open_db(path)
    table = db.table("cases")
    seq = len(table)
    print(seq, flush=True)            # ready; everything so far is durable
    while True:
        table.insert({{"seq": seq, "title": f"Avvikelse {{seq}}", "body": {BODY!r}}})
        durable(db)
        seq += 1
        print(len(table), flush=True)  # durable count
    """
)


def _child_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p
    )
    return env


def _check_docs(docs: dict, context: str) -> None:
    seqs = sorted(doc["seq"] for doc in docs.values())
    assert seqs == list(range(len(docs))), f"{context}: sequence has gaps/duplicates"
    for doc in docs.values():
        assert doc == make_doc(doc["seq"]), f"{context}: damaged document {doc['seq']}"


def test_sigkill_never_corrupts_or_loses_flushed_data(tmp_path):
    seed = int(os.environ.get("CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    path = data_dir / "diary.json"

    db = open_db(path)
    db.table("cases").insert_multiple(make_doc(i) for i in range(INITIAL_DOCS))
    durable(db)
    db.close()
    assert path.stat().st_size > 2_500_000

    env = _child_env()
    concurrent_reads = 0
    orphans = 0
    progress = []
    started = time.monotonic()
    for run in range(RUNS):
        ctx = f"seed={seed} run={run}"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(data_dir), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        try:
            first = child.stdout.readline()
            assert first.strip().isdigit(), f"{ctx}: child failed: {child.stderr.read()!r}"

            # Read concurrently while the child replaces the file, then kill it.
            kill_at = time.monotonic() + rng.uniform(0.020, 0.200)
            last_seen = 0
            while time.monotonic() < kill_at:
                data = AtomicOrjsonStorage(path, readonly=True).read()
                assert data is not None, ctx
                n_seen = len(data["cases"])
                assert n_seen >= last_seen, f"{ctx}: reader saw the diary shrink"
                last_seen = n_seen
                concurrent_reads += 1
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        assert child.returncode == -signal.SIGKILL, (
            f"{ctx}: child exited on its own: {child.stderr.read()!r}"
        )

        out = first + child.stdout.read()
        complete_lines = out.decode().split("\n")[:-1]  # drop a possibly torn last line
        reported = int(complete_lines[-1])

        # The file must be complete JSON with exactly the durable documents.
        raw = path.read_bytes()
        docs = orjson.loads(raw)["cases"]
        assert reported <= len(docs) <= reported + 1, (
            f"{ctx}: child reported {reported} durable, file has {len(docs)}"
        )
        _check_docs(docs, ctx)
        assert len(open_db(path, readonly=True).table("cases")) == len(docs)
        progress.append(len(docs))

        # The kernel released the dead child's lock; clean up its leftovers.
        with WriterLock(data_dir, command="test"):
            orphans += len(remove_orphan_temp_files(data_dir, basename=path.name))
        assert not [p for p in data_dir.iterdir() if p.name.startswith(".tmp-")], ctx

    elapsed = time.monotonic() - started
    print(
        f"crash test: seed={seed} runs={RUNS} final_docs={progress[-1]} "
        f"concurrent_reads={concurrent_reads} orphan_temp_files={orphans} "
        f"elapsed={elapsed:.1f}s"
    )
    assert progress[-1] > INITIAL_DOCS, "the child never managed a durable write"
    assert concurrent_reads >= RUNS
