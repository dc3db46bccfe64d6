"""The web shell: security headers, htmx conventions, error pages, health, logs, assets."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from app.core import audit

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def test_security_headers_and_cookie_flags(client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    response = client.post_form("/login", {"username": user.username, "password": "correct horse battery"})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "HX-Request" in page.headers["Vary"]
    assert "Strict-Transport-Security" not in page.headers
    secure = client.get("/", base_url="https://localhost")
    assert "max-age" in secure.headers["Strict-Transport-Security"]


def test_pages_send_the_csrf_token_to_htmx_and_have_no_inline_script(client: Any, login_as: Any) -> None:
    login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert re.search(r'hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'', page)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert " style=" not in page and "onclick=" not in page


def test_no_template_references_an_external_url() -> None:
    offenders = [
        str(p) for p in TEMPLATES.rglob("*.html")
        if re.search(r"""(src|href)=["']https?://""", p.read_text())
    ]
    assert offenders == []


def test_htmx_errors_land_in_the_flash_area(client: Any, login_as: Any) -> None:
    login_as("nurse")
    response = client.get_htmx("/admin/users")
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#flashes"
    assert "<html" not in response.get_data(as_text=True)
    assert "Not allowed" in response.get_data(as_text=True)


def test_unexpected_errors_show_a_reference_not_a_trace(app: Any, client: Any, login_as: Any, monkeypatch: Any) -> None:
    from app.domain.patients import services as patients

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(patients, "visible_patients", boom)
    login_as("doctor")
    app.logger.disabled = True
    try:
        response = client.get("/patients/", headers={"X-Request-ID": "trace-me-123"})
    finally:
        app.logger.disabled = False
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "trace-me-123" in body and "secret internals" not in body and "Traceback" not in body


def test_health_and_readiness(client: Any, app: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert checks["database"] == "ok"
    if app.config["REDIS_URL"]:
        assert checks["redis"] == "ok"


def test_readiness_fails_when_redis_is_unreachable(client: Any, app: Any) -> None:
    previous = app.config["REDIS_URL"]
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/readyz")
    finally:
        app.config["REDIS_URL"] = previous
    assert response.status_code == 503 and response.get_json()["checks"]["redis"].startswith("error")


def test_request_logs_are_json_with_request_id_and_no_patient_data(
    client: Any, login_as: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from tests import factories

    login_as("doctor")
    handler = logging.getLogger("infirmary").handlers[0]
    caplog.set_level(logging.INFO, logger="infirmary.request")
    logging.getLogger("infirmary").setLevel(logging.INFO)
    try:
        client.get("/patients/?q=Zbigniew", headers={"X-Request-ID": "abc-123"})
    finally:
        logging.getLogger("infirmary").setLevel(logging.WARNING)
    records = [r for r in caplog.records if r.name == "infirmary.request"]
    assert records
    line = handler.format(records[-1])
    data = json.loads(line)
    assert data["request_id"] == "abc-123" and data["route"] == "/patients/" and data["status"] == 200
    assert "Zbigniew" not in line
    assert factories  # imported for parity with other tests
    assert audit.current_context.get().request_id is None  # reset after the request
