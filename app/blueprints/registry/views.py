"""Duplicate control for the registry supervisor: the worklist, merge, merge history, unmerge."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.registry import bp
from app.blueprints.registry.forms import CompareForm, DismissForm, MergeForm, UnmergeForm
from app.core.errors import Conflict, DomainError
from app.core.htmx import invalid, redirect_to, render
from app.core.security import Perm, require
from app.core.web import parse_id
from app.domain.patients import services as patients
from app.domain.registry import services as registry
from app.extensions import db


def _worklist_context(compare: CompareForm | None = None) -> dict[str, Any]:
    return {"pairs": registry.open_pairs(db.session, current_user),
            "total": registry.count_open(db.session),
            "compare": compare or CompareForm(formdata=None), "dismiss": DismissForm(formdata=None)}


@bp.route("/duplicates")
@require(Perm.PATIENT_MERGE)
def list_duplicates() -> Response:
    """Possible duplicates, likeliest first, each pair side by side."""
    return render("registry/duplicates.html", "registry/_pairs.html", **_worklist_context())


@bp.route("/duplicates/<int:candidate_id>/dismiss", methods=["POST"])
@require(Perm.PATIENT_MERGE)
def dismiss_duplicate(candidate_id: int) -> Response:
    """Not a duplicate: the pair leaves the worklist with the supervisor's note."""
    form = DismissForm()
    error: str | None = None
    if form.validate_on_submit():
        try:
            candidate = registry.dismiss_candidate(db.session, current_user, candidate_id,
                                                   form.note.data or "")
        except DomainError as exc:
            db.session.rollback()
            if not isinstance(exc, Conflict):
                error = exc.message
            else:
                flash(exc.message, "warning")
                return redirect_to(url_for("registry.list_duplicates"))
        else:
            db.session.commit()
            return render("registry/_dismissed.html", "registry/_dismissed.html", candidate=candidate)
    else:
        error = next(iter(form.note.errors), None) or _("Check the note.")
    pair = next((p for p in registry.open_pairs(db.session, current_user, limit=500)
                 if p.candidate is not None and p.candidate.id == candidate_id), None)
    if pair is None:
        flash(_("That pair is no longer on the worklist."), "warning")
        return redirect_to(url_for("registry.list_duplicates"))
    form.note.errors = [error] if error else []
    context = _worklist_context()
    return invalid("registry/duplicates.html", "registry/_pair.html", pair=pair, dismiss=form,
                   failed_id=candidate_id, **{k: v for k, v in context.items() if k != "dismiss"})


@bp.route("/compare")
@require(Perm.PATIENT_MERGE)
def compare_records() -> Response:
    """Two records found outside the worklist, by MRN: on to the merge screen."""
    form = CompareForm(request.args)
    records: dict[str, Any] = {}
    for name in ("mrn_a", "mrn_b"):
        try:
            records[name] = registry.patient_by_mrn(db.session, current_user, form[name].data or "", name)
        except DomainError as exc:
            form[name].errors = [exc.message]
    if len(records) == 2 and records["mrn_a"].id == records["mrn_b"].id:
        form.mrn_b.errors = [_("Enter the MRN of another record.")]
    if any(form[name].errors for name in ("mrn_a", "mrn_b")):
        return invalid("registry/duplicates.html", "registry/_compare_form.html",
                       **_worklist_context(compare=form))
    return redirect_to(url_for("registry.merge_patients", a=records["mrn_a"].id, b=records["mrn_b"].id))


def _merge_page(pair: registry.Pair, form: MergeForm, values: dict[str, int], status: int = 200,
                survivor: int | None = None) -> Response:
    context: dict[str, Any] = {"pair": pair, "form": form, "values": values,
               "survivor": survivor if survivor is not None else pair.a.id,
               "fields": registry.merge_fields(),
               "labels": {f: registry.field_label(f) for f in registry.merge_fields()}}
    if status == 200:
        return render("registry/merge.html", **context)
    return render("registry/merge.html", "registry/_merge_form.html", status=status, **context)


def _default_values(pair: registry.Pair) -> dict[str, int]:
    """Keep the first record's value, unless it has none and the other has one."""
    return {f: (pair.b.id if getattr(pair.a, f) in (None, "") and getattr(pair.b, f) not in (None, "")
                else pair.a.id) for f in registry.merge_fields()}


@bp.route("/merge/<int:a>/<int:b>", methods=["GET", "POST"])
@require(Perm.PATIENT_MERGE)
def merge_patients(a: int, b: int) -> Response:
    """Side by side: choose the survivor and, per field, whose value to keep; give a reason."""
    pair = registry.compare_pair(db.session, current_user, a, b)
    if request.method == "GET":
        form = MergeForm(formdata=None, version_a=str(pair.a.version), version_b=str(pair.b.version))
        return _merge_page(pair, form, _default_values(pair))
    form = MergeForm()
    values = {f: v for f in registry.merge_fields() if (v := parse_id(request.form.get(f"value_{f}"))) is not None}
    survivor = parse_id(form.survivor.data)
    if not form.validate_on_submit():
        return _merge_page(pair, form, values, 422, survivor)
    if survivor not in (pair.a.id, pair.b.id):
        form.survivor.errors = [_("Choose which record survives.")]
        return _merge_page(pair, form, values, 422, survivor)
    retired = pair.b.id if survivor == pair.a.id else pair.a.id
    versions = {pair.a.id: parse_id(form.version_a.data), pair.b.id: parse_id(form.version_b.data)}
    try:
        merge = registry.merge_patients(
            db.session, current_user, survivor, retired, values_from=values,
            reason=form.reason.data or "",
            expected_versions={k: v for k, v in versions.items() if v is not None})
    except DomainError as exc:
        db.session.rollback()
        status = exc.status_code
        if isinstance(exc, Conflict):
            form.form_errors.append(exc.message)
            pair = registry.compare_pair(db.session, current_user, a, b)  # as it is now
            form.version_a.data, form.version_b.data = str(pair.a.version), str(pair.b.version)
        elif exc.field == "reason":
            form.reason.errors = [exc.message]
        elif exc.field == "survivor":
            form.survivor.errors = [exc.message]
        else:
            form.form_errors.append(exc.message)
        return _merge_page(pair, form, values, status, survivor)
    db.session.commit()
    flash(_("Merged MRN %(retired)s into MRN %(survivor)s.", retired=merge.retired.mrn,
            survivor=merge.survivor.mrn), "success")
    return redirect_to(url_for("registry.view_merge", merge_id=merge.id))


@bp.route("/merges")
@require(Perm.PATIENT_MERGE)
def list_merges() -> Response:
    """Recent merges, newest first."""
    return render("registry/merges.html", merges=registry.recent_merges(db.session, current_user),
                  patient=None)


@bp.route("/patients/<int:patient_id>/merges")
@require(Perm.PATIENT_MERGE)
def patient_merges(patient_id: int) -> Response:
    """Every merge a record took part in, with an Unmerge action on those still in force."""
    merges = registry.merges_of(db.session, current_user, patient_id)
    patient = patients.get_patient(db.session, current_user, patient_id)
    return render("registry/merges.html", merges=merges, patient=patient)


def _unmerge_page(merge_id: int, form: UnmergeForm, status: int = 200) -> Response:
    merge = registry.get_merge(db.session, current_user, merge_id)
    context: dict[str, Any] = {"merge": merge, "form": form,
               "obstacle": registry.unmerge_obstacle(db.session, merge),
               "changed": registry.changed_since_merge(merge) if merge.status == "active" else [],
               "labels": {f: registry.field_label(f) for f in merge.field_choices}}
    if status == 200:
        return render("registry/merge_detail.html", **context)
    return render("registry/merge_detail.html", "registry/_unmerge_form.html", status=status, **context)


@bp.route("/merges/<int:merge_id>")
@require(Perm.PATIENT_MERGE)
def view_merge(merge_id: int) -> Response:
    """A merge: what came from where, what moved, and the Unmerge form."""
    return _unmerge_page(merge_id, UnmergeForm(formdata=None))


@bp.route("/merges/<int:merge_id>/unmerge", methods=["POST"])
@require(Perm.PATIENT_MERGE)
def unmerge_patients(merge_id: int) -> Response:
    """Undo a merge: both records exactly as they were, the moved rows back."""
    form = UnmergeForm()
    if not form.validate_on_submit():
        return _unmerge_page(merge_id, form, 422)
    try:
        merge = registry.unmerge_patients(db.session, current_user, merge_id, form.reason.data or "")
    except DomainError as exc:
        db.session.rollback()
        if exc.field == "reason":
            form.reason.errors = [exc.message]
        else:
            form.form_errors.append(exc.message)
        return _unmerge_page(merge_id, form, exc.status_code)
    db.session.commit()
    flash(_("Merge undone: MRN %(retired)s and MRN %(survivor)s are separate records again.",
            retired=merge.retired.mrn, survivor=merge.survivor.mrn), "success")
    return redirect_to(url_for("registry.view_merge", merge_id=merge.id))
