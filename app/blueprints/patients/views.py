from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.patients import bp
from app.blueprints.patients.forms import BreakGlassForm, EditPatientForm, PatientForm
from app.core import clock
from app.core.errors import DomainError, Forbidden
from app.core.htmx import invalid, redirect_to, render
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.core.web import parse_day, parse_id
from app.domain.admissions.services import current_encounters
from app.domain.patients import history
from app.domain.patients import services as patients
from app.domain.printing import services as printing
from app.domain.registry.duplicates import PossibleDuplicates
from app.extensions import db


def _today() -> date:
    return clock.today_local(current_app.config["HOSPITAL_TIMEZONE"])


@bp.route("/")
@require(Perm.PATIENT_READ)
def list_patients() -> Response:
    """The reception search (search-first registration): one box, results as you type."""
    q = request.args.get("q", "")
    context: dict[str, Any] = {"q": q, "today": _today(), "result": None, "error": None,
                               "encounters": {}, "last_visits": {}}
    try:
        result = patients.visible_patients(db.session, current_user, q)
    except DomainError as exc:
        if exc.field != "q":
            raise
        # Answered before any query runs: a wrong check digit must not find the wrong patient.
        context["error"] = exc.message
        return render("patients/list.html", "patients/_results.html", status=422, **context)
    context["result"] = result
    if result.rows:
        context["encounters"] = current_encounters(db.session, [p.id for p in result])
    # The hospital's calendar day of each last visit, converted once here rather than by a
    # date-time filter per row (it dominated the fragment's rendering time).
    tz = current_app.config["HOSPITAL_TIMEZONE"]
    context["last_visits"] = {r.patient.id: clock.to_local(r.last_visit, tz).date()
                              for r in result.rows if r.last_visit is not None}
    return render("patients/list.html", "patients/_results.html", **context)


def _form_failed(form: PatientForm) -> None:
    """The form's own checks failed (a missing date): the domain's verdict on the other fields
    too, so that every error shows at once."""
    problems = patients.demographics_problems(form.demographics())
    for name, message in problems.items():
        field = getattr(form, name, None)
        if field is not None and not field.errors:
            field.errors = [*field.errors, message]


@bp.route("/new", methods=["GET", "POST"])
@require(Perm.PATIENT_WRITE)
def register_patient() -> Response:
    """Register a new patient; the form arrives pre-filled from a search that found nobody."""
    if request.method == "GET":
        form = PatientForm(formdata=None, data=_prefill(request.args))
        return render("patients/register.html", form=form, matches=[])
    form = PatientForm()
    matches: list[Any] = []
    if not form.validate_on_submit():
        _form_failed(form)
    else:
        try:
            patient = patients.register_patient(db.session, current_user, form.demographics(),
                                                duplicate_reason=form.duplicate_reason.data)
        except PossibleDuplicates as exc:
            db.session.rollback()
            matches = exc.matches
            if (form.duplicate_reason.data or "").strip():
                form.duplicate_reason.errors = [*form.duplicate_reason.errors,
                                                _("Give a reason of at least 5 characters.")]
        except DomainError as exc:
            db.session.rollback()
            form.show_errors(exc)
        else:
            db.session.commit()
            flash(_("Registered %(name)s, MRN %(mrn)s.", name=patient.name, mrn=patient.mrn),
                  "success")
            return redirect_to(url_for("patients.view_patient", patient_id=patient.id))
    return invalid("patients/register.html", "patients/_patient_form.html", form=form,
                   matches=matches, today=_today())


def _prefill(args: Any) -> dict[str, Any]:
    data: dict[str, Any] = {k: args.get(k) for k in
                            ("family_name", "given_names", "phone", "national_id") if args.get(k)}
    if (birth_date := parse_day(args.get("birth_date"))) is not None:
        data["birth_date"] = birth_date
    return data


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@require(Perm.PATIENT_WRITE)
def edit_patient(patient_id: int) -> Response:
    """Correct or update demographics. Optimistic locking: a form opened before someone else
    saved is answered 409, with their values shown and the clerk's entries kept."""
    patient = patients.get_patient(db.session, current_user, patient_id, Perm.PATIENT_WRITE)
    if request.method == "GET":
        form = EditPatientForm(formdata=None, obj=patient)
        form.version.data = str(patient.version)
        return render("patients/edit.html", form=form, patient=patient, matches=[], stale=None,
                      today=_today())
    form = EditPatientForm()
    matches: list[Any] = []
    stale: dict[str, Any] | None = None
    status = 422
    if not form.validate_on_submit():
        _form_failed(form)
    else:
        try:
            patients.update_demographics(
                db.session, current_user, patient_id, form.demographics(),
                expected_version=form.expected_version(), change=form.change.data or "",
                reason=form.reason.data, duplicate_reason=form.duplicate_reason.data)
        except patients.StaleRecord as exc:
            db.session.rollback()
            status = 409
            patient = patients.get_patient(db.session, current_user, patient_id,
                                           Perm.PATIENT_WRITE)
            stale = history.snapshot(patient)
            form.version.data = str(patient.version)  # saving again applies on top of theirs
            form.form_errors.append(exc.message)
        except PossibleDuplicates as exc:
            db.session.rollback()
            matches = exc.matches
        except DomainError as exc:
            db.session.rollback()
            form.show_errors(exc)
        else:
            db.session.commit()
            flash(_("Saved the changes to %(name)s.", name=patient.name), "success")
            return redirect_to(url_for("patients.view_patient", patient_id=patient_id))
    return render("patients/edit.html", "patients/_patient_form.html", status=status, form=form,
                  patient=patient, matches=matches, stale=stale, today=_today())


@bp.route("/<int:patient_id>/history")
@require(Perm.PATIENT_READ)
def patient_history(patient_id: int) -> Response:
    versions = history.patient_history(db.session, current_user, patient_id)
    patient = patients.get_patient(db.session, current_user, patient_id)
    return render("patients/history.html", patient=patient, versions=versions, today=_today(),
                  labels=history.FIELD_LABELS)


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


@bp.route("/<int:patient_id>/id-label.pdf")
@require(Perm.PRINT_LABELS)
def print_id_label(patient_id: int) -> Response:
    copies = request.args.get("copies", "1")
    printout = printing.print_id_label(db.session, current_user, patient_id,
                                       copies=parse_id(copies) or 0)
    db.session.commit()  # the printout is recorded
    return pdf_response(printout.pdf, printout.filename, inline=True)
