"""The live bed board: each bed's state and, for an occupied bed, what the ward must see at a
glance (the patient, latest NEWS2, late observations and doses, open alerts, the nurse).

Everything is read in batch for the whole ward, a fixed number of queries however many beds:
the board re-renders on every live event, so its cost is paid many times a minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from app.core.db import DbSession
from app.core.security import Actor, Perm, authorize, authorize_ward
from app.domain.admissions.models import Encounter
from app.domain.facilities import beds
from app.domain.facilities import rules as bed_rules
from app.domain.facilities.models import Bed, BedReservation, Room, Ward
from app.domain.identity.models import User

# NEWS2 risk band -> vitals.css's news2-<band> class (green, amber, orange, red); "incomplete"
# and "none" (no set yet) have their own.
RISK_CLASSES = {"low": "news2-low", "low-medium": "news2-low-medium", "medium": "news2-medium",
                "high": "news2-high"}


@dataclass
class BedCard:
    bed: Bed
    encounter: Encounter | None = None
    age: int | None = None
    vitals: Any = None  # observations.models.VitalSigns | None
    obs_overdue: bool = False
    doses_due: int = 0
    doses_overdue: int = 0
    alerts: list[Any] = field(default_factory=list)  # escalation.models.Alert
    reservation: BedReservation | None = None
    nurse_name: str | None = None
    attending_name: str | None = None

    @property
    def risk_class(self) -> str:
        if self.vitals is None:
            return "news2-none"
        if self.vitals.news2_total is None:
            return "news2-incomplete"
        return RISK_CLASSES.get(self.vitals.news2_band or "", "news2-none")

    @property
    def needs_attention(self) -> bool:
        return bool(self.obs_overdue or self.doses_overdue or self.alerts
                    or (self.vitals is not None and self.vitals.news2_band in ("medium", "high")))


@dataclass
class RoomRow:
    code: str
    cards: list[BedCard]


@dataclass
class Board:
    ward: Ward
    rooms: list[RoomRow]
    counts: dict[str, int]
    now: datetime

    @property
    def cards(self) -> list[BedCard]:
        return [c for r in self.rooms for c in r.cards]


def _ward(session: DbSession, ward_id: int) -> Ward | None:
    return session.scalar(select(Ward).where(Ward.id == ward_id)
                          .options(selectinload(Ward.rooms).selectinload(Room.beds)))


def ward_board(session: DbSession, actor: Actor, ward_id: int, now: datetime, today: date) -> Board | None:
    """The ward's board (None: no such ward). Ward staff see their own wards only."""
    authorize_ward(actor, Perm.WARD_VIEW, ward_id)
    ward = _ward(session, ward_id)
    if ward is None:
        return None
    from app.domain.administration.services import board_counts
    from app.domain.escalation.services import open_alerts
    from app.domain.observations.services import latest_by_encounter, observations_overdue

    all_beds = [b for r in ward.rooms for b in r.beds]
    stays = {e.bed_id: e for e in session.scalars(
        select(Encounter).where(Encounter.ward_id == ward_id, Encounter.status == "in-progress")
        .options(joinedload(Encounter.patient)))}
    ids = [e.id for e in stays.values()]
    people = {e.nurse_id for e in stays.values()} | {e.attending_id for e in stays.values()}
    people.discard(None)
    names = {uid: name for uid, name in session.execute(
        select(User.id, User.full_name).where(User.id.in_(people)))} if people else {}
    reservations = beds.active_reservations(session, [b.id for b in all_beds if b.state == "reserved"])
    vitals = latest_by_encounter(session, ids)
    alerts = open_alerts(session, ids)
    doses = board_counts(session, ids, now)
    rooms = []
    for room in ward.rooms:
        cards = []
        for bed in room.beds:
            card = BedCard(bed=bed, reservation=reservations.get(bed.id))
            e = stays.get(bed.id)
            if e is not None:
                vs = vitals.get(e.id)
                counts = doses.get(e.id)
                card.encounter = e
                card.age = e.patient.age(today)
                card.vitals = vs
                card.obs_overdue = observations_overdue(vs, e.started_at, now)
                card.doses_due = counts.due_now if counts else 0
                card.doses_overdue = counts.overdue if counts else 0
                card.alerts = alerts.get(e.id, [])
                card.nurse_name = names.get(e.nurse_id) if e.nurse_id else None
                card.attending_name = names.get(e.attending_id) if e.attending_id else None
            cards.append(card)
        rooms.append(RoomRow(code=room.code, cards=cards))
    return Board(ward=ward, rooms=rooms, counts=bed_rules.state_counts(b.state for b in all_beds), now=now)


@dataclass(frozen=True)
class WardSummary:
    ward: Ward
    counts: dict[str, int]

    @property
    def beds(self) -> int:
        return sum(self.counts.values())

    @property
    def occupancy(self) -> float | None:
        return bed_rules.occupancy_percent(self.counts["occupied"], self.beds, self.counts["out_of_service"])


def hospital_board(session: DbSession, actor: Actor) -> list[WardSummary]:
    """Every ward in the actor's scope with its beds counted per state (one grouped query)."""
    authorize(actor, Perm.WARD_VIEW)
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    stmt = select(Ward).order_by(Ward.name)
    if scope is not None:
        stmt = stmt.where(Ward.id.in_(sorted(scope)))
    wards = list(session.scalars(stmt))
    counts = beds.state_counts_by_ward(session, [w.id for w in wards])
    return [WardSummary(ward=w, counts=counts.get(w.id, bed_rules.state_counts([]))) for w in wards]


def find_free_beds(session: DbSession, actor: Actor, *, ward_class: str | None = None,
                   specialty: str | None = None) -> list[Bed]:
    """Available beds across the wards the actor may admit to, filtered by ward class or
    specialty (the "where can this patient go?" question)."""
    authorize(actor, Perm.WARD_VIEW)
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    return beds.free_beds(session, sorted(scope) if scope is not None else None,
                          ward_class=ward_class or None, specialty=specialty or None)


def ward_choices(session: DbSession) -> tuple[list[str], list[str]]:
    """The ward classes and specialties in use (the free-bed filter's options)."""
    classes = sorted({c for c in session.scalars(select(Ward.ward_class).distinct()) if c})
    specialties = sorted({s for s in session.scalars(select(Ward.specialty).distinct()) if s})
    return classes, specialties
