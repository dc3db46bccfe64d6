"""Recording doses: outcomes and reasons, each refusal, scans, witnesses, PRN limits,
corrections, and the figures the bed board and the handover read."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import audit, clock, events
from app.core.errors import Conflict, DomainError, Forbidden
from app.domain.administration import services
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.dispensary import gs1
from tests import factories
from tests.domain.administration.builders import prescription, stay

NOW = datetime(2026, 6, 10, 7, 0, tzinfo=UTC)  # 08:00 BST
NINE = NOW + timedelta(hours=1)  # 09:00 BST: the QD/BID/TID dose


def first_dose(session: Any, rx: Any) -> ScheduledDose:
    dose = session.scalar(select(ScheduledDose).where(ScheduledDose.prescription_id == rx.id)
                          .order_by(ScheduledDose.due_at).limit(1))
    assert dose is not None
    return dose


@pytest.fixture()
def setup(db_session: Any) -> Any:
    s = stay(db_session)
    rx = prescription(db_session, s, NOW, frequency="TID")
    return s, rx, first_dose(db_session, rx)


def test_given_is_recorded_audited_and_announced(db_session: Any, setup: Any) -> None:
    s, rx, dose = setup
    heard: list[dict[str, Any]] = []

    def listen(sender: Any, **kw: Any) -> None:
        heard.append(kw)

    events.administered.connect(listen)
    try:
        with clock.freeze(NINE):
            adm = services.record_dose(db_session, s.nurse, dose.id, "given")
    finally:
        events.administered.disconnect(listen)
    assert dose.status == "given"
    assert adm.outcome == "given" and adm.recorded_by_id == s.nurse.id and adm.dose == rx.dose
    assert heard == [{"administration_id": adm.id, "prescription_id": rx.id,
                      "patient_id": s.patient.id, "encounter_id": s.encounter.id,
                      "drug_id": s.drug.id, "outcome": "given", "scheduled_dose_id": dose.id}]
    row = db_session.scalar(select(audit.AuditEvent).where(
        audit.AuditEvent.action == "medication.administration_recorded"))
    assert row is not None and row.patient_id == s.patient.id


@pytest.mark.parametrize("outcome", ["held", "refused", "missed", "not_available"])
def test_other_outcomes_need_a_reason(db_session: Any, setup: Any, outcome: str) -> None:
    s, _, dose = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, outcome)
    assert exc.value.field == "reason"
    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, dose.id, outcome, "Patient vomiting")
    assert adm.reason == "Patient vomiting" and dose.status == outcome


def test_a_second_recording_of_the_same_dose_is_a_conflict_naming_the_first(db_session: Any,
                                                                             setup: Any) -> None:
    s, _, dose = setup
    other = factories.staff(db_session, "nurse", [s.ward.id], name="Olu Other")
    with clock.freeze(NINE):
        services.record_dose(db_session, other, dose.id, "given")
        with pytest.raises(Conflict) as exc:
            services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "Olu Other" in exc.value.message and "given" in exc.value.message


def test_a_stopped_prescription_is_refused(db_session: Any, setup: Any) -> None:
    s, rx, dose = setup
    rx.status = "stopped"
    rx.status_reason = "Rash"
    db_session.flush()
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "stopped (Rash)" in exc.value.message


def test_a_held_prescription_is_refused(db_session: Any, setup: Any) -> None:
    s, rx, dose = setup
    rx.status = "on-hold"
    db_session.flush()
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "on hold" in exc.value.message


def test_a_discharged_patient_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    s.encounter.status = "finished"
    db_session.flush()
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "discharged" in exc.value.message


def test_a_withdrawn_dose_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    dose.status = "withdrawn"
    db_session.flush()
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "withdrawn" in exc.value.message


def test_a_nurse_of_another_ward_may_not_record(db_session: Any, setup: Any) -> None:
    _, _, dose = setup
    elsewhere = factories.staff(db_session, "nurse", [factories.ward(db_session).id])
    with clock.freeze(NINE), pytest.raises(Forbidden):
        services.record_dose(db_session, elsewhere, dose.id, "given")


def test_a_doctor_may_not_record_doses(db_session: Any, setup: Any) -> None:
    _, _, dose = setup
    with clock.freeze(NINE), pytest.raises(Forbidden):
        services.record_dose(db_session, factories.staff(db_session, "doctor"), dose.id, "given")


def test_a_future_time_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given", occurred_at=NINE + timedelta(hours=1))
    assert exc.value.field == "occurred_at"


# --- scans ----------------------------------------------------------------------------------

def test_the_right_wristband_and_pack_are_kept_on_the_record(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    code = gs1.element_string(s.drug.pack_gtin, date(2027, 1, 31), "LOT7")
    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, dose.id, "given",
                                   wristband=f"]C0{s.patient.mrn}", product=code)
    assert adm.wristband_scanned and adm.product_scanned
    assert adm.batch == "LOT7" and adm.expiry == date(2027, 1, 31)


def test_another_patients_wristband_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    other = factories.patient(db_session, family="Other")
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given", wristband=other.mrn)
    assert exc.value.field == "wristband" and "Wrong patient!" in exc.value.message
    assert dose.status == "due"


def test_a_pack_of_another_drug_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    other = factories.drug(db_session, name="Metformin 500 MG Oral Tablet")
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given",
                             product=gs1.element_string(other.pack_gtin, date(2027, 1, 1), "X1"))
    assert exc.value.field == "product" and "Metformin" in exc.value.message


def test_an_expired_pack_is_refused(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given",
                             product=gs1.element_string(s.drug.pack_gtin, date(2026, 5, 31), "OLD"))
    assert exc.value.field == "product" and "expired on 31 May 2026" in exc.value.message


def test_an_unreadable_pack_code_is_refused_beside_the_field(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given", product="hello")
    assert exc.value.field == "product"


# --- controlled drugs -----------------------------------------------------------------------

def test_a_controlled_drug_needs_a_witness_who_is_someone_else(db_session: Any) -> None:
    s = stay(db_session, name="Oxycodone 5 MG Oral Tablet", controlled=True, dose_unit="mg",
             dose_per_stock_unit=5, max_single_dose=None, max_daily_dose=None)
    rx = prescription(db_session, s, NOW, frequency="QID", dose=5)
    dose = first_dose(db_session, rx)
    with clock.freeze(NINE):
        with pytest.raises(DomainError) as exc:
            services.record_dose(db_session, s.nurse, dose.id, "given")
        assert exc.value.field == "witness"
        with pytest.raises(DomainError) as exc:
            services.record_dose(db_session, s.nurse, dose.id, "given", witness=s.nurse)
        assert "someone other than you" in exc.value.message
        with pytest.raises(DomainError):
            services.record_dose(db_session, s.nurse, dose.id, "given",
                                 witness=factories.staff(db_session, "reception"))
        witness = factories.staff(db_session, "charge_nurse", [s.ward.id])
        adm = services.record_dose(db_session, s.nurse, dose.id, "given", witness=witness)
    assert adm.witness_id == witness.id


def test_a_controlled_dose_held_needs_no_witness(db_session: Any) -> None:
    s = stay(db_session, name="Morphine 10 MG Oral Tablet", controlled=True)
    rx = prescription(db_session, s, NOW, frequency="BID")
    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, first_dose(db_session, rx).id, "held",
                                   "Drowsy")
    assert adm.witness_id is None


# --- PRN ------------------------------------------------------------------------------------

def prn(session: Any, s: Any) -> Any:
    return prescription(session, s, NOW - timedelta(days=1), frequency="PRN", prn=True,
                        prn_min_interval_minutes=240, prn_max_daily_doses=2, dose=1000)


def test_prn_minimum_interval_is_enforced_with_the_next_time(db_session: Any) -> None:
    s = stay(db_session)
    rx = prn(db_session, s)
    with clock.freeze(NOW):
        first = services.record_prn(db_session, s.nurse, rx.id)
        assert first.dose == rx.dose and first.scheduled_dose_id is None
    with clock.freeze(NOW + timedelta(hours=2)), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, rx.id)
    assert "240 minutes" in exc.value.message and "12:00" in exc.value.message


def test_prn_daily_maximum_is_enforced_over_24_hours(db_session: Any) -> None:
    s = stay(db_session)
    rx = prn(db_session, s)
    with clock.freeze(NOW):
        services.record_prn(db_session, s.nurse, rx.id)
    with clock.freeze(NOW + timedelta(hours=5)):
        services.record_prn(db_session, s.nurse, rx.id)
    with clock.freeze(NOW + timedelta(hours=10)), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, rx.id)
    assert "most in 24 hours is 2" in exc.value.message and "08:00" in exc.value.message
    with clock.freeze(NOW + timedelta(hours=24)):
        services.record_prn(db_session, s.nurse, rx.id)


def test_prn_dose_above_the_prescribed_is_refused(db_session: Any) -> None:
    s = stay(db_session)
    rx = prn(db_session, s)
    with clock.freeze(NOW), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, rx.id, "1500")
    assert exc.value.field == "dose" and "1000 mg" in exc.value.message


def test_prn_of_a_scheduled_prescription_is_refused(db_session: Any, setup: Any) -> None:
    s, rx, _ = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, rx.id)
    assert "from the round" in exc.value.message


# --- corrections ----------------------------------------------------------------------------

def test_entered_in_error_reopens_the_dose_and_keeps_the_record(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, dose.id, "given")
        with pytest.raises(DomainError):
            services.mark_entered_in_error(db_session, s.nurse, adm.id, "")
        services.mark_entered_in_error(db_session, s.nurse, adm.id, "Wrong patient's chart")
        assert dose.status == "due"
        assert adm.status == "entered-in-error" and adm.error_reason == "Wrong patient's chart"
        again = services.record_dose(db_session, s.nurse, dose.id, "refused", "Declined")
        with pytest.raises(Conflict):
            services.mark_entered_in_error(db_session, s.nurse, adm.id, "twice")
    records = list(db_session.scalars(select(Administration).where(
        Administration.scheduled_dose_id == dose.id)))
    assert {r.id for r in records} == {adm.id, again.id}


def test_entered_in_error_after_the_stop_leaves_the_dose_withdrawn(db_session: Any, setup: Any) -> None:
    s, rx, dose = setup
    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, dose.id, "given")
        rx.status = "stopped"
        db_session.flush()
        services.mark_entered_in_error(db_session, s.nurse, adm.id, "Recorded twice")
    assert dose.status == "withdrawn"


# --- reading for the board and the handover -------------------------------------------------

def test_board_counts_due_now_and_overdue_per_stay(db_session: Any) -> None:
    s = stay(db_session)
    prescription(db_session, s, NOW - timedelta(hours=6), frequency="Q4H",
                 start_at=NOW - timedelta(hours=6))
    # Q4H local 02,06,10 BST -> 01,05,09 UTC. Planned from 01:00 UTC (NOW-6h).
    bystander = stay(db_session)
    at = NOW + timedelta(hours=2, minutes=30)  # 09:30 UTC: 09:00 due now, 05:00 and 01:00 overdue
    counts = services.board_counts(db_session, [s.encounter.id, bystander.encounter.id, 999999], at)
    assert counts[s.encounter.id] == services.DoseCounts(due_now=1, overdue=2)
    assert counts[bystander.encounter.id] == services.DoseCounts(0, 0)
    assert counts[999999] == services.DoseCounts(0, 0)


def test_board_counts_leave_out_recorded_doses_and_stopped_prescriptions(db_session: Any,
                                                                        setup: Any) -> None:
    s, rx, dose = setup
    with clock.freeze(NINE):
        assert services.board_counts(db_session, [s.encounter.id], NINE)[s.encounter.id].due_now == 1
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert services.board_counts(db_session, [s.encounter.id], NINE)[s.encounter.id].due_now == 0
    rx.status = "stopped"
    db_session.flush()
    later = NINE + timedelta(hours=6)
    assert services.board_counts(db_session, [s.encounter.id], later)[s.encounter.id] == \
        services.DoseCounts(0, 0)


def test_doses_for_handover_are_plain_json(db_session: Any, setup: Any) -> None:
    import json

    s, _, _ = setup
    at = NOW + timedelta(hours=3)  # 11:00 BST: 09:00 overdue, 13:00 and 17:00 next
    facts = services.doses_for_handover(db_session, s.encounter.id, at)
    json.dumps(facts)
    assert [d["time"] for d in facts["overdue"]] == ["09:00"]
    assert [d["time"] for d in facts["due_next_shift"]] == ["13:00", "17:00"]
    assert facts["overdue"][0]["drug"] == s.drug.name and facts["overdue"][0]["dose"] == "500 mg"


# --- review fixes ---------------------------------------------------------------------------

def _replace(session: Any, rx: Any) -> Any:
    """What a verified change leaves behind: the old prescription stopped, a new row replacing
    it (replaces_id), verified."""
    rx.status = "stopped"
    new = factories.inpatient_prescription(session, rx.patient, rx.drug, frequency=rx.frequency,
                                           prn=rx.prn, start_at=rx.start_at, duration_days=None,
                                           prn_min_interval_minutes=rx.prn_min_interval_minutes,
                                           prn_max_daily_doses=rx.prn_max_daily_doses,
                                           dose=rx.dose, replaces_id=rx.id)
    session.flush()
    return new


def test_prn_limits_count_the_doses_of_the_prescription_it_replaced(db_session: Any) -> None:
    s = stay(db_session)
    rx = prn(db_session, s)
    with clock.freeze(NOW):
        services.record_prn(db_session, s.nurse, rx.id)
    new = _replace(db_session, rx)
    with clock.freeze(NOW + timedelta(hours=1)), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, new.id)
    assert "240 minutes" in exc.value.message and "12:00" in exc.value.message
    with clock.freeze(NOW + timedelta(hours=5)):
        services.record_prn(db_session, s.nurse, new.id)
    with clock.freeze(NOW + timedelta(hours=10)), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, new.id)
    assert "most in 24 hours is 2" in exc.value.message
    assert services.next_prn_at(db_session, new, NOW + timedelta(hours=10)) == NOW + timedelta(hours=24)


def test_prn_limits_count_another_prn_prescription_of_the_same_drug_on_the_stay(db_session: Any) -> None:
    s = stay(db_session)
    first = prn(db_session, s)
    second = prn(db_session, s)
    with clock.freeze(NOW):
        services.record_prn(db_session, s.nurse, first.id)
    with clock.freeze(NOW + timedelta(hours=1)), pytest.raises(DomainError):
        services.record_prn(db_session, s.nurse, second.id)
    nxt = services.next_prn_many(db_session, [first, second], NOW + timedelta(hours=1))
    assert nxt == {first.id: NOW + timedelta(hours=4), second.id: NOW + timedelta(hours=4)}


def test_a_dose_cannot_be_given_before_its_due_window(db_session: Any, setup: Any) -> None:
    s, _, dose = setup  # due 09:00 BST; the window is DOSE_OVERDUE_MINUTES (60) either side
    thirteen = dose.due_at + timedelta(hours=4)
    later = db_session.scalar(select(ScheduledDose).where(ScheduledDose.due_at == thirteen))
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, later.id, "given")
    assert exc.value.message.startswith("This dose is not due until 13:00; it may be recorded from 12:00")
    assert exc.value.field == "outcome" and later.status == "due"
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, later.id, "given", occurred_at=NINE)
    assert exc.value.field == "occurred_at" and "not due until 13:00" in exc.value.message
    with clock.freeze(thirteen - timedelta(minutes=50)):
        assert services.record_dose(db_session, s.nurse, later.id, "given").outcome == "given"


def test_far_times_get_the_right_message(db_session: Any, setup: Any) -> None:
    s, _, dose = setup
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given",
                             occurred_at=NINE + timedelta(days=300))
    assert "time still to come" in exc.value.message
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given",
                             occurred_at=NINE - timedelta(days=2))
    assert "at most 24 hours back" in exc.value.message
    tomorrow = db_session.scalar(select(ScheduledDose).where(ScheduledDose.due_at == dose.due_at + timedelta(days=1)))
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:  # an hour back is no late entry
        services.record_dose(db_session, s.nurse, tomorrow.id, "given",
                             occurred_at=NINE - timedelta(hours=1))
    assert "not due until 11 Jun 09:00" in exc.value.message and "late entry" not in exc.value.message


def test_a_dose_reopened_by_a_correction_is_alerted_again(db_session: Any, setup: Any) -> None:
    from app.domain.administration import reminders
    from app.domain.escalation.models import Alert

    s, _, dose = setup
    with clock.freeze(NINE + timedelta(minutes=61)):
        reminders.escalate_overdue(db_session)
    with clock.freeze(NINE + timedelta(minutes=70)):
        adm = services.record_dose(db_session, s.nurse, dose.id, "given")
    first = db_session.scalar(select(Alert).where(Alert.subject_key == f"dose:{dose.id}"))
    assert first is not None and first.status == "resolved"
    with clock.freeze(NINE + timedelta(minutes=80)):
        services.mark_entered_in_error(db_session, s.nurse, adm.id, "Given to the wrong patient")
    assert dose.status == "due" and dose.reminded_at is None and dose.overdue_alerted_at is None
    with clock.freeze(NINE + timedelta(minutes=81)):
        assert reminders.escalate_overdue(db_session) == 1
    again = db_session.scalar(select(Alert).where(Alert.subject_key == f"dose:{dose.id}:1"))
    assert again is not None and again.status == "open"
    with clock.freeze(NINE + timedelta(minutes=90)):
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert again.status == "resolved"


def test_no_dose_after_the_course_ends_or_before_it_starts(db_session: Any) -> None:
    s = stay(db_session)
    ended = prescription(db_session, s, NOW - timedelta(days=1), frequency="PRN", prn=True,
                         prn_min_interval_minutes=60, prn_max_daily_doses=4, dose=1000,
                         stop_at=NOW - timedelta(hours=1))
    with clock.freeze(NOW), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, ended.id)
    assert "ended at 10 Jun 07:00" in exc.value.message
    later = prescription(db_session, s, NOW + timedelta(hours=3), frequency="PRN", prn=True,
                         prn_min_interval_minutes=60, prn_max_daily_doses=4, dose=1000)
    with clock.freeze(NOW), pytest.raises(DomainError) as exc:
        services.record_prn(db_session, s.nurse, later.id)
    assert "starts at 10 Jun 11:00" in exc.value.message
    # A scheduled dose whose prescription was cut short (stop_at moved before it).
    rx = prescription(db_session, s, NOW, frequency="TID", drug=factories.drug(db_session, name="Cefalexin"))
    dose = first_dose(db_session, rx)
    rx.stop_at = dose.due_at - timedelta(minutes=30)
    db_session.flush()
    with clock.freeze(NINE), pytest.raises(DomainError) as exc:
        services.record_dose(db_session, s.nurse, dose.id, "given")
    assert "ended at" in exc.value.message and dose.status == "due"


def test_entered_in_error_is_announced_for_billing_and_the_bed_board(db_session: Any, setup: Any) -> None:
    s, rx, dose = setup
    heard: list[dict[str, Any]] = []

    def listen(sender: Any, **kw: Any) -> None:
        heard.append(kw)

    with clock.freeze(NINE):
        adm = services.record_dose(db_session, s.nurse, dose.id, "given")
        events.administration_voided.connect(listen)
        try:
            services.mark_entered_in_error(db_session, s.nurse, adm.id, "Wrong chart")
        finally:
            events.administration_voided.disconnect(listen)
    assert heard == [{"administration_id": adm.id, "prescription_id": rx.id,
                      "patient_id": s.patient.id, "encounter_id": s.encounter.id,
                      "drug_id": s.drug.id, "outcome": "given"}]
