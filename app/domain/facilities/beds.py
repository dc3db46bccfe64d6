"""Beds: the state every move goes through, housekeeping, out of service, and reservations.

Every change of state is one conditional UPDATE (`... WHERE state IN (the states it may come
from)`). On PostgreSQL a second writer waits on the row and then finds the state moved on, so
of two admissions to one bed exactly one wins; SQLite's single writer gives the same answer.
Callers that take more than one lock take them in one order: a reservation before its bed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import selectinload

from app.core import audit, clock, events, jobs
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize, authorize_ward
from app.domain.facilities import rules
from app.domain.facilities.models import Bed, BedReservation, Room, Ward

RESERVATION_EXPIRY_JOB = "bed.reservation_expiry"
NOTE_MAX = 200


def get_bed(session: DbSession, bed_id: int) -> Bed:
    bed = session.scalar(select(Bed).where(Bed.id == bed_id)
                         .options(selectinload(Bed.room).selectinload(Room.ward)))
    if bed is None:
        raise NotFound("No such bed.")
    return bed


def ward_id_of(bed: Bed) -> int:
    return bed.room.ward_id


def describe(bed: Bed) -> str:
    return f"{bed.room.ward.name} {bed.label}"


def move(session: DbSession, bed: Bed, target: str, *, only_from: frozenset[str],
         note: str | None = None, refusal: str | None = None) -> None:
    """Move `bed` to `target` if its state in the database is one of `only_from` (and the
    move is allowed at all), else Conflict.

    The WHERE clause, not the state this session read earlier, decides: that is what keeps a
    bed from holding two patients when two transactions race for it. Every caller names the
    states it expects, so a move allowed from some other state (occupied -> reserved, when a
    cancel gives a reservation back) can never fire in a race."""
    sources = rules.sources_for(target) & only_from
    result = session.execute(
        update(Bed)
        .where(Bed.id == bed.id, Bed.state.in_(sorted(sources)))
        .values(state=target, state_changed_at=clock.now(), state_note=note)
        .execution_options(synchronize_session=False)
    )
    session.expire(bed, ["state", "state_changed_at", "state_note"])
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = rules.STATE_LABELS.get(bed.state, bed.state)
        raise Conflict(refusal or f"Bed {describe(bed)} is {current} now, so it cannot become "
                                  f"{rules.STATE_LABELS[target]}. Reload the board and try again.")


def _changed(session: DbSession, bed: Bed) -> None:
    events.bed_changed.send(session, ward_id=ward_id_of(bed), bed_id=bed.id)


def _clean_note(note: str | None, field: str, required: bool = False, what: str = "a reason") -> str | None:
    text = (note or "").strip()
    if required and not text:
        raise DomainError(f"Give {what}.", field=field)
    if len(text) > NOTE_MAX:
        raise DomainError(f"Keep it to {NOTE_MAX} characters.", field=field)
    return text or None


# --- housekeeping and out of service --------------------------------------------------------

def mark_clean(session: DbSession, actor: Actor, bed_id: int) -> Bed:
    """Housekeeping finished a bed: cleaning -> available."""
    bed = get_bed(session, bed_id)
    authorize_ward(actor, Perm.BED_HOUSEKEEPING, ward_id_of(bed))
    if bed.state != "cleaning":
        raise Conflict(f"Bed {bed.label} is not waiting for cleaning (it is "
                       f"{rules.STATE_LABELS.get(bed.state, bed.state)}).")
    move(session, bed, "available", only_from=frozenset({"cleaning"}))
    audit.record(session, actor, "bed.cleaned", bed, before={"state": "cleaning"},
                 after={"state": "available"})
    _changed(session, bed)
    return bed


def take_out_of_service(session: DbSession, actor: Actor, bed_id: int, reason: str) -> Bed:
    """A charge nurse closes a free bed (broken, infection control, staffing), with a reason."""
    bed = get_bed(session, bed_id)
    authorize_ward(actor, Perm.BED_MANAGE, ward_id_of(bed))
    note = _clean_note(reason, "reason", required=True, what="the reason the bed is closed")
    before = bed.state
    if before not in rules.sources_for("out_of_service"):
        raise Conflict(f"Bed {bed.label} is {rules.STATE_LABELS.get(before, before)}: only a free "
                       "bed (available or cleaning) can be taken out of service.")
    move(session, bed, "out_of_service", only_from=frozenset({"available", "cleaning"}), note=note)
    audit.record(session, actor, "bed.out_of_service", bed, before={"state": before},
                 after={"state": "out_of_service"}, reason=note)
    _changed(session, bed)
    return bed


def return_to_service(session: DbSession, actor: Actor, bed_id: int) -> Bed:
    """An out-of-service bed opens again (available)."""
    bed = get_bed(session, bed_id)
    authorize_ward(actor, Perm.BED_MANAGE, ward_id_of(bed))
    if bed.state != "out_of_service":
        raise Conflict(f"Bed {bed.label} is not out of service.")
    move(session, bed, "available", only_from=frozenset({"out_of_service"}))
    audit.record(session, actor, "bed.in_service", bed, before={"state": "out_of_service"},
                 after={"state": "available"})
    _changed(session, bed)
    return bed


# --- reservations ---------------------------------------------------------------------------

def _due_key(reservation_id: int) -> str:
    return f"bed-reservation:{reservation_id}"


def _cancel_due_row(session: DbSession, reservation_id: int) -> None:
    session.execute(
        update(jobs.DueJob)
        .where(jobs.DueJob.dedupe_key == _due_key(reservation_id), jobs.DueJob.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def reserve_bed(session: DbSession, actor: Actor, bed_id: int, *, patient_id: int | None = None,
                note: str | None = None, minutes: int | None = None) -> BedReservation:
    """Hold an available bed for a pending admission (the patient is optional: "from ED").

    It lapses after BED_RESERVATION_MINUTES unless an admission uses it; a due row times it out."""
    bed = get_bed(session, bed_id)
    authorize_ward(actor, Perm.ADMIT, ward_id_of(bed))
    text = _clean_note(note, "note")
    if patient_id is not None:
        from app.domain.patients.models import Patient

        if session.get(Patient, patient_id) is None:
            raise DomainError("No such patient.", field="patient_id")
    minutes = minutes if minutes is not None else int(current_app.config["BED_RESERVATION_MINUTES"])
    if minutes <= 0:
        raise DomainError("A reservation lasts at least a minute.", field="minutes")
    if bed.state != "available":
        raise Conflict(f"Bed {bed.label} is {rules.STATE_LABELS.get(bed.state, bed.state)}: only an "
                       "available bed can be reserved.")
    move(session, bed, "reserved", only_from=frozenset({"available"}), note=text,
         refusal=f"Bed {bed.label} was just taken or reserved by someone else. Choose another bed.")
    now = clock.now()
    reservation = BedReservation(bed_id=bed.id, patient_id=patient_id, note=text,
                                 reserved_by_id=actor.id, reserved_at=now,
                                 expires_at=now + timedelta(minutes=minutes), status="active")
    session.add(reservation)
    session.flush()
    jobs.schedule(session, RESERVATION_EXPIRY_JOB, {"reservation_id": reservation.id},
                  due_at=reservation.expires_at, dedupe_key=_due_key(reservation.id))
    audit.record(session, actor, "bed.reserved", reservation, patient_id=patient_id,
                 after={"bed_id": bed.id, "patient_id": patient_id, "note": text,
                        "expires_at": reservation.expires_at})
    _changed(session, bed)
    return reservation


def _end_reservation(session: DbSession, reservation: BedReservation, status: str) -> bool:
    """active -> status, by conditional UPDATE; False when it had already ended."""
    result = session.execute(
        update(BedReservation)
        .where(BedReservation.id == reservation.id, BedReservation.status == "active")
        .values(status=status, ended_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    session.expire(reservation, ["status", "ended_at"])
    return result.rowcount == 1  # type: ignore[attr-defined]


def get_reservation(session: DbSession, reservation_id: int) -> BedReservation:
    reservation = session.get(BedReservation, reservation_id)
    if reservation is None:
        raise NotFound("No such reservation.")
    return reservation


def cancel_reservation(session: DbSession, actor: Actor, reservation_id: int,
                       reason: str | None = None) -> BedReservation:
    """Release a reserved bed before it lapses."""
    reservation = get_reservation(session, reservation_id)
    bed = get_bed(session, reservation.bed_id)
    authorize_ward(actor, Perm.ADMIT, ward_id_of(bed))
    why = _clean_note(reason, "reason")
    if not _end_reservation(session, reservation, "cancelled"):
        raise Conflict("That reservation has already ended (used, lapsed or cancelled).")
    move(session, bed, "available", only_from=frozenset({"reserved"}))
    _cancel_due_row(session, reservation.id)
    audit.record(session, actor, "bed.reservation_cancelled", reservation,
                 patient_id=reservation.patient_id, before={"status": "active"},
                 after={"status": "cancelled"}, reason=why)
    _changed(session, bed)
    return reservation


def use_reservation(session: DbSession, reservation: BedReservation) -> None:
    """An admission takes the reserved bed: the reservation is used (its due row cancelled).
    The caller then moves the bed reserved -> occupied."""
    if not _end_reservation(session, reservation, "used"):
        raise Conflict("The reservation on that bed lapsed or was cancelled just now. Reload and "
                       "choose the bed again.")
    _cancel_due_row(session, reservation.id)


def restore_reservation(session: DbSession, reservation_id: int, bed: Bed) -> BedReservation | None:
    """A cancelled admission or transfer gives back the bed it took with a reservation: the
    reservation is active again with its own expiry (and its due row pending again), and the
    bed reserved, as before the step. A reservation that has lapsed meanwhile is marked expired
    and the bed is simply available. Returns the reservation when it is active again."""
    reservation = get_reservation(session, reservation_id)
    if reservation.status != "used":
        move(session, bed, "available", only_from=frozenset({"occupied"}))
        return None
    if reservation.expires_at <= clock.now():
        reservation.status, reservation.ended_at = "expired", clock.now()
        move(session, bed, "available", only_from=frozenset({"occupied"}))
        return None
    reservation.status, reservation.ended_at = "active", None
    session.flush()
    move(session, bed, "reserved", only_from=frozenset({"occupied"}), note=reservation.note)
    session.execute(
        update(jobs.DueJob)
        .where(jobs.DueJob.dedupe_key == _due_key(reservation.id), jobs.DueJob.status == "cancelled")
        .values(status="pending")
        .execution_options(synchronize_session=False)
    )
    return reservation


def expire_reservation(session: DbSession, actor: Actor, reservation_id: int) -> bool:
    """The due row's work: a reservation still active at its time lapses and the bed is free
    again; the person who reserved it is told. False when there was nothing to do."""
    reservation = session.get(BedReservation, reservation_id)
    if reservation is None or reservation.status != "active":
        return False
    if reservation.expires_at > clock.now():
        return False
    if not _end_reservation(session, reservation, "expired"):
        return False
    bed = get_bed(session, reservation.bed_id)
    if bed.state == "reserved":
        move(session, bed, "available", only_from=frozenset({"reserved"}))
    audit.record(session, actor, "bed.reservation_expired", reservation,
                 patient_id=reservation.patient_id, before={"status": "active"},
                 after={"status": "expired"})
    if reservation.reserved_by_id is not None:
        from app.domain.notifications import services as notifications

        notifications.notify(session, kind="bed.reservation_expired",
                             text=f"Your reservation of bed {describe(bed)} lapsed; the bed is "
                                  "available again.",
                             user_ids=[reservation.reserved_by_id])
    _changed(session, bed)
    return True


def active_reservations(session: DbSession, bed_ids: list[int]) -> dict[int, BedReservation]:
    """The active reservation of each bed that has one."""
    if not bed_ids:
        return {}
    rows = session.scalars(select(BedReservation).where(BedReservation.bed_id.in_(bed_ids),
                                                        BedReservation.status == "active"))
    return {r.bed_id: r for r in rows}


# --- lists ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class CleaningItem:
    bed_id: int
    ward_name: str
    ward_id: int
    bed_label: str
    since: datetime | None


def cleaning_list(session: DbSession, actor: Actor) -> list[CleaningItem]:
    """Beds waiting for cleaning, longest waiting first. No patient names: housekeeping sees beds."""
    authorize(actor, Perm.BED_HOUSEKEEPING)
    wards = actor.scoped_ward_ids(Perm.BED_HOUSEKEEPING)
    stmt = (select(Bed.id, Ward.name, Ward.id, Room.code, Bed.code, Bed.state_changed_at)
            .join(Room, Bed.room_id == Room.id).join(Ward, Room.ward_id == Ward.id)
            .where(Bed.state == "cleaning")
            .order_by(Bed.state_changed_at.is_(None), Bed.state_changed_at, Ward.name, Room.code, Bed.code))
    if wards is not None:
        stmt = stmt.where(Ward.id.in_(sorted(wards)))
    return [CleaningItem(bed_id=r[0], ward_name=r[1], ward_id=r[2], bed_label=f"{r[3]}-{r[4]}", since=r[5])
            for r in session.execute(stmt)]


def free_beds(session: DbSession, ward_ids: list[int] | None, *, ward_class: str | None = None,
              specialty: str | None = None) -> list[Bed]:
    """Available beds (optionally of a ward class or specialty), by ward then bed."""
    stmt = (select(Bed).join(Room, Bed.room_id == Room.id).join(Ward, Room.ward_id == Ward.id)
            .where(Bed.state == "available")
            .options(selectinload(Bed.room).selectinload(Room.ward))
            .order_by(Ward.name, Room.code, Bed.code))
    if ward_ids is not None:
        stmt = stmt.where(Ward.id.in_(ward_ids))
    if ward_class:
        stmt = stmt.where(Ward.ward_class == ward_class)
    if specialty:
        stmt = stmt.where(Ward.specialty == specialty)
    return list(session.scalars(stmt))


def state_counts_by_ward(session: DbSession, ward_ids: list[int] | None) -> dict[int, dict[str, int]]:
    """For each ward, how many beds are in each state (one grouped query)."""
    stmt = (select(Room.ward_id, Bed.state, func.count())
            .join(Room, Bed.room_id == Room.id).group_by(Room.ward_id, Bed.state))
    if ward_ids is not None:
        stmt = stmt.where(Room.ward_id.in_(ward_ids))
    out: dict[int, dict[str, int]] = {}
    for ward_id, state, n in session.execute(stmt):
        out.setdefault(ward_id, rules.state_counts([]))[state] = n
    return out
