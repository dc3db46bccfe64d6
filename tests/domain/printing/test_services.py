"""Printing rules: who may print what, what is recorded, and how print jobs run and fail.

(The db_session fixture keeps an app context open, as a job's runner does.)"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import audit, clock, jobs
from app.core.audit import AuditEvent
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.security import SYSTEM
from app.domain.oversight.services import AuditFilter
from app.domain.patients import services as patients
from app.domain.printing import services as printing
from app.domain.printing.models import PrintJob
from tests import factories, pdf_tools


def _events(db_session: Any, action: str) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture()
def wards(db_session: Any) -> tuple[Any, Any, Any, Any]:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    here = factories.admitted(db_session, mine, factories.patient(db_session, family="王", given="秀英"))
    there = factories.admitted(db_session, other, factories.patient(db_session, family="There"))
    db_session.commit()
    return mine, other, here, there


def test_a_wristband_is_printed_and_recorded(app: Any, db_session: Any, make_user: Any, wards: Any) -> None:
    mine, _other, here, _there = wards
    nurse = make_user("nurse", ward_ids=[mine.id])
    with app.test_request_context():
        printout = printing.print_wristband(db_session, nurse, here.id)
    assert printout.filename == f"wristband-{here.mrn}.pdf"
    assert "王, 秀英" in pdf_tools.text(printout.pdf) and here.mrn in pdf_tools.text(printout.pdf)
    [event] = _events(db_session, "print.wristband")
    assert (event.actor_id, event.patient_id, event.entity_type) == (nurse.id, here.id, "patient")
    assert json.loads(event.after or "{}")["label_size"] == app.config["PRINT_LABEL_SIZE"]


def test_printing_follows_ward_scope_and_break_the_glass(app: Any, db_session: Any, make_user: Any, wards: Any) -> None:
    mine, _other, _here, there = wards
    nurse = make_user("nurse", ward_ids=[mine.id])
    with app.test_request_context():
        with pytest.raises(Forbidden):
            printing.print_wristband(db_session, nurse, there.id)
        patients.break_glass(db_session, nurse, there.id, "Patient transferred to us tonight")
        assert printing.print_wristband(db_session, nurse, there.id).pdf.startswith(b"%PDF-")


def test_a_role_that_may_read_but_not_print_labels_is_refused(app: Any, db_session: Any, make_user: Any, wards: Any) -> None:
    doctor = make_user("doctor")
    with app.test_request_context(), pytest.raises(Forbidden):
        printing.print_wristband(db_session, doctor, wards[2].id)
    assert _events(db_session, "print.wristband") == []


def _queue_extract(db_session: Any, actor: Any, **filter_: Any) -> PrintJob:
    job = printing.request_audit_extract(db_session, actor, AuditFilter(**filter_), "Europe/London")
    db_session.commit()
    return job


def test_an_audit_extract_is_queued_with_plain_values_on_the_pdf_queue(app: Any, db_session: Any, make_user: Any, wards: Any) -> None:
    auditor = make_user("auditor")
    job = _queue_extract(db_session, auditor, mrn=wards[2].mrn)
    assert (job.status, job.kind, job.requested_by_id) == ("queued", "audit_extract", auditor.id)
    assert job.parameters["mrn"] == wards[2].mrn and job.parameters["date_from"] is None
    row = db_session.scalar(select(jobs.DueJob).where(jobs.DueJob.kind == printing.RENDER_JOB))
    assert (row.queue, json.loads(row.payload)) == ("pdf", {"print_job_id": job.id})
    # Nothing has left the system yet, so nothing is recorded as exported.
    assert _events(db_session, "audit.exported_pdf") == []


def test_a_bad_filter_is_refused_before_anything_is_queued(db_session: Any, make_user: Any) -> None:
    from app.core.errors import DomainError

    auditor = make_user("auditor")
    with pytest.raises(DomainError) as refused:
        printing.request_audit_extract(db_session, auditor, AuditFilter(username="nobody"), "UTC")
    assert refused.value.field == "username"
    assert db_session.scalar(select(func.count()).select_from(PrintJob)) == 0


def test_producing_a_job_stores_the_pdf_records_the_export_and_runs_once(app: Any, db_session: Any, make_user: Any, wards: Any) -> None:
    auditor = make_user("auditor")
    job = _queue_extract(db_session, auditor, mrn=wards[2].mrn)
    assert printing.produce(db_session, job.id) == "done"
    assert printing.produce(db_session, job.id) == "skipped"
    assert job.status == "done" and job.finished_at is not None and job.error is None
    assert job.pdf is not None and job.size_bytes == len(job.pdf)
    text = pdf_tools.text(job.pdf)
    assert "秀英" in text and f"Printed by {auditor.label}" in text
    [event] = _events(db_session, "audit.exported_pdf")
    assert (event.actor_id, event.patient_id) == (auditor.id, wards[2].id)


def test_a_requester_who_lost_the_permission_gets_a_failed_job_and_no_export(app: Any, db_session: Any, make_user: Any) -> None:
    from app.domain.identity.models import UserRole

    auditor = make_user("auditor")
    job = _queue_extract(db_session, auditor)
    auditor.roles = [UserRole(role_key="doctor")]
    db_session.commit()
    job_id = job.id
    db_session.expunge_all()  # the job runs in its own unit of work and loads the user afresh
    assert printing.produce(db_session, job_id) == "failed"
    job = db_session.get(PrintJob, job_id)
    assert job.status == "failed" and "may not" in (job.error or "")
    assert job.pdf is None and _events(db_session, "audit.exported_pdf") == []


def test_a_crash_while_rendering_fails_the_job_and_leaves_nothing_half_done(
    app: Any, db_session: Any, make_user: Any, monkeypatch: Any
) -> None:
    auditor = make_user("auditor")
    job = _queue_extract(db_session, auditor)

    def explode(session: Any, actor: Any, parameters: Any) -> bytes:
        audit.record(session, actor, "test.half_done")
        raise RuntimeError("printer on fire")

    spec = printing.KINDS["audit_extract"]
    monkeypatch.setitem(printing.KINDS, "audit_extract", printing.PrintKind(
        perm=spec.perm, title=spec.title, filename=spec.filename, render=explode))
    assert printing.produce(db_session, job.id) == "failed"
    assert job.status == "failed" and f"print job {job.id}" in (job.error or "")
    assert "printer on fire" not in (job.error or "")  # details go to the log, not the page
    assert _events(db_session, "test.half_done") == []


def test_only_the_requester_may_see_or_take_a_job(app: Any, db_session: Any, make_user: Any) -> None:
    auditor, colleague = make_user("auditor"), make_user("auditor")
    job = _queue_extract(db_session, auditor)
    with pytest.raises(Forbidden):
        printing.get_print_job(db_session, colleague, job.id)
    with pytest.raises(Forbidden):
        printing.get_print_job(db_session, SYSTEM, job.id)
    with pytest.raises(NotFound):
        printing.get_print_job(db_session, auditor, job.id + 1000)
    with pytest.raises(Conflict, match="not ready"):
        printing.take_print_job(db_session, auditor, job.id)
    printing.produce(db_session, job.id)
    printout = printing.take_print_job(db_session, auditor, job.id)
    assert printout.pdf.startswith(b"%PDF-") and printout.filename == "audit-extract.pdf"
    [event] = _events(db_session, "print.downloaded")
    assert (event.actor_id, event.entity_type, event.entity_id) == (auditor.id, "print_job", str(job.id))


def test_old_print_jobs_are_purged(app: Any, db_session: Any, make_user: Any) -> None:
    auditor = make_user("auditor")
    old, new = _queue_extract(db_session, auditor), _queue_extract(db_session, auditor)
    old.created_at = clock.now() - timedelta(hours=printing.DEFAULT_RETENTION_HOURS + 1)
    old_id, new_id = old.id, new.id
    db_session.commit()
    assert printing.purge_expired(db_session) == 1
    db_session.expunge_all()
    assert db_session.get(PrintJob, old_id) is None and db_session.get(PrintJob, new_id) is not None
