"""Dispensing: the worklist of verified prescriptions awaiting supply, the dispense form (FEFO
picks shown, pack scan, partial supply, witness for controlled drugs), a dispensing's page with
its labels, and returns to stock."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from app.blueprints.pharmacy import bp
from app.blueprints.pharmacy.witness import WitnessMixin, witness_from
from app.core import clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import coerce_id, parse_id, place_error
from app.domain.dispensary import dispensing as service
from app.domain.dispensary import stock
from app.domain.dispensary.models import Dispensing, StockLocation
from app.domain.identity.models import User
from app.domain.prescribing.models import Prescription
from app.extensions import db

PAGE = "pharmacy/dispense_prescription.html"
FORM = "pharmacy/_dispense_form.html"
SHOW = "pharmacy/dispense_show.html"
RETURN_FORM = "pharmacy/_dispense_return_form.html"


class DispenseForm(WitnessMixin, FlaskForm):
    scan = StringField(_l("Scan the pack"), validators=[Optional(), Length(max=200)])
    quantity = IntegerField(_l("Quantity to supply"), validators=[
        InputRequired(_l("Enter the quantity to supply.")),
        NumberRange(min=1, max=service.MAX_QUANTITY, message=_l("Enter a whole number from 1 to %(max)s."))])
    location_id = SelectField(_l("Take from"), coerce=coerce_id, choices=[], validate_choice=False)
    allow_partial = BooleanField(_l("Supply what is in stock if it is short (partial supply)"))
    supplies = HiddenField()


class ReturnForm(WitnessMixin, FlaskForm):
    quantity = IntegerField(_l("Quantity coming back"), validators=[
        InputRequired(_l("Enter how much came back.")),
        NumberRange(min=1, max=service.MAX_QUANTITY, message=_l("Enter a whole number from 1 to %(max)s."))])
    reason = StringField(_l("Reason"), validators=[DataRequired(_l("Say why it came back.")), Length(max=200)])


def _prescription(prescription_id: int) -> Prescription:
    return service.get_prescription(db.session, current_user, prescription_id)


def _dispense_form(rx: Prescription, formdata: Any = None) -> DispenseForm:
    form = DispenseForm(formdata=formdata) if formdata is not None else DispenseForm(formdata=None)
    form.location_id.choices = [SelectChoice(loc.id, loc.name)
                                for loc in stock.locations(db.session, holding_drug_id=rx.drug_id)]
    if formdata is None:
        form.quantity.data = service.suggested_quantity(db.session, rx)
        form.location_id.data = stock.main_location_id(db.session)
        form.supplies.data = str(service.supply_count(db.session, rx.id))
    return form


def _dispense_context(rx: Prescription, form: DispenseForm) -> dict[str, Any]:
    location_id = form.location_id.data or stock.main_location_id(db.session)
    quantity = form.quantity.data if isinstance(form.quantity.data, int) and form.quantity.data > 0 else 0
    plan = stock.plan_picks(db.session, rx.drug_id, location_id, min(quantity, service.MAX_QUANTITY))
    try:
        service.check_dispensable(rx)
        blocked = None
    except DomainError as exc:
        blocked = exc.message
    return {
        "rx": rx, "patient": rx.patient, "drug": rx.drug, "form": form, "plan": plan,
        "blocked": blocked,
        "today": clock.hospital_today(), "tz": clock.hospital_timezone(),
        "frequency_label": current_app.config["ADMINISTRATION_TIMES"].get(rx.frequency, {}).get("label", rx.frequency),
        "previous": service.dispensings_for(db.session, rx.id),
    }


@bp.route("/dispensing/")
@require(Perm.DISPENSE)
def dispensing_worklist() -> Response:
    """Verified, active prescriptions waiting for supply (urgent first), and recent supplies."""
    return render("pharmacy/dispense_worklist.html", None,
                  waiting=service.awaiting_supply(db.session, current_user),
                  recent=service.recent_dispensings(db.session, current_user),
                  tz=clock.hospital_timezone(), now=clock.now())


@bp.route("/dispensing/prescriptions/<int:prescription_id>", methods=["GET", "POST"])
@require(Perm.DISPENSE)
def dispense_prescription(prescription_id: int) -> Response:
    """The dispense form; a POST supplies the prescription and moves on to the dispensing."""
    rx = _prescription(prescription_id)
    if request.method == "GET":
        form = _dispense_form(rx)
        return render(PAGE, FORM, **_dispense_context(rx, form))
    form = _dispense_form(rx, request.form)
    status = 422
    if form.validate_on_submit():
        try:
            witness = witness_from(form, needed=rx.drug.controlled)
            result = service.dispense(
                db.session, current_user, rx.id, form.quantity.data or 0,
                location_id=form.location_id.data, scan=form.scan.data or None,
                allow_partial=bool(form.allow_partial.data), witness=witness,
                expected_supplies=parse_id(form.supplies.data))
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            db.session.rollback()
            place_error(form, exc, conflicts=True)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            db.session.commit()
            flash(_("Dispensed %(number)s: %(quantity)d %(unit)s of %(drug)s%(partial)s.",
                    number=result.number, quantity=result.quantity, unit=rx.drug.stock_unit,
                    drug=rx.drug.name,
                    partial=_(" (partial supply)") if result.partial else ""), "success")
            return redirect_to(url_for("pharmacy.show_dispensing", dispensing_id=result.id))
    rx = _prescription(prescription_id)  # reloaded after a rollback
    form.witness_password.data = ""
    return render(PAGE, FORM, status=status, **_dispense_context(rx, form))


@bp.route("/dispensing/prescriptions/<int:prescription_id>/picks")
@require(Perm.DISPENSE)
def preview_dispense_picks(prescription_id: int) -> Response:
    """The FEFO picks for the quantity typed so far (the form refreshes it as you type)."""
    rx = _prescription(prescription_id)
    form = _dispense_form(rx, request.args)
    form.quantity.validate(form)
    return render(PAGE, "pharmacy/_dispense_picks.html", **_dispense_context(rx, form))


def _show_context(d: Dispensing, form: ReturnForm | None = None) -> dict[str, Any]:
    rx = db.session.get(Prescription, d.prescription_id)
    assert rx is not None
    views = current_app.view_functions
    return {
        "d": d, "rx": rx, "patient": rx.patient, "drug": d.drug,
        "location": db.session.get(StockLocation, d.location_id),
        "dispensed_by": db.session.get(User, d.dispensed_by_id),
        "form": form or ReturnForm(formdata=None), "today": clock.hospital_today(), "tz": clock.hospital_timezone(),
        "label_links": "pharmacy.print_dispensing_label" in views,
        "sheet_links": "pharmacy.print_label_sheet" in views,
    }


@bp.route("/dispensing/<int:dispensing_id>")
@require(Perm.DISPENSE)
def show_dispensing(dispensing_id: int) -> Response:
    """One supply: its batches, its labels, and returning what came back."""
    d = service.get_dispensing(db.session, current_user, dispensing_id)
    return render(SHOW, None, **_show_context(d))


@bp.route("/dispensing/<int:dispensing_id>/return", methods=["POST"])
@require(Perm.DISPENSE)
def return_dispensing(dispensing_id: int) -> Response:
    """Medicine came back: into the batches it left from (the longest-dated first)."""
    d = service.get_dispensing(db.session, current_user, dispensing_id)
    form = ReturnForm(request.form)
    if form.validate_on_submit():
        try:
            witness = witness_from(form, needed=d.drug.controlled)
            service.return_to_stock(db.session, current_user, d.id, form.quantity.data,
                                    reason=form.reason.data or "", witness=witness)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            db.session.rollback()
            place_error(form, exc, conflicts=True)
        else:
            db.session.commit()
            flash(_("%(quantity)d %(unit)s back in stock from %(number)s.", quantity=form.quantity.data,
                    unit=d.drug.stock_unit, number=d.number), "success")
            return redirect_to(url_for("pharmacy.show_dispensing", dispensing_id=d.id))
    d = service.get_dispensing(db.session, current_user, dispensing_id)
    form.witness_password.data = ""
    return invalid(SHOW, RETURN_FORM, **_show_context(d, form))
