"""The audit trail is append-only and any single-row tamper is caught by verify."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app.core import audit
from app.core.audit import AuditEvent
from app.core.security import SYSTEM


def _trail(session: Any, n: int = 5) -> list[AuditEvent]:
    return [
        audit.record(session, SYSTEM, "test.event", ("thing", i), after={"i": i, "name": "Zoë 王"})
        for i in range(n)
    ]


def _bypass_append_only(session: Any) -> None:
    """What an attacker with database access would do first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        session.execute(text("DROP TRIGGER audit_event_no_update"))
        session.execute(text("DROP TRIGGER audit_event_no_delete"))


def test_clean_trail_verifies(db_session: Any) -> None:
    rows = _trail(db_session)
    result = audit.verify(db_session)
    assert result.ok
    assert result.checked == len(rows)
    assert [r.seq for r in rows] == list(range(1, 6))
    assert rows[1].prev_hash == rows[0].hash


def test_database_refuses_update_and_delete(db_session: Any) -> None:
    _trail(db_session, 2)
    for statement in ("UPDATE audit_event SET action = 'x'", "DELETE FROM audit_event"):
        with pytest.raises(DatabaseError, match="append-only"), db_session.begin_nested():
            db_session.execute(text(statement))


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "problem"),
    [
        ("UPDATE audit_event SET reason = 'edited' WHERE seq = 3", 3, "content"),
        ("DELETE FROM audit_event WHERE seq = 3", 4, "missing"),
        ("UPDATE audit_event SET seq = seq + 100 WHERE seq = 2", 3, "missing"),
    ],
    ids=["edit", "delete", "renumber"],
)
def test_verify_names_first_bad_row(db_session: Any, tamper: str, bad_seq: int, problem: str) -> None:
    _trail(db_session)
    _bypass_append_only(db_session)
    db_session.execute(text(tamper))
    db_session.expire_all()
    result = audit.verify(db_session)
    assert not result.ok
    assert result.bad_seq == bad_seq
    assert problem in (result.problem or "")


def test_verify_catches_inserted_row(db_session: Any) -> None:
    rows = _trail(db_session)
    # A forger copies a real row's link but cannot compute the seal without the key.
    forged = AuditEvent(
        seq=6, occurred_at=rows[-1].occurred_at, actor_label="mallory", action="test.event",
        prev_hash=rows[-1].hash, hash="f" * 64,
    )
    db_session.add(forged)
    db_session.flush()
    result = audit.verify(db_session)
    assert not result.ok and result.bad_seq == 6


def test_verify_catches_reordered_rows(db_session: Any) -> None:
    _trail(db_session)
    _bypass_append_only(db_session)
    # Swap the sequence numbers of rows 2 and 3 so they read back in the other order.
    db_session.execute(text("UPDATE audit_event SET seq = -2 WHERE seq = 2"))
    db_session.execute(text("UPDATE audit_event SET seq = 2 WHERE seq = 3"))
    db_session.execute(text("UPDATE audit_event SET seq = 3 WHERE seq = -2"))
    db_session.expire_all()
    result = audit.verify(db_session)
    assert not result.ok and result.bad_seq == 2


def test_verify_fails_with_another_key(db_session: Any) -> None:
    _trail(db_session, 2)
    assert not audit.verify(db_session, key=b"not-the-key").ok


def test_cli_verify_exit_codes(app: Any, db_session: Any) -> None:
    _trail(db_session, 3)
    runner = app.test_cli_runner()
    ok: Result = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact: 3 rows" in ok.output
    _bypass_append_only(db_session)
    db_session.execute(text("UPDATE audit_event SET actor_label = 'someone else' WHERE seq = 2"))
    bad = runner.invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert "seq=2" in bad.output


def test_record_carries_request_context(db_session: Any) -> None:
    token = audit.current_context.set(audit.RequestContext(request_id="req-1", ip="10.1.2.3"))
    try:
        row = audit.record(db_session, SYSTEM, "test.ctx", before={"a": 1}, after={"a": 2}, reason="why")
    finally:
        audit.current_context.reset(token)
    assert (row.request_id, row.ip, row.reason) == ("req-1", "10.1.2.3", "why")
    assert row.changes() == [("a", 1, 2)]


def test_entity_id_is_recorded_for_objects_flushed_by_record(db_session: Any) -> None:
    from app.domain.facilities.models import Ward

    ward = Ward(code="NEW", name="New ward")
    db_session.add(ward)  # not yet flushed: record() must flush before naming it
    row = audit.record(db_session, SYSTEM, "ward.created", ward)
    assert row.entity_type == "ward" and row.entity_id == str(ward.id)
