"""Work that must happen only once the transaction commits: pushes, enqueues, outbound messages.

A rolled-back transaction runs none of it, so nobody is told about a change that never happened.
Work registered inside a savepoint belongs to that savepoint: rolling it back drops that work
only; releasing it keeps the work for the real commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from app.core.db import DbSession

log = logging.getLogger("infirmary.after_commit")
_KEY = "infirmary_after_commit"

Pending = list[tuple[SessionTransaction | None, Callable[..., Any], tuple[Any, ...], dict[str, Any]]]


def after_commit(session: DbSession, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args, **kwargs) after `session` commits; drop it if its transaction rolls back."""
    target = session() if callable(session) and not isinstance(session, Session) else session
    if target.get_transaction() is None:
        target.connection()  # begin now, so the work has a transaction to belong to
    owner = target.get_nested_transaction() or target.get_transaction()
    pending: Pending = target.info.setdefault(_KEY, [])
    pending.append((owner, fn, args, kwargs))


def _within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    # SQLAlchemy also fires after_commit when a SAVEPOINT is released; the outer transaction has
    # not committed then, and other processes cannot see its rows yet.
    if session.in_nested_transaction():
        return
    pending: Pending = session.info.pop(_KEY, [])
    for _owner, fn, args, kwargs in pending:
        try:
            fn(*args, **kwargs)
        except Exception:  # one failed push must not stop the others or the request
            log.exception("after-commit task failed", extra={"task": getattr(fn, "__name__", str(fn))})


@event.listens_for(Session, "after_soft_rollback")
def _discard(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: Pending = session.info.get(_KEY, [])
    kept = [p for p in pending if not _within(p[0], previous_transaction)]
    if kept:
        session.info[_KEY] = kept
    else:
        session.info.pop(_KEY, None)
