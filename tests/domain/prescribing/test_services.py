"""Writing, changing and stopping prescriptions; versions, overrides, audit and events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock, events
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.identifiers import luhn_valid
from app.core.security import SYSTEM
from app.domain.patients import services as patients
from app.domain.prescribing import services as prescribing
from app.domain.prescribing import verification
from app.domain.prescribing.models import Prescription, SafetyOverride
from tests import factories
from tests.domain.prescribing import support


@pytest.fixture()
def heard() -> Iterator[list[dict[str, Any]]]:
    got: list[dict[str, Any]] = []

    def listener(sender: Any, **kw: Any) -> None:
        got.append(kw)

    events.prescription_changed.connect(listener)
    try:
        yield got
    finally:
        events.prescription_changed.disconnect(listener)


def _actions(session: Any, rx: Prescription) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.entity_type == "prescription", AuditEvent.entity_id == str(rx.id)).order_by(AuditEvent.seq)))


def test_an_outpatient_prescription_is_pending_numbered_versioned_and_announced(app: Any, db_session: Any,
                                                                               heard: list[dict[str, Any]]) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    rx = support.write(db_session, doctor, p, drug)
    assert (rx.setting, rx.status, rx.verification, rx.encounter_id) == ("outpatient", "active", "pending", None)
    assert luhn_valid(rx.number) and len(rx.number) == 8
    assert rx.quantity == 15  # 1 tablet three times a day for five days
    assert rx.stop_at == rx.start_at + timedelta(days=5)
    assert [v.action for v in prescribing.versions(db_session, rx.id)] == ["prescribed"]
    assert heard == [{"prescription_id": rx.id, "patient_id": p.id, "action": "prescribed"}]
    assert _actions(db_session, rx) == ["prescription.prescribed"]


def test_an_admitted_patient_gets_an_inpatient_prescription_on_their_stay(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.admitted(db_session, factories.ward(db_session))
    rx = support.write(db_session, doctor, p, factories.drug(db_session))
    assert rx.setting == "inpatient" and rx.encounter_id is not None and rx.quantity is None


def test_a_unit_the_maximum_cannot_be_checked_in_is_refused(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session, dose_per_stock_unit=None)
    with pytest.raises(prescribing.OrderInvalid) as caught:
        support.write(db_session, doctor, p, drug, dose="1000", dose_unit="tablet")
    assert "cannot be checked against this drug's maximum" in caught.value.errors["dose_unit"]
    assert prescribing.dose_units(drug) == ["mg"]
    unlimited = factories.drug(db_session, dose_per_stock_unit=None, max_single_dose=None, max_daily_dose=None,
                               default_dose=None)
    rx = support.write(db_session, doctor, p, unlimited, dose="2", dose_unit="tablet", quantity=30)
    assert (rx.dose, rx.dose_unit) == (2, "tablet")


@pytest.mark.parametrize(("changes", "field"), [
    ({"dose": "0"}, "dose"), ({"dose": "-2"}, "dose"), ({"dose": "NaN"}, "dose"), ({"dose": "lots"}, "dose"),
    ({"dose": "5000000"}, "dose"), ({"frequency": "Q5MIN"}, "frequency"), ({"dose_unit": "mL"}, "dose_unit"),
    ({"duration_days": 0}, "duration_days"), ({"priority": "whenever"}, "priority"),
    ({"frequency": "PRN"}, "prn_min_interval_minutes"), ({"drug_id": 999999}, "drug_id"),
])
def test_impossible_orders_are_refused_beside_the_field(app: Any, db_session: Any, changes: dict[str, Any],
                                                        field: str) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    with pytest.raises(prescribing.OrderInvalid) as caught:
        support.write(db_session, doctor, p, drug, **changes)
    assert field in caught.value.errors
    assert db_session.scalar(select(Prescription).where(Prescription.patient_id == p.id)) is None


def test_a_stop_before_the_start_is_refused(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    now = clock.now()
    with pytest.raises(prescribing.OrderInvalid) as caught:
        support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session),
                      duration_days=None, start_at=now, stop_at=now - timedelta(days=1))
    assert set(caught.value.errors) == {"stop_at"}


def test_a_prn_order_needs_its_interval_and_daily_maximum(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    rx = support.write(db_session, doctor, p, factories.drug(db_session), frequency="PRN",
                       prn_min_interval_minutes=240, prn_max_daily_doses=4, quantity=20)
    assert rx.prn and rx.prn_max_daily_doses == 4


def test_a_triggered_check_needs_a_reason_and_the_override_is_kept(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    patients.record_allergy(db_session, SYSTEM, p.id, "Penicillins")
    drug = factories.drug(db_session)
    with pytest.raises(prescribing.OverrideRequired) as caught:
        support.write(db_session, doctor, p, drug, dose="2000")
    assert caught.value.missing == ["allergy", "max_dose"]
    rx = support.write(db_session, doctor, p, drug, dose="2000",
                       overrides={"allergy": "Tolerated amoxicillin in 2024", "max_dose": "Severe infection"})
    rows = db_session.scalars(select(SafetyOverride).where(SafetyOverride.prescription_id == rx.id)).all()
    assert {(r.check, r.reason) for r in rows} == {("allergy", "Tolerated amoxicillin in 2024"),
                                                    ("max_dose", "Severe infection")}
    assert _actions(db_session, rx).count("prescription.safety_overridden") == 2


def test_a_duplicate_needs_a_reason(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    support.write(db_session, doctor, p, drug)
    with pytest.raises(prescribing.OverrideRequired) as caught:
        support.write(db_session, doctor, p, drug)
    assert caught.value.missing == ["duplicate"]


def test_before_verification_the_prescriber_amends_in_place(app: Any, db_session: Any,
                                                           heard: list[dict[str, Any]]) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    rx = support.write(db_session, doctor, p, drug)
    same = prescribing.change_prescription(db_session, doctor, rx.id, rx.version, support.order(drug, dose="1000"))
    assert same.id == rx.id and same.dose == Decimal("1000") and same.verification == "pending"
    [_, amended] = prescribing.history(db_session, rx.id)
    assert amended[0].action == "amended" and ("dose", "500", "1000") in amended[1]
    assert heard[-1]["action"] == "amended"


def test_a_stale_change_is_refused(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    rx = support.write(db_session, doctor, p, drug)
    old = rx.version
    prescribing.change_status(db_session, doctor, rx.id, old, "held", "Nil by mouth")
    with pytest.raises(Conflict):
        prescribing.change_prescription(db_session, doctor, rx.id, old, support.order(drug, dose="250"))


def test_a_verified_prescription_is_never_edited_a_change_replaces_it(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    pharmacist = support.user(db_session, "pharmacist")
    p = factories.patient(db_session)
    drug = factories.drug(db_session)
    rx = support.write(db_session, doctor, p, drug)
    verification.verify(db_session, pharmacist, rx.id, rx.version)
    with pytest.raises(DomainError):
        prescribing.change_prescription(db_session, doctor, rx.id, rx.version, support.order(drug, dose="250"))
    new = prescribing.change_prescription(db_session, doctor, rx.id, rx.version, support.order(drug, dose="250"),
                                          reason="Renal function worse")
    assert new.id != rx.id and new.replaces_id == rx.id and new.verification == "pending"
    assert rx.status == "stopped" and rx.dose == Decimal("500") and "Renal" in (rx.status_reason or "")


def test_hold_resume_stop_with_reasons_and_versions(app: Any, db_session: Any, heard: list[dict[str, Any]]) -> None:
    doctor = support.user(db_session, "doctor")
    rx = support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session))
    with pytest.raises(DomainError) as caught:
        prescribing.change_status(db_session, doctor, rx.id, rx.version, "held", "")
    assert caught.value.field == "reason"
    prescribing.change_status(db_session, doctor, rx.id, rx.version, "held", "Going to theatre")
    prescribing.change_status(db_session, doctor, rx.id, rx.version, "resumed")
    prescribing.change_status(db_session, doctor, rx.id, rx.version, "stopped", "Course changed")
    with pytest.raises(DomainError):
        prescribing.change_status(db_session, doctor, rx.id, rx.version, "resumed")
    assert [v.action for v in prescribing.versions(db_session, rx.id)] == ["prescribed", "held", "resumed", "stopped"]
    assert [h["action"] for h in heard] == ["prescribed", "held", "resumed", "stopped"]


def test_cancelling_is_only_for_unverified_prescriptions(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    pharmacist = support.user(db_session, "pharmacist")
    drug = factories.drug(db_session)
    rx = support.write(db_session, doctor, factories.patient(db_session), drug)
    verification.verify(db_session, pharmacist, rx.id, rx.version)
    with pytest.raises(DomainError):
        prescribing.change_status(db_session, doctor, rx.id, rx.version, "cancelled", "Wrong patient")
    other = support.write(db_session, doctor, factories.patient(db_session), drug)
    prescribing.change_status(db_session, doctor, other.id, other.version, "cancelled", "Wrong patient")
    assert other.status == "cancelled"


def test_finished_courses_complete(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    rx = support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session))
    assert prescribing.complete_finished(db_session, SYSTEM, clock.now() + timedelta(days=6)) >= 1
    assert rx.status == "completed"


def test_only_doctors_prescribe_and_nurses_see_only_their_wards(app: Any, db_session: Any) -> None:
    nurse = support.user(db_session, "nurse")
    p = factories.patient(db_session)
    with pytest.raises(Forbidden):
        support.write(db_session, nurse, p, factories.drug(db_session))
    with pytest.raises(Forbidden):
        prescribing.patient_medicines(db_session, nurse, p.id)  # not on her wards


def test_only_verified_active_inpatient_prescriptions_reach_the_ward(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    pharmacist = support.user(db_session, "pharmacist")
    p = factories.admitted(db_session, factories.ward(db_session))
    drug = factories.drug(db_session)
    pending = support.write(db_session, doctor, p, drug)
    verified = support.write(db_session, doctor, p, factories.drug(db_session, generic_name="ibuprofen",
                                                                  drug_class="nsaids"), dose="400")
    held = support.write(db_session, doctor, p, factories.drug(db_session, generic_name="naproxen",
                                                              drug_class="nsaids"), dose="500",
                         overrides={})
    for rx in (verified, held):
        verification.verify(db_session, pharmacist, rx.id, rx.version)
    prescribing.change_status(db_session, doctor, held.id, held.version, "held", "Bleeding risk")
    assert pending.encounter_id is not None
    assert [r.id for r in prescribing.verified_inpatient_prescriptions(db_session, pending.encounter_id)] == [verified.id]


def test_the_outpatient_supply_is_counted_exactly_in_stock_units(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    rx = support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session), dose="400")
    assert rx.quantity == 12  # 0.8 tablet × 3 a day × 5 days
    two = support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session),
                        dose="2", dose_unit="tablet", frequency="BID", duration_days=3,
                        overrides={"max_dose": "Loading"})
    assert two.quantity == 12
