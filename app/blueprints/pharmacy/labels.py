"""Dispensing labels: one label, or a sheet for the bag (PDF, shown in the browser's viewer to
print at once). Each print is counted and recorded; every print after the first says REPRINT."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from app.blueprints.pharmacy import bp
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.domain.dispensary import labels
from app.extensions import db


@bp.route("/dispensings/<int:dispensing_id>/label.pdf")
@require(Perm.DISPENSE)
def print_dispensing_label(dispensing_id: int) -> Response:
    printout = labels.print_dispensing_label(db.session, current_user, dispensing_id)
    db.session.commit()  # the print is counted and recorded
    return pdf_response(printout.pdf, printout.filename)


@bp.route("/dispensings/<int:dispensing_id>/labels.pdf")
@require(Perm.DISPENSE)
def print_label_sheet(dispensing_id: int) -> Response:
    printout = labels.print_label_sheet(db.session, current_user, dispensing_id)
    db.session.commit()  # the print is counted and recorded
    return pdf_response(printout.pdf, printout.filename)
