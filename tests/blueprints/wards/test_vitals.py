"""The observation pages: record (422 beside the field, confirm unusual values), the live NEWS2
preview, the saved result with its band and escalation, the chart, the SpO2 scale."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.domain.escalation.models import Alert
from app.domain.observations import services as vitals
from app.domain.observations.models import VitalSigns
from tests import factories
from tests.domain.observations.support import MEDIUM, NORMAL, ward_with_patient


def _url(w: Any, suffix: str = "") -> str:
    return f"/wards/encounters/{w.encounter.id}/vitals{suffix}"


def test_the_form_is_keyboard_first_in_news2_order(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    page = client.get(_url(w)).get_data(as_text=True)
    order = [page.index(f'name="{f}"') for f in ("respiratory_rate", "spo2", "air_or_oxygen", "o2_flow",
                                                  "systolic", "diastolic", "pulse", "consciousness",
                                                  "temperature")]
    assert order == sorted(order)
    assert re.search(r'name="respiratory_rate"[^>]*autofocus', page)
    assert f'hx-post="/wards/encounters/{w.encounter.id}/vitals/preview"' in page


def test_saving_shows_score_band_and_the_escalation_sent(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    nurse = login_as("nurse", [w.ward.id])
    response = client.post_form(_url(w), MEDIUM)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-news2="5"' in page and "news2-medium" in page
    assert 'id="escalation-sent"' in page and "charge nurses and the responsible doctor" in page
    vs = db_session.scalar(select(VitalSigns).where(VitalSigns.encounter_id == w.encounter.id))
    assert vs.recorded_by_id == nurse.id and vs.news2_total == 5
    alert = db_session.scalar(select(Alert).where(Alert.encounter_id == w.encounter.id))
    assert f"/wards/alerts/{alert.id}" in page


def test_low_score_is_green_with_no_escalation(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    page = client.post_form(_url(w), NORMAL, htmx=True).get_data(as_text=True)
    assert page.lstrip().startswith('<div id="vitals-form-area" class="vitals-saved">')
    assert 'data-news2="0"' in page and "news2-low" in page and "escalation-sent" not in page


def test_impossible_values_are_422_with_the_message_beside_the_field(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    response = client.post_form(_url(w), {**NORMAL, "spo2": "104", "pulse": "0"}, htmx=True)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-spo2-error">SpO₂ is a percentage from 1 to 100; 104 % is not possible', page)
    assert re.search(r'id="f-pulse-error">A pulse of 0 /min is not possible for a living patient', page)
    assert 'value="104"' in page  # what was typed stays
    assert db_session.scalar(select(VitalSigns.id).where(VitalSigns.encounter_id == w.encounter.id)) is None


def test_unusual_values_need_confirming_then_are_flagged(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    first = client.post_form(_url(w), {**NORMAL, "temperature": "42.3"})
    assert first.status_code == 422
    assert "Temperature 42.3 °C is unusual" in first.get_data(as_text=True)
    assert 'name="confirm_unusual"' in first.get_data(as_text=True)
    assert db_session.scalar(select(VitalSigns.id).where(VitalSigns.encounter_id == w.encounter.id)) is None
    second = client.post_form(_url(w), {**NORMAL, "temperature": "42.3", "confirm_unusual": "1"})
    assert second.status_code == 200
    vs = db_session.scalar(select(VitalSigns).where(VitalSigns.encounter_id == w.encounter.id))
    assert vs.flags == ["Temperature 42.3 °C is unusual: re-check it."]


def test_a_time_in_the_future_is_refused_beside_the_field(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    local = clock.to_local(clock.now() + timedelta(hours=2), client.application.config["HOSPITAL_TIMEZONE"])
    response = client.post_form(_url(w), {**NORMAL, "taken_at": local.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 422
    assert ('id="f-taken_at-error">A set of observations cannot be charted for a time still to come.'
            in response.get_data(as_text=True))
    bad = client.post_form(_url(w), {**NORMAL, "taken_at": "yesterday"})
    assert bad.status_code == 422 and "Enter a date and time." in bad.get_data(as_text=True)


def test_preview_scores_each_parameter_as_typed(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    page = client.post_form(_url(w, "/preview"), {"respiratory_rate": "26", "pulse": "115"},
                            htmx=True).get_data(as_text=True)
    assert re.search(r'data-param="respiratory_rate".*?data-points="3"', page, re.S)
    assert re.search(r'data-param="pulse".*?data-points="2"', page, re.S)
    assert 'data-news2="incomplete"' in page and "news2-preview-escalation" in page
    full = client.post_form(_url(w, "/preview"), MEDIUM, htmx=True).get_data(as_text=True)
    assert 'data-news2="5"' in full
    bad = client.post_form(_url(w, "/preview"), {**NORMAL, "spo2": "140"}, htmx=True)
    assert bad.status_code == 422 and re.search(r'data-param="spo2".*?check', bad.get_data(as_text=True), re.S)
    # Nothing was saved by previewing.
    assert db_session.scalar(select(VitalSigns.id).where(VitalSigns.encounter_id == w.encounter.id)) is None


def test_a_nurse_of_another_ward_gets_403(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    other = factories.ward(db_session)
    db_session.commit()
    login_as("nurse", [other.id])
    assert client.get(_url(w)).status_code == 403
    assert client.post_form(_url(w), NORMAL).status_code == 403
    assert client.post_form(_url(w, "/preview"), NORMAL).status_code == 403
    assert client.get(_url(w, "/chart")).status_code == 403


def test_roles_without_the_permission_get_403(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("pharmacist")
    assert client.get(_url(w)).status_code == 403
    assert client.post_form(f"/wards/encounters/{w.encounter.id}/spo2-scale",
                            {"scale": "2", "reason": "x"}).status_code == 403


def test_the_saved_page_shows_the_set_just_saved_in_whole_numbers(client: Any, db_session: Any,
                                                                   login_as: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=clock.now() - timedelta(hours=3))
    db_session.commit()
    login_as("nurse", [w.ward.id])
    record = client.get(_url(w)).get_data(as_text=True)
    assert 'id="vitals-last"' in record and 'data-news2="5"' in record
    form = {**NORMAL, "air_or_oxygen": "oxygen", "o2_flow": "2.0"}
    page = client.post_form(_url(w), form, htmx=True).get_data(as_text=True)
    # The header above the form is swapped out of band with the set just saved.
    header = page[page.index('id="vitals-last"'):]
    header = header[:header.index("</p>")]
    assert 'hx-swap-oob="true"' in header and 'data-news2="2"' in header and 'data-news2="5"' not in header
    vs = vitals.latest_by_encounter(db_session, [w.encounter.id])[w.encounter.id]
    due = clock.to_local(vs.next_due_at, clock.hospital_timezone()).strftime("%H:%M")
    assert due in header
    cells = re.findall(r'<th scope="row" class="fw-normal">([^<]+)</th><td>([^<]*)</td>', page)
    shown = dict(cells)
    assert shown["Respiration rate"] == "16" and shown["Pulse"] == "72" and shown["Systolic BP"] == "125"
    assert shown["SpO₂"] == "97" and shown["Temperature"] == "36.8" and shown["Oxygen flow"] == "2"
    assert ".00" not in page
    # The whole page (no htmx) has the same header from the new set.
    full = client.post_form(_url(w), NORMAL).get_data(as_text=True)
    assert 'id="vitals-last"' in full and 'data-news2="0"' in full.split('id="vitals-last"')[1].split("</p>")[0]
    chart = client.get(_url(w, "/chart")).get_data(as_text=True)
    table = chart[chart.index('id="vitals-table"'):]
    assert ".00" not in table and "<td>36.8</td>" in table and "<td>2</td>" in table


def test_oxygen_without_a_flow_is_refused_beside_the_flow(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    response = client.post_form(_url(w), {**NORMAL, "air_or_oxygen": "oxygen", "o2_flow": ""}, htmx=True)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="f-o2_flow-error">Give the oxygen flow \(L/min\)', page)
    assert db_session.scalar(select(VitalSigns).where(VitalSigns.encounter_id == w.encounter.id)) is None
    # The preview says so too, and still scores the rest (oxygen: 2 points).
    preview = client.post_form(_url(w, "/preview"), {**NORMAL, "air_or_oxygen": "oxygen"}, htmx=True)
    body = preview.get_data(as_text=True)
    assert preview.status_code == 422 and "Give the oxygen flow" in body and 'data-news2="2"' in body
    bp = client.post_form(_url(w), {**NORMAL, "systolic": "abc"}, htmx=True).get_data(as_text=True)
    assert "Enter the systolic BP as a number." in bp


def test_chart_draws_svg_for_each_parameter_and_lists_sets(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    now = clock.now()
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL, taken_at=now - timedelta(hours=6))
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM, taken_at=now - timedelta(hours=1))
    db_session.commit()
    login_as("nurse", [w.ward.id])
    response = client.get(_url(w, "/chart?period=24h"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for panel in ("respiratory_rate", "spo2", "blood_pressure", "pulse", "temperature", "news2"):
        assert f'data-panel="{panel}"' in page
    news2 = page[page.index('data-panel="news2"'):]
    news2 = news2[:news2.index("</svg>")]
    assert news2.count("<circle") == 2 and "<polyline" in news2
    assert page.count('<tr id="set-') == 2
    assert "<script" not in page.split('id="vitals-chart"')[1].split("</section>")[0]
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    # Unknown period falls back to the default.
    assert client.get(_url(w, "/chart?period=forever")).status_code == 200


def test_spo2_scale_by_a_doctor_with_reason(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("doctor")
    url = f"/wards/encounters/{w.encounter.id}/spo2-scale"
    missing = client.post_form(url, {"scale": "2", "reason": ""})
    assert missing.status_code == 422 and 'id="f-reason-error"' in missing.get_data(as_text=True)
    assert client.post_form(url, {"scale": "3", "reason": "x"}).status_code == 422
    ok = client.post_form(url, {"scale": "2", "reason": "Type 2 respiratory failure, target 88-92 %"})
    assert ok.status_code == 303
    db_session.refresh(w.encounter)
    assert w.encounter.spo2_scale == 2
    assert "SpO₂ scale 2" in client.get(_url(w, "/chart")).get_data(as_text=True)


def test_entered_in_error_from_the_chart(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    assert client.post_form(f"/wards/vitals/{vs.id}/entered-in-error", {"reason": ""}).status_code == 422
    assert client.post_form(f"/wards/vitals/{vs.id}/entered-in-error", {"reason": "wrong patient"}).status_code == 303
    db_session.refresh(vs)
    assert vs.status == "entered-in-error"
    assert f'id="set-{vs.id}"' not in client.get(_url(w, "/chart")).get_data(as_text=True)


def test_discharged_patient_is_refused(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    w.encounter.status = "finished"
    db_session.commit()
    login_as("doctor")
    response = client.post_form(_url(w), NORMAL)
    assert response.status_code == 422
    assert "admission has ended" in response.get_data(as_text=True)


BAD_NUMBERS = ("1e30", "-1e30", "NaN", "Infinity", "-Infinity", "1,5", "12345678901234567890", "1e-30")
NUMERIC_FIELDS = ("respiratory_rate", "spo2", "o2_flow", "systolic", "diastolic", "pulse", "temperature")


def test_absurd_numbers_in_every_field_are_refused_beside_it(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    for name in NUMERIC_FIELDS:
        for bad in BAD_NUMBERS:
            form = {**NORMAL, name: bad}
            if name == "o2_flow":
                form["air_or_oxygen"] = "oxygen"
                if bad == "1,5":
                    continue  # a decimal comma is accepted: 1.5 L/min is a real flow
            for url in (_url(w), _url(w, "/preview")):
                response = client.post_form(url, form)
                body = response.get_data(as_text=True)
                assert response.status_code == 422, (name, bad, url)
                mark = 'id="preview-{}-error"' if url.endswith("/preview") else 'id="f-{}-error"'
                assert mark.format(name) in body, (name, bad, url)
    assert db_session.scalar(select(VitalSigns.id).where(VitalSigns.encounter_id == w.encounter.id)) is None


def test_entered_in_error_without_a_reason_is_refused_beside_the_box(client: Any, db_session: Any,
                                                                    login_as: Any) -> None:
    w = ward_with_patient(db_session)
    vs = vitals.record_vitals(db_session, w.nurse, w.encounter.id, NORMAL)
    db_session.commit()
    login_as("nurse", [w.ward.id])
    response = client.post_form(f"/wards/vitals/{vs.id}/entered-in-error", {"reason": "  "})
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert f'id="f-eie-{vs.id}-reason-error">Give the reason.' in body
    db_session.expire_all()
    assert db_session.get(VitalSigns, vs.id).status == "final"  # type: ignore[union-attr]


def test_the_first_set_is_due_by_the_configured_interval_on_the_board_and_in_the_alerts(
        app: Any, db_session: Any) -> None:
    from app.domain.admissions import board

    w = ward_with_patient(db_session)
    intervals = app.config["OBSERVATION_INTERVAL_MINUTES"]
    saved = dict(intervals)
    intervals["incomplete"] = 30
    try:
        with clock.freeze(clock.now()) as t:
            w.encounter.started_at = clock.now()
            db_session.flush()
            assert vitals.first_set_due(w.encounter.started_at) == clock.now() + timedelta(minutes=30)
            t.advance(minutes=31)
            raised = vitals.raise_overdue(db_session)
            shown = board.ward_board(db_session, w.charge, w.ward.id, clock.now(), clock.now().date())
            assert shown is not None
            card = next(c for c in shown.cards if c.encounter is not None)
            assert [a.subject_key for a in raised] == [f"enc:{w.encounter.id}:admission"]
            assert card.obs_overdue
    finally:
        intervals.clear()
        intervals.update(saved)
