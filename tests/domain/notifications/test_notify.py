"""notify() reaches the right people; reading and acknowledging behave as staff expect."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.errors import DomainError, Forbidden
from app.domain.notifications import services as notifications
from app.domain.notifications.models import Notification
from tests import factories


def _recipients(rows: list[Notification]) -> set[int]:
    return {r.recipient_id for r in rows}


def test_targets_user_role_ward_and_department(db_session: Any, make_user: Any) -> None:
    ward = factories.ward(db_session)
    nurse_here = make_user("nurse", ward_ids=[ward.id])
    nurse_elsewhere = make_user("nurse")
    pharmacist = make_user("pharmacist")
    doctor = make_user("doctor")
    lab = make_user("lab_tech")
    assert _recipients(notifications.notify(db_session, kind="t", text="x", user_ids=[doctor.id])) == {doctor.id}
    by_role = _recipients(notifications.notify(db_session, kind="t", text="x", role="nurse"))
    assert {nurse_here.id, nurse_elsewhere.id} <= by_role and pharmacist.id not in by_role
    assert _recipients(notifications.notify(db_session, kind="t", text="x", ward_id=ward.id)) == {nurse_here.id}
    by_dept = _recipients(notifications.notify(db_session, kind="t", text="x", dept="lab"))
    assert lab.id in by_dept and doctor.id not in by_dept
    with pytest.raises(ValueError):
        notifications.notify(db_session, kind="t", text="x", role="janitor")


def test_disabled_users_are_not_notified(db_session: Any, make_user: Any) -> None:
    from app.core.security import SYSTEM
    from app.domain.identity import services as identity

    gone = make_user("pharmacist")
    identity.set_user_active(db_session, SYSTEM, gone.id, False, "left")
    assert gone.id not in _recipients(notifications.notify(db_session, kind="t", text="x", role="pharmacist"))


def test_unread_count_read_and_catch_up(db_session: Any, make_user: Any) -> None:
    user = make_user("doctor")
    first = notifications.notify(db_session, kind="t", text="one", user_ids=[user.id])[0]
    notifications.notify(db_session, kind="t", text="two", user_ids=[user.id])
    assert notifications.unread_count(db_session, user.id) == 2
    assert [n.text for n in notifications.unread_since(db_session, user.id, first.id)] == ["two"]
    notifications.mark_all_read(db_session, user.id)
    assert notifications.unread_count(db_session, user.id) == 0
    assert notifications.unread_since(db_session, user.id, 0) == []


def test_high_priority_needs_an_audited_acknowledgement_by_its_recipient(db_session: Any, make_user: Any) -> None:
    doctor, other = make_user("doctor"), make_user("doctor")
    urgent = notifications.notify(db_session, kind="lab.critical", text="K+ 7.1", user_ids=[doctor.id],
                                  priority="high")[0]
    normal = notifications.notify(db_session, kind="t", text="fyi", user_ids=[doctor.id])[0]
    notifications.mark_all_read(db_session, doctor.id)
    assert urgent.needs_acknowledgement  # reading is not acknowledging
    with pytest.raises(Forbidden):
        notifications.acknowledge(db_session, other, urgent.id)
    with pytest.raises(DomainError):
        notifications.acknowledge(db_session, doctor, normal.id)
    notifications.acknowledge(db_session, doctor, urgent.id)
    assert not urgent.needs_acknowledgement
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "notification.acknowledged"))
    assert row.actor_id == doctor.id and "K+ 7.1" in (row.after or "")


def test_break_glass_alerts_the_auditors(db_session: Any, make_user: Any) -> None:
    from app.domain.patients import services as patients

    auditor = make_user("auditor")
    mine, other = factories.ward(db_session), factories.ward(db_session)
    there = factories.admitted(db_session, other)
    nurse = make_user("nurse", ward_ids=[mine.id])
    patients.break_glass(db_session, nurse, there.id, "Covering the crash call")
    alert = db_session.scalar(select(Notification).where(Notification.recipient_id == auditor.id))
    assert alert is not None and there.mrn in alert.text and "Covering the crash call" in alert.text
