"""Admission, transfer and discharge (ADT), and undoing each by mistake.

Every step takes an explicit actor, is audited, raises its event (HL7 ADT and billing listen)
and flushes; the caller commits. Each is recorded as FHIR-style location periods on the
Encounter: admission opens the first, a transfer completes one and opens the next, discharge
completes the last. A cancelled step marks its period cancelled, never deletes it.

Locks are taken in one order everywhere (the patient or the encounter, then a reservation, then
the bed moving in, then the bed moving out), so two steps never wait on each other in a circle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import object_session
from sqlalchemy.orm.exc import StaleDataError

from app.core import audit, clock, events
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.security import Actor, Perm, authorize, authorize_ward, can, in_ward_scope
from app.domain.admissions import rules
from app.domain.admissions.models import ADMIT_SOURCES, Encounter, EncounterLocation
from app.domain.admissions.services import get_encounter
from app.domain.facilities import beds
from app.domain.facilities import rules as bed_rules
from app.domain.facilities.models import Bed, BedReservation
from app.domain.identity.models import User
from app.domain.patients.models import Patient

STALE = "Someone else changed this admission since you opened it. Reload and try again."
DOCTOR_ROLES = frozenset({"doctor"})
NURSE_ROLES = frozenset({"nurse", "charge_nurse"})


# --- shared steps ---------------------------------------------------------------------------

def _lock(encounter: Encounter, expected_version: int | None) -> None:
    """Lock the encounter's row (PostgreSQL: a second writer waits, then sees the first one's
    change) and refuse a form opened on an older version."""
    session = object_session(encounter)
    assert session is not None
    session.refresh(encounter, with_for_update=True)
    if expected_version is not None and encounter.version != expected_version:
        raise Conflict(STALE)


def _flush(session: DbSession) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict(STALE) from None


def _state(bed: Bed) -> str:
    return bed_rules.STATE_LABELS.get(bed.state, bed.state)


def _in_progress(encounter: Encounter) -> None:
    if encounter.class_code != "IMP":
        raise DomainError("That is not an inpatient admission.")
    if encounter.status != "in-progress":
        raise Conflict(f"This admission is {encounter.status}, not in progress.")


def _is_doctor(actor: Actor) -> bool:
    """Medical decisions (a discharge order, its date) are a prescriber's: a doctor's."""
    return can(actor, Perm.PRESCRIBE)


def _require_doctor(actor: Actor, what: str) -> None:
    if not _is_doctor(actor):
        raise Forbidden(f"Only a doctor may {what}.")


def _reason(reason: str | None) -> str:
    problem = rules.text_problem(reason, what="a reason", required=True, limit=rules.REASON_MAX)
    if problem:
        raise DomainError(problem, field="reason")
    return (reason or "").strip()


def _active_period(encounter: Encounter) -> EncounterLocation:
    for period in reversed(encounter.locations):
        if period.status == "active":
            return period
    raise Conflict("This admission has no current bed. Reload the page.")


def _user_with_role(session: DbSession, user_id: int | None, roles: frozenset[str]) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or not (user.role_keys & roles):
        return None
    return user


def _check_attending(session: DbSession, attending_id: int | None) -> None:
    if attending_id is not None and _user_with_role(session, attending_id, DOCTOR_ROLES) is None:
        raise DomainError("Choose a doctor (an active user with the doctor role).", field="attending_id")


def _check_nurse(session: DbSession, nurse_id: int | None, ward_id: int) -> None:
    if nurse_id is None:
        return
    nurse = _user_with_role(session, nurse_id, NURSE_ROLES)
    if nurse is None:
        raise DomainError("Choose a nurse (an active user with a nursing role).", field="nurse_id")
    if ward_id not in nurse.ward_ids:
        raise DomainError(f"{nurse.full_name} does not work on this ward.", field="nurse_id")


def _check_expected(day: date | None, admitted_on: date) -> None:
    problem = rules.expected_discharge_problem(day, admitted_on, clock.hospital_today())
    if problem:
        raise DomainError(problem, field="expected_discharge_on")


def _local_day(encounter: Encounter) -> date:
    return clock.to_local(encounter.started_at, clock.hospital_timezone()).date()


def _reservation_to_use(session: DbSession, bed: Bed, patient_id: int,
                        reservation_id: int | None) -> BedReservation | None:
    """The bed's active reservation this move may use, None when the bed is not reserved.
    A reservation for someone else (or for nobody, unless chosen on purpose) is refused."""
    active = beds.active_reservations(session, [bed.id]).get(bed.id)
    if reservation_id is not None and (active is None or active.id != reservation_id):
        raise Conflict("That reservation has lapsed or been cancelled. Reload and choose a bed.")
    if active is None:
        return None
    if active.id == reservation_id or active.patient_id == patient_id:
        return active
    raise Conflict(f"Bed {bed.label} is {reserved_for(session, active)}. Use the reservation or choose another bed.")


def reserved_for(session: DbSession, reservation: BedReservation) -> str:
    """What a reservation holds its bed for, in words: "reserved for <name>" when it names the
    patient (only staff who may admit on that ward see it), else "reserved (<note>)"."""
    if reservation.patient_id is not None:
        held = session.get(Patient, reservation.patient_id)
        if held is not None:
            return f"reserved for {held.name}"
    return f"reserved ({reservation.note})" if reservation.note else "reserved for a pending admission"


def _take_bed(session: DbSession, bed: Bed, reservation: BedReservation | None) -> None:
    if reservation is not None:
        beds.use_reservation(session, reservation)
        beds.move(session, bed, "occupied", only_from=frozenset({"reserved"}))
    else:
        beds.move(session, bed, "occupied", only_from=frozenset({"available"}),
                  refusal=f"Bed {beds.describe(bed)} is not available: someone else took it or it "
                          "changed state. Choose another bed.")


def _bed_event(session: DbSession, ward_id: int | None, bed_id: int | None) -> None:
    if ward_id is not None and bed_id is not None:
        events.bed_changed.send(session, ward_id=ward_id, bed_id=bed_id)


def _where(encounter: Encounter) -> dict[str, Any]:
    return {"ward_id": encounter.ward_id, "bed_id": encounter.bed_id, "status": encounter.status}


def _where_label(actor: Actor, encounter: Encounter) -> str:
    """Where an inpatient is, in words, for someone who may know: ward and bed within the
    actor's ADMIT scope, only "another ward" outside it."""
    if encounter.ward_id is not None and in_ward_scope(actor, Perm.ADMIT, encounter.ward_id):
        if encounter.ward is not None and encounter.bed is not None:
            return f"{encounter.ward.name} · {encounter.bed.label}"
        return encounter.ward.name if encounter.ward is not None else "a ward"
    return "another ward"


def _give_back(session: DbSession, bed: Bed | None, period: EncounterLocation) -> int | None:
    """The bed a cancelled step had taken goes back as it was: reserved again (the reservation
    active) if the step used a reservation that has not lapsed, otherwise available."""
    if bed is None:
        return None
    if period.reservation_id is None:
        beds.move(session, bed, "available", only_from=frozenset({"occupied"}))
        return None
    restored = beds.restore_reservation(session, period.reservation_id, bed)
    return restored.id if restored is not None else None


def _check_destination(session: DbSession, actor: Actor, encounter: Encounter, bed: Bed) -> None:
    """A transfer needs ADMIT on the patient (the sending ward, checked by get_encounter) and
    the receiving ward's consent: a bed that ward reserved for this very patient, or the actor
    working on that ward (see docs/decisions.md, Admissions and beds)."""
    held = beds.active_reservations(session, [bed.id]).get(bed.id)
    if held is not None and held.patient_id == encounter.patient_id:
        return
    authorize_ward(actor, Perm.ADMIT, beds.ward_id_of(bed))


# --- admission ------------------------------------------------------------------------------

def admit(session: DbSession, actor: Actor, *, patient_id: int, bed_id: int, source: str = "direct",
          origin_encounter_id: int | None = None, attending_id: int | None = None,
          diagnosis: str | None = None, expected_discharge_on: date | None = None,
          reservation_id: int | None = None, nurse_id: int | None = None) -> Encounter:
    """Admit a patient to a bed: from an outpatient visit or the emergency department (the
    encounter they came from, optional) or directly. The bed must be available, or reserved for
    this patient (or the reservation chosen on purpose). Exactly one of two concurrent
    admissions to one bed wins; the other gets Conflict."""
    bed = beds.get_bed(session, bed_id)
    ward_id = beds.ward_id_of(bed)
    authorize_ward(actor, Perm.ADMIT, ward_id)
    if source not in ADMIT_SOURCES:
        raise DomainError("Choose where the patient is admitted from.", field="source")
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise DomainError("Choose the patient to admit.", field="patient_id")
    if patient.status != "active":
        raise DomainError("That record was merged into another; admit the surviving record.",
                          field="patient_id")
    problem = rules.text_problem(diagnosis, what="the diagnosis", required=False, limit=rules.DIAGNOSIS_MAX)
    if problem:
        raise DomainError(problem, field="diagnosis")
    _check_attending(session, attending_id)
    _check_nurse(session, nurse_id, ward_id)
    _check_expected(expected_discharge_on, clock.hospital_today())
    if origin_encounter_id is not None:
        origin = session.get(Encounter, origin_encounter_id)
        if origin is None or origin.patient_id != patient_id or origin.class_code not in ("AMB", "EMER"):
            raise DomainError("The visit the patient came from is not one of theirs.", field="origin_encounter_id")
    # One admission per patient: two clerks admitting the same person to two beds wait here.
    session.refresh(patient, with_for_update=True)
    current = session.scalar(select(Encounter).where(Encounter.patient_id == patient_id,
                                                     Encounter.class_code == "IMP",
                                                     Encounter.status == "in-progress"))
    if current is not None:
        where = _where_label(actor, current)
        raise DomainError(f"{patient.name} is already admitted ({where}). Transfer them instead.",
                          field="patient_id")
    reservation = _reservation_to_use(session, bed, patient_id, reservation_id)
    _take_bed(session, bed, reservation)
    now = clock.now()
    encounter = Encounter(
        patient_id=patient_id, class_code="IMP", status="in-progress", ward_id=ward_id, bed_id=bed.id,
        started_at=now, admit_source=source, origin_encounter_id=origin_encounter_id,
        attending_id=attending_id, diagnosis=(diagnosis or "").strip() or None,
        expected_discharge_on=expected_discharge_on, nurse_id=nurse_id,
    )
    try:
        with session.begin_nested():
            session.add(encounter)
            session.flush()
            session.add(EncounterLocation(encounter_id=encounter.id, ward_id=ward_id, bed_id=bed.id,
                                          status="active", start_at=now, created_by_id=actor.id,
                                          reservation_id=reservation.id if reservation else None))
            session.flush()
    except IntegrityError as exc:
        raise Conflict(f"Bed {bed.label} was just taken by another admission. Choose another bed.") from exc
    audit.record(session, actor, "encounter.admitted", encounter, patient_id=patient_id,
                 after={"ward_id": ward_id, "bed_id": bed.id, "source": source,
                        "origin_encounter_id": origin_encounter_id, "attending_id": attending_id,
                        "diagnosis": encounter.diagnosis, "expected_discharge_on": expected_discharge_on,
                        "reservation_id": reservation.id if reservation else None})
    events.admitted.send(session, encounter_id=encounter.id, patient_id=patient_id, ward_id=ward_id,
                         bed_id=bed.id)
    _bed_event(session, ward_id, bed.id)
    return encounter


def cancel_admission(session: DbSession, actor: Actor, encounter_id: int, reason: str,
                     expected_version: int | None = None) -> Encounter:
    """Undo a mistaken admission: the encounter is cancelled (kept, with the reason) and the bed
    is available again, as it was. A stay with a transfer: cancel the transfer first."""
    encounter = get_encounter(session, actor, encounter_id, Perm.ADMIT)
    why = _reason(reason)
    _lock(encounter, expected_version)
    _in_progress(encounter)
    live = [p for p in encounter.locations if p.status != "cancelled"]
    if len(live) != 1:
        raise Conflict("The patient has been transferred since admission: cancel the transfer first.")
    period = live[0]
    bed = beds.get_bed(session, period.bed_id) if period.bed_id is not None else None
    before = _where(encounter)
    now = clock.now()
    period.status, period.end_at, period.cancel_reason = "cancelled", now, why
    encounter.status, encounter.ended_at, encounter.cancel_reason = "cancelled", now, why
    _flush(session)
    restored = _give_back(session, bed, period)
    audit.record(session, actor, "encounter.admission_cancelled", encounter, patient_id=encounter.patient_id,
                 before=before, after={"status": "cancelled", "reservation_id": restored}, reason=why)
    events.admission_cancelled.send(session, encounter_id=encounter.id, patient_id=encounter.patient_id,
                                    ward_id=None, bed_id=None, reason=why)
    _bed_event(session, period.ward_id, period.bed_id)
    return encounter


# --- transfer -------------------------------------------------------------------------------

def transfer(session: DbSession, actor: Actor, encounter_id: int, bed_id: int, *,
             expected_version: int | None = None, reservation_id: int | None = None,
             note: str | None = None) -> Encounter:
    """Move an inpatient to another bed, on this ward or another. The current period completes
    and the next opens; the bed left behind goes to cleaning."""
    encounter = get_encounter(session, actor, encounter_id, Perm.ADMIT)
    problem = rules.text_problem(note, what="the note", required=False, limit=rules.REASON_MAX)
    if problem:
        raise DomainError(problem, field="note")
    _lock(encounter, expected_version)
    _in_progress(encounter)
    new_bed = beds.get_bed(session, bed_id)
    if new_bed.id == encounter.bed_id:
        raise DomainError("The patient is already in that bed.", field="bed_id")
    _check_destination(session, actor, encounter, new_bed)
    period = _active_period(encounter)
    old_bed = beds.get_bed(session, period.bed_id) if period.bed_id is not None else None
    from_ward_id, from_bed_id = encounter.ward_id, encounter.bed_id
    reservation = _reservation_to_use(session, new_bed, encounter.patient_id, reservation_id)
    _take_bed(session, new_bed, reservation)
    now = clock.now()
    period.status, period.end_at = "completed", now
    session.flush()
    ward_id = beds.ward_id_of(new_bed)
    session.add(EncounterLocation(encounter_id=encounter.id, ward_id=ward_id, bed_id=new_bed.id,
                                  status="active", start_at=now, created_by_id=actor.id,
                                  reservation_id=reservation.id if reservation else None,
                                  nurse_before_id=encounter.nurse_id))
    encounter.ward_id, encounter.bed_id = ward_id, new_bed.id
    if ward_id != from_ward_id:
        # The old ward's nurse does not follow the patient; the receiving ward assigns one.
        encounter.nurse_id = None
    try:
        with session.begin_nested():
            _flush(session)
    except IntegrityError as exc:
        raise Conflict(f"Bed {new_bed.label} was just taken. Choose another bed.") from exc
    if old_bed is not None:
        beds.move(session, old_bed, "cleaning", only_from=frozenset({"occupied"}))
    session.expire(encounter, ["locations"])
    audit.record(session, actor, "encounter.transferred", encounter, patient_id=encounter.patient_id,
                 before={"ward_id": from_ward_id, "bed_id": from_bed_id},
                 after={"ward_id": ward_id, "bed_id": new_bed.id}, reason=(note or "").strip() or None)
    events.transferred.send(session, encounter_id=encounter.id, patient_id=encounter.patient_id,
                            ward_id=ward_id, bed_id=new_bed.id, from_ward_id=from_ward_id,
                            from_bed_id=from_bed_id)
    _bed_event(session, from_ward_id, from_bed_id)
    _bed_event(session, ward_id, new_bed.id)
    return encounter


def cancel_transfer(session: DbSession, actor: Actor, encounter_id: int, reason: str,
                    expected_version: int | None = None) -> Encounter:
    """Undo the latest transfer: the patient goes back to the previous bed if it is still free
    (available or being cleaned), else a clear refusal; the bed they leave is available again."""
    encounter = get_encounter(session, actor, encounter_id, Perm.ADMIT)
    why = _reason(reason)
    _lock(encounter, expected_version)
    _in_progress(encounter)
    periods = list(encounter.locations)
    undo = rules.transfer_to_undo(periods)
    if undo is None:
        raise Conflict("There is no transfer to cancel on this admission.")
    current, previous = periods[undo.current], periods[undo.previous]
    back_bed = beds.get_bed(session, previous.bed_id) if previous.bed_id is not None else None
    leaving_bed = beds.get_bed(session, current.bed_id) if current.bed_id is not None else None
    if back_bed is not None:
        beds.move(session, back_bed, "occupied", only_from=bed_rules.FREE_STATES,
                  refusal=f"The patient cannot go back: bed {beds.describe(back_bed)} is "
                          f"{_state(back_bed)} now. Transfer them to a free bed instead.")
    before = {**_where(encounter), "nurse_id": encounter.nurse_id}
    now = clock.now()
    current.status, current.end_at, current.cancel_reason = "cancelled", now, why
    session.flush()
    previous.status, previous.end_at = "active", None
    encounter.ward_id, encounter.bed_id = previous.ward_id, previous.bed_id
    if current.ward_id != previous.ward_id:
        # The transfer cleared the sending ward's nurse; going back, she is responsible again.
        encounter.nurse_id = current.nurse_before_id
    _flush(session)
    restored = _give_back(session, leaving_bed, current)
    audit.record(session, actor, "encounter.transfer_cancelled", encounter, patient_id=encounter.patient_id,
                 before=before, after={**_where(encounter), "nurse_id": encounter.nurse_id,
                                       "reservation_id": restored}, reason=why)
    events.transfer_cancelled.send(session, encounter_id=encounter.id, patient_id=encounter.patient_id,
                                   ward_id=encounter.ward_id, bed_id=encounter.bed_id, reason=why)
    _bed_event(session, current.ward_id, current.bed_id)
    _bed_event(session, previous.ward_id, previous.bed_id)
    return encounter


# --- discharge ------------------------------------------------------------------------------

def order_discharge(session: DbSession, actor: Actor, encounter_id: int, *,
                    expected_version: int | None = None, expected_on: date | None = None) -> Encounter:
    """A doctor orders the discharge. The bed stays the patient's until they actually leave."""
    encounter = get_encounter(session, actor, encounter_id, Perm.DISCHARGE)
    _require_doctor(actor, "order a discharge")
    _lock(encounter, expected_version)
    _in_progress(encounter)
    if encounter.discharge_ordered_at is not None:
        raise Conflict("The discharge is already ordered.")
    if expected_on is not None:
        _check_expected(expected_on, _local_day(encounter))
        encounter.expected_discharge_on = expected_on
    encounter.discharge_ordered_at = clock.now()
    encounter.discharge_ordered_by_id = actor.id
    _flush(session)
    audit.record(session, actor, "encounter.discharge_ordered", encounter, patient_id=encounter.patient_id,
                 after={"discharge_ordered_at": encounter.discharge_ordered_at,
                        "expected_discharge_on": encounter.expected_discharge_on})
    _bed_event(session, encounter.ward_id, encounter.bed_id)
    return encounter


def withdraw_discharge_order(session: DbSession, actor: Actor, encounter_id: int, reason: str,
                             expected_version: int | None = None) -> Encounter:
    """A doctor takes back a discharge order (the patient is not leaving after all)."""
    encounter = get_encounter(session, actor, encounter_id, Perm.DISCHARGE)
    _require_doctor(actor, "withdraw a discharge order")
    why = _reason(reason)
    _lock(encounter, expected_version)
    _in_progress(encounter)
    if encounter.discharge_ordered_at is None:
        raise Conflict("No discharge is ordered.")
    before = {"discharge_ordered_at": encounter.discharge_ordered_at,
              "discharge_ordered_by_id": encounter.discharge_ordered_by_id}
    encounter.discharge_ordered_at = None
    encounter.discharge_ordered_by_id = None
    _flush(session)
    audit.record(session, actor, "encounter.discharge_order_withdrawn", encounter,
                 patient_id=encounter.patient_id, before=before, after={"discharge_ordered_at": None},
                 reason=why)
    _bed_event(session, encounter.ward_id, encounter.bed_id)
    return encounter


def discharge(session: DbSession, actor: Actor, encounter_id: int, *, summary: str, disposition: str,
              expected_version: int | None = None) -> Encounter:
    """The patient leaves: a discharge summary is required, the last period completes, the
    encounter is finished and the bed goes to cleaning (only now is it freed). Without a
    doctor's order only a doctor (who orders it now), a self-discharge or a death may close it."""
    encounter = get_encounter(session, actor, encounter_id, Perm.DISCHARGE)
    _lock(encounter, expected_version)
    _in_progress(encounter)
    problem = rules.discharge_problem(summary, disposition, encounter.discharge_ordered_at is not None,
                                      _is_doctor(actor))
    if problem:
        raise DomainError(problem[1], field=problem[0])
    period = _active_period(encounter)
    bed = beds.get_bed(session, period.bed_id) if period.bed_id is not None else None
    now = clock.now()
    # The summary a cancelled discharge left behind is kept in this audit row's `before`: the
    # encounter page lists every earlier version from the audit trail.
    earlier_summary = encounter.discharge_summary
    period.ordered_at_discharge = False
    if encounter.discharge_ordered_at is None and _is_doctor(actor):
        encounter.discharge_ordered_at, encounter.discharge_ordered_by_id = now, actor.id
        period.ordered_at_discharge = True  # a cancelled discharge takes this order back
    from_ward_id, from_bed_id = encounter.ward_id, encounter.bed_id
    period.status, period.end_at = "completed", now
    encounter.status, encounter.ended_at = "finished", now
    encounter.discharge_summary = summary.strip()
    encounter.discharge_disposition = disposition
    _flush(session)
    if bed is not None:
        beds.move(session, bed, "cleaning", only_from=frozenset({"occupied"}))
    audit.record(session, actor, "encounter.discharged", encounter, patient_id=encounter.patient_id,
                 before={"status": "in-progress", "ward_id": from_ward_id, "bed_id": from_bed_id,
                         "summary": earlier_summary},
                 after={"status": "finished", "disposition": disposition,
                        "summary": encounter.discharge_summary,
                        "order_recorded": period.ordered_at_discharge})
    events.discharged.send(session, encounter_id=encounter.id, patient_id=encounter.patient_id,
                           ward_id=None, bed_id=None, from_ward_id=from_ward_id, from_bed_id=from_bed_id)
    _bed_event(session, from_ward_id, from_bed_id)
    return encounter


def undo_hours() -> int:
    """How long after a discharge (or a cancelled admission) the ward may still reach the stay
    and undo the discharge: DISCHARGE_UNDO_HOURS."""
    return int(current_app.config.get("DISCHARGE_UNDO_HOURS", 24))


def within_undo_window(encounter: Encounter, now: datetime | None = None) -> bool:
    """True while the stay ended less than DISCHARGE_UNDO_HOURS ago."""
    if encounter.ended_at is None:
        return False
    return (now or clock.now()) - encounter.ended_at < timedelta(hours=undo_hours())


def get_recent_encounter(session: DbSession, actor: Actor, encounter_id: int, perm: Perm) -> Encounter:
    """An encounter that may have ended: in progress, the patient's scope decides; once ended,
    ward staff of the ward it ended on may still reach it for DISCHARGE_UNDO_HOURS (to undo a
    mistaken discharge). After that only the patient's scope (or break-the-glass) opens it."""
    encounter = session.get(Encounter, encounter_id)
    if encounter is None:
        raise NotFound("No such admission.")
    if encounter.status == "in-progress" or encounter.ward_id is None or not within_undo_window(encounter):
        return get_encounter(session, actor, encounter_id, perm)
    authorize_ward(actor, perm, encounter.ward_id)
    return encounter


def cancel_discharge(session: DbSession, actor: Actor, encounter_id: int, reason: str,
                     expected_version: int | None = None) -> Encounter:
    """Undo a mistaken discharge: the stay is in progress again in the same bed, if the bed is
    still free (being cleaned or available); otherwise a clear refusal."""
    encounter = get_recent_encounter(session, actor, encounter_id, Perm.DISCHARGE)
    why = _reason(reason)
    _lock(encounter, expected_version)
    if encounter.status != "finished":
        raise Conflict("This admission has not been discharged.")
    if not within_undo_window(encounter):
        # Months later, reopening the stay would re-plan every prescription still active on it.
        raise Conflict(f"This discharge was more than {undo_hours()} hours ago and can no longer "
                       "be undone. If the patient is back, admit them again.")
    session.refresh(encounter.patient, with_for_update=True)
    other = session.scalar(select(Encounter.id).where(Encounter.patient_id == encounter.patient_id,
                                                      Encounter.class_code == "IMP",
                                                      Encounter.status == "in-progress"))
    if other is not None:
        raise Conflict("The patient has been admitted again since; the discharge cannot be undone.")
    live = [p for p in encounter.locations if p.status != "cancelled"]
    if not live:
        raise Conflict("This admission has no bed to return to.")
    period = live[-1]
    bed = beds.get_bed(session, period.bed_id) if period.bed_id is not None else None
    if bed is not None:
        beds.move(session, bed, "occupied", only_from=bed_rules.FREE_STATES,
                  refusal=f"The discharge cannot be undone: bed {beds.describe(bed)} is {_state(bed)} "
                          "now. Admit the patient again to a free bed.")
    before = {"status": "finished", "disposition": encounter.discharge_disposition,
              "ended_at": encounter.ended_at, "discharge_ordered_at": encounter.discharge_ordered_at,
              "discharge_ordered_by_id": encounter.discharge_ordered_by_id}
    period.status, period.end_at = "active", None
    encounter.status, encounter.ended_at = "in-progress", None
    encounter.discharge_disposition = None
    if period.ordered_at_discharge:
        # The doctor's discharge itself wrote the order; without the discharge there is none.
        encounter.discharge_ordered_at = encounter.discharge_ordered_by_id = None
        period.ordered_at_discharge = False
    try:
        with session.begin_nested():
            _flush(session)
    except IntegrityError as exc:
        raise Conflict("That bed was just taken. Admit the patient again to a free bed.") from exc
    audit.record(session, actor, "encounter.discharge_cancelled", encounter, patient_id=encounter.patient_id,
                 before=before, after={"status": "in-progress",
                                       "discharge_ordered_at": encounter.discharge_ordered_at},
                 reason=why)
    events.discharge_cancelled.send(session, encounter_id=encounter.id, patient_id=encounter.patient_id,
                                    ward_id=encounter.ward_id, bed_id=encounter.bed_id, reason=why)
    _bed_event(session, encounter.ward_id, encounter.bed_id)
    return encounter


# --- the stay's people and dates ------------------------------------------------------------

def assign_nurse(session: DbSession, actor: Actor, encounter_id: int, nurse_id: int | None,
                 expected_version: int | None = None) -> Encounter:
    """Set the nurse responsible for the patient this shift (None: nobody named). From the
    board by a nurse or charge nurse, and by the shift handover when the incoming nurse accepts.
    The nurse must work on the patient's ward."""
    encounter = get_encounter(session, actor, encounter_id, Perm.HANDOVER)
    _lock(encounter, expected_version)
    _in_progress(encounter)
    assert encounter.ward_id is not None
    _check_nurse(session, nurse_id, encounter.ward_id)
    before = encounter.nurse_id
    if before == nurse_id:
        return encounter
    encounter.nurse_id = nurse_id
    _flush(session)
    audit.record(session, actor, "encounter.nurse_assigned", encounter, patient_id=encounter.patient_id,
                 before={"nurse_id": before}, after={"nurse_id": nurse_id})
    _bed_event(session, encounter.ward_id, encounter.bed_id)
    return encounter


def set_expected_discharge(session: DbSession, actor: Actor, encounter_id: int, day: date | None,
                           expected_version: int | None = None) -> Encounter:
    """A doctor sets (or clears) the expected discharge date the board and census show."""
    encounter = get_encounter(session, actor, encounter_id, Perm.DISCHARGE)
    _require_doctor(actor, "set the expected discharge date")
    _lock(encounter, expected_version)
    _in_progress(encounter)
    _check_expected(day, _local_day(encounter))
    before = encounter.expected_discharge_on
    encounter.expected_discharge_on = day
    _flush(session)
    audit.record(session, actor, "encounter.expected_discharge_set", encounter,
                 patient_id=encounter.patient_id, before={"expected_discharge_on": before},
                 after={"expected_discharge_on": day})
    _bed_event(session, encounter.ward_id, encounter.bed_id)
    return encounter


def ward_nurses(session: DbSession, ward_id: int) -> list[User]:
    """Active nurses and charge nurses assigned to the ward, by name (the nurse picker)."""
    from app.domain.identity.models import UserRole, WardAssignment

    return list(session.scalars(
        select(User).join(WardAssignment, WardAssignment.user_id == User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(WardAssignment.ward_id == ward_id, User.active.is_(True),
               UserRole.role_key.in_(sorted(NURSE_ROLES)))
        .distinct().order_by(User.full_name)))


def doctors(session: DbSession) -> list[User]:
    """Active doctors by name (the attending picker)."""
    from app.domain.identity.services import users_with_role

    return users_with_role(session, "doctor")


def admission_candidates(session: DbSession, actor: Actor, q: str,
                         limit: int = 20) -> tuple[list[Patient], dict[int, str]]:
    """Patients to admit, by MRN or name, with where those already admitted are.

    A ward nurse's own search shows only her ward's patients; someone arriving from a clinic or
    the emergency department is on no ward yet. Holding ADMIT, she may find any patient to
    admit here (name, MRN, date of birth: what the wristband shows), but learns the ward and bed
    of an inpatient only within her scope ("another ward" otherwise). Every search is audited
    (what was typed, whom it found), since it reaches beyond her wards. DomainError(field="q")
    for a mistyped MRN."""
    from app.core.security import SystemActor
    from app.domain.admissions.services import current_encounters
    from app.domain.patients import search

    authorize(actor, Perm.ADMIT)
    finder = SystemActor(f"admission search for {actor.label}", frozenset({Perm.PATIENT_READ}))
    found = [p for p in search.search_patients(session, finder, q, limit)]
    stays = current_encounters(session, [p.id for p in found])
    audit.record(session, actor, "patient.admission_search", None,
                 after={"query": q.strip()[:100], "found": [p.id for p in found]})
    return found, {pid: _where_label(actor, e) for pid, e in stays.items()}


@dataclass(frozen=True)
class AdmissionPatient:
    """The patient the admission form is for, and where they already are (in words, within
    the actor's scope), or None when they are not an inpatient."""

    patient: Patient
    admitted: str | None


def admission_patient(session: DbSession, actor: Actor, patient_id: int) -> AdmissionPatient | None:
    """The admission form's patient (any patient may be admitted, so no ward scope), with the
    lookup audited like a search. None when there is no such patient."""
    from app.domain.admissions.services import current_encounters

    authorize(actor, Perm.ADMIT)
    patient = session.get(Patient, patient_id)
    if patient is None:
        return None
    stay = current_encounters(session, [patient.id]).get(patient.id)
    audit.record(session, actor, "patient.admission_lookup", patient, patient_id=patient.id)
    return AdmissionPatient(patient, _where_label(actor, stay) if stay is not None else None)


def reserved_beds(session: DbSession, actor: Actor) -> list[Bed]:
    """Reserved beds on the wards where the actor may admit (the admission form offers them
    beside the available ones), with room and ward loaded."""
    from sqlalchemy.orm import selectinload

    from app.domain.facilities.models import Room

    scope = actor.scoped_ward_ids(Perm.ADMIT)
    stmt = (select(Bed).join(Room, Bed.room_id == Room.id).where(Bed.state == "reserved")
            .options(selectinload(Bed.room).selectinload(Room.ward)))
    if scope is not None:
        stmt = stmt.where(Room.ward_id.in_(sorted(scope)))
    return list(session.scalars(stmt))


def transfer_beds(session: DbSession, actor: Actor, encounter: Encounter) -> list[Bed]:
    """The beds a transfer may go to: available beds on the wards where the actor may admit,
    and any bed reserved for this patient (the receiving ward's consent)."""
    scope = actor.scoped_ward_ids(Perm.ADMIT)
    free = beds.free_beds(session, sorted(scope) if scope is not None else None)
    held = list(session.scalars(select(BedReservation.bed_id).where(
        BedReservation.patient_id == encounter.patient_id, BedReservation.status == "active")))
    return free + [beds.get_bed(session, bed_id) for bed_id in held if bed_id != encounter.bed_id]


def periods_of(session: DbSession, encounter: Encounter) -> list[EncounterLocation]:
    """The stay's location periods in order, each with its ward, bed and room loaded."""
    from sqlalchemy.orm import selectinload

    return list(session.scalars(
        select(EncounterLocation).where(EncounterLocation.encounter_id == encounter.id)
        .options(selectinload(EncounterLocation.ward),
                 selectinload(EncounterLocation.bed).selectinload(Bed.room))
        .order_by(EncounterLocation.start_at, EncounterLocation.id)))


@dataclass(frozen=True)
class SummaryVersion:
    """A discharge summary as one discharge saved it (the current one last)."""

    text: str
    at: datetime
    by: str


def summary_history(session: DbSession, encounter: Encounter) -> list[SummaryVersion]:
    """Every discharge summary this stay has had, oldest first, read from the audit trail: a
    discharge cancelled and done again keeps the earlier text there."""
    import json

    from app.core.audit import AuditEvent

    rows = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "encounter.discharged", AuditEvent.entity_type == Encounter.__tablename__,
        AuditEvent.entity_id == str(encounter.id)).order_by(AuditEvent.seq))
    out = []
    for row in rows:
        after = json.loads(row.after) if row.after else {}
        text = after.get("summary") if isinstance(after, dict) else None
        if text:
            out.append(SummaryVersion(text, row.occurred_at, row.actor_label))
    return out


def stay_names(session: DbSession, encounter: Encounter, periods: list[EncounterLocation]) -> dict[int, str]:
    """user id -> full name of everyone the inpatient page names (attending, nurse, who
    ordered the discharge, who moved the patient)."""
    people = {i for i in (encounter.attending_id, encounter.nurse_id, encounter.discharge_ordered_by_id)
              if i is not None}
    people |= {p.created_by_id for p in periods if p.created_by_id is not None}
    if not people:
        return {}
    return {uid: name for uid, name in session.execute(
        select(User.id, User.full_name).where(User.id.in_(sorted(people))))}


def occupant(session: DbSession, bed_id: int) -> Encounter | None:
    """The stay in progress in a bed, if any."""
    return session.scalar(select(Encounter).where(Encounter.bed_id == bed_id,
                                                  Encounter.status == "in-progress"))
