"""A long printout from the browser's side: ask, poll until ready, download; only the person who
asked sees it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core import clock
from app.core.audit import AuditEvent
from app.domain.identity.models import User
from app.domain.printing.models import PrintJob
from app.jobs.runner import tick
from tests import factories, pdf_tools


@pytest.fixture()
def inline(app: Any, monkeypatch: Any) -> None:
    """The embedded default: no Redis, so a scheduler pass renders due print jobs in-process."""
    monkeypatch.setitem(app.config, "REDIS_URL", "")


def _ask(client: Any, htmx: bool = True, **filter_: str) -> Any:
    return client.post_form("/audit/export.pdf", filter_, htmx=htmx)


def _job_id(body: str) -> int:
    match = re.search(r'id="print-job-(\d+)"', body)
    assert match, body
    return int(match.group(1))


def test_ask_poll_and_download(app: Any, client: Any, login_as: Any, db_session: Any, inline: None) -> None:
    w = factories.ward(db_session)
    wang = factories.admitted(db_session, w, factories.patient(db_session, family="王", given="秀英"))
    db_session.commit()
    auditor = login_as("auditor")
    auditor_id, auditor_label = auditor.id, auditor.label  # the scheduler pass ends this session
    asked = _ask(client, mrn=wang.mrn)
    assert asked.status_code == 202
    body = asked.get_data(as_text=True)
    job_id = _job_id(body)
    assert f'hx-get="/prints/{job_id}"' in body and 'hx-trigger="every 1s"' in body
    assert body.lstrip().startswith(f'<div id="print-job-{job_id}"')

    waiting = client.get_htmx(f"/prints/{job_id}")
    assert waiting.status_code == 200 and 'hx-trigger="every 1s"' in waiting.get_data(as_text=True)
    assert client.get(f"/prints/{job_id}/file").status_code == 409

    assert tick(app)["delivered"] >= 1

    ready = client.get_htmx(f"/prints/{job_id}").get_data(as_text=True)
    assert "hx-trigger" not in ready and 'data-status="done"' in ready  # the polling stops
    assert f'href="/prints/{job_id}/file"' in ready
    download = client.get(f"/prints/{job_id}/file")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"] == 'attachment; filename="audit-extract.pdf"'
    text = pdf_tools.text(download.get_data())
    assert "Audit extract" in text and "秀英" in text and f"Printed by {auditor_label}" in text
    actions = set(db_session.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == auditor_id)))
    assert {"audit.exported_pdf", "print.downloaded"} <= actions


def test_without_htmx_the_request_moves_to_a_page_that_polls(client: Any, login_as: Any, db_session: Any) -> None:
    login_as("auditor")
    asked = _ask(client, htmx=False, action="auth.")
    assert asked.status_code == 303
    page = client.get(asked.headers["Location"])
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in body and "Preparing Audit extract" in body
    assert 'hx-trigger="every 1s"' in body and "longer than usual" not in body
    with clock.freeze(clock.now() + timedelta(minutes=2)):
        later = client.get_htmx(asked.headers["Location"]).get_data(as_text=True)
    assert "longer than usual" in later and 'hx-trigger="every 1s"' in later  # still waiting


def test_only_the_person_who_asked_may_see_or_download(app: Any, client: Any, login_as: Any, db_session: Any, inline: None) -> None:
    login_as("auditor")
    job_id = _job_id(_ask(client).get_data(as_text=True))
    tick(app)
    client.post_form("/logout")
    login_as("auditor")
    assert client.get_htmx(f"/prints/{job_id}").status_code == 403
    assert client.get(f"/prints/{job_id}").status_code == 403
    assert client.get(f"/prints/{job_id}/file").status_code == 403
    assert client.get(f"/prints/{job_id + 1000}").status_code == 404


def test_a_bad_filter_answers_beside_its_field_and_queues_nothing(client: Any, login_as: Any, db_session: Any) -> None:
    login_as("auditor")
    refused = _ask(client, username="nobody")
    assert refused.status_code == 422
    assert refused.headers["HX-Retarget"] == "#audit-results"
    assert "No user has that username." in refused.get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(PrintJob)) == 0


def test_a_failed_job_says_so_and_stops_polling(app: Any, client: Any, login_as: Any, db_session: Any, inline: None) -> None:
    auditor = login_as("auditor")
    job_id = _job_id(_ask(client).get_data(as_text=True))
    # The job runs as the person who asked, as they are when it runs: here, briefly disabled.
    auditor.active = False
    db_session.commit()
    auditor_id = auditor.id
    tick(app)
    db_session.get(User, auditor_id).active = True
    db_session.commit()
    failed = client.get_htmx(f"/prints/{job_id}").get_data(as_text=True)
    assert 'data-status="failed"' in failed and "hx-trigger" not in failed
    assert "no longer active" in failed
    assert client.get(f"/prints/{job_id}/file").status_code == 409
