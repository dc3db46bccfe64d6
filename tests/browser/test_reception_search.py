"""The reception desk's search, keyboard only, in a real browser: type a name, ↓, Enter opens
the chart; a search that finds nobody offers registration pre-filled from what was typed."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.domain.patients.models import Patient
from app.extensions import db
from tests.browser.conftest import sign_in


def _a_patient(app: Flask) -> Patient:
    with app.app_context():
        patient = db.session.scalars(
            select(Patient).where(Patient.status == "active").order_by(Patient.id)).first()
        assert patient is not None
        db.session.expunge(patient)
        db.session.remove()
    return patient


def test_type_a_name_arrow_down_enter_opens_the_chart(page: Page, live_server: str, live_app: Flask) -> None:
    patient = _a_patient(live_app)
    sign_in(page, live_server, "reception")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/patients/")
    box = page.locator("#q")
    expect(box).to_be_focused()
    typed = f"{patient.family_name}, {patient.given_names[:2]}"
    page.keyboard.type(typed)
    expect(page.locator("#patient-rows")).to_have_attribute("data-query", typed)  # typing done
    row = page.locator(f"#patient-{patient.id}")
    expect(row).to_be_visible()
    expect(row).to_contain_text(patient.mrn)
    rows = page.locator("#search-results tbody tr")
    ids = [rows.nth(i).get_attribute("id") for i in range(rows.count())]
    position = ids.index(f"patient-{patient.id}")
    for _ in range(position + 2):  # one past it, then back up: both arrows move the selection
        page.keyboard.press("ArrowDown")
    if position + 1 < len(ids):
        page.keyboard.press("ArrowUp")
    expect(row).to_have_attribute("aria-selected", "true")
    expect(row.locator("a.patient-link")).to_be_focused()
    expect(page.locator("#search-results tr[aria-selected]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/patients/{patient.id}$"))
    expect(page.locator(f"#patient-banner-{patient.id}")).to_contain_text(patient.mrn)


def test_a_wrong_check_digit_is_shown_beside_the_box(page: Page, live_server: str, live_app: Flask) -> None:
    patient = _a_patient(live_app)
    sign_in(page, live_server, "reception")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/patients/")
    wrong = patient.mrn[:-1] + str((int(patient.mrn[-1]) + 1) % 10)
    page.keyboard.type(wrong)
    expect(page.locator("#q-feedback")).to_contain_text("check digit is wrong")
    expect(page.locator("#q")).to_have_attribute("aria-invalid", "true")
    page.locator("#q").fill(patient.mrn)
    expect(page.locator(f"#patient-{patient.id}")).to_be_visible()
    expect(page.locator("#q-feedback")).to_have_text("")


def test_nobody_found_register_prefilled_then_saved(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "reception")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/patients/")
    page.keyboard.type("Zyxwen Quillfeather 03/02/1991")
    expect(page.locator("#patient-rows")).to_have_attribute("data-query", "Zyxwen Quillfeather 03/02/1991")
    register = page.locator("#register-new")
    expect(register).to_be_visible()
    register.focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/new\?"))
    expect(page.locator("#family_name")).to_have_value("Quillfeather")
    expect(page.locator("#given_names")).to_have_value("Zyxwen")
    expect(page.locator("#birth_date")).to_have_value("1991-02-03")
    page.locator("#sex").select_option("female")
    page.locator("#phone").fill("07700 900555")
    page.locator("#phone").press("Enter")
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.locator("#flashes")).to_contain_text("Registered QUILLFEATHER, Zyxwen")
    expect(page.locator(".patient-banner")).to_contain_text("3 Feb 1991")
    page.goto(live_server + "/patients/")
    page.keyboard.type("quillfeather")
    expect(page.locator("#search-results")).to_contain_text("QUILLFEATHER, Zyxwen")
