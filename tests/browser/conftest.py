"""A live Infirmary (its own database, committed demo data) and Debian's chromium via Playwright."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from app.core import jobs
from app.demo import seed
from app.extensions import db
from app.jobs.runner import tick
from tests.conftest import make_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The live server is werkzeug's development server in a thread. When the browser drops a
    connection while a static file streams (a page navigates away mid-download), werkzeug
    leaves the file for the garbage collector, which Python reports as an unraisable
    ResourceWarning during whichever test runs next. That is the development server's doing,
    not the app's (production runs gunicorn), so only that one warning is let through."""
    for item in items:
        if "/tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:Exception ignored in. <_io.FileIO name='[^']*/app/static/"
                ":pytest.PytestUnraisableExceptionWarning"))
            item.add_marker(pytest.mark.filterwarnings(
                "ignore:unclosed file <_io.BufferedReader name='[^']*/app/static/:ResourceWarning"))


@pytest.fixture(scope="session")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("browser"), name="browser")
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def live_server(live_app: Flask) -> Iterator[str]:
    app = live_app
    with app.app_context():
        seed(db.session, patients_wanted=12)
        db.session.commit()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def is_browser_error(kind: str, text: str) -> bool:
    """Whether a console message fails a browser test: every error, CSP violations included
    ("Refused to apply inline style ... Content Security Policy"), except the status line a
    refused page logs for its expected 403/409/422/429."""
    return kind == "error" and not re.search(r"status of (403|409|422|429)", text)


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    errors: list[Any] = []

    def on_page_error(error: Any) -> None:
        errors.append(error)

    def on_console(message: Any) -> None:
        if is_browser_error(message.type, message.text):
            errors.append(message.text)

    pg.on("pageerror", on_page_error)
    pg.on("console", on_console)
    yield pg
    context.close()
    assert errors == [], f"browser errors: {errors}"


def run_jobs(app: Flask, queue: str = "default") -> None:
    """The scheduler pass; with Redis, a real RQ worker then delivers what it dispatched."""
    tick(app)
    if app.config["REDIS_URL"]:
        from rq import SimpleWorker

        with app.app_context():
            connection = jobs.redis_connection(app)
            SimpleWorker([jobs.rq_queue(queue, connection)], connection=connection).work(burst=True)


def sign_in(page: Page, base: str, username: str, password: str = "demo") -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-form button[type=submit]")
