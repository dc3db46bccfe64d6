"""Dispensing labels from the pharmacy's pages: a PDF download on label stock, counted and
audited, REPRINT on every print after the first; pharmacists only."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy import select

from app.core.audit import AuditEvent
from tests import factories, pdf_tools


def _supply(db_session: Any) -> Any:
    p = factories.patient(db_session, "王", "秀英")
    d = factories.drug(db_session, name="Salbutamol 100 MCG/ACTUAT Metered Dose Inhaler",
                       generic_name="salbutamol", form="Metered Dose Inhaler", strength="100 MCG/ACTUAT",
                       route="inhalation", dose_unit="puff", stock_unit="inhaler",
                       dose_per_stock_unit=None, pack_size=1, default_dose=2, max_single_dose=4,
                       max_daily_dose=16)
    rx = factories.verified_prescription(db_session, p, d, dose=2, dose_unit="puff", route="inhalation",
                                         frequency="BID", duration_days=None, quantity=2)
    dispensing = factories.dispensed(db_session, rx)
    db_session.commit()
    return dispensing


def _urls(app: Any, dispensing_id: int) -> tuple[str, str]:
    with app.test_request_context():
        return (url_for("pharmacy.print_dispensing_label", dispensing_id=dispensing_id),
                url_for("pharmacy.print_label_sheet", dispensing_id=dispensing_id))


def test_a_pharmacist_downloads_the_label_and_then_a_marked_reprint(app: Any, client: Any, login_as: Any, db_session: Any) -> None:
    supply = _supply(db_session)
    label_url, sheet_url = _urls(app, supply.id)
    pharmacist = login_as("pharmacist")
    response = client.get(label_url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="label-{supply.number}.pdf"'
    text = " ".join(pdf_tools.text(response.get_data()).split())
    assert "王, 秀英" in text and "Inhale TWO puffs twice a day." in text and "Qty 2 inhalers" in text
    assert "REPRINT" not in text
    again = " ".join(pdf_tools.text(client.get(label_url).get_data()).split())
    assert "REPRINT 2" in again
    sheet = client.get(sheet_url)
    assert sheet.status_code == 200
    assert "REPRINT 3" in pdf_tools.text(sheet.get_data())
    rows = list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.dispensing_label")
                                   .order_by(AuditEvent.seq)))
    assert [(r.actor_id, r.patient_id, r.entity_id) for r in rows] == [(pharmacist.id, supply.patient_id, str(supply.id))] * 3
    assert ['"reprint":true' in (r.after or "") for r in rows] == [False, True, True]
    db_session.refresh(supply)
    assert supply.label_prints == 3


def test_a_nurse_may_not_print_dispensing_labels(app: Any, client: Any, login_as: Any, db_session: Any) -> None:
    supply = _supply(db_session)
    label_url, sheet_url = _urls(app, supply.id)
    login_as("nurse")
    assert client.get(label_url).status_code == 403
    assert client.get(sheet_url).status_code == 403
    db_session.refresh(supply)
    assert supply.label_prints == 0


def test_an_unknown_dispensing_is_404(app: Any, client: Any, login_as: Any, db_session: Any) -> None:
    label_url, sheet_url = _urls(app, 987654)
    login_as("pharmacist")
    assert client.get(label_url).status_code == 404
    assert client.get(sheet_url).status_code == 404
