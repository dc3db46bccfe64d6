"""The pharmacist's check of new prescriptions: the worklist, verify, query back to the
prescriber, reject. Only a verified, active prescription is dispensed or scheduled on a ward."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from app.core import clock
from app.core.db import DbSession
from app.core.errors import DomainError, Forbidden
from app.core.links import link
from app.core.security import Actor, Perm, authorize
from app.domain.notifications.services import notify
from app.domain.prescribing.models import Prescription, PrescriptionVersion, SafetyOverride
from app.domain.prescribing.services import _changed, _stale, get_prescription, snapshot

QUERY_KIND = "prescription.query"
# Versions whose actor wrote what the pharmacist checks: they may not check it themselves.
AUTHORED = ("prescribed", "amended", "answered")
REJECT_KIND = "prescription.rejected"


@dataclass
class WorkItem:
    prescription: Prescription
    overrides: int  # safety checks the prescriber overrode
    resubmitted: bool  # it was queried before and came back


def worklist(session: DbSession, actor: Actor, limit: int = 200) -> list[WorkItem]:
    """Prescriptions waiting for a pharmacist: urgent first, then the oldest."""
    authorize(actor, Perm.PRESCRIPTION_VERIFY)
    rows = list(session.scalars(
        select(Prescription)
        .where(Prescription.verification == "pending", Prescription.status.in_(("active", "on-hold")))
        .options(selectinload(Prescription.drug), selectinload(Prescription.patient))
        .order_by(case((Prescription.priority == "urgent", 0), else_=1), Prescription.created_at,
                  Prescription.id)
        .limit(limit)))
    ids = [r.id for r in rows]
    overrides: dict[int, int] = {}
    if ids:
        for rx_id, n in session.execute(
                select(SafetyOverride.prescription_id, func.count())
                .where(SafetyOverride.prescription_id.in_(ids)).group_by(SafetyOverride.prescription_id)):
            overrides[rx_id] = n
    queried = set(session.scalars(
        select(PrescriptionVersion.prescription_id).where(PrescriptionVersion.prescription_id.in_(ids),
                                                          PrescriptionVersion.action == "queried"))) if ids else set()
    return [WorkItem(r, overrides.get(r.id, 0), r.id in queried) for r in rows]


def pending_count(session: DbSession) -> int:
    return session.scalar(select(func.count()).select_from(Prescription).where(
        Prescription.verification == "pending", Prescription.status.in_(("active", "on-hold")))) or 0


def wrote_it(session: DbSession, actor: Actor, rx: Prescription) -> bool:
    """Whether the actor wrote any of this prescription: prescribed it, amended it (an in-place
    amendment keeps the original prescriber) or answered a query on it."""
    if actor.id is None:
        return False
    if rx.prescriber_id == actor.id:
        return True
    return session.scalar(select(PrescriptionVersion.id).where(
        PrescriptionVersion.prescription_id == rx.id, PrescriptionVersion.actor_id == actor.id,
        PrescriptionVersion.action.in_(AUTHORED)).limit(1)) is not None


def _reviewable(session: DbSession, actor: Actor, prescription_id: int,
                expected_version: int | None) -> Prescription:
    authorize(actor, Perm.PRESCRIPTION_VERIFY)
    rx = get_prescription(session, actor, prescription_id, Perm.PRESCRIPTION_VERIFY)
    _stale(rx, expected_version)
    if wrote_it(session, actor, rx):
        raise Forbidden("You wrote or changed this prescription: another pharmacist must check it.")
    if rx.verification != "pending" or rx.status not in ("active", "on-hold"):
        raise DomainError(f"This prescription is not waiting for verification ({rx.status}, {rx.verification}).")
    return rx


def verify(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None) -> Prescription:
    """The pharmacist signs the prescription off: it can now be dispensed (and scheduled)."""
    rx = _reviewable(session, actor, prescription_id, expected_version)
    before = snapshot(rx)
    rx.verification = "verified"
    rx.verified_by_id = actor.id
    rx.verified_at = clock.now()
    rx.status_reason = None
    _changed(session, actor, rx, "verified", before=before)
    return rx


def _link(rx: Prescription) -> str:
    """The prescription's page for the notification."""
    return link("prescribing.show_prescription", prescription_id=rx.id)


ANSWER_KIND = "prescription.answered"


def tell_querier(session: DbSession, rx: Prescription, what: str) -> None:
    """Notify whoever last queried `rx` that the prescriber `what` (it is back on the worklist)."""
    querier = session.scalar(
        select(PrescriptionVersion.actor_id)
        .where(PrescriptionVersion.prescription_id == rx.id, PrescriptionVersion.action == "queried")
        .order_by(PrescriptionVersion.id.desc()).limit(1))
    if querier is None:
        return
    notify(session, kind=ANSWER_KIND, user_ids=[querier],
           text=f"Query on No. {rx.number} ({rx.drug.name}) for {rx.patient.name}: the prescriber "
                f"{what}"[:500],
           link=_link(rx), priority="high" if rx.priority == "urgent" else "normal")


def query(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None,
          message: str) -> Prescription:
    """Ask the prescriber a question. It reaches them as a notification (high priority when
    urgent); the prescription waits until they answer or amend it."""
    rx = _reviewable(session, actor, prescription_id, expected_version)
    text = (message or "").strip()
    if len(text) < 3:
        raise DomainError("Write the question for the prescriber.", field="message")
    if len(text) > 1000:
        raise DomainError("Keep the question under 1000 characters.", field="message")
    before = snapshot(rx)
    rx.verification = "queried"
    rx.status_reason = text
    _changed(session, actor, rx, "queried", reason=text, before=before)
    notify(session, kind=QUERY_KIND, user_ids=[rx.prescriber_id],
           text=f"Pharmacy query on No. {rx.number} ({rx.drug.name}) for {rx.patient.name}: {text}",
           link=_link(rx), priority="high" if rx.priority == "urgent" else "normal")
    return rx


def reject(session: DbSession, actor: Actor, prescription_id: int, expected_version: int | None,
           reason: str) -> Prescription:
    """Refuse the prescription: it is cancelled (never dispensed, never scheduled) and the
    prescriber is told why."""
    rx = _reviewable(session, actor, prescription_id, expected_version)
    text = (reason or "").strip()
    if len(text) < 3:
        raise DomainError("Give the reason for rejecting.", field="reason")
    before = snapshot(rx)
    rx.verification = "rejected"
    rx.status = "cancelled"
    rx.status_reason = text
    _changed(session, actor, rx, "rejected", reason=text, before=before)
    notify(session, kind=REJECT_KIND, user_ids=[rx.prescriber_id],
           text=f"Pharmacy rejected No. {rx.number} ({rx.drug.name}) for {rx.patient.name}: {text}",
           link=_link(rx), priority="high" if rx.priority == "urgent" else "normal")
    return rx
