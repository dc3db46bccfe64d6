"""A shift on the Acute Medical Unit in chromium, with several workstations open at once: a
nurse records a set of vitals that scores NEWS2 6 and the charge nurse's browser shows the alert
live and acknowledges it; the nurse does a medication round; two nurses write the handover
together and the incoming nurse accepts it. Every browser is its own context (its own cookies
and socket), as two workstations would be."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Locator, Page, expect
from sqlalchemy import select

from app.core.security import SYSTEM
from app.domain.administration.models import ScheduledDose
from app.domain.admissions import adt
from app.domain.facilities.models import Bed, Room, Ward
from app.domain.formulary.models import Drug
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.domain.patients import services as patients
from app.domain.prescribing import services as prescribing
from app.domain.prescribing import verification
from app.extensions import db
from tests.browser.conftest import sign_in

WAIT = 15_000  # ms: the longest any user-visible change may take
AMOXICILLIN_500 = "308192"  # RxNorm codes of the demo formulary (app/demo.py DEMO_ROUND)
SIMVASTATIN_20 = "312961"
SECOND_NURSE = "nina.night"
SECOND_NURSE_NAME = "Nina Night"


@dataclass(frozen=True)
class Inpatient:
    name: str
    mrn: str
    encounter_id: int
    ward_id: int


@pytest.fixture(scope="module")
def inpatient(live_server: str, live_app: Flask) -> Inpatient:
    """A fresh patient admitted to a free AMU bed, the demo nurse responsible, the demo doctor
    attending, no observations yet; and an incoming AMU nurse for the handover."""
    with live_app.app_context():
        session = db.session
        amu = session.scalar(select(Ward).where(Ward.code == "AMU"))
        nurse = session.scalar(select(User).where(User.username == "nurse"))
        doctor = session.scalar(select(User).where(User.username == "doctor"))
        assert amu is not None and nurse is not None and doctor is not None, "the demo seed ran"
        bed = session.scalar(select(Bed).join(Room).where(Room.ward_id == amu.id, Bed.state == "available")
                             .order_by(Bed.id).limit(1))
        assert bed is not None, "the demo AMU keeps a free bed"
        patient = patients.register_patient(session, SYSTEM, patients.Demographics(
            family_name="Wardwalk", given_names="Vera", birth_date=date(1948, 3, 14), sex="female"),
            check_duplicates=False)
        encounter = adt.admit(session, SYSTEM, patient_id=patient.id, bed_id=bed.id, source="emergency",
                              attending_id=doctor.id, diagnosis="Community-acquired pneumonia",
                              nurse_id=nurse.id)
        if identity.find_user(session, SECOND_NURSE) is None:
            identity.create_user(session, SYSTEM, username=SECOND_NURSE, full_name=SECOND_NURSE_NAME,
                                 roles=["nurse"], ward_ids=[amu.id], password="demo")
        session.commit()
        found = Inpatient(patient.name, patient.mrn, encounter.id, amu.id)
        session.remove()
    return found


@pytest.fixture()
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """More workstations: each call opens a page in its own browser context (own sign-in, own
    socket), failing the test on a page error or console error as the `page` fixture does."""
    contexts: list[Any] = []
    errors: list[Any] = []

    def on_console(message: Any) -> None:
        # As the `page` fixture: a refused request (403/409/422/429) is expected. Live fragments
        # queue their refreshes (hx-sync="this:queue last") rather than abort them, so an
        # aborted request would be a real error here.
        if message.type == "error" and not re.search(r"status of (403|409|422|429)", message.text):
            errors.append(message.text)

    def on_page_error(error: Any) -> None:
        errors.append(error)

    def open_page() -> Page:
        context = browser.new_context()
        contexts.append(context)
        pg = context.new_page()
        pg.on("pageerror", on_page_error)
        pg.on("console", on_console)
        return pg

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"browser errors: {errors}"


def _signed_in(page: Page, base: str, username: str) -> None:
    sign_in(page, base, username)
    expect(page.locator("#current-user")).to_be_visible(timeout=WAIT)


def _live(page: Page) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=WAIT)


def _menu(page: Page, label: str) -> None:
    page.locator("#main-nav").get_by_role("link", name=label, exact=True).click()


def _bed_of(page: Page, who: Inpatient) -> Locator:
    return page.locator("article.bed", has_text=who.mrn)


# --- 1. vitals, NEWS2 and the live alert -----------------------------------------------------------

def test_news2_alert_reaches_the_charge_nurse_live(page: Page, new_page: Callable[[], Page], live_server: str,
                                                   inpatient: Inpatient) -> None:
    nurse = page
    charge = new_page()

    # The charge nurse has the AMU board open on her workstation, connected, before anything happens.
    _signed_in(charge, live_server, "charge_nurse")
    charge.goto(f"{live_server}/wards/{inpatient.ward_id}", wait_until="load")
    _live(charge)
    expect(_bed_of(charge, inpatient).locator(".bed-news2")).to_contain_text("No obs yet")

    # The nurse opens her ward's board, then the patient.
    _signed_in(nurse, live_server, "nurse")
    _menu(nurse, "My wards")
    nurse.locator("#wards-table a", has_text="Acute Medical Unit").click()
    nurse.wait_for_url(f"**/wards/{inpatient.ward_id}", wait_until="load")
    _bed_of(nurse, inpatient).locator("a.bed-patient").click()
    nurse.wait_for_url(f"**/wards/encounters/{inpatient.encounter_id}", wait_until="load")
    expect(nurse.locator("#encounter-banner")).to_contain_text(inpatient.mrn)
    nurse.locator("#encounter-links a", has_text="Record vitals").click()
    nurse.wait_for_url("**/vitals", wait_until="load")

    # RR 22 (2), SpO2 95 on scale 1 (1), air (0), systolic 105 (1), pulse 115 (2), Alert (0),
    # 37.5 °C (0): NEWS2 6, medium (STANDARDS.md).
    nurse.fill("#f-respiratory_rate", "22")
    nurse.fill("#f-spo2", "95")
    nurse.select_option("#f-air_or_oxygen", "air")
    nurse.fill("#f-systolic", "105")
    nurse.fill("#f-diastolic", "68")
    nurse.fill("#f-pulse", "115")
    nurse.select_option("#f-consciousness", "A")
    nurse.fill("#f-temperature", "37.5")
    expect(nurse.locator("#news2-preview-total")).to_have_text("NEWS2 6 · medium", timeout=WAIT)
    expect(nurse.locator("#news2-preview-escalation")).to_contain_text("alert the charge nurse")
    nurse.click("#save-vitals")
    expect(nurse.locator("#saved-news2")).to_have_text("NEWS2 6 · medium", timeout=WAIT)
    expect(nurse.locator("#escalation-sent")).to_contain_text("Escalation sent")

    # On the charge nurse's screen, without a reload: the urgent toast, and the bed's new score.
    toast = charge.locator("#toasts .toast-item", has_text=inpatient.mrn)
    expect(toast).to_contain_text("NEWS2 6 (medium risk)", timeout=WAIT)
    expect(toast).to_have_attribute("role", "alert")
    expect(_bed_of(charge, inpatient).locator(".bed-news2")).to_contain_text("NEWS2 6", timeout=WAIT)
    expect(_bed_of(charge, inpatient).locator(".bed-alerts")).to_be_visible(timeout=WAIT)

    # The nurse follows her escalation to the alert page; it is open.
    nurse.locator("#escalation-sent a").click()
    nurse.wait_for_url("**/wards/alerts/*", wait_until="load")
    _live(nurse)
    expect(nurse.locator("#alert-status")).to_have_text("Open: not yet acknowledged")

    # The charge nurse follows the toast and acknowledges.
    toast.locator("a").click()
    charge.wait_for_url("**/wards/alerts/*", wait_until="load")
    expect(charge.locator("#alert-text")).to_contain_text(inpatient.mrn)
    expect(charge.locator("#alert-recipients")).to_contain_text("Chidi Charge")
    charge.click("#acknowledge")
    expect(charge.locator("#alert-status")).to_contain_text("Acknowledged by Chidi Charge", timeout=WAIT)
    expect(charge.locator("#acknowledge")).to_have_count(0)

    # The nurse's alert page turns acknowledged live.
    expect(nurse.locator("#alert-status")).to_contain_text("Acknowledged by Chidi Charge", timeout=WAIT)
    expect(nurse.locator("#acknowledge")).to_have_count(0)


# --- 2. the medication round ----------------------------------------------------------------------

def _stat_doses(app: Flask, who: Inpatient) -> dict[str, str]:
    """Two one-off (STAT) doses due now for the patient, prescribed by the demo doctor and
    verified by the demo pharmacist: {drug name: scheduled dose id}."""
    with app.app_context():
        session = db.session
        doctor = session.scalar(select(User).where(User.username == "doctor"))
        pharmacist = session.scalar(select(User).where(User.username == "pharmacist"))
        assert doctor is not None and pharmacist is not None
        doses: dict[str, str] = {}
        for code, dose in ((AMOXICILLIN_500, "500"), (SIMVASTATIN_20, "20")):
            drug = session.scalar(select(Drug).where(Drug.code == code))
            assert drug is not None, f"the demo formulary has {code}"
            order = prescribing.Order(drug_id=drug.id, dose=dose, dose_unit=drug.dose_unit, frequency="STAT",
                                      indication="Browser test round")
            rx = prescribing.prescribe(session, doctor, _patient_id(session, who), order, prescribing.Overrides(
                {"allergy": "Test", "duplicate": "Test", "max_dose": "Test", "interaction": "Test"}))
            verification.verify(session, pharmacist, rx.id, rx.version)
            dose_id = session.scalar(select(ScheduledDose.id).where(ScheduledDose.prescription_id == rx.id))
            assert dose_id is not None, "verifying an inpatient prescription plans its doses"
            doses[drug.name] = str(dose_id)
        session.commit()
        session.remove()
    return doses


def _patient_id(session: Any, who: Inpatient) -> int:
    from app.domain.admissions.models import Encounter

    encounter = session.get(Encounter, who.encounter_id)
    assert encounter is not None
    return int(encounter.patient_id)


def test_medication_round_records_given_and_held(page: Page, live_server: str, live_app: Flask,
                                                 inpatient: Inpatient) -> None:
    doses = _stat_doses(live_app, inpatient)
    (given_drug, given_id), (held_drug, held_id) = doses.items()

    _signed_in(page, live_server, "nurse")
    _menu(page, "Medication round")
    page.wait_for_url(f"**/wards/{inpatient.ward_id}/medication-round", wait_until="load")
    given_row = page.locator(f"#dose-{given_id}")
    held_row = page.locator(f"#dose-{held_id}")
    for row, drug in ((given_row, given_drug), (held_row, held_drug)):
        expect(row).to_contain_text(inpatient.name)
        expect(row.locator(".drug-name")).to_have_text(drug)

    given_row.locator("button[value=given]").click()
    expect(given_row.locator(".dose-recorded")).to_contain_text("Given at", timeout=WAIT)
    expect(given_row.locator(".dose-recorded")).to_contain_text("Nora Nurse")

    # Held without a reason: refused, the message beside the reason field, nothing recorded.
    held_row.locator("button[value=held]").click()
    reason = held_row.locator(f"#reason-{held_id}")
    expect(reason).to_have_class(re.compile(r"\bis-invalid\b"), timeout=WAIT)
    expect(held_row.locator(".invalid-feedback")).to_contain_text("Say why the dose was held")
    expect(held_row.locator(".dose-recorded")).to_have_count(0)
    held_row.locator(f"#reason-{held_id}").fill("Nil by mouth for endoscopy")
    held_row.locator("button[value=held]").click()
    expect(held_row.locator(".dose-recorded")).to_contain_text("Held at", timeout=WAIT)
    expect(held_row.locator(".dose-recorded")).to_contain_text("Nil by mouth for endoscopy")

    # The patient's MAR shows both outcomes.
    page.goto(f"{live_server}/wards/encounters/{inpatient.encounter_id}", wait_until="load")
    page.locator("#encounter-links a", has_text="Medication chart").click()
    page.wait_for_url(f"**/wards/encounters/{inpatient.encounter_id}/medicines", wait_until="load")
    records = page.locator("#mar-records tbody tr")
    expect(records.filter(has_text=given_drug)).to_contain_text("Given")
    expect(records.filter(has_text=given_drug)).to_contain_text("Nora Nurse")
    expect(records.filter(has_text=held_drug)).to_contain_text("Held: Nil by mouth for endoscopy")
    grid = page.locator("#mar-grid")
    expect(grid.locator("tr", has_text=given_drug).locator(".mar-given")).to_have_count(1)
    expect(grid.locator("tr", has_text=held_drug).locator(".mar-held")).to_have_count(1)


# --- 3. the handover --------------------------------------------------------------------------------

def _field(entry: Locator, name: str) -> Locator:
    return entry.locator(f"form.handover-field[data-field={name}]")


def _joined(page: Page) -> None:
    expect(page.locator("#handover")).to_have_attribute("data-joined", "true", timeout=WAIT)


def test_two_nurses_write_the_handover_and_the_incoming_nurse_accepts(
        page: Page, new_page: Callable[[], Page], live_server: str, inpatient: Inpatient) -> None:
    outgoing = page
    incoming = new_page()

    # The outgoing nurse starts the ward's handover from the board.
    _signed_in(outgoing, live_server, "nurse")
    outgoing.goto(f"{live_server}/wards/{inpatient.ward_id}", wait_until="load")
    outgoing.locator("nav[aria-label='Ward actions'] a", has_text="Handover").click()
    outgoing.wait_for_url(f"**/wards/{inpatient.ward_id}/handover", wait_until="load")
    outgoing.fill("#shift", "Day to night")
    outgoing.click("#handover-start button[type=submit]")
    outgoing.wait_for_url("**/wards/handover/*", wait_until="load")
    _joined(outgoing)

    # The incoming nurse joins it from the handover list.
    _signed_in(incoming, live_server, SECOND_NURSE)
    _menu(incoming, "Handover")
    incoming.wait_for_url("**/wards/handover", wait_until="load")
    incoming.locator("a", has_text="Acute Medical Unit").first.click()
    incoming.wait_for_url(f"**/wards/{inpatient.ward_id}/handover", wait_until="load")
    incoming.locator("a", has_text="Open the handover in progress").click()
    incoming.wait_for_url("**/wards/handover/*", wait_until="load")
    _joined(incoming)

    mine = outgoing.locator("section.handover-entry", has_text=inpatient.mrn)
    theirs = incoming.locator("section.handover-entry", has_text=inpatient.mrn)
    # Pre-filled with the facts: the diagnosis and the latest NEWS2.
    expect(mine).to_contain_text("Community-acquired pneumonia")
    expect(mine.locator(".handover-acceptance")).to_contain_text("Awaiting the incoming nurse")

    # Both edit different fields at once; each sees who is editing, then the other's text live.
    situation = "Admitted with pneumonia; NEWS2 6 this afternoon, reviewed by the charge nurse."
    background = "Lives alone; COPD on inhalers; no known allergies."
    _field(mine, "situation").locator("textarea").fill(situation)
    expect(_field(theirs, "situation").locator(".handover-presence")).to_contain_text("Nora Nurse is editing",
                                                                                   timeout=WAIT)
    _field(theirs, "background").locator("textarea").fill(background)
    expect(_field(mine, "background").locator(".handover-presence")).to_contain_text(
        f"{SECOND_NURSE_NAME} is editing", timeout=WAIT)
    _field(mine, "situation").locator("button[type=submit]").click()
    _field(theirs, "background").locator("button[type=submit]").click()
    expect(_field(mine, "situation").locator(".handover-saved-by")).to_contain_text("Saved by Nora Nurse",
                                                                                    timeout=WAIT)
    expect(_field(theirs, "background").locator(".handover-saved-by")).to_contain_text(
        f"Saved by {SECOND_NURSE_NAME}", timeout=WAIT)
    expect(_field(theirs, "situation").locator("textarea")).to_have_value(situation, timeout=WAIT)
    expect(_field(mine, "background").locator("textarea")).to_have_value(background, timeout=WAIT)
    # A nurse is never warned about her own save (its push reaches her page too).
    outgoing.wait_for_timeout(1000)
    expect(_field(mine, "situation").locator(".handover-live-notice")).to_be_hidden()
    expect(_field(theirs, "background").locator(".handover-live-notice")).to_be_hidden()
    # Saving again, typing on straight after, is still no warning.
    _field(mine, "situation").locator("textarea").fill(situation + " Family informed.")
    _field(mine, "situation").locator("button[type=submit]").click()
    expect(_field(theirs, "situation").locator("textarea")).to_have_value(situation + " Family informed.",
                                                                          timeout=WAIT)
    outgoing.wait_for_timeout(1000)
    expect(_field(mine, "situation").locator(".handover-live-notice")).to_be_hidden()

    # Both edit the same field from the same version: the second save is told, and shown the first.
    mine_text = "Chest clear on the right; crackles left base. Eating a little."
    theirs_text = "Looks better than this morning."
    _field(mine, "assessment").locator("textarea").fill(mine_text)
    _field(theirs, "assessment").locator("textarea").fill(theirs_text)
    _field(mine, "assessment").locator("button[type=submit]").click()
    expect(_field(mine, "assessment").locator(".handover-saved-by")).to_contain_text("Saved by Nora Nurse",
                                                                                     timeout=WAIT)
    expect(_field(mine, "assessment").locator(".handover-live-notice")).to_be_hidden()
    # While she types, the incoming nurse is warned that someone saved this field.
    expect(_field(theirs, "assessment").locator(".handover-live-notice")).to_contain_text(
        "Nora Nurse saved this while you were typing", timeout=WAIT)
    expect(_field(theirs, "assessment").locator("textarea")).to_have_value(theirs_text)
    _field(theirs, "assessment").locator("button[type=submit]").click()
    conflict = _field(theirs, "assessment").locator(".handover-conflict")
    expect(conflict).to_be_visible(timeout=WAIT)
    expect(conflict.locator(".handover-theirs")).to_have_text(mine_text)
    expect(_field(theirs, "assessment").locator("textarea")).to_have_value(theirs_text)
    # Nothing was overwritten: the outgoing nurse's text stands, on both screens' record.
    expect(_field(mine, "assessment").locator("textarea")).to_have_value(mine_text)

    # She merges the two and saves again, knowingly replacing it; the outgoing nurse sees it live.
    merged = f"{mine_text} {theirs_text}"
    _field(theirs, "assessment").locator("textarea").fill(merged)
    _field(theirs, "assessment").locator("button[type=submit]").click()
    expect(_field(theirs, "assessment").locator(".handover-conflict")).to_have_count(0, timeout=WAIT)
    expect(_field(theirs, "assessment").locator(".handover-saved-by")).to_contain_text(
        f"Saved by {SECOND_NURSE_NAME}", timeout=WAIT)
    expect(_field(mine, "assessment").locator("textarea")).to_have_value(merged, timeout=WAIT)

    # The incoming nurse accepts the patient; the outgoing nurse's page shows it live.
    theirs.locator(".handover-acceptance button", has_text="Accept handover").click()
    expect(theirs.locator(".handover-acceptance")).to_contain_text(f"Accepted by {SECOND_NURSE_NAME}",
                                                                   timeout=WAIT)
    expect(mine.locator(".handover-acceptance")).to_contain_text(f"Accepted by {SECOND_NURSE_NAME}",
                                                                 timeout=WAIT)
