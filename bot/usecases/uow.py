"""The unit of work: one use case, one transaction.

    with uow as store:
        ...changes...
    # committed (one journal append) on success, rolled back on ANY exception

It owns the store's lock for the whole transaction; nothing else takes it. Nested `with uow`
joins the outer transaction with a savepoint: an exception that leaves the inner block undoes
the inner block's changes only, so a caller that catches it (one bad mail in a batch) goes on
with a clean slate. No use case calls commit() itself.

Every way out lets go of the lock: a failed savepoint in __enter__ (a database connection
that broke), a failed commit, restore or rollback in __exit__.
"""
from __future__ import annotations

import threading
from typing import Any

from bot.ports import CaseStore


class UnitOfWork:
    def __init__(self, store: CaseStore):
        self.store = store
        self._local = threading.local()

    @property
    def _stack(self) -> list[Any]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def __enter__(self) -> CaseStore:
        self.store.lock.acquire()
        try:       # a savepoint on a broken connection fails here: __exit__ will not run
            self._stack.append(self.store.savepoint() if self._stack else None)
        except BaseException:
            self.store.lock.release()
            raise
        return self.store

    def __exit__(self, exc_type, exc, tb) -> None:
        savepoint = self._stack.pop()
        try:
            if self._stack:                      # inner block: undo only its own changes
                if exc_type is not None:
                    self.store.restore(savepoint)
            elif exc_type is None:
                self.store.commit()
            else:
                self.store.rollback()
        finally:
            self.store.lock.release()
