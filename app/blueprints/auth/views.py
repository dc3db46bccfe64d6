from __future__ import annotations

import io
import time
from typing import Any

import segno
from flask import Response, current_app, flash, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup

from app.blueprints.auth import bp
from app.blueprints.auth.forms import (
    ChangePasswordForm,
    DisableTotpForm,
    EnableTotpForm,
    LoginForm,
    TotpForm,
)
from app.blueprints.auth.session import safe_next
from app.core.errors import DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, public, require
from app.domain.identity import services as identity
from app.domain.identity import throttle
from app.domain.identity.models import User
from app.extensions import db

PENDING_2FA_SECONDS = 300


def _complete_login(user: User, username: str, next_url: str | None) -> Response:
    # A fresh cookie and a fresh server token: any token planted before login is useless.
    session.clear()
    token = identity.start_session(
        db.session, user, request.remote_addr, request.headers.get("User-Agent"), username
    )
    session["sid"] = token
    login_user(user)
    db.session.commit()
    if user.must_change_password:
        return redirect_to(url_for("auth.change_password", next=next_url))
    return redirect_to(next_url or url_for("main.dashboard"))


def _refused(form: LoginForm | TotpForm, exc: identity.LoginRefused, template: str) -> Response:
    db.session.commit()  # the failed attempt stays in the audit trail
    message = exc.message
    status = 422
    if exc.retry_at is not None:
        status = 429
        message = _("Too many failed sign-in attempts. You may try again at %(time)s.",
                    time=format_datetime(exc.retry_at, "HH:mm:ss"))
    form.form_errors.append(message)
    return render(f"auth/{template}.html", f"auth/_{template}_form.html", status=status, form=form)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response:
    if current_user.is_authenticated:
        return redirect_to(url_for("main.dashboard"))
    form = LoginForm(next=request.args.get("next", ""))
    if request.method == "GET":
        return render("auth/login.html", form=form)
    if not form.validate_on_submit():
        return invalid("auth/login.html", "auth/_login_form.html", form=form)
    ip = request.remote_addr or "-"
    try:
        user = identity.check_credentials(db.session, form.username.data or "", form.password.data or "", ip)
    except identity.LoginRefused as exc:
        return _refused(form, exc, "login")
    next_url = safe_next(form.next.data)
    if user.totp_enabled:
        db.session.commit()
        session["pending_2fa"] = {"user_id": user.id, "username": user.username,
                                  "next": next_url, "at": time.time()}
        return redirect_to(url_for("auth.login_verify"))
    return _complete_login(user, form.username.data or "", next_url)


@bp.route("/login/verify", methods=["GET", "POST"])
@public
def login_verify() -> Response:
    pending = session.get("pending_2fa")
    if not pending or time.time() - pending["at"] > PENDING_2FA_SECONDS:
        session.pop("pending_2fa", None)
        flash(_("Sign in again."), "warning")
        return redirect_to(url_for("auth.login"))
    form = TotpForm()
    if request.method == "GET":
        return render("auth/verify.html", form=form)
    if not form.validate_on_submit():
        return invalid("auth/verify.html", "auth/_verify_form.html", form=form)
    ip = request.remote_addr or "-"
    retry = throttle.retry_at(pending["username"], ip)
    user = db.session.get(User, pending["user_id"])
    if retry is not None:
        return _refused(form, identity.LoginRefused("", retry_at=retry), "verify")
    if user is None or not user.active or not identity.verify_totp(user, form.code.data or ""):
        throttle.record_failure(pending["username"], ip)
        form.code.errors = [_("That code is wrong or has expired.")]
        return invalid("auth/verify.html", "auth/_verify_form.html", form=form)
    session.pop("pending_2fa", None)
    return _complete_login(user, pending["username"], pending.get("next"))


@bp.route("/logout", methods=["POST"])
@require(Perm.ACCOUNT)
def logout() -> Response:
    identity.end_session_by_token(db.session, session.get("sid"))
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect_to(url_for("auth.login"))


@bp.route("/account")
@require(Perm.ACCOUNT)
def account() -> Response:
    return render("auth/account.html", **_account_context())


def _account_context(**extra: Any) -> dict[str, Any]:
    user = current_user._get_current_object()
    ctx: dict[str, Any] = {
        "password_form": ChangePasswordForm(),
        "may_totp": user.may_use_totp(tuple(current_app.config["TOTP_ROLES"])),
        "sessions": identity.active_sessions(db.session, user.id),
    }
    if ctx["may_totp"] and not user.totp_enabled:
        secret = identity.new_totp_secret()
        ctx["totp_form"] = EnableTotpForm(secret=secret)
        ctx["totp_secret"] = secret
        ctx["totp_qr"] = _qr_svg(identity.totp_uri(user, secret))
    elif user.totp_enabled:
        ctx["disable_totp_form"] = DisableTotpForm()
    ctx.update(extra)
    return ctx


def _qr_svg(data: str) -> Markup:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return Markup(buffer.getvalue().decode("utf-8"))  # noqa: S704 - segno SVG of our own URI


@bp.route("/account/password", methods=["GET", "POST"])
@require(Perm.ACCOUNT)
def change_password() -> Response:
    form = ChangePasswordForm()
    forced = current_user.must_change_password
    if request.method == "GET":
        return render("auth/change_password.html", form=form, forced=forced)
    if form.validate_on_submit():
        try:
            identity.change_own_password(
                db.session, current_user._get_current_object(),
                form.current_password.data or "", form.new_password.data or "",
                form.confirm_password.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            getattr(form, exc.field or "new_password").errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Your password has been changed."), "success")
            return redirect_to(safe_next(request.args.get("next")) or url_for("main.dashboard"))
    return invalid("auth/change_password.html", "auth/_change_password_form.html", form=form, forced=forced)


@bp.route("/account/totp", methods=["POST"])
@require(Perm.ACCOUNT)
def enable_totp() -> Response:
    form = EnableTotpForm()
    if form.validate_on_submit():
        try:
            identity.enable_totp(db.session, current_user._get_current_object(),
                                 form.secret.data or "", form.code.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.code.errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Two-step sign-in is on. You will be asked for a code at every sign-in."), "success")
            return redirect_to(url_for("auth.account"))
    ctx = _account_context(totp_form=form)
    ctx["totp_qr"] = _qr_svg(identity.totp_uri(current_user, form.secret.data or ""))
    ctx["totp_secret"] = form.secret.data
    return invalid("auth/account.html", "auth/_totp.html", **ctx)


@bp.route("/account/totp/disable", methods=["POST"])
@require(Perm.ACCOUNT)
def disable_totp() -> Response:
    form = DisableTotpForm()
    if form.validate_on_submit():
        try:
            identity.disable_totp(db.session, current_user._get_current_object(), form.password.data or "")
        except DomainError as exc:
            db.session.rollback()
            form.password.errors = [exc.message]
        else:
            db.session.commit()
            flash(_("Two-step sign-in is off."), "info")
            return redirect_to(url_for("auth.account"))
    return invalid("auth/account.html", "auth/_totp.html", **_account_context(disable_totp_form=form))
