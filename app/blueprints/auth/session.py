"""Flask-Login wired to server-side sessions.

The signed cookie carries only a random session token (plus the CSRF token and flashes); the
`user_session` row decides whether it still works, so logout, disabling a user or an admin's
"end session" take effect on the very next request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.core.htmx import is_htmx
from app.domain.identity import services as identity
from app.extensions import db, login

END_MESSAGES = {
    "idle": "Your session ended after a period without activity. Sign in to carry on.",
    "expired": "Your session reached its maximum length. Sign in to carry on.",
    "revoked": "Your session was ended by an administrator.",
    "disabled": "Your account has been disabled.",
    "password_reset": "Your password was reset. Sign in with the temporary password.",
    "ended": "Your session has ended. Sign in to carry on.",
}


def safe_next(target: str | None) -> str | None:
    """Only same-site paths, so a crafted link cannot bounce a user to another site."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def init_login(app: Flask) -> None:
    login.session_protection = None  # the server-side session is the protection
    login.login_view = "auth.login"

    @login.user_loader
    def _load(user_id: str):
        try:
            uid = int(user_id)
        except ValueError:
            return None
        user, why = identity.resume_session(db.session, session.get("sid"), uid)
        if user is None:
            g.session_end_reason = why
            session.pop("_user_id", None)
            session.pop("sid", None)
            db.session.commit()  # keep the expiry mark and its audit row
        elif db.session.dirty:
            # Only when last-seen moved: a commit expires the user, and reloading it with its
            # roles and wards would cost every request three more queries.
            db.session.commit()
        return user

    @login.unauthorized_handler
    def _unauthorized():
        why = g.pop("session_end_reason", None)
        if why:
            flash(_(END_MESSAGES.get(why, END_MESSAGES["ended"])), "warning")
        if is_htmx():
            current = request.headers.get("HX-Current-URL", "")
            parts = urlsplit(current)
            back = safe_next(parts.path + (f"?{parts.query}" if parts.query else "")) if current else None
            response = app.response_class("", 401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=back)
            return response
        back = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=safe_next(back)))

    @app.before_request
    def _force_password_change():
        if request.endpoint in {"static", "auth.change_password", "auth.logout", None} or (
            request.endpoint or ""
        ).startswith("main.health"):
            return None
        if current_user.is_authenticated and current_user.must_change_password:
            if is_htmx():
                response = app.response_class("", 200)
                response.headers["HX-Redirect"] = url_for("auth.change_password")
                return response
            return redirect(url_for("auth.change_password"))
        return None
