"""Dispensing a verified prescription from stock: FEFO picks, partial supply, the pack scan,
controlled drugs, and refusals that write nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import events
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError
from app.core.identifiers import luhn_valid
from app.domain.dispensary import ledger
from app.domain.dispensary.dispensing import dispense, suggested_quantity
from app.domain.dispensary.gs1 import element_string
from app.domain.dispensary.models import ControlledDrugEntry, Dispensing, StockMovement
from app.domain.dispensary.stock import plan_picks, today
from app.domain.identity.models import User
from tests import factories


@pytest.fixture()
def pharmacist(make_user: Callable[..., User]) -> User:
    return make_user("pharmacist")


@pytest.fixture()
def sent() -> Iterator[list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    def listener(sender: Any, **kw: Any) -> None:
        received.append(kw)

    with events.dispensed.connected_to(listener):
        yield received


def movements(session: Any) -> int:
    return int(session.scalar(select(func.count(StockMovement.id))) or 0)


def dispensings(session: Any) -> int:
    return int(session.scalar(select(func.count(Dispensing.id))) or 0)


def test_dispensing_takes_the_earliest_expiry_first_and_tells_billing(db_session, pharmacist, sent) -> None:
    d = factories.drug(db_session)
    day = today()
    later = factories.batch(db_session, d, 50, expiry=day + timedelta(days=300), batch_number="LATE")
    soon = factories.batch(db_session, d, 15, expiry=day + timedelta(days=20), batch_number="SOON")
    expired = factories.batch(db_session, d, 40, expiry=day - timedelta(days=1), batch_number="OLD")
    p = factories.patient(db_session)
    rx = factories.verified_prescription(db_session, p, d, quantity=21)

    result = dispense(db_session, pharmacist, rx.id, 21)

    assert [(line.batch.batch_number, line.quantity) for line in result.lines] == [("SOON", 15), ("LATE", 6)]
    assert (soon.quantity, later.quantity, expired.quantity) == (0, 44, 40)
    assert result.quantity == result.quantity_requested == 21 and not result.partial
    assert luhn_valid(result.number) and result.number.startswith("5")
    ledger_rows = db_session.scalars(select(StockMovement).where(StockMovement.dispensing_id == result.id)).all()
    assert sorted(m.quantity for m in ledger_rows) == [-15, -6]
    assert {m.kind for m in ledger_rows} == {"dispense"} and {m.patient_id for m in ledger_rows} == {p.id}
    assert sent == [dict(dispensing_id=result.id, prescription_id=rx.id, patient_id=p.id,
                         drug_id=d.id, quantity=21, encounter_id=None)]
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "dispensing.dispensed",
                                                      AuditEvent.entity_id == str(result.id))) is not None


def test_short_stock_is_refused_naming_what_is_there_and_nothing_is_written(db_session, pharmacist, sent) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 8)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
    before = movements(db_session)
    with pytest.raises(DomainError) as exc:
        dispense(db_session, pharmacist, rx.id, 21)
    assert exc.value.field == "quantity" and "Only 8 tablet available" in exc.value.message
    assert movements(db_session) == before and dispensings(db_session) == 0 and sent == []


def test_partial_supply_takes_what_is_there_and_is_marked(db_session, pharmacist) -> None:
    d = factories.drug(db_session)
    b = factories.batch(db_session, d, 8)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=21)
    result = dispense(db_session, pharmacist, rx.id, 21, allow_partial=True)
    assert (result.quantity, result.quantity_requested, result.partial) == (8, 21, True)
    assert b.quantity == 0
    assert suggested_quantity(db_session, rx) == 13  # the rest of the prescribed 21


def test_only_expired_stock_is_a_refusal_even_when_partial_is_allowed(db_session, pharmacist) -> None:
    d = factories.drug(db_session)
    old = factories.batch(db_session, d, 100, expiry=today() - timedelta(days=1))
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
    with pytest.raises(DomainError, match="past their expiry"):
        dispense(db_session, pharmacist, rx.id, 5, allow_partial=True)
    assert old.quantity == 100


@pytest.mark.parametrize("changes, words", [
    (dict(verification="pending"), "not been verified"),
    (dict(verification="queried"), "queried"),
    (dict(verification="rejected"), "rejected"),
    (dict(status="on-hold"), "on hold"),
    (dict(status="stopped"), "stopped"),
])
def test_only_active_verified_prescriptions_are_dispensed(db_session, pharmacist, changes, words) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 100)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, **changes)
    with pytest.raises(Conflict, match=words):
        dispense(db_session, pharmacist, rx.id, 5)
    assert dispensings(db_session) == 0


def test_a_double_click_does_not_supply_twice_but_next_weeks_supply_is_allowed(db_session, pharmacist) -> None:
    d = factories.drug(db_session)
    b = factories.batch(db_session, d, 100)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, setting="inpatient",
                                         quantity=None, duration_days=None)
    first = dispense(db_session, pharmacist, rx.id, 21, expected_supplies=0)
    with pytest.raises(Conflict, match=f"dispensed meanwhile \\({first.number}"):
        dispense(db_session, pharmacist, rx.id, 21, expected_supplies=0)
    assert b.quantity == 79
    dispense(db_session, pharmacist, rx.id, 21, expected_supplies=1)
    assert b.quantity == 58


def test_nurses_and_doctors_may_not_dispense(db_session, make_user) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 100)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
    for role in ("nurse", "doctor"):
        with pytest.raises(DomainError) as exc:
            dispense(db_session, make_user(role), rx.id, 5)
        assert exc.value.status_code == 403


@pytest.mark.parametrize("quantity", [0, -3])
def test_quantity_must_be_above_zero(db_session, pharmacist, quantity) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 100)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
    with pytest.raises(DomainError) as exc:
        dispense(db_session, pharmacist, rx.id, quantity)
    assert exc.value.field == "quantity"


def test_ward_stock_is_a_separate_shelf(db_session, pharmacist) -> None:
    from app.domain.dispensary.models import StockLocation

    w = factories.ward(db_session)
    cupboard = StockLocation(code=f"W{w.id}", name=f"{w.name} stock", kind="ward", ward_id=w.id)
    db_session.add(cupboard)
    db_session.flush()
    d = factories.drug(db_session)
    main = factories.batch(db_session, d, 100)
    ward_batch = factories.batch(db_session, d, 10, location=cupboard)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d)
    result = dispense(db_session, pharmacist, rx.id, 4, location_id=cupboard.id)
    assert result.location_id == cupboard.id
    assert (main.quantity, ward_batch.quantity) == (100, 6)


# --- the pack scan ----------------------------------------------------------------------------

def scan_setup(db_session: Any) -> tuple[Any, Any, Any, Any]:
    d = factories.drug(db_session)
    first = factories.batch(db_session, d, 10, expiry=today() + timedelta(days=30), batch_number="FIRST")
    second = factories.batch(db_session, d, 50, expiry=today() + timedelta(days=200), batch_number="SECOND")
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=60)
    return d, first, second, rx


def test_scanning_the_right_pack_dispenses_and_is_recorded(db_session, pharmacist) -> None:
    d, first, _, rx = scan_setup(db_session)
    result = dispense(db_session, pharmacist, rx.id, 7, scan=element_string(d.pack_gtin, first.expiry, "FIRST", "S1"))
    assert result.scanned and first.quantity == 3


def test_a_scanner_that_drops_the_separator_still_finds_the_batch(db_session, pharmacist) -> None:
    d, first, _, rx = scan_setup(db_session)
    code = f"01{d.pack_gtin}17{first.expiry:%y%m%d}10FIRST21SERIAL9"
    assert dispense(db_session, pharmacist, rx.id, 7, scan=code).scanned


def test_scan_refusals_name_the_problem_and_write_nothing(db_session, pharmacist) -> None:
    d, first, second, rx = scan_setup(db_session)
    other = factories.drug(db_session, name="Ibuprofen 400 MG Oral Tablet", generic_name="ibuprofen")
    gone = factories.batch(db_session, d, 5, expiry=today() - timedelta(days=2), batch_number="GONE")
    cases = {
        "Wrong drug: the pack scanned is Ibuprofen 400 MG Oral Tablet":
            element_string(other.pack_gtin, first.expiry, "FIRST"),
        "Batch NOPE of": element_string(d.pack_gtin, first.expiry, "NOPE"),
        "expired on": element_string(d.pack_gtin, gone.expiry, "GONE"),
        "is recorded as expiring": element_string(d.pack_gtin, first.expiry + timedelta(days=31), "FIRST"),
        "Take batch FIRST": element_string(d.pack_gtin, second.expiry, "SECOND"),
        "check digit": "]d201" + d.pack_gtin[:-1] + str((int(d.pack_gtin[-1]) + 1) % 10),
    }
    before = movements(db_session)
    for words, code in cases.items():
        with pytest.raises(DomainError) as exc:
            dispense(db_session, pharmacist, rx.id, 7, scan=code)
        assert exc.value.field == "scan", words
        assert words in exc.value.message
    assert movements(db_session) == before and dispensings(db_session) == 0
    assert (first.quantity, second.quantity) == (10, 50)


def test_a_later_batch_may_be_scanned_once_the_earlier_one_cannot_cover_it(db_session, pharmacist) -> None:
    d, first, second, rx = scan_setup(db_session)
    with pytest.raises(DomainError, match="Take batch FIRST"):
        dispense(db_session, pharmacist, rx.id, 30, scan=element_string(d.pack_gtin, second.expiry, "SECOND"))
    result = dispense(db_session, pharmacist, rx.id, 30, scan=element_string(d.pack_gtin, first.expiry, "FIRST"))
    assert [(line.batch.batch_number, line.quantity) for line in result.lines] == [("FIRST", 10), ("SECOND", 20)]


# --- controlled drugs -------------------------------------------------------------------------

def controlled_stock(db_session: Any, actor: User, witness: User, quantity: int = 20) -> tuple[Any, Any]:
    d = factories.drug(db_session, name="Morphine Sulfate 10 MG Oral Tablet", generic_name="morphine",
                       drug_class="opioids", controlled=True, dose_per_stock_unit=10)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, actor, b.id, quantity, "receipt", witness=witness)
    return d, b


def test_controlled_drugs_need_a_witness_and_enter_the_register(db_session, pharmacist, make_user) -> None:
    nurse = make_user("nurse")
    d, b = controlled_stock(db_session, pharmacist, nurse)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, dose=10, quantity=6)
    with pytest.raises(DomainError) as exc:
        dispense(db_session, pharmacist, rx.id, 6)
    assert exc.value.field == "witness"
    with pytest.raises(DomainError, match="someone other than you"):
        dispense(db_session, pharmacist, rx.id, 6, witness=pharmacist)
    db_session.rollback()  # the refused attempt's writes (as the view does)

    d, b = controlled_stock(db_session, pharmacist, nurse)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, dose=10, quantity=6)
    result = dispense(db_session, pharmacist, rx.id, 6, witness=nurse)
    entry = db_session.scalar(select(ControlledDrugEntry).where(ControlledDrugEntry.kind == "dispense",
                                                                ControlledDrugEntry.drug_id == d.id))
    assert (entry.quantity, entry.balance_after, entry.witness_id, entry.actor_id) == (-6, 14, nurse.id, pharmacist.id)
    assert result.quantity == 6 and b.quantity == 14


def test_the_pick_preview_matches_what_is_dispensed(db_session, pharmacist) -> None:
    d, first, _second, rx = scan_setup(db_session)
    plan = plan_picks(db_session, d.id, first.location_id, 12)
    assert [(line.batch.batch_number, line.quantity) for line in plan.lines] == [("FIRST", 10), ("SECOND", 2)]
    result = dispense(db_session, pharmacist, rx.id, 12)
    assert [(line.batch_id, line.quantity) for line in result.lines] == [(line.batch.id, line.quantity) for line in plan.lines]


def test_an_outpatient_supply_never_exceeds_what_the_prescriber_wrote(db_session, pharmacist) -> None:
    d = factories.drug(db_session)
    factories.batch(db_session, d, 100)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=21)

    dispense(db_session, pharmacist, rx.id, 14)
    assert suggested_quantity(db_session, rx) == 7
    before = movements(db_session)
    with pytest.raises(DomainError, match="allows at most 7") as refused:
        dispense(db_session, pharmacist, rx.id, 8)
    assert refused.value.field == "quantity"
    assert movements(db_session) == before

    dispense(db_session, pharmacist, rx.id, 7)
    with pytest.raises(Conflict, match="supplied in full"):
        dispense(db_session, pharmacist, rx.id, 1)
    assert ledger.on_hand(db_session, d.id) == 79


def test_a_course_is_supplied_in_whole_packs_and_never_beyond(db_session, pharmacist) -> None:
    d = factories.drug(db_session, pack_size=21)  # 500 mg tablets
    factories.batch(db_session, d, 500)
    # 500 mg three times a day for 5 days: 15 tablets, so at most one pack of 21.
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d,
                                         quantity=None, setting="inpatient", duration_days=5)
    assert suggested_quantity(db_session, rx) == 15
    with pytest.raises(DomainError, match="allows at most 21") as refused:
        dispense(db_session, pharmacist, rx.id, 100000, allow_partial=True)
    assert refused.value.field == "quantity"
    assert ledger.on_hand(db_session, d.id) == 500
    dispense(db_session, pharmacist, rx.id, 21)
    with pytest.raises(Conflict, match="supplied in full"):
        dispense(db_session, pharmacist, rx.id, 1)


def test_an_open_ended_prescription_is_supplied_at_most_four_weeks_at_a_time(db_session, pharmacist) -> None:
    d = factories.drug(db_session, pack_size=28)
    factories.batch(db_session, d, 1000)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=None,
                                         setting="inpatient", duration_days=None, stop_at=None,
                                         frequency="BID")
    with pytest.raises(DomainError, match="allows at most 56"):
        dispense(db_session, pharmacist, rx.id, 57)
    assert dispense(db_session, pharmacist, rx.id, 56).quantity == 56
