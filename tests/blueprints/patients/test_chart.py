"""The chart page, its banner fragment, and break-the-glass from the browser's side."""

from __future__ import annotations

from typing import Any

from tests import factories


def test_banner_shows_name_mrn_age_sex_and_allergies(client: Any, login_as: Any, db_session: Any) -> None:
    from app.core.security import SYSTEM
    from app.domain.patients import services as patients

    w = factories.ward(db_session)
    p = factories.admitted(db_session, w, factories.patient(db_session, family="Łukasiewicz", given="Zoë"))
    patients.record_allergy(db_session, SYSTEM, p.id, "Penicillin", "Anaphylaxis", "severe")
    db_session.commit()
    login_as("doctor")
    fragment = client.get_htmx(f"/patients/{p.id}/banner")
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="patient-banner') and f'id="patient-banner-{p.id}"' in body
    assert "ŁUKASIEWICZ, Zoë" in body and p.mrn in body and "Female" in body and "Penicillin" in body
    assert "severe" in body
    assert fragment.headers["Vary"] == "HX-Request" or "HX-Request" in fragment.headers["Vary"]
    page = client.get(f"/patients/{p.id}").get_data(as_text=True)
    assert "<html" in page and f'id="patient-banner-{p.id}"' in page


def test_nurse_outside_scope_is_offered_break_glass(client: Any, login_as: Any, db_session: Any) -> None:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    there = factories.admitted(db_session, other)
    db_session.commit()
    login_as("nurse", ward_ids=[mine.id])
    refused = client.get(f"/patients/{there.id}")
    assert refused.status_code == 403 and "not on your wards" in refused.get_data(as_text=True)
    short = client.post_form(f"/patients/{there.id}/break-glass", {"reason": "need"}, htmx=True)
    assert short.status_code == 422 and "at least 10 characters" in short.get_data(as_text=True)
    ok = client.post_form(f"/patients/{there.id}/break-glass", {"reason": "Covering ward 3 tonight"}, htmx=True)
    assert ok.headers["HX-Redirect"] == f"/patients/{there.id}"
    assert client.get(f"/patients/{there.id}").status_code == 200


def test_patient_search_is_keyboard_ready_and_scoped(client: Any, login_as: Any, db_session: Any) -> None:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    factories.admitted(db_session, mine, factories.patient(db_session, family="Okafor"))
    factories.admitted(db_session, other, factories.patient(db_session, family="Okonkwo"))
    db_session.commit()
    login_as("nurse", ward_ids=[mine.id])
    page = client.get("/patients/").get_data(as_text=True)
    assert 'autofocus' in page and "data-search-results" in page
    rows = client.get_htmx("/patients/?q=oko").get_data(as_text=True)
    assert "OKAFOR" not in rows and "OKONKWO" not in rows
    rows = client.get_htmx("/patients/?q=oka").get_data(as_text=True)
    assert "OKAFOR" in rows and rows.lstrip().startswith('<div id="patient-rows"')


def test_ward_page_shows_beds_and_refuses_other_wards(client: Any, login_as: Any, db_session: Any) -> None:
    mine, other = factories.ward(db_session, beds=2), factories.ward(db_session)
    p = factories.admitted(db_session, mine)
    db_session.commit()
    login_as("nurse", ward_ids=[mine.id])
    body = client.get(f"/wards/{mine.id}").get_data(as_text=True)
    assert p.mrn in body and "available" in body and "occupied" in body
    assert client.get(f"/wards/{other.id}").status_code == 403
    assert client.get("/wards/").get_data(as_text=True).count('id="ward-') == 1


def test_unknown_patient_is_a_404_page(client: Any, login_as: Any) -> None:
    login_as("doctor")
    response = client.get("/patients/987654")
    assert response.status_code == 404 and "No such patient." in response.get_data(as_text=True)
