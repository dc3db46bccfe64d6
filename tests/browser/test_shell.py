"""The web shell in a real browser: a nurse's day starts and ends here."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import sign_in


def test_nurse_signs_in_sees_her_navigation_is_refused_admin_and_signs_out(page: Page, live_server: str) -> None:
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/login\?next=/"))
    expect(page.locator("#username")).to_be_focused()

    # A wrong password is answered beside the form, without a page load.
    page.fill("#username", "nurse")
    page.fill("#password", "wrong")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#login-form .alert-danger")).to_contain_text("Unknown username or wrong password")

    sign_in(page, live_server, "nurse")
    expect(page).to_have_url(live_server + "/")
    nav = page.locator("#main-nav")
    expect(nav).to_contain_text("My wards")
    expect(nav).to_contain_text("Patients")
    expect(nav).not_to_contain_text("Users")
    expect(nav).not_to_contain_text("Audit trail")
    expect(page.locator("#current-user")).to_have_text("Nora Nurse")

    # Her ward shows its beds; a patient's chart opens with the banner.
    page.click("#main-nav >> text=My wards")
    page.locator("#wards-table a").first.click()
    first_patient = page.locator(".bed a.bed-patient").first
    expect(first_patient).to_be_visible()
    first_patient.click()
    expect(page.locator(".patient-banner")).to_be_visible()

    response = page.goto(live_server + "/admin/users")
    assert response is not None and response.status == 403
    expect(page.locator("#error-403")).to_contain_text("Not allowed")

    page.goto(live_server + "/")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flashes")).to_contain_text("You have signed out.")
    page.goto(live_server + "/patients/")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_admin_sees_admin_navigation_and_live_search(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "admin")
    nav = page.locator("#main-nav")
    expect(nav).to_contain_text("Users")
    expect(nav).to_contain_text("Sessions")
    expect(nav).not_to_contain_text("Patients")
    page.click("#main-nav >> text=Users")
    expect(page.locator("#users-table")).to_contain_text("nurse")
