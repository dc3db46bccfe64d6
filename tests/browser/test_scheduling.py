"""Booking from the keyboard in chromium: chart → clinic calendar → Enter on a free slot → Enter
books; the same slot again answers 409 and Enter takes the offered next slot."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from app.core import clock
from tests.browser.conftest import sign_in
from tests.domain.scheduling.builders import weekday_after


def test_reception_books_from_the_keyboard_and_is_offered_the_next_slot(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "reception")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/patients/")
    page.locator("#main a[href^='/patients/']").first.click()
    page.click("#book-appointment")
    expect(page.locator("#booking-for")).to_be_visible()
    page.click("text=General Medicine Outpatients")
    tuesday = weekday_after(clock.today_local("Europe/London"), 1, min_days=7)
    page.goto(page.url + f"&date={tuesday.isoformat()}")
    first = page.locator("#calendar a.slot").first
    expect(first).to_be_focused()
    slot_url = first.get_attribute("href")
    assert slot_url is not None and "patient_id=" in slot_url
    page.keyboard.press("ArrowDown")
    expect(page.locator("#calendar a.slot").nth(1)).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    note = page.locator("#note")
    expect(note).to_be_focused()
    note.type("Booked from the keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#appointment-status")).to_have_text("booked")
    expect(page.locator("#flashes")).to_contain_text("Booked")
    first_booking = page.url

    # Another clerk had the same slot open: it is now taken.
    page.goto(live_server + slot_url)
    page.locator("#note").press("Enter")
    expect(page.locator("#slot-taken")).to_contain_text("That slot was just taken by another booking")
    offer = page.locator("#book-offer")
    expect(offer).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#appointment-status")).to_have_text("booked")
    assert page.url != first_booking
    assert tuesday.strftime("%-d %B %Y") in page.locator("#appointment-details").inner_text()
