"""The verification worklist and review: verify, query (the prescriber is notified), reject."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.core import clock
from app.core.security import SYSTEM
from app.domain.notifications.models import Notification
from app.domain.patients import services as patients
from tests import factories
from tests.domain.prescribing import support


def test_the_worklist_shows_urgent_first_with_flags(client: Any, db_session: Any, login_as: Any) -> None:
    doctor = support.user(db_session, "doctor")
    drug = factories.drug(db_session)
    allergic = factories.patient(db_session, family="Zzallergic")
    patients.record_allergy(db_session, SYSTEM, allergic.id, "Penicillin")
    with clock.freeze(clock.now()) as traveller:
        routine = support.write(db_session, doctor, factories.patient(db_session, family="Zzroutine"), drug)
        traveller.advance(minutes=1)
        urgent = support.write(db_session, doctor, allergic, drug, priority="urgent",
                               overrides={"allergy": "Tolerated amoxicillin"})
    db_session.commit()
    login_as("pharmacist")
    html = client.get("/pharmacy/verification").get_data(as_text=True)
    assert html.index(f'id="verify-{urgent.id}"') < html.index(f'id="verify-{routine.id}"')
    row = html[html.index(f'id="verify-{urgent.id}"'):html.index(f'id="verify-{routine.id}"')]
    assert "urgent" in row and "1 override" in row and "allergies" in row and "ZZALLERGIC" in row


def test_the_pharmacist_verifies(client: Any, db_session: Any, login_as: Any) -> None:
    rx = support.write(db_session, support.user(db_session, "doctor"), factories.patient(db_session),
                       factories.drug(db_session))
    db_session.commit()
    pharmacist = login_as("pharmacist")
    review = client.get(f"/pharmacy/verification/{rx.id}").get_data(as_text=True)
    assert rx.number in review and 'id="verify-button"' in review
    done = client.post_form(f"/pharmacy/verification/{rx.id}/verify", {"version": rx.version}, htmx=True)
    assert done.status_code == 200 and done.headers["HX-Redirect"].endswith("/pharmacy/verification")
    db_session.refresh(rx)
    assert rx.verification == "verified" and rx.verified_by_id == pharmacist.id
    assert f'id="verify-{rx.id}"' not in client.get("/pharmacy/verification").get_data(as_text=True)
    again = client.post_form(f"/pharmacy/verification/{rx.id}/verify", {"version": rx.version}, htmx=True)
    assert again.status_code == 422


def test_a_query_needs_a_message_and_reaches_the_prescriber(client: Any, db_session: Any, login_as: Any) -> None:
    doctor = support.user(db_session, "doctor")
    rx = support.write(db_session, doctor, factories.patient(db_session), factories.drug(db_session))
    db_session.commit()
    login_as("pharmacist")
    empty = client.post_form(f"/pharmacy/verification/{rx.id}/query", {"version": rx.version, "message": ""},
                             htmx=True)
    assert empty.status_code == 422 and 'id="message-error"' in empty.get_data(as_text=True)
    sent = client.post_form(f"/pharmacy/verification/{rx.id}/query",
                            {"version": rx.version, "message": "Is 500 mg TID intended for CKD 4?"}, htmx=True)
    assert sent.status_code == 200
    note = db_session.scalar(select(Notification).where(Notification.recipient_id == doctor.id))
    assert note is not None and "CKD 4" in note.text and note.link == f"/prescribing/prescriptions/{rx.id}"


def test_reject_needs_a_reason_and_cancels(client: Any, db_session: Any, login_as: Any) -> None:
    rx = support.write(db_session, support.user(db_session, "doctor"), factories.patient(db_session),
                       factories.drug(db_session))
    db_session.commit()
    login_as("pharmacist")
    empty = client.post_form(f"/pharmacy/verification/{rx.id}/reject", {"version": rx.version, "reason": " "},
                             htmx=True)
    assert empty.status_code == 422 and 'id="reason-error"' in empty.get_data(as_text=True)
    done = client.post_form(f"/pharmacy/verification/{rx.id}/reject",
                            {"version": rx.version, "reason": "Duplicate of outside supply"}, htmx=True)
    assert done.status_code == 200
    db_session.refresh(rx)
    assert (rx.status, rx.verification) == ("cancelled", "rejected")


def test_doctors_and_nurses_have_no_worklist(client: Any, db_session: Any, login_as: Any) -> None:
    login_as("doctor")
    assert client.get("/pharmacy/verification").status_code == 403


def test_a_decision_from_a_junk_version_is_out_of_date(client: Any, db_session: Any, login_as: Any) -> None:
    rx = support.write(db_session, support.user(db_session, "doctor"), factories.patient(db_session),
                       factories.drug(db_session))
    db_session.commit()
    login_as("pharmacist")
    for action, extra in (("verify", {}), ("query", {"message": "Weight?"}), ("reject", {"reason": "Duplicate"})):
        for version in ("x", "", "99999999999999999999"):
            response = client.post_form(f"/pharmacy/verification/{rx.id}/{action}", {"version": version, **extra},
                                        htmx=True)
            assert response.status_code == 409, (action, version)
            assert "out of date" in response.get_data(as_text=True)
    db_session.refresh(rx)
    assert (rx.status, rx.verification) == ("active", "pending")


def test_a_pharmacist_who_amended_a_colleagues_prescription_cannot_verify_it(
        client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session)
    rx = support.write(db_session, support.user(db_session, "doctor"), factories.patient(db_session), drug)
    db_session.commit()
    dual = login_as(["doctor", "pharmacist"])
    changed = client.post_form(f"/prescribing/prescriptions/{rx.id}/change",
                               {"drug_id": drug.id, "dose": "1000", "dose_unit": "mg", "frequency": "TID",
                                "duration_days": "5", "priority": "routine", "version": rx.version}, htmx=True)
    assert changed.status_code == 200
    db_session.refresh(rx)
    assert (rx.dose, rx.prescriber_id == dual.id) == (1000, False)
    review = client.get(f"/pharmacy/verification/{rx.id}").get_data(as_text=True)
    assert "You wrote or changed this prescription" in review and 'id="verify-button"' not in review
    for action, extra in (("verify", {}), ("query", {"message": "Weight?"}), ("reject", {"reason": "Duplicate"})):
        refused = client.post_form(f"/pharmacy/verification/{rx.id}/{action}", {"version": rx.version, **extra},
                                   htmx=True)
        assert refused.status_code == 403, action
        assert "another pharmacist must check it" in refused.get_data(as_text=True)
    db_session.refresh(rx)
    assert rx.verification == "pending" and rx.verified_by_id is None
