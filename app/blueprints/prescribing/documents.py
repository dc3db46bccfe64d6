"""The printed prescription (PDF download). `?together=1` puts the patient's active
prescriptions written the same day by the same prescriber on one sheet."""

from __future__ import annotations

from flask import Response, request
from flask_login import current_user

from app.blueprints.prescribing import bp
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.domain.prescribing import documents
from app.extensions import db


# Everyone who may print (prescriber, verifying or dispensing pharmacist) reads prescriptions;
# the domain narrows it to those three (a nurse reads them but does not print them).
@bp.route("/prescriptions/<int:prescription_id>/prescription.pdf")
@require(Perm.PRESCRIPTION_READ)
def print_prescription(prescription_id: int) -> Response:
    together = request.args.get("together", "") in ("1", "true", "yes", "on")
    printout = documents.print_prescription(db.session, current_user, prescription_id,
                                            together=together)
    db.session.commit()  # the print is recorded
    return pdf_response(printout.pdf, printout.filename)
