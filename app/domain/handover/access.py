"""Who may see and edit a handover: HANDOVER, on a ward in the actor's scope (ward nurses hand
over their own wards). Registered with app.core.security so sockets and jobs are covered too."""

from __future__ import annotations

from app.core.security import Actor, Perm, in_ward_scope, register_scope
from app.domain.handover.models import HandoverSession


def in_scope(actor: Actor, perm: Perm, hs: HandoverSession) -> bool:
    return in_ward_scope(actor, perm, hs.ward_id)


register_scope(HandoverSession, in_scope)
