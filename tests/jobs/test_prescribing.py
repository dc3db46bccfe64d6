"""The completion job: finished courses leave the current list, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.core import clock
from app.domain.identity.models import User
from app.domain.prescribing import services as prescribing
from app.jobs.runner import run_periodic
from tests import factories
from tests.domain.prescribing import support


def test_finished_courses_become_completed_and_current_ones_stay(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    start = clock.now() - timedelta(days=10)
    finished = support.write(db_session, doctor, p, factories.drug(db_session), start_at=start, duration_days=5)
    running = support.write(db_session, doctor, p, factories.drug(db_session, generic_name="ibuprofen",
                                                                  drug_class="nsaids"),
                            dose="400", duration_days=5)
    finished_id, running_id, patient_id, doctor_id = finished.id, running.id, p.id, doctor.id
    db_session.commit()
    assert run_periodic("complete-prescriptions") == "ok"
    doctor = db_session.get(User, doctor_id)
    medicines = prescribing.patient_medicines(db_session, doctor, patient_id)
    assert [r.id for r in medicines.current] == [running_id]
    assert [(r.id, r.status) for r in medicines.past] == [(finished_id, "completed")]
    assert [v.action for v in prescribing.versions(db_session, finished_id)] == ["prescribed", "completed"]
    assert run_periodic("complete-prescriptions") == "ok"
    assert len(prescribing.versions(db_session, finished_id)) == 2
