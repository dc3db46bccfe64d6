"""The doctor's pages: a patient's medicines, writing with live safety checks, changing and
stopping; nurses and pharmacists read only."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.security import SYSTEM
from app.domain.patients import services as patients
from app.domain.prescribing import verification
from app.domain.prescribing.models import Prescription, SafetyOverride
from tests import factories
from tests.domain.prescribing import support

FORM = {"dose": "500", "dose_unit": "mg", "frequency": "TID", "duration_days": "5", "priority": "routine"}


def _rx(db_session: Any, patient_id: int) -> list[Prescription]:
    return list(db_session.scalars(select(Prescription).where(Prescription.patient_id == patient_id)
                                   .order_by(Prescription.id)))


def test_the_doctor_prescribes_from_the_patients_medicines_page(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session, name="Amoxicillin 500 MG Oral Tablet Test")
    db_session.commit()
    login_as("doctor")
    page = client.get(f"/prescribing/patients/{p.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "New prescription" in html and p.mrn in html and "Amoxicillin 500 MG Oral Tablet Test" in html
    saved = client.post_form(f"/prescribing/patients/{p.id}/prescriptions", {**FORM, "drug_id": drug.id}, htmx=True)
    assert saved.status_code == 200 and saved.headers["HX-Redirect"].endswith(f"/prescribing/patients/{p.id}")
    [rx] = _rx(db_session, p.id)
    assert (rx.status, rx.verification, rx.frequency, rx.quantity) == ("active", "pending", "TID", 15)
    listed = client.get(f"/prescribing/patients/{p.id}").get_data(as_text=True)
    assert rx.number in listed and "pending" in listed


def test_impossible_input_is_422_beside_the_fields(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    db_session.commit()
    login_as("doctor")
    for changes, field in [({"dose": "-5"}, "dose"), ({"dose": "NaN"}, "dose"), ({"dose": "five"}, "dose"),
                           ({"frequency": "Q5MIN"}, "frequency"), ({"duration_days": "0"}, "duration_days"),
                           ({"duration_days": "", "start": "2026-05-10T09:00", "stop": "2026-05-01T09:00"}, "stop"),
                           ({"duration_days": "x"}, "duration_days"), ({"dose_unit": "puff"}, "dose_unit"),
                           ({"frequency": "PRN", "quantity": "10"}, "prn_min_interval_minutes")]:
        response = client.post_form(f"/prescribing/patients/{p.id}/prescriptions",
                                    {**FORM, "drug_id": drug.id, **changes}, htmx=True)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (changes, response.status_code)
        assert f'id="{field}-error"' in html, (changes, field)
    assert _rx(db_session, p.id) == []


def test_safety_warnings_show_live_and_saving_needs_a_reason_each(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    patients.record_allergy(db_session, SYSTEM, p.id, "Penicillin", severity="severe")
    drug = factories.drug(db_session)
    db_session.commit()
    login_as("doctor")
    live = client.get_htmx(f"/prescribing/patients/{p.id}/safety?drug_id={drug.id}&dose=2000&dose_unit=mg&frequency=TID")
    html = live.get_data(as_text=True)
    assert live.status_code == 200 and 'id="safety-panel"' in html
    assert "Recorded allergy to Penicillin" in html and "above the maximum" in html
    assert 'name="override_allergy"' in html and 'name="override_max_dose"' in html
    quiet = client.get_htmx(f"/prescribing/patients/{p.id}/safety?drug_id={drug.id}&dose=500&dose_unit=mg&frequency=TID")
    assert "above the maximum" not in quiet.get_data(as_text=True)
    refused = client.post_form(f"/prescribing/patients/{p.id}/prescriptions",
                               {**FORM, "drug_id": drug.id, "dose": "2000"}, htmx=True)
    assert refused.status_code == 422 and 'id="override_allergy-error"' in refused.get_data(as_text=True)
    assert _rx(db_session, p.id) == []
    saved = client.post_form(f"/prescribing/patients/{p.id}/prescriptions",
                             {**FORM, "drug_id": drug.id, "dose": "2000", "override_allergy": "Tolerated before",
                              "override_max_dose": "Endocarditis dosing"}, htmx=True)
    assert saved.status_code == 200
    [rx] = _rx(db_session, p.id)
    assert {o.check for o in db_session.scalars(select(SafetyOverride).where(
        SafetyOverride.prescription_id == rx.id))} == {"allergy", "max_dose"}


def test_picking_a_drug_fills_its_defaults(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session, default_dose=250, default_frequency="QID", route="oral")
    db_session.commit()
    login_as("doctor")
    response = client.get_htmx(f"/prescribing/patients/{p.id}/new-form?picked=1&drug_id={drug.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith('<form id="rx-form"')
    assert re.search(r'id="dose"[^>]*value="250"', html)
    assert re.search(r'<option selected value="QID">|<option value="QID" selected>', html)


def test_detail_shows_history_and_the_doctor_holds_and_stops(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    doctor = login_as("doctor")
    rx = support.write(db_session, doctor, p, drug)
    db_session.commit()
    page = client.get(f"/prescribing/prescriptions/{rx.id}").get_data(as_text=True)
    assert rx.number in page and "prescribed" in page and 'id="action-held"' in page
    no_reason = client.post_form(f"/prescribing/prescriptions/{rx.id}/status",
                                 {"action": "held", "version": rx.version, "reason": ""}, htmx=True)
    assert no_reason.status_code == 422 and "Give the reason" in no_reason.get_data(as_text=True)
    held = client.post_form(f"/prescribing/prescriptions/{rx.id}/status",
                            {"action": "held", "version": rx.version, "reason": "Nil by mouth"}, htmx=True)
    assert held.status_code == 200
    db_session.refresh(rx)
    assert rx.status == "on-hold"
    stale = client.post_form(f"/prescribing/prescriptions/{rx.id}/status",
                             {"action": "stopped", "version": rx.version - 1, "reason": "x y z"}, htmx=True)
    assert stale.status_code == 409
    history = client.get(f"/prescribing/prescriptions/{rx.id}").get_data(as_text=True)
    assert "Nil by mouth" in history and "on hold" in history


def test_changing_a_verified_prescription_replaces_it(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    doctor = login_as("doctor")
    rx = support.write(db_session, doctor, p, drug)
    verification.verify(db_session, support.user(db_session, "pharmacist"), rx.id, rx.version)
    db_session.commit()
    form = client.get(f"/prescribing/prescriptions/{rx.id}/change")
    assert form.status_code == 200 and "stops it and writes a new one" in form.get_data(as_text=True)
    # The replacement carries on the course: it stops when the original would have.
    assert rx.duration_days
    end = clock.to_local(rx.start_at + timedelta(days=rx.duration_days), "Europe/London")
    assert f'value="{end:%Y-%m-%dT%H:%M}"' in form.get_data(as_text=True)
    data = {**FORM, "drug_id": drug.id, "dose": "250", "version": rx.version}
    missing_reason = client.post_form(f"/prescribing/prescriptions/{rx.id}/change", data, htmx=True)
    assert missing_reason.status_code == 422 and 'id="reason-error"' in missing_reason.get_data(as_text=True)
    changed = client.post_form(f"/prescribing/prescriptions/{rx.id}/change", {**data, "reason": "Lower dose"},
                               htmx=True)
    assert changed.status_code == 200
    old, new = _rx(db_session, p.id)
    assert old.status == "stopped" and new.replaces_id == old.id and new.verification == "pending"
    assert changed.headers["HX-Redirect"].endswith(f"/prescribing/prescriptions/{new.id}")


def test_the_prescriber_answers_a_query(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    doctor = login_as("doctor")
    rx = support.write(db_session, doctor, p, factories.drug(db_session))
    verification.query(db_session, support.user(db_session, "pharmacist"), rx.id, rx.version, "Weight?")
    db_session.commit()
    page = client.get(f"/prescribing/prescriptions/{rx.id}").get_data(as_text=True)
    assert "Weight?" in page and 'id="answer-form"' in page
    answered = client.post_form(f"/prescribing/prescriptions/{rx.id}/answer",
                                {"version": rx.version, "answer": "72 kg"}, htmx=True)
    assert answered.status_code == 200
    db_session.refresh(rx)
    assert rx.verification == "pending"


def test_nurses_read_only_on_their_ward_and_cannot_prescribe(client: Any, db_session: Any, login_as: Any) -> None:
    ward = factories.ward(db_session)
    p = factories.admitted(db_session, ward)
    other = factories.patient(db_session)
    drug = factories.drug(db_session)
    rx = support.write(db_session, support.user(db_session, "doctor"), p, drug)
    db_session.commit()
    login_as("nurse", ward_ids=[ward.id])
    page = client.get(f"/prescribing/patients/{p.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and rx.number in html and "New prescription" not in html
    assert client.get(f"/prescribing/patients/{other.id}").status_code == 403
    assert client.post_form(f"/prescribing/patients/{p.id}/prescriptions", {**FORM, "drug_id": drug.id}).status_code == 403
    assert 'id="action-held"' not in client.get(f"/prescribing/prescriptions/{rx.id}").get_data(as_text=True)


def test_the_chart_links_to_medicines(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    db_session.commit()
    login_as("doctor")
    assert 'id="medicines-link"' in client.get(f"/patients/{p.id}").get_data(as_text=True)
    client.post_form("/logout")
    login_as("reception")
    assert 'id="medicines-link"' not in client.get(f"/patients/{p.id}").get_data(as_text=True)


def test_the_form_and_safety_addresses_opened_without_htmx_lead_to_their_page(
        client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    doctor = login_as("doctor")
    rx = support.write(db_session, doctor, p, drug)
    db_session.commit()
    for url in (f"/prescribing/patients/{p.id}/safety?drug_id={drug.id}&dose=500&dose_unit=mg&frequency=TID",
                f"/prescribing/patients/{p.id}/new-form?picked=1&drug_id={drug.id}"):
        response = client.get(url)
        assert response.status_code == 303, url
        assert response.headers["Location"].endswith(f"/prescribing/patients/{p.id}")
        page = client.get(response.headers["Location"])
        assert page.status_code == 200 and "New prescription" in page.get_data(as_text=True)
    changing = client.get(f"/prescribing/patients/{p.id}/new-form?replacing={rx.id}")
    assert changing.status_code == 303
    assert changing.headers["Location"].endswith(f"/prescribing/prescriptions/{rx.id}/change")


def test_a_junk_replacing_id_is_ignored_not_an_error(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    db_session.commit()
    login_as("doctor")
    for junk in ("99999999999999999999", "-1", "x", "²"):
        query = f"drug_id={drug.id}&dose=2000&dose_unit=mg&frequency=TID&replacing={junk}"
        live = client.get_htmx(f"/prescribing/patients/{p.id}/safety?{query}")
        assert live.status_code == 200 and "above the maximum" in live.get_data(as_text=True), junk
        form = client.get_htmx(f"/prescribing/patients/{p.id}/new-form?{query}")
        html = form.get_data(as_text=True)
        assert form.status_code == 200 and html.lstrip().startswith('<form id="rx-form"'), junk
        assert ">Prescribe</button>" in html


def test_forms_with_a_junk_version_are_out_of_date(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    doctor = login_as("doctor")
    rx = support.write(db_session, doctor, p, drug)
    verification.query(db_session, support.user(db_session, "pharmacist"), rx.id, rx.version, "Weight?")
    db_session.commit()
    for version in ("x", "", "99999999999999999999"):
        held = client.post_form(f"/prescribing/prescriptions/{rx.id}/status",
                                {"action": "held", "version": version, "reason": "Nil by mouth"}, htmx=True)
        answered = client.post_form(f"/prescribing/prescriptions/{rx.id}/answer",
                                    {"version": version, "answer": "72 kg"}, htmx=True)
        changed = client.post_form(f"/prescribing/prescriptions/{rx.id}/change",
                                   {**FORM, "drug_id": drug.id, "dose": "250", "version": version}, htmx=True)
        for response in (held, answered, changed):
            assert response.status_code == 409, (version, response.request.path)
            assert "out of date" in response.get_data(as_text=True)
    db_session.refresh(rx)
    assert (rx.status, rx.verification, rx.dose) == ("active", "queried", 500)


def test_a_dose_in_a_unit_the_maximum_cannot_check_is_refused(client: Any, db_session: Any, login_as: Any) -> None:
    p = factories.patient(db_session)
    drug = factories.drug(db_session, dose_per_stock_unit=None)
    db_session.commit()
    login_as("doctor")
    form = client.get_htmx(f"/prescribing/patients/{p.id}/new-form?picked=1&drug_id={drug.id}").get_data(as_text=True)
    assert 'value="mg"' in form and 'value="tablet"' not in form
    refused = client.post_form(f"/prescribing/patients/{p.id}/prescriptions",
                               {**FORM, "drug_id": drug.id, "dose": "1000", "dose_unit": "tablet"}, htmx=True)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="dose_unit-error"' in html
    assert "cannot be checked against this drug" in html
    assert _rx(db_session, p.id) == []
