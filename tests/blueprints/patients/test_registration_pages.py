"""Registering, editing and the record history from the clerk's side: errors beside the fields
with nothing lost (422), likely duplicates before saving, a stale edit (409), the changes
between versions."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.domain.patients.models import Patient
from tests import factories

GOOD = {"family_name": "Okonkwo", "given_names": "Amara", "birth_date": "1991-02-03", "sex": "female",
        "phone": "07700 900321", "national_id": "", "address_line": "12 Mill Road", "city": "Leeds",
        "postcode": "ls1 4ab"}


def _field_error(body: str, name: str) -> str:
    m = re.search(rf'id="{name}-error">([^<]+)<', body)
    return m.group(1) if m else ""


def test_registration_saves_and_opens_the_chart(client: Any, login_as: Any, db_session: Any) -> None:
    login_as("reception")
    assert 'id="patient-form"' in client.get("/patients/new").get_data(as_text=True)
    response = client.post_form("/patients/new", GOOD, htmx=True)
    p = db_session.scalar(select(Patient).where(Patient.family_name == "Okonkwo"))
    assert p is not None and response.headers["HX-Redirect"] == f"/patients/{p.id}"
    assert (p.phone_e164, p.postcode) == ("+447700900321", "LS1 4AB")
    chart = client.get(f"/patients/{p.id}").get_data(as_text=True)
    assert f"Registered OKONKWO, Amara, MRN {p.mrn}." in chart


def test_every_invalid_field_is_answered_beside_it_and_nothing_is_lost(client: Any, login_as: Any, db_session: Any) -> None:
    login_as("reception")
    tomorrow = (clock.now() + timedelta(days=2)).date().isoformat()
    sent = GOOD | {"family_name": "", "birth_date": tomorrow, "sex": "", "phone": "0770 12",
                   "given_names": "Amara"}
    response = client.post_form("/patients/new", sent, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and body.lstrip().startswith('<form id="patient-form"')
    assert _field_error(body, "family_name") == "Enter the family name."
    assert _field_error(body, "birth_date") == "The date of birth cannot be in the future."
    assert _field_error(body, "sex") == "Choose female, male, other or unknown."
    assert "too short" in _field_error(body, "phone")
    assert 'value="Amara"' in body and 'value="12 Mill Road"' in body and f'value="{tomorrow}"' in body
    missing_date = client.post_form("/patients/new", GOOD | {"birth_date": "", "family_name": ""}, htmx=True)
    text = missing_date.get_data(as_text=True)
    assert _field_error(text, "birth_date") == "Enter the date of birth."
    assert _field_error(text, "family_name") == "Enter the family name."
    assert db_session.scalar(select(Patient).where(Patient.given_names == "Amara")) is None


def test_national_id_format_is_checked_where_configured(client: Any, login_as: Any, app: Any, monkeypatch: Any) -> None:
    monkeypatch.setitem(app.config, "NATIONAL_ID_FORMAT", "gb.nhs")
    login_as("reception")
    body = client.post_form("/patients/new", GOOD | {"national_id": "943 476 5918"}, htmx=True).get_data(as_text=True)
    assert "check the number" in _field_error(body, "national_id")


def test_likely_duplicates_are_shown_and_saving_anyway_needs_a_reason(client: Any, login_as: Any, db_session: Any) -> None:
    login_as("reception")
    client.post_form("/patients/new", GOOD, htmx=True)
    first = db_session.scalar(select(Patient).where(Patient.family_name == "Okonkwo"))
    again = client.post_form("/patients/new", GOOD, htmx=True)
    body = again.get_data(as_text=True)
    assert again.status_code == 422 and 'id="possible-duplicates"' in body
    assert first.mrn in body and f'href="/patients/{first.id}"' in body and "3 Feb 1991" in body
    assert 'name="duplicate_reason"' in body and "Register anyway" in body
    assert 'value="Okonkwo"' in body  # the form is kept
    anyway = client.post_form("/patients/new", GOOD | {"duplicate_reason": "Different person: checked passport"}, htmx=True)
    assert "HX-Redirect" in anyway.headers
    assert len(db_session.scalars(select(Patient).where(Patient.family_name == "Okonkwo")).all()) == 2
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "patient.duplicate_override"))
    assert row.reason == "Different person: checked passport"


def _edit_form(client: Any, pid: int) -> dict[str, str]:
    body = client.get(f"/patients/{pid}/edit").get_data(as_text=True)
    values = dict(re.findall(r'<input[^>]*name="([a-z_]+)"[^>]*value="([^"]*)"', body))
    values.update({"sex": "female", "change": "updated", "reason": ""})
    return {k: v for k, v in values.items() if k != "csrf_token"}


def test_edit_correction_needs_a_reason_and_history_shows_old_and_new(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session, "Nguyen", "Mai", phone="07700 900111")
    db_session.commit()
    clerk = login_as("reception")
    form = _edit_form(client, p.id)
    assert form["family_name"] == "Nguyen" and form["version"] == str(p.version)
    no_reason = client.post_form(f"/patients/{p.id}/edit", form | {"family_name": "Nguyễn", "change": "corrected"}, htmx=True)
    body = no_reason.get_data(as_text=True)
    assert no_reason.status_code == 422 and _field_error(body, "reason") == "Say what was wrong: a correction needs a reason."
    assert 'value="Nguyễn"' in body
    ok = client.post_form(f"/patients/{p.id}/edit", form | {"family_name": "Nguyễn", "change": "corrected",
                                                            "reason": "Accent missing at registration"}, htmx=True)
    assert ok.headers["HX-Redirect"] == f"/patients/{p.id}"
    page = client.get(f"/patients/{p.id}/history").get_data(as_text=True)
    v2 = re.search(r'<li[^>]*id="version-2".*?</li>', page, re.S)
    assert v2 is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", v2.group(0)))
    assert "corrected" in text and "Accent missing at registration" in text and clerk.label in text
    assert "Family name Nguyen Nguyễn" in text
    assert 'id="version-1"' in page and "registered" in page


def test_a_stale_edit_is_409_with_their_values_and_mine_kept(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session, "Adeyemi", "Tolu", phone="07700 900222")
    db_session.commit()
    login_as("reception")
    mine = _edit_form(client, p.id)
    theirs = _edit_form(client, p.id)
    assert "HX-Redirect" in client.post_form(f"/patients/{p.id}/edit", theirs | {"city": "Ibadan"}, htmx=True).headers
    stale = client.post_form(f"/patients/{p.id}/edit", mine | {"city": "Lagos"}, htmx=True)
    body = stale.get_data(as_text=True)
    assert stale.status_code == 409 and 'id="stale-record"' in body
    assert "Someone else changed this record" in body and "Ibadan" in body and 'value="Lagos"' in body
    new_version = re.search(r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"', body)
    assert new_version is not None
    again = client.post_form(f"/patients/{p.id}/edit", mine | {"city": "Lagos", "version": new_version.group(1) or new_version.group(2)}, htmx=True)
    assert "HX-Redirect" in again.headers
    db_session.expire_all()
    assert db_session.get(Patient, p.id).city == "Lagos"


def test_only_writers_edit_and_everyone_who_sees_the_chart_sees_the_history(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session)
    db_session.commit()
    login_as("doctor")
    assert client.get(f"/patients/{p.id}/edit").status_code == 403
    assert client.get(f"/patients/{p.id}/history").status_code == 200
    chart = client.get(f"/patients/{p.id}").get_data(as_text=True)
    assert 'id="patient-history-link"' in chart and 'id="edit-patient"' not in chart
