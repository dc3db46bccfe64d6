"""The printed prescription: what the pharmacy and the patient read on it, the barcode the
pharmacy scans, who may print it, and reprints counted and marked."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import Forbidden, NotFound
from app.domain.patients.models import Allergy
from app.domain.prescribing import documents
from tests import factories, pdf_tools


def _flat(pdf: bytes) -> str:
    return " ".join(pdf_tools.text(pdf).split())


def _prints(db_session: Any) -> list[dict[str, Any]]:
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.prescription")
                              .order_by(AuditEvent.seq))
    return [json.loads(r.after or "{}") for r in rows]


@pytest.fixture()
def written(db_session: Any, make_user: Any) -> Any:
    p = factories.patient(db_session, family="Okonkwo", given="Adaeze", address_line="12 Long Lane",
                          city="Leeds", postcode="LS1 4AB")
    db_session.add(Allergy(patient_id=p.id, substance="Penicillin", reaction="rash", severity="severe"))
    doctor = make_user("doctor", username="dr_ade")
    d = factories.drug(db_session, name="Paracetamol 500 MG Oral Tablet", generic_name="paracetamol",
                       drug_class="analgesics")
    return factories.verified_prescription(
        db_session, p, d, prescriber=doctor, dose=1000, frequency="QID", prn=True,
        prn_min_interval_minutes=240, prn_max_daily_doses=4, indication="pain", quantity=32,
        duration_days=5, instructions="Do not take with other paracetamol")


def test_the_sheet_has_header_banner_drug_prescriber_and_a_scannable_number(app: Any, db_session: Any, written: Any) -> None:
    doctor = written_prescriber(db_session, written)
    with app.test_request_context():
        printout = documents.print_prescription(db_session, doctor, written.id)
    text = _flat(printout.pdf)
    for expected in ("Infirmary General Hospital", "Prescription", "OKONKWO, Adaeze",
                     f"MRN {written.patient.mrn}", "Born 17 May 1980 (age", "Female",
                     "12 Long Lane, Leeds, LS1 4AB", "Allergies: Penicillin (rash, severe)",
                     "Paracetamol 500 MG Oral Tablet", "1000 mg", "oral", "QID (four times a day)",
                     "32 tablets", "5 days", "for pain; at least 4 hours between doses; at most 4 "
                     "doses in 24 hours", "Do not take with other paracetamol",
                     "Take TWO tablets FOUR times a day when required for pain for 5 days.",
                     "Prescriber: Dr_Ade", f"Prescription {written.number}"):
        assert expected in text, expected
    assert "REPRINT" not in text
    assert ("Code128", written.number) in pdf_tools.barcodes(printout.pdf, dpi=200)
    assert pdf_tools.page_size_mm(printout.pdf) == pytest.approx((210, 297), abs=0.5)
    assert printout.filename == f"prescription-{written.number}.pdf"


def written_prescriber(db_session: Any, rx: Any) -> Any:
    from app.domain.identity.models import User

    return db_session.get(User, rx.prescriber_id)


def test_a_second_print_is_a_marked_reprint(app: Any, db_session: Any, make_user: Any, written: Any) -> None:
    pharmacist = make_user("pharmacist")
    with app.test_request_context():
        documents.print_prescription(db_session, pharmacist, written.id)
        again = documents.print_prescription(db_session, pharmacist, written.id)
    assert "REPRINT (copy 2)" in _flat(again.pdf)
    assert again.filename == f"prescription-{written.number}-reprint-2.pdf"
    assert [(p["copy"], p["reprint"]) for p in _prints(db_session)] == [(1, False), (2, True)]


def test_together_prints_the_same_days_active_prescriptions_of_the_same_prescriber(app: Any, db_session: Any, make_user: Any, written: Any) -> None:
    doctor = written_prescriber(db_session, written)
    p = written.patient
    same = factories.verified_prescription(db_session, p, factories.drug(db_session, name="Ibuprofen 200 MG Oral Tablet"),
                                           prescriber=doctor)
    stopped = factories.verified_prescription(db_session, p, factories.drug(db_session, name="Codeine 30 MG Oral Tablet"),
                                              prescriber=doctor, status="stopped")
    yesterday = factories.verified_prescription(db_session, p, factories.drug(db_session, name="Senna 7.5 MG Oral Tablet"),
                                                prescriber=doctor, created_at=clock.now() - timedelta(days=2))
    other = factories.verified_prescription(db_session, p, factories.drug(db_session, name="Omeprazole 20 MG Oral Capsule"))
    with app.test_request_context():
        alone = _flat(documents.print_prescription(db_session, doctor, written.id).pdf)
        sheet = _flat(documents.print_prescription(db_session, doctor, same.id, together=True).pdf)
    assert "Ibuprofen" not in alone
    assert "Paracetamol" in sheet and "Ibuprofen" in sheet
    assert "Codeine" not in sheet and "Senna" not in sheet and "Omeprazole" not in sheet
    assert "REPRINT (copy 2)" in sheet  # the paracetamol was printed once already
    rows = _prints(db_session)
    assert [(r["number"], r["copy"]) for r in rows] == [
        (written.number, 1), (written.number, 2), (same.number, 1)]
    assert rows[-1]["sheet"] == [written.number, same.number]
    assert {stopped.number, yesterday.number, other.number}.isdisjoint(rows[-1]["sheet"])


def test_only_prescribers_and_pharmacists_who_see_the_patient_may_print(app: Any, db_session: Any, make_user: Any, written: Any) -> None:
    w = factories.ward(db_session)
    with app.test_request_context():
        with pytest.raises(Forbidden):
            documents.print_prescription(db_session, make_user("nurse", ward_ids=[w.id]), written.id)
        with pytest.raises(Forbidden):
            documents.print_prescription(db_session, make_user("reception"), written.id)
        with pytest.raises(NotFound):
            documents.print_prescription(db_session, make_user("doctor"), written.id + 1000)
    assert _prints(db_session) == []
