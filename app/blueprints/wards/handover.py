"""Shift handover pages: start or join a ward's handover, edit SBAR fields (saved over HTTP with
the version they were based on; a stale save answers 409 with the other nurse's text), accept
patients, close, print. Live updates arrive over the /handover namespace (app/realtime/handover.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, abort, jsonify, request, url_for
from flask_babel import format_datetime
from flask_login import current_user

from app.blueprints.wards import bp
from app.blueprints.wards.adt_forms import StartHandoverForm
from app.core.errors import Conflict, DomainError
from app.core.htmx import is_htmx, redirect_to, render
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.core.web import parse_version, place_error
from app.domain.facilities import services as places
from app.domain.facilities.models import Ward
from app.domain.handover import facts, printing, rules
from app.domain.handover import services as handover
from app.domain.handover.models import SBAR_FIELDS, HandoverEntry, HandoverField
from app.extensions import db


@dataclass(frozen=True)
class FieldView:
    name: str
    label: str
    text: str
    version: int
    saved_by: str | None
    saved_at: datetime | None


def _field_view(row: HandoverField, names: dict[int, str], text: str | None = None,
                version: int | None = None) -> FieldView:
    return FieldView(row.field, rules.FIELD_LABELS[row.field], row.text if text is None else text,
                     row.version if version is None else version,
                     names.get(row.updated_by_id) if row.updated_by_id else None, row.updated_at)


def _fields(entry: HandoverEntry, names: dict[int, str]) -> list[FieldView]:
    by_name = {f.field: f for f in entry.fields}
    out = []
    for name in SBAR_FIELDS:
        row = by_name.get(name) or HandoverField(entry_id=entry.id, field=name, text="", version=0)
        out.append(_field_view(row, names))
    return out


def _common() -> dict[str, Any]:
    return {"still_here": handover.still_here, "missing_facts": facts.MISSING}


# --- template filters for facts (stored as JSON: times are ISO text) ------------------------------

@bp.app_template_filter("handover_time")
def handover_time(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return ""
    return str(format_datetime(value, "d MMM HH:mm"))


@bp.app_template_filter("handover_line")
def handover_line(value: Any) -> str:
    """One fact item in words: a dict's values joined (times in hospital time), or the text."""
    if isinstance(value, dict):
        parts = []
        for key, v in value.items():
            if v in (None, "", [], {}):
                continue
            if isinstance(v, str) and key.endswith("_at"):
                v = handover_time(v)
            parts.append(str(v) if isinstance(v, str | int | float) else handover_line(v))
        return ", ".join(parts)
    if isinstance(value, list):
        return "; ".join(handover_line(v) for v in value)
    return "" if value is None else str(value)


@bp.app_template_filter("handover_lines")
def handover_lines(detail: Any) -> list[str]:
    """The medication record's dose detail (doses_for_handover) as lines: overdue first, then
    what falls due in the next shift, each dose as "08:00 Amoxicillin 500 mg oral"."""
    if not isinstance(detail, dict):
        return []

    def doses(items: Any) -> str:
        return "; ".join(" ".join(str(i.get(k)) for k in ("time", "drug", "dose", "route") if i.get(k))
                         for i in items if isinstance(i, dict))

    lines = []
    if detail.get("overdue"):
        lines.append("Overdue: " + doses(detail["overdue"]))
    if detail.get("due_next_shift"):
        hours = detail.get("next_shift_hours")
        lines.append((f"Due in the next {hours} h: " if hours else "Due next: ")
                     + doses(detail["due_next_shift"]))
    return lines


# --- pages -----------------------------------------------------------------------------------------

@bp.route("/handover")
@require(Perm.HANDOVER)
def list_handovers() -> Response:
    wards = places.list_wards(db.session, current_user.scoped_ward_ids(Perm.HANDOVER))
    return render("wards/handover_list.html", wards=wards,
                  open_by_ward=handover.open_sessions(db.session, [w.id for w in wards]))


def _ward_or_404(ward_id: int) -> Any:
    ward = places.ward_with_beds(db.session, ward_id)
    if ward is None:
        abort(404)
    return ward


@bp.route("/<int:ward_id>/handover")
@require(Perm.HANDOVER)
def handover_home(ward_id: int) -> Response:
    ward = _ward_or_404(ward_id)
    past = handover.past_sessions(db.session, current_user, ward_id)
    return render("wards/handover_home.html", ward=ward, past=past,
                  current=handover.open_session(db.session, ward_id),
                  suggestions=rules.SHIFT_SUGGESTIONS, form=StartHandoverForm(formdata=None))


@bp.route("/<int:ward_id>/handover", methods=["POST"])
@require(Perm.HANDOVER)
def start_handover(ward_id: int) -> Response:
    ward = _ward_or_404(ward_id)
    form = StartHandoverForm(request.form)
    try:
        if not form.validate_on_submit():
            raise DomainError("This form is out of date: reload the page.")
        hs = handover.start_handover(db.session, current_user, ward_id, form.shift.data or "")
    except DomainError as exc:
        db.session.rollback()
        place_error(form, exc)
        return render("wards/handover_home.html", "wards/_handover_start_form.html", status=422,
                      ward=ward, past=handover.past_sessions(db.session, current_user, ward_id),
                      current=None, suggestions=rules.SHIFT_SUGGESTIONS, form=form)
    db.session.commit()
    return redirect_to(url_for("wards.view_handover", session_id=hs.id))


@bp.route("/handover/<int:session_id>")
@require(Perm.HANDOVER)
def view_handover(session_id: int) -> Response:
    sheet = handover.sheet(db.session, current_user, session_id)
    fields = {e.id: _fields(e, sheet.names) for e in sheet.entries}
    return render("wards/handover.html", sheet=sheet, fields=fields,
                  open=sheet.session.status == "open", error=None, **_common())


@bp.route("/handover/<int:session_id>/refresh", methods=["POST"])
@require(Perm.HANDOVER)
def refresh_handover(session_id: int) -> Response:
    try:
        handover.add_admitted(db.session, current_user, session_id)
        handover.refresh_facts(db.session, current_user, session_id)
    except Conflict as exc:
        # Closed meanwhile, or someone else adding the same patients: say so where the button was.
        db.session.rollback()
        return render("wards/handover.html", "wards/_handover_refresh.html", status=409,
                      session_id=session_id, error=exc.message)
    db.session.commit()
    return redirect_to(url_for("wards.view_handover", session_id=session_id))


@bp.route("/handover/<int:session_id>/close", methods=["POST"])
@require(Perm.HANDOVER)
def close_handover(session_id: int) -> Response:
    with_unaccepted = request.form.get("with_unaccepted", "") in ("1", "on", "true", "yes")
    try:
        hs = handover.close_handover(db.session, current_user, session_id, with_unaccepted)
    except DomainError as exc:
        if exc.status_code != 422:
            raise
        db.session.rollback()
        sheet = handover.sheet(db.session, current_user, session_id)
        return render("wards/handover.html", "wards/_handover_close_form.html", status=422,
                      sheet=sheet, fields={e.id: _fields(e, sheet.names) for e in sheet.entries},
                      open=True, error=exc.message, **_common())
    db.session.commit()
    return redirect_to(url_for("wards.handover_home", ward_id=hs.ward_id))


@bp.route("/handover/<int:session_id>/handover.pdf")
@require(Perm.HANDOVER)
def handover_pdf(session_id: int) -> Response:
    printout = printing.print_handover(db.session, current_user, session_id)
    db.session.commit()  # the print is recorded
    return pdf_response(printout.pdf, printout.filename, inline=True)


# --- one patient -----------------------------------------------------------------------------------

PART = "wards/handover_part.html"
ACCEPTANCE = "wards/_handover_acceptance.html"


def _entry_context(entry: HandoverEntry, part: str) -> dict[str, Any]:
    ward = db.session.get(Ward, entry.session.ward_id)
    names = handover.user_names(db.session, {entry.accepted_by_id, entry.outgoing_nurse_id})
    sheet = handover.Sheet(entry.session, ward, [entry], names)  # type: ignore[arg-type]
    return {"entry": entry, "sheet": sheet, "open": entry.session.status == "open",
            "part": part, **_common()}


@bp.route("/handover/entries/<int:entry_id>/fields/<field>", methods=["POST"])
@require(Perm.HANDOVER)
def save_handover_field(entry_id: int, field: str) -> Response:
    if field not in SBAR_FIELDS:
        abort(404)
    entry = handover.get_entry(db.session, current_user, entry_id)
    text = request.form.get("text", "")
    base = parse_version(request.form.get("version"))
    page, fragment = PART, "wards/_handover_field.html"
    context = _entry_context(entry, fragment)
    row = next((f for f in entry.fields if f.field == field), None) or HandoverField(
        entry_id=entry.id, field=field, text="", version=0)
    if base is None:
        names = handover.user_names(db.session, {row.updated_by_id})
        return render(page, fragment, status=409, f=_field_view(row, names), conflict=None,
                      error="This form is out of date: reload the handover.", **context)
    try:
        saved = handover.edit_field(db.session, current_user, entry_id, field, text, base)
    except handover.HandoverConflict as conflict:
        db.session.rollback()
        # Their text stays in the box; the base moves to the winner's version, so saving the
        # merged text next time replaces theirs knowingly.
        view = FieldView(field, rules.FIELD_LABELS[field], rules.normalise_text(text),
                         conflict.current_version, conflict.saved_by, conflict.saved_at)
        return render(page, fragment, status=409, f=view, conflict=conflict, error=None, **context)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        db.session.rollback()
        view = FieldView(field, rules.FIELD_LABELS[field], text, base, None, None)
        return render(page, fragment, status=exc.status_code, f=view, conflict=None,
                      error=exc.message, **context)
    db.session.commit()
    if not is_htmx():
        return redirect_to(url_for("wards.view_handover", session_id=entry.session_id)
                           + f"#entry-{entry.id}")
    names = handover.user_names(db.session, {saved.updated_by_id})
    return render(page, fragment, f=_field_view(saved, names), conflict=None, error=None, **context)


@bp.route("/handover/entries/<int:entry_id>/fields/<field>/current")
@require(Perm.HANDOVER)
def handover_field(entry_id: int, field: str) -> Response:
    """One SBAR field as saved now: a page told over the socket that someone saved it fetches it
    here (the push carries no text), so access is checked on every read."""
    if field not in SBAR_FIELDS:
        abort(404)
    entry = handover.get_entry(db.session, current_user, entry_id)
    fragment = "wards/_handover_field.html"
    row = next((f for f in entry.fields if f.field == field), None) or HandoverField(
        entry_id=entry.id, field=field, text="", version=0)
    names = handover.user_names(db.session, {row.updated_by_id})
    return render(PART, fragment, f=_field_view(row, names), conflict=None, error=None,
                  **_entry_context(entry, fragment))


@bp.route("/handover/<int:session_id>/versions")
@require(Perm.HANDOVER)
def handover_versions(session_id: int) -> Response:
    """{entry_id: {field: version}}: after a reconnect the page re-fetches what changed."""
    versions = handover.field_versions(db.session, current_user, session_id)
    return jsonify({str(k): v for k, v in versions.items()})


@bp.route("/handover/entries/<int:entry_id>/facts")
@require(Perm.HANDOVER)
def handover_facts(entry_id: int) -> Response:
    entry = handover.get_entry(db.session, current_user, entry_id)
    fragment = "wards/_handover_facts.html"
    return render(PART, fragment, **_entry_context(entry, fragment))


@bp.route("/handover/entries/<int:entry_id>/acceptance")
@require(Perm.HANDOVER)
def handover_acceptance(entry_id: int) -> Response:
    entry = handover.get_entry(db.session, current_user, entry_id)
    return render(PART, ACCEPTANCE, **_entry_context(entry, ACCEPTANCE), error=None)


@bp.route("/handover/entries/<int:entry_id>/accept", methods=["POST"])
@require(Perm.HANDOVER)
def accept_handover_entry(entry_id: int) -> Response:
    try:
        entry = handover.accept_entry(db.session, current_user, entry_id)
    except DomainError as exc:
        if exc.status_code not in (409, 422):
            raise
        db.session.rollback()
        entry = handover.get_entry(db.session, current_user, entry_id)
        return render(PART, ACCEPTANCE, status=exc.status_code,
                      **_entry_context(entry, ACCEPTANCE), error=exc.message)
    db.session.commit()
    if not is_htmx():
        return redirect_to(url_for("wards.view_handover", session_id=entry.session_id)
                           + f"#entry-{entry.id}")
    return render(PART, ACCEPTANCE, **_entry_context(entry, ACCEPTANCE), error=None)
