"""Dispensing labels: what the patient reads on the pack, what the pharmacy scans, and the
record of every print (reprints marked)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.errors import Conflict, Forbidden, NotFound
from app.domain.dispensary import labels
from app.domain.dispensary.labels import Batch
from tests import factories, pdf_tools


def _prints(db_session: Any) -> list[dict[str, Any]]:
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "print.dispensing_label")
                              .order_by(AuditEvent.seq))
    return [json.loads(r.after or "{}") for r in rows]


@pytest.fixture()
def supply(db_session: Any) -> Any:
    p = factories.patient(db_session, family="Okonkwo", given="Adaeze")
    d = factories.drug(db_session)
    rx = factories.verified_prescription(db_session, p, d, dose=1000, frequency="PRN", prn=True,
                                         prn_min_interval_minutes=240, prn_max_daily_doses=4,
                                         indication="pain", quantity=30, duration_days=None)
    b1 = factories.batch(db_session, d, quantity=10, expiry=date(2027, 3, 31), batch_number="LOT-A1")
    b2 = factories.batch(db_session, d, quantity=50, expiry=date(2028, 1, 15), batch_number="LOT-B2")
    return factories.dispensed(db_session, rx, lines=[(b1, 10), (b2, 20)])


def test_a_label_says_whose_what_how_and_which_batch(app: Any, db_session: Any, make_user: Any, supply: Any) -> None:
    pharmacist = make_user("pharmacist")
    with app.test_request_context():
        printout = labels.print_dispensing_label(db_session, pharmacist, supply.id)
    text = " ".join(pdf_tools.text(printout.pdf).split())
    for expected in ("OKONKWO, Adaeze", "Amoxicillin 500 MG Oral Tablet", "Take TWO tablets when "
                     "required for pain.", "No more than 8 tablets in 24 hours.", "Qty 30 tablets",
                     "LOT-A1 · Exp 31 Mar 2027", "LOT-B2 · Exp 15 Jan 2028", "Main Pharmacy",
                     supply.number):
        assert expected in text, expected
    assert "REPRINT" not in text
    width, height = pdf_tools.page_size_mm(printout.pdf)
    assert (round(width), round(height)) == (70, 37)
    assert ("Code128", supply.number) in pdf_tools.barcodes(printout.pdf, dpi=600)
    assert printout.filename == f"label-{supply.number}.pdf"
    assert supply.label_prints == 1
    assert _prints(db_session) == [{"dispensing": supply.number, "format": "label", "copy": 1,
                                    "reprint": False, "labels": 1, "label_size": "70mm 37mm",
                                    "bytes": len(printout.pdf)}]


def test_every_print_after_the_first_is_a_reprint(app: Any, db_session: Any, make_user: Any, supply: Any) -> None:
    pharmacist = make_user("pharmacist")
    with app.test_request_context():
        labels.print_dispensing_label(db_session, pharmacist, supply.id)
        second = labels.print_dispensing_label(db_session, pharmacist, supply.id)
        sheet = labels.print_label_sheet(db_session, pharmacist, supply.id)
    assert "REPRINT 2" in pdf_tools.text(second.pdf)
    assert pdf_tools.text(sheet.pdf).count("REPRINT 3") == 3  # the bag's label and two packs'
    assert [(p["copy"], p["reprint"], p["format"]) for p in _prints(db_session)] == [
        (1, False, "label"), (2, True, "label"), (3, True, "sheet")]
    assert supply.label_prints == 3
    assert second.filename == f"label-{supply.number}-reprint-2.pdf"


def test_a_sheet_has_the_bags_label_then_one_per_pack(app: Any, db_session: Any, make_user: Any, supply: Any) -> None:
    pharmacist = make_user("pharmacist")
    with app.test_request_context():
        sheet = labels.print_label_sheet(db_session, pharmacist, supply.id)
    text = " ".join(pdf_tools.text(sheet.pdf).split())
    # 10 tablets of LOT-A1 and 20 of LOT-B2 in packs of 21: one pot each.
    assert "Bag: all 2 packs" in text and "Pack 1 of 2" in text and "Pack 2 of 2" in text
    assert text.count("OKONKWO, Adaeze") == 3
    assert "Qty 10 tablets · Pack 1 of 2" in text and "Qty 20 tablets · Pack 2 of 2" in text
    assert "Qty 30 tablets · Bag: all 2 packs" in text
    assert pdf_tools.page_size_mm(sheet.pdf) == pytest.approx((210, 297), abs=0.5)


def test_packs_follow_the_drugs_pack_size() -> None:
    lot = Batch("L1", date(2030, 1, 1), 50)
    made = labels.sheet_labels([lot], pack_size=21)
    assert [(label.quantity, label.pack) for label in made] == [
        (50, "Bag: all 3 packs"), (21, "Pack 1 of 3"), (21, "Pack 2 of 3"), (8, "Pack 3 of 3")]
    assert [label.pack for label in labels.sheet_labels([lot], pack_size=1)] == [
        "Bag: all 1 pack", "Pack 1 of 1"]


def test_long_and_cjk_names_shrink_to_fit_the_label() -> None:
    short = labels.label_geometry("70mm 37mm", "LI, Wei", "Drug", "Take ONE tablet.", "50000001")
    long = labels.label_geometry("70mm 37mm", "WOLFESCHLEGELSTEINHAUSENBERGERDORFF, Hubert Blaine "
                                 "Maximilian Alexander", "Drug", "Take ONE tablet.", "50000001")
    cjk = labels.label_geometry("70mm 37mm", "欧阳, 娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜娜", "Drug",
                                "Take ONE tablet.", "50000001")
    assert short.patient_pt > long.patient_pt >= 6 and short.patient_pt > cjk.patient_pt >= 6


def test_a_pharmacist_needs_sight_of_the_patient_and_others_are_refused(app: Any, db_session: Any, make_user: Any, supply: Any) -> None:
    nurse = make_user("nurse")
    with app.test_request_context():
        with pytest.raises(Forbidden):
            labels.print_dispensing_label(db_session, nurse, supply.id)
        with pytest.raises(NotFound):
            labels.print_label_sheet(db_session, make_user("pharmacist"), supply.id + 999)
    assert _prints(db_session) == [] and supply.label_prints == 0


def test_a_returned_dispensing_prints_no_label(app: Any, db_session: Any, make_user: Any, supply: Any) -> None:
    supply.status = "returned"
    with app.test_request_context(), pytest.raises(Conflict):
        labels.print_dispensing_label(db_session, make_user("pharmacist"), supply.id)
