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


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    pg = context.new_page()
    errors: list[Any] = []

    def on_page_error(error: Any) -> None:
        errors.append(error)

    def on_console(message: Any) -> None:
        # A refused page logs its 403/409/422 status as a console error; that is expected.
        if message.type == "error" and not re.search(r"status of (403|409|422|429)", message.text):
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
