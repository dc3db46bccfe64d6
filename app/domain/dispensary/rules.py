"""Pure rules of dispensing: which batches to take (first expiry, first out) and how much a
prescription needs. No database, no request: the services feed them plain values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class BatchStock:
    """What the picker needs to know of one batch."""

    id: int
    expiry: date  # usable through this day
    quantity: int


@dataclass(frozen=True)
class Pick:
    batch_id: int
    expiry: date
    quantity: int


@dataclass(frozen=True)
class PickPlan:
    picks: tuple[Pick, ...]
    requested: int
    shortfall: int  # what the usable stock could not cover

    @property
    def total(self) -> int:
        return sum(p.quantity for p in self.picks)


def usable(b: BatchStock, today: date) -> bool:
    """A batch may be used on its expiry day and not after; an empty batch has nothing to give."""
    return b.expiry >= today and b.quantity > 0


def fefo_order(batches: Iterable[BatchStock], today: date,
               prefer: int | None = None) -> list[BatchStock]:
    """The usable batches in the order they should leave the shelf: earliest expiry first,
    ties by batch id (the older receipt), except that the `prefer`red batch (the pack in the
    pharmacist's hand) goes first among those expiring the same day."""
    return sorted((b for b in batches if usable(b, today)),
                  key=lambda b: (b.expiry, b.id != prefer, b.id))


def pick_fefo(batches: Iterable[BatchStock], quantity: int, today: date,
              prefer: int | None = None) -> PickPlan:
    """Take `quantity` from the batches, earliest expiry first, never from an expired batch and
    never more than a batch holds. Whatever usable stock cannot cover is the shortfall."""
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    remaining = quantity
    picks: list[Pick] = []
    for b in fefo_order(batches, today, prefer):
        if remaining == 0:
            break
        take = min(b.quantity, remaining)
        picks.append(Pick(b.id, b.expiry, take))
        remaining -= take
    return PickPlan(tuple(picks), quantity, remaining)


def doses_per_day(frequency: str, times_table: Mapping[str, Mapping[str, Any]],
                  prn_max_daily_doses: int | None = None) -> int:
    """How many doses a day a frequency code gives: its administration times; for PRN, the
    prescribed daily maximum; for STAT (or PRN without a maximum), one."""
    entry = times_table.get(frequency.upper())
    if entry is None:
        raise ValueError(f"unknown frequency {frequency!r}")
    times = list(entry.get("times") or [])
    if times:
        return len(times)
    return prn_max_daily_doses or 1


def treatment_days(start: datetime, stop: datetime | None, duration_days: int | None,
                   default_days: int) -> int:
    """Days of treatment: the duration, else from start to stop (a part day counts), else the
    default supply."""
    if duration_days:
        return max(1, duration_days)
    if stop is not None and stop > start:
        return max(1, math.ceil((stop - start).total_seconds() / 86400))
    return default_days


def suggested_quantity(
    *,
    outpatient_quantity: int | None,
    dose: Decimal,
    dose_per_stock_unit: Decimal | None,
    doses_a_day: int,
    days: int,
    single_dose: bool = False,
) -> int:
    """Stock units to supply: the outpatient quantity when the prescriber wrote one; otherwise
    dose x doses a day x days, converted to stock units (rounded up: a pack is never cut short).
    `single_dose` (STAT) supplies one dose."""
    if outpatient_quantity:
        return outpatient_quantity
    per_dose = dose / dose_per_stock_unit if dose_per_stock_unit else dose
    count = 1 if single_dose else doses_a_day * days
    return max(1, math.ceil(per_dose * count))


def whole_packs(quantity: int, pack_size: int) -> int:
    """`quantity` rounded up to whole packs: a pharmacy may hand over a full pack, never a
    pack cut open for the last few tablets."""
    size = max(1, pack_size)
    return math.ceil(quantity / size) * size


def returnable(lines: Sequence[tuple[int, int]]) -> int:
    """What can still come back from (dispensed, returned) pairs."""
    return sum(q - r for q, r in lines)
