"""PostgreSQL restarted: the very next request succeeds (the pool pre-pings its connections).

Always on a throwaway cluster of its own (never the suite's), so it also runs on the SQLite pass
wherever the PostgreSQL binaries are installed.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.extensions import db
from tests.conftest import PASSWORD, Client, create_database, login
from tests.reliability.servers import (
    PostgresServer,
    add_user,
    build_app,
    dispose_app,
    isolated_extensions,
)


def _server_started_at(app) -> object:
    with app.app_context():
        try:
            return db.session.scalar(text("SELECT pg_postmaster_start_time()"))
        finally:
            db.session.remove()


def test_postgres_restart_next_request_succeeds(tmp_path: Path, own_postgres: PostgresServer) -> None:
    database_url = create_database(own_postgres.base_url(), "reliability_restart")
    with isolated_extensions():
        app = build_app(tmp_path, database_url)
        app.test_client_class = Client
        try:
            assert app.config["SQLALCHEMY_ENGINE_OPTIONS"].get("pool_pre_ping") is True
            add_user(app, "dr.restart")
            client = app.test_client()
            assert login(client, "dr.restart", PASSWORD).status_code == 303
            assert client.get("/").status_code == 200  # a pooled connection is now open
            before = _server_started_at(app)
            with app.app_context():
                pool = db.engine.pool
                assert pool.checkedin() >= 1  # type: ignore[attr-defined]

            own_postgres.restart()

            # The very next request, on a pool whose connections all died with the old server.
            response = client.get("/")
            assert response.status_code == 200, response.get_data(as_text=True)[:2000]
            assert client.get("/readyz").status_code == 200
            assert _server_started_at(app) != before  # it really was restarted
        finally:
            dispose_app(app)
