from __future__ import annotations

from flask import Response, abort, current_app
from flask_login import current_user

from app.blueprints.wards import bp
from app.core import clock
from app.core.htmx import render
from app.core.security import Perm, require
from app.domain.admissions.services import inpatients_on_wards
from app.domain.facilities import services as places
from app.extensions import db


def _allowed_ward_ids() -> frozenset[int] | None:
    return current_user.scoped_ward_ids(Perm.WARD_VIEW)


@bp.route("/")
@require(Perm.WARD_VIEW)
def list_wards() -> Response:
    scope = _allowed_ward_ids()
    wards = places.list_wards(db.session, scope)
    census = {w.id: 0 for w in wards}
    for e in inpatients_on_wards(db.session, census):
        if e.ward_id is not None:
            census[e.ward_id] = census.get(e.ward_id, 0) + 1
    return render("wards/list.html", wards=wards, census=census)


@bp.route("/<int:ward_id>")
@require(Perm.WARD_VIEW)
def view_ward(ward_id: int) -> Response:
    scope = _allowed_ward_ids()
    if scope is not None and ward_id not in scope:
        abort(403)
    ward = places.ward_with_beds(db.session, ward_id)
    if ward is None:
        abort(404)
    by_bed = {e.bed_id: e for e in inpatients_on_wards(db.session, [ward.id])}
    today = clock.today_local(current_app.config["HOSPITAL_TIMEZONE"])
    return render("wards/ward.html", "wards/_beds.html", ward=ward, by_bed=by_bed, today=today)
