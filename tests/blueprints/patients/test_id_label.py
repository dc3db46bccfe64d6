"""The patient ID label (notes, specimen bags) printed from the chart: a real PDF on the
configured label stock that scanners read, as many copies as asked, every print audited."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.core.audit import AuditEvent
from tests import factories, pdf_tools


def _printed(db_session: Any) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.id_label")))


def test_the_chart_offers_both_labels_to_those_who_print(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session, "Okafor", "Chidi", sex="male")
    db_session.commit()
    login_as("reception")
    chart = client.get(f"/patients/{p.id}").get_data(as_text=True)
    assert f'href="/patients/{p.id}/wristband.pdf"' in chart and f'href="/patients/{p.id}/id-label.pdf"' in chart
    client.post_form("/logout")
    login_as("doctor")
    chart = client.get(f"/patients/{p.id}").get_data(as_text=True)
    assert 'id="print-id-label"' not in chart
    assert client.get(f"/patients/{p.id}/id-label.pdf").status_code == 403
    assert _printed(db_session) == []


def test_an_id_label_is_scannable_and_every_print_is_audited(client: Any, login_as: Any, db_session: Any) -> None:
    p = factories.patient(db_session, "Nguyễn", "Thị Mai")
    db_session.commit()
    user = login_as("reception")
    response = client.get(f"/patients/{p.id}/id-label.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == f'inline; filename="id-label-{p.mrn}.pdf"'
    pdf = response.get_data()
    text = pdf_tools.text(pdf)
    assert "NGUYỄN, Thị Mai" in text and p.mrn in text and "DOB 17 May 1980" in text and "Female" in text
    width, height = pdf_tools.page_size_mm(pdf)
    assert (round(width, 1), round(height, 1)) == (62.0, 29.0)
    assert ("Code128", p.mrn) in pdf_tools.barcodes(pdf)
    three = client.get(f"/patients/{p.id}/id-label.pdf?copies=3").get_data()
    info = pdf_tools._run(three, ["pdfinfo"])
    assert re.search(r"Pages:\s+3\b", info), info
    assert client.get(f"/patients/{p.id}/id-label.pdf?copies=50").status_code == 422
    rows = _printed(db_session)
    assert [(r.actor_id, r.patient_id) for r in rows] == [(user.id, p.id), (user.id, p.id)]
    assert '"copies":3' in rows[1].after


def test_a_nurse_prints_labels_only_for_her_wards(client: Any, login_as: Any, db_session: Any) -> None:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    here = factories.admitted(db_session, mine, factories.patient(db_session, family="Here"))
    there = factories.admitted(db_session, other, factories.patient(db_session, family="There"))
    db_session.commit()
    login_as("nurse", ward_ids=[mine.id])
    assert client.get(f"/patients/{here.id}/id-label.pdf").status_code == 200
    assert client.get(f"/patients/{there.id}/id-label.pdf").status_code == 403
    assert [r.patient_id for r in _printed(db_session)] == [here.id]
