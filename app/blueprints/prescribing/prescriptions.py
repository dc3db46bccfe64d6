"""A patient's medicines: the list, writing a prescription with live safety checks, and one
prescription's detail, history and actions (hold, resume, stop, cancel, change, answer a query)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from flask import Response, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.blueprints.prescribing import bp
from app.blueprints.prescribing.prescription_forms import (
    AnswerForm,
    PrescriptionForm,
    StatusForm,
    form_errors_into,
    local_to_utc,
    utc_to_local,
)
from app.core import clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import invalid, is_htmx, redirect_to, render
from app.core.security import Perm, can, require
from app.core.web import parse_id, parse_version
from app.domain.formulary import services as formulary
from app.domain.formulary.models import Drug
from app.domain.patients import services as patients
from app.domain.prescribing import documents, safety
from app.domain.prescribing import services as prescribing
from app.domain.prescribing.models import Prescription
from app.extensions import db

OUT_OF_DATE = "This form is out of date: reload the page and try again."
STATUS_ACTIONS = {"held": "Hold", "resumed": "Resume", "stopped": "Stop", "cancelled": "Cancel (entered in error)"}


@bp.app_template_filter("rx_amount")
def rx_amount(value: Any) -> str:
    """A dose or amount without trailing zeros: 500.000 -> 500, 0.125 -> 0.125."""
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), "f")
    return text


def _fill_choices(form: PrescriptionForm, drug: Drug | None) -> None:
    table = current_app.config["ADMINISTRATION_TIMES"]
    form.frequency.choices = [SelectChoice("", _("Choose…"))] + [
        SelectChoice(code, f"{code} · {entry['label']}") for code, entry in table.items()]
    units = prescribing.dose_units(drug) if drug is not None else []
    form.dose_unit.choices = [SelectChoice(u, u) for u in units] or [SelectChoice("", "—")]
    q = form.drug_q.data or ""
    options = formulary.search_drugs(db.session, q, active_only=True, limit=200)
    if drug is not None and drug not in options:
        options.insert(0, drug)
    form.drug_id.choices = [SelectChoice(d.id, f"{d.name}{' [' + d.brand + ']' if d.brand else ''}")
                            for d in options]


def _drug(form: PrescriptionForm) -> Drug | None:
    drug_id = form.drug_id.data
    return db.session.get(Drug, drug_id) if isinstance(drug_id, int) else None


def _apply_defaults(form: PrescriptionForm, drug: Drug) -> None:
    """A drug was just chosen: its usual dose, unit, route and frequency fill the form."""
    form.dose.data = rx_amount(drug.default_dose) if drug.default_dose is not None else ""
    form.dose_unit.data = drug.dose_unit
    form.route.data = drug.route
    if drug.default_frequency:
        form.frequency.data = drug.default_frequency


def _order(form: PrescriptionForm) -> prescribing.Order:
    tz = clock.hospital_timezone()
    return prescribing.Order(
        drug_id=form.drug_id.data if isinstance(form.drug_id.data, int) else None,
        dose=form.dose.data, dose_unit=form.dose_unit.data, frequency=form.frequency.data,
        route=form.route.data, start_at=local_to_utc(form.start.data, tz),
        stop_at=local_to_utc(form.stop.data, tz), duration_days=form.duration_days.data,
        prn=bool(form.prn.data), prn_min_interval_minutes=form.prn_min_interval_minutes.data,
        prn_max_daily_doses=form.prn_max_daily_doses.data, instructions=form.instructions.data,
        indication=form.indication.data, priority=form.priority.data or "routine", quantity=form.quantity.data)


def _overrides(form: PrescriptionForm) -> prescribing.Overrides:
    return prescribing.Overrides({"allergy": form.override_allergy.data or "",
                                  "duplicate": form.override_duplicate.data or "",
                                  "max_dose": form.override_max_dose.data or ""})


def _findings(patient_id: int, form: PrescriptionForm, exclude: tuple[int, ...] = ()) -> list[safety.Finding]:
    if not can(current_user, Perm.PRESCRIBE):
        return []
    return prescribing.check_order(db.session, current_user, patient_id, _order(form), exclude)


def _form_context(patient_id: int, form: PrescriptionForm, *, replacing: Prescription | None = None,
                  findings: list[safety.Finding] | None = None, missing: list[str] | None = None) -> dict[str, Any]:
    drug = _drug(form)
    _fill_choices(form, drug)
    admitted = prescribing.current_inpatient_encounter(db.session, patient_id) is not None
    exclude = (replacing.id,) if replacing is not None else ()
    if findings is None:
        findings = _findings(patient_id, form, exclude)
    return {"form": form, "drug": drug, "admitted": admitted, "replacing": replacing,
            "findings": safety.by_check(findings), "missing": missing or [], "labels": safety.CHECK_LABELS,
            "patient_id": patient_id}


def _new_form(patient_id: int) -> PrescriptionForm:
    form = PrescriptionForm(formdata=None)
    form.start.data = utc_to_local(clock.now(), clock.hospital_timezone())
    form.priority.data = "routine"
    return form


def _medicines_context(patient_id: int, form: PrescriptionForm | None = None, **extra: Any) -> dict[str, Any]:
    patient = patients.get_patient(db.session, current_user, patient_id,
                                   Perm.PRESCRIBE if can(current_user, Perm.PRESCRIBE) else Perm.PRESCRIPTION_READ)
    medicines = prescribing.patient_medicines(db.session, current_user, patient_id)
    context: dict[str, Any] = {"patient": patient, "medicines": medicines, "today": clock.hospital_today()}
    if can(current_user, Perm.PRESCRIBE):
        context.update(_form_context(patient_id, form or _new_form(patient_id), **extra))
    return context


@bp.route("/patients/<int:patient_id>")
@require(Perm.PRESCRIPTION_READ)
def patient_medicines(patient_id: int) -> Response:
    """The patient's current and past prescriptions; doctors also get the new-prescription form."""
    return render("prescribing/medicines.html", **_medicines_context(patient_id))


def _form_page(patient_id: int, replacing_id: int | None) -> Response:
    """Where a fragment's request (typed in, bookmarked, or sent without htmx) belongs: the
    change page of the prescription being replaced, or the patient's medicines page."""
    if replacing_id is not None:
        rx = db.session.get(Prescription, replacing_id)
        if rx is not None and rx.patient_id == patient_id:
            return redirect_to(url_for("prescribing.change_prescription", prescription_id=rx.id))
    return redirect_to(url_for("prescribing.patient_medicines", patient_id=patient_id))


@bp.route("/patients/<int:patient_id>/new-form")
@require(Perm.PRESCRIBE)
def new_prescription_form(patient_id: int) -> Response:
    """The prescription form again (htmx), e.g. after a drug was chosen: its defaults filled in."""
    patients.get_patient(db.session, current_user, patient_id, Perm.PRESCRIBE)
    rx_id = parse_id(request.args.get("replacing"))
    if not is_htmx():  # the form is a fragment of the medicines (or change) page: go there
        return _form_page(patient_id, rx_id)
    form = PrescriptionForm(formdata=request.args, meta={"csrf": False})
    drug = _drug(form)
    if drug is not None and request.args.get("picked"):
        _apply_defaults(form, drug)
    replacing = None
    if rx_id is not None:
        replacing = prescribing.get_prescription(db.session, current_user, rx_id, Perm.PRESCRIBE)
    return render("prescribing/medicines.html", "prescribing/_rx_form.html",
                  **_form_context(patient_id, form, replacing=replacing))


@bp.route("/patients/<int:patient_id>/safety")
@require(Perm.PRESCRIBE)
def check_safety(patient_id: int) -> Response:
    """The live safety panel for what has been written so far (nothing is saved)."""
    rx_id = parse_id(request.args.get("replacing"))
    if not is_htmx():  # the panel is a fragment of the prescription form's page: go there
        patients.get_patient(db.session, current_user, patient_id, Perm.PRESCRIBE)
        return _form_page(patient_id, rx_id)
    form = PrescriptionForm(formdata=request.args, meta={"csrf": False})
    exclude: tuple[int, ...] = ()
    if rx_id is not None:
        exclude = (rx_id,)
    findings = _findings(patient_id, form, exclude)
    return render("prescribing/medicines.html", "prescribing/_rx_safety.html", form=form,
                  findings=safety.by_check(findings), missing=[], labels=safety.CHECK_LABELS,
                  patient_id=patient_id)


def _save_errors(form: PrescriptionForm, exc: DomainError) -> tuple[list[safety.Finding] | None, list[str]]:
    db.session.rollback()
    if isinstance(exc, prescribing.OrderInvalid):
        form_errors_into(form, exc.errors)
        return None, []
    if isinstance(exc, prescribing.OverrideRequired):
        for check in exc.missing:
            getattr(form, f"override_{check}").errors = [_("Give a reason to override, or change the prescription.")]
        return exc.findings, exc.missing
    form_errors_into(form, {exc.field or "": exc.message} if exc.field else {})
    if not exc.field:
        form.form_errors.append(exc.message)
    return None, []


@bp.route("/patients/<int:patient_id>/prescriptions", methods=["POST"])
@require(Perm.PRESCRIBE)
def write_prescription(patient_id: int) -> Response:
    """Save a new prescription. Invalid fields and unanswered safety warnings come back 422
    beside their fields; saved, the doctor goes to the prescription."""
    form = PrescriptionForm()
    findings: list[safety.Finding] | None = None
    missing: list[str] = []
    if form.validate_on_submit():
        try:
            rx = prescribing.prescribe(db.session, current_user, patient_id, _order(form), _overrides(form))
        except (prescribing.OrderInvalid, prescribing.OverrideRequired) as exc:
            findings, missing = _save_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Prescribed %(drug)s (No. %(number)s): waiting for the pharmacist.", drug=rx.drug.name,
                    number=rx.number), "success")
            return redirect_to(url_for("prescribing.patient_medicines", patient_id=patient_id))
    return invalid("prescribing/medicines.html", "prescribing/_rx_form.html",
                   **_medicines_context(patient_id, form, findings=findings, missing=missing))


def _detail_context(rx: Prescription, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "rx": rx, "patient": rx.patient, "today": clock.hospital_today(),
        "history": prescribing.history(db.session, rx.id),
        "overrides": prescribing.overrides_of(db.session, rx.id), "field_labels": prescribing.FIELD_LABELS,
        "replaced_by": db.session.scalar(select(Prescription).where(Prescription.replaces_id == rx.id)
                                         .order_by(Prescription.id).limit(1)),
        "status_actions": STATUS_ACTIONS, "may_prescribe": can(current_user, Perm.PRESCRIBE),
        "may_verify": can(current_user, Perm.PRESCRIPTION_VERIFY), "may_dispense": can(current_user, Perm.DISPENSE),
        "may_print": documents.may_print(current_user),
        "frequency_label": current_app.config["ADMINISTRATION_TIMES"].get(rx.frequency, {}).get("label", rx.frequency),
    }
    context.setdefault("status_form", StatusForm(formdata=None, data={"version": str(rx.version)}))
    context.setdefault("answer_form", AnswerForm(formdata=None, data={"version": str(rx.version)}))
    context.update(extra)
    return context


@bp.route("/prescriptions/<int:prescription_id>")
@require(Perm.PRESCRIPTION_READ)
def show_prescription(prescription_id: int) -> Response:
    """One prescription: what it says, its checks and overrides, its history, and its actions."""
    rx = prescribing.get_prescription(db.session, current_user, prescription_id)
    return render("prescribing/prescription.html", **_detail_context(rx))


def _form_version(form: Any) -> int:
    """The version the form was rendered at; junk or missing is a form we did not render (409)."""
    version = parse_version(form.version.data)
    if version is None:
        raise Conflict(OUT_OF_DATE)
    return version


@bp.route("/prescriptions/<int:prescription_id>/status", methods=["POST"])
@require(Perm.PRESCRIBE)
def change_prescription_status(prescription_id: int) -> Response:
    """Hold, resume, stop or cancel, with the reason."""
    form = StatusForm()
    status = 422
    if form.validate_on_submit():
        try:
            prescribing.change_status(db.session, current_user, prescription_id, _form_version(form),
                                      form.action.data or "", form.reason.data)
        except Conflict as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 409
        except DomainError as exc:
            db.session.rollback()
            (form.reason.errors if exc.field == "reason" else form.form_errors).append(exc.message)
        else:
            db.session.commit()
            flash(_("Prescription updated."), "success")
            return redirect_to(url_for("prescribing.show_prescription", prescription_id=prescription_id))
    rx = prescribing.get_prescription(db.session, current_user, prescription_id)
    return render("prescribing/prescription.html", "prescribing/_rx_actions.html", status=status,
                  **_detail_context(rx, status_form=form, failed_action=form.action.data))


@bp.route("/prescriptions/<int:prescription_id>/answer", methods=["POST"])
@require(Perm.PRESCRIBE)
def answer_query(prescription_id: int) -> Response:
    """Answer the pharmacist's query without changing the order: it goes back to the worklist."""
    form = AnswerForm()
    status = 422
    if form.validate_on_submit():
        try:
            prescribing.answer_query(db.session, current_user, prescription_id, _form_version(form),
                                     form.answer.data or "")
        except Conflict as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 409
        except DomainError as exc:
            db.session.rollback()
            (form.answer.errors if exc.field == "answer" else form.form_errors).append(exc.message)
        else:
            db.session.commit()
            flash(_("Answer sent: the prescription is back with the pharmacist."), "success")
            return redirect_to(url_for("prescribing.show_prescription", prescription_id=prescription_id))
    rx = prescribing.get_prescription(db.session, current_user, prescription_id)
    return render("prescribing/prescription.html", "prescribing/_rx_actions.html", status=status,
                  **_detail_context(rx, answer_form=form))


@bp.route("/prescriptions/<int:prescription_id>/change", methods=["GET", "POST"])
@require(Perm.PRESCRIBE)
def change_prescription(prescription_id: int) -> Response:
    """Change a prescription: amended in place before verification; once verified, it is
    stopped and a new one replaces it (verified again)."""
    rx = prescribing.get_prescription(db.session, current_user, prescription_id, Perm.PRESCRIBE)
    if request.method == "GET":
        form = PrescriptionForm(formdata=None, obj=rx)
        form.version.data = str(rx.version)
        form.dose.data = rx_amount(rx.dose)
        tz = clock.hospital_timezone()
        form.start.data = utc_to_local(rx.start_at if rx.verification != "verified" else clock.now(), tz)
        form.stop.data = utc_to_local(rx.stop_at, tz) if rx.duration_days is None else None
        if rx.verification == "verified" and rx.duration_days:
            # The replacement carries on the course: it ends when the one it replaces would.
            course_end = rx.start_at + timedelta(days=rx.duration_days)
            if course_end > clock.now():
                form.duration_days.data = None
                form.stop.data = utc_to_local(course_end, tz)
        return render("prescribing/change.html", rx=rx, patient=rx.patient, today=clock.hospital_today(),
                      **_form_context(rx.patient_id, form, replacing=rx))
    form = PrescriptionForm()
    findings: list[safety.Finding] | None = None
    missing: list[str] = []
    status = 422
    if form.validate_on_submit():
        try:
            new = prescribing.change_prescription(db.session, current_user, rx.id, _form_version(form),
                                                  _order(form), _overrides(form), form.reason.data)
        except Conflict as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 409
        except DomainError as exc:
            findings, missing = _save_errors(form, exc)
        else:
            db.session.commit()
            flash(_("Prescription changed: waiting for the pharmacist."), "success")
            return redirect_to(url_for("prescribing.show_prescription", prescription_id=new.id))
    rx = prescribing.get_prescription(db.session, current_user, prescription_id, Perm.PRESCRIBE)
    return render("prescribing/change.html", "prescribing/_rx_form.html", status=status, rx=rx,
                  patient=rx.patient, today=clock.hospital_today(),
                  **_form_context(rx.patient_id, form, replacing=rx, findings=findings, missing=missing))
