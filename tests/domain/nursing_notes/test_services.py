"""Nursing notes: written with a category and time, amended by a new version (never in place)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.domain.nursing_notes import services as notes
from app.domain.nursing_notes.models import NursingNote
from tests import factories
from tests.domain.administration.builders import stay


def test_a_note_is_written_with_its_category_author_and_time(db_session: Any) -> None:
    s = stay(db_session)
    note = notes.add_note(db_session, s.nurse, s.encounter.id, "wound", "Dressing changed, clean.")
    assert (note.category, note.author_id, note.patient_id) == ("wound", s.nurse.id, s.patient.id)
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "nursing_note.written"))


@pytest.mark.parametrize(("category", "text", "field"), [("nonsense", "x", "category"),
                                                         ("general", "   ", "text"),
                                                         ("general", "x" * 5001, "text")])
def test_bad_notes_are_refused_beside_their_field(db_session: Any, category: str, text: str,
                                                  field: str) -> None:
    s = stay(db_session)
    with pytest.raises(DomainError) as exc:
        notes.add_note(db_session, s.nurse, s.encounter.id, category, text)
    assert exc.value.field == field


def test_a_late_entry_may_not_be_in_the_future(db_session: Any) -> None:
    s = stay(db_session)
    with pytest.raises(DomainError) as exc:
        notes.add_note(db_session, s.nurse, s.encounter.id, "care", "x",
                       noted_at=clock.now() + timedelta(hours=1))
    assert exc.value.field == "noted_at"


def test_amending_keeps_the_original_and_shows_the_current_text(db_session: Any) -> None:
    s = stay(db_session)
    first = notes.add_note(db_session, s.nurse, s.encounter.id, "general", "Ate half of lunch.")
    with pytest.raises(DomainError):
        notes.amend_note(db_session, s.nurse, first.id, "Ate all of lunch.", "")
    second = notes.amend_note(db_session, s.nurse, first.id, "Ate all of lunch.", "Wrong amount")
    third = notes.amend_note(db_session, s.nurse, second.id, "Ate all of lunch and pudding.", "More")
    db_session.refresh(first)
    assert first.text == "Ate half of lunch."  # never edited in place
    assert third.replaces_id == second.id and second.replaces_id == first.id
    threads = notes.notes_for(db_session, s.nurse, s.encounter.id)
    assert len(threads) == 1
    assert threads[0].current.id == third.id and threads[0].amended
    assert [n.id for n in threads[0].history] == [second.id, first.id]
    assert db_session.scalar(select(AuditEvent).where(AuditEvent.action == "nursing_note.amended"))
    with pytest.raises(Conflict):
        notes.amend_note(db_session, s.nurse, first.id, "Stale form", "From an old page")
    assert db_session.query(NursingNote).count() == 3


def test_category_filter_and_scope(db_session: Any) -> None:
    s = stay(db_session)
    notes.add_note(db_session, s.nurse, s.encounter.id, "wound", "Clean.")
    notes.add_note(db_session, s.nurse, s.encounter.id, "nutrition", "Ate well.")
    assert [t.current.category for t in notes.notes_for(db_session, s.nurse, s.encounter.id, "wound")] \
        == ["wound"]
    outsider = factories.staff(db_session, "nurse", [factories.ward(db_session).id])
    with pytest.raises(Forbidden):
        notes.notes_for(db_session, outsider, s.encounter.id)
    with pytest.raises(Forbidden):
        notes.add_note(db_session, outsider, s.encounter.id, "general", "x")
