from __future__ import annotations

from datetime import datetime

from flask import Blueprint, current_app

from app.core import clock

bp = Blueprint("frontdesk", __name__, url_prefix="/frontdesk")


@bp.app_template_filter("desk_time")
def desk_time(value: datetime | None, fmt: str = "%H:%M") -> str:
    """A stored UTC time as the hospital's wall clock shows it."""
    if value is None:
        return ""
    return clock.to_local(value, current_app.config["HOSPITAL_TIMEZONE"]).strftime(fmt)


from app.blueprints.frontdesk import desk, queues, records  # noqa: E402,F401
