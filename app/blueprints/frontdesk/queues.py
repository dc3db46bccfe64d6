"""Department queues: the staff page that calls patients, and the waiting-room screen."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, flash, request
from flask_babel import gettext as _
from flask_login import current_user

from app.blueprints.frontdesk import bp
from app.blueprints.frontdesk.forms import CallForm
from app.core import clock
from app.core.errors import DomainError
from app.core.htmx import invalid, render
from app.core.security import Perm, require
from app.core.web import parse_id
from app.domain.frontdesk import rules
from app.domain.frontdesk import services as frontdesk
from app.extensions import db


def _known(department: str) -> str:
    if department not in frontdesk.departments(db.session):
        abort(404)
    return department


def _clinic_filter() -> int | None:
    return parse_id(request.values.get("clinic"))


def _queue_context(department: str, form: CallForm | None = None) -> dict[str, Any]:
    if form is None:
        form = CallForm(formdata=None)
        form.room.data = frontdesk.last_room(db.session, current_user, department)
    clinic_id = _clinic_filter()
    tickets = frontdesk.queue_tickets(db.session, current_user, department)
    if clinic_id is not None:
        tickets = [t for t in tickets if t.clinic_id == clinic_id]
    return {
        "department": department, "form": form, "clinic_id": clinic_id,
        "clinics": [c for c in frontdesk.active_clinics(db.session) if c.department == department],
        "active": [t for t in tickets if t.status in rules.ACTIVE_STATUSES],
        "finished": [t for t in tickets if t.status not in rules.ACTIVE_STATUSES],
        "tz": current_app.config["HOSPITAL_TIMEZONE"], "now": clock.now(), "rules": rules,
    }


@bp.route("/queues")
@require(Perm.QUEUE_BOARD)
def list_queues() -> Response:
    """Every department that runs a queue, with how many wait, and links to its pages."""
    boards = [frontdesk.board(db.session, current_user, d) for d in frontdesk.departments(db.session)]
    return render("frontdesk/queues.html", boards=boards)


@bp.route("/queues/<department>")
@require(Perm.QUEUE_MANAGE)
def view_queue(department: str) -> Response:
    return render("frontdesk/queue.html", "frontdesk/_queue.html", **_queue_context(_known(department)))


@bp.route("/queues/<department>/call-next", methods=["POST"])
@require(Perm.QUEUE_MANAGE)
def call_next(department: str) -> Response:
    """Call the longest-waiting patient to the room in the form (Alt+N on the queue page)."""
    department = _known(department)
    form = CallForm()
    if form.validate_on_submit():
        try:
            ticket = frontdesk.call_next(db.session, current_user, department, form.room.data,
                                         _clinic_filter())
        except DomainError as exc:
            db.session.rollback()
            form.room.errors = [*form.room.errors, exc.message]
        else:
            db.session.commit()
            if ticket is None:
                flash(_("Nobody is waiting."), "info")
            else:
                flash(_("Calling %(code)s (%(name)s) to %(room)s.", code=ticket.code,
                        name=ticket.patient.name, room=ticket.called_to), "success")
            return render("frontdesk/queue.html", "frontdesk/_queue_page.html",
                          **_queue_context(department, form))
    return invalid("frontdesk/queue.html", "frontdesk/_queue_page.html", **_queue_context(department, form))


@bp.route("/tickets/<int:ticket_id>/<action>", methods=["POST"])
@require(Perm.QUEUE_MANAGE)
def move_ticket(ticket_id: int, action: str) -> Response:
    """Call (to the room in the form), start, finish, send back, or mark as left. A move the
    ticket's state no longer allows (someone else was quicker) answers 409 in the flash area."""
    ticket = frontdesk.move_ticket(db.session, current_user, ticket_id, action,
                                   room=request.form.get("room"),
                                   expected_status=request.form.get("status") or None)
    db.session.commit()
    if action == "call":
        flash(_("Calling %(code)s to %(room)s.", code=ticket.code, room=ticket.called_to), "success")
    return render("frontdesk/queue.html", "frontdesk/_queue.html", **_queue_context(ticket.department))


@bp.route("/board/<department>")
@require(Perm.QUEUE_BOARD)
def view_board(department: str) -> Response:
    """The waiting-room screen: ticket numbers and rooms, no names. Live over Socket.IO."""
    board = frontdesk.board(db.session, current_user, _known(department))
    return render("frontdesk/board.html", "frontdesk/_board.html", board=board,
                  tz=current_app.config["HOSPITAL_TIMEZONE"], now=clock.now())
