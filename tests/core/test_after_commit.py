"""After-commit work runs once, at the real commit, and never for rolled-back work."""

from __future__ import annotations

from typing import Any

from app.core.after_commit import after_commit


def test_runs_at_commit_not_before(db_session: Any) -> None:
    ran: list[str] = []
    after_commit(db_session, ran.append, "outer")
    with db_session.begin_nested():
        after_commit(db_session, ran.append, "inside savepoint")
    assert ran == []  # releasing a savepoint is not a commit
    db_session.commit()
    assert ran == ["outer", "inside savepoint"]
    db_session.commit()
    assert ran == ["outer", "inside savepoint"]  # once only


def test_rollback_drops_everything(db_session: Any) -> None:
    ran: list[str] = []
    after_commit(db_session, ran.append, "doomed")
    db_session.rollback()
    db_session.commit()
    assert ran == []


def test_a_rolled_back_savepoint_drops_only_its_own_work(db_session: Any) -> None:
    ran: list[str] = []
    after_commit(db_session, ran.append, "kept")
    nested = db_session.begin_nested()
    after_commit(db_session, ran.append, "dropped")
    nested.rollback()
    db_session.commit()
    assert ran == ["kept"]


def test_a_failing_task_does_not_stop_the_others(db_session: Any) -> None:
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("socket gone")

    after_commit(db_session, boom)
    after_commit(db_session, ran.append, "still sent")
    db_session.commit()
    assert ran == ["still sent"]
