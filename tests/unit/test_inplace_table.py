"""InPlaceTable must behave exactly like TinyDB's own Table, only faster."""
from __future__ import annotations

import random

from tinydb import Query, TinyDB
from tinydb.storages import MemoryStorage
from tinydb.table import Document

from bot.store.atomic import durable, open_db


def _apply(table, rng: random.Random, step: int) -> None:
    action = rng.choice(["insert", "insert_many", "update_id", "update_query", "remove", "upsert_doc",
                         "upsert_query", "remove_query"])
    ids = [doc.doc_id for doc in table.all()]
    if action == "insert":
        table.insert({"n": step, "even": step % 2 == 0})
    elif action == "insert_many":
        table.insert_multiple({"n": step * 10 + i, "even": i % 2 == 0} for i in range(3))
    elif action == "update_id" and ids:
        table.update({"touched": step}, doc_ids=[rng.choice(ids)])
    elif action == "update_query":
        table.update({"flag": step}, Query().even == True)  # noqa: E712
    elif action == "remove" and ids:
        table.remove(doc_ids=[rng.choice(ids)])
    elif action == "upsert_doc":
        table.upsert(Document({"n": step, "upserted": True}, doc_id=rng.randint(1, 40)))
    elif action == "upsert_query":
        table.upsert({"n": step % 7, "q": True}, Query().n == step % 7)
    elif action == "remove_query":
        table.remove(Query().n == step % 5)


def test_same_results_as_stock_tinydb_for_random_operations(tmp_path):
    ours = open_db(tmp_path / "live.json")
    stock = TinyDB(storage=MemoryStorage)
    rng_ours, rng_stock = random.Random(5), random.Random(5)
    for step in range(400):
        _apply(ours.table("t"), rng_ours, step)
        _apply(stock.table("t"), rng_stock, step)
        assert ours.table("t").all() == stock.table("t").all(), step
    durable(ours)
    reread = open_db(tmp_path / "live.json", readonly=True)
    assert reread.table("t").all() == stock.table("t").all()
    assert [d.doc_id for d in reread.table("t").all()] == [d.doc_id for d in stock.table("t").all()]
