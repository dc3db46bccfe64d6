"""Who may see which patient: ward scope, with break-the-glass as the audited exception."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from app.core import clock
from app.core.db import DbSession
from app.core.security import Actor, Perm, register_scope
from app.domain.admissions.services import current_ward_ids
from app.domain.patients.models import BreakGlassGrant, Patient


def active_grant(session: DbSession, user_id: int, patient_id: int) -> BreakGlassGrant | None:
    return session.scalar(
        select(BreakGlassGrant)
        .where(
            BreakGlassGrant.user_id == user_id,
            BreakGlassGrant.patient_id == patient_id,
            BreakGlassGrant.expires_at > clock.now(),
        )
        .order_by(BreakGlassGrant.expires_at.desc())
        .limit(1)
    )


def in_scope(actor: Actor, perm: Perm, patient: Patient) -> bool:
    """True when the actor's wards hold the patient (or the actor is not ward-scoped)."""
    wards = actor.scoped_ward_ids(perm)
    if wards is None:
        return True
    session = object_session(patient)
    assert session is not None
    if wards & current_ward_ids(session, patient.id):
        return True
    return actor.id is not None and active_grant(session, actor.id, patient.id) is not None


register_scope(Patient, in_scope)
