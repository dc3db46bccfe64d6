"""Shift handover: one live session per ward, one SBAR entry per patient, edited by several nurses
at once with an optimistic version per field, and accepted patient by patient by the incoming
nurse (which makes them the patient's responsible nurse).

Every write is audited in the caller's transaction; live pushes to the session's room leave
after commit (app.domain.handover.live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize, authorize_ward
from app.domain.admissions.models import Encounter
from app.domain.facilities.models import Bed, Ward
from app.domain.handover import facts, live, rules
from app.domain.handover.models import SBAR_FIELDS, HandoverEntry, HandoverField, HandoverSession
from app.domain.identity.models import User

PAST_SESSIONS = 20


class HandoverConflict(Conflict):
    """A save based on a version someone else has already replaced. Carries their edit so the
    nurse sees it beside her own, merges, and saves again on the current version."""

    def __init__(self, row: HandoverField, saved_by: str | None, attempted: str) -> None:
        who = saved_by or "Someone"
        super().__init__(f"{who} saved this while you were typing.", field="text")
        self.entry_id = row.entry_id
        self.field_name = row.field
        self.current_text = row.text
        self.current_version = row.version
        self.saved_by = saved_by
        self.saved_at = row.updated_at
        self.attempted_text = attempted


@dataclass(frozen=True)
class Sheet:
    """A session with everything its page and printout show."""

    session: HandoverSession
    ward: Ward
    entries: list[HandoverEntry]
    names: dict[int, str]  # user id -> full name, for everyone named on the sheet

    def name(self, user_id: int | None) -> str | None:
        return self.names.get(user_id) if user_id is not None else None

    @property
    def awaiting(self) -> list[HandoverEntry]:
        return [e for e in self.entries if needs_acceptance(e)]


def needs_acceptance(entry: HandoverEntry) -> bool:
    """Not yet accepted, and still an inpatient on the session's ward (a patient discharged or
    moved away during the handover is nobody's to take on here)."""
    return entry.accepted_by_id is None and still_here(entry)


def still_here(entry: HandoverEntry) -> bool:
    return entry.encounter.status == "in-progress" and entry.encounter.ward_id == entry.session.ward_id


# --- reading -----------------------------------------------------------------------------------

def _check_ward(actor: Actor, ward_id: int) -> None:
    authorize_ward(actor, Perm.HANDOVER, ward_id)


def open_session(session: DbSession, ward_id: int) -> HandoverSession | None:
    return session.scalar(select(HandoverSession).where(
        HandoverSession.ward_id == ward_id, HandoverSession.status == "open"))


def past_sessions(session: DbSession, actor: Actor, ward_id: int,
                  limit: int = PAST_SESSIONS) -> list[HandoverSession]:
    """The ward's closed handovers, newest first."""
    _check_ward(actor, ward_id)
    return list(session.scalars(
        select(HandoverSession).where(HandoverSession.ward_id == ward_id,
                                      HandoverSession.status == "closed")
        .order_by(HandoverSession.started_at.desc(), HandoverSession.id.desc()).limit(limit)))


def get_handover(session: DbSession, actor: Actor, session_id: int) -> HandoverSession:
    """A handover session within the actor's ward scope; NotFound or Forbidden otherwise."""
    hs = session.get(HandoverSession, session_id)
    if hs is None:
        raise NotFound("No such handover.")
    authorize(actor, Perm.HANDOVER, hs)
    return hs


def _bed_order(entry: HandoverEntry) -> tuple[str, str, int]:
    bed = entry.encounter.bed
    if bed is None:
        return ("~", "", entry.id)  # patients without a bed (moved away) last
    return (bed.room.code if bed.room else "", bed.code, entry.id)


def sheet(session: DbSession, actor: Actor, session_id: int) -> Sheet:
    """The session, its entries in bed order with patient, bed and fields loaded, and the names
    of everyone who saved, accepted or hands over."""
    hs = get_handover(session, actor, session_id)
    entries = list(session.scalars(
        select(HandoverEntry).where(HandoverEntry.session_id == hs.id)
        .options(selectinload(HandoverEntry.patient),
                 selectinload(HandoverEntry.encounter).selectinload(Encounter.bed)
                 .selectinload(Bed.room),
                 selectinload(HandoverEntry.fields))))
    entries.sort(key=_bed_order)
    ids = {hs.started_by_id}
    for e in entries:
        ids |= {e.outgoing_nurse_id, e.accepted_by_id} | {f.updated_by_id for f in e.fields}
    ward = session.get(Ward, hs.ward_id)
    assert ward is not None
    return Sheet(hs, ward, entries, user_names(session, ids))


def user_names(session: DbSession, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {uid: name for uid, name in session.execute(select(User.id, User.full_name).where(User.id.in_(wanted)))}


def _entry(session: DbSession, actor: Actor, entry_id: int) -> HandoverEntry:
    entry = session.get(HandoverEntry, entry_id)
    if entry is None:
        raise NotFound("No such patient in a handover.")
    authorize(actor, Perm.HANDOVER, entry.session)
    return entry


def get_entry(session: DbSession, actor: Actor, entry_id: int) -> HandoverEntry:
    """One patient's entry, within the actor's ward scope."""
    return _entry(session, actor, entry_id)


def _require_open(hs: HandoverSession) -> None:
    if hs.status != "open":
        raise Conflict("This handover is closed; start a new one to change it.")


def _actor_name(session: DbSession, actor: Actor) -> str:
    if actor.id is None:
        return actor.label
    user = session.get(User, actor.id)
    return user.full_name if user is not None else actor.label


# --- starting, facts, new patients ---------------------------------------------------------------

def start_handover(session: DbSession, actor: Actor, ward_id: int, shift: str) -> HandoverSession:
    """Open the ward's handover, or join the one already open (one per ward, enforced by a
    partial unique index, so two nurses starting at once end up in the same session). A new
    session gets one entry per inpatient on the ward, pre-filled with the facts, and empty SBAR
    fields at version 0."""
    _check_ward(actor, ward_id)
    shift = rules.check_shift(shift)
    if session.get(Ward, ward_id) is None:
        raise NotFound("No such ward.")
    existing = open_session(session, ward_id)
    if existing is not None:
        return existing
    now = clock.now()
    hs = HandoverSession(ward_id=ward_id, shift=shift, status="open", started_by_id=actor.id,
                         started_at=now)
    try:
        with session.begin_nested():
            session.add(hs)
            session.flush()
    except IntegrityError:
        # The other start has committed (PostgreSQL made this insert wait for it).
        existing = open_session(session, ward_id)
        if existing is None:
            raise Conflict("Another handover for this ward was being started; try again.") from None
        return existing
    from app.domain.admissions.services import inpatients_on_wards

    entries = _add_entries(session, hs, inpatients_on_wards(session, [ward_id]), now)
    audit.record(session, actor, "handover.started", hs,
                 after={"ward_id": ward_id, "shift": shift, "patients": len(entries)})
    return hs


def _add_entries(session: DbSession, hs: HandoverSession, encounters: list[Encounter],
                 now: datetime) -> list[HandoverEntry]:
    if not encounters:
        return []
    gathered = facts.gather(session, encounters, now)
    # Two multi-row INSERTs (entries, then their empty SBAR fields), not five per patient.
    # (SQLite cannot order RETURNING rows, so the new entries are read back by one SELECT.)
    session.execute(insert(HandoverEntry), [
        {"session_id": hs.id, "encounter_id": e.id, "patient_id": e.patient_id,
         "facts": gathered[e.id], "facts_at": now, "facts_history": [],
         # The nurse responsible this shift hands over; on a ward with no assignments,
         # whoever opened the handover.
         "outgoing_nurse_id": e.nurse_id or hs.started_by_id} for e in encounters])
    entries = list(session.scalars(select(HandoverEntry).where(
        HandoverEntry.session_id == hs.id, HandoverEntry.encounter_id.in_([e.id for e in encounters]))
        .order_by(HandoverEntry.id)))
    session.execute(insert(HandoverField), [
        {"entry_id": entry.id, "field": f, "text": "", "version": 0}
        for entry in entries for f in SBAR_FIELDS])
    for entry in entries:
        session.expire(entry, ["fields"])
    session.expire(hs, ["entries"])
    return entries


def add_admitted(session: DbSession, actor: Actor, session_id: int) -> list[HandoverEntry]:
    """Add the patients admitted to the ward since the session started (those without an entry
    yet). Audited; the room is told so that open pages offer to show them."""
    hs = get_handover(session, actor, session_id)
    _require_open(hs)
    from app.domain.admissions.services import inpatients_on_wards

    have = set(session.scalars(select(HandoverEntry.encounter_id)
                               .where(HandoverEntry.session_id == hs.id)))
    new = [e for e in inpatients_on_wards(session, [hs.ward_id]) if e.id not in have]
    if not new:
        return []
    try:
        with session.begin_nested():
            entries = _add_entries(session, hs, new, clock.now())
    except IntegrityError:
        raise Conflict("Someone else is adding the same patients; reload the handover.") from None
    audit.record(session, actor, "handover.patients_added", hs,
                 after={"encounter_ids": [e.encounter_id for e in entries]})
    live.push(session, hs.id, {"type": "entries.added", "session_id": hs.id,
                               "count": len(entries)})
    return entries


def refresh_facts(session: DbSession, actor: Actor, session_id: int) -> int:
    """Re-read the facts of every patient still on the ward (the SBAR text is untouched);
    returns how many entries were refreshed."""
    hs = get_handover(session, actor, session_id)
    _require_open(hs)
    entries = [e for e in session.scalars(
        select(HandoverEntry).where(HandoverEntry.session_id == hs.id)
        .options(selectinload(HandoverEntry.session),
                 selectinload(HandoverEntry.encounter).selectinload(Encounter.patient)))
               if still_here(e)]
    now = clock.now()
    gathered = facts.gather(session, [e.encounter for e in entries], now)
    for e in entries:
        # The snapshot being replaced is kept: what the outgoing nurse saw at HH:MM stays readable.
        e.facts_history = [*(e.facts_history or []),
                           {"at": facts.jsonable(e.facts_at), "facts": e.facts}]
        e.facts = gathered[e.encounter_id]
        e.facts_at = now
    session.flush()
    audit.record(session, actor, "handover.facts_refreshed", hs,
                 after={"entries": len(entries), "facts_at": now})
    live.push(session, hs.id, {"type": "facts.refreshed", "session_id": hs.id})
    return len(entries)


# --- editing -----------------------------------------------------------------------------------

def edit_field(session: DbSession, actor: Actor, entry_id: int, field: str, text: str,
               base_version: int) -> HandoverField:
    """Save one SBAR field if nobody has saved it since `base_version`: one conditional UPDATE
    (`WHERE version = base`), so of two saves on the same base exactly one wins, whichever
    database. The loser gets a HandoverConflict with the winner's text, version and name.
    Audited with the text before and after."""
    rules.check_field(field)
    text = rules.check_text(text)
    entry = _entry(session, actor, entry_id)
    _require_open(entry.session)
    row = _field_row(session, entry.id, field)
    if row.version != base_version:
        raise _conflict(session, row, text)
    before = row.text  # the text of version `base`: each version has exactly one text
    now = clock.now()
    result: Any = session.execute(
        update(HandoverField)
        .where(HandoverField.id == row.id, HandoverField.version == base_version)
        .values(text=text, version=HandoverField.version + 1, updated_by_id=actor.id,
                updated_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(row)
    if result.rowcount != 1:
        raise _conflict(session, row, text)
    audit.record(session, actor, "handover.field_saved", row, patient_id=entry.patient_id,
                 before={"field": field, "version": base_version, "text": before},
                 after={"field": field, "version": row.version, "text": text})
    # No text over the socket (DESIGN §4): pages re-fetch the field over HTTP, where the view
    # checks access again, so a socket whose user has since lost the ward learns nothing.
    live.push(session, entry.session_id, {
        "type": "field.saved", "session_id": entry.session_id, "entry_id": entry.id,
        "field": field, "version": row.version, "by": _actor_name(session, actor)})
    return row


def field_versions(session: DbSession, actor: Actor, session_id: int) -> dict[int, dict[str, int]]:
    """{entry_id: {field: version}} of the session: a page that lost its socket for a while
    compares it with its own and re-fetches the fields saved meanwhile."""
    hs = get_handover(session, actor, session_id)
    rows = session.execute(select(HandoverField.entry_id, HandoverField.field, HandoverField.version)
                           .join(HandoverEntry, HandoverEntry.id == HandoverField.entry_id)
                           .where(HandoverEntry.session_id == hs.id))
    out: dict[int, dict[str, int]] = {}
    for entry_id, field, version in rows:
        out.setdefault(entry_id, {})[field] = version
    return out


def open_sessions(session: DbSession, ward_ids: list[int]) -> dict[int, HandoverSession]:
    """ward id -> its open handover, for the wards given."""
    if not ward_ids:
        return {}
    rows = session.scalars(select(HandoverSession).where(
        HandoverSession.status == "open", HandoverSession.ward_id.in_(ward_ids)))
    return {s.ward_id: s for s in rows}


def _field_row(session: DbSession, entry_id: int, field: str) -> HandoverField:
    """The field's row as committed now, created (version 0) if the entry lacks it."""
    stmt = select(HandoverField).where(HandoverField.entry_id == entry_id, HandoverField.field == field)
    row = session.scalar(stmt.execution_options(populate_existing=True))
    if row is None:
        try:
            with session.begin_nested():
                session.add(HandoverField(entry_id=entry_id, field=field, text="", version=0))
        except IntegrityError:
            pass  # created by a concurrent first save
        row = session.scalar(stmt.execution_options(populate_existing=True))
        assert row is not None
    return row


def _conflict(session: DbSession, row: HandoverField, attempted: str) -> HandoverConflict:
    name = user_names(session, {row.updated_by_id}).get(row.updated_by_id or 0)
    return HandoverConflict(row, name, attempted)


# --- accepting and closing ------------------------------------------------------------------

def accept_entry(session: DbSession, actor: Actor, entry_id: int) -> HandoverEntry:
    """The incoming nurse takes the patient on: recorded on the entry (once; a second acceptance
    is refused), audited, and the encounter's responsible nurse becomes the acceptor."""
    entry = _entry(session, actor, entry_id)
    hs = entry.session
    refusal = rules.acceptance_refusal(actor.id, entry.outgoing_nurse_id, entry.accepted_by_id,
                                       hs.status == "open")
    if refusal is not None:
        raise (Conflict(refusal) if entry.accepted_by_id is not None or hs.status != "open"
               else DomainError(refusal))
    if not still_here(entry):
        raise DomainError("This patient is no longer on the ward; there is nobody to take on.")
    now = clock.now()
    result: Any = session.execute(
        update(HandoverEntry)
        .where(HandoverEntry.id == entry.id, HandoverEntry.accepted_by_id.is_(None))
        .values(accepted_by_id=actor.id, accepted_at=now)
        .execution_options(synchronize_session=False))
    session.refresh(entry)
    if result.rowcount != 1:
        raise Conflict(f"{_accepted_by(session, entry)} accepted this patient first.")
    assert actor.id is not None
    from app.domain.admissions.adt import assign_nurse

    previous_nurse = entry.encounter.nurse_id
    assign_nurse(session, actor, entry.encounter_id, actor.id)
    audit.record(session, actor, "handover.accepted", entry, patient_id=entry.patient_id,
                 before={"nurse_id": previous_nurse},
                 after={"accepted_by_id": actor.id, "encounter_id": entry.encounter_id,
                        "session_id": hs.id})
    live.push(session, hs.id, {"type": "entry.accepted", "session_id": hs.id,
                               "entry_id": entry.id, "by_id": actor.id,
                               "by": _actor_name(session, actor), "at": now.isoformat()})
    return entry


def _accepted_by(session: DbSession, entry: HandoverEntry) -> str:
    return user_names(session, {entry.accepted_by_id}).get(entry.accepted_by_id or 0, "Someone")


def close_handover(session: DbSession, actor: Actor, session_id: int,
                   with_unaccepted: bool = False) -> HandoverSession:
    """Close the session. While patients still await acceptance it is refused, listing them,
    unless `with_unaccepted` says to close anyway; those patients are then named in the audit."""
    data = sheet(session, actor, session_id)
    hs = data.session
    _require_open(hs)
    waiting = data.awaiting
    names = [_entry_label(e) for e in waiting]
    if waiting and not with_unaccepted:
        raise DomainError("Not yet accepted: " + "; ".join(names)
                          + ". Accept them, or close the handover leaving them unaccepted.",
                          field="with_unaccepted")
    now = clock.now()
    result: Any = session.execute(
        update(HandoverSession).where(HandoverSession.id == hs.id, HandoverSession.status == "open")
        .values(status="closed", closed_at=now).execution_options(synchronize_session=False))
    session.refresh(hs)
    if result.rowcount != 1:
        raise Conflict("This handover was closed by someone else.")
    audit.record(session, actor, "handover.closed", hs, reason=(
        "closed with patients not accepted" if waiting else None),
        after={"unaccepted": names, "entries": len(data.entries)})
    live.push(session, hs.id, {"type": "session.closed", "session_id": hs.id,
                               "by": _actor_name(session, actor)})
    return hs


def _entry_label(entry: HandoverEntry) -> str:
    bed = entry.encounter.bed
    return f"{entry.patient.name} (bed {bed.label})" if bed is not None else entry.patient.name


def record_print(session: DbSession, actor: Actor, hs: HandoverSession, size: int) -> None:
    """Every printout records who printed it and when (DESIGN §6)."""
    audit.record(session, actor, "print.handover", hs,
                 after={"ward_id": hs.ward_id, "shift": hs.shift, "status": hs.status,
                        "bytes": size})
