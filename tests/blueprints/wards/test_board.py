"""The bed boards: the hospital's (counts per state, the free-bed finder), a ward's live board
(each bed's state; an occupied bed's patient, NEWS2 and colour, late obs and doses, alerts,
nurse, expected discharge), the cleaning list (no names), the census, and the live pushes."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.core import clock
from app.core.security import SYSTEM
from app.domain.administration.models import ScheduledDose
from app.domain.administration.services import board_counts
from app.domain.admissions import adt
from app.domain.admissions.models import Encounter
from app.domain.escalation.services import open_alerts
from app.domain.facilities import beds
from app.domain.observations import rules as obs_rules
from app.domain.observations.services import record_vitals
from app.extensions import socketio
from tests import factories
from tests.conftest import live_events, login

HIGH = obs_rules.VitalsInput(respiratory_rate=25, spo2=91, air_or_oxygen="air", systolic=120, diastolic=80,
                             pulse=95, consciousness="A", temperature=Decimal("38.5"))
NORMAL = obs_rules.VitalsInput(respiratory_rate=16, spo2=97, air_or_oxygen="air", systolic=120, diastolic=80,
                               pulse=70, consciousness="A", temperature=Decimal("37.0"))
PARTIAL = obs_rules.VitalsInput(respiratory_rate=16, spo2=97, air_or_oxygen="air", pulse=70,
                                consciousness="A", temperature=Decimal("37.0"))


def _card(html: str, bed_id: int) -> str:
    match = re.search(rf'<article [^>]*id="bed-{bed_id}".*?</article>', html, re.S)
    assert match, f"no card for bed {bed_id}"
    return match.group(0)


def _stay(session: Any, ward: Any, bed_index: int, family: str) -> Encounter:
    bed = [b for r in ward.rooms for b in r.beds][bed_index]
    return adt.admit(session, SYSTEM, patient_id=factories.patient(session, family=family).id, bed_id=bed.id,
                     source="emergency")


@pytest.fixture()
def ward_scene(db_session: Any) -> dict[str, Any]:
    """Six beds: high NEWS2, normal, incomplete, no obs yet, cleaning, out of service; and one
    reserved and one available."""
    ward = factories.ward(db_session, beds=8, name="Acute Medical")
    nurse = factories.staff(db_session, "nurse", [ward.id], name="Nurse Nightingale")
    bed_ids = [b.id for r in ward.rooms for b in r.beds]
    high = _stay(db_session, ward, 0, "High")
    normal = _stay(db_session, ward, 1, "Normal")
    partial = _stay(db_session, ward, 2, "Partial")
    with clock.freeze(clock.now() - timedelta(hours=2)):  # admitted 2 h ago, no set since: late
        fresh = _stay(db_session, ward, 3, "Fresh")
    adt.assign_nurse(db_session, SYSTEM, normal.id, nurse.id)
    normal.expected_discharge_on = clock.hospital_today()
    record_vitals(db_session, SYSTEM, high.id, HIGH)
    record_vitals(db_session, SYSTEM, normal.id, NORMAL)
    record_vitals(db_session, SYSTEM, partial.id, PARTIAL)
    gone = _stay(db_session, ward, 4, "Gone")
    adt.discharge(db_session, SYSTEM, gone.id, summary="Home.", disposition="home")
    beds.take_out_of_service(db_session, SYSTEM, bed_ids[5], "Broken bed rail")
    beds.reserve_bed(db_session, SYSTEM, bed_ids[6], note="From ED cubicle 4")
    db_session.commit()
    return {"ward": ward, "beds": bed_ids, "high": high, "normal": normal, "partial": partial, "fresh": fresh}


def test_the_board_shows_every_bed_and_what_matters_for_each_patient(
        client: Any, login_as: Any, db_session: Any, ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    login_as("nurse", [s["ward"].id])
    page = client.get(f"/wards/{s['ward'].id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    high = _card(html, s["beds"][0])
    assert "HIGH" in high and 'data-news2="8"' in high and "news2-high" in high and "bed-attention" in high
    alerts = open_alerts(db_session, [s["high"].id])[s["high"].id]
    assert alerts and f'data-count="{len(alerts)}"' in high
    normal = _card(html, s["beds"][1])
    assert 'data-news2="0"' in normal and "news2-low" in normal and "Nurse Nightingale" in normal
    assert 'class="bed-expected">today<' in normal
    assert 'data-news2="incomplete"' in _card(html, s["beds"][2])
    fresh = _card(html, s["beds"][3])
    assert 'data-news2="none"' in fresh and "obs overdue" in fresh
    assert 'data-state="cleaning"' in _card(html, s["beds"][4]) and "Mark clean" in _card(html, s["beds"][4])
    closed = _card(html, s["beds"][5])
    assert "out of service" in closed and "Broken bed rail" in closed
    assert "From ED cubicle 4" in _card(html, s["beds"][6])
    assert "Admit here" in _card(html, s["beds"][7])
    assert 'data-state="occupied"' in html and re.search(r'occupied <strong>4</strong>', html)


def test_overdue_doses_show_on_the_patients_card(client: Any, login_as: Any, db_session: Any,
                                                 ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    patient_id = s["normal"].patient_id
    rx = factories.inpatient_prescription(db_session, db_session.get(type(s["normal"].patient), patient_id),
                                          factories.drug(db_session))
    now = clock.now()
    db_session.add(ScheduledDose(prescription_id=rx.id, patient_id=patient_id, encounter_id=s["normal"].id,
                                 due_at=now - timedelta(hours=3), status="due"))
    db_session.commit()
    counts = board_counts(db_session, [s["normal"].id], now)[s["normal"].id]
    assert counts.overdue >= 1
    login_as("nurse", [s["ward"].id])
    card = _card(client.get(f"/wards/{s['ward'].id}").get_data(as_text=True), s["beds"][1])
    assert f'class="badge text-bg-danger doses-overdue" data-count="{counts.overdue}"' in card


def test_a_live_refetch_gets_the_beds_alone(client: Any, login_as: Any, ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    login_as("charge_nurse", [s["ward"].id])
    fragment = client.get_htmx(f"/wards/{s['ward'].id}")
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith(f'<div class="bed-grid" id="ward-{s["ward"].id}-beds"')
    assert 'hx-trigger="bed-updated from:body, alert-updated from:body"' in body
    assert "<html" not in body and fragment.headers.get("Vary", "").find("HX-Request") >= 0


def test_the_board_reads_in_a_fixed_number_of_queries(client: Any, login_as: Any, db_session: Any,
                                                      ward_scene: dict[str, Any], app: Any) -> None:
    """Doubling the patients does not add a query per bed (the board re-renders on every event)."""
    from sqlalchemy import event

    s = ward_scene
    login_as("nurse", [s["ward"].id])
    statements: list[str] = []

    def count(*args: Any, **kw: Any) -> None:
        statements.append(args[2])

    engine = db_session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get_htmx(f"/wards/{s['ward'].id}")
        few = len(statements)
        bigger = factories.ward(db_session, beds=12)
        for i in range(10):
            e = _stay(db_session, bigger, i, f"Many{i}")
            record_vitals(db_session, SYSTEM, e.id, NORMAL)
        nurse2 = factories.staff(db_session, "nurse", [bigger.id])
        db_session.commit()
        login(client, nurse2.username)
        statements.clear()
        client.get_htmx(f"/wards/{bigger.id}")
        assert len(statements) <= few + 2, statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_the_hospital_board_counts_states_and_finds_free_beds(client: Any, login_as: Any, db_session: Any,
                                                              ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    icu = factories.ward(db_session, beds=2, name="Intensive Care")
    icu.ward_class, icu.specialty = "critical", "critical care"
    db_session.commit()
    login_as("doctor")
    html = client.get("/wards/").get_data(as_text=True)
    row = re.search(rf'<tr id="ward-{s["ward"].id}">.*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    assert re.search(r'data-state="occupied">4<', row) and re.search(r'data-state="cleaning">1<', row)
    assert re.search(r'data-state="out_of_service">1<', row) and "57.1%" in row  # 4 of 7 usable beds
    found = client.get_htmx("/wards/?find=1&ward_class=critical").get_data(as_text=True)
    assert "Intensive Care" in found and "Acute Medical" not in found
    everywhere = client.get_htmx("/wards/?find=1").get_data(as_text=True)
    assert "Acute Medical" in everywhere and f"free-bed-{s['beds'][7]}" in everywhere
    assert f"free-bed-{s['beds'][6]}" not in everywhere  # reserved is not free


def test_a_nurse_sees_only_her_wards_on_the_hospital_board(client: Any, login_as: Any, db_session: Any,
                                                           ward_scene: dict[str, Any]) -> None:
    other = factories.ward(db_session, beds=1, name="Renal Unit")
    db_session.commit()
    login_as("nurse", [other.id])
    html = client.get("/wards/").get_data(as_text=True)
    assert "Renal Unit" in html and "Acute Medical" not in html
    assert client.get(f"/wards/{ward_scene['ward'].id}").status_code == 403


def test_the_cleaning_list_has_beds_and_no_names(client: Any, login_as: Any, db_session: Any,
                                                 ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    login_as("housekeeping")
    html = client.get("/wards/cleaning").get_data(as_text=True)
    assert f'id="cleaning-{s["beds"][4]}"' in html and "Acute Medical" in html
    assert "GONE" not in html and "HIGH" not in html and s["high"].patient.mrn not in html
    cleaned = client.post_form(f"/wards/beds/{s['beds'][4]}/clean", htmx=True)
    assert cleaned.status_code == 200 and 'id="nothing-to-clean"' in cleaned.get_data(as_text=True)
    assert beds.get_bed(db_session, s["beds"][4]).state == "available"


def test_bed_page_closes_reopens_and_reserves(client: Any, login_as: Any, db_session: Any,
                                              ward_scene: dict[str, Any]) -> None:
    s = ward_scene
    login_as("charge_nurse", [s["ward"].id])
    free = s["beds"][7]
    no_reason = client.post_form(f"/wards/beds/{free}/close", {"reason": ""})
    assert no_reason.status_code == 422 and "Give the reason the bed is closed." in no_reason.get_data(as_text=True)
    closed = client.post_form(f"/wards/beds/{free}/close", {"reason": "Mattress torn"}, htmx=True)
    assert closed.status_code == 200 and closed.headers["HX-Redirect"] == f"/wards/{s['ward'].id}"
    assert beds.get_bed(db_session, free).state == "out_of_service"
    again = client.post_form(f"/wards/beds/{free}/close", {"reason": "Twice"})
    assert again.status_code == 409
    assert client.post_form(f"/wards/beds/{free}/open").status_code == 303
    reserved = client.post_form(f"/wards/beds/{free}/reserve", {"note": "Elective hip"})
    assert reserved.status_code == 303 and beds.get_bed(db_session, free).state == "reserved"
    page = client.get(f"/wards/beds/{free}").get_data(as_text=True)
    assert "Elective hip" in page and 'id="cancel-reservation"' in page


def test_a_nurse_may_not_close_a_bed(client: Any, login_as: Any, ward_scene: dict[str, Any]) -> None:
    login_as("nurse", [ward_scene["ward"].id])
    assert client.post_form(f"/wards/beds/{ward_scene['beds'][7]}/close", {"reason": "x"}).status_code == 403


def test_the_census_counts_today(client: Any, login_as: Any, db_session: Any, ward_scene: dict[str, Any],
                                 app: Any) -> None:
    s = ward_scene
    s["fresh"].expected_discharge_on = clock.hospital_today() + timedelta(days=1)
    db_session.commit()
    login_as("nurse", [s["ward"].id])
    html = client.get("/wards/census").get_data(as_text=True)
    row = re.search(rf'<tr id="census-{s["ward"].id}".*?</tr>', html, re.S).group(0)  # type: ignore[union-attr]
    tz = app.config["HOSPITAL_TIMEZONE"]
    fresh_today = clock.to_local(s["fresh"].started_at, tz).date() == clock.hospital_today()
    admitted = 5 if fresh_today else 4  # five stays began today (one since discharged), unless after midnight
    assert f'<td class="text-end admitted">{admitted}</td>' in row
    assert '<td class="text-end discharged">1</td>' in row
    assert '<td class="text-end expected-today">1</td>' in row
    assert '<td class="text-end expected-tomorrow">1</td>' in row
    assert '<td class="text-end occupancy">57.1%</td>' in row
    assert "NORMAL" in html  # expected home today, listed


# --- live ----------------------------------------------------------------------------------

def test_vitals_and_doses_push_bed_updated_for_that_bed(app: Any, client: Any, db_session: Any, make_user: Any,
                                                        socket_server: Any) -> None:
    from app.core import events

    ward = factories.ward(db_session, beds=2)
    e = _stay(db_session, ward, 1, "Live")
    nurse = make_user("nurse", ward_ids=[ward.id])
    db_session.commit()
    login(client, nurse.username)
    sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
    sio.get_received("/live")
    record_vitals(db_session, SYSTEM, e.id, NORMAL)
    db_session.commit()
    got = [x for x in live_events(sio) if x["type"] == "bed.updated"]
    assert got and got[0] == {"type": "bed.updated", "id": e.bed_id, "ward_id": ward.id}
    sio.get_received("/live")
    events.administered.send(db_session, administration_id=1, prescription_id=1, patient_id=e.patient_id,
                             encounter_id=e.id, drug_id=1, outcome="given", scheduled_dose_id=None)
    db_session.commit()
    got = [x for x in live_events(sio) if x["type"] == "bed.updated"]
    assert got and got[0]["id"] == e.bed_id
    sio.disconnect("/live")


def test_a_vacated_bed_reaches_housekeeping_without_a_name(app: Any, client: Any, db_session: Any,
                                                           make_user: Any, socket_server: Any) -> None:
    ward = factories.ward(db_session, beds=1)
    e = _stay(db_session, ward, 0, "Private")
    cleaner = make_user("housekeeping")
    db_session.commit()
    login(client, cleaner.username)
    sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
    sio.get_received("/live")
    adt.discharge(db_session, SYSTEM, e.id, summary="Home.", disposition="home")
    db_session.commit()
    got = [x for x in live_events(sio) if x["type"] == "cleaning.updated"]
    assert got == [{"type": "cleaning.updated", "id": e.bed_id}]
    sio.disconnect("/live")
