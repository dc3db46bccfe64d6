from __future__ import annotations

from datetime import date

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.patients import bp
from app.blueprints.patients.forms import BreakGlassForm
from app.core import clock
from app.core.errors import DomainError, Forbidden
from app.core.htmx import invalid, redirect_to, render
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.domain.admissions.services import current_encounters
from app.domain.patients import services as patients
from app.domain.printing import services as printing
from app.extensions import db


def _today() -> date:
    return clock.today_local(current_app.config["HOSPITAL_TIMEZONE"])


@bp.route("/")
@require(Perm.PATIENT_READ)
def list_patients() -> Response:
    q = request.args.get("q", "")
    rows = patients.visible_patients(db.session, current_user, q)
    encounters = current_encounters(db.session, [p.id for p in rows])
    return render("patients/list.html", "patients/_rows.html", patients=rows, q=q,
                  encounters=encounters, today=_today())


@bp.route("/<int:patient_id>")
@require(Perm.PATIENT_READ)
def view_patient(patient_id: int) -> Response:
    try:
        patient = patients.open_chart(db.session, current_user, patient_id)
    except Forbidden:
        db.session.rollback()
        if patients.may_break_glass(db.session, current_user, patient_id):
            return render("patients/break_glass.html", status=403, patient_id=patient_id, form=BreakGlassForm())
        abort(403)
    db.session.commit()  # the chart opening is audited
    encounter = current_encounters(db.session, [patient.id]).get(patient.id)
    return render("patients/chart.html", patient=patient, encounter=encounter, today=_today())


@bp.route("/<int:patient_id>/banner")
@require(Perm.PATIENT_READ)
def patient_banner(patient_id: int) -> Response:
    patient = patients.get_patient(db.session, current_user, patient_id)
    return render("patients/_banner.html", "patients/_banner.html", patient=patient, today=_today())


@bp.route("/<int:patient_id>/break-glass", methods=["POST"])
@require(Perm.BREAK_GLASS)
def break_glass(patient_id: int) -> Response:
    form = BreakGlassForm()
    if form.validate_on_submit():
        try:
            patients.break_glass(db.session, current_user, patient_id, form.reason.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.reason.errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Emergency access granted for a limited time. This access is recorded and reviewed."), "warning")
            return redirect_to(url_for("patients.view_patient", patient_id=patient_id))
    return invalid("patients/break_glass.html", "patients/_break_glass_form.html",
                   patient_id=patient_id, form=form)


@bp.route("/<int:patient_id>/wristband.pdf")
@require(Perm.PRINT_LABELS)
def print_wristband(patient_id: int) -> Response:
    printout = printing.print_wristband(db.session, current_user, patient_id)
    db.session.commit()  # the printout is recorded
    return pdf_response(printout.pdf, printout.filename, inline=True)
