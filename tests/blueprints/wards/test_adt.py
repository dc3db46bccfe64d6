"""The ADT pages: admitting (search, form, refusals beside their fields), the inpatient page
and its actions (transfer, discharge order, discharge, cancels, nurse), stale forms (409) and
ward scope (403)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.domain.admissions import adt
from app.domain.admissions.models import Encounter
from app.domain.facilities.models import Bed
from tests import factories


def _beds(ward: Any) -> list[int]:
    return [b.id for r in ward.rooms for b in r.beds]


def _state(session: Any, bed_id: int) -> str:
    return session.scalar(select(Bed.state).where(Bed.id == bed_id))


def test_admitting_from_search_to_the_inpatient_page(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=2, name="Acute Medical")
    doctor = factories.staff(db_session, "doctor", name="Dr Dara Doctor")
    patient = factories.patient(db_session, family="Okonkwo", given="Chinwe")
    nurse = login_as("nurse", [ward.id])
    page = client.get(f"/wards/admit?ward_id={ward.id}")
    assert page.status_code == 200 and 'id="admit-q"' in page.get_data(as_text=True)
    found = client.get_htmx(f"/wards/admit/candidates?q={patient.mrn}&ward_id={ward.id}")
    body = found.get_data(as_text=True)
    assert found.status_code == 200 and "OKONKWO" in body and f"patient_id={patient.id}" in body
    form = client.get(f"/wards/admit?patient_id={patient.id}&ward_id={ward.id}")
    assert "OKONKWO" in form.get_data(as_text=True) and "Dr Dara Doctor" in form.get_data(as_text=True)
    bed = _beds(ward)[1]
    done = client.post_form("/wards/admit", {
        "patient_id": patient.id, "bed_id": bed, "source": "emergency", "attending_id": doctor.id,
        "diagnosis": "Sepsis, urinary source", "expected_discharge_on": "", "nurse_id": nurse.id}, htmx=True)
    assert done.status_code == 200, done.get_data(as_text=True)
    e = db_session.scalar(select(Encounter).where(Encounter.patient_id == patient.id))
    assert done.headers["HX-Redirect"] == f"/wards/encounters/{e.id}"
    assert (e.bed_id, e.admit_source, e.nurse_id) == (bed, "emergency", nurse.id)
    shown = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert "Sepsis, urinary source" in shown and "Dr Dara Doctor" in shown and patient.mrn in shown
    assert 'id="adt-history"' in shown
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.chart_opened",
                                                      AuditEvent.patient_id == patient.id)) is not None


def test_a_mistyped_mrn_is_a_422_beside_the_box(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session)
    mrn = factories.patient(db_session).mrn
    wrong = mrn[:-1] + str((int(mrn[-1]) + 1) % 10)  # the check digit no longer matches
    login_as("nurse", [ward.id])
    reply = client.get_htmx(f"/wards/admit/candidates?q={wrong}")
    assert reply.status_code == 422 and 'id="candidates-problem"' in reply.get_data(as_text=True)


def test_admit_form_refusals_are_422_next_to_their_fields(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=2)
    doctor = factories.staff(db_session, "doctor")
    patient = factories.patient(db_session)
    db_session.commit()
    login_as("nurse", [ward.id])
    bed = _beds(ward)[0]
    missing = client.post_form("/wards/admit", {"patient_id": patient.id, "bed_id": bed, "source": "direct",
                                                "attending_id": "", "diagnosis": ""}, htmx=True)
    body = missing.get_data(as_text=True)
    assert missing.status_code == 422
    assert "Give the working diagnosis." in body and "Choose the attending doctor." in body
    past = (clock.hospital_today() - timedelta(days=2)).isoformat()
    late = client.post_form("/wards/admit", {"patient_id": patient.id, "bed_id": bed, "source": "direct",
                                             "attending_id": doctor.id, "diagnosis": "Falls",
                                             "expected_discharge_on": past}, htmx=True)
    assert late.status_code == 422
    assert "cannot be in the past" in late.get_data(as_text=True)
    assert 'id="expected_discharge_on-error"' in late.get_data(as_text=True)
    assert _state(db_session, bed) == "available"


def test_admitting_to_a_taken_bed_is_a_409(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    factories.admitted(db_session, ward)
    doctor = factories.staff(db_session, "doctor")
    other = factories.patient(db_session, family="B")
    db_session.commit()
    login_as("nurse", [ward.id])
    reply = client.post_form("/wards/admit", {"patient_id": other.id,
                                              "bed_id": _beds(ward)[0], "source": "direct",
                                              "attending_id": doctor.id, "diagnosis": "Falls"}, htmx=True)
    assert reply.status_code == 409 and "not available" in reply.get_data(as_text=True)


def test_a_nurse_of_another_ward_can_neither_see_nor_admit(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=2)
    mine = factories.ward(db_session, beds=1)
    patient = factories.admitted(db_session, ward)
    e = db_session.scalar(select(Encounter).where(Encounter.patient_id == patient.id))
    doctor = factories.staff(db_session, "doctor")
    login_as("nurse", [mine.id])
    assert client.get(f"/wards/{ward.id}").status_code == 403
    assert client.get(f"/wards/encounters/{e.id}").status_code == 403
    assert client.get(f"/wards/beds/{_beds(ward)[1]}").status_code == 403
    other = factories.patient(db_session, family="Other")
    db_session.commit()
    reply = client.post_form("/wards/admit", {"patient_id": other.id, "bed_id": _beds(ward)[1],
                                              "source": "direct", "attending_id": doctor.id,
                                              "diagnosis": "Falls"}, htmx=True)
    assert reply.status_code == 403
    assert _state(db_session, _beds(ward)[1]) == "available"
    assert client.post_form(f"/wards/encounters/{e.id}/transfer",
                            {"version": e.version, "bed_id": _beds(mine)[0]}).status_code == 403


def test_housekeeping_cannot_open_the_board_or_a_patient(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session)
    patient = factories.admitted(db_session, ward)
    e = db_session.scalar(select(Encounter).where(Encounter.patient_id == patient.id))
    login_as("housekeeping")
    assert client.get(f"/wards/{ward.id}").status_code == 403
    assert client.get(f"/wards/encounters/{e.id}").status_code == 403
    assert client.get("/wards/census").status_code == 403


def _admitted(db_session: Any, ward: Any) -> Encounter:
    """An admitted patient, committed (a refused form rolls back what was not)."""
    patient = factories.admitted(db_session, ward)
    e = db_session.scalar(select(Encounter).where(Encounter.patient_id == patient.id))
    assert e is not None
    db_session.commit()
    return e


def test_transfer_then_cancel_it_from_the_page(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=3)
    e = _admitted(db_session, ward)
    a, b = e.bed_id, _beds(ward)[2]
    login_as("nurse", [ward.id])
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert 'id="transfer-form"' in page and 'id="cancel-admission-form"' in page
    moved = client.post_form(f"/wards/encounters/{e.id}/transfer", {"version": e.version, "bed_id": b}, htmx=True)
    assert moved.status_code == 200 and moved.headers["HX-Redirect"] == f"/wards/encounters/{e.id}"
    db_session.refresh(e)
    assert e.bed_id == b and _state(db_session, a) == "cleaning"
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert 'id="cancel-transfer-form"' in page
    no_reason = client.post_form(f"/wards/encounters/{e.id}/cancel-transfer",
                                 {"cancel_transfer-version": e.version, "cancel_transfer-reason": ""}, htmx=True)
    assert no_reason.status_code == 422 and "Give a reason." in no_reason.get_data(as_text=True)
    undone = client.post_form(f"/wards/encounters/{e.id}/cancel-transfer",
                              {"cancel_transfer-version": e.version, "cancel_transfer-reason": "Wrong bed"},
                              htmx=True)
    assert undone.status_code == 200, undone.get_data(as_text=True)
    db_session.refresh(e)
    assert e.bed_id == a and _state(db_session, b) == "available"


def test_a_stale_form_is_a_409_and_changes_nothing(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=3)
    e = _admitted(db_session, ward)
    opened = e.version
    charge = factories.staff(db_session, "charge_nurse", [ward.id])
    nurse = factories.staff(db_session, "nurse", [ward.id])
    adt.assign_nurse(db_session, charge, e.id, nurse.id)
    db_session.commit()
    login_as("nurse", [ward.id])
    reply = client.post_form(f"/wards/encounters/{e.id}/transfer",
                             {"version": opened, "bed_id": _beds(ward)[2]}, htmx=True)
    assert reply.status_code == 409 and "Someone else changed" in reply.get_data(as_text=True)
    junk = client.post_form(f"/wards/encounters/{e.id}/transfer", {"version": "x", "bed_id": _beds(ward)[2]},
                            htmx=True)
    assert junk.status_code == 409
    db_session.refresh(e)
    assert e.bed_id != _beds(ward)[2]


def test_doctor_orders_then_nurse_discharges_then_undoes_it(client: Any, login_as: Any, db_session: Any,
                                                            make_user: Any) -> None:
    from tests.conftest import login

    ward = factories.ward(db_session, beds=2)
    e = _admitted(db_session, ward)
    doctor = make_user("doctor")
    login(client, doctor.username)
    ordered = client.post_form(f"/wards/encounters/{e.id}/discharge-order",
                               {"version": e.version, "expected_on": clock.hospital_today().isoformat()}, htmx=True)
    assert ordered.status_code == 200, ordered.get_data(as_text=True)
    db_session.refresh(e)
    assert e.discharge_ordered_by_id == doctor.id and _state(db_session, e.bed_id) == "occupied"
    client.post_form("/logout")
    login_as("nurse", [ward.id])
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert 'id="discharge-ordered"' in page and 'id="order-form"' not in page  # ordering is a doctor's
    empty = client.post_form(f"/wards/encounters/{e.id}/discharge",
                             {"version": e.version, "disposition": "home", "summary": ""}, htmx=True)
    assert empty.status_code == 422 and "Write the discharge summary." in empty.get_data(as_text=True)
    gone = client.post_form(f"/wards/encounters/{e.id}/discharge",
                            {"version": e.version, "disposition": "home",
                             "summary": "Treated for pneumonia; home on oral amoxicillin."}, htmx=True)
    assert gone.status_code == 200 and gone.headers["HX-Redirect"] == f"/wards/{ward.id}"
    db_session.refresh(e)
    assert e.status == "finished" and _state(db_session, e.bed_id) == "cleaning"
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert "home on oral amoxicillin" in page and 'id="cancel-discharge-form"' in page
    back = client.post_form(f"/wards/encounters/{e.id}/cancel-discharge",
                            {"cancel_discharge-version": e.version, "cancel_discharge-reason": "Still here"},
                            htmx=True)
    assert back.status_code == 200, back.get_data(as_text=True)
    db_session.refresh(e)
    assert e.status == "in-progress" and _state(db_session, e.bed_id) == "occupied"


def test_cancel_admission_and_set_nurse_from_the_page(client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=2)
    e = _admitted(db_session, ward)
    colleague = factories.staff(db_session, "nurse", [ward.id], name="Nurse Colleague")
    login_as("charge_nurse", [ward.id])
    set_nurse = client.post_form(f"/wards/encounters/{e.id}/nurse", {"version": e.version,
                                                                     "nurse_id": colleague.id}, htmx=True)
    assert set_nurse.status_code == 200, set_nurse.get_data(as_text=True)
    db_session.refresh(e)
    assert e.nurse_id == colleague.id
    board = client.get(f"/wards/{ward.id}").get_data(as_text=True)
    assert "Nurse Colleague" in board
    cancelled = client.post_form(f"/wards/encounters/{e.id}/cancel-admission",
                                 {"cancel_admission-version": e.version, "cancel_admission-reason": "Wrong patient"},
                                 htmx=True)
    assert cancelled.status_code == 200 and cancelled.headers["HX-Redirect"] == f"/wards/{ward.id}"
    db_session.refresh(e)
    assert e.status == "cancelled" and _state(db_session, e.bed_id) == "available"


def test_the_encounter_page_links_to_the_other_ward_pages_that_exist(client: Any, login_as: Any,
                                                                     db_session: Any, app: Any) -> None:
    from flask import url_for

    from app.blueprints.wards.views import ENCOUNTER_LINKS

    ward = factories.ward(db_session)
    e = _admitted(db_session, ward)
    login_as("nurse", [ward.id])
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    present = [endpoint for endpoint, _ in ENCOUNTER_LINKS if endpoint in app.view_functions]
    with app.test_request_context():
        for endpoint in present:
            assert url_for(endpoint, encounter_id=e.id) in page, endpoint


def test_the_admission_search_and_form_do_not_say_where_a_patient_outside_scope_lies(
        client: Any, login_as: Any, db_session: Any) -> None:
    mine = factories.ward(db_session, beds=1, name="Acute Medical")
    theirs = factories.ward(db_session, beds=1, name="Oncology Ward")
    patient = factories.patient(db_session, family="Okafor", given="Ngozi")
    factories.admitted(db_session, theirs, patient)
    nurse = login_as("nurse", [mine.id])
    body = client.get_htmx(f"/wards/admit/candidates?q=Okafor&ward_id={mine.id}").get_data(as_text=True)
    assert "already admitted (another ward)" in body and "Oncology Ward" not in body
    form = client.get(f"/wards/admit?patient_id={patient.id}&ward_id={mine.id}").get_data(as_text=True)
    assert "already admitted (another ward)" in form and "Oncology Ward" not in form
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == nurse.id)))
    assert {"patient.admission_search", "patient.admission_lookup"} <= actions


def test_the_encounter_page_shows_earlier_summaries_and_closes_the_undo_after_the_window(
        app: Any, client: Any, login_as: Any, db_session: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    doctor = factories.staff(db_session, "doctor")
    patient = factories.patient(db_session)
    e = adt.admit(db_session, doctor, patient_id=patient.id, bed_id=_beds(ward)[0])
    adt.discharge(db_session, doctor, e.id, summary="The first summary.", disposition="home")
    adt.cancel_discharge(db_session, doctor, e.id, "Still here")
    adt.discharge(db_session, doctor, e.id, summary="The second summary.", disposition="home")
    db_session.commit()
    login_as("nurse", [ward.id])
    page = client.get(f"/wards/encounters/{e.id}").get_data(as_text=True)
    assert 'id="earlier-summaries"' in page and "The first summary." in page
    assert 'id="cancel-discharge-form"' in page
    app.config["DISCHARGE_UNDO_HOURS"] = 0  # the window has passed (a session would not last 25 h)
    try:
        assert client.get(f"/wards/encounters/{e.id}").status_code == 403
        client.post_form("/logout")
        login_as("doctor")
        reply = client.get(f"/wards/encounters/{e.id}")
        page = reply.get_data(as_text=True)
        assert reply.status_code == 200, page[-3000:]
        assert 'id="discharge-final"' in page and 'id="cancel-discharge-form"' not in page
    finally:
        app.config["DISCHARGE_UNDO_HOURS"] = 24


def _selected_bed(body: str) -> list[str]:
    import re

    select = re.search(r'<select[^>]*name="bed_id"[^>]*>(.*?)</select>', body, re.S)
    assert select is not None
    return re.findall(r'<option[^>]*selected[^>]*value="(\d+)"|<option[^>]*value="(\d+)"[^>]*selected', select.group(1))


def test_a_reserved_bed_is_admitted_to_through_search_pick_and_form(
        client: Any, login_as: Any, db_session: Any) -> None:
    """The board's Admit on a reserved bed: the reservation rides through the search, the
    patient's link and the form, and the admission uses it."""
    import html
    import re

    from app.domain.facilities import beds as bed_service
    from app.domain.facilities.models import BedReservation

    ward = factories.ward(db_session, beds=3, name="Acute Medical")
    doctor = factories.staff(db_session, "doctor", name="Dr Dara Doctor")
    patient = factories.patient(db_session, family="Okonkwo", given="Chinwe")
    waiting = factories.patient(db_session, family="Waiting", given="Will")
    nurse = login_as("nurse", [ward.id])
    anonymous, named, free = _beds(ward)
    r = bed_service.reserve_bed(db_session, nurse, anonymous, note="From ED cubicle 4")
    held = bed_service.reserve_bed(db_session, nurse, named, patient_id=waiting.id, note="Elective from clinic")
    db_session.commit()

    board = html.unescape(client.get(f"/wards/{ward.id}").get_data(as_text=True))
    link = f"/wards/admit?bed_id={anonymous}&reservation_id={r.id}"
    assert link in board
    search = client.get(link).get_data(as_text=True)
    assert f'name="reservation_id" value="{r.id}"' in search and f'name="bed_id" value="{anonymous}"' in search
    found = html.unescape(client.get_htmx(
        f"/wards/admit/candidates?q={patient.mrn}&bed_id={anonymous}&reservation_id={r.id}&search=1")
        .get_data(as_text=True))
    pick = re.search(r'href="(/wards/admit\?[^"]*patient_id=' + str(patient.id) + r'[^"]*)"', found)
    assert pick is not None and f"reservation_id={r.id}" in pick.group(1)
    form = client.get(pick.group(1)).get_data(as_text=True)
    hidden = re.search(r'<input[^>]*name="reservation_id"[^>]*>', form)
    assert "OKONKWO" in form and hidden is not None and f'value="{r.id}"' in hidden.group(0)
    assert [v for pair in _selected_bed(form) for v in pair if v] == [str(anonymous)]
    assert "reserved for WAITING" in html.unescape(form)  # the other reserved bed says whom it is for

    fields = {"patient_id": patient.id, "bed_id": anonymous, "source": "emergency", "attending_id": doctor.id,
              "diagnosis": "Sepsis", "reservation_id": r.id}
    done = client.post_form(f"/wards/admit?ward_id={ward.id}", fields, htmx=True)
    assert done.status_code == 200, done.get_data(as_text=True)
    e = db_session.scalar(select(Encounter).where(Encounter.patient_id == patient.id))
    assert done.headers["HX-Redirect"] == f"/wards/encounters/{e.id}" and e.bed_id == anonymous
    assert db_session.scalar(select(BedReservation.status).where(BedReservation.id == r.id)) == "used"

    # A reservation that names its patient opens the form for that patient.
    named_form = html.unescape(client.get(f"/wards/admit?bed_id={named}&reservation_id={held.id}")
                               .get_data(as_text=True))
    assert "WAITING" in named_form and f'name="patient_id" value="{waiting.id}"' in named_form
    assert [v for pair in _selected_bed(named_form) for v in pair if v] == [str(named)]

    # Anyone else: the form pre-selects the free bed, never the bed held for someone else;
    # choosing it anyway is refused, naming whom it is held for.
    other = factories.patient(db_session, family="Other")
    db_session.commit()
    plain = client.get(f"/wards/admit?ward_id={ward.id}&patient_id={other.id}").get_data(as_text=True)
    first = re.search(r'<select[^>]*name="bed_id"[^>]*>\s*<option[^>]*value="(\d+)"', plain)
    assert first is not None and first.group(1) == str(free) and not _selected_bed(plain)
    pointed = client.get(f"/wards/admit?bed_id={named}&patient_id={other.id}").get_data(as_text=True)
    assert not _selected_bed(pointed)
    refused = client.post_form("/wards/admit", {**fields, "patient_id": other.id, "bed_id": named,
                                                "reservation_id": ""}, htmx=True)
    body = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 409 and f"is reserved for {waiting.name}." in body
    assert _state(db_session, named) == "reserved"
