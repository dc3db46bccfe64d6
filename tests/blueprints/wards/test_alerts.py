"""Alert pages: my alerts and my wards' alerts, one alert, acknowledging it (and the live
pushes that refresh other browsers), and the on-call rota page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert, OnCallShift
from app.domain.notifications.models import Notification
from app.domain.observations import services as vitals
from app.extensions import socketio
from tests import factories
from tests.conftest import live_events, login
from tests.domain.observations.support import HIGH, MEDIUM, NORMAL, ward_with_patient

pytestmark = pytest.mark.usefixtures("socket_server")


def _alert(db_session: Any, w: Any) -> Alert:
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, MEDIUM)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None
    db_session.commit()
    return alert


def test_charge_nurse_sees_the_alert_and_acknowledges_it(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    login(client, w.charge.username)
    listing = client.get("/wards/alerts").get_data(as_text=True)
    assert f'id="alert-{alert.id}"' in listing and 'hx-trigger="alert-updated from:body"' in listing
    page = client.get(f"/wards/alerts/{alert.id}").get_data(as_text=True)
    assert "NEWS2 5" in page and 'id="acknowledge"' in page
    response = client.post_form(f"/wards/alerts/{alert.id}/acknowledge", htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'data-status="acknowledged"' in body and w.charge.full_name in body
    db_session.refresh(alert)
    assert alert.status == "acknowledged" and alert.acknowledged_by_id == w.charge.id
    mine = db_session.scalars(select(Notification).where(Notification.recipient_id == w.charge.id,
                                                         Notification.kind == "alert.news2"))
    assert all(n.acknowledged_at is not None for n in mine)


def test_the_notification_links_to_the_alert_page(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    note = db_session.scalar(select(Notification).where(Notification.recipient_id == w.doctor.id))
    assert note.priority == "high" and note.link == f"/wards/alerts/{alert.id}"
    login(client, w.doctor.username)  # a doctor not assigned to the ward, reached by the alert
    assert client.get(note.link).status_code == 200
    listing = client.get("/wards/alerts").get_data(as_text=True)
    assert f'id="alert-{alert.id}"' in listing


def test_a_nurse_of_another_ward_gets_403(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    other = factories.ward(db_session)
    db_session.commit()
    login_as("nurse", [other.id])
    assert client.get(f"/wards/alerts/{alert.id}").status_code == 403
    assert client.post_form(f"/wards/alerts/{alert.id}/acknowledge").status_code == 403
    assert f'id="alert-{alert.id}"' not in client.get("/wards/alerts").get_data(as_text=True)
    db_session.refresh(alert)
    assert alert.status == "open"


def test_a_normal_set_leaves_the_alert_open_and_the_acknowledger_sees_it(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    login(client, w.nurse.username)
    saved = client.post_form(f"/wards/encounters/{w.encounter.id}/vitals", NORMAL)
    assert saved.status_code == 200
    body = saved.get_data(as_text=True)
    assert 'id="escalation-still-open"' in body and 'id="escalation-sent"' not in body
    newest = vitals.latest_by_encounter(db_session, [w.encounter.id])[w.encounter.id]
    at = clock.to_local(newest.taken_at, clock.hospital_timezone()).strftime("%H:%M")
    login(client, w.charge.username)
    assert f'id="alert-{alert.id}"' in client.get("/wards/alerts").get_data(as_text=True)
    page = client.get(f"/wards/alerts/{alert.id}").get_data(as_text=True)
    assert "Open: not yet acknowledged" in page and 'id="acknowledge"' in page
    assert f'id="alert-newest-set">NEWS2 0 at {at}<' in page
    assert client.post_form(f"/wards/alerts/{alert.id}/acknowledge").status_code == 200
    db_session.refresh(alert)
    assert alert.status == "acknowledged"
    # Acknowledged, the next set that needs no escalation closes it.
    login(client, w.nurse.username)
    assert client.post_form(f"/wards/encounters/{w.encounter.id}/vitals", NORMAL).status_code == 200
    db_session.refresh(alert)
    assert alert.status == "resolved"


def test_the_board_badge_turns_calm_once_acknowledged(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    login(client, w.charge.username)
    board = client.get(f"/wards/{w.ward.id}").get_data(as_text=True)
    assert re.search(r'class="badge text-bg-danger bed-alerts" data-count="1"[^>]*>1 alert\(s\)<', board)
    client.post_form(f"/wards/alerts/{alert.id}/acknowledge")
    board = client.get(f"/wards/{w.ward.id}").get_data(as_text=True)
    assert "text-bg-danger bed-alerts" not in board
    assert re.search(r'bed-alerts bed-alerts-acknowledged" data-count="0" data-acknowledged="1"[^>]*>'
                     r'1 alert, acknowledged<', board)


def test_alert_chain_text_names_teams_by_label(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)
    alert = vitals.open_news2_alert(db_session, w.encounter.id)
    assert alert is not None
    db_session.commit()
    login(client, w.charge.username)
    page = client.get(f"/wards/alerts/{alert.id}").get_data(as_text=True)
    assert "the Critical care on-call team (emergency team)" in page
    assert "the Medical on-call doctor (escalation team)" in page
    assert "critical_care" not in page
    client.application.config["ON_CALL_TEAM_LABELS"] = {}
    try:
        assert escalation.team_label("critical_care") == "Critical care"
    finally:
        client.application.config["ON_CALL_TEAM_LABELS"] = {"medical": "Medical", "critical_care": "Critical care"}


def test_a_resolved_alert_cannot_be_acknowledged(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    escalation.resolve_alert(db_session, kind="news2", subject_key=alert.subject_key,
                             resolution="The patient was reviewed.")
    db_session.commit()
    login(client, w.charge.username)
    assert client.post_form(f"/wards/alerts/{alert.id}/acknowledge").status_code == 409
    assert f'id="alert-{alert.id}"' not in client.get("/wards/alerts").get_data(as_text=True)
    assert client.get("/wards/alerts/999999").status_code == 404


def test_the_alert_reaches_the_charge_nurses_browser_live(app: Any, client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login(client, w.charge.username)
    sio = socketio.test_client(app, namespace="/live", flask_test_client=client)
    assert sio.is_connected("/live")
    sio.get_received("/live")
    alert = _alert(db_session, w)
    got = live_events(sio)
    toasts = [e for e in got if e["type"] == "notification"]
    assert toasts and toasts[0]["priority"] == "high" and toasts[0]["link"] == f"/wards/alerts/{alert.id}"
    assert any(e["type"] == "alert.updated" and e["id"] == alert.id for e in got + live_events(sio, 0.3))
    # Someone else acknowledging refreshes this browser's lists.
    from app.domain.escalation import services as escalation
    escalation.acknowledge_alert(db_session, w.doctor, alert.id)
    db_session.commit()
    later = live_events(sio)
    assert any(e["type"] == "alert.updated" and e["status"] == "acknowledged" for e in later)
    sio.disconnect("/live")


def test_on_call_rota_page(client: Any, db_session: Any, login_as: Any) -> None:
    w = ward_with_patient(db_session)
    db_session.commit()
    login_as("charge_nurse", [w.ward.id])
    assert client.get("/wards/on-call").status_code == 200
    tz = client.application.config["HOSPITAL_TIMEZONE"]
    start = clock.to_local(clock.now(), tz).replace(second=0, microsecond=0)
    fmt = "%Y-%m-%dT%H:%M"
    bad = client.post_form("/wards/on-call", {"team": "medical", "user_id": str(w.doctor.id),
                                              "starts_at": start.strftime(fmt), "ends_at": start.strftime(fmt)})
    assert bad.status_code == 422 and "must end after it starts" in bad.get_data(as_text=True)
    nurse = client.post_form("/wards/on-call", {"team": "medical", "user_id": str(w.nurse.id),
                                                "starts_at": start.strftime(fmt),
                                                "ends_at": (start + timedelta(hours=8)).strftime(fmt)})
    assert nurse.status_code == 422 and "active doctor" in nurse.get_data(as_text=True)
    ok = client.post_form("/wards/on-call", {"team": "medical", "user_id": str(w.doctor.id),
                                             "starts_at": start.strftime(fmt),
                                             "ends_at": (start + timedelta(hours=8)).strftime(fmt)})
    assert ok.status_code == 303
    shift = db_session.scalar(select(OnCallShift).where(OnCallShift.user_id == w.doctor.id))
    assert shift is not None and shift.team == "medical"
    rota = client.get("/wards/on-call").get_data(as_text=True)
    assert w.doctor.full_name in rota
    # Teams read as labels (ON_CALL_TEAM_LABELS), never as their keys.
    assert f'<tr id="shift-{shift.id}"><td data-team="medical">Medical</td>' in rota
    assert '<option value="critical_care">Critical care</option>' in rota
    assert ">critical_care<" not in rota and ">medical<" not in rota
    assert client.post_form(f"/wards/on-call/{shift.id}/remove", {"reason": ""}).status_code == 422
    assert client.post_form(f"/wards/on-call/{shift.id}/remove", {"reason": "swap"}).status_code == 303
    # Kept (who was on call stays answerable), ended now, off the rota from now on.
    db_session.expire_all()
    kept = db_session.get(OnCallShift, shift.id)
    assert kept is not None and kept.cancel_reason == "swap" and kept.cancelled_at is not None
    assert kept.ends_at <= clock.now() and escalation.on_call(db_session, "medical", clock.now()) == []


def test_rota_needs_the_permission(client: Any, db_session: Any, login_as: Any) -> None:
    login_as("nurse")
    assert client.get("/wards/on-call").status_code == 403


def test_acknowledging_an_alert_upgraded_meanwhile_answers_409_on_the_card(client: Any, db_session: Any) -> None:
    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    login(client, w.charge.username)
    page = client.get(f"/wards/alerts/{alert.id}").get_data(as_text=True)
    assert 'name="chain" value="news2_medium"' in page and 'name="level" value="0"' in page
    vitals.record_vitals(db_session, w.nurse, w.encounter.id, HIGH)  # upgraded while she looked
    db_session.commit()
    response = client.post_form(f"/wards/alerts/{alert.id}/acknowledge", {"chain": "news2_medium", "level": "0"})
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert 'id="alert-problem"' in body and "while you were looking" in body
    assert 'data-status="open"' in body and 'name="chain" value="news2_high"' in body
    db_session.expire_all()
    assert db_session.get(Alert, alert.id).status == "open"  # type: ignore[union-attr]
    again = client.post_form(f"/wards/alerts/{alert.id}/acknowledge", {"chain": "news2_high", "level": "0"})
    assert again.status_code == 200 and 'data-status="acknowledged"' in again.get_data(as_text=True)


def test_the_receiving_wards_charge_nurse_sees_and_acknowledges_after_a_transfer(
        client: Any, db_session: Any) -> None:
    from app.domain.admissions import adt

    w = ward_with_patient(db_session)
    alert = _alert(db_session, w)
    other = factories.ward(db_session, beds=1)
    charge = factories.staff(db_session, "charge_nurse", [other.id])
    adt.transfer(db_session, w.doctor, w.encounter.id, other.rooms[0].beds[0].id)
    db_session.commit()
    login(client, charge.username)
    assert f'id="alert-{alert.id}"' in client.get("/wards/alerts").get_data(as_text=True)
    assert client.post_form(f"/wards/alerts/{alert.id}/acknowledge").status_code == 200
    login(client, w.charge.username)
    assert client.get(f"/wards/alerts/{alert.id}").status_code == 200  # it reached her: she may look
    assert f'id="alert-{alert.id}"' in client.get("/wards/alerts").get_data(as_text=True)
