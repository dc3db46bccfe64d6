"""Reading the hospital's places."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core.db import DbSession
from app.domain.facilities.models import Bed, Room, Ward


def list_wards(session: DbSession, ids: Iterable[int] | None = None) -> list[Ward]:
    stmt = select(Ward).order_by(Ward.name)
    if ids is not None:
        stmt = stmt.where(Ward.id.in_(list(ids)))
    return list(session.scalars(stmt))


def ward_with_beds(session: DbSession, ward_id: int) -> Ward | None:
    return session.scalar(
        select(Ward)
        .where(Ward.id == ward_id)
        .options(selectinload(Ward.rooms).selectinload(Room.beds))
    )


def beds_by_id(session: DbSession, ids: Iterable[int]) -> dict[int, Bed]:
    rows = session.scalars(
        select(Bed).where(Bed.id.in_(list(ids))).options(selectinload(Bed.room).selectinload(Room.ward))
    )
    return {b.id: b for b in rows}
