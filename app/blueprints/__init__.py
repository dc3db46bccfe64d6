"""One web UI per department. Each view names its permission (see core.security.require)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from app.blueprints import admin, audit, auth, main, notifications, patients, prints, wards
    from app.blueprints.nav import init_nav

    for module in (main, auth, admin, audit, patients, wards, notifications, prints):
        app.register_blueprint(module.bp)
    from app.blueprints import registry

    app.register_blueprint(registry.bp)
    from app.blueprints import frontdesk

    app.register_blueprint(frontdesk.bp)
    from app.blueprints import scheduling

    app.register_blueprint(scheduling.bp)
    from app.blueprints import pharmacy, prescribing

    app.register_blueprint(prescribing.bp)
    app.register_blueprint(pharmacy.bp)
    auth.session.init_login(app)
    init_nav(app)
