"""Where stock is and what of it is usable: locations (a ward's cupboard is created the first
time stock goes there), finding or starting a batch, first-expiry-first-out order and the
picks planned from it (for dispensing and transfers alike), the stock overview and the expiring
list. Nothing here changes a quantity: `ledger.post` does that."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core import clock
from app.core.db import DbSession
from app.core.errors import DomainError, NotFound
from app.core.identifiers import next_value, with_luhn
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import rules
from app.domain.dispensary.inventory_models import ReorderLevel
from app.domain.dispensary.models import MAIN_PHARMACY, StockBatch, StockLocation, StockMovement
from app.domain.facilities.models import Ward
from app.domain.formulary.models import Drug

WARD_PREFIX = "WARD-"


# The most units one booking, transfer, adjustment or reorder level may name: beyond it a
# figure is a typing slip, not a delivery.
MAX_STOCK_QUANTITY = 1_000_000

# The hospital's date: a batch is usable through its expiry day, local time.
today = clock.hospital_today


def is_postgres(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def new_number(session: DbSession, counter: str, start: int) -> str:
    """A number people read (receipts, transfers), with a Luhn check digit."""
    return with_luhn(next_value(session, counter, start=start))


_main_ids: dict[str, int] = {}  # database URL -> the main pharmacy's id (fixed by the migration)


def main_location_id(session: DbSession) -> int:
    key = str(session.get_bind().engine.url)
    if key not in _main_ids:
        found = session.scalar(select(StockLocation.id).where(StockLocation.code == MAIN_PHARMACY))
        if found is None:  # the migration inserts it; only a broken database lacks it
            raise NotFound("The main pharmacy stock location is missing.")
        _main_ids[key] = found
    return _main_ids[key]


def main_location(session: DbSession) -> StockLocation:
    location = session.get(StockLocation, main_location_id(session))
    if location is None or location.code != MAIN_PHARMACY:  # a database recreated: look again
        _main_ids.pop(str(session.get_bind().engine.url), None)
        location = session.get(StockLocation, main_location_id(session))
    assert location is not None
    return location


def get_location(session: DbSession, location_id: int) -> StockLocation:
    location = session.get(StockLocation, location_id)
    if location is None:
        raise DomainError("No such stock location.", field="location_id")
    return location


def locations(session: DbSession, holding_drug_id: int | None = None) -> list[StockLocation]:
    """The main pharmacy first, then the wards' cupboards by name; with `holding_drug_id`, only
    the main pharmacy and the places that hold some of that drug."""
    query = select(StockLocation).order_by(StockLocation.name)
    if holding_drug_id is not None:
        holds = (select(StockBatch.id).where(StockBatch.location_id == StockLocation.id,
                                             StockBatch.drug_id == holding_drug_id,
                                             StockBatch.quantity > 0).exists())
        query = query.where((StockLocation.code == MAIN_PHARMACY) | holds)
    rows = list(session.scalars(query))
    return sorted(rows, key=lambda loc: (loc.code != MAIN_PHARMACY, loc.name))


def ward_location(session: DbSession, ward_id: int) -> StockLocation:
    """The ward's stock cupboard ("WARD-<code>"), created the first time stock goes there."""
    location = session.scalar(select(StockLocation).where(StockLocation.ward_id == ward_id))
    if location is not None:
        return location
    ward = session.get(Ward, ward_id)
    if ward is None:
        raise DomainError("No such ward.", field="ward_id")
    values = {"code": f"{WARD_PREFIX}{ward.code}"[:20], "name": f"{ward.name} ward stock",
              "kind": "ward", "ward_id": ward.id}
    if is_postgres(session):
        session.execute(pg_insert(StockLocation).values(**values).on_conflict_do_nothing())
    else:
        session.add(StockLocation(**values))
        session.flush()
    location = session.scalar(select(StockLocation).where(StockLocation.ward_id == ward_id))
    assert location is not None
    return location


def batch_for(session: DbSession, drug_id: int, location_id: int, batch_number: str,
              expiry: date, *, field_prefix: str = "", **extra: object) -> StockBatch:
    """The batch of this drug with this number in this location, started empty if new. The same
    batch number with another expiry date is a mistake (or a different product), so refused."""
    query = select(StockBatch).where(StockBatch.drug_id == drug_id,
                                     StockBatch.location_id == location_id,
                                     StockBatch.batch_number == batch_number)
    batch = session.scalar(query)
    if batch is None:
        values = {"drug_id": drug_id, "location_id": location_id, "batch_number": batch_number,
                  "expiry": expiry, "quantity": 0, **extra}
        if is_postgres(session):
            # Two deliveries (or transfers) of a new batch at once: one row, both top it up.
            now = clock.now()
            session.execute(pg_insert(StockBatch).values(created_at=now, updated_at=now, **values)
                            .on_conflict_do_nothing())
            batch = session.scalar(query.execution_options(populate_existing=True))
            assert batch is not None
        else:
            batch = StockBatch(**values)
            session.add(batch)
            session.flush()
            return batch
    if batch.expiry != expiry:
        raise DomainError(
            f"Batch {batch_number} is already held here with expiry {batch.expiry:%d %b %Y}; "
            "check the pack.", field=f"{field_prefix}expiry")
    return batch


def fefo_batches(session: DbSession, drug_id: int, location_id: int, on: date | None = None,
                 *, include_expired: bool = False) -> list[StockBatch]:
    """Batches of the drug in the location with stock, the first to expire first (ties: the
    older receipt). Those expired on `on` are left out unless `include_expired` (so a refusal
    can say an expired batch is all there is)."""
    query = (select(StockBatch)
             .where(StockBatch.drug_id == drug_id, StockBatch.location_id == location_id,
                    StockBatch.quantity > 0)
             .order_by(StockBatch.expiry, StockBatch.id))
    if not include_expired:
        query = query.where(StockBatch.expiry >= (on or today()))
    return list(session.scalars(query))


@dataclass(frozen=True)
class PlannedLine:
    batch: StockBatch
    quantity: int


@dataclass(frozen=True)
class Plan:
    lines: tuple[PlannedLine, ...]
    requested: int
    shortfall: int
    expired_quantity: int  # on the shelf but past expiry: never picked

    @property
    def total(self) -> int:
        return sum(line.quantity for line in self.lines)


def plan_picks(session: DbSession, drug_id: int, location_id: int, quantity: int,
               on: date | None = None, prefer_batch_id: int | None = None,
               batches: list[StockBatch] | None = None) -> Plan:
    """The first-expiry-first-out picks for `quantity` from what is on the shelf now (or from
    `batches` only, e.g. the one batch a pharmacist chose). Writes nothing."""
    on = on or today()
    if batches is None:
        batches = fefo_batches(session, drug_id, location_id, on, include_expired=True)
    by_id = {b.id: b for b in batches}
    plan = rules.pick_fefo([rules.BatchStock(b.id, b.expiry, b.quantity) for b in batches],
                           quantity, on, prefer=prefer_batch_id)
    expired = sum(b.quantity for b in batches if b.expiry < on)
    return Plan(tuple(PlannedLine(by_id[p.batch_id], p.quantity) for p in plan.picks),
                quantity, plan.shortfall, expired)


def usable_on_hand(session: DbSession, drug_id: int, location_id: int,
                   on: date | None = None) -> int:
    on = on or today()
    return int(session.scalar(
        select(func.coalesce(func.sum(StockBatch.quantity), 0))
        .where(StockBatch.drug_id == drug_id, StockBatch.location_id == location_id,
               StockBatch.expiry >= on)
    ) or 0)


# --- what the pharmacy looks at ------------------------------------------------------------

def drug_choices(session: DbSession, actor: Actor, *,
                 with_main_stock: bool = False) -> list[tuple[int, str]]:
    """(id, name) of the active drugs, by name; with `with_main_stock`, only those with usable
    stock in the main pharmacy (what a transfer can send)."""
    authorize(actor, Perm.STOCK_VIEW)
    query = select(Drug.id, Drug.name).where(Drug.active.is_(True)).order_by(Drug.name)
    if with_main_stock:
        query = query.where(Drug.id.in_(select(StockBatch.drug_id).where(
            StockBatch.location_id == main_location_id(session), StockBatch.quantity > 0,
            StockBatch.expiry >= today())))
    return [(i, n) for i, n in session.execute(query)]


def drug_batches(session: DbSession, actor: Actor, drug_id: int) -> list[StockBatch]:
    """Every batch of the drug in every location, by location then first to expire."""
    authorize(actor, Perm.STOCK_VIEW)
    return list(session.scalars(
        select(StockBatch).where(StockBatch.drug_id == drug_id)
        .order_by(StockBatch.location_id, StockBatch.expiry, StockBatch.id)))


def get_batch(session: DbSession, actor: Actor, batch_id: int) -> StockBatch:
    authorize(actor, Perm.STOCK_VIEW)
    batch = session.get(StockBatch, batch_id)
    if batch is None:
        raise NotFound("No such batch.")
    return batch


def batch_movements(session: DbSession, actor: Actor, batch_id: int,
                    limit: int = 500) -> list[StockMovement]:
    """The batch's ledger, newest movement first."""
    authorize(actor, Perm.STOCK_VIEW)
    return list(session.scalars(select(StockMovement).where(StockMovement.batch_id == batch_id)
                                .order_by(StockMovement.id.desc()).limit(limit)))


def transferable_batches(session: DbSession, actor: Actor, limit: int = 1000) -> list[StockBatch]:
    """Usable batches in the main pharmacy, by drug name then first to expire: what a
    pharmacist may choose to send to a ward."""
    authorize(actor, Perm.STOCK_MANAGE)
    return list(session.scalars(
        select(StockBatch).join(Drug, Drug.id == StockBatch.drug_id)
        .where(StockBatch.location_id == main_location_id(session), StockBatch.quantity > 0,
               StockBatch.expiry >= today())
        .order_by(Drug.name, StockBatch.expiry).limit(limit)))


@dataclass
class LocationStock:
    location: StockLocation
    usable: int = 0
    expired: int = 0
    nearest_expiry: date | None = None
    level: ReorderLevel | None = None

    @property
    def below_level(self) -> bool:
        return self.level is not None and self.usable < self.level.minimum


@dataclass
class DrugStock:
    drug: Drug
    places: dict[int, LocationStock] = field(default_factory=dict)

    @property
    def usable(self) -> int:
        return sum(p.usable for p in self.places.values())

    @property
    def nearest_expiry(self) -> date | None:
        dates = [p.nearest_expiry for p in self.places.values() if p.nearest_expiry]
        return min(dates) if dates else None

    @property
    def below_level(self) -> bool:
        return any(p.below_level for p in self.places.values())


def overview(session: DbSession, q: str = "", location_id: int | None = None,
             limit: int = 200) -> list[DrugStock]:
    """Drugs with stock (or a reorder level) and, per location, the usable quantity, what is
    expired, the nearest expiry of usable stock and the reorder status. `q` matches the name,
    generic name or code."""
    day = today()
    places = {loc.id: loc for loc in locations(session)}
    stock_q = (
        select(StockBatch.drug_id, StockBatch.location_id,
               func.sum(StockBatch.quantity).filter(StockBatch.expiry >= day),
               func.sum(StockBatch.quantity).filter(StockBatch.expiry < day),
               func.min(StockBatch.expiry).filter(StockBatch.expiry >= day, StockBatch.quantity > 0))
        .where(StockBatch.quantity > 0)
        .group_by(StockBatch.drug_id, StockBatch.location_id)
    )
    level_q = select(ReorderLevel)
    if location_id is not None:
        stock_q = stock_q.where(StockBatch.location_id == location_id)
        level_q = level_q.where(ReorderLevel.location_id == location_id)
    rows: dict[int, DrugStock] = {}
    drug_ids = set()
    stock_rows = session.execute(stock_q).all()
    levels = list(session.scalars(level_q))
    drug_ids = {r[0] for r in stock_rows} | {lv.drug_id for lv in levels}
    if not drug_ids:
        return []
    drug_query = select(Drug).where(Drug.id.in_(drug_ids)).order_by(Drug.name).limit(limit)
    if q.strip():
        like = f"%{q.strip().lower()}%"
        drug_query = drug_query.where(or_(func.lower(Drug.name).like(like),
                                          Drug.generic_name.like(like),
                                          func.lower(Drug.code).like(like)))
    for d in session.scalars(drug_query):
        rows[d.id] = DrugStock(drug=d)
    for drug_id, loc_id, usable, expired, nearest in stock_rows:
        if drug_id in rows:
            rows[drug_id].places[loc_id] = LocationStock(places[loc_id], int(usable or 0),
                                                         int(expired or 0), nearest)
    for lv in levels:
        if lv.drug_id in rows:
            place = rows[lv.drug_id].places.setdefault(lv.location_id,
                                                       LocationStock(places[lv.location_id]))
            place.level = lv
    return list(rows.values())


def expiring(session: DbSession, within_days: int | None = None,
             location_id: int | None = None) -> list[StockBatch]:
    """Batches with stock that expire within `within_days` (PHARMACY_EXPIRY_WARNING_DAYS), the
    already-expired ones included, soonest first."""
    days = within_days if within_days is not None else int(
        current_app.config["PHARMACY_EXPIRY_WARNING_DAYS"])
    query = (select(StockBatch)
             .where(StockBatch.quantity > 0, StockBatch.expiry <= today() + timedelta(days=days))
             .order_by(StockBatch.expiry, StockBatch.id))
    if location_id is not None:
        query = query.where(StockBatch.location_id == location_id)
    return list(session.scalars(query))
