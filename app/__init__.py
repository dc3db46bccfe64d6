"""Infirmary: the hospital staff intranet."""

from __future__ import annotations

from typing import Any

from flask import Flask

from config import INSTANCE_DIR, build_config


def create_app(env: str | None = None, **overrides: Any) -> Flask:
    """Build the application: configuration, extensions, models, blueprints. Nothing else."""
    app = Flask(__name__, instance_path=str(overrides.get("INSTANCE_PATH", INSTANCE_DIR)))
    app.config.update(build_config(env, **overrides))

    from app import models  # noqa: F401  (registers every table and scope rule)
    from app.core import web
    from app.core.db import configure_sqlite
    from app.extensions import babel, csrf, db, htmx, limiter, login, migrate, socketio

    web.configure_logging(app)
    app.url_map.converters["int"] = web.IdConverter
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=str(app.root_path + "/../migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app)
    limiter.init_app(app)
    login.init_app(app)
    # With Redis, every web process and worker shares rooms through its pub/sub channel.
    socketio.init_app(app, message_queue=app.config["SOCKETIO_MESSAGE_QUEUE"] or None,
                      async_mode="threading", channel=app.config["SOCKETIO_CHANNEL"])
    # One SocketIO object serves every app in a process (tests make several); emits must go to
    # this app's server.
    app.extensions["infirmary_socketio_server"] = socketio.server

    web.init_request_plumbing(app)
    web.init_error_pages(app)

    from app.blueprints import register_blueprints
    from app.cli import register_cli
    from app.realtime import register_namespaces

    register_blueprints(app)
    register_namespaces()
    register_cli(app)
    return app


__all__ = ["create_app"]
