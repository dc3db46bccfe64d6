"""The auditor filters, pages and exports the trail; exports are themselves audited."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from typing import Any

from sqlalchemy import select

from app.core.audit import AuditEvent
from tests import factories


def _seed(db_session: Any) -> Any:
    w = factories.ward(db_session, beds=3)
    wang = factories.admitted(db_session, w, factories.patient(db_session, family="王", given="秀英"))
    factories.admitted(db_session, w, factories.patient(db_session, family="Müller", given="Jürgen", sex="male"))
    db_session.commit()
    return wang


def test_filter_by_patient_mrn(client: Any, login_as: Any, db_session: Any) -> None:
    wang = _seed(db_session)
    login_as("auditor")
    response = client.get(f"/audit/?mrn={wang.mrn}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "patient.registered" in body and "encounter.admitted" in body
    assert "Jürgen" not in body
    assert "王, 秀英".upper() in body or "王" in body


def test_bad_mrn_check_digit_is_explained_beside_the_field(client: Any, login_as: Any, db_session: Any) -> None:
    wang = _seed(db_session)
    login_as("auditor")
    wrong = wang.mrn[:-1] + str((int(wang.mrn[-1]) + 1) % 10)
    response = client.get_htmx(f"/audit/?mrn={wrong}")
    assert response.status_code == 422
    assert "check digit is wrong" in response.get_data(as_text=True)


def test_filter_by_user_action_and_dates_and_pages(client: Any, login_as: Any, make_user: Any, db_session: Any, app: Any) -> None:
    _seed(db_session)
    auditor = login_as("auditor")
    assert client.get("/audit/?username=nobody").status_code == 422
    response = client.get(f"/audit/?username={auditor.username}&action=auth.")
    assert "auth.login" in response.get_data(as_text=True)
    assert "patient.registered" not in response.get_data(as_text=True)
    bad_range = client.get("/audit/?date_from=2026-02-02&date_to=2026-01-01")
    assert bad_range.status_code == 422 and "start date is after the end date" in bad_range.get_data(as_text=True)
    # Paging: newest first, fixed page size.
    app.config["AUDIT_PAGE_SIZE"] = 2
    try:
        first = client.get("/audit/").get_data(as_text=True)
        second = client.get("/audit/?page=2").get_data(as_text=True)
    finally:
        app.config["AUDIT_PAGE_SIZE"] = 50
    top = db_session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    assert f'id="audit-{top}"' in first and f'id="audit-{top}"' not in second
    assert "Page 2 of" in second


def test_csv_export_holds_the_selection_and_is_audited(client: Any, login_as: Any, db_session: Any) -> None:
    wang = _seed(db_session)
    login_as("auditor")
    response = client.get(f"/audit/export.csv?mrn={wang.mrn}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][:4] == ["seq", "occurred_at", "actor_label", "action"]
    assert {r[3] for r in rows[1:]} == {"patient.registered", "encounter.admitted"}
    assert {r[-1] for r in rows[1:]} == {wang.mrn}
    exported = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported_csv"))
    assert exported is not None and exported.patient_id == wang.id


def test_pdf_export_is_a_real_pdf_with_cjk_names(
    client: Any, login_as: Any, db_session: Any, tmp_path: Any, app: Any, monkeypatch: Any
) -> None:
    from app.jobs.runner import tick

    wang = _seed(db_session)
    wang_id, wang_mrn = wang.id, wang.mrn  # the scheduler pass below ends this session
    login_as("auditor")
    # The PDF is a print job on the pdf queue: ask, let the scheduler deliver it, poll, download.
    monkeypatch.setitem(app.config, "REDIS_URL", "")  # embedded default: delivered in-process
    asked = client.post_form("/audit/export.pdf", {"mrn": wang_mrn}, htmx=True)
    assert asked.status_code == 202
    found = re.search(r'id="print-job-(\d+)"', asked.get_data(as_text=True))
    assert found is not None
    job_id = int(found.group(1))
    tick(app)
    assert 'data-status="done"' in client.get_htmx(f"/prints/{job_id}").get_data(as_text=True)
    response = client.get(f"/prints/{job_id}/file")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "extract.pdf"
    pdf.write_bytes(response.get_data())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Audit extract" in text and "patient.registered" in text and "秀英" in text
    assert "Printed by" in text
    exported = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.exported_pdf"))
    assert exported is not None and exported.patient_id == wang_id


def test_export_is_capped_and_says_so(client: Any, login_as: Any, db_session: Any, app: Any) -> None:
    _seed(db_session)
    login_as("auditor")
    app.config["AUDIT_EXPORT_MAX_ROWS"] = 3
    try:
        response = client.get("/audit/export.csv")
    finally:
        app.config["AUDIT_EXPORT_MAX_ROWS"] = 5000
    assert response.headers["X-Infirmary-Truncated"] == "true"
    assert len(list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))) == 4


def test_auditor_cannot_open_charts_and_clinicians_cannot_read_the_trail(client: Any, login_as: Any, db_session: Any) -> None:
    wang = _seed(db_session)
    login_as("auditor")
    assert client.get(f"/patients/{wang.id}").status_code == 403
    client.post_form("/logout")
    login_as("doctor")
    assert client.get("/audit/").status_code == 403
