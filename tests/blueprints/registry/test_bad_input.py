"""Junk ids in the merge form are a 422 beside the form, never a 500."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from app.domain.registry.models import PatientMerge
from tests import factories

JUNK = ["²", "٣", "9" * 25, "-1"]


def test_a_merge_with_junk_ids_is_answered_422(client: Any, login_as: Any, db_session: Any) -> None:
    a = factories.patient(db_session, "Fernández", "Lucía", birth_date=date(1988, 3, 14))
    b = factories.patient(db_session, "Fernandez", "Lucia", birth_date=date(1988, 3, 14), phone="07700 900777")
    db_session.commit()
    login_as("registry_supervisor")
    url = f"/registry/merge/{a.id}/{b.id}"
    form = {"survivor": str(a.id), "version_a": str(a.version), "version_b": str(b.version),
            "value_phone": str(b.id), "reason": "Same passport number seen today"}
    for junk in JUNK:
        survivor = client.post_form(url, {**form, "survivor": junk}, htmx=True)
        assert survivor.status_code == 422 and "Choose which record survives." in survivor.get_data(as_text=True)
        for field in ("value_phone", "version_a", "version_b"):
            # A short reason keeps the merge from happening: only the parsing is under test.
            response = client.post_form(url, {**form, field: junk, "reason": "short"}, htmx=True)
            assert response.status_code == 422, (field, junk, response.status_code)
    assert db_session.scalar(select(PatientMerge)) is None
