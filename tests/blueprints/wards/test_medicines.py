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
    # The recorded row still leads to the patient's chart.
    assert f'href="/wards/encounters/{encounter.id}/medicines"' in response.get_data(as_text=True)
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


# --- review fixes ---------------------------------------------------------------------------

def test_an_overflowing_time_is_refused_beside_its_field(client: Any, db_session: Any, login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    response = client.post_form(f"/wards/doses/{dose.id}/record",
                                {"outcome": "given", "occurred_at": "99999999999999999999:00"}, htmx=True)
    assert response.status_code == 422
    assert 'role="alert">Give the time as HH:MM (24-hour clock).' in response.get_data(as_text=True)
    assert db_session.scalar(select(Administration)) is None


def test_a_night_shift_time_after_midnight_means_last_night(client: Any, db_session: Any,
                                                            login_as: Any) -> None:
    from datetime import UTC, datetime

    w, _p, encounter, d = ward_with_patient(db_session)
    encounter.started_at = datetime(2026, 6, 1, tzinfo=UTC)
    rx = factories.inpatient_prescription(db_session, encounter.patient, d, start_at=encounter.started_at,
                                          duration_days=None, frequency="QD")
    due = datetime(2026, 6, 10, 22, 45, tzinfo=UTC)  # 23:45 BST
    dose = ScheduledDose(prescription_id=rx.id, patient_id=rx.patient_id, encounter_id=encounter.id,
                         due_at=due, status="due")
    db_session.add(dose)
    db_session.commit()
    login_as("nurse", [w.id])
    with clock.freeze(datetime(2026, 6, 10, 23, 10, tzinfo=UTC)):  # 00:10 BST, the next day
        response = client.post_form(f"/wards/doses/{dose.id}/record",
                                    {"outcome": "given", "occurred_at": "23:50"}, htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    record = db_session.scalar(select(Administration).where(Administration.scheduled_dose_id == dose.id))
    assert record is not None and record.occurred_at == datetime(2026, 6, 10, 22, 50, tzinfo=UTC)


def test_entered_in_error_without_a_reason_is_refused_beside_the_reason(client: Any, db_session: Any,
                                                                         login_as: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    client.post_form(f"/wards/doses/{dose.id}/record", {"outcome": "given"}, htmx=True)
    record = db_session.scalar(select(Administration).where(Administration.scheduled_dose_id == dose.id))
    response = client.post_form(f"/wards/administrations/{record.id}/entered-in-error", {"reason": ""},
                                htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and "HX-Retarget" not in response.headers
    assert (f'id="eie-reason-{record.id}-error">Say why this record is wrong.</div>' in body)
    assert 'class="alert alert-danger' not in body  # not a flash
    db_session.refresh(record)
    assert record.status == "completed"


def test_the_chart_reads_prn_limits_in_a_fixed_number_of_queries(app: Any, client: Any, db_session: Any,
                                                                 login_as: Any) -> None:
    from sqlalchemy import event

    from app.domain.patients.models import Patient
    from app.extensions import db

    w, p, encounter, _d = ward_with_patient(db_session)
    pid, eid = p.id, encounter.id
    login_as("nurse", [w.id])

    def prn() -> None:
        patient = db_session.get(Patient, pid)
        factories.inpatient_prescription(db_session, patient, factories.drug(db_session), frequency="PRN",
                                         prn=True, prn_min_interval_minutes=60, prn_max_daily_doses=4,
                                         start_at=clock.now() - timedelta(hours=1), duration_days=None)
        db_session.commit()

    def count() -> int:
        statements: list[str] = []

        def seen(*args: Any) -> None:
            statements.append(args[2])

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", seen)
        try:
            assert client.get_htmx(f"/wards/encounters/{eid}/medicines").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        return len(statements)

    prn()
    one = count()
    for _ in range(4):
        prn()
    assert count() == one


def test_a_round_row_refetches_alone_and_names_who_recorded_it(client: Any, db_session: Any,
                                                              login_as: Any, make_user: Any) -> None:
    w, _p, encounter, d = ward_with_patient(db_session)
    _, dose = due_dose(db_session, encounter, d)
    login_as("nurse", [w.id])
    page = client.get(f"/wards/{w.id}/medication-round?all=1").get_data(as_text=True)
    assert f'data-watch-ward="{w.id}"' in page
    assert (f'hx-get="/wards/doses/{dose.id}/round-row" hx-trigger="dose-recorded-{dose.id} from:body"'
            in page)
    other = make_user("nurse", [w.id])
    from app.domain.administration import services

    services.record_dose(db_session, other, dose.id, "given")
    db_session.commit()
    row = client.get_htmx(f"/wards/doses/{dose.id}/round-row")
    body = row.get_data(as_text=True)
    assert row.status_code == 200 and body.lstrip().startswith("<article")
    assert f"by {other.full_name}" in body and "<form" not in body


def test_a_correction_and_a_replan_refresh_the_patients_bed_card(app: Any, client: Any, db_session: Any,
                                                                 login_as: Any) -> None:
    import time

    from app.domain.administration import planning, services
    from app.extensions import socketio

    w, _p, encounter, d = ward_with_patient(db_session)
    rx, dose = due_dose(db_session, encounter, d)
    nurse = login_as("nurse", [w.id])
    adm = services.record_dose(db_session, nurse, dose.id, "given")
    db_session.commit()
    bed_id, eid = encounter.bed_id, encounter.id
    previous = socketio.server
    socketio.server = app.extensions["infirmary_socketio_server"]
    try:
        sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
        assert sio.emit("watch_ward", {"ward_id": w.id}, namespace="/live", callback=True) == {"ok": True}
        sio.get_received("/live")

        def beds(wait: float = 2.0) -> list[dict[str, Any]]:
            deadline = time.monotonic() + wait
            got: list[dict[str, Any]] = []
            while not got and time.monotonic() < deadline:
                got = [m["args"][0] for m in sio.get_received("/live")
                       if m["name"] == "event" and m["args"][0]["type"] == "bed.updated"]
                time.sleep(0.05)
            return got

        services.mark_entered_in_error(db_session, nurse, adm.id, "Wrong patient's chart")
        db_session.commit()
        assert beds() == [{"type": "bed.updated", "id": bed_id, "ward_id": w.id}]
        planning.reconcile_prescription(db_session, rx.id, "verified")  # plans the days ahead
        db_session.commit()
        assert [e["id"] for e in beds()] == [bed_id]
        rx.status = "stopped"
        db_session.flush()
        planning.reconcile_prescription(db_session, rx.id, "stopped")  # withdraws them
        db_session.commit()
        assert [e["id"] for e in beds()] == [bed_id] and eid
        sio.disconnect("/live")
    finally:
        socketio.server = previous
