"""Work that must happen only once the transaction commits: pushes, enqueues, outbound messages.

A rolled-back transaction runs none of it, so nobody is told about a change that never happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from app.core.db import DbSession

log = logging.getLogger("infirmary.after_commit")
_KEY = "infirmary_after_commit"


def after_commit(session: DbSession, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run fn(*args, **kwargs) after `session` commits; drop it if the session rolls back."""
    target = session() if callable(session) and not isinstance(session, Session) else session
    target.info.setdefault(_KEY, []).append((fn, args, kwargs))


@event.listens_for(Session, "after_commit")
def _run(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for fn, args, kwargs in pending:
        try:
            fn(*args, **kwargs)
        except Exception:  # one failed push must not stop the others or the request
            log.exception("after-commit task failed", extra={"task": getattr(fn, "__name__", str(fn))})


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_KEY, None)
