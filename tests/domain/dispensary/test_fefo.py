"""First expiry, first out: which batches a dispensing takes, and how much a prescription needs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.dispensary.rules import (
    BatchStock,
    doses_per_day,
    pick_fefo,
    suggested_quantity,
    treatment_days,
)
from config import DEFAULT_ADMINISTRATION_TIMES

TODAY = date(2026, 11, 22)

batches_strategy = st.lists(
    st.builds(BatchStock,
              id=st.integers(1, 10_000),
              expiry=st.dates(TODAY - timedelta(days=60), TODAY + timedelta(days=400)),
              quantity=st.integers(0, 500)),
    max_size=12, unique_by=lambda b: b.id)


@given(batches_strategy, st.integers(0, 3000))
def test_picks_respect_the_shelf_the_calendar_and_the_order(batches: list[BatchStock], quantity: int) -> None:
    plan = pick_fefo(batches, quantity, TODAY)
    by_id = {b.id: b for b in batches}
    usable = sum(b.quantity for b in batches if b.expiry >= TODAY)
    # never more from a batch than it holds, never an empty pick, never an expired batch
    for p in plan.picks:
        assert 0 < p.quantity <= by_id[p.batch_id].quantity
        assert by_id[p.batch_id].expiry >= TODAY
    assert len({p.batch_id for p in plan.picks}) == len(plan.picks)
    # as much as asked, or all the usable stock there is
    assert plan.total == min(quantity, usable)
    assert plan.shortfall == quantity - plan.total
    # earliest expiry first (ties by id), and every batch but the last is emptied
    keys = [(p.expiry, p.batch_id) for p in plan.picks]
    assert keys == sorted(keys)
    for p in plan.picks[:-1]:
        assert p.quantity == by_id[p.batch_id].quantity
    # no usable batch expiring before the last one picked was skipped
    if plan.picks:
        last = plan.picks[-1]
        picked = {p.batch_id for p in plan.picks}
        skipped = [b for b in batches if b.id not in picked and b.quantity > 0 and b.expiry >= TODAY
                   and (b.expiry, b.id) < (last.expiry, last.batch_id)]
        assert skipped == []


def test_a_batch_is_usable_on_its_expiry_day_and_not_the_day_after() -> None:
    batches = [BatchStock(1, TODAY - timedelta(days=1), 50), BatchStock(2, TODAY, 5),
               BatchStock(3, TODAY + timedelta(days=30), 50)]
    plan = pick_fefo(batches, 20, TODAY)
    assert [(p.batch_id, p.quantity) for p in plan.picks] == [(2, 5), (3, 15)]


def test_only_expired_stock_is_a_full_shortfall() -> None:
    plan = pick_fefo([BatchStock(1, TODAY - timedelta(days=1), 500)], 10, TODAY)
    assert plan.picks == () and plan.shortfall == 10


def test_same_expiry_takes_the_older_batch_unless_the_pack_in_hand_is_the_other() -> None:
    batches = [BatchStock(7, TODAY, 3), BatchStock(4, TODAY, 3)]
    assert [p.batch_id for p in pick_fefo(batches, 4, TODAY).picks] == [4, 7]
    assert [p.batch_id for p in pick_fefo(batches, 4, TODAY, prefer=7).picks] == [7, 4]


def test_suggested_supply_for_a_week_of_one_gram_three_times_a_day_of_500_mg_tablets() -> None:
    per_day = doses_per_day("TID", DEFAULT_ADMINISTRATION_TIMES)
    assert suggested_quantity(outpatient_quantity=None, dose=Decimal("1000"),
                              dose_per_stock_unit=Decimal("500"), doses_a_day=per_day,
                              days=7) == 42


def test_a_half_tablet_dose_rounds_the_supply_up_never_down() -> None:
    assert suggested_quantity(outpatient_quantity=None, dose=Decimal("250"),
                              dose_per_stock_unit=Decimal("500"), doses_a_day=1, days=5) == 3


def test_the_prescribers_outpatient_quantity_wins_and_stat_is_one_dose() -> None:
    assert suggested_quantity(outpatient_quantity=28, dose=Decimal("500"),
                              dose_per_stock_unit=Decimal("500"), doses_a_day=3, days=7) == 28
    assert suggested_quantity(outpatient_quantity=None, dose=Decimal("10"), dose_per_stock_unit=None,
                              doses_a_day=1, days=7, single_dose=True) == 10


def test_prn_supplies_the_daily_maximum_and_unknown_codes_are_refused() -> None:
    assert doses_per_day("PRN", DEFAULT_ADMINISTRATION_TIMES, prn_max_daily_doses=4) == 4
    assert doses_per_day("prn", DEFAULT_ADMINISTRATION_TIMES) == 1
    with pytest.raises(ValueError):
        doses_per_day("Q3D", DEFAULT_ADMINISTRATION_TIMES)


def test_treatment_days_from_duration_or_stop_date() -> None:
    start = datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert treatment_days(start, None, 5, 7) == 5
    assert treatment_days(start, start + timedelta(days=2, hours=1), None, 7) == 3
    assert treatment_days(start, None, None, 7) == 7


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=500))
def test_whole_packs_covers_the_quantity_with_less_than_one_extra_pack(quantity: int, pack: int) -> None:
    from app.domain.dispensary.rules import whole_packs

    packs = whole_packs(quantity, pack)
    assert packs % pack == 0 and quantity <= packs < quantity + pack
