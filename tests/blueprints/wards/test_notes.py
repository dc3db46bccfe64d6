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
