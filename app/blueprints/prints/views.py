"""A person's print jobs: the status they poll while the document renders, then the file."""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from app.blueprints.prints import bp
from app.core.htmx import render
from app.core.pdf import pdf_response
from app.core.security import Perm, require
from app.domain.printing import services as printing
from app.extensions import db

# Anyone signed in may have print jobs; the domain lets only the person who asked see one,
# and only while they still hold the permission its document needs.


@bp.route("/<int:print_job_id>")
@require(Perm.DASHBOARD)
def show_print_job(print_job_id: int) -> Response:
    job = printing.get_print_job(db.session, current_user, print_job_id)
    return render("prints/status.html", "prints/_status.html", job=job,
                  kind=printing.KINDS[job.kind], stalled=printing.is_stalled(job))


@bp.route("/<int:print_job_id>/file")
@require(Perm.DASHBOARD)
def download_print_job(print_job_id: int) -> Response:
    printout = printing.take_print_job(db.session, current_user, print_job_id)
    db.session.commit()  # the download is recorded
    return pdf_response(printout.pdf, printout.filename)
