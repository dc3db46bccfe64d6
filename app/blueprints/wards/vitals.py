"""Vital signs and NEWS2 (record, live preview, chart, SpO2 scale, entered in error), clinical
alerts (list, view, acknowledge) and the on-call rota."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.wards import bp
from app.core import clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import is_htmx, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id, parse_local_datetime
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import get_encounter
from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.identity.models import User
from app.domain.identity.services import users_with_role
from app.domain.observations import chart, rules
from app.domain.observations import services as vitals
from app.extensions import db

FIELDS = ("respiratory_rate", "spo2", "air_or_oxygen", "o2_flow", "systolic", "diastolic", "pulse",
          "consciousness", "temperature")


@bp.app_template_filter("vital")
def vital_filter(value: object, name: str) -> str:
    """A vital sign as staff read it (rules.display): `{{ value|vital('pulse') }}`."""
    return rules.display(name, value)


def _form_values() -> dict[str, str]:
    return {f: (request.form.get(f) or "")[:20] for f in FIELDS}


# --- recording -----------------------------------------------------------------------------------

def _record_page(encounter: Encounter, status: int = 200, **context: Any) -> Response:
    context.setdefault("values", {})
    context.setdefault("errors", {})
    context.setdefault("flags", [])
    context.setdefault("preview", None)
    context.setdefault("taken_at", "")
    latest = vitals.latest_by_encounter(db.session, [encounter.id]).get(encounter.id)
    return render("wards/vitals_record.html", "wards/_vitals_form.html", status=status,
                  encounter=encounter, latest=latest, labels=rules.LABELS, acvpu=rules.ACVPU,
                  **context)


@bp.route("/encounters/<int:encounter_id>/vitals", methods=["GET", "POST"])
@require(Perm.VITALS_RECORD)
def record_vitals(encounter_id: int) -> Response:
    """The observation form (NEWS2 order, keyboard first); saving shows the score, its band
    and the escalation it sent. Impossible values: 422 beside the field; unusual: confirm."""
    encounter = get_encounter(db.session, current_user, encounter_id, Perm.VITALS_RECORD)
    if request.method == "GET":
        return _record_page(encounter)
    values = _form_values()
    taken_raw = (request.form.get("taken_at") or "")[:20]
    try:
        checked = vitals.check_values(values)
    except vitals.InvalidVitals as exc:
        return _record_page(encounter, 422, values=values, errors=exc.errors, taken_at=taken_raw)
    if checked.flags and request.form.get("confirm_unusual") != "1":
        return _record_page(encounter, 422, values=values, flags=checked.flags, taken_at=taken_raw,
                            preview=rules.score_set(checked.values, encounter.spo2_scale or 1),
                            flagged=checked.flagged_fields)
    try:
        taken_at = parse_local_datetime(taken_raw, "taken_at")
        vs = vitals.record_vitals(db.session, current_user, encounter.id, values, taken_at=taken_at)
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        errors = getattr(exc, "errors", None) or {exc.field or "form": exc.message}
        return _record_page(encounter, 422, values=values, errors=errors, taken_at=taken_raw)
    alert = vitals.open_news2_alert(db.session, encounter.id)
    # The header above the form is re-drawn from the newest set (this one, unless it was a
    # late entry of an older time), so the page never shows the previous set as the last.
    latest = vitals.latest_by_encounter(db.session, [encounter.id]).get(encounter.id)
    still_open = alert is not None and vitals.chain_for(vs) is None
    db.session.commit()
    chain = escalation.CHAINS.get(alert.chain) if alert is not None else None
    return render("wards/vitals_saved.html", "wards/_vitals_saved.html", encounter=encounter, vs=vs,
                  alert=alert, alert_still_open=still_open, chain=chain, latest=latest,
                  header_oob=is_htmx(), values=vitals.values_of(vs), scores=vitals.scores_of(vs),
                  labels=rules.LABELS, acvpu=rules.ACVPU)


@bp.route("/encounters/<int:encounter_id>/vitals/preview", methods=["POST"])
@require(Perm.VITALS_RECORD)
def preview_news2(encounter_id: int) -> Response:
    """The NEWS2 points per parameter as the nurse types (nothing is saved); a value that cannot
    be right answers 422 with its message, the rest still scored."""
    encounter = get_encounter(db.session, current_user, encounter_id, Perm.VITALS_RECORD)
    values = _form_values()
    errors: dict[str, str] = {}
    preview = None
    flags: list[str] = []
    try:
        checked = rules.check(values)
        preview = rules.score_set(checked.values, encounter.spo2_scale or 1)
        flags = checked.flags
    except rules.ImplausibleVitals as exc:
        errors = exc.errors
        # Score what can be scored, so the nurse still sees the rest of the set.
        keep = {k: v for k, v in values.items() if k not in errors and not (
            k == "o2_flow" and "air_or_oxygen" in errors)}
        try:
            preview = rules.score_set(rules.check(keep, require_flow=False).values, encounter.spo2_scale or 1)
        except rules.ImplausibleVitals:
            preview = None
    return render("wards/_vitals_preview.html", "wards/_vitals_preview.html", status=422 if errors else 200,
                  preview=preview, errors=errors, flags=flags, labels=rules.LABELS, encounter=encounter)


# --- chart, scale, entered in error -----------------------------------------------------------------

def _chart_page(encounter_id: int, status: int = 200, **context: Any) -> Response:
    period = request.values.get("period", "72h")
    if period not in vitals.PERIODS:
        period = "72h"
    data = vitals.chart_series(db.session, current_user, encounter_id, period)
    now = clock.now()
    start = data.since or (data.sets[0].taken_at if data.sets else now - timedelta(hours=24))
    start = min(start, data.encounter.started_at) if data.since is None else start
    rows = [(vs.taken_at, vitals.values_of(vs), vs.news2_total) for vs in data.sets]
    fmt = "%d %b %H:%M"
    tz = clock.hospital_timezone()
    labels = (clock.to_local(start, tz).strftime(fmt), clock.to_local(now, tz).strftime(fmt))
    panels = chart.chart_svgs(rows, start, now, labels)
    return render("wards/vitals_chart.html", status=status, encounter=data.encounter, data=data,
                  panels=panels, period=period, periods=list(vitals.PERIODS), values_of=vitals.values_of,
                  scores_of=vitals.scores_of, labels=rules.LABELS, fields=FIELDS,
                  scale_errors=context.pop("scale_errors", {}), eie_errors=context.pop("eie_errors", {}),
                  **context)


@bp.route("/encounters/<int:encounter_id>/vitals/chart")
@require(Perm.WARD_VIEW)
def chart_vitals(encounter_id: int) -> Response:
    """Trend of each parameter and the NEWS2 total (server-drawn SVG), and the sets below;
    `period` is 24h, 72h, 7d or all."""
    return _chart_page(encounter_id)


@bp.route("/encounters/<int:encounter_id>/spo2-scale", methods=["POST"])
@require(Perm.SPO2_SCALE)
def set_spo2_scale(encounter_id: int) -> Response:
    """A clinician sets the NEWS2 SpO2 scale for this admission (with the reason)."""
    scale = parse_id(request.form.get("scale"))
    try:
        vitals.set_spo2_scale(db.session, current_user, encounter_id, scale or 0,
                              (request.form.get("reason") or "")[:500])
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        return _chart_page(encounter_id, 422, scale_errors={exc.field or "scale": exc.message})
    db.session.commit()
    flash(_("SpO₂ scale set to %(n)d.", n=scale or 0), "success")
    return redirect_to(url_for("wards.chart_vitals", encounter_id=encounter_id))


@bp.route("/vitals/<int:vital_signs_id>/entered-in-error", methods=["POST"])
@require(Perm.VITALS_RECORD)
def vitals_entered_in_error(vital_signs_id: int) -> Response:
    """Withdraw a set recorded by mistake (kept, struck through, with the reason). No reason:
    422, the chart again with the message beside that set's reason box."""
    try:
        vs = vitals.mark_entered_in_error(db.session, current_user, vital_signs_id,
                                          (request.form.get("reason") or "")[:500])
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        found = db.session.get(vitals.VitalSigns, vital_signs_id)
        if found is None or found.encounter_id is None:
            raise
        return _chart_page(found.encounter_id, 422, eie_errors={found.id: exc.message})
    db.session.commit()
    flash(_("The set was marked as entered in error."), "success")
    return redirect_to(url_for("wards.chart_vitals", encounter_id=vs.encounter_id))


# --- alerts ----------------------------------------------------------------------------------------

@bp.route("/alerts")
@require(Perm.WARD_VIEW)
def list_alerts() -> Response:
    """Open alerts that reached me or are on my wards (refreshes live on `alert.updated`)."""
    alerts = escalation.alerts_for(db.session, current_user)
    return render("wards/alerts.html", "wards/_alerts.html", alerts=alerts, chains=escalation.CHAINS)


@bp.route("/alerts/<int:alert_id>")
@require(Perm.WARD_VIEW)
def view_alert(alert_id: int) -> Response:
    """One alert: what, who it has reached, and Acknowledge."""
    alert = escalation.get_alert(db.session, current_user, alert_id)
    return _alert_page(alert)


def _alert_page(alert: Alert, status: int = 200, problem: str | None = None) -> Response:
    wanted = [*(alert.recipient_ids or []), alert.acknowledged_by_id or 0]
    names = {uid: name for uid, name in db.session.execute(
        select(User.id, User.full_name).where(User.id.in_(wanted)))}
    chain = escalation.CHAINS.get(alert.chain, ())
    encounter = db.session.get(Encounter, alert.encounter_id) if alert.encounter_id else None
    # A NEWS2 alert stays open after a calmer set: whoever acknowledges sees that newest set.
    newest = None
    if encounter is not None and alert.kind == vitals.NEWS2_KIND and alert.unresolved:
        newest = vitals.latest_by_encounter(db.session, [encounter.id]).get(encounter.id)
    return render("wards/alert.html", "wards/_alert.html", status=status, alert=alert, chain=chain,
                  names=names, encounter=encounter, problem=problem, newest=newest)


@bp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@require(Perm.VITALS_RECORD)
def acknowledge_alert(alert_id: int) -> Response:
    """I take this alert on: it stops escalating. The form carries the chain and level I was
    shown: if it moved on meanwhile (NEWS2 medium -> high), 409 and the alert as it is now, to
    acknowledge again."""
    seen_level = request.form.get("level")
    try:
        alert = escalation.acknowledge_alert(
            db.session, current_user, alert_id, seen_chain=(request.form.get("chain") or None),
            seen_level=int(seen_level) if seen_level and seen_level.isdigit() else None)
    except Conflict as exc:
        db.session.rollback()
        return _alert_page(escalation.get_alert(db.session, current_user, alert_id), 409, exc.message)
    db.session.commit()
    flash(_("Alert acknowledged."), "success")
    return _alert_page(alert)


# --- on-call rota ------------------------------------------------------------------------------------

def _rota_page(status: int = 200, **context: Any) -> Response:
    zone = ZoneInfo(clock.hospital_timezone())
    today = clock.now().astimezone(zone).date()
    since = datetime.combine(today, datetime.min.time(), zone)
    shifts = escalation.rota(db.session, clock.to_utc(since), clock.to_utc(since + timedelta(days=8)))
    doctors = users_with_role(db.session, "doctor")
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return render("wards/oncall.html", "wards/_oncall.html", status=status, shifts=shifts,
                  doctors=doctors, teams=escalation.team_labels(),
                  names={d.id: d.full_name for d in doctors}, **context)


@bp.route("/on-call", methods=["GET", "POST"])
@require(Perm.ON_CALL_MANAGE)
def on_call_rota() -> Response:
    """Who is on call for each team this week; add a shift."""
    if request.method == "GET":
        return _rota_page()
    form = {k: (request.form.get(k) or "")[:40] for k in ("team", "user_id", "starts_at", "ends_at")}
    try:
        starts = parse_local_datetime(form["starts_at"], "starts_at")
        ends = parse_local_datetime(form["ends_at"], "ends_at")
        if starts is None:
            raise DomainError(_("Enter when the shift starts."), field="starts_at")
        if ends is None:
            raise DomainError(_("Enter when the shift ends."), field="ends_at")
        escalation.add_shift(db.session, current_user, team=form["team"],
                             user_id=parse_id(form["user_id"]) or 0, starts_at=starts, ends_at=ends)
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        return _rota_page(422, form=form, errors={exc.field or "team": exc.message})
    db.session.commit()
    flash(_("Shift added to the rota."), "success")
    return redirect_to(url_for("wards.on_call_rota"))


@bp.route("/on-call/<int:shift_id>/remove", methods=["POST"])
@require(Perm.ON_CALL_MANAGE)
def remove_on_call_shift(shift_id: int) -> Response:
    """Take a shift off the rota, with the reason."""
    try:
        escalation.remove_shift(db.session, current_user, shift_id, (request.form.get("reason") or "")[:500])
    except DomainError as exc:
        db.session.rollback()
        if exc.status_code != 422:
            raise
        return _rota_page(422, errors={f"remove-{shift_id}": exc.message})
    db.session.commit()
    flash(_("Shift removed."), "success")
    return redirect_to(url_for("wards.on_call_rota"))
