"""The page frame in a real browser: the navigation fits narrow screens, keys are findable,
focus lands where work starts, and no htmx request trips the CSP."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import is_browser_error, sign_in


def test_sign_out_stays_on_screen_at_1024_and_1366(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "charge_nurse")
    expect(page).to_have_url(re.compile(r"/$"))
    for width in (1024, 1366):
        page.set_viewport_size({"width": width, "height": 768})
        page.goto(live_server + "/wards/")
        page.screenshot(path=f"/tmp/g1/nav_{width}.png")
        expect(page.locator("#logout")).to_be_in_viewport()
        box = page.locator("#logout").bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        last = page.locator("#main-nav .nav-link").last
        expect(last).to_be_in_viewport()


def test_access_keys_are_shown_and_the_board_takes_focus(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "nurse")
    expect(page).to_have_url(re.compile(r"/$"))
    wards = page.locator("#main-nav a[accesskey=w]")
    expect(wards).to_have_attribute("title", "Alt+Shift+W")
    wards.click()
    page.locator("#wards-table a").first.click()
    expect(page.locator(".bed a").first).to_be_focused()
    # "Skip to content" moves focus into the page's main region.
    skip = page.locator("a[href='#main']")
    skip.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def test_an_htmx_request_inserts_no_style_and_a_csp_violation_would_fail_the_test(
        page: Page, browser: Browser, live_server: str) -> None:
    sign_in(page, live_server, "reception")
    expect(page).to_have_url(re.compile(r"/$"))
    page.goto(live_server + "/patients/")
    with page.expect_response(re.compile(r"/patients/\?q=")):
        page.fill("#q", "a")
    # htmx's indicator <style> would be refused by style-src 'self'; the app's CSS has the rules.
    assert page.locator("head style").count() == 0
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False

    # The page fixture counts a CSP refusal as a browser error (checked on a page of its own).
    context = browser.new_context()
    try:
        other = context.new_page()
        messages: list[tuple[str, str]] = []
        other.on("console", lambda m: messages.append((m.type, m.text)))
        other.goto(live_server + "/login")
        other.evaluate("document.body.setAttribute('style', 'color: red')")
        other.wait_for_timeout(300)
        refused = [m for m in messages if "Content Security Policy" in m[1]]
        assert refused and all(is_browser_error(kind, text) for kind, text in refused)
    finally:
        context.close()
