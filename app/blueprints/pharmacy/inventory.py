"""Stock: the overview, batches and their ledger, goods received, transfers to wards,
adjustments, stock counts and reconciliation, reorder levels and the expiring list."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from app.blueprints.pharmacy import bp
from app.blueprints.pharmacy.inventory_forms import (
    AdjustForm,
    CloseCountForm,
    OpenCountForm,
    ReceiveGoodsForm,
    ReorderForm,
    TransferForm,
)
from app.blueprints.pharmacy.witness import witness_from
from app.core.errors import DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id, place_error
from app.domain.dispensary import adjustments, counts, receiving, reorder, stock, transfers
from app.domain.dispensary.inventory_models import COUNT_OPEN, StockCount
from app.domain.dispensary.models import StockBatch
from app.domain.dispensary.receiving import ReceiptLine
from app.domain.facilities.models import Ward
from app.domain.formulary.models import Drug
from app.extensions import db


def _drug_choices(only_with_main_stock: bool = False) -> list[SelectChoice]:
    return [SelectChoice(0, _("Choose…"))] + [
        SelectChoice(i, n) for i, n in stock.drug_choices(db.session, current_user,
                                                          with_main_stock=only_with_main_stock)]


def _location_choices() -> list[SelectChoice]:
    return [SelectChoice(0, _("Choose…"))] + [
        SelectChoice(loc.id, loc.name) for loc in stock.locations(db.session)]


# --- overview, batches, expiry ---------------------------------------------------------------

@bp.route("/stock")
@require(Perm.STOCK_VIEW)
def stock_overview() -> Response:
    """Drugs with on-hand stock per location, reorder status and nearest expiry; `q` searches."""
    q = request.args.get("q", "")[:100]
    location_id = parse_id(request.args.get("location"))
    return render("pharmacy/stock_overview.html", "pharmacy/_stock_table.html",
                  rows=stock.overview(db.session, q, location_id), q=q, location_id=location_id,
                  locations=stock.locations(db.session), today=stock.today())


@bp.route("/stock/drugs/<int:drug_id>")
@require(Perm.STOCK_VIEW)
def stock_drug(drug_id: int) -> Response:
    """One drug's batches in every location, and its reorder levels."""
    drug = db.session.get(Drug, drug_id) or abort(404)
    form = ReorderForm(formdata=None)
    form.location_id.choices = _location_choices()
    return _drug_page(drug, form)


def _drug_page(drug: Drug, form: ReorderForm, status: int = 200) -> Response:
    batches = stock.drug_batches(db.session, current_user, drug.id)
    levels = {loc.id: reorder.level_for(db.session, drug.id, loc.id) for loc in stock.locations(db.session)}
    context: dict[str, Any] = {"drug": drug, "batches": batches, "levels": levels, "form": form,
               "locations": stock.locations(db.session), "today": stock.today()}
    if status == 422:
        return invalid("pharmacy/stock_drug.html", "pharmacy/_stock_reorder_form.html", **context)
    return render("pharmacy/stock_drug.html", "pharmacy/_stock_reorder_form.html", status=status, **context)


@bp.route("/stock/drugs/<int:drug_id>/reorder", methods=["POST"])
@require(Perm.STOCK_MANAGE)
def stock_set_reorder_level(drug_id: int) -> Response:
    """Set the reorder level of a drug in a location (no minimum: remove it)."""
    drug = db.session.get(Drug, drug_id) or abort(404)
    form = ReorderForm()
    form.location_id.choices = _location_choices()
    if form.validate_on_submit():
        try:
            if not form.location_id.data:
                raise DomainError(_("Choose the location."), field="location_id")
            level = reorder.set_reorder_level(db.session, current_user, drug.id, form.location_id.data,
                                              form.minimum.data, form.reorder_quantity.data)
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc)
        else:
            db.session.commit()
            flash(_("Reorder level saved.") if level else _("Reorder level removed."), "success")
            return redirect_to(url_for("pharmacy.stock_drug", drug_id=drug.id))
    return _drug_page(drug, form, status=422)


@bp.route("/stock/batches/<int:batch_id>")
@require(Perm.STOCK_VIEW)
def stock_batch(batch_id: int) -> Response:
    """One batch and its ledger, newest movement first."""
    batch = stock.get_batch(db.session, current_user, batch_id)
    moves = stock.batch_movements(db.session, current_user, batch.id)
    return render("pharmacy/stock_batch.html", batch=batch, movements=moves, today=stock.today())


@bp.route("/stock/expiring")
@require(Perm.STOCK_VIEW)
def stock_expiring() -> Response:
    """Batches with stock expiring within the warning period (expired ones first)."""
    days = current_app.config["PHARMACY_EXPIRY_WARNING_DAYS"]
    return render("pharmacy/stock_expiring.html", batches=stock.expiring(db.session),
                  days=days, today=stock.today())


# --- goods received --------------------------------------------------------------------------

def _receive_form(formdata: Any = None) -> ReceiveGoodsForm:
    form = ReceiveGoodsForm(formdata=formdata) if formdata is not None else ReceiveGoodsForm(formdata=None)
    choices = _drug_choices()
    for entry in form.lines.entries:
        entry.form.drug_id.choices = choices
    return form


@bp.route("/stock/receive", methods=["GET", "POST"])
@require(Perm.STOCK_MANAGE)
def stock_receive() -> Response:
    """Book a delivery into the main pharmacy, line by line (or by scanning packs)."""
    if request.method == "GET":
        return render("pharmacy/stock_receive.html", "pharmacy/_stock_receive_form.html",
                      form=_receive_form(), receipts=receiving.recent_receipts(db.session))
    form = _receive_form(request.form)
    if form.validate_on_submit():
        lines = [ReceiptLine(drug_id=e.form.drug_id.data, batch_number=e.form.batch_number.data or "",
                             expiry=e.form.expiry.data, quantity=e.form.quantity.data,
                             unit_cost=e.form.unit_cost.data, scan=e.form.scan.data or "")
                 for e in form.lines.entries]
        try:
            receipt = receiving.receive_goods(
                db.session, current_user, supplier=form.supplier.data or "",
                delivery_reference=form.delivery_reference.data or "", lines=lines,
                witness=witness_from(form))
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc)
        else:
            db.session.commit()
            flash(_("Delivery %(number)s booked in: %(n)d line(s).", number=receipt.number,
                    n=len(receipt.lines)), "success")
            return redirect_to(url_for("pharmacy.stock_receive"))
    return invalid("pharmacy/stock_receive.html", "pharmacy/_stock_receive_form.html", form=form,
                   receipts=receiving.recent_receipts(db.session))


# --- transfers -------------------------------------------------------------------------------

def _transfer_form(formdata: Any = None) -> TransferForm:
    form = TransferForm(formdata=formdata) if formdata is not None else TransferForm(formdata=None)
    form.drug_id.choices = _drug_choices(only_with_main_stock=True)
    form.ward_id.choices = [SelectChoice(0, _("Choose…"))] + [
        SelectChoice(w.id, w.name) for w in db.session.scalars(select(Ward).order_by(Ward.name))]
    usable = stock.transferable_batches(db.session, current_user)
    form.batch_id.choices = [SelectChoice(0, _("First to expire (automatic)"))] + [
        SelectChoice(b.id, f"{b.drug.name} · {b.batch_number} · {b.expiry:%d %b %Y} · {b.quantity}")
        for b in usable]
    return form


@bp.route("/stock/transfer", methods=["GET", "POST"])
@require(Perm.STOCK_MANAGE)
def stock_transfer() -> Response:
    """Send stock from the main pharmacy to a ward's cupboard."""
    if request.method == "GET":
        form = _transfer_form()
        drug_id = parse_id(request.args.get("drug_id"))
        if drug_id:
            form.drug_id.data = drug_id
        return render("pharmacy/stock_transfer.html", "pharmacy/_stock_transfer_form.html", form=form)
    form = _transfer_form(request.form)
    if form.validate_on_submit():
        try:
            if not form.drug_id.data:
                raise DomainError(_("Choose the drug."), field="drug_id")
            if not form.ward_id.data:
                raise DomainError(_("Choose the ward."), field="ward_id")
            transfer = transfers.transfer_to_ward(
                db.session, current_user, drug_id=form.drug_id.data, ward_id=form.ward_id.data,
                quantity=form.quantity.data or 0, batch_id=form.batch_id.data or None,
                witness=witness_from(form))
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc)
        else:
            db.session.commit()
            flash(_("Transfer %(number)s: %(q)d %(unit)s of %(drug)s to %(to)s.", number=transfer.number,
                    q=transfer.quantity, unit=transfer.drug.stock_unit, drug=transfer.drug.name,
                    to=transfer.to_location.name), "success")
            return redirect_to(url_for("pharmacy.stock_transfer"))
    return invalid("pharmacy/stock_transfer.html", "pharmacy/_stock_transfer_form.html", form=form)


# --- adjustments -----------------------------------------------------------------------------

@bp.route("/stock/batches/<int:batch_id>/adjust", methods=["GET", "POST"])
@require(Perm.STOCK_MANAGE)
def stock_adjust(batch_id: int) -> Response:
    """Adjust one batch with a reason (breakage, expired, destroyed, count correction, other)."""
    batch = db.session.get(StockBatch, batch_id) or abort(404)
    if request.method == "GET":
        return render("pharmacy/stock_adjust.html", "pharmacy/_stock_adjust_form.html",
                      form=AdjustForm(formdata=None), batch=batch)
    form = AdjustForm()
    if form.validate_on_submit():
        try:
            adjustments.adjust_stock(db.session, current_user, batch.id, form.quantity.data or 0,
                                     form.reason.data or "", form.note.data or "",
                                     witness=witness_from(form))
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc)
        else:
            db.session.commit()
            flash(_("Batch %(b)s adjusted.", b=batch.batch_number), "success")
            return redirect_to(url_for("pharmacy.stock_batch", batch_id=batch.id))
    batch = db.session.get(StockBatch, batch_id) or abort(404)
    return invalid("pharmacy/stock_adjust.html", "pharmacy/_stock_adjust_form.html", form=form,
                   batch=batch)


# --- stock counts ----------------------------------------------------------------------------

def _open_count_form(formdata: Any = None) -> OpenCountForm:
    form = OpenCountForm(formdata=formdata) if formdata is not None else OpenCountForm(formdata=None)
    form.location_id.choices = _location_choices()
    return form


@bp.route("/stock/counts")
@require(Perm.STOCK_VIEW)
def stock_counts() -> Response:
    """Stock counts, open ones first, and the form to start one."""
    return render("pharmacy/stock_counts.html", "pharmacy/_stock_count_open_form.html",
                  counts=counts.list_counts(db.session), form=_open_count_form())


@bp.route("/stock/counts", methods=["POST"])
@require(Perm.STOCK_MANAGE)
def stock_open_count() -> Response:
    form = _open_count_form(request.form)
    if form.validate_on_submit():
        try:
            if not form.location_id.data:
                raise DomainError(_("Choose the location to count."), field="location_id")
            count = counts.open_count(db.session, current_user, form.location_id.data,
                                      form.note.data or "")
        except DomainError as exc:
            db.session.rollback()
            if exc.status_code == 409:
                form.location_id.errors = [*form.location_id.errors, exc.message]
            else:
                place_error(form, exc)
        else:
            db.session.commit()
            return redirect_to(url_for("pharmacy.stock_count", count_id=count.id))
    return invalid("pharmacy/stock_counts.html", "pharmacy/_stock_count_open_form.html",
                   counts=counts.list_counts(db.session), form=form)


def _count_page(count: StockCount, form: CloseCountForm, errors: dict[int, str] | None = None,
                entered: dict[int, str] | None = None, status: int = 200) -> Response:
    context: dict[str, Any] = {"count": count, "form": form, "errors": errors or {}, "entered": entered or {},
               "today": stock.today()}
    if status == 422:
        return invalid("pharmacy/stock_count.html", "pharmacy/_stock_count_form.html", **context)
    return render("pharmacy/stock_count.html", "pharmacy/_stock_count_form.html", **context)


@bp.route("/stock/counts/<int:count_id>")
@require(Perm.STOCK_VIEW)
def stock_count(count_id: int) -> Response:
    """A count's lines: expected, counted, and (once closed) the variance posted."""
    return _count_page(counts.get_count(db.session, count_id), CloseCountForm(formdata=None))


@bp.route("/stock/counts/<int:count_id>", methods=["POST"])
@require(Perm.STOCK_MANAGE)
def stock_save_count(count_id: int) -> Response:
    """Save counted figures (`line-<id>` fields); with action=close, also close the count."""
    count = counts.get_count(db.session, count_id)
    form = CloseCountForm()
    errors: dict[int, str] = {}
    entered: dict[int, str] = {}
    values: dict[int, int | None] = {}
    for line in count.lines:
        if f"line-{line.id}" not in request.form:
            continue  # not on the page that was sent: leave it as it is
        raw = (request.form.get(f"line-{line.id}") or "").strip()
        entered[line.id] = raw
        if raw == "":
            values[line.id] = None
        elif raw.isascii() and raw.isdigit() and len(raw) <= 7:
            values[line.id] = int(raw)
        else:
            errors[line.id] = _("Enter a whole number, zero or more.")
    if errors or not form.validate_on_submit():
        return _count_page(count, form, errors, entered, status=422)
    closing = request.form.get("action") == "close"
    try:
        counts.record_counted(db.session, current_user, count.id, values)
        if closing:
            counts.close_count(db.session, current_user, count.id, reason=form.reason.data or "",
                               witness=witness_from(form))
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        line_id = parse_id((exc.field or "")[5:]) if (exc.field or "").startswith("line-") else None
        if line_id is not None:
            errors[line_id] = exc.message
        else:
            place_error(form, exc)
        return _count_page(counts.get_count(db.session, count_id), form, errors, entered, status=422)
    db.session.commit()
    flash(_("Count closed: differences posted to the ledger.") if closing else _("Counts saved."),
          "success")
    return redirect_to(url_for("pharmacy.stock_count", count_id=count.id))


@bp.route("/stock/reconcile")
@require(Perm.STOCK_VIEW)
def stock_reconcile() -> Response:
    """Does every batch's ledger add up to its quantity? Lists the ones that do not."""
    location_id = parse_id(request.args.get("location"))
    return render("pharmacy/stock_reconcile.html",
                  discrepancies=counts.reconcile(db.session, location_id),
                  locations=stock.locations(db.session), location_id=location_id,
                  open_counts=[c for c in counts.list_counts(db.session) if c.status == COUNT_OPEN])
