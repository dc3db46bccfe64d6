"""The pharmacist's verification worklist and the review of one prescription: verify, query
back to the prescriber, or reject with a reason."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length

from app.blueprints.pharmacy import bp
from app.core import clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_version
from app.domain.prescribing import services as prescribing
from app.domain.prescribing import verification
from app.extensions import db

OUT_OF_DATE = "This form is out of date: reload the page and try again."


class VerifyForm(FlaskForm):
    version = HiddenField()


class QueryForm(FlaskForm):
    version = HiddenField()
    message = TextAreaField(_l("Question for the prescriber"), validators=[Length(max=1000)])


class RejectForm(FlaskForm):
    version = HiddenField()
    reason = TextAreaField(_l("Why it is rejected"), validators=[Length(max=1000)])


@bp.route("/verification")
@require(Perm.PRESCRIPTION_VERIFY)
def verification_worklist() -> Response:
    """New and re-submitted prescriptions waiting for a pharmacist: urgent first, then oldest."""
    items = verification.worklist(db.session, current_user)
    return render("pharmacy/verify_worklist.html", "pharmacy/_verify_rows.html", items=items, now=clock.now())


def _review_context(prescription_id: int, **forms: Any) -> dict[str, Any]:
    rx = prescribing.get_prescription(db.session, current_user, prescription_id, Perm.PRESCRIPTION_VERIFY)
    data = {"version": str(rx.version)}
    context: dict[str, Any] = {
        "rx": rx, "patient": rx.patient, "today": clock.hospital_today(),
        "overrides": prescribing.overrides_of(db.session, rx.id), "history": prescribing.history(db.session, rx.id),
        "field_labels": prescribing.FIELD_LABELS,
        "frequency_label": current_app.config["ADMINISTRATION_TIMES"].get(rx.frequency, {}).get("label", rx.frequency),
        "current": [r for r in prescribing.patient_medicines(db.session, current_user, rx.patient_id).current
                    if r.id != rx.id],
        "verify_form": VerifyForm(formdata=None, data=data), "query_form": QueryForm(formdata=None, data=data),
        "reject_form": RejectForm(formdata=None, data=data),
        "own": verification.wrote_it(db.session, current_user, rx),
    }
    context.update(forms)
    return context


@bp.route("/verification/<int:prescription_id>")
@require(Perm.PRESCRIPTION_VERIFY)
def review_prescription(prescription_id: int) -> Response:
    """One prescription with the patient's allergies, other medicines and the prescriber's
    overrides, and the verify / query / reject decisions."""
    return render("pharmacy/verify_review.html", **_review_context(prescription_id))


def _decide(prescription_id: int, form: FlaskForm, action: str) -> Response:
    status = 422
    if form.validate_on_submit():
        version = parse_version(form.version.data)
        try:
            if version is None:  # not a form we rendered
                raise Conflict(OUT_OF_DATE)
            if action == "verify":
                rx = verification.verify(db.session, current_user, prescription_id, version)
                message = _("Verified No. %(n)s.", n=rx.number)
            elif action == "query":
                rx = verification.query(db.session, current_user, prescription_id, version,
                                        form.message.data or "")
                message = _("Query sent to the prescriber for No. %(n)s.", n=rx.number)
            else:
                rx = verification.reject(db.session, current_user, prescription_id, version,
                                         form.reason.data or "")
                message = _("Rejected No. %(n)s; the prescriber was told.", n=rx.number)
        except Conflict as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = 409
        except DomainError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            if field is not None and exc.status_code == 422:
                field.errors = [exc.message]
            else:
                raise
        else:
            db.session.commit()
            flash(message, "success")
            return redirect_to(url_for("pharmacy.verification_worklist"))
    return render("pharmacy/verify_review.html", "pharmacy/_verify_decisions.html", status=status,
                  **_review_context(prescription_id, **{f"{action}_form": form}))


@bp.route("/verification/<int:prescription_id>/verify", methods=["POST"])
@require(Perm.PRESCRIPTION_VERIFY)
def verify_prescription(prescription_id: int) -> Response:
    return _decide(prescription_id, VerifyForm(), "verify")


@bp.route("/verification/<int:prescription_id>/query", methods=["POST"])
@require(Perm.PRESCRIPTION_VERIFY)
def query_prescription(prescription_id: int) -> Response:
    return _decide(prescription_id, QueryForm(), "query")


@bp.route("/verification/<int:prescription_id>/reject", methods=["POST"])
@require(Perm.PRESCRIPTION_VERIFY)
def reject_prescription(prescription_id: int) -> Response:
    return _decide(prescription_id, RejectForm(), "reject")
