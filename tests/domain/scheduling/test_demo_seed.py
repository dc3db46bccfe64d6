"""The demo seed sets up bookable clinics, once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.core.security import SYSTEM
from app.demo import seed
from app.domain.identity.models import User
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import (
    AppointmentType,
    Clinic,
    Holiday,
    Resource,
    ScheduleTemplate,
)


def test_demo_clinics_are_bookable_and_seeded_once(app: Any, db_session: Any) -> None:
    seed(db_session, patients_wanted=5)
    seed(db_session, patients_wanted=5)
    assert sorted(db_session.scalars(select(Clinic.code))) == ["CARD", "GMED"]
    kinds = dict(db_session.execute(select(Resource.kind, func.count()).group_by(Resource.kind)).all())
    assert kinds == {"clinician": 3, "room": 4, "equipment": 1}
    doctor = db_session.scalar(select(User).where(User.username == "doctor"))
    dara = db_session.scalar(select(Resource).where(Resource.user_id == doctor.id))
    assert dara is not None and dara.kind == "clinician"
    assert db_session.scalar(select(func.count()).select_from(ScheduleTemplate)) == 10 + 3 + 2 + 10 + 5 + 5 + 5  # Dara twice daily, Priya, Okafor, rooms, ECG
    assert db_session.scalar(select(Holiday.name)) == "Christmas Day"
    for t in db_session.scalars(select(AppointmentType)):
        assert scheduling.next_free_slot(db_session, SYSTEM, appointment_type_id=t.id) is not None, t.code
