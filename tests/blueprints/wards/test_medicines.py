"""The medication round, the MAR chart, PRN doses, corrections and the MAR PDF, through the
pages a nurse uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.admissions.services import current_encounters
from tests import factories, pdf_tools
from tests.conftest import PASSWORD


def ward_with_patient(db_session: Any) -> tuple[Any, Any, Any, Any]:
    w = factories.ward(db_session, beds=3)
    p = factories.admitted(db_session, w, factories.patient(db_session, family="Okafor", given="Ada"))
    encounter = current_encounters(db_session, [p.id])[p.id]
    d = factories.drug(db_session)
    db_session.commit()
    return w, p, encounter, d


def due_dose(db_session: Any, encounter: Any, d: Any, **kw: Any) -> tuple[Any, Any]:
    """A prescription whose first dose is due right now (planned from an hour ago)."""
    now = clock.now()
    start = now - timedelta(minutes=10)
    kw.setdefault("frequency", "QD")
    rx = factories.inpatient_prescription(db_session, encounter.patient, d, start_at=start,
                                          duration_days=None, **kw)
    dose = ScheduledDose(prescription_id=rx.id, patient_id=rx.patient_id, encounter_id=encounter.id,
                         due_at=now - timedelta(minutes=5), status="due")
    db_session.add(dose)
    db_session.commit()
    return rx, dose


def test_round_lists_my_patients_doses_and_the_toggle_shows_the_ward(client: Any, db_session: Any,
                                                                      login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    due_dose(db_session, encounter, d)
    nurse = login_as("nurse", [w.id])
    page = client.get(f"/wards/{w.id}/medication-round")
    assert page.status_code == 200
    assert "Amoxicillin" not in page.get_data(as_text=True)  # not my patient yet
    assert client.get(f"/wards/{w.id}/medication-round?all=1").get_data(as_text=True).count(
        "Amoxicillin 500 MG Oral Tablet") == 1
    encounter.nurse_id = nurse.id
    db_session.commit()
    html = client.get(f"/wards/{w.id}/medication-round").get_data(as_text=True)
    assert "OKAFOR" in html.upper() and "Amoxicillin 500 MG Oral Tablet" in html


def test_nav_round_goes_to_the_nurses_ward(client: Any, db_session: Any, login_as: Any) -> None:
    w, *_ = ward_with_patient(db_session)
    login_as("nurse", [w.id])
    response = client.get("/wards/medication-round")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"/wards/{w.id}/medication-round")


def test_giving_a_dose_from_the_round(client: Any, db_session: Any, login_as: Any) -> None:
    w, p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    response = client.post_form(f"/wards/doses/{dose.id}/record",
                                {"outcome": "given", "wristband": p.mrn, "expected_status": "due"},
                                htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "Given at" in response.get_data(as_text=True)
    record = db_session.scalar(select(Administration).where(Administration.scheduled_dose_id == dose.id))
    assert record is not None and record.wristband_scanned
    again = client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"}, htmx=True)
    assert again.status_code == 409 and "already recorded" in again.get_data(as_text=True)


def test_held_without_a_reason_is_422_beside_the_reason(client: Any, db_session: Any,
                                                       login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    response = client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "held"}, htmx=True)
    assert response.status_code == 422
    assert "Say why the dose was held." in response.get_data(as_text=True)


def test_wrong_wristband_is_refused_in_the_row(client: Any, db_session: Any, login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    other = factories.patient(db_session, family="Else")
    db_session.commit()
    login_as("nurse", [w.id])
    response = client.post_form(f"/wards/doses/{dose.id}/record",
                                {"outcome": "given", "wristband": other.mrn}, htmx=True)
    assert response.status_code == 422 and "Wrong patient!" in response.get_data(as_text=True)
    assert db_session.get(ScheduledDose, dose.id).status == "due"


def test_controlled_drug_witness_checked_by_password(client: Any, db_session: Any, login_as: Any,
                                                      make_user: Any) -> None:
    w, _p, encounter, _ = ward_with_patient(db_session)
    cd = factories.drug(db_session, name="Oxycodone 5 MG Oral Tablet", controlled=True)
    _, dose = due_dose(db_session, encounter, cd)
    witness = make_user("charge_nurse", [w.id])
    login_as("nurse", [w.id])
    bad = client.post_form(f"/wards/doses/{dose.id}/record",
                           {"outcome": "given", "witness_username": witness.username,
                            "witness_password": "wrong"}, htmx=True)
    assert bad.status_code == 422 and "Witness not confirmed" in bad.get_data(as_text=True)
    good = client.post_form(f"/wards/doses/{dose.id}/record",
                            {"outcome": "given", "witness_username": witness.username,
                             "witness_password": PASSWORD}, htmx=True)
    assert good.status_code == 200, good.get_data(as_text=True)
    record = db_session.scalar(select(Administration).where(Administration.scheduled_dose_id == dose.id))
    assert record.witness_id == witness.id


def test_another_wards_nurse_gets_403(client: Any, db_session: Any, login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    other = factories.ward(db_session)
    db_session.commit()
    login_as("nurse", [other.id])
    assert client.get(f"/wards/{w.id}/medication-round").status_code == 403
    assert client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"},
                            htmx=True).status_code == 403
    assert client.get(f"/wards/encounters/{encounter.id}/medicines").status_code == 403
    assert client.get(f"/wards/encounters/{encounter.id}/mar.pdf").status_code == 403


def test_a_doctor_sees_the_chart_but_cannot_record(client: Any, db_session: Any, login_as: Any) -> None:
    _w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("doctor")
    assert client.get(f"/wards/encounters/{encounter.id}/medicines").status_code == 200
    assert client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"}).status_code == 403


def test_chart_shows_the_grid_and_prn_give_enforces_the_interval(client: Any, db_session: Any,
                                                                 login_as: Any) -> None:
    w, p, encounter, d = ward_with_patient(db_session)
    due_dose(db_session, encounter, d)
    para = factories.drug(db_session, name="Paracetamol 500 MG Oral Tablet", generic_name="paracetamol",
                          drug_class=None)
    rx = factories.inpatient_prescription(db_session, p, para, frequency="PRN", prn=True, dose=1000,
                                          prn_min_interval_minutes=240, prn_max_daily_doses=4,
                                          start_at=clock.now() - timedelta(days=1), duration_days=None)
    db_session.commit()
    login_as("nurse", [w.id])
    html = client.get(f"/wards/encounters/{encounter.id}/medicines").get_data(as_text=True)
    assert 'id="mar-grid"' in html and "Amoxicillin 500 MG Oral Tablet" in html
    assert client.get(f"/wards/encounters/{encounter.id}/medicines?view=week").status_code == 200
    first = client.post_form(f"/wards/encounters/{encounter.id}/prescriptions/{rx.id}/prn",
                             {"dose": "1000", "reason": "Pain 6/10"}, htmx=True)
    assert first.status_code == 200, first.get_data(as_text=True)
    second = client.post_form(f"/wards/encounters/{encounter.id}/prescriptions/{rx.id}/prn",
                              {"dose": "1000"}, htmx=True)
    assert second.status_code == 422
    assert "At least 240 minutes must pass between doses" in second.get_data(as_text=True)


def test_entered_in_error_from_the_chart(client: Any, db_session: Any, login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"}, htmx=True)
    record = db_session.scalar(select(Administration).where(Administration.scheduled_dose_id == dose.id))
    empty = client.post_form(f"/wards/administrations/{record.id}/entered-in-error", {"reason": ""},
                             htmx=True)
    assert empty.status_code == 422
    done = client.post_form(f"/wards/administrations/{record.id}/entered-in-error",
                            {"reason": "Wrong chart"}, htmx=True)
    assert done.status_code == 200 and "Entered in error" in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(ScheduledDose, dose.id).status == "due"


def test_mar_pdf_is_a_real_pdf_with_the_patient_and_drug(client: Any, db_session: Any,
                                                         login_as: Any) -> None:
    w, p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"}, htmx=True)
    response = client.get(f"/wards/encounters/{encounter.id}/mar.pdf?view=week")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_tools.text(response.data)
    assert "OKAFOR" in text.upper() and "Amoxicillin 500 MG Oral Tablet" in text and p.mrn in text
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "print.mar")) is not None


def test_prn_form_for_another_stays_prescription_is_404(client: Any, db_session: Any,
                                                        login_as: Any) -> None:
    w, p, _encounter, d = ward_with_patient(db_session)
    rx = factories.inpatient_prescription(db_session, p, d, frequency="PRN", prn=True,
                                          prn_min_interval_minutes=60, prn_max_daily_doses=4)
    other_w, _, other_encounter, _ = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.id, other_w.id])
    response = client.post_form(f"/wards/encounters/{other_encounter.id}/prescriptions/{rx.id}/prn", {})
    assert response.status_code == 404
