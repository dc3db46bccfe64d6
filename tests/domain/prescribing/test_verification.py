"""The pharmacist's worklist: verify, query back to the prescriber, reject."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.errors import DomainError, Forbidden
from app.core.security import SYSTEM
from app.domain.identity import services as identity
from app.domain.notifications.models import Notification
from app.domain.prescribing import services as prescribing
from app.domain.prescribing import verification
from tests import factories
from tests.domain.prescribing import support


def _setup(db_session: Any) -> tuple[Any, Any, Any, Any]:
    return (support.user(db_session, "doctor"), support.user(db_session, "pharmacist"),
            factories.patient(db_session), factories.drug(db_session))


def test_the_worklist_puts_urgent_first_then_the_oldest(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    t0 = clock.now()
    with clock.freeze(t0) as traveller:
        old = support.write(db_session, doctor, p, drug)
        traveller.advance(minutes=5)
        newer = support.write(db_session, doctor, factories.patient(db_session), drug)
        traveller.advance(minutes=5)
        urgent = support.write(db_session, doctor, factories.patient(db_session), drug, priority="urgent")
    ids = [w.prescription.id for w in verification.worklist(db_session, pharmacist)]
    assert [i for i in ids if i in {old.id, newer.id, urgent.id}] == [urgent.id, old.id, newer.id]


def test_verifying_signs_it_off_and_it_leaves_the_worklist(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug)
    verification.verify(db_session, pharmacist, rx.id, rx.version)
    assert (rx.verification, rx.verified_by_id) == ("verified", pharmacist.id) and rx.verified_at is not None
    assert rx.id not in [w.prescription.id for w in verification.worklist(db_session, pharmacist)]
    assert prescribing.versions(db_session, rx.id)[-1].action == "verified"
    # The history reads as people do: the pharmacist's name and the hospital's clock.
    _, changes = prescribing.history(db_session, rx.id)[-1]
    shown = {name: after for name, _before, after in changes}
    assert shown["verified_by_id"] == pharmacist.full_name
    assert shown["verified_at"] == clock.to_local(rx.verified_at, "Europe/London").strftime("%d %b %Y %H:%M")
    with pytest.raises(DomainError):
        verification.verify(db_session, pharmacist, rx.id, rx.version)


def test_a_pharmacist_cannot_verify_their_own_prescription(app: Any, db_session: Any) -> None:
    dual, _ = identity.create_user(db_session, SYSTEM, username="dualrole", full_name="Dual Role",
                                   roles=["doctor", "pharmacist"], ward_ids=[], password="correct horse battery")
    rx = support.write(db_session, dual, factories.patient(db_session), factories.drug(db_session))
    with pytest.raises(Forbidden):
        verification.verify(db_session, dual, rx.id, rx.version)
    verification.verify(db_session, support.user(db_session, "pharmacist"), rx.id, rx.version)


_duals = itertools.count(1)


def _dual(db_session: Any) -> Any:
    """A doctor who is also a pharmacist."""
    user, _ = identity.create_user(db_session, SYSTEM, username=f"rxdual{next(_duals)}", full_name="Dual Role",
                                   roles=["doctor", "pharmacist"], ward_ids=[], password="correct horse battery")
    return user


def test_whoever_amended_or_answered_it_cannot_verify_query_or_reject_it(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    amended = support.write(db_session, doctor, p, drug)
    dual = _dual(db_session)
    prescribing.change_prescription(db_session, dual, amended.id, amended.version,
                                    support.order(drug, dose="250"), reason="Renal dose")
    assert amended.prescriber_id == doctor.id  # amended in place: still the colleague's
    for decide in (lambda: verification.verify(db_session, dual, amended.id, amended.version),
                   lambda: verification.query(db_session, dual, amended.id, amended.version, "Why 250?"),
                   lambda: verification.reject(db_session, dual, amended.id, amended.version, "Too low")):
        with pytest.raises(Forbidden, match="wrote or changed"):
            decide()
    assert amended.verification == "pending"
    answered = support.write(db_session, doctor, factories.patient(db_session), drug)
    verification.query(db_session, pharmacist, answered.id, answered.version, "Weight?")
    prescribing.answer_query(db_session, dual, answered.id, answered.version, "72 kg")
    with pytest.raises(Forbidden):
        verification.verify(db_session, dual, answered.id, answered.version)
    verification.verify(db_session, pharmacist, amended.id, amended.version)
    verification.verify(db_session, pharmacist, answered.id, answered.version)
    assert (amended.verification, answered.verification) == ("verified", "verified")


def test_a_query_links_to_the_prescription_page(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug)
    verification.query(db_session, pharmacist, rx.id, rx.version, "Weight?")
    note = db_session.scalar(select(Notification).where(Notification.kind == verification.QUERY_KIND,
                                                        Notification.link.like(f"%/{rx.id}")))
    assert note is not None and note.link == f"/prescribing/prescriptions/{rx.id}"


def test_doctors_cannot_verify(app: Any, db_session: Any) -> None:
    doctor, _, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug)
    with pytest.raises(Forbidden):
        verification.verify(db_session, support.user(db_session, "doctor"), rx.id, rx.version)


def test_a_query_notifies_the_prescriber_and_their_answer_puts_it_back(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug, priority="urgent")
    verification.query(db_session, pharmacist, rx.id, rx.version, "Renal function? Dose seems high.")
    assert rx.verification == "queried"
    note = db_session.scalar(select(Notification).where(Notification.recipient_id == doctor.id,
                                                        Notification.kind == verification.QUERY_KIND))
    assert note is not None and note.priority == "high" and "Renal function" in note.text and rx.number in note.text
    assert rx.id not in [w.prescription.id for w in verification.worklist(db_session, pharmacist)]
    with pytest.raises(DomainError):
        verification.verify(db_session, pharmacist, rx.id, rx.version)
    prescribing.answer_query(db_session, doctor, rx.id, rx.version, "eGFR 85, dose is right")
    [item] = [w for w in verification.worklist(db_session, pharmacist) if w.prescription.id == rx.id]
    assert item.resubmitted and rx.verification == "pending"
    answer = db_session.scalar(select(Notification).where(Notification.recipient_id == pharmacist.id,
                                                          Notification.kind == verification.ANSWER_KIND))
    assert answer is not None and "eGFR 85" in answer.text and answer.priority == "high"


def test_amending_answers_a_query(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug)
    verification.query(db_session, pharmacist, rx.id, rx.version, "Dose?")
    prescribing.change_prescription(db_session, doctor, rx.id, rx.version, support.order(drug, dose="250"))
    assert rx.verification == "pending" and rx.dose == 250
    answer = db_session.scalar(select(Notification).where(Notification.recipient_id == pharmacist.id,
                                                          Notification.kind == verification.ANSWER_KIND))
    assert answer is not None and "amended" in answer.text


def test_rejecting_cancels_it_and_tells_the_prescriber(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug)
    with pytest.raises(DomainError) as caught:
        verification.reject(db_session, pharmacist, rx.id, rx.version, " ")
    assert caught.value.field == "reason"
    verification.reject(db_session, pharmacist, rx.id, rx.version, "Interacts with warfarin")
    assert (rx.status, rx.verification, rx.status_reason) == ("cancelled", "rejected", "Interacts with warfarin")
    note = db_session.scalar(select(Notification).where(Notification.recipient_id == doctor.id,
                                                        Notification.kind == verification.REJECT_KIND))
    assert note is not None and note.priority == "normal"


def test_the_worklist_counts_overrides(app: Any, db_session: Any) -> None:
    doctor, pharmacist, p, drug = _setup(db_session)
    rx = support.write(db_session, doctor, p, drug, dose="1500", overrides={"max_dose": "Loading dose"})
    [item] = [w for w in verification.worklist(db_session, pharmacist) if w.prescription.id == rx.id]
    assert item.overrides == 1 and not item.resubmitted
    assert rx.start_at <= clock.now() + timedelta(seconds=1)
