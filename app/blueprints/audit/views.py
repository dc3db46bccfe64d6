"""The auditor's view of the trail: filter, page, export."""

from __future__ import annotations

import csv
import io

from flask import Response, current_app, request, url_for
from flask_login import current_user

from app.blueprints.audit import bp
from app.blueprints.audit.forms import AuditFilterForm
from app.core.errors import DomainError
from app.core.htmx import invalid, is_htmx, redirect_to, render
from app.core.security import Perm, require
from app.domain.oversight import services as oversight
from app.domain.printing import services as printing
from app.extensions import db


def _filter(form: AuditFilterForm) -> oversight.AuditFilter:
    return oversight.AuditFilter(
        mrn=(form.mrn.data or "").strip(), username=(form.username.data or "").strip(),
        action=(form.action.data or "").strip(), date_from=form.date_from.data, date_to=form.date_to.data,
    )


def _field_error(form: AuditFilterForm, exc: DomainError) -> None:
    field = getattr(form, exc.field or "", None)
    if field is not None:
        field.errors = [exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.route("/")
@require(Perm.AUDIT_READ)
def browse_audit() -> Response:
    form = AuditFilterForm(request.args)
    tz = current_app.config["HOSPITAL_TIMEZONE"]
    page_no = request.args.get("page", 1, type=int) or 1
    if not form.validate():
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    try:
        result = oversight.search(db.session, current_user, _filter(form), tz, page_no,
                                  current_app.config["AUDIT_PAGE_SIZE"])
    except DomainError as exc:
        _field_error(form, exc)
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    query = {k: v for k, v in request.args.items() if k != "page"}
    return render("audit/browse.html", "audit/_results.html", form=form, result=result, query=query)


@bp.route("/export.csv")
@require(Perm.AUDIT_EXPORT)
def export_audit_csv() -> Response:
    form = AuditFilterForm(request.args)
    tz = current_app.config["HOSPITAL_TIMEZONE"]
    if not form.validate():
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    try:
        rows, truncated = oversight.export(db.session, current_user, _filter(form), tz, "csv",
                                           current_app.config["AUDIT_EXPORT_MAX_ROWS"])
    except DomainError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    mrns = oversight.mrns_for(db.session, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(oversight.csv_rows(rows, mrns))
    body = buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 names correctly
    db.session.commit()  # the export is recorded only once it has been produced
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-extract.csv"'
    if truncated:
        response.headers["X-Infirmary-Truncated"] = "true"
    return response


@bp.route("/export.pdf", methods=["POST"])
@require(Perm.AUDIT_EXPORT)
def export_audit_pdf() -> Response:
    """Queue the PDF extract on the pdf queue; the answer polls until it can be downloaded."""
    form = AuditFilterForm(request.form)
    if form.validate():
        try:
            job = printing.request_audit_extract(db.session, current_user, _filter(form),
                                                 current_app.config["HOSPITAL_TIMEZONE"])
        except DomainError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            if not is_htmx():
                return redirect_to(url_for("prints.show_print_job", print_job_id=job.id))
            return render("prints/status.html", "prints/_status.html", status=202, job=job,
                          kind=printing.KINDS[job.kind], stalled=False)
    response = invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    # The button aims at the print-job list; a filter problem belongs with the results.
    response.headers["HX-Retarget"] = "#audit-results"
    response.headers["HX-Reswap"] = "outerHTML"
    return response
