"""An appointment's arrival and reminders, the patient's reminder contact, the no-show report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.frontdesk import bp
from app.blueprints.frontdesk.forms import ContactForm, PeriodForm
from app.core.errors import DomainError
from app.core.htmx import invalid, render
from app.core.security import Perm, require
from app.domain.frontdesk import services as frontdesk
from app.domain.reminders import services as reminders
from app.extensions import db


def _appointment_context(appointment_id: int, form: ContactForm | None = None) -> dict[str, Any]:
    overview = frontdesk.appointment_overview(db.session, current_user, appointment_id)
    patient = overview.appointment.patient
    if form is None:
        form = ContactForm(formdata=None, data={"email": patient.email or "",
                                                "channel": patient.reminder_channel or ""})
    items = reminders.reminders_for(db.session, current_user, appointment_id)
    return {"overview": overview, "appointment": overview.appointment, "patient": patient,
            "reminders": items, "failed": reminders.failed_jobs(db.session, items), "form": form,
            "tz": current_app.config["HOSPITAL_TIMEZONE"],
            "default_channel": current_app.config.get("REMINDER_DEFAULT_CHANNEL", "sms")}


@bp.route("/appointments/<int:appointment_id>")
@require(Perm.PATIENT_READ)
def view_appointment(appointment_id: int) -> Response:
    """The appointment as the desk sees it: arrival, ticket, and every reminder attempt."""
    return render("frontdesk/appointment.html", "frontdesk/_reminders.html", **_appointment_context(appointment_id))


@bp.route("/appointments/<int:appointment_id>/reminder-contact", methods=["POST"])
@require(Perm.PATIENT_WRITE)
def save_reminder_contact(appointment_id: int) -> Response:
    """Record the patient's e-mail and how they want reminders (from the appointment page)."""
    form = ContactForm()
    if form.validate_on_submit():
        overview = frontdesk.appointment_overview(db.session, current_user, appointment_id)
        try:
            reminders.set_contact(db.session, current_user, overview.appointment.patient_id,
                                  form.email.data, form.channel.data)
        except DomainError as exc:
            db.session.rollback()
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else form.form_errors).append(exc.message)
        else:
            db.session.commit()
            flash(_("Reminder contact saved."), "success")
            return render("frontdesk/appointment.html", "frontdesk/_contact_form.html",
                          **_appointment_context(appointment_id))
    return invalid("frontdesk/appointment.html", "frontdesk/_contact_form.html",
                   **_appointment_context(appointment_id, form))


@bp.route("/reports/no-shows")
@require(Perm.NO_SHOW_REPORT)
def no_show_report() -> Response:
    """No-show rates per clinic over a period (the last 30 days unless chosen), and the
    patients who most often miss appointments."""
    form = PeriodForm(request.args)
    today = frontdesk.today()
    valid = form.validate()
    since = form.since.data if valid and form.since.data else today - timedelta(days=30)
    until = form.until.data if valid and form.until.data else today
    report = None
    if valid:
        try:
            report = frontdesk.no_show_report(db.session, current_user, since, until)
        except DomainError as exc:
            getattr(form, exc.field or "until").errors = [exc.message]
            valid = False
    form.since.data, form.until.data = since, until
    context: dict[str, Any] = {"form": form, "report": report}
    if not valid:
        return invalid("frontdesk/no_shows.html", "frontdesk/_no_shows.html", **context)
    return render("frontdesk/no_shows.html", "frontdesk/_no_shows.html", **context)
