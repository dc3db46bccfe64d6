"""Redis stopped: pages keep working, due rows wait, and the backlog drains when Redis returns."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from sqlalchemy import select, text

from app.core import jobs
from app.core.jobs import DueJob
from app.extensions import db
from app.jobs.runner import tick
from tests.conftest import PASSWORD, Client, login
from tests.reliability.conftest import Databases
from tests.reliability.servers import (
    RedisServer,
    Worker,
    add_user,
    build_app,
    dispose_app,
    isolated_extensions,
)
from tests.reliability.support import KIND, MARKER_DDL

ROWS = 20


def _statuses(app) -> list[str]:
    with app.app_context():
        try:
            return list(db.session.scalars(select(DueJob.status).where(DueJob.kind == KIND)))
        finally:
            db.session.remove()


def test_redis_outage_pages_work_rows_wait_backlog_drains(
    tmp_path: Path, databases: Databases, redis_server: RedisServer
) -> None:
    database_url = databases.create("redis_outage")
    with isolated_extensions():
        app = build_app(tmp_path, database_url, redis_server.url)
        app.test_client_class = Client
        worker: Worker | None = None
        try:
            add_user(app, "dr.outage")
            add_user(app, "dr.guess")
            with app.app_context():
                db.session.execute(text(MARKER_DDL))
                for i in range(ROWS):
                    jobs.schedule(db.session, KIND, {"key": i})
                db.session.commit()
                db.session.remove()

            redis_server.stop()
            client = app.test_client()
            # Signing in uses the failure throttle, whose counts live in Redis.
            response = login(client, "dr.outage", PASSWORD)
            assert response.status_code == 303, response.get_data(as_text=True)[:2000]
            assert client.get("/").status_code == 200
            assert client.get("/healthz").status_code == 200
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.get_json()["checks"]["database"] == "ok"
            assert ready.get_json()["checks"]["redis"].startswith("error")
            # Wrong passwords are still refused, and still throttled (in this process meanwhile).
            guesser = Client(app)
            for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
                assert login(guesser, "dr.guess", "not the password").status_code == 422
            assert login(guesser, "dr.guess", "not the password").status_code == 429
            assert login(guesser, "dr.guess", PASSWORD).status_code == 429

            # The scheduler's pass fails and claims nothing: every row is still owed.
            with pytest.raises(redis.exceptions.ConnectionError):
                tick(app)
            assert _statuses(app) == ["pending"] * ROWS

            redis_server.start()
            counts = tick(app)
            assert counts["dispatched"] == ROWS
            assert client.get("/readyz").status_code == 200
            worker = Worker(tmp_path, database_url, redis_server.url, "worker-burst", burst=True)
            assert worker.wait(timeout=60) == 0, worker.output()
            assert _statuses(app) == ["done"] * ROWS, worker.output()
            with app.app_context():
                per_row = dict(db.session.execute(
                    text("SELECT row_key, count(*) FROM reliability_marker GROUP BY row_key")).all())
                db.session.remove()
            assert per_row == dict.fromkeys(range(ROWS), 1)
            assert client.get("/").status_code == 200
        finally:
            if worker is not None:
                worker.stop()
            dispose_app(app)
