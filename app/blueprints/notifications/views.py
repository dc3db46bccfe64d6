from __future__ import annotations

from flask import Response, request
from flask_login import current_user

from app.blueprints.notifications import bp
from app.core.htmx import render
from app.core.security import Perm, require
from app.domain.notifications import services as notifications
from app.extensions import db


@bp.route("/")
@require(Perm.NOTIFICATIONS)
def list_notifications() -> Response:
    before = request.args.get("before", type=int)
    rows = notifications.for_user(db.session, current_user.id, before_id=before)
    return render("notifications/list.html", "notifications/_list.html", rows=rows)


@bp.route("/bell")
@require(Perm.NOTIFICATIONS)
def bell() -> Response:
    return render("notifications/_bell.html", "notifications/_bell.html")


@bp.route("/read", methods=["POST"])
@require(Perm.NOTIFICATIONS)
def mark_read() -> Response:
    notifications.mark_all_read(db.session, current_user.id)
    db.session.commit()
    rows = notifications.for_user(db.session, current_user.id)
    return render("notifications/list.html", "notifications/_list.html", rows=rows)


@bp.route("/<int:notification_id>/acknowledge", methods=["POST"])
@require(Perm.NOTIFICATIONS)
def acknowledge(notification_id: int) -> Response:
    row = notifications.acknowledge(db.session, current_user, notification_id)
    db.session.commit()
    return render("notifications/list.html", "notifications/_item.html", n=row)
