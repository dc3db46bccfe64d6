"""Two nurses amending the same note version at once: one amendment stands, the other is told
someone amended it first and shown their version (real parallel sessions, PostgreSQL). The
unique index on replaces_id is what makes it so, and it holds on SQLite too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.core import clock
from app.domain.identity.models import User
from app.domain.nursing_notes import services as notes
from app.domain.nursing_notes.models import NursingNote
from app.extensions import db
from tests import factories
from tests.conftest import ON_POSTGRES, make_app, run_together
from tests.domain.administration.builders import stay


@pytest.fixture(scope="module")
def race_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("note_race"), name="note_race")
    yield app
    with app.app_context():
        db.engine.dispose()


def test_a_version_can_be_replaced_only_once(db_session: Any) -> None:
    s = stay(db_session)
    note = notes.add_note(db_session, s.nurse, s.encounter.id, "care", "Turned two-hourly.")
    notes.amend_note(db_session, s.nurse, note.id, "Turned three-hourly.", "Wrong interval")
    fork = NursingNote(encounter_id=note.encounter_id, patient_id=note.patient_id, category="care",
                       text="Turned hourly.", author_id=s.nurse.id, noted_at=note.noted_at,
                       written_at=clock.now(), replaces_id=note.id, amend_reason="Mine")
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(fork)
        db_session.flush()


def test_a_stale_amendment_is_told_whose_version_stands(db_session: Any) -> None:
    s = stay(db_session)
    other = factories.staff(db_session, "nurse", [s.ward.id])
    note = notes.add_note(db_session, s.nurse, s.encounter.id, "care", "Turned two-hourly.")
    theirs = notes.amend_note(db_session, other, note.id, "Turned three-hourly.", "Wrong interval")
    with pytest.raises(notes.AmendedFirst) as exc:
        notes.amend_note(db_session, s.nurse, note.id, "Turned hourly.", "Wrong interval")
    assert exc.value.status_code == 409 and exc.value.theirs is theirs
    assert "Someone amended this note first; here is their version" in exc.value.message


@pytest.mark.skipif(not ON_POSTGRES, reason="runs in the PostgreSQL pass")
def test_two_amendments_at_once_do_not_fork_the_note(race_app: Flask) -> None:
    with race_app.app_context():
        assert db.engine.dialect.name == "postgresql"
        s = stay(db.session)
        other = factories.staff(db.session, "nurse", [s.ward.id])
        note = notes.add_note(db.session, s.nurse, s.encounter.id, "care", "Turned two-hourly.")
        ids = {"a": s.nurse.id, "b": other.id, "note": note.id}
        db.session.commit()
        db.session.remove()

    def amend(key: str, text: str) -> Any:
        def go() -> int:
            user = db.session.get(User, ids[key])
            return notes.amend_note(db.session, user, ids["note"], text, "Correction").id
        return go

    results, errors = run_together(race_app, [amend("a", "Turned hourly."),
                                              amend("b", "Turned three-hourly.")])
    assert len(results) == 1 and len(errors) == 1, errors
    assert isinstance(errors[0], notes.AmendedFirst)
    assert errors[0].theirs_id == results[0]
    with race_app.app_context():
        n = db.session.scalar(select(func.count()).select_from(NursingNote).where(
            NursingNote.replaces_id == ids["note"]))
        assert n == 1
        db.session.remove()
