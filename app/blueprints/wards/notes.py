"""Nursing notes on a stay: the list (by category, amended notes with their history), writing a
note, and amending one (a new version with the reason; never an edit in place)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField

from app.blueprints.wards import bp
from app.core import clock
from app.core.errors import DomainError
from app.core.htmx import redirect_to, render
from app.core.security import Perm, can, require
from app.core.web import parse_clock_time, place_error
from app.domain.admissions.services import get_encounter
from app.domain.nursing_notes import services as notes
from app.domain.nursing_notes.models import NOTE_CATEGORIES
from app.extensions import db

PAGE = "wards/notes.html"
LIST = "wards/_notes.html"
FORM = "wards/_note_form.html"
AMEND_PAGE = "wards/note_amend.html"
AMEND_FORM = "wards/_note_amend_form.html"


def _context(encounter_id: int, errors: dict[str, str] | None = None, values: Any = None) -> dict[str, Any]:
    category = request.values.get("category") or None
    if category not in NOTE_CATEGORIES:
        category = None
    threads = notes.notes_for(db.session, current_user, encounter_id, category)
    encounter = get_encounter(db.session, current_user, encounter_id)
    return {"encounter": encounter, "patient": encounter.patient, "threads": threads,
            "authors": notes.authors(db.session, threads), "category": category,
            "categories": NOTE_CATEGORIES, "category_labels": notes.CATEGORY_LABELS,
            "errors": errors or {}, "values": values or {}, "today": clock.hospital_today(),
            "may_write": can(current_user, Perm.NURSING_NOTES)}


class NoteForm(FlaskForm):
    category = StringField()
    text = StringField()
    noted_at = StringField()


class AmendForm(FlaskForm):
    category = StringField()
    text = StringField()
    reason = StringField()


def _placed(form: FlaskForm, exc: DomainError) -> dict[str, str]:
    """The refusal beside its field, as the {field: message} the note forms read."""
    place_error(form, exc, conflicts=True)
    out = {name: str(field.errors[0]) for name, field in form._fields.items() if field.errors}
    if form.form_errors:
        out.setdefault("text", str(form.form_errors[0]))
    return out


@bp.route("/encounters/<int:encounter_id>/notes")
@require(Perm.WARD_VIEW)
def list_notes(encounter_id: int) -> Response:
    """The stay's nursing notes, newest first (?category= filters)."""
    return render(PAGE, LIST, **_context(encounter_id))


@bp.route("/encounters/<int:encounter_id>/notes", methods=["POST"])
@require(Perm.NURSING_NOTES)
def add_note(encounter_id: int) -> Response:
    """Write a note; the list comes back with it, or the form with the problem (422)."""
    form = NoteForm()
    try:
        notes.add_note(db.session, current_user, encounter_id, form.category.data or "",
                       form.text.data or "", parse_clock_time(form.noted_at.data, "noted_at"))
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        return render(PAGE, FORM, status=exc.status_code,
                      **_context(encounter_id, _placed(form, exc), request.form))
    db.session.commit()
    flash(_("Note saved."), "success")
    return redirect_to(url_for("wards.list_notes", encounter_id=encounter_id))


@bp.route("/notes/<int:note_id>/amend", methods=["GET", "POST"])
@require(Perm.NURSING_NOTES)
def amend_note(note_id: int) -> Response:
    """Amend a note: its text again to change, and the reason. The old version is kept."""
    note = notes.get_note(db.session, current_user, note_id)
    encounter_id = note.encounter_id
    context: dict[str, Any] = {"note": note, "encounter_id": encounter_id, "category_labels": notes.CATEGORY_LABELS,
               "categories": NOTE_CATEGORIES}
    if request.method == "GET":
        return render(AMEND_PAGE, AMEND_FORM, errors={}, values={"text": note.text,
                                                                  "category": note.category},
                      theirs=None, authors={}, **context)
    form = AmendForm()
    try:
        notes.amend_note(db.session, current_user, note_id, form.text.data or "",
                         form.reason.data or "", form.category.data or None)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        errors = _placed(form, exc)
        theirs = None
        if isinstance(exc, notes.AmendedFirst) and exc.theirs_id is not None:
            # Their version is now the one to amend: the form posts against it, keeping what
            # this nurse typed so that nothing is lost.
            theirs = notes.get_note(db.session, current_user, exc.theirs_id)
        context["note"] = theirs or notes.get_note(db.session, current_user, note_id)
        return render(AMEND_PAGE, AMEND_FORM, status=exc.status_code, errors=errors,
                      values=request.form, theirs=theirs,
                      authors=notes.authors(db.session, [notes.NoteThread(theirs)]) if theirs else {},
                      **context)
    db.session.commit()
    flash(_("Note amended; the earlier version is kept."), "success")
    return redirect_to(url_for("wards.list_notes", encounter_id=encounter_id))
