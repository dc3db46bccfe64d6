"""Fixtures: a session-scoped app, one rolled-back transaction per test, real servers.

TEST_DATABASE_URL / TEST_REDIS_URL point the suite at PostgreSQL and Redis (scripts/test.sh
starts throwaway ones); without them it runs on a SQLite file and in-memory rate limits.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import create_engine, text
from sqlalchemy.orm import scoped_session, sessionmaker

from app import create_app
from app.core.security import SYSTEM
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.extensions import db, limiter

PASSWORD = "correct horse battery"


def database_url(tmp_dir: Path, name: str = "test") -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_dir / (name + '.sqlite3')}"
    if name == "test":
        return url
    # A second PostgreSQL database for tests that need committed data (browser, concurrency).
    base, _, dbname = url.rpartition("/")
    return create_database(base, f"{dbname}_{name}")


def create_database(server_url: str, name: str) -> str:
    """A fresh, empty database on the PostgreSQL server at server_url (an old one is dropped)."""
    engine = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{server_url}/{name}"


def run_together(app: Flask, work: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    """Run each callable in its own thread and session, all released at once; commit each."""
    start = threading.Barrier(len(work))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(fn: Callable[[], Any]) -> None:
        with app.app_context():
            try:
                start.wait()
                value = fn()
                db.session.commit()
                with lock:
                    results.append(value)
            except Exception as exc:  # noqa: BLE001 - inspected by the caller
                db.session.rollback()
                with lock:
                    errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def reset_schema(app: Flask) -> None:
    """Start from an empty database and build it with the real migrations."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        db.session.remove()


def make_app(tmp_dir: Path, name: str = "test", **overrides: Any) -> Flask:
    redis_url = os.environ.get("TEST_REDIS_URL", "")
    app = create_app(
        "test",
        DATABASE_URL=database_url(tmp_dir, name),
        REDIS_URL=redis_url,
        RATELIMIT_STORAGE_URI=redis_url or "memory://",
        # Flask-SocketIO's test client cannot use a message queue; real processes sharing rooms
        # through Redis are tested in tests/deploy and tests/reliability.
        SOCKETIO_MESSAGE_QUEUE=overrides.pop("SOCKETIO_MESSAGE_QUEUE", ""),
        INSTANCE_PATH=str(tmp_dir / f"instance-{name}"),
        **overrides,
    )
    reset_schema(app)
    return app


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("app"))
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def db_session(app: Flask) -> Iterator[scoped_session[Any]]:
    """Everything a test does, including commits by views, is rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        session = scoped_session(
            sessionmaker(bind=connection, join_transaction_mode="create_savepoint")
        )
        db.session = session  # type: ignore[assignment]
        try:
            yield session
        finally:
            session.remove()
            db.session = original
            transaction.rollback()
            connection.close()
            limiter.reset()


class Client(FlaskClient):
    """A test client that sends a valid CSRF token, as the real pages do."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        # The transactional fixture keeps one app context open for the whole test, so requests
        # would share `g` (and Flask-Login's cached user). Production gives each request a
        # fresh one; so do we.
        if has_app_context():
            g.__dict__.clear()
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        app = self.application
        with self.session_transaction() as sess:
            raw = sess.setdefault("csrf_token", os.urandom(20).hex())
        return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)  # type: ignore[arg-type]

    def post_form(self, url: str, data: dict[str, Any] | None = None, htmx: bool = False, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        headers["X-CSRFToken"] = self.csrf_token()
        if htmx:
            headers["HX-Request"] = "true"
        return self.post(url, data=data or {}, headers=headers, **kw)

    def get_htmx(self, url: str, **kw: Any) -> Any:
        return self.get(url, headers={"HX-Request": "true", **(kw.pop("headers", {}) or {})}, **kw)


@pytest.fixture()
def client(app: Flask, db_session: Any) -> FlaskClient:
    app.test_client_class = Client
    return app.test_client()


ON_POSTGRES = (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not ON_POSTGRES, reason="runs in the PostgreSQL pass"))])
def race_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """An app on its own database whose data is committed, for tests that race real sessions
    (`run_together`): on SQLite always, and on PostgreSQL in the PostgreSQL pass."""
    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    with pytest.MonkeyPatch.context() as mp:
        if request.param == "sqlite":
            mp.delenv("TEST_DATABASE_URL", raising=False)
        app = make_app(tmp_path_factory.mktemp(name), name=name)
    with app.app_context():
        assert db.engine.dialect.name == request.param
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture()
def socket_server(app: Flask) -> Iterator[None]:
    """Other tests create apps too: point the shared SocketIO object at this app's server."""
    from app.extensions import socketio

    previous = socketio.server
    socketio.server = app.extensions["infirmary_socketio_server"]
    yield
    socketio.server = previous


def live_events(sio: Any, wait: float = 2.0) -> list[dict[str, Any]]:
    """The /live events a Socket.IO test client has received; with a Redis message queue they
    arrive asynchronously, so wait up to `wait` seconds for the first."""
    deadline = time.monotonic() + wait
    got: list[dict[str, Any]] = []
    while True:
        got += [m["args"][0] for m in sio.get_received("/live") if m["name"] == "event"]
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


@pytest.fixture()
def make_user(db_session: Any) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def _make(role: str | list[str], ward_ids: list[int] | None = None, username: str | None = None,
              password: str = PASSWORD) -> User:
        roles = [role] if isinstance(role, str) else role
        name = username or f"{roles[0]}{next(counter)}"
        user, _ = identity.create_user(db_session, SYSTEM, username=name, full_name=name.title(),
                                       roles=roles, ward_ids=ward_ids or [], password=password)
        db_session.commit()
        return user

    return _make


def login(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post_form("/login", {"username": username, "password": password})


@pytest.fixture()
def login_as(client: Client, make_user: Callable[..., User]) -> Callable[..., User]:
    def _login(role: str | list[str], ward_ids: list[int] | None = None) -> User:
        user = make_user(role, ward_ids)
        response = login(client, user.username)
        assert response.status_code == 303, response.get_data(as_text=True)
        return user

    return _login


@pytest.fixture()
def htmx_client(client: Client) -> Client:
    return client


CSRF_RE = re.compile(r'"X-CSRFToken": "([^"]+)"')
