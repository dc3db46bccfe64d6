"""The wards' board and ADT pages: the hospital-wide board with a free-bed finder, each ward's
live bed board, admitting, a bed's page (reserve, close, clean), an inpatient's page (transfer,
discharge, cancels, nurse, expected date), the cleaning list and the census."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, abort, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.blueprints.wards import bp
from app.blueprints.wards.adt_forms import (
    AdmitForm,
    CloseBedForm,
    DischargeForm,
    ExpectedDischargeForm,
    NurseForm,
    OrderDischargeForm,
    PlainForm,
    ReasonForm,
    ReserveForm,
    TransferForm,
)
from app.core import audit, clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import redirect_to, render
from app.core.security import Perm, authorize_ward, can, require
from app.core.web import parse_id, parse_version, place_error
from app.domain.admissions import adt, board, rules
from app.domain.admissions import census as census_figures
from app.domain.admissions.models import Encounter
from app.domain.facilities import beds
from app.domain.facilities import rules as bed_rules
from app.domain.facilities.models import Bed, BedReservation, Ward
from app.domain.patients.models import Patient
from app.extensions import db

# Other parts of the wards issue link from the inpatient page; each link shows once its page exists.
ENCOUNTER_LINKS = (
    ("wards.record_vitals", "Record vitals"),
    ("wards.chart_vitals", "Vitals chart"),
    ("wards.medication_chart", "Medication chart"),
    ("wards.list_notes", "Nursing notes"),
)


# --- the hospital and a ward -----------------------------------------------------------------

@bp.route("/")
@require(Perm.WARD_VIEW)
def list_wards() -> Response:
    """Every ward in scope with its beds counted by state, and a free-bed finder (by ward class
    or specialty)."""
    ward_class = (request.args.get("ward_class") or "").strip()[:20]
    specialty = (request.args.get("specialty") or "").strip()[:80]
    classes, specialties = board.ward_choices(db.session)
    finding = "find" in request.args
    free = board.find_free_beds(db.session, current_user, ward_class=ward_class, specialty=specialty) \
        if finding else []
    fragment = "wards/_free_beds.html" if finding else "wards/_ward_summaries.html"
    return render("wards/list.html", fragment, summaries=board.hospital_board(db.session, current_user),
                  classes=classes, specialties=specialties, ward_class=ward_class, specialty=specialty,
                  finding=finding, free=free, state_labels=bed_rules.STATE_LABELS)


@bp.route("/<int:ward_id>")
@require(Perm.WARD_VIEW)
def view_ward(ward_id: int) -> Response:
    """The ward's live bed board; an htmx request (a live event) gets the beds alone."""
    the_board = board.ward_board(db.session, current_user, ward_id, clock.now(), clock.hospital_today())
    if the_board is None:
        abort(404)
    views = current_app.view_functions
    return render("wards/ward.html", "wards/_beds.html", board=the_board, ward=the_board.ward,
                  tz=clock.hospital_timezone(), today=clock.hospital_today(), state_labels=bed_rules.STATE_LABELS,
                  clean_form=PlainForm(formdata=None),
                  may_admit=can(current_user, Perm.ADMIT), may_clean=can(current_user, Perm.BED_HOUSEKEEPING),
                  handover_link="wards.handover_home" in views)


# --- admitting -------------------------------------------------------------------------------

def _admit_form(ward_id: int | None, formdata: Any = None, reservation: BedReservation | None = None) -> AdmitForm:
    """The admission form. Available beds come first (the ward's own, then others), then the
    bed of the reservation being used, then other reserved beds, each saying what it is held
    for: the browser selects the first option when none is chosen, and that must never be a
    bed held for someone else."""
    form = AdmitForm(formdata=formdata) if formdata is not None else AdmitForm(formdata=None)
    scope = current_user.scoped_ward_ids(Perm.ADMIT)
    free = beds.free_beds(db.session, sorted(scope) if scope is not None else None)
    reserved = adt.reserved_beds(db.session, current_user)
    held = beds.active_reservations(db.session, [b.id for b in reserved])
    in_ward = _ward_name(ward_id) if ward_id is not None else None

    def rank(bed: Bed) -> tuple[int, int]:
        using = reservation is not None and reservation.bed_id == bed.id
        tier = 0 if using else 1 if bed.state == "available" else 2
        return tier, 0 if bed.room.ward.name == in_ward else 1

    def label(bed: Bed) -> str:
        text = f"{bed.room.ward.name} · {bed.label}"
        r = held.get(bed.id)
        if r is not None and not (reservation is not None and reservation.id == r.id):
            text += f" ({adt.reserved_for(db.session, r)})"
        elif r is not None:
            text += f" ({_('this reservation')})"
        return text

    form.bed_id.choices = [SelectChoice(b.id, label(b)) for b in sorted(free + reserved, key=rank)]
    form.attending_id.choices = [SelectChoice("", _("Choose…"))] + [
        SelectChoice(d.id, d.full_name) for d in adt.doctors(db.session)]
    nurses = adt.ward_nurses(db.session, ward_id) if ward_id is not None else []
    form.nurse_id.choices = [SelectChoice("", _("Not yet"))] + [SelectChoice(n.id, n.full_name) for n in nurses]
    return form


def _ward_name(ward_id: int) -> str:
    ward = db.session.get(Ward, ward_id)
    return ward.name if ward is not None else ""


def _reservation_in_use(reservation_id: int | None, bed: Bed | None) -> BedReservation | None:
    """The reservation an admission carries (from the board's Admit link, through the search and
    the form): active, and of the chosen bed. A lapsed one, or one of another bed (the user chose
    a different bed), is dropped: the bed's own state then decides."""
    if reservation_id is None:
        return None
    r = db.session.get(BedReservation, reservation_id)
    if r is None or r.status != "active" or (bed is not None and r.bed_id != bed.id):
        return None
    return r


def _admit_context(form: AdmitForm, patient: Patient | None, ward_id: int | None, q: str = "",
                   error: str | None = None, reservation: BedReservation | None = None) -> dict[str, Any]:
    return {"form": form, "patient": patient, "ward_id": ward_id, "q": q, "error": error,
            "today": clock.hospital_today(), "candidates": None, "reservation": reservation,
            "reservation_id": reservation.id if reservation is not None else None}


@bp.route("/admit", methods=["GET", "POST"])
@require(Perm.ADMIT)
def admit_patient() -> Response:
    """Find the patient (MRN or name), then the admission form: bed, source, attending,
    diagnosis, expected discharge, nurse. A POST admits and opens the inpatient page. A
    reservation (the board's Admit on a reserved bed) travels through the search and the form;
    one that names its patient opens the form for that patient."""
    bed_id = parse_id(request.values.get("bed_id"))
    bed = db.session.get(Bed, bed_id) if bed_id is not None else None
    reservation = _reservation_in_use(parse_id(request.values.get("reservation_id")), bed)
    if bed is None and reservation is not None:
        bed = db.session.get(Bed, reservation.bed_id)
    ward_id = parse_id(request.values.get("ward_id")) or (bed.room.ward_id if bed is not None else None)
    patient_id = parse_id(request.values.get("patient_id"))
    if (patient_id is None and request.method == "GET" and "search" not in request.args
            and reservation is not None and reservation.patient_id is not None):
        patient_id = reservation.patient_id
    found = adt.admission_patient(db.session, current_user, patient_id) if patient_id is not None else None
    patient = found.patient if found is not None else None
    admitted = found.admitted if found is not None else None
    if request.method == "GET":
        db.session.commit()  # the lookup is audited
        form = _admit_form(ward_id, reservation=reservation)
        if bed is not None and _may_preselect(bed, reservation, patient):
            form.bed_id.data = bed.id
        if reservation is not None:
            form.reservation_id.data = str(reservation.id)
        if patient is not None:
            form.patient_id.data = str(patient.id)
        return render("wards/admit.html", None, admitted=admitted,
                      **_admit_context(form, patient, ward_id, request.args.get("q", ""), reservation=reservation))
    form = _admit_form(ward_id, request.form, reservation=reservation)
    status = 422
    if patient is None:
        form.form_errors.append(_("Choose the patient to admit."))
    elif form.validate_on_submit():
        chosen = db.session.get(Bed, form.bed_id.data)
        # The reservation goes with its own bed only: a different bed chosen on the form is
        # admitted on that bed's own terms (refused if it is held for someone else).
        using = reservation if reservation is not None and chosen is not None \
            and reservation.bed_id == chosen.id else None
        try:
            encounter = adt.admit(
                db.session, current_user, patient_id=patient.id, bed_id=form.bed_id.data,
                source=form.source.data or "", attending_id=form.attending_id.data,
                diagnosis=form.diagnosis.data, expected_discharge_on=form.expected_discharge_on.data,
                nurse_id=form.nurse_id.data, reservation_id=using.id if using is not None else None)
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc, conflicts=True)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            db.session.commit()
            flash(_("%(name)s admitted to %(bed)s.", name=patient.name,
                    bed=beds.describe(encounter.bed) if encounter.bed else ""), "success")
            return redirect_to(url_for("wards.view_encounter", encounter_id=encounter.id))
        found = adt.admission_patient(db.session, current_user, patient_id) if patient_id is not None else None
        patient = found.patient if found is not None else None
        admitted = found.admitted if found is not None else None
        db.session.commit()  # the lookup is audited
    return render("wards/admit.html", "wards/_admit_form.html", status=status, admitted=admitted,
                  **_admit_context(form, patient, ward_id, reservation=reservation))


def _may_preselect(bed: Bed, reservation: BedReservation | None, patient: Patient | None) -> bool:
    """A bed named in the link is pre-selected only when this admission may take it: it is
    available, or it is the bed of the reservation being used, or it is held for this patient."""
    if bed.state == "available" or (reservation is not None and reservation.bed_id == bed.id):
        return True
    held = beds.active_reservations(db.session, [bed.id]).get(bed.id)
    return held is not None and patient is not None and held.patient_id == patient.id


@bp.route("/admit/candidates")
@require(Perm.ADMIT)
def search_admission_candidates() -> Response:
    """Patients to admit, as you type (MRN or name); those already admitted are marked. The
    bed and reservation being admitted to ride along in each patient's link."""
    q = request.args.get("q", "")
    ward_id = parse_id(request.args.get("ward_id"))
    bed_id = parse_id(request.args.get("bed_id"))
    reservation_id = parse_id(request.args.get("reservation_id"))
    context: dict[str, Any] = {"q": q, "ward_id": ward_id, "bed_id": bed_id, "reservation_id": reservation_id,
                               "error": None, "candidates": [], "today": clock.hospital_today(), "admitted": {}}
    if q.strip():
        try:
            found = adt.admission_candidates(db.session, current_user, q)
        except DomainError as exc:
            if exc.field != "q":
                raise
            context["error"] = exc.message
            return render("wards/admit.html", "wards/_candidates.html", status=422, **context)
        db.session.commit()  # the search is audited
        context["candidates"], context["admitted"] = found
    return render("wards/admit.html", "wards/_candidates.html", **context)


# --- a bed -----------------------------------------------------------------------------------

def _bed_context(bed: Bed, **forms: Any) -> dict[str, Any]:
    reservation = beds.active_reservations(db.session, [bed.id]).get(bed.id)
    occupant = adt.occupant(db.session, bed.id)
    reserved_for = db.session.get(Patient, reservation.patient_id) if reservation and reservation.patient_id else None
    context = {"bed": bed, "ward": bed.room.ward, "reservation": reservation, "reserved_for": reserved_for,
               "occupant": occupant, "tz": clock.hospital_timezone(), "state_labels": bed_rules.STATE_LABELS,
               "reserve_form": ReserveForm(formdata=None), "close_form": CloseBedForm(formdata=None),
               "plain_form": PlainForm(formdata=None),
               "reserve_patient": None}
    context.update(forms)
    return context


def _bed_in_scope(bed_id: int) -> Bed:
    bed = beds.get_bed(db.session, bed_id)
    authorize_ward(current_user, Perm.WARD_VIEW, bed.room.ward_id)
    return bed


@bp.route("/beds/<int:bed_id>")
@require(Perm.WARD_VIEW)
def view_bed(bed_id: int) -> Response:
    """One bed: its state and what may be done with it (admit, reserve, close, clean)."""
    bed = _bed_in_scope(bed_id)
    context = _bed_context(bed)
    patient_id = parse_id(request.args.get("patient_id"))
    if patient_id is not None:
        context["reserve_patient"] = db.session.get(Patient, patient_id)
        context["reserve_form"].patient_id.data = str(patient_id)
    return render("wards/bed.html", None, **context)


def _bed_action(bed_id: int, form: Any, action: Any, done: str, form_name: str) -> Response:
    """Run a bed's form: success goes back to the ward's board; a refusal shows beside the form."""
    bed = _bed_in_scope(bed_id)
    ward_id = bed.room.ward_id
    status = 422
    if form.validate_on_submit():
        try:
            action(bed)
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc, conflicts=True)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            db.session.commit()
            flash(done, "success")
            return redirect_to(url_for("wards.view_ward", ward_id=ward_id))
    bed = beds.get_bed(db.session, bed_id)
    return render("wards/bed.html", None, status=status, **_bed_context(bed, **{form_name: form}))


@bp.route("/beds/<int:bed_id>/reserve", methods=["POST"])
@require(Perm.ADMIT)
def reserve_bed(bed_id: int) -> Response:
    """Hold the bed for a pending admission; it lapses after BED_RESERVATION_MINUTES."""
    form = ReserveForm(request.form)
    return _bed_action(bed_id, form, lambda bed: beds.reserve_bed(
        db.session, current_user, bed.id, patient_id=parse_id(form.patient_id.data), note=form.note.data),
        _("Bed reserved."), "reserve_form")


@bp.route("/reservations/<int:reservation_id>/cancel", methods=["POST"])
@require(Perm.ADMIT)
def cancel_reservation(reservation_id: int) -> Response:
    reservation = beds.get_reservation(db.session, reservation_id)
    form = PlainForm(request.form)
    return _bed_action(reservation.bed_id, form, lambda bed: beds.cancel_reservation(
        db.session, current_user, reservation_id), _("Reservation cancelled; the bed is available."), "plain_form")


@bp.route("/beds/<int:bed_id>/close", methods=["POST"])
@require(Perm.BED_MANAGE)
def close_bed(bed_id: int) -> Response:
    """Take a free bed out of service, with the reason."""
    form = CloseBedForm(request.form)
    return _bed_action(bed_id, form, lambda bed: beds.take_out_of_service(
        db.session, current_user, bed.id, form.reason.data or ""), _("Bed taken out of service."), "close_form")


@bp.route("/beds/<int:bed_id>/open", methods=["POST"])
@require(Perm.BED_MANAGE)
def reopen_bed(bed_id: int) -> Response:
    form = PlainForm(request.form)
    return _bed_action(bed_id, form, lambda bed: beds.return_to_service(db.session, current_user, bed.id),
                       _("Bed back in service."), "plain_form")


@bp.route("/beds/<int:bed_id>/clean", methods=["POST"])
@require(Perm.BED_HOUSEKEEPING)
def mark_bed_clean(bed_id: int) -> Response:
    """Housekeeping: the bed is clean and available. Answers the cleaning list (or the board)
    with its fragment; housekeeping never sees the board."""
    form = PlainForm(request.form)
    bed = beds.get_bed(db.session, bed_id)
    ward_id = bed.room.ward_id
    if not form.validate_on_submit():
        abort(400)
    try:
        beds.mark_clean(db.session, current_user, bed_id)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        flash(exc.message, "danger")
    else:
        db.session.commit()
        flash(_("Bed %(bed)s is clean and available.", bed=bed.label), "success")
    if request.form.get("back") == "board" and can(current_user, Perm.WARD_VIEW):
        return redirect_to(url_for("wards.view_ward", ward_id=ward_id))
    return _cleaning_page()


@bp.route("/cleaning")
@require(Perm.BED_HOUSEKEEPING)
def cleaning_list() -> Response:
    """Beds waiting for cleaning, longest first. Bed and ward only: no patient names."""
    return _cleaning_page()


def _cleaning_page() -> Response:
    return render("wards/cleaning.html", "wards/_cleaning_rows.html",
                  items=beds.cleaning_list(db.session, current_user), tz=clock.hospital_timezone(), now=clock.now(),
                  form=PlainForm(formdata=None))


# --- census ----------------------------------------------------------------------------------

@bp.route("/census")
@require(Perm.WARD_VIEW)
def census() -> Response:
    """Occupancy, admissions and discharges today, expected discharges today and tomorrow."""
    today = clock.hospital_today()
    figures = census_figures.census(db.session, current_user, today, clock.hospital_timezone())
    going = census_figures.expected_discharges(db.session, current_user, today)
    return render("wards/census.html", None, census=figures, going=going, today=today,
                  tomorrow=today + timedelta(days=1))


# --- an inpatient ----------------------------------------------------------------------------

def _encounter(encounter_id: int, perm: Perm = Perm.WARD_VIEW) -> Encounter:
    return adt.get_recent_encounter(db.session, current_user, encounter_id, perm)


def _version_of(form: Any) -> int:
    version = parse_version(form.version.data)
    if version is None:
        raise Conflict(adt.STALE)
    return version


def _encounter_context(e: Encounter, **forms: Any) -> dict[str, Any]:
    version = {"version": str(e.version)}
    periods = adt.periods_of(db.session, e)
    beds_by = {p.bed.id: p.bed for p in periods if p.bed is not None}
    names = adt.stay_names(db.session, e, periods)
    transfer_form = TransferForm(formdata=None, data=version)
    transfer_form.bed_id.choices = [
        SelectChoice(b.id, f"{b.room.ward.name} · {b.label}" + (f" ({_('reserved')})" if b.state == "reserved" else ""))
        for b in (adt.transfer_beds(db.session, current_user, e) if e.status == "in-progress" else [])]
    nurse_form = NurseForm(formdata=None, data={**version, "nurse_id": e.nurse_id})
    nurse_form.nurse_id.choices = [SelectChoice("", _("Nobody named"))] + [
        SelectChoice(n.id, n.full_name) for n in (adt.ward_nurses(db.session, e.ward_id) if e.ward_id else [])]
    views = current_app.view_functions
    context: dict[str, Any] = {
        "e": e, "patient": e.patient, "periods": periods, "bed_by_id": beds_by, "names": names,
        "today": clock.hospital_today(), "tz": clock.hospital_timezone(),
        "dispositions": rules.DISPOSITIONS, "can_undo_transfer": rules.transfer_to_undo(periods) is not None,
        "live_periods": len([p for p in periods if p.status != "cancelled"]),
        "links": [(endpoint, label) for endpoint, label in ENCOUNTER_LINKS if endpoint in views],
        "handover_link": "wards.handover_home" in views,
        "is_doctor": can(current_user, Perm.PRESCRIBE),
        "summaries": adt.summary_history(db.session, e) if e.discharge_summary else [],
        "undo_open": adt.within_undo_window(e), "undo_hours": adt.undo_hours(),
        "transfer_form": transfer_form, "nurse_form": nurse_form,
        "order_form": OrderDischargeForm(formdata=None, data=version),
        "withdraw_form": ReasonForm(formdata=None, data=version, prefix="withdraw"),
        "discharge_form": DischargeForm(formdata=None, data=version),
        "expected_form": ExpectedDischargeForm(formdata=None, data={**version,
                                                                    "expected_discharge_on": e.expected_discharge_on}),
        "cancel_admission_form": ReasonForm(formdata=None, data=version, prefix="cancel_admission"),
        "cancel_transfer_form": ReasonForm(formdata=None, data=version, prefix="cancel_transfer"),
        "cancel_discharge_form": ReasonForm(formdata=None, data=version, prefix="cancel_discharge"),
    }
    for name, form in forms.items():
        form.version.data = str(e.version)
        if name == "transfer_form":
            form.bed_id.choices = transfer_form.bed_id.choices
        if name == "nurse_form":
            form.nurse_id.choices = nurse_form.nurse_id.choices
        context[name] = form
    return context


@bp.route("/encounters/<int:encounter_id>")
@require(Perm.WARD_VIEW)
def view_encounter(encounter_id: int) -> Response:
    """The inpatient page: banner, where the patient has been (ADT history), and the ward's
    actions. Opening it is audited as a chart read."""
    e = _encounter(encounter_id)
    audit.record(db.session, current_user, "patient.chart_opened", e.patient, patient_id=e.patient_id,
                 after={"encounter_id": e.id})
    db.session.commit()
    e = _encounter(encounter_id)
    return render("wards/encounter.html", None, **_encounter_context(e))


def _encounter_action(encounter_id: int, perm: Perm, form: Any, form_name: str, action: Any,
                      done: str, goto_board: bool = False) -> Response:
    """Run one of the inpatient page's forms: success moves on (the page again, or the board);
    a refusal re-renders the page with the message beside the field (422), or 409 when the
    admission changed meanwhile."""
    e = _encounter(encounter_id, perm)
    status = 422
    if form.validate_on_submit():
        try:
            version = _version_of(form)
            action(e, version)
        except DomainError as exc:
            db.session.rollback()
            place_error(form, exc, conflicts=True)
            status = 409 if isinstance(exc, Conflict) else 422
        else:
            ward_id = e.ward_id
            db.session.commit()
            flash(done, "success")
            if goto_board and ward_id is not None and can(current_user, Perm.WARD_VIEW):
                return redirect_to(url_for("wards.view_ward", ward_id=ward_id))
            return redirect_to(url_for("wards.view_encounter", encounter_id=encounter_id))
    e = _encounter(encounter_id)
    return render("wards/encounter.html", None, status=status, **_encounter_context(e, **{form_name: form}))


@bp.route("/encounters/<int:encounter_id>/transfer", methods=["POST"])
@require(Perm.ADMIT)
def transfer_patient(encounter_id: int) -> Response:
    form = TransferForm(request.form)
    form.bed_id.choices = []
    return _encounter_action(encounter_id, Perm.ADMIT, form, "transfer_form", lambda e, v: adt.transfer(
        db.session, current_user, e.id, form.bed_id.data, expected_version=v, note=form.note.data),
        _("Patient transferred."))


@bp.route("/encounters/<int:encounter_id>/discharge-order", methods=["POST"])
@require(Perm.DISCHARGE)
def order_discharge(encounter_id: int) -> Response:
    form = OrderDischargeForm(request.form)
    return _encounter_action(encounter_id, Perm.DISCHARGE, form, "order_form", lambda e, v: adt.order_discharge(
        db.session, current_user, e.id, expected_version=v, expected_on=form.expected_on.data),
        _("Discharge ordered. The bed stays the patient's until they leave."))


@bp.route("/encounters/<int:encounter_id>/discharge-order/withdraw", methods=["POST"])
@require(Perm.DISCHARGE)
def withdraw_discharge_order(encounter_id: int) -> Response:
    form = ReasonForm(request.form, prefix="withdraw")
    return _encounter_action(encounter_id, Perm.DISCHARGE, form, "withdraw_form",
                             lambda e, v: adt.withdraw_discharge_order(db.session, current_user, e.id,
                                                                       form.reason.data or "", v),
                             _("Discharge order withdrawn."))


@bp.route("/encounters/<int:encounter_id>/discharge", methods=["POST"])
@require(Perm.DISCHARGE)
def discharge_patient(encounter_id: int) -> Response:
    form = DischargeForm(request.form)
    return _encounter_action(encounter_id, Perm.DISCHARGE, form, "discharge_form", lambda e, v: adt.discharge(
        db.session, current_user, e.id, summary=form.summary.data or "", disposition=form.disposition.data or "",
        expected_version=v), _("Patient discharged; the bed is waiting for cleaning."), goto_board=True)


@bp.route("/encounters/<int:encounter_id>/cancel-admission", methods=["POST"])
@require(Perm.ADMIT)
def cancel_admission(encounter_id: int) -> Response:
    form = ReasonForm(request.form, prefix="cancel_admission")
    return _encounter_action(encounter_id, Perm.ADMIT, form, "cancel_admission_form",
                             lambda e, v: adt.cancel_admission(db.session, current_user, e.id,
                                                               form.reason.data or "", v),
                             _("Admission cancelled; the bed is available again."), goto_board=True)


@bp.route("/encounters/<int:encounter_id>/cancel-transfer", methods=["POST"])
@require(Perm.ADMIT)
def cancel_transfer(encounter_id: int) -> Response:
    form = ReasonForm(request.form, prefix="cancel_transfer")
    return _encounter_action(encounter_id, Perm.ADMIT, form, "cancel_transfer_form",
                             lambda e, v: adt.cancel_transfer(db.session, current_user, e.id,
                                                              form.reason.data or "", v),
                             _("Transfer cancelled; the patient is back in the previous bed."))


@bp.route("/encounters/<int:encounter_id>/cancel-discharge", methods=["POST"])
@require(Perm.DISCHARGE)
def cancel_discharge(encounter_id: int) -> Response:
    form = ReasonForm(request.form, prefix="cancel_discharge")
    return _encounter_action(encounter_id, Perm.DISCHARGE, form, "cancel_discharge_form",
                             lambda e, v: adt.cancel_discharge(db.session, current_user, e.id,
                                                               form.reason.data or "", v),
                             _("Discharge cancelled; the patient is back in their bed."))


@bp.route("/encounters/<int:encounter_id>/nurse", methods=["POST"])
@require(Perm.HANDOVER)
def assign_nurse(encounter_id: int) -> Response:
    form = NurseForm(request.form)
    form.nurse_id.choices = []
    return _encounter_action(encounter_id, Perm.HANDOVER, form, "nurse_form", lambda e, v: adt.assign_nurse(
        db.session, current_user, e.id, form.nurse_id.data, v), _("Responsible nurse set."))


@bp.route("/encounters/<int:encounter_id>/expected-discharge", methods=["POST"])
@require(Perm.DISCHARGE)
def set_expected_discharge(encounter_id: int) -> Response:
    form = ExpectedDischargeForm(request.form)
    return _encounter_action(encounter_id, Perm.DISCHARGE, form, "expected_form",
                             lambda e, v: adt.set_expected_discharge(db.session, current_user, e.id,
                                                                     form.expected_discharge_on.data, v),
                             _("Expected discharge date saved."))
