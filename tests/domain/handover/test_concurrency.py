"""Handover races with real parallel sessions and committed data: two saves of one field on the
same base version (exactly one wins; the other is shown the winner's text), and two nurses
starting the ward's handover at once (one session). SQLite serialises writers (BEGIN IMMEDIATE);
PostgreSQL runs them truly at once, in the PostgreSQL pass (TEST_DATABASE_URL)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.domain.handover import services as handover
from app.domain.handover.models import HandoverField, HandoverSession
from app.domain.identity.models import User
from app.extensions import db
from tests.conftest import run_together
from tests.domain.handover.conftest import ward_setup


def _committed_setup(app: Flask, start: bool) -> dict[str, Any]:
    with app.app_context():
        s = ward_setup(db.session)
        ids: dict[str, Any] = {"ward": s.ward.id, "outgoing": s.outgoing.id, "incoming": s.incoming.id}
        if start:
            hs = handover.start_handover(db.session, s.outgoing, s.ward.id, "day → night")
            ids["entry"] = hs.entries[0].id
        db.session.commit()
        db.session.remove()
    return ids


def _user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def test_two_saves_on_the_same_base_one_wins_and_the_other_sees_it(race_app: Flask) -> None:
    ids = _committed_setup(race_app, start=True)
    texts = {ids["outgoing"]: "Settled, pain controlled.", ids["incoming"]: "Febrile at 22:00."}

    def save(user_id: int) -> Any:
        return lambda: handover.edit_field(db.session, _user(user_id), ids["entry"], "assessment",
                                           texts[user_id], 0).text

    results, errors = run_together(race_app, [save(ids["outgoing"]), save(ids["incoming"])])
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    conflict = errors[0]
    assert isinstance(conflict, handover.HandoverConflict)
    assert conflict.current_text == results[0] and conflict.current_version == 1
    assert conflict.attempted_text != results[0]
    winner = next(u for u, t in texts.items() if t == results[0])
    with race_app.app_context():
        assert conflict.saved_by == _user(winner).full_name
        row = db.session.scalar(select(HandoverField).where(
            HandoverField.entry_id == ids["entry"], HandoverField.field == "assessment"))
        assert row is not None and (row.text, row.version) == (results[0], 1)
        db.session.remove()


def test_two_nurses_starting_at_once_share_one_session(race_app: Flask) -> None:
    ids = _committed_setup(race_app, start=False)

    def start(user_id: int) -> Any:
        return lambda: handover.start_handover(db.session, _user(user_id), ids["ward"], "day → night").id

    results, errors = run_together(race_app, [start(ids["outgoing"]), start(ids["incoming"])])
    assert errors == [] and len(results) == 2 and results[0] == results[1]
    with race_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(HandoverSession).where(
            HandoverSession.ward_id == ids["ward"])) == 1
        db.session.remove()
