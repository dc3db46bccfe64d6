"""The printed prescription from the prescribing pages: a PDF download for the doctor and the
pharmacist, refused to others, every print audited and reprints marked."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from app.core.audit import AuditEvent
from tests import factories, pdf_tools


def _written(db_session: Any, prescriber: Any = None) -> Any:
    p = factories.patient(db_session, "Nguyễn", "Thị Mai")
    rx = factories.verified_prescription(db_session, p, factories.drug(db_session), prescriber=prescriber)
    db_session.commit()
    return rx


def _url(app: Any, prescription_id: int, **kw: Any) -> str:
    with app.test_request_context():
        return url_for("prescribing.print_prescription", prescription_id=prescription_id, **kw)


def test_the_prescriber_downloads_the_prescription_then_a_reprint(app: Any, client: Any, login_as: Any, db_session: Any) -> None:
    doctor = login_as("doctor")
    rx = _written(db_session, prescriber=doctor)
    response = client.get(_url(app, rx.id))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="prescription-{rx.number}.pdf"'
    text = " ".join(pdf_tools.text(response.get_data()).split())
    assert "NGUYỄN, Thị Mai" in text and "Amoxicillin 500 MG Oral Tablet" in text
    assert "Take ONE tablet THREE times a day for 7 days." in text and doctor.full_name in text
    again = client.get(_url(app, rx.id, together=1))
    assert "REPRINT" in pdf_tools.text(again.get_data())
    rows = list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.prescription")))
    assert [(r.actor_id, r.patient_id, r.entity_id) for r in rows] == [(doctor.id, rx.patient_id, str(rx.id))] * 2


def test_a_pharmacist_may_print_it_and_a_nurse_may_not(app: Any, client: Any, login_as: Any, db_session: Any, make_user: Any) -> None:
    rx = _written(db_session)
    login_as("nurse")
    assert client.get(_url(app, rx.id)).status_code == 403
    client.post_form("/logout")
    login_as("reception")
    assert client.get(_url(app, rx.id)).status_code == 403
    client.post_form("/logout")
    login_as("pharmacist")
    assert client.get(_url(app, rx.id)).status_code == 200
    assert client.get(_url(app, rx.id + 1000)).status_code == 404
