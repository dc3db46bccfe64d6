"""Calendars, booking, rescheduling and cancelling: reception's keyboard-first pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.blueprints.scheduling import bp
from app.blueprints.scheduling.forms import BookForm, CancelForm, NextFreeForm
from app.core import clock
from app.core.errors import Conflict, DomainError, NotFound
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_day, parse_id
from app.domain.patients import rules as patient_rules
from app.domain.patients import services as patients
from app.domain.patients.models import Patient
from app.domain.scheduling import availability, planner
from app.domain.scheduling import configuration as conf
from app.domain.scheduling import services as scheduling
from app.domain.scheduling.models import Appointment, Resource
from app.domain.scheduling.rules import SEARCH_HORIZON_DAYS, Slot, local_instant, wall_time_exists
from app.extensions import db


def _today() -> date:
    return clock.now().astimezone(availability.hospital_tz()).date()


def _arg_int(name: str) -> int | None:
    return parse_id(request.args.get(name))


def _arg_date(name: str) -> date:
    return parse_day(request.args.get(name)) or _today()


def _arg_ids(name: str) -> list[int]:
    return [i for v in request.args.getlist(name) if (i := parse_id(v)) is not None]


def _patient_or_none(patient_id: int | None) -> Patient | None:
    if patient_id is None:
        return None
    try:
        return patients.get_patient(db.session, current_user, patient_id)
    except DomainError:
        return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Bounded like any typed day, so converting to the hospital zone cannot pass date.max.
    return parsed if parsed.tzinfo is not None and parse_day(parsed.date()) is not None else None


# ---- calendars ----------------------------------------------------------------------------------

@bp.route("/")
@require(Perm.SCHEDULE_VIEW)
def schedule_home() -> Response:
    patient = _patient_or_none(_arg_int("patient_id"))
    return render(
        "scheduling/home.html", clinics=conf.list_clinics(db.session, active_only=True),
        resources=conf.list_resources(db.session, active_only=True), patient=patient,
        upcoming=_upcoming(patient),
    )


def _calendar(plan: planner.Plan, title: str, endpoint: str, key: dict[str, Any], span: str,
              first: date) -> Response:
    patient = _patient_or_none(_arg_int("patient_id"))
    reschedule_id = _arg_int("reschedule")
    rescheduling = db.session.get(Appointment, reschedule_id) if reschedule_id else None
    step = timedelta(days=7 if span == "week" else 1)
    keep: dict[str, Any] = {"span": span}
    if plan.appointment_type is not None:
        keep["type"] = plan.appointment_type.id
    if patient is not None:
        keep["patient_id"] = patient.id
    if rescheduling is not None:
        keep["reschedule"] = rescheduling.id
    clinician = key.get("resource_id") if plan.columns and plan.columns[0].resource is not None \
        and plan.columns[0].resource.kind == "clinician" and "resource_id" in key else None

    def link(**changes: Any) -> str:
        return url_for(endpoint, **{**key, **keep, "date": first.isoformat(), **changes})

    urls = {
        "prev": link(date=(plan.days[0] - step).isoformat()),
        "today": link(date=_today().isoformat()),
        "next": link(date=(plan.days[0] + step).isoformat()),
        "day": link(span="day"), "week": link(span="week"),
        "clear_patient": url_for(endpoint, **key, date=first.isoformat(), span=span),
        "next_free": url_for(
            "scheduling.find_next_free", clinician_id=clinician,
            patient_id=patient.id if patient else None,
            appointment_type_id=plan.appointment_type.id if plan.appointment_type else None,
        ),
        "form": url_for(endpoint, **key),
    }
    return render(
        "scheduling/calendar.html", "scheduling/_calendar.html", plan=plan, title=title,
        endpoint=endpoint, span=span, day=first, patient=patient, rescheduling=rescheduling,
        urls=urls, iso=iso,
    )


def _span() -> str:
    return "week" if request.args.get("span") == "week" else "day"


@bp.route("/clinics/<int:clinic_id>")
@require(Perm.SCHEDULE_VIEW)
def view_clinic(clinic_id: int) -> Response:
    clinic = conf.get_clinic(db.session, clinic_id)
    first, span = _arg_date("date"), _span()
    plan = planner.clinic_plan(db.session, current_user, clinic, planner.days_of(first, span), _arg_int("type"))
    return _calendar(plan, clinic.name, "scheduling.view_clinic", {"clinic_id": clinic.id}, span, first)


@bp.route("/resources/<int:resource_id>")
@require(Perm.SCHEDULE_VIEW)
def view_resource(resource_id: int) -> Response:
    resource = conf.get_resource(db.session, resource_id)
    first, span = _arg_date("date"), _span()
    plan = planner.resource_plan(db.session, current_user, resource, planner.days_of(first, span), _arg_int("type"))
    return _calendar(plan, resource.name, "scheduling.view_resource", {"resource_id": resource.id}, span, first)


# ---- booking ------------------------------------------------------------------------------------

def _book_choices(form: BookForm) -> None:
    form.appointment_type_id.choices = [SelectChoice("", _("Choose…"))] + [
        SelectChoice(t.id, f"{t.name} ({t.slot_minutes} min)") for t in conf.list_types(db.session, active_only=True)
    ]
    for kind, field in (("clinician", form.clinician_id), ("room", form.room_id), ("equipment", form.equipment_id)):
        field.choices = [SelectChoice("", "—")] + [
            SelectChoice(r.id, r.name) for r in conf.list_resources(db.session, kind=kind, active_only=True)
        ]


def _fill_slot(form: BookForm, start: datetime, resource_ids: list[int]) -> None:
    """Put a slot into the form: the exact instant, its local date and time, its resources."""
    local = start.astimezone(availability.hospital_tz())
    form.day.data, form.start_time.data = local.date(), local.time().replace(second=0, microsecond=0)
    form.clinician_id.data = form.room_id.data = form.equipment_id.data = None
    for r in db.session.query(Resource).filter(Resource.id.in_(resource_ids)):
        {"clinician": form.clinician_id, "room": form.room_id, "equipment": form.equipment_id}[r.kind].data = r.id


def _upcoming(patient: Patient | None) -> list[Appointment]:
    return scheduling.upcoming_for_patient(db.session, current_user, patient.id) if patient else []


def _book_page(form: BookForm, patient: Patient | None, status: int = 200,
               taken: scheduling.SlotTaken | None = None) -> Response:
    offer = _offer_form(form, taken.offer) if taken is not None and taken.offer is not None else None
    context: dict[str, Any] = {"form": form, "patient": patient, "upcoming": _upcoming(patient),
                               "taken": taken, "offer": offer, "offer_slot": taken.offer if taken else None,
                               "tz": availability.hospital_tz(), "iso": iso}
    return render("scheduling/book.html", "scheduling/_book_form.html", status=status, **context)


def _offer_form(form: BookForm, slot: Slot) -> BookForm:
    """The same booking at the offered slot, ready to send with one key press."""
    offer = BookForm(formdata=None)
    _book_choices(offer)
    offer.patient_id.data, offer.mrn.data = form.patient_id.data, form.mrn.data
    offer.appointment_type_id.data, offer.note.data = form.appointment_type_id.data, form.note.data
    _fill_slot(offer, slot.start, list(slot.resource_ids))
    return offer


@bp.route("/book")
@require(Perm.APPOINTMENT_BOOK)
def new_appointment() -> Response:
    form = BookForm(formdata=None)
    _book_choices(form)
    patient = _patient_or_none(_arg_int("patient_id"))
    if patient is not None:
        form.patient_id.data = str(patient.id)
    form.appointment_type_id.data = _arg_int("type")
    start = _parse_iso(request.args.get("start"))
    if start is not None:
        _fill_slot(form, start, _arg_ids("resources"))
    return _book_page(form, patient)


def _form_patient(form: BookForm) -> Patient:
    """The patient chosen on the chart (patient_id) or typed in by MRN."""
    patient = _patient_or_none(parse_id(form.patient_id.data))
    if patient is not None:
        return patient
    mrn = (form.mrn.data or "").strip()
    if not mrn:
        raise DomainError(_("Enter the patient's MRN, or start from the patient's chart."), field="patient_id")
    problem = patient_rules.mrn_problem(mrn)
    if problem:
        raise DomainError(problem, field="patient_id")
    match = next((p for p in patients.visible_patients(db.session, current_user, mrn, limit=5) if p.mrn == mrn), None)
    if match is None:
        raise DomainError(_("No patient has the MRN %(mrn)s.", mrn=mrn), field="patient_id")
    return match


def _form_start(form: BookForm, exact: str | None) -> datetime:
    day, at = form.day.data, form.start_time.data
    assert day is not None and at is not None
    tz = availability.hospital_tz()
    chosen = _parse_iso(exact)
    # A slot link carries its exact instant; it decides the one local hour that occurs twice
    # when the clocks go back, as long as the clerk did not change the date or time.
    if chosen is not None:
        local = chosen.astimezone(tz)
        if (local.date(), local.time().replace(second=0, microsecond=0)) == (day, at):
            return chosen
    if not wall_time_exists(day, at, tz):
        raise DomainError(_("That time does not exist on that day: the clocks go forward."), field="start_at")
    return local_instant(day, at, tz)


@bp.route("/book", methods=["POST"])
@require(Perm.APPOINTMENT_BOOK)
def book_appointment() -> Response:
    form = BookForm()
    _book_choices(form)
    patient: Patient | None = None
    if form.validate_on_submit():
        try:
            patient = _form_patient(form)
            form.patient_id.data = str(patient.id)
            if form.appointment_type_id.data is None:
                raise DomainError(_("Choose an appointment type."), field="appointment_type_id")
            appt = scheduling.book_appointment(
                db.session, current_user, patient_id=patient.id,
                appointment_type_id=form.appointment_type_id.data,
                start_at=_form_start(form, request.form.get("start_at")),
                resource_ids=form.resource_ids(), note=form.note.data,
            )
        except scheduling.SlotTaken as exc:  # said once, above the form, with the offer
            db.session.rollback()
            return _book_page(form, patient, status=409, taken=exc)
        except DomainError as exc:
            db.session.rollback()
            form.show_error(exc)
        else:
            db.session.commit()
            flash(_("Booked %(name)s for %(when)s.", name=patient.name,
                    when=appt.start_at.astimezone(availability.hospital_tz()).strftime("%a %d %b %H:%M")), "success")
            return redirect_to(url_for("scheduling.view_appointment", appointment_id=appt.id))
    if patient is None:
        patient = _patient_or_none(parse_id(form.patient_id.data))
    return _book_page(form, patient, status=422)


# ---- one appointment ---------------------------------------------------------------------------

def _appointment_page(appt: Appointment, cancel_form: CancelForm | None = None, status: int = 200) -> Response:
    if cancel_form is None:
        cancel_form = CancelForm(formdata=None)
        cancel_form.version.data = str(appt.version)
    context: dict[str, Any] = {
        "appt": appt, "cancel_form": cancel_form, "tz": availability.hospital_tz(),
        "successor": scheduling.rescheduled_to(db.session, appt.id),
    }
    if status == 200:
        return render("scheduling/appointment.html", **context)
    return render("scheduling/appointment.html", "scheduling/_cancel_form.html", status=status, **context)


def _appointment(appointment_id: int) -> Appointment:
    try:
        appt = scheduling.get_appointment(db.session, current_user, appointment_id)
        patients.get_patient(db.session, current_user, appt.patient_id)
    except NotFound:
        abort(404)
    return appt


@bp.route("/appointments/<int:appointment_id>")
@require(Perm.SCHEDULE_VIEW)
def view_appointment(appointment_id: int) -> Response:
    return _appointment_page(_appointment(appointment_id))


def _version(form: Any) -> int | None:
    return parse_id(form.version.data)


@bp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@require(Perm.APPOINTMENT_BOOK)
def cancel_appointment(appointment_id: int) -> Response:
    appt = _appointment(appointment_id)
    form = CancelForm()
    if form.validate_on_submit():
        try:
            scheduling.cancel_appointment(db.session, current_user, appt.id, form.reason.data or "",
                                          expected_version=_version(form))
        except DomainError as exc:
            db.session.rollback()
            form.show_error(exc)
            appt = _appointment(appointment_id)
            return _appointment_page(appt, form, status=409 if isinstance(exc, Conflict) else 422)
        db.session.commit()
        flash(_("Cancelled. The slot is free again."), "success")
        return redirect_to(url_for("scheduling.view_appointment", appointment_id=appt.id))
    return _appointment_page(appt, form, status=422)


@bp.route("/appointments/<int:appointment_id>/reschedule")
@require(Perm.APPOINTMENT_BOOK)
def reschedule_form(appointment_id: int) -> Response:
    """Without a slot: the calendar of the appointment's clinician (or first resource), to pick
    one. With a slot: the confirmation form."""
    appt = _appointment(appointment_id)
    start = _parse_iso(request.args.get("start"))
    if start is None:
        held = sorted((b.resource for b in appt.bookings if b.active), key=lambda r: r.kind != "clinician")
        day = max(appt.start_at.astimezone(availability.hospital_tz()).date(), _today())
        target = url_for("scheduling.view_resource", resource_id=held[0].id, date=day.isoformat(),
                         type=appt.appointment_type_id, reschedule=appt.id) if held else \
            url_for("scheduling.view_clinic", clinic_id=appt.clinic_id, type=appt.appointment_type_id,
                    reschedule=appt.id)
        return redirect_to(target)
    form = BookForm(formdata=None)
    _book_choices(form)
    form.version.data = str(appt.version)
    _fill_slot(form, start, _arg_ids("resources"))
    return _reschedule_page(appt, form, start)


def _reschedule_page(appt: Appointment, form: BookForm, start: datetime | None, status: int = 200,
                     taken: scheduling.SlotTaken | None = None) -> Response:
    offer = _offer_form(form, taken.offer) if taken is not None and taken.offer is not None else None
    if offer is not None:
        offer.version.data = form.version.data
    context: dict[str, Any] = {"appt": appt, "form": form, "start": start, "taken": taken, "offer": offer,
                               "offer_slot": taken.offer if taken else None,
                               "tz": availability.hospital_tz(), "iso": iso}
    return render("scheduling/reschedule.html", "scheduling/_reschedule_form.html", status=status, **context)


@bp.route("/appointments/<int:appointment_id>/reschedule", methods=["POST"])
@require(Perm.APPOINTMENT_BOOK)
def reschedule_appointment(appointment_id: int) -> Response:
    appt = _appointment(appointment_id)
    form = BookForm()
    _book_choices(form)
    start: datetime | None = None
    if form.validate_on_submit():
        try:
            start = _form_start(form, request.form.get("start_at"))
            new = scheduling.reschedule_appointment(
                db.session, current_user, appt.id, start_at=start, resource_ids=form.resource_ids(),
                reason=form.note.data, expected_version=_version(form),
            )
        except scheduling.SlotTaken as exc:
            db.session.rollback()
            return _reschedule_page(_appointment(appointment_id), form, start, status=409, taken=exc)
        except DomainError as exc:
            db.session.rollback()
            form.show_error(exc)
            status = 409 if isinstance(exc, Conflict) else 422
            return _reschedule_page(_appointment(appointment_id), form, start, status=status)
        db.session.commit()
        flash(_("Rescheduled to %(when)s.", when=new.start_at.astimezone(availability.hospital_tz())
                .strftime("%a %d %b %H:%M")), "success")
        return redirect_to(url_for("scheduling.view_appointment", appointment_id=new.id))
    return _reschedule_page(appt, form, start, status=422)


# ---- next free slot, upcoming appointments ------------------------------------------------------

@bp.route("/next-free")
@require(Perm.SCHEDULE_VIEW)
def find_next_free() -> Response:
    form = NextFreeForm(request.args)
    form.appointment_type_id.choices = [SelectChoice("", _("Choose…"))] + [
        SelectChoice(t.id, f"{t.name} ({t.slot_minutes} min)") for t in conf.list_types(db.session, active_only=True)
    ]
    form.clinician_id.choices = [SelectChoice("", _("Any clinician"))] + [
        SelectChoice(r.id, r.name) for r in conf.list_resources(db.session, kind="clinician", active_only=True)
    ]
    patient = _patient_or_none(_arg_int("patient_id"))
    context: dict[str, Any] = {"form": form, "patient": patient, "slot": None, "searched": False,
                               "tz": availability.hospital_tz(), "iso": iso,
                               "horizon": SEARCH_HORIZON_DAYS}
    if "appointment_type_id" not in request.args:
        return render("scheduling/next_free.html", "scheduling/_next_free.html", **context)
    if form.validate():
        try:
            if form.appointment_type_id.data is None:
                raise DomainError(_("Choose an appointment type."), field="appointment_type_id")
            after = None
            if form.after.data is not None:
                after = local_instant(form.after.data, datetime.min.time(), availability.hospital_tz())
            context["slot"] = scheduling.next_free_slot(
                db.session, current_user, appointment_type_id=form.appointment_type_id.data,
                clinician_id=form.clinician_id.data, after=after,
            )
            context["searched"] = True
            context["resources"] = {r.id: r for r in conf.list_resources(db.session)}
            return render("scheduling/next_free.html", "scheduling/_next_free.html", **context)
        except DomainError as exc:
            form.show_error(exc)
    return invalid("scheduling/next_free.html", "scheduling/_next_free.html", **context)


@bp.route("/patients/<int:patient_id>/upcoming")
@require(Perm.SCHEDULE_VIEW)
def patient_upcoming(patient_id: int) -> Response:
    patient = patients.get_patient(db.session, current_user, patient_id)
    return render("scheduling/_upcoming.html", "scheduling/_upcoming.html", patient=patient,
                  upcoming=_upcoming(patient), tz=availability.hospital_tz())
