from __future__ import annotations

from flask import Response, current_app, jsonify
from flask_login import current_user
from sqlalchemy import text

from app.blueprints.main import bp
from app.core.htmx import render
from app.core.security import ROLE_LABELS, Perm, public, require
from app.domain.facilities.services import list_wards
from app.extensions import db


@bp.route("/")
@require(Perm.DASHBOARD)
def dashboard() -> Response:
    wards = list_wards(db.session, current_user.ward_ids) if current_user.ward_ids else []
    roles = [ROLE_LABELS[r] for r in sorted(current_user.role_keys)]
    return render("main/dashboard.html", wards=wards, roles=roles)


@bp.route("/healthz")
@public
def healthz() -> Response:
    """The process is alive. Touches nothing else, so a slow database never restarts us."""
    return jsonify(status="ok")


@bp.route("/readyz")
@public
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database answers, and Redis where it is configured."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = f"error: {type(exc).__name__}"
    url = current_app.config.get("REDIS_URL")
    if url:
        import redis

        try:
            redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["redis"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if ok else "unavailable", checks=checks), 200 if ok else 503
