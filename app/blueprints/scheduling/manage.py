"""Clinic set-up pages: clinics, resources, appointment types, weekly templates, holidays and
closures. Held by SCHEDULE_MANAGE (see docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from app.blueprints.scheduling import bp
from app.blueprints.scheduling.forms import (
    ClinicForm,
    ClosureForm,
    ConfirmForm,
    EndTemplateForm,
    HolidayForm,
    ResourceForm,
    TemplateForm,
    TypeForm,
)
from app.core import clock
from app.core.errors import DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.domain.identity import services as identity
from app.domain.scheduling import availability
from app.domain.scheduling import configuration as conf
from app.domain.scheduling.rules import local_instant, wall_time_exists
from app.extensions import db


def _clinic_choices(blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank)] + [SelectChoice(c.id, c.name) for c in conf.list_clinics(db.session)]


def _resource_choices(blank: str) -> list[SelectChoice]:
    kinds = {"clinician": _("clinician"), "room": _("room"), "equipment": _("equipment")}
    return [SelectChoice("", blank)] + [
        SelectChoice(r.id, f"{r.name} ({kinds.get(r.kind, r.kind)})")
        for r in conf.list_resources(db.session, active_only=True)
    ]


def _save(form: FlaskForm, action: Callable[[], Any], done: str, page: Callable[..., Response],
          message: Callable[[Any], str]) -> Response:
    """Validate, call the domain, commit and move on; or answer 422 with errors by the field."""
    if form.validate_on_submit():
        try:
            result = action()
        except DomainError as exc:
            db.session.rollback()
            form.show_error(exc)
        else:
            db.session.commit()
            flash(message(result), "success")
            return redirect_to(done)
    return page(form, failed=True)


@bp.route("/manage/")
@require(Perm.SCHEDULE_MANAGE)
def manage_schedule() -> Response:
    return render("scheduling/manage/index.html",
                  counts={"clinics": len(conf.list_clinics(db.session)),
                          "resources": len(conf.list_resources(db.session)),
                          "types": len(conf.list_types(db.session)),
                          "templates": len(conf.list_templates(db.session)),
                          "holidays": len(conf.list_holidays(db.session, since=clock.now().date())),
                          "closures": len(conf.list_closures(db.session))})


# ---- clinics ------------------------------------------------------------------------------------

def _clinics_page(form: ClinicForm | None = None, failed: bool = False) -> Response:
    context: dict[str, Any] = {"form": form or ClinicForm(formdata=None), "clinics": conf.list_clinics(db.session)}
    if failed:
        return invalid("scheduling/manage/clinics.html", "scheduling/manage/_clinic_form.html", **context)
    return render("scheduling/manage/clinics.html", **context)


@bp.route("/manage/clinics")
@require(Perm.SCHEDULE_MANAGE)
def manage_clinics() -> Response:
    return _clinics_page()


@bp.route("/manage/clinics", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def create_clinic() -> Response:
    form = ClinicForm()
    return _save(form, lambda: conf.create_clinic(
        db.session, current_user, code=form.code.data or "", name=form.name.data or "",
        department=form.department.data or ""),
        url_for("scheduling.manage_clinics"), _clinics_page, lambda c: _("Added the clinic %(name)s.", name=c.name))


# ---- resources ----------------------------------------------------------------------------------

def _resource_choices_for(form: ResourceForm) -> None:
    form.clinic_id.choices = _clinic_choices(_("None"))
    users: list[SelectChoice] = [SelectChoice("", _("None"))]
    if current_user.has_perm(Perm.ADMIN_USERS):
        users += [SelectChoice(u.id, f"{u.full_name} ({u.username})")
                  for u in identity.list_users(db.session, current_user) if u.active]
    form.user_id.choices = users


def _resources_page(form: ResourceForm | None = None, failed: bool = False) -> Response:
    form = form or ResourceForm(formdata=None)
    _resource_choices_for(form)
    context: dict[str, Any] = {"form": form, "resources": conf.list_resources(db.session)}
    if failed:
        return invalid("scheduling/manage/resources.html", "scheduling/manage/_resource_form.html", **context)
    return render("scheduling/manage/resources.html", **context)


@bp.route("/manage/resources")
@require(Perm.SCHEDULE_MANAGE)
def manage_resources() -> Response:
    return _resources_page()


@bp.route("/manage/resources", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def create_resource() -> Response:
    form = ResourceForm()
    _resource_choices_for(form)
    return _save(form, lambda: conf.create_resource(
        db.session, current_user, kind=form.kind.data or "", name=form.name.data or "",
        clinic_id=form.clinic_id.data, user_id=form.user_id.data),
        url_for("scheduling.manage_resources"), _resources_page, lambda r: _("Added %(name)s.", name=r.name))


@bp.route("/manage/resources/<int:resource_id>", methods=["GET", "POST"])
@require(Perm.SCHEDULE_MANAGE)
def edit_resource(resource_id: int) -> Response:
    resource = conf.get_resource(db.session, resource_id)

    def page(form: ResourceForm | None = None, failed: bool = False) -> Response:
        if form is None:
            form = ResourceForm(formdata=None, obj=resource)
            form.active.data = "1" if resource.active else "0"
        _resource_choices_for(form)
        context: dict[str, Any] = {"form": form, "resource": resource}
        if failed:
            return invalid("scheduling/manage/resource_edit.html", "scheduling/manage/_resource_form.html", **context)
        return render("scheduling/manage/resource_edit.html", **context)

    if request.method == "GET":
        return page()
    form = ResourceForm()
    _resource_choices_for(form)
    return _save(form, lambda: conf.update_resource(
        db.session, current_user, resource.id, name=form.name.data or "", clinic_id=form.clinic_id.data,
        user_id=form.user_id.data, active=form.active.data == "1"),
        url_for("scheduling.manage_resources"), page, lambda r: _("Saved %(name)s.", name=r.name))


# ---- appointment types --------------------------------------------------------------------------

def _types_page(form: TypeForm | None = None, failed: bool = False) -> Response:
    form = form or TypeForm(formdata=None)
    form.clinic_id.choices = _clinic_choices(_("Any clinic"))
    context: dict[str, Any] = {"form": form, "types": conf.list_types(db.session)}
    if failed:
        return invalid("scheduling/manage/types.html", "scheduling/manage/_type_form.html", **context)
    return render("scheduling/manage/types.html", **context)


@bp.route("/manage/types")
@require(Perm.SCHEDULE_MANAGE)
def manage_types() -> Response:
    return _types_page()


@bp.route("/manage/types", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def create_type() -> Response:
    form = TypeForm()
    form.clinic_id.choices = _clinic_choices(_("Any clinic"))
    return _save(form, lambda: conf.create_appointment_type(
        db.session, current_user, code=form.code.data or "", name=form.name.data or "",
        slot_minutes=form.slot_minutes.data, needs=form.needs.data or [], clinic_id=form.clinic_id.data),
        url_for("scheduling.manage_types"), _types_page, lambda t: _("Added %(name)s.", name=t.name))


@bp.route("/manage/types/<int:type_id>", methods=["GET", "POST"])
@require(Perm.SCHEDULE_MANAGE)
def edit_type(type_id: int) -> Response:
    appointment_type = conf.get_type(db.session, type_id)

    def page(form: TypeForm | None = None, failed: bool = False) -> Response:
        if form is None:
            form = TypeForm(formdata=None, obj=appointment_type)
            form.needs.data = appointment_type.needs.split(",")
            form.active.data = "1" if appointment_type.active else "0"
        form.clinic_id.choices = _clinic_choices(_("Any clinic"))
        context: dict[str, Any] = {"form": form, "appointment_type": appointment_type}
        if failed:
            return invalid("scheduling/manage/type_edit.html", "scheduling/manage/_type_form.html", **context)
        return render("scheduling/manage/type_edit.html", **context)

    if request.method == "GET":
        return page()
    form = TypeForm()
    form.clinic_id.choices = _clinic_choices(_("Any clinic"))
    return _save(form, lambda: conf.update_appointment_type(
        db.session, current_user, appointment_type.id, name=form.name.data or "",
        slot_minutes=form.slot_minutes.data, needs=form.needs.data or [], clinic_id=form.clinic_id.data,
        active=form.active.data == "1"),
        url_for("scheduling.manage_types"), page, lambda t: _("Saved %(name)s.", name=t.name))


# ---- weekly templates ---------------------------------------------------------------------------

def _template_choices(form: TemplateForm) -> None:
    form.resource_id.choices = _resource_choices(_("Choose…"))
    form.clinic_id.choices = _clinic_choices(_("Choose…"))
    form.type_ids.choices = [SelectChoice(t.id, f"{t.name} ({t.slot_minutes} min)")
                             for t in conf.list_types(db.session, active_only=True)]


def _templates_page(form: TemplateForm | None = None, failed: bool = False,
                    end_errors: dict[int, str] | None = None) -> Response:
    form = form or TemplateForm(formdata=None, valid_from=clock.now().astimezone(availability.hospital_tz()).date())
    _template_choices(form)
    context: dict[str, Any] = {"form": form, "templates": conf.list_templates(db.session), "weekdays": conf.WEEKDAYS,
               "end_form": EndTemplateForm(formdata=None), "end_errors": end_errors or {}}
    if end_errors:
        return invalid("scheduling/manage/templates.html", "scheduling/manage/_templates_table.html", **context)
    if failed:
        return invalid("scheduling/manage/templates.html", "scheduling/manage/_template_form.html", **context)
    return render("scheduling/manage/templates.html", **context)


@bp.route("/manage/templates")
@require(Perm.SCHEDULE_MANAGE)
def manage_templates() -> Response:
    return _templates_page()


@bp.route("/manage/templates", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def create_templates() -> Response:
    form = TemplateForm()
    _template_choices(form)
    return _save(form, lambda: conf.create_templates(
        db.session, current_user, resource_id=form.resource_id.data, clinic_id=form.clinic_id.data,
        weekdays=form.weekdays.data or [], start_time=form.start_time.data, end_time=form.end_time.data,
        valid_from=form.valid_from.data, valid_to=form.valid_to.data, type_ids=form.type_ids.data or []),
        url_for("scheduling.manage_templates"), _templates_page,
        lambda made: ngettext("Added %(num)d weekly session.", "Added %(num)d weekly sessions.", len(made)))


@bp.route("/manage/templates/<int:template_id>/end", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def end_template(template_id: int) -> Response:
    form = EndTemplateForm()
    if form.validate_on_submit():
        try:
            conf.end_template(db.session, current_user, template_id, form.last_day.data)
        except DomainError as exc:
            db.session.rollback()
            return _templates_page(end_errors={template_id: exc.message})
        db.session.commit()
        flash(_("The weekly session ends as asked. Booked appointments are kept."), "success")
        return redirect_to(url_for("scheduling.manage_templates"))
    return _templates_page(end_errors={template_id: _("Enter the last day the session runs.")})


# ---- holidays -----------------------------------------------------------------------------------

def _holidays_page(form: HolidayForm | None = None, failed: bool = False) -> Response:
    context: dict[str, Any] = {"form": form or HolidayForm(formdata=None),
               "holidays": conf.list_holidays(db.session, since=clock.now().date() - timedelta(days=31)),
               "confirm": ConfirmForm(formdata=None)}
    if failed:
        return invalid("scheduling/manage/holidays.html", "scheduling/manage/_holiday_form.html", **context)
    return render("scheduling/manage/holidays.html", **context)


@bp.route("/manage/holidays")
@require(Perm.SCHEDULE_MANAGE)
def manage_holidays() -> Response:
    return _holidays_page()


@bp.route("/manage/holidays", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def add_holiday() -> Response:
    form = HolidayForm()
    return _save(form, lambda: conf.add_holiday(db.session, current_user, day=form.day.data, name=form.name.data or ""),
                 url_for("scheduling.manage_holidays"), _holidays_page,
                 lambda h: _("%(name)s: no clinic runs that day.", name=h.name))


@bp.route("/manage/holidays/<int:holiday_id>/remove", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def remove_holiday(holiday_id: int) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _holidays_page()
    conf.remove_holiday(db.session, current_user, holiday_id)
    db.session.commit()
    flash(_("Holiday removed: clinics run that day as usual."), "success")
    return redirect_to(url_for("scheduling.manage_holidays"))


# ---- closures -----------------------------------------------------------------------------------

def _closure_choices(form: ClosureForm) -> None:
    form.resource_id.choices = _resource_choices("—")
    form.clinic_id.choices = _clinic_choices("—")


def _closures_page(form: ClosureForm | None = None, failed: bool = False) -> Response:
    form = form or ClosureForm(formdata=None)
    _closure_choices(form)
    context: dict[str, Any] = {"form": form, "closures": conf.list_closures(db.session), "confirm": ConfirmForm(formdata=None),
               "tz": availability.hospital_tz()}
    if failed:
        return invalid("scheduling/manage/closures.html", "scheduling/manage/_closure_form.html", **context)
    return render("scheduling/manage/closures.html", **context)


def _instant(day: date | None, at: time | None, field: str, default: time) -> datetime | None:
    if day is None:
        return None
    at = at or default
    tz = availability.hospital_tz()
    if not wall_time_exists(day, at, tz):
        raise DomainError(_("That time does not exist on that day: the clocks go forward."), field=field)
    return local_instant(day, at, tz)


@bp.route("/manage/closures")
@require(Perm.SCHEDULE_MANAGE)
def manage_closures() -> Response:
    return _closures_page()


@bp.route("/manage/closures", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def add_closure() -> Response:
    form = ClosureForm()
    _closure_choices(form)

    def add() -> tuple[Any, int]:
        start = _instant(form.start_day.data, form.start_time.data, "start_at", time(0))
        # No end time: closed to the end of that day.
        end_day = form.end_day.data
        if end_day is not None and form.end_time.data is None:
            end = _instant(end_day + timedelta(days=1), time(0), "end_at", time(0))
        else:
            end = _instant(end_day, form.end_time.data, "end_at", time(0))
        return conf.add_closure(db.session, current_user, resource_id=form.resource_id.data,
                                clinic_id=form.clinic_id.data, start_at=start, end_at=end,
                                reason=form.reason.data or "")

    def message(result: tuple[Any, int]) -> str:
        affected = result[1]
        if not affected:
            return _("Closure added. No booked appointment falls inside it.")
        return ngettext("Closure added. %(num)d booked appointment falls inside it: rebook it with the patient.",
                        "Closure added. %(num)d booked appointments fall inside it: rebook them with the patients.",
                        affected)

    return _save(form, add, url_for("scheduling.manage_closures"), _closures_page, message)


@bp.route("/manage/closures/<int:closure_id>/remove", methods=["POST"])
@require(Perm.SCHEDULE_MANAGE)
def remove_closure(closure_id: int) -> Response:
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _closures_page()
    conf.remove_closure(db.session, current_user, closure_id)
    db.session.commit()
    flash(_("Closure removed."), "success")
    return redirect_to(url_for("scheduling.manage_closures"))
