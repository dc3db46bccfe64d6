"""The controlled-drug register: entries per drug and location with the running balance, and the
witnessed cupboard check."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.pharmacy import bp
from app.blueprints.pharmacy.inventory_forms import RegisterCheckForm
from app.blueprints.pharmacy.witness import witness_from
from app.core.errors import DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id, place_error
from app.domain.dispensary import controlled, ledger, stock
from app.domain.dispensary.models import StockLocation
from app.domain.formulary.models import Drug
from app.extensions import db


def _selection() -> tuple[Drug | None, StockLocation | None]:
    drug_id = parse_id(request.args.get("drug_id"))
    location_id = parse_id(request.args.get("location_id"))
    drug = db.session.get(Drug, drug_id) if drug_id else None
    if drug is not None and not drug.controlled:
        drug = None
    location = db.session.get(StockLocation, location_id) if location_id else None
    if location is None:
        location = stock.main_location(db.session)
    return drug, location


@bp.route("/controlled")
@require(Perm.CD_REGISTER)
def controlled_register() -> Response:
    """Choose a controlled drug and a location; its register entries, oldest first, with the
    running balance, who made each entry and who witnessed it."""
    drug, location = _selection()
    lines = controlled.register(db.session, current_user, drug.id, location.id) if drug and location else []
    context: dict[str, Any] = {
        "drugs": controlled.controlled_drugs(db.session),
        "locations": controlled.register_locations(db.session, drug.id if drug else None),
        "drug": drug, "location": location, "lines": lines,
        "balance": controlled.register_balance(db.session, drug.id, location.id) if drug and location else None,
        "on_hand": ledger.on_hand(db.session, drug.id, location.id) if drug and location else None,
        "checks": controlled.recent_checks(db.session, drug.id, location.id) if drug and location else [],
    }
    return render("pharmacy/cd_register.html", "pharmacy/_cd_entries.html", **context)


def _check_page(drug: Drug, location: StockLocation, form: RegisterCheckForm,
                errors: dict[int, str] | None = None, entered: dict[int, str] | None = None,
                status: int = 200) -> Response:
    context: dict[str, Any] = {"drug": drug, "location": location, "form": form, "errors": errors or {},
               "entered": entered or {},
               "batches": controlled.cupboard(db.session, drug.id, location.id),
               "balance": controlled.register_balance(db.session, drug.id, location.id)}
    if status == 422:
        return invalid("pharmacy/cd_check.html", "pharmacy/_cd_check_form.html", **context)
    return render("pharmacy/cd_check.html", "pharmacy/_cd_check_form.html", **context)


@bp.route("/controlled/check", methods=["GET", "POST"])
@require(Perm.STOCK_MANAGE)
def controlled_check() -> Response:
    """Count one controlled drug's cupboard with a witness; differences are posted as witnessed
    "count" entries with the reason."""
    drug, location = _selection()
    if drug is None or location is None:
        abort(404)
    if request.method == "GET":
        return _check_page(drug, location, RegisterCheckForm(formdata=None))
    form = RegisterCheckForm()
    errors: dict[int, str] = {}
    entered: dict[int, str] = {}
    counted: dict[int, int] = {}
    for b in controlled.cupboard(db.session, drug.id, location.id):
        raw = (request.form.get(f"batch-{b.id}") or "").strip()
        entered[b.id] = raw
        if raw.isascii() and raw.isdigit() and len(raw) <= 7:
            counted[b.id] = int(raw)
        else:
            errors[b.id] = _("Enter what is in the cupboard: a whole number, zero or more.")
    if errors or not form.validate_on_submit():
        return _check_page(drug, location, form, errors, entered, status=422)
    try:
        check = controlled.check_register(db.session, current_user, drug_id=drug.id,
                                          location_id=location.id, counted=counted,
                                          witness=witness_from(form), reason=form.reason.data or "")
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        batch_id = parse_id((exc.field or "")[6:]) if (exc.field or "").startswith("batch-") else None
        if batch_id is not None:
            errors[batch_id] = exc.message
        else:
            place_error(form, exc)
        return _check_page(drug, location, form, errors, entered, status=422)
    db.session.commit()
    if check.expected == check.counted:
        flash(_("Register check recorded: the cupboard matches the register."), "success")
    else:
        flash(_("Register check recorded: the difference of %(d)d was entered in the register.",
                d=check.counted - check.expected), "warning")
    return redirect_to(url_for("pharmacy.controlled_register", drug_id=drug.id, location_id=location.id))
