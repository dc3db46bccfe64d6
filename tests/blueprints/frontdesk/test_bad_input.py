"""Junk in the desk's query strings and forms is a 422 or "no filter", never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from app.core import clock
from tests.domain.frontdesk import support
from tests.domain.frontdesk.support import MONDAY_9AM

JUNK = ["²", "٣", "9" * 25, "-1"]


@pytest.fixture()
def monday() -> Iterator[Any]:
    with clock.freeze(MONDAY_9AM) as traveller:
        yield traveller


def test_desk_and_queue_filters_ignore_junk(client: Any, db_session: Any, login_as: Any, monday: Any) -> None:
    support.clinic(db_session, department="cardiology", name="Heart clinic")
    db_session.commit()
    login_as("reception")
    for junk in JUNK:
        for url in (f"/frontdesk/?clinic={junk}", f"/frontdesk/?patient_id={junk}",
                    f"/frontdesk/queues/cardiology?clinic={junk}"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        called = client.post_form(f"/frontdesk/queues/cardiology/call-next?clinic={junk}", {"room": "Desk 1"},
                                  htmx=True)
        assert called.status_code in (200, 422), (junk, called.status_code)


def test_walk_in_with_a_junk_clinic_is_a_form_error(client: Any, db_session: Any, login_as: Any,
                                                    monday: Any) -> None:
    login_as("reception")
    for junk in JUNK:
        response = client.post_form("/frontdesk/walk-in", {"mrn": "X", "clinic_id": junk}, htmx=True)
        assert response.status_code == 422, (junk, response.status_code)


def test_no_show_report_refuses_days_out_of_range(client: Any, login_as: Any, monday: Any) -> None:
    login_as("reception")
    for query in ("until=9999-12-31", "since=0001-01-01", "since=9999-12-31&until=9999-12-31", "until=²"):
        response = client.get(f"/frontdesk/reports/no-shows?{query}")
        assert response.status_code == 422, (query, response.status_code)
    out_of_range = client.get("/frontdesk/reports/no-shows?until=9999-12-31").get_data(as_text=True)
    assert "Enter a date between 1900-01-01 and 2199-12-31" in out_of_range
    assert client.get("/frontdesk/reports/no-shows?until=2026-11-23").status_code == 200
