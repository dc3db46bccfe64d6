"""Junk in the chart's query strings is a 422 or "not given", never a 500."""

from __future__ import annotations

from typing import Any

from tests import factories

JUNK = ["²", "٣", "9" * 25, "-1"]


def test_id_label_copies_that_are_not_a_number_are_refused(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session, "Okafor", "Chidi", sex="male")
    db_session.commit()
    login_as("reception")
    for junk in JUNK:
        response = client.get(f"/patients/{p.id}/id-label.pdf?copies={junk}")
        assert response.status_code == 422, (junk, response.status_code)
        assert "Print between 1 and" in response.get_data(as_text=True)


def test_registration_prefill_ignores_days_out_of_range(client: Any, login_as: Any) -> None:
    login_as("reception")
    for day in ("9999-12-31", "0001-01-01", "²"):
        response = client.get(f"/patients/new?family_name=Okafor&birth_date={day}")
        assert response.status_code == 200, (day, response.status_code)
        assert day not in response.get_data(as_text=True)
    assert "1988-03-14" in client.get("/patients/new?birth_date=1988-03-14").get_data(as_text=True)
