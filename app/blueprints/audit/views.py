"""The auditor's view of the trail: filter, page, export."""

from __future__ import annotations

import csv
import io

from flask import Response, current_app, request
from flask_login import current_user

from app.blueprints.audit import bp
from app.blueprints.audit.forms import AuditFilterForm
from app.core.errors import DomainError
from app.core.htmx import invalid, render
from app.core.pdf import render_pdf
from app.core.security import Perm, require
from app.domain.oversight import services as oversight
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


def _export(fmt: str) -> Response:
    form = AuditFilterForm(request.args)
    tz = current_app.config["HOSPITAL_TIMEZONE"]
    if not form.validate():
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    try:
        rows, truncated = oversight.export(db.session, current_user, _filter(form), tz, fmt,
                                           current_app.config["AUDIT_EXPORT_MAX_ROWS"])
    except DomainError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return invalid("audit/browse.html", "audit/_results.html", form=form, result=None)
    mrns = oversight.mrns_for(db.session, rows)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerows(oversight.csv_rows(rows, mrns))
        body: bytes = buffer.getvalue().encode("utf-8-sig")  # Excel opens UTF-8 names correctly
        mimetype = "text/csv"
    else:
        body = render_pdf("audit_extract.html", rows=rows, mrns=mrns, truncated=truncated, filter=_filter(form),
                          printed_by=current_user.label)
        mimetype = "application/pdf"
    db.session.commit()  # the export is recorded only once it has been produced
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="audit-extract.{fmt}"'
    if truncated:
        response.headers["X-Infirmary-Truncated"] = "true"
    return response


@bp.route("/export.csv")
@require(Perm.AUDIT_EXPORT)
def export_audit_csv() -> Response:
    return _export("csv")


@bp.route("/export.pdf")
@require(Perm.AUDIT_EXPORT)
def export_audit_pdf() -> Response:
    return _export("pdf")
