"""Nursing notes on a stay: the list (by category, amended notes with their history), writing a
note, and amending one (a new version with the reason; never an edit in place)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.wards import bp
from app.core import clock
from app.core.errors import Conflict, DomainError
from app.core.htmx import redirect_to, render
from app.core.security import Perm, can, require
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


@bp.route("/encounters/<int:encounter_id>/notes")
@require(Perm.WARD_VIEW)
def list_notes(encounter_id: int) -> Response:
    """The stay's nursing notes, newest first (?category= filters)."""
    return render(PAGE, LIST, **_context(encounter_id))


@bp.route("/encounters/<int:encounter_id>/notes", methods=["POST"])
@require(Perm.NURSING_NOTES)
def add_note(encounter_id: int) -> Response:
    """Write a note; the list comes back with it, or the form with the problem (422)."""
    form = request.form
    try:
        notes.add_note(db.session, current_user, encounter_id, form.get("category") or "",
                       form.get("text") or "")
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        return render(PAGE, FORM, status=422,
                      **_context(encounter_id, {exc.field or "text": exc.message}, form))
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
                      **context)
    form = request.form
    try:
        notes.amend_note(db.session, current_user, note_id, form.get("text") or "",
                         form.get("reason") or "", form.get("category") or None)
    except DomainError as exc:
        if exc.status_code in (403, 404):
            raise
        db.session.rollback()
        note = notes.get_note(db.session, current_user, note_id)
        context["note"] = note
        return render(AMEND_PAGE, AMEND_FORM, status=409 if isinstance(exc, Conflict) else 422,
                      errors={exc.field or "text": exc.message}, values=form, **context)
    db.session.commit()
    flash(_("Note amended; the earlier version is kept."), "success")
    return redirect_to(url_for("wards.list_notes", encounter_id=encounter_id))
