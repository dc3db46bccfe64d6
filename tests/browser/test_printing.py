"""Printing in a real browser: the audit extract PDF is asked for, polled until ready and
downloaded; the chart's wristband button opens a PDF."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from tests import pdf_tools
from tests.browser.conftest import run_jobs, sign_in


def test_audit_extract_is_polled_until_ready_then_downloaded(page: Page, live_server: str, live_app: Flask) -> None:
    sign_in(page, live_server, "auditor")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/audit/?action=patient.")
    page.click("#export-pdf button")
    status = page.locator("#print-jobs .print-job")
    expect(status).to_have_attribute("data-status", "queued")
    expect(status).to_contain_text("Preparing Audit extract")
    run_jobs(live_app, "pdf")
    expect(status).to_have_attribute("data-status", "done", timeout=10_000)  # the poll saw it
    with page.expect_download() as download:
        status.locator("a", has_text="Download PDF").click()
    path = download.value.path()
    text = pdf_tools.text(path.read_bytes())
    assert "Audit extract" in text and "patient.registered" in text


def test_wristband_button_opens_a_pdf(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "reception")
    expect(page.locator("#current-user")).to_be_visible()
    page.goto(live_server + "/patients/")
    page.locator("#main a[href^='/patients/']").first.click()
    button = page.locator("#print-wristband")
    expect(button).to_be_visible()
    href = button.get_attribute("href")
    assert href is not None and href.endswith("/wristband.pdf")
    response = page.request.get(live_server + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert pdf_tools.barcodes(response.body(), dpi=200)
