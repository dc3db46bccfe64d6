"""The whole pharmacy chain in chromium: a doctor prescribes, a pharmacist verifies it, dispenses
it by scanning the pack's GS1 DataMatrix (typed as its human-readable text, as a scanner acting
as a keyboard would send it), and the dispensing label downloads as a PDF with the right text."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.security import SYSTEM
from app.domain.dispensary.dispensing import main_location_id
from app.domain.dispensary.models import StockBatch
from app.domain.formulary.models import Drug
from app.domain.patients import services as patients
from app.extensions import db
from tests import factories, pdf_tools
from tests.browser.conftest import sign_in

AMOXICILLIN_500 = "308192"  # RxNorm: Amoxicillin 500 MG Oral Tablet (the demo formulary)


def _patient_and_pack(app: Flask) -> tuple[int, str, str]:
    """A patient with no allergies, and the human-readable GS1 text of the pack that FEFO
    sends out first (a fresh batch expiring before anything the demo stocked)."""
    with app.app_context():
        patient = patients.register_patient(db.session, SYSTEM, patients.Demographics(
            family_name="Chainfield", given_names="Dora", birth_date=date(1961, 8, 9),
            sex="female"), check_duplicates=False)
        drug = db.session.scalar(select(Drug).where(Drug.code == AMOXICILLIN_500))
        assert drug is not None, "the demo formulary has amoxicillin 500 mg"
        if drug.pack_gtin is None:
            drug.pack_gtin = "09506000134352"
        main = main_location_id(db.session)
        soonest = db.session.scalar(
            select(StockBatch.expiry).where(StockBatch.drug_id == drug.id, StockBatch.location_id == main,
                                            StockBatch.quantity > 0, StockBatch.expiry >= date.today())
            .order_by(StockBatch.expiry).limit(1))
        # Sooner than (or with) anything usable already on the shelf, so FEFO picks it first.
        expiry = min(soonest or date.max, date.today() + timedelta(days=40))
        batch = factories.batch(db.session, drug, quantity=60, expiry=expiry, batch_number="CHAIN42")
        scan = f"(01){drug.pack_gtin}(17){batch.expiry:%y%m%d}(10){batch.batch_number}"
        db.session.commit()
        ids = (patient.id, scan, batch.batch_number)
        db.session.remove()
    return ids


def test_prescribe_verify_dispense_by_scan_and_download_the_label(page: Page, live_server: str,
                                                                  live_app: Flask, tmp_path: Path) -> None:
    patient_id, scan, batch_number = _patient_and_pack(live_app)

    sign_in(page, live_server, "doctor")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(f"{live_server}/patients/{patient_id}")
    page.click("#medicines-link")
    # htmx binds the search box once the new page's scripts have run (its load event).
    page.wait_for_url("**/prescribing/patients/*", wait_until="load")
    page.fill("#drug_q", "amoxicillin 500")
    expect(page.locator("#drug_id option")).to_have_count(1)
    page.select_option("#drug_id", index=0)
    expect(page.locator("#dose")).to_have_value("500")
    page.fill("#duration_days", "5")
    page.click("#save-prescription")
    expect(page.locator("#flashes")).to_contain_text("waiting for the pharmacist")
    number = page.locator("#current-medicines tr.rx-row").first.locator("td").first.inner_text().strip()
    page.click("#logout")
    expect(page.locator("#username")).to_be_visible()

    sign_in(page, live_server, "pharmacist")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(f"{live_server}/pharmacy/verification")
    page.locator("tr.verify-row", has_text="CHAINFIELD").locator("a", has_text="Review").click()
    page.click("#verify-button")
    expect(page.locator("#flashes")).to_contain_text(f"Verified No. {number}")

    page.goto(f"{live_server}/pharmacy/dispensing")
    # By the number's own cell: an MRN may read like a prescription number.
    row = page.locator("#dispense-waiting tr").filter(
        has=page.locator("td.font-monospace", has_text=re.compile(rf"^\s*{number}\s*$")))
    row.locator("a", has_text="Dispense").click()
    page.wait_for_url("**/pharmacy/dispensing/prescriptions/*", wait_until="load")
    expect(page.locator("#dispense-picks")).to_contain_text(batch_number)
    # A wrong pack is refused beside the scan box, and nothing is dispensed.
    page.fill("#scan", "(01)09506000134369(17)301231(10)OTHER1")
    page.press("#scan", "Enter")
    expect(page.locator("#scan-error")).to_be_visible()
    page.fill("#scan", scan)
    page.press("#scan", "Enter")
    expect(page.locator("#flashes")).to_contain_text("Dispensed")
    expect(page.locator("#dispensing-lines")).to_contain_text(batch_number)

    with page.expect_download() as download:
        page.locator("#dispensing-labels a").first.click()
    pdf = Path(download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    words = " ".join(pdf_tools.text(pdf).split())
    assert "CHAINFIELD" in words.upper()
    assert batch_number in words
    assert "Amoxicillin" in words or "amoxicillin" in words
