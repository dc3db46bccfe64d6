"""The nightly duplicate scan puts look-alike records on the supervisor's worklist and tells the
supervisors, once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.domain.notifications.models import Notification
from app.domain.registry.models import DuplicateCandidate
from app.jobs.runner import run_periodic
from tests import factories


def test_scan_finds_a_look_alike_registered_today_and_alerts_supervisors(
    db_session: Any, make_user: Any
) -> None:
    supervisor = make_user("registry_supervisor")
    first = factories.patient(db_session, "Smith", "Johanna", birth_date=date(1975, 3, 4),
                              phone="07700 900123")
    second = factories.patient(db_session, "Smtih", "Johanna", birth_date=date(1975, 4, 3),
                               phone="07700 900123")
    db_session.flush()
    pair, supervisor_id = tuple(sorted((first.id, second.id))), supervisor.id

    assert run_periodic("duplicate-scan") == "ok"

    pairs = list(db_session.scalars(select(DuplicateCandidate)))
    assert [(p.patient_a_id, p.patient_b_id, p.source) for p in pairs] == [(*pair, "scan")]
    alerts = list(db_session.scalars(select(Notification).where(
        Notification.recipient_id == supervisor_id, Notification.kind == "registry.duplicates")))
    assert len(alerts) == 1 and "1 new possible duplicate" in alerts[0].text

    # The next night finds nothing new: no second alert.
    assert run_periodic("duplicate-scan") == "ok"
    assert len(list(db_session.scalars(select(DuplicateCandidate)))) == 1
    assert len(list(db_session.scalars(select(Notification).where(
        Notification.kind == "registry.duplicates")))) == 1


def test_scan_leaves_old_unchanged_records_alone(db_session: Any) -> None:
    with clock.freeze(clock.now() - timedelta(days=3)):
        factories.patient(db_session, "Okafor", "Chidi", birth_date=date(1990, 1, 2))
        factories.patient(db_session, "Okafor", "Chidi", birth_date=date(1990, 1, 2))
    db_session.flush()
    assert run_periodic("duplicate-scan") == "ok"
    assert db_session.scalar(select(DuplicateCandidate.id)) is None
