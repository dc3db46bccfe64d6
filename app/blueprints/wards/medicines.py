"""The ward's medicines: the medication round (doses due now, recorded in place), a stay's
medication administration record (24-hour and 7-day grids, PRN doses, corrections) and its
printable PDF."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from app.blueprints.wards import bp
from app.core import clock
from app.core.errors import DomainError
from app.core.htmx import redirect_to, render
from app.core.pdf import pdf_response
from app.core.security import Perm, can, require
from app.core.web import parse_clock_time, parse_day, place_error
from app.domain.administration import chart as mar
from app.domain.administration import round as rounds
from app.domain.administration import rules, services
from app.domain.administration.models import ScheduledDose
from app.domain.facilities import services as places
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.domain.prescribing.models import Prescription
from app.extensions import db

ROUND_PAGE = "wards/round.html"
ROUND_LIST = "wards/_round_list.html"
ROUND_DOSE = "wards/_round_dose.html"
CHART_PAGE = "wards/medicines.html"
CHART_BODY = "wards/_mar.html"
PRN_FORM = "wards/_dose_prn_form.html"


def _witness(needed: bool) -> User | None:
    """The witness who typed their own credentials into the row (checked by their password)."""
    if not needed:
        return None
    username = (request.form.get("witness_username") or "").strip()
    password = request.form.get("witness_password") or ""
    return identity.verify_witness(db.session, current_user, username, password,
                                   request.remote_addr or "-")


class RoundDoseForm(FlaskForm):
    """The fields of a round row; the domain's refusals are placed beside them (place_error)."""

    outcome = StringField()
    reason = StringField()
    occurred_at = StringField()
    wristband = StringField()
    product = StringField()
    witness_username = StringField()


class PrnForm(FlaskForm):
    dose = StringField()
    occurred_at = StringField()
    reason = StringField()
    wristband = StringField()
    product = StringField()
    witness_username = StringField()


class EnteredInErrorForm(FlaskForm):
    reason = StringField()


def _placed(form: FlaskForm, exc: DomainError, general: str) -> dict[str, str]:
    """The refusal beside its field, as the {field: message} the row templates read (`general`
    names where a message for no field goes)."""
    place_error(form, exc, conflicts=True)
    out = {("witness" if name == "witness_username" else name): str(field.errors[0])
           for name, field in form._fields.items() if field.errors}
    if form.form_errors:
        out.setdefault(general, str(form.form_errors[0]))
    return out


# --- the round --------------------------------------------------------------------------------

@bp.route("/medication-round")
@require(Perm.ADMINISTER)
def my_medication_round() -> Response:
    """The nurse's round: straight to her ward when she has one, else a choice of wards."""
    scope = current_user.scoped_ward_ids(Perm.ADMINISTER)
    wards = places.list_wards(db.session, scope)
    if len(wards) == 1:
        return redirect_to(url_for("wards.medication_round", ward_id=wards[0].id))
    return render("wards/round_choose.html", None, wards=wards)


def _round_context(ward_id: int, show_all: bool) -> dict[str, Any]:
    now = clock.now()
    ward = places.ward_with_beds(db.session, ward_id)
    if ward is None:
        abort(404)
    doses = rounds.round_doses(db.session, current_user, ward_id, now, mine_only=not show_all)
    return {"ward": ward, "doses": doses, "show_all": show_all, "now": now,
            "window": int(current_app.config["DOSE_OVERDUE_MINUTES"]), "labels": rules.OUTCOME_LABELS}


@bp.route("/<int:ward_id>/medication-round")
@require(Perm.ADMINISTER)
def medication_round(ward_id: int) -> Response:
    """Doses due now (overdue first) for my patients, or the whole ward with ?all=1."""
    show_all = request.args.get("all") in ("1", "on", "true")
    return render(ROUND_PAGE, ROUND_LIST, **_round_context(ward_id, show_all))


def _round_item(dose_id: int) -> rounds.RoundDose:
    dose = db.session.get(ScheduledDose, dose_id)
    if dose is None:
        abort(404)
    rx = db.session.get(Prescription, dose.prescription_id)
    from app.domain.admissions.services import get_encounter

    encounter = get_encounter(db.session, current_user, dose.encounter_id, Perm.ADMINISTER)
    assert rx is not None
    state = rules.dose_state(dose.due_at, clock.now(), int(current_app.config["DOSE_OVERDUE_MINUTES"]))
    return rounds.RoundDose(dose, rx, encounter, encounter.patient,
                            "overdue" if state in ("overdue", "lapsed") else "due")


@bp.route("/doses/<int:dose_id>/round-row")
@require(Perm.ADMINISTER)
def round_dose_row(dose_id: int) -> Response:
    """One round row as it stands now: re-fetched live when someone records (or corrects) this
    dose, so the other rows, and what the nurse is typing in them, are left alone."""
    item = _round_item(dose_id)
    record = services.standing_record(db.session, dose_id) if item.dose.status != "due" else None
    return render(ROUND_PAGE, ROUND_DOSE, r=item, record=record,
                  recorded_by=services.recorder_name(db.session, record), errors={}, values={},
                  labels=rules.OUTCOME_LABELS, now=clock.now())


@bp.route("/doses/<int:dose_id>/record", methods=["POST"])
@require(Perm.ADMINISTER)
def record_dose(dose_id: int) -> Response:
    """Record a dose's outcome from its round row; the row comes back recorded, or with the
    refusal beside its field (422) or who recorded it first (409)."""
    form = RoundDoseForm()
    outcome = (form.outcome.data or "").strip()
    item = _round_item(dose_id)
    errors: dict[str, str] = {}
    status = 200
    record = None
    try:
        witness = _witness(item.prescription.drug.controlled and outcome == "given")
        record = services.record_dose(
            db.session, current_user, dose_id, outcome, form.reason.data,
            parse_clock_time(form.occurred_at.data, "occurred_at"),
            wristband=form.wristband.data or None, product=form.product.data or None,
            witness=witness, expected_status=(request.form.get("expected_status") or "due"))
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        errors = _placed(form, exc, "outcome")
        status = exc.status_code
        item = _round_item(dose_id)
    else:
        db.session.commit()
    return render(ROUND_PAGE, ROUND_DOSE, status=status, r=item, record=record,
                  recorded_by=current_user.full_name, errors=errors, values=request.form,
                  labels=rules.OUTCOME_LABELS, now=clock.now())


# --- the chart --------------------------------------------------------------------------------

def _chart_context(encounter_id: int, prn_errors: dict[int, dict[str, str]] | None = None,
                   values: Any = None, eie_errors: dict[int, str] | None = None,
                   eie_values: dict[int, str] | None = None) -> dict[str, Any]:
    view = request.values.get("view", "day")
    days = mar.VIEWS.get(view, 1)
    today = clock.hospital_today()
    first = parse_day(request.values.get("day")) or (today if days == 1 else today - timedelta(days=6))
    chart = mar.build_chart(db.session, current_user, encounter_id, first, days)
    now = clock.now()
    prn_next = services.next_prn_many(
        db.session, [row.prescription for row in chart.rows
                     if row.prescription.prn and row.prescription.status == "active"], now)
    return {"chart": chart, "patient": chart.encounter.patient, "encounter": chart.encounter,
            "view": "day" if days == 1 else "week", "today": today, "prev_day": first - timedelta(days=days),
            "next_day": first + timedelta(days=days), "symbols": rules.SYMBOLS,
            "labels": rules.OUTCOME_LABELS, "tz": clock.hospital_timezone(), "now": now,
            "prn_next": prn_next, "prn_errors": prn_errors or {}, "values": values or {},
            "eie_errors": eie_errors or {}, "eie_values": eie_values or {},
            "may_administer": can(current_user, Perm.ADMINISTER)}


@bp.route("/encounters/<int:encounter_id>/medicines")
@require(Perm.WARD_VIEW)
def medication_chart(encounter_id: int) -> Response:
    """The stay's MAR: ?view=day (24 hours by the hour) or week (7 days), ?day=YYYY-MM-DD."""
    return render(CHART_PAGE, CHART_BODY, **_chart_context(encounter_id))


@bp.route("/encounters/<int:encounter_id>/prescriptions/<int:prescription_id>/prn", methods=["POST"])
@require(Perm.ADMINISTER)
def give_prn(encounter_id: int, prescription_id: int) -> Response:
    """Record a when-required dose as given; the chart comes back with it (or the refusal)."""
    rx = db.session.get(Prescription, prescription_id)
    if rx is None or rx.encounter_id != encounter_id:
        abort(404)
    form = PrnForm()
    try:
        witness = _witness(rx.drug.controlled)
        services.record_prn(db.session, current_user, prescription_id, form.dose.data or None,
                            parse_clock_time(form.occurred_at.data, "occurred_at"),
                            reason=form.reason.data, wristband=form.wristband.data or None,
                            product=form.product.data or None, witness=witness)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        return render(CHART_PAGE, CHART_BODY, status=exc.status_code,
                      **_chart_context(encounter_id, {prescription_id: _placed(form, exc, "outcome")},
                                       {prescription_id: request.form}))
    db.session.commit()
    flash(_("Dose recorded."), "success")
    return render(CHART_PAGE, CHART_BODY, **_chart_context(encounter_id))


@bp.route("/administrations/<int:administration_id>/entered-in-error", methods=["POST"])
@require(Perm.ADMINISTER)
def mark_administration_in_error(administration_id: int) -> Response:
    """Mark a record entered in error (with the reason); back to the chart."""
    adm = services.get_administration(db.session, current_user, administration_id)
    encounter_id = adm.encounter_id
    form = EnteredInErrorForm()
    try:
        services.mark_entered_in_error(db.session, current_user, administration_id,
                                       form.reason.data or "")
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        placed = _placed(form, exc, "reason")
        return render(CHART_PAGE, CHART_BODY, status=exc.status_code,
                      **_chart_context(encounter_id, eie_errors={administration_id: placed["reason"]},
                                       eie_values={administration_id: form.reason.data or ""}))
    db.session.commit()
    flash(_("Marked entered in error."), "success")
    if request.headers.get("HX-Request") == "true":
        return render(CHART_PAGE, CHART_BODY, **_chart_context(encounter_id))
    return redirect_to(url_for("wards.medication_chart", encounter_id=encounter_id))


@bp.route("/encounters/<int:encounter_id>/mar.pdf")
@require(Perm.WARD_VIEW)
def mar_pdf(encounter_id: int) -> Response:
    """The MAR as a PDF (?view=day|week, ?day=); the print is recorded."""
    days = mar.VIEWS.get(request.args.get("view", "week"), 7)
    today = clock.hospital_today()
    first = parse_day(request.args.get("day")) or (today if days == 1 else today - timedelta(days=6))
    printout = mar.print_mar(db.session, current_user, encounter_id, first, days)
    db.session.commit()
    return pdf_response(printout.pdf, printout.filename)
