"""Printing: what may be printed, by whom, and the record that it was.

Small printouts (a wristband) render during the request. Long documents (an audit extract)
become print jobs: a `PrintJob` row plus a due row on the `pdf` queue; the job renders the PDF
into the row, and only the person who asked may fetch it. Every printout is recorded in the
audit trail with who printed what, and when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from app.core import audit, barcodes, clock, jobs
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.pdf import render_pdf, svg_data_uri
from app.core.security import Actor, Perm, authorize
from app.domain.identity.models import User
from app.domain.oversight import services as oversight
from app.domain.patients.models import Patient
from app.domain.patients.services import get_patient
from app.domain.printing.layout import label_layout
from app.domain.printing.models import PrintJob

log = logging.getLogger("infirmary.printing")

LABEL_STYLESHEETS = ("print/label.css",)
RENDER_JOB = "print.render"  # the due-row kind that renders a print job
DEFAULT_RETENTION_HOURS = 24
SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}


@dataclass(frozen=True)
class Printout:
    pdf: bytes
    filename: str


# --- labels, printed at once ---------------------------------------------------------------

def _render_label(template: str, patient: Patient, size: str, **context: object) -> bytes:
    """A patient label on stock of CSS size `size`: name, sex and the MRN as Code 128 and
    DataMatrix, laid out for that stock."""
    layout = label_layout(size, patient.mrn, patient.name)
    return render_pdf(
        template,
        stylesheets=LABEL_STYLESHEETS,
        css=(layout.stylesheet(),),
        patient=patient,
        layout=layout,
        sex=SEX_LABELS.get(patient.sex, patient.sex),
        code128=svg_data_uri(barcodes.code128_svg(
            patient.mrn, module_width=layout.code128_module, bar_height=layout.code128_height,
            human_readable=False)),
        datamatrix=svg_data_uri(barcodes.datamatrix_svg(
            patient.mrn, module_size=layout.datamatrix_module)),
        **context,
    )


def render_wristband(patient: Patient, size: str) -> bytes:
    """The wristband PDF for `patient` on label stock of CSS size `size` (no checks, no record:
    callers go through `print_wristband`)."""
    return _render_label("wristband.html", patient, size)


def print_wristband(session: DbSession, actor: Actor, patient_id: int) -> Printout:
    """Print a patient's wristband: the actor must see the patient (ward scope, or an open
    break-the-glass grant) and may print labels. Recorded as `print.wristband`; the caller
    commits."""
    patient = get_patient(session, actor, patient_id)
    authorize(actor, Perm.PRINT_LABELS, patient)
    size = str(current_app.config["PRINT_LABEL_SIZE"])
    pdf = render_wristband(patient, size)
    audit.record(session, actor, "print.wristband", patient, patient_id=patient.id,
                 after={"mrn": patient.mrn, "label_size": size, "bytes": len(pdf)})
    return Printout(pdf, f"wristband-{patient.mrn}.pdf")


MAX_ID_LABEL_COPIES = 20


def render_id_label(patient: Patient, size: str, copies: int = 1) -> bytes:
    """The patient ID label (for notes and specimen bags): name, date of birth, sex and the MRN
    as Code 128 (and DataMatrix), one label per page, `copies` pages."""
    return _render_label("id_label.html", patient, size, copies=copies)


def print_id_label(session: DbSession, actor: Actor, patient_id: int, copies: int = 1) -> Printout:
    """Print `copies` ID labels on the configured label stock (PRINT_LABEL_SIZE). The same
    checks as the wristband; recorded as `print.id_label` with the number of copies."""
    if not 1 <= copies <= MAX_ID_LABEL_COPIES:
        raise DomainError(f"Print between 1 and {MAX_ID_LABEL_COPIES} labels.", field="copies")
    patient = get_patient(session, actor, patient_id)
    authorize(actor, Perm.PRINT_LABELS, patient)
    size = str(current_app.config["PRINT_LABEL_SIZE"])
    pdf = render_id_label(patient, size, copies)
    audit.record(session, actor, "print.id_label", patient, patient_id=patient.id,
                 after={"mrn": patient.mrn, "label_size": size, "copies": copies,
                        "bytes": len(pdf)})
    return Printout(pdf, f"id-label-{patient.mrn}.pdf")


# --- print jobs: long documents rendered on the pdf queue -----------------------------------

Renderer = Callable[[DbSession, User, dict[str, Any]], bytes]


@dataclass(frozen=True)
class PrintKind:
    perm: Perm  # needed to ask for the document, and still needed to fetch it
    title: str
    filename: str
    render: Renderer  # renders and records the printout in the audit trail


KINDS: dict[str, PrintKind] = {}


def _audit_filter(parameters: dict[str, Any]) -> oversight.AuditFilter:
    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    return oversight.AuditFilter(
        mrn=parameters.get("mrn", ""), username=parameters.get("username", ""),
        action=parameters.get("action", ""), date_from=day(parameters.get("date_from")),
        date_to=day(parameters.get("date_to")),
    )


def _render_audit_extract(session: DbSession, actor: User, parameters: dict[str, Any]) -> bytes:
    f = _audit_filter(parameters)
    tz = current_app.config["HOSPITAL_TIMEZONE"]
    selection = oversight.select_for_export(
        session, actor, f, tz, int(current_app.config["AUDIT_EXPORT_MAX_ROWS"]))
    pdf = render_pdf("audit_extract.html", rows=selection.rows,
                     mrns=oversight.mrns_for(session, selection.rows),
                     truncated=selection.truncated, filter=f, printed_by=actor.label)
    # Recorded once the document exists, so the audit chain is not locked while it renders.
    oversight.record_export(session, actor, selection, "pdf")
    return pdf


KINDS["audit_extract"] = PrintKind(
    perm=Perm.AUDIT_EXPORT, title="Audit extract", filename="audit-extract.pdf",
    render=_render_audit_extract,
)


def request_audit_extract(
    session: DbSession, actor: Actor, f: oversight.AuditFilter, tz: str
) -> PrintJob:
    """Queue an audit extract PDF for the actor. The filter is checked now, so a mistyped MRN
    is answered beside its field rather than by a failed job. The caller commits."""
    authorize(actor, Perm.AUDIT_EXPORT)
    oversight.select_for_export(session, actor, f, tz, limit=0)  # raises on a bad filter
    parameters = {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(f).items()}
    return _queue(session, actor, "audit_extract", parameters)


def _queue(session: DbSession, actor: Actor, kind: str, parameters: dict[str, Any]) -> PrintJob:
    if actor.id is None:
        raise Forbidden("Print jobs are for people; a system process renders directly.")
    spec = KINDS[kind]
    job = PrintJob(requested_by_id=actor.id, kind=kind, parameters=parameters,
                   status="queued", filename=spec.filename, created_at=clock.now())
    session.add(job)
    session.flush()
    jobs.schedule(session, RENDER_JOB, {"print_job_id": job.id}, queue="pdf",
                  dedupe_key=f"print-job:{job.id}")
    return job


def produce(session: DbSession, print_job_id: int) -> str:
    """Render a queued print job (run by the `pdf` queue; ids in, nothing else).

    Runs as the person who asked, with their permissions as they are now. A refusal or a
    rendering error marks the job failed, with a message the person can act on, and leaves
    nothing else behind; running it again after it finished does nothing."""
    job = session.get(PrintJob, print_job_id)
    if job is None or job.status != "queued":
        return "skipped"
    requester = session.get(User, job.requested_by_id)
    spec = KINDS.get(job.kind)
    try:
        with session.begin_nested():
            if requester is None or not requester.is_active:
                raise Forbidden("The account that asked for this document is no longer active.")
            if spec is None:
                raise DomainError(f"Unknown kind of print job: {job.kind}.")
            authorize(requester, spec.perm)
            pdf = spec.render(session, requester, job.parameters)
    except DomainError as exc:
        _finish(job, error=exc.message)
        return "failed"
    except Exception:  # any other failure ends the job; the log has the details
        log.exception("print job failed", extra={"print_job_id": job.id, "kind": job.kind})
        _finish(job, error="The document could not be produced. Ask again, or tell IT "
                           f"(print job {job.id}).")
        return "failed"
    job.pdf = pdf
    job.size_bytes = len(pdf)
    _finish(job)
    session.flush()
    return "done"


def _finish(job: PrintJob, error: str | None = None) -> None:
    job.status = "failed" if error else "done"
    job.error = error
    job.finished_at = clock.now()


STALLED_AFTER = timedelta(minutes=1)


def is_stalled(job: PrintJob, now: datetime | None = None) -> bool:
    """Queued for longer than a document takes: the pdf queue is busy, or nobody is serving it."""
    return job.status == "queued" and (now or clock.now()) - job.created_at > STALLED_AFTER


def get_print_job(session: DbSession, actor: Actor, print_job_id: int) -> PrintJob:
    """A print job, for the person who asked for it only (and only while they still hold the
    permission the document needs)."""
    job = session.get(PrintJob, print_job_id)
    if job is None:
        raise NotFound("No such print job. Finished documents are kept for a limited time.")
    if actor.id is None or job.requested_by_id != actor.id:
        raise Forbidden("Only the person who asked for this document may see it.")
    spec = KINDS.get(job.kind)
    if spec is None:
        raise NotFound("No such print job.")
    authorize(actor, spec.perm)
    return job


def take_print_job(session: DbSession, actor: Actor, print_job_id: int) -> Printout:
    """The finished document, for the person who asked. Each download is recorded
    (`print.downloaded`); the caller commits."""
    job = get_print_job(session, actor, print_job_id)
    if job.status != "done" or job.pdf is None:
        raise Conflict("This document is not ready." if job.status == "queued"
                       else "This document could not be produced.")
    audit.record(session, actor, "print.downloaded", job,
                 after={"kind": job.kind, "filename": job.filename, "bytes": job.size_bytes})
    return Printout(job.pdf, job.filename)


def purge_expired(session: DbSession, now: datetime | None = None) -> int:
    """Delete print jobs older than the retention period (their PDFs hold patient data)."""
    hours = int(current_app.config.get("PRINT_JOB_RETENTION_HOURS", DEFAULT_RETENTION_HOURS))
    cutoff = (now or clock.now()) - timedelta(hours=hours)
    ids = list(session.scalars(select(PrintJob.id).where(PrintJob.created_at < cutoff)))
    if ids:
        session.execute(delete(PrintJob).where(PrintJob.id.in_(ids)))
        session.flush()
    return len(ids)
