"""Printing a wristband from the chart: a real PDF on the configured stock that scanners read,
with every printout recorded."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from tests import factories, pdf_tools


def _seed(db_session: Any) -> tuple[Any, Any, Any]:
    w = factories.ward(db_session, beds=3)
    wang = factories.admitted(db_session, w, factories.patient(db_session, family="王", given="秀英"))
    nguyen = factories.admitted(db_session, w, factories.patient(db_session, family="Nguyễn", given="Thị Mai"))
    db_session.commit()
    return w, wang, nguyen


def _printed(db_session: Any) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.wristband")))


def test_the_chart_offers_the_wristband_only_to_those_who_print_labels(client: Any, login_as: Any, db_session: Any) -> None:
    w, wang, _ = _seed(db_session)
    login_as("nurse", ward_ids=[w.id])
    page = client.get(f"/patients/{wang.id}").get_data(as_text=True)
    assert 'id="print-wristband"' in page and f'href="/patients/{wang.id}/wristband.pdf"' in page
    client.post_form("/logout")
    login_as("doctor")
    assert 'id="print-wristband"' not in client.get(f"/patients/{wang.id}").get_data(as_text=True)


def test_a_wristband_is_a_real_pdf_with_cjk_and_accented_names(client: Any, login_as: Any, db_session: Any, app: Any) -> None:
    w, wang, nguyen = _seed(db_session)
    user = login_as("nurse", ward_ids=[w.id])
    response = client.get(f"/patients/{wang.id}/wristband.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="wristband-{wang.mrn}.pdf"'
    pdf = response.get_data()
    text = pdf_tools.text(pdf)
    assert "王, 秀英" in text and wang.mrn in text and "DOB 17 May 1980" in text and "Female" in text
    fonts = pdf_tools.fonts(pdf)
    assert any("Noto-Sans-CJK" in f["name"] and f["emb"] == "yes" for f in fonts), fonts
    assert all(f["emb"] == "yes" for f in fonts)
    width, height = pdf_tools.page_size_mm(pdf)
    assert (round(width, 1), round(height, 1)) == (62.0, 29.0)
    assert pdf_tools.barcodes(pdf) == {("Code128", wang.mrn), ("DataMatrix", wang.mrn)}
    accented = pdf_tools.text(client.get(f"/patients/{nguyen.id}/wristband.pdf").get_data())
    assert "NGUYỄN, Thị Mai" in accented
    [first, second] = _printed(db_session)
    assert (first.actor_id, first.patient_id, second.patient_id) == (user.id, wang.id, nguyen.id)


@pytest.mark.parametrize("size", ["25mm 250mm", "250mm 25mm"])
def test_wristband_stock_comes_from_config(client: Any, login_as: Any, db_session: Any, app: Any, monkeypatch: Any, size: str) -> None:
    _, wang, _ = _seed(db_session)
    monkeypatch.setitem(app.config, "PRINT_LABEL_SIZE", size)
    login_as("reception")
    pdf = client.get(f"/patients/{wang.id}/wristband.pdf").get_data()
    width, height = pdf_tools.page_size_mm(pdf)
    assert f"{round(width)}mm {round(height)}mm" == size
    assert "秀英" in pdf_tools.text(pdf)
    assert pdf_tools.barcodes(pdf, dpi=200) == {("Code128", wang.mrn), ("DataMatrix", wang.mrn)}


def test_roles_without_the_permission_and_nurses_outside_their_wards_are_refused(
    client: Any, login_as: Any, db_session: Any
) -> None:
    _, wang, _ = _seed(db_session)
    elsewhere = factories.ward(db_session)
    db_session.commit()
    login_as("doctor")
    assert client.get(f"/patients/{wang.id}/wristband.pdf").status_code == 403
    client.post_form("/logout")
    login_as("nurse", ward_ids=[elsewhere.id])
    refused = client.get(f"/patients/{wang.id}/wristband.pdf")
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert client.get("/patients/999999/wristband.pdf").status_code == 404
    assert _printed(db_session) == []
