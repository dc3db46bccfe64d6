"""The printed handover sheet: A4 (PRINT_PAGE_SIZE), one block per patient with the facts as
gathered, the four SBAR fields, and who accepted the patient and when. Recorded as
`print.handover` (who printed which session, when)."""

from __future__ import annotations

import re

from app.core.db import DbSession
from app.core.pdf import render_pdf
from app.core.security import Actor
from app.domain.handover import facts, rules, services
from app.domain.printing.services import Printout

STYLESHEETS = ("print/handover.css",)


def print_handover(session: DbSession, actor: Actor, session_id: int) -> Printout:
    """The sheet's PDF for a session the actor may see; the caller commits (the print record)."""
    data = services.sheet(session, actor, session_id)
    printed_by = services.user_names(session, {actor.id}).get(actor.id or 0, actor.label)
    pdf = render_pdf("handover.html", stylesheets=STYLESHEETS, sheet=data,
                     fact_labels=facts.labels(), missing_facts=facts.MISSING,
                     field_labels=rules.FIELD_LABELS, printed_by=printed_by)
    services.record_print(session, actor, data.session, len(pdf))
    started = data.session.started_at.strftime("%Y%m%d-%H%M")
    ward = re.sub(r"[^A-Za-z0-9_-]", "", data.ward.code) or "ward"
    return Printout(pdf, f"handover-{ward}-{started}.pdf")
