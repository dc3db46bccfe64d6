"""User and session administration for IT staff."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from app.blueprints.admin import bp
from app.blueprints.admin.forms import EndSessionForm, NewUserForm, ReasonForm, UserAccessForm
from app.core.errors import DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id
from app.domain.facilities.services import list_wards
from app.domain.identity import services as identity
from app.extensions import db


def _ward_choices(form: UserAccessForm) -> None:
    form.wards.choices = [SelectChoice(w.id, w.name) for w in list_wards(db.session)]


def _apply_error(form: UserAccessForm, exc: DomainError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)


@bp.route("/users")
@require(Perm.ADMIN_USERS)
def list_users() -> Response:
    users = identity.list_users(db.session, current_user)
    return render("admin/users.html", users=users, open_counts=identity.open_session_counts(db.session))


@bp.route("/users/new", methods=["GET", "POST"])
@require(Perm.ADMIN_USERS)
def create_user() -> Response:
    form = NewUserForm()
    _ward_choices(form)
    if request.method == "GET":
        return render("admin/user_new.html", form=form)
    if form.validate_on_submit():
        try:
            user, temp = identity.create_user(
                db.session, current_user,
                username=form.username.data or "", full_name=form.full_name.data or "",
                roles=form.roles.data or [], ward_ids=form.wards.data or [],
            )
        except DomainError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            return render("admin/user_created.html", user=user, temp_password=temp)
    return invalid("admin/user_new.html", "admin/_user_form.html", form=form, is_new=True)


def _edit_page(user: identity.User, form: UserAccessForm | None = None,
               reason_form: ReasonForm | None = None, action: str | None = None) -> Response:
    """The user page; with a failed form it answers 422, errors beside their fields."""
    failed = form is not None or reason_form is not None
    if form is None:
        form = UserAccessForm(formdata=None, obj=user)
        form.roles.data = sorted(user.role_keys)
        form.wards.data = sorted(user.ward_ids)
        form.version.data = str(user.version)
    _ward_choices(form)
    context: dict[str, Any] = {"form": form, "user": user, "reason_form": reason_form or ReasonForm(formdata=None),
               "failed_action": action, "sessions": identity.active_sessions(db.session, user.id)}
    if not failed:
        return render("admin/user_edit.html", **context)
    fragment = "admin/_reason_error.html" if reason_form is not None else "admin/_user_form.html"
    return invalid("admin/user_edit.html", fragment, **context)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@require(Perm.ADMIN_USERS)
def edit_user(user_id: int) -> Response:
    user = db.get_or_404(identity.User, user_id)
    if request.method == "GET":
        return _edit_page(user)
    form = UserAccessForm()
    _ward_choices(form)
    if form.validate_on_submit():
        try:
            identity.update_user(
                db.session, current_user, user.id, full_name=form.full_name.data or "",
                roles=form.roles.data or [], ward_ids=form.wards.data or [],
                expected_version=parse_id(form.version.data),
            )
        except DomainError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(_("Saved the changes to %(name)s.", name=user.full_name), "success")
            return redirect_to(url_for("admin.edit_user", user_id=user.id))
    return _edit_page(user, form=form)


def _reason_action(user_id: int, action: str) -> Response:
    user = db.get_or_404(identity.User, user_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return _edit_page(user, reason_form=form, action=action)
    reason = form.reason.data or ""
    try:
        if action == "disable":
            identity.set_user_active(db.session, current_user, user.id, False, reason)
            message = _("%(name)s is disabled and signed out everywhere.", name=user.full_name)
        elif action == "enable":
            identity.set_user_active(db.session, current_user, user.id, True, reason)
            message = _("%(name)s can sign in again.", name=user.full_name)
        elif action == "end_sessions":
            count = identity.end_all_sessions(db.session, current_user, user.id, reason)
            message = _("Ended %(count)d session(s) of %(name)s.", count=count, name=user.full_name)
        else:
            temp = identity.reset_password(db.session, current_user, user.id, reason)
            db.session.commit()
            return render("admin/user_created.html", user=user, temp_password=temp, reset=True)
    except DomainError as exc:
        db.session.rollback()
        form.reason.errors = [exc.message]
        return _edit_page(user, reason_form=form, action=action)
    db.session.commit()
    flash(message, "success")
    return redirect_to(url_for("admin.edit_user", user_id=user.id))


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@require(Perm.ADMIN_USERS)
def disable_user(user_id: int) -> Response:
    return _reason_action(user_id, "disable")


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@require(Perm.ADMIN_USERS)
def enable_user(user_id: int) -> Response:
    return _reason_action(user_id, "enable")


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@require(Perm.ADMIN_USERS)
def reset_password(user_id: int) -> Response:
    return _reason_action(user_id, "reset")


@bp.route("/users/<int:user_id>/end-sessions", methods=["POST"])
@require(Perm.ADMIN_SESSIONS)
def end_user_sessions(user_id: int) -> Response:
    return _reason_action(user_id, "end_sessions")


@bp.route("/sessions")
@require(Perm.ADMIN_SESSIONS)
def list_sessions() -> Response:
    return render("admin/sessions.html", sessions=identity.active_sessions(db.session), form=EndSessionForm())


@bp.route("/sessions/end", methods=["POST"])
@require(Perm.ADMIN_SESSIONS)
def end_session() -> Response:
    form = EndSessionForm()
    if not form.validate_on_submit():
        flash(_("Give a reason for ending the session."), "danger")
        return render("admin/sessions.html", "admin/_sessions_table.html", status=422,
                      sessions=identity.active_sessions(db.session), form=form)
    if form.session_id.data is None:
        abort(400)
    row = identity.end_session(db.session, current_user, form.session_id.data, form.reason.data or "")
    db.session.commit()
    flash(_("Ended the session of %(name)s.", name=row.user.full_name), "success")
    return render("admin/sessions.html", "admin/_sessions_table.html",
                  sessions=identity.active_sessions(db.session), form=EndSessionForm())


@bp.route("/jobs")
@require(Perm.ADMIN_JOBS)
def list_jobs() -> Response:
    from app.domain.oversight import jobs_status

    return render("admin/jobs.html", "admin/_jobs.html", info=jobs_status.collect(db.session))


@bp.route("/jobs/<int:row_id>/retry", methods=["POST"])
@require(Perm.ADMIN_JOBS)
def retry_job(row_id: int) -> Response:
    from app.core import jobs
    from app.domain.oversight import jobs_status

    row = jobs.retry_failed(db.session, current_user, row_id)
    db.session.commit()
    flash(_("Job %(id)s will run again.", id=row.id), "success")
    return render("admin/jobs.html", "admin/_jobs.html", info=jobs_status.collect(db.session))
