"""Prescribing in chromium: the doctor picks a drug (its defaults fill in), the live safety panel
warns about the patient's penicillin allergy and a high dose as they are typed, the override
reasons are given and the prescription saved; a pharmacist verifies it from the worklist."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.core.security import SYSTEM
from app.domain.patients import services as patients
from app.domain.patients.models import Patient
from app.extensions import db
from tests.browser.conftest import sign_in


def _allergic_patient(app: Flask) -> int:
    with app.app_context():
        patient = db.session.scalar(select(Patient).where(Patient.status == "active", Patient.family_name == "Browserrx"))
        if patient is None:
            patient = patients.register_patient(db.session, SYSTEM, patients.Demographics(
                family_name="Browserrx", given_names="Penny", birth_date=__import__("datetime").date(1970, 3, 4),
                sex="female"), check_duplicates=False)
            patients.record_allergy(db.session, SYSTEM, patient.id, "Penicillin", severity="severe")
            db.session.commit()
        patient_id = patient.id
        db.session.remove()
    return patient_id


def test_doctor_prescribes_with_live_warnings_and_the_pharmacist_verifies(page: Page, live_server: str,
                                                                           live_app: Flask) -> None:
    patient_id = _allergic_patient(live_app)
    sign_in(page, live_server, "doctor")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(f"{live_server}/patients/{patient_id}")
    page.click("#medicines-link")
    # htmx binds the search box once the new page's scripts have run (its load event).
    page.wait_for_url("**/prescribing/patients/*", wait_until="load")
    expect(page.locator("#rx-form")).to_be_visible()
    page.fill("#drug_q", "amoxicillin 500")
    expect(page.locator("#drug_id option")).to_have_count(1)
    page.select_option("#drug_id", index=0)
    expect(page.locator("#dose")).to_have_value("500")
    expect(page.locator("#frequency")).to_have_value("TID")
    expect(page.locator("#finding-allergy")).to_contain_text("Recorded allergy to Penicillin")
    expect(page.locator("#finding-max_dose")).to_have_count(0)
    page.fill("#dose", "2000")
    page.locator("#dose").blur()
    expect(page.locator("#finding-max_dose")).to_contain_text("above the maximum")
    page.fill("#duration_days", "5")
    page.click("#save-prescription")
    expect(page.locator("#override_allergy-error")).to_be_visible()
    page.fill("#override_allergy", "Tolerated amoxicillin last year")
    page.fill("#override_max_dose", "Endocarditis dosing")
    page.click("#save-prescription")
    expect(page.locator("#flashes")).to_contain_text("waiting for the pharmacist")
    row = page.locator("#current-medicines tr.rx-row").first
    expect(row).to_contain_text("pending")
    number = row.locator("td").first.inner_text().strip()

    page.click("#logout")
    expect(page.locator("#username")).to_be_visible()
    sign_in(page, live_server, "pharmacist")
    expect(page.locator("#current-user")).to_contain_text("Pat Pharmacist")
    page.goto(f"{live_server}/pharmacy/verification")
    item = page.locator("tr.verify-row", has_text="BROWSERRX")
    expect(item).to_contain_text("2 overrides")
    item.locator("a", has_text="Review").click()
    expect(page.locator("#review-overrides")).to_contain_text("Endocarditis dosing")
    page.click("#verify-button")
    expect(page.locator("#flashes")).to_contain_text(f"Verified No. {number}")
