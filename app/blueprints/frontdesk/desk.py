"""The reception desk: today's arrivals, checking them in, and walk-ins."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.blueprints.frontdesk import bp
from app.blueprints.frontdesk.forms import WalkInForm
from app.core import clock
from app.core.errors import DomainError
from app.core.htmx import invalid, is_htmx, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id
from app.domain.frontdesk import services as frontdesk
from app.domain.frontdesk.models import QueueTicket
from app.domain.patients.models import Patient
from app.extensions import db


def _walk_in_form(formdata: Any = None) -> WalkInForm:
    form = WalkInForm(formdata=formdata) if formdata is not None else WalkInForm(formdata=None)
    form.clinic_id.choices = [SelectChoice(0, _("Choose…"))] + [
        SelectChoice(c.id, f"{c.name} ({c.department})") for c in frontdesk.active_clinics(db.session)]
    return form


def _desk_context(form: WalkInForm | None = None) -> dict[str, Any]:
    clinic_id = parse_id(request.args.get("clinic"))
    q = request.args.get("q", "")
    day = frontdesk.today()
    if form is None:
        form = _walk_in_form()
        patient_id = parse_id(request.args.get("patient_id"))
        patient = db.session.get(Patient, patient_id) if patient_id else None
        if patient is not None:
            form.mrn.data = patient.mrn
    return {
        "rows": frontdesk.arrivals(db.session, current_user, day, clinic_id, q),
        "clinics": frontdesk.active_clinics(db.session), "clinic_id": clinic_id, "q": q, "day": day,
        "form": form, "tz": current_app.config["HOSPITAL_TIMEZONE"], "now": clock.now(),
    }


@bp.route("/")
@require(Perm.CHECK_IN)
def arrivals() -> Response:
    """Today's appointments to check in (filtered as the clerk types), and the walk-in form."""
    return render("frontdesk/arrivals.html", "frontdesk/_arrivals.html", **_desk_context())


@bp.route("/appointments/<int:appointment_id>/check-in", methods=["POST"])
@require(Perm.CHECK_IN)
def check_in(appointment_id: int) -> Response:
    """Check the patient in; the row comes back with their ticket. A refusal (another day, too
    early, cancelled) is a DomainError, shown in the flash area with its status."""
    ticket = frontdesk.check_in(db.session, current_user, appointment_id)
    db.session.commit()
    flash(_("Checked in: ticket %(code)s for %(name)s (%(clinic)s).", code=ticket.code,
            name=ticket.patient.name, clinic=ticket.clinic.name), "success")
    if not is_htmx():
        return redirect_to(url_for("frontdesk.arrivals"))
    [row] = frontdesk.arrivals(db.session, current_user, frontdesk.today(), appointment_id=appointment_id)
    return render("frontdesk/arrivals.html", "frontdesk/_arrival_row.html", row=row,
                  tz=current_app.config["HOSPITAL_TIMEZONE"], now=clock.now(), fresh=True)


@bp.route("/walk-in", methods=["POST"])
@require(Perm.CHECK_IN)
def register_walk_in() -> Response:
    form = _walk_in_form(request.form)
    if form.validate_on_submit():
        try:
            ticket: QueueTicket = frontdesk.walk_in_by_mrn(db.session, current_user, form.mrn.data or "",
                                                           form.clinic_id.data or None)
        except DomainError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else form.form_errors).append(exc.message)
        else:
            db.session.commit()
            flash(_("Walk-in: ticket %(code)s for %(name)s (%(clinic)s).", code=ticket.code,
                    name=ticket.patient.name, clinic=ticket.clinic.name), "success")
            if not is_htmx():
                return redirect_to(url_for("frontdesk.arrivals"))
            return render("frontdesk/arrivals.html", "frontdesk/_walk_in_form.html",
                          form=_walk_in_form(), issued=ticket)
    return invalid("frontdesk/arrivals.html", "frontdesk/_walk_in_form.html", **_desk_context(form))
