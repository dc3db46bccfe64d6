"""Nursing notes: timestamped, by category, per admission. A note is never edited: an amendment
is a new note that replaces it (replaces_id) with the reason, and the chain is the history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.security import Actor, Perm, authorize
from app.core.web import check_charted_at
from app.domain.admissions.services import get_encounter
from app.domain.identity.models import User
from app.domain.nursing_notes.models import NOTE_CATEGORIES, NursingNote

MAX_TEXT = 5000
LATE_ENTRY = timedelta(hours=72)
CATEGORY_LABELS = {c: c.replace("-", " ").capitalize() for c in NOTE_CATEGORIES}


class AmendedFirst(Conflict):
    """Someone amended the note first (409); `theirs` is their version, to show the nurse."""

    def __init__(self, theirs: NursingNote | None) -> None:
        super().__init__("Someone amended this note first; here is their version. Amend it "
                         "again if yours still needs saying.", field="text")
        self.theirs = theirs
        self.theirs_id = theirs.id if theirs is not None else None


@dataclass
class NoteThread:
    """A note as it stands now (the newest version) and the versions it replaced, newest first."""

    current: NursingNote
    history: list[NursingNote] = field(default_factory=list)

    @property
    def amended(self) -> bool:
        return bool(self.history)


def _content(category: str, text: str) -> tuple[str, str]:
    category = (category or "").strip().lower()
    if category not in NOTE_CATEGORIES:
        raise DomainError("Choose a category.", field="category")
    body = (text or "").strip()
    if not body:
        raise DomainError("Write the note.", field="text")
    if len(body) > MAX_TEXT:
        raise DomainError(f"Keep a note under {MAX_TEXT} characters.", field="text")
    return category, body


def add_note(session: DbSession, actor: Actor, encounter_id: int, category: str, text: str,
             noted_at: datetime | None = None) -> NursingNote:
    """Write a note on a stay (noted_at: when the care happened, for a late entry). Audited."""
    authorize(actor, Perm.NURSING_NOTES)
    if actor.id is None:
        raise Forbidden("Only a person can write a nursing note.")
    encounter = get_encounter(session, actor, encounter_id, Perm.NURSING_NOTES)
    if encounter.class_code != "IMP":
        raise DomainError("Nursing notes belong to a hospital stay.")
    now = clock.now()
    category, body = _content(category, text)
    at = check_charted_at(noted_at, now, field="noted_at", what=_("A note"), back=LATE_ENTRY,
                          earliest=encounter.started_at)
    note = NursingNote(encounter_id=encounter.id, patient_id=encounter.patient_id, category=category,
                       text=body, author_id=actor.id, noted_at=at, written_at=now)
    session.add(note)
    session.flush()
    audit.record(session, actor, "nursing_note.written", note, patient_id=note.patient_id,
                 after={"category": category, "noted_at": at.isoformat(), "length": len(body)})
    return note


def amend_note(session: DbSession, actor: Actor, note_id: int, text: str, reason: str,
               category: str | None = None) -> NursingNote:
    """Amend a note: a new note replaces it, keeping the same time of care; the old one stays
    as history. Only the current version may be amended (a stale form is told so)."""
    authorize(actor, Perm.NURSING_NOTES)
    if actor.id is None:
        raise Forbidden("Only a person can amend a nursing note.")
    old = session.get(NursingNote, note_id)
    if old is None:
        raise NotFound("No such note.")
    get_encounter(session, actor, old.encounter_id, Perm.NURSING_NOTES)
    newer = session.scalar(select(NursingNote).where(NursingNote.replaces_id == old.id))
    if newer is not None:
        raise AmendedFirst(newer)
    why = " ".join((reason or "").split())
    if len(why) < 3:
        raise DomainError("Say why the note is amended.", field="reason")
    if len(why) > 500:
        raise DomainError("Keep the reason under 500 characters.", field="reason")
    now = clock.now()
    cat, body = _content(category or old.category, text)
    if body == old.text and cat == old.category:
        raise DomainError("Nothing changed: edit the text to amend the note.", field="text")
    note = NursingNote(encounter_id=old.encounter_id, patient_id=old.patient_id, category=cat,
                       text=body, author_id=actor.id, noted_at=old.noted_at, written_at=now,
                       replaces_id=old.id, amend_reason=why)
    try:
        with session.begin_nested():
            session.add(note)
            session.flush()
    except IntegrityError:
        # Another amendment of the same version committed first (uq replaces_id).
        theirs = session.scalar(select(NursingNote).where(NursingNote.replaces_id == old.id))
        raise AmendedFirst(theirs) from None
    audit.record(session, actor, "nursing_note.amended", note, patient_id=note.patient_id,
                 before={"note_id": old.id, "text": old.text, "category": old.category},
                 after={"note_id": note.id, "text": body, "category": cat}, reason=why)
    return note


def notes_for(session: DbSession, actor: Actor, encounter_id: int,
              category: str | None = None) -> list[NoteThread]:
    """The stay's notes as they stand, newest care first; each with the versions it replaced.
    A category filter applies to the current version."""
    authorize(actor, Perm.WARD_VIEW)
    get_encounter(session, actor, encounter_id, Perm.WARD_VIEW)
    rows = list(session.scalars(select(NursingNote).where(NursingNote.encounter_id == encounter_id)
                                .order_by(NursingNote.written_at, NursingNote.id)))
    by_id = {n.id: n for n in rows}
    replaced = {n.replaces_id for n in rows if n.replaces_id is not None}
    threads = []
    for note in rows:
        if note.id in replaced:
            continue
        history = []
        prev = note.replaces_id
        while prev is not None and prev in by_id:
            history.append(by_id[prev])
            prev = by_id[prev].replaces_id
        threads.append(NoteThread(note, history))
    if category:
        threads = [t for t in threads if t.current.category == category]
    threads.sort(key=lambda t: (t.current.noted_at, t.current.id), reverse=True)
    return threads


def get_note(session: DbSession, actor: Actor, note_id: int) -> NursingNote:
    note = session.get(NursingNote, note_id)
    if note is None:
        raise NotFound("No such note.")
    get_encounter(session, actor, note.encounter_id, Perm.WARD_VIEW)
    return note


def authors(session: DbSession, threads: list[NoteThread]) -> dict[int, str]:
    ids = {n.author_id for t in threads for n in [t.current, *t.history] if n.author_id}
    if not ids:
        return {}
    return {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(ids)))}
