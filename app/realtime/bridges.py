"""Domain events become small live events in the right rooms, after commit."""

from __future__ import annotations

from typing import Any

from app.core import events, realtime


def _bed_changed(session: Any, *, ward_id: int, bed_id: int, **_: Any) -> None:
    realtime.push(session, realtime.ward_room(ward_id), {"type": "bed.updated", "id": bed_id, "ward_id": ward_id})


def connect() -> None:
    events.bed_changed.connect(_bed_changed, weak=False)
