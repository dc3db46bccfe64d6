"""Nursing notes pages: list with category filter, add, amend with history, and scope."""

from __future__ import annotations

from typing import Any

from app.domain.admissions.services import current_encounters
from tests import factories


def setup_stay(db_session: Any) -> tuple[Any, Any]:
    w = factories.ward(db_session)
    p = factories.admitted(db_session, w)
    encounter = current_encounters(db_session, [p.id])[p.id]
    db_session.commit()
    return w, encounter


def test_add_list_and_amend_a_note(client: Any, db_session: Any, login_as: Any) -> None:
    w, encounter = setup_stay(db_session)
    login_as("nurse", [w.id])
    url = f"/wards/encounters/{encounter.id}/notes"
    assert client.get(url).status_code == 200
    empty = client.post_form(url, {"category": "general", "text": ""}, htmx=True)
    assert empty.status_code == 422 and "Write the note." in empty.get_data(as_text=True)
    saved = client.post_form(url, {"category": "wound", "text": "Sacral dressing renewed."}, htmx=True)
    assert saved.status_code == 200 and saved.headers.get("HX-Redirect", "").endswith(url)
    html = client.get(url).get_data(as_text=True)
    assert "Sacral dressing renewed." in html
    from app.domain.nursing_notes.models import NursingNote

    note = db_session.query(NursingNote).filter_by(encounter_id=encounter.id).one()
    amend = f"/wards/notes/{note.id}/amend"
    assert client.get(amend).status_code == 200
    no_reason = client.post_form(amend, {"text": "Heel dressing renewed.", "reason": ""}, htmx=True)
    assert no_reason.status_code == 422 and "Say why the note is amended." in no_reason.get_data(as_text=True)
    ok = client.post_form(amend, {"text": "Heel dressing renewed.", "reason": "Wrong site"}, htmx=True)
    assert ok.status_code == 200
    html = client.get(url).get_data(as_text=True)
    assert "Heel dressing renewed." in html and "amended" in html and "Sacral dressing renewed." in html
    filtered = client.get(f"{url}?category=nutrition").get_data(as_text=True)
    assert "Heel dressing renewed." not in filtered


def test_notes_of_another_ward_are_403(client: Any, db_session: Any, login_as: Any) -> None:
    _w, encounter = setup_stay(db_session)
    other = factories.ward(db_session)
    db_session.commit()
    login_as("nurse", [other.id])
    url = f"/wards/encounters/{encounter.id}/notes"
    assert client.get(url).status_code == 403
    assert client.post_form(url, {"category": "general", "text": "x"}).status_code == 403


def test_a_note_time_is_placed_beside_its_field_and_means_last_night_after_midnight(
        client: Any, db_session: Any, login_as: Any) -> None:
    from datetime import UTC, datetime

    from app.core import clock
    from app.domain.nursing_notes.models import NursingNote

    w, encounter = setup_stay(db_session)
    encounter.started_at = datetime(2026, 6, 1, tzinfo=UTC)
    db_session.commit()
    login_as("nurse", [w.id])
    url = f"/wards/encounters/{encounter.id}/notes"
    bad = client.post_form(url, {"category": "care", "text": "Settled.", "noted_at": "99999999999999999999:00"},
                           htmx=True)
    assert bad.status_code == 422
    assert 'id="note-noted-at-error">Give the time as HH:MM (24-hour clock).' in bad.get_data(as_text=True)
    with clock.freeze(datetime(2026, 6, 10, 23, 10, tzinfo=UTC)):  # 00:10 BST
        ok = client.post_form(url, {"category": "care", "text": "Settled.", "noted_at": "23:50"}, htmx=True)
    assert ok.status_code == 200, ok.get_data(as_text=True)
    note = db_session.query(NursingNote).filter_by(encounter_id=encounter.id).one()
    assert note.noted_at == datetime(2026, 6, 10, 22, 50, tzinfo=UTC)


def test_an_amendment_after_someone_elses_shows_their_version(client: Any, db_session: Any, login_as: Any,
                                                               make_user: Any) -> None:
    from app.domain.nursing_notes import services as notes

    w, encounter = setup_stay(db_session)
    other = make_user("nurse", [w.id])
    note = notes.add_note(db_session, other, encounter.id, "care", "Turned two-hourly.")
    db_session.commit()
    login_as("nurse", [w.id])
    amend = f"/wards/notes/{note.id}/amend"
    assert client.get(amend).status_code == 200  # this nurse opens the form...
    theirs = notes.amend_note(db_session, other, note.id, "Turned three-hourly.", "Wrong interval")
    db_session.commit()  # ...and the other nurse saves first
    response = client.post_form(amend, {"text": "Turned hourly.", "reason": "Wrong interval"}, htmx=True)
    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone amended this note first; here is their version" in body
    assert "Turned three-hourly." in body and "Turned hourly." in body  # theirs, and mine kept
    assert f'action="/wards/notes/{theirs.id}/amend"' in body
