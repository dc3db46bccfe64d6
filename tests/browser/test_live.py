"""A notification raised by a job appears live in a signed-in browser, without a reload."""

from __future__ import annotations

from typing import Any

from flask import Flask
from playwright.sync_api import Page, expect

from app.core import jobs
from app.domain.notifications.services import notify
from app.extensions import db
from tests.browser.conftest import run_jobs, sign_in


@jobs.handler("test.page_the_ward")
def _page_the_ward(session: Any, payload: dict[str, Any]) -> None:
    notify(session, kind="test.page", text=payload["text"], role="nurse", priority="high")


def test_job_notification_appears_live(page: Page, live_server: str, live_app: Flask) -> None:
    sign_in(page, live_server, "nurse")
    expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=10_000)
    expect(page.locator("#unread-count")).to_have_count(0)

    with live_app.app_context():
        jobs.schedule(db.session, "test.page_the_ward", {"text": "Bed 3: NEWS2 7, review now"})
        db.session.commit()
        db.session.remove()
    run_jobs(live_app)

    toast = page.locator("#toasts .toast-item")
    expect(toast).to_contain_text("Bed 3: NEWS2 7, review now", timeout=10_000)
    expect(toast).to_have_attribute("role", "alert")
    expect(page.locator("#unread-count")).to_have_text("1", timeout=10_000)

    # Urgent notifications wait for an explicit acknowledgement.
    page.click("#bell")
    item = page.locator(".notification", has_text="Bed 3")
    item.locator("button", has_text="Acknowledge").click()
    expect(item).to_contain_text("acknowledged")
    expect(page.locator("#unread-count")).to_have_count(0)
