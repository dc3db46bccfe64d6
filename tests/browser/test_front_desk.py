"""The whole desk flow in a real browser: search -> register -> book -> check in, while the
waiting-room screen in a second browser updates live (no reload), then a call to a room."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.core import clock
from app.core.security import SYSTEM
from app.domain.scheduling import configuration as conf
from app.extensions import db
from tests.browser.conftest import sign_in

# A Monday morning in winter (London = UTC). The live server runs in this process, so its
# clock is frozen too: the appointment is "today" whatever day the suite runs.
MONDAY_10AM = datetime(2030, 1, 7, 10, 0, tzinfo=clock.UTC)
DEPARTMENT = "fracture"


@pytest.fixture()
def fracture_clinic(live_server: str, live_app: Flask) -> Iterator[dict[str, int]]:
    with live_app.app_context():
        s = db.session
        clinic = conf.create_clinic(s, SYSTEM, code="FRX", name="Fracture clinic", department=DEPARTMENT)
        doctor = conf.create_resource(s, SYSTEM, kind="clinician", name="Dr Bone", clinic_id=clinic.id)
        room = conf.create_resource(s, SYSTEM, kind="room", name="Plaster room", clinic_id=clinic.id)
        kind = conf.create_appointment_type(s, SYSTEM, code="FRXFU", name="Fracture follow-up",
                                            slot_minutes=15, needs=["clinician", "room"], clinic_id=clinic.id)
        for resource in (doctor, room):
            conf.create_templates(s, SYSTEM, resource_id=resource.id, clinic_id=clinic.id, weekdays=[0],
                                  start_time=time(8, 0), end_time=time(18, 0), valid_from=date(2030, 1, 1),
                                  type_ids=[kind.id])
        ids = {"type": kind.id, "doctor": doctor.id, "room": room.id}
        s.commit()
        s.remove()
    with clock.freeze(MONDAY_10AM):
        yield ids


def _collect_errors(page: Page, errors: list[Any]) -> None:
    def on_page_error(error: Any) -> None:
        errors.append(error)

    def on_console(message: Any) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("pageerror", on_page_error)
    page.on("console", on_console)


def test_search_register_book_check_in_and_the_board_updates_live(
    browser: Browser, live_server: str, fracture_clinic: dict[str, int]
) -> None:
    clerk_context, screen_context = browser.new_context(), browser.new_context()
    clerk, screen = clerk_context.new_page(), screen_context.new_page()
    errors: list[Any] = []
    _collect_errors(clerk, errors)
    _collect_errors(screen, errors)
    try:
        # The waiting-room screen, signed in on its own machine, following the queue live.
        sign_in(screen, live_server, "nurse")
        expect(screen.locator("#current-user")).to_be_visible()
        screen.goto(f"{live_server}/frontdesk/board/{DEPARTMENT}")
        expect(screen.locator("body")).to_have_attribute("data-watching-queue", DEPARTMENT, timeout=10_000)
        expect(screen.locator("#board-waiting")).to_have_text("0")
        screen.evaluate("window.__sameDocument = true")

        # Search first: nobody matches, so the clerk is offered registration, pre-filled.
        sign_in(clerk, live_server, "reception")
        expect(clerk.locator("#current-user")).to_be_visible()
        clerk.goto(f"{live_server}/patients/")
        clerk.fill("#q", "Quennell-Abara")
        clerk.locator("#register-new").click()
        expect(clerk.locator("#family_name")).to_have_value(re.compile("Quennell-Abara", re.I))
        clerk.fill("#given_names", "Wilhelmina")
        clerk.fill("#birth_date", "1987-03-14")
        clerk.select_option("#sex", "female")
        clerk.fill("#phone", "07700 900461")
        clerk.locator("#patient-form button[type=submit]").click()
        expect(clerk).to_have_url(re.compile(r"/patients/\d+$"), timeout=10_000)
        patient_id = int(clerk.url.rsplit("/", 1)[1])
        mrn = re.search(r"MRN (\d{8})", clerk.locator("#flashes").inner_text())
        assert mrn is not None, clerk.locator("#flashes").inner_text()

        # Book her into the fracture clinic at 10:30 today.
        clerk.goto(f"{live_server}/schedule/book?patient_id={patient_id}")
        clerk.select_option("#appointment_type_id", str(fracture_clinic["type"]))
        clerk.fill("#day", "2030-01-07")
        clerk.fill("#start_time", "10:30")
        clerk.select_option("#clinician_id", str(fracture_clinic["doctor"]))
        clerk.select_option("#room_id", str(fracture_clinic["room"]))
        clerk.locator("#book-submit").click()
        expect(clerk).to_have_url(re.compile(r"/schedule/appointments/\d+$"), timeout=10_000)

        # Check in from the desk, keyboard only: type the MRN, arrow down, Enter.
        clerk.goto(f"{live_server}/frontdesk/")
        expect(clerk.locator("#q")).to_be_focused()
        clerk.keyboard.type(mrn.group(1))
        expect(clerk.locator(f'#arrivals[data-query="{mrn.group(1)}"]')).to_have_count(1, timeout=10_000)
        row = clerk.locator("tr.arrival", has_text="QUENNELL-ABARA")
        expect(clerk.locator("tr.arrival")).to_have_count(1)
        clerk.keyboard.press("ArrowDown")
        expect(row.locator("button.check-in")).to_be_focused()
        clerk.keyboard.press("Enter")
        expect(row.locator(".ticket-code")).to_have_text("F-001", timeout=10_000)
        expect(clerk.locator("#flashes")).to_contain_text("Checked in: ticket F-001")

        # The screen shows her number waiting, live, without a reload, and no name.
        expect(screen.locator("#board .board-next")).to_contain_text("F-001", timeout=10_000)
        expect(screen.locator("#board-waiting")).to_have_text("1")
        assert screen.evaluate("window.__sameDocument") is True
        assert "Quennell" not in screen.content() and "QUENNELL" not in screen.content()

        # Called to a room from the queue page (the room, then Enter; Alt+N is the access key,
        # which synthetic key presses do not reach): the screen announces it.
        clerk.goto(f"{live_server}/frontdesk/queues/{DEPARTMENT}")
        expect(clerk.locator("#call-next")).to_have_attribute("accesskey", "n")
        clerk.fill("#call-room", "Room 3")
        clerk.press("#call-room", "Enter")
        # The queue itself says who was called where (the flash is transient: the live
        # re-fetch that follows the call may replace it before it is read).
        called = clerk.locator("#queue-active tr.ticket-called", has_text="F-001")
        expect(called).to_contain_text("Room 3", timeout=10_000)
        latest = screen.locator("#board .board-call-latest")
        expect(latest).to_contain_text("F-001", timeout=10_000)
        expect(latest).to_contain_text("Room 3")
        expect(screen.locator("#board-waiting")).to_have_text("0")
        assert screen.evaluate("window.__sameDocument") is True
    finally:
        clerk_context.close()
        screen_context.close()
    assert errors == [], f"browser errors: {errors}"
