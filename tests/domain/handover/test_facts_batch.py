"""The handover's facts: gathered in a fixed number of queries however many patients, and a
refresh keeps the snapshot it replaces."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from app.core import clock
from app.core.security import SYSTEM
from app.domain.administration import planning
from app.domain.administration.models import ScheduledDose
from app.domain.administration.services import doses_for_handover, doses_for_handover_many
from app.domain.handover import services as handover
from app.domain.observations.services import record_vitals
from app.domain.patients.services import record_allergy
from tests import factories
from tests.domain.handover.conftest import WardSetup, ward_setup

HIGH_SET = {"respiratory_rate": 25, "spo2": 96, "air_or_oxygen": "air", "systolic": 120,
            "diastolic": 80, "pulse": 80, "consciousness": "A", "temperature": "37.0"}


@contextmanager
def _counting(session: Any) -> Iterator[Callable[[], int]]:
    statements: list[str] = []

    def count(*args: Any, **kw: Any) -> None:
        statements.append(args[2])

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield lambda: len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _ward(session: Any, patients: int) -> WardSetup:
    w = ward_setup(session, beds=patients, admitted=patients)
    drug = factories.drug(session)
    for p in w.patients:
        record_allergy(session, SYSTEM, p.id, "Penicillin", "rash")
        rx = factories.inpatient_prescription(session, p, drug)
        # Planned from yesterday: some doses are overdue, some due in the next shift.
        planning.plan_prescription(session, rx.id, clock.now() - timedelta(hours=20))
    session.commit()
    return w


def _queries(session: Any, w: WardSetup) -> tuple[int, int]:
    session.expire_all()
    with _counting(session) as n:
        hs = handover.start_handover(session, w.outgoing, w.ward.id, "day → night")
        started = n()
    session.commit()
    session.expire_all()
    with _counting(session) as n:
        handover.refresh_facts(session, w.outgoing, hs.id)
        refreshed = n()
    session.commit()
    return started, refreshed


def test_start_and_refresh_read_the_same_number_of_queries_for_5_or_20_patients(db_session: Any) -> None:
    small = _queries(db_session, _ward(db_session, 5))
    large = _queries(db_session, _ward(db_session, 20))
    assert large == small, (small, large)


def test_the_batch_dose_detail_equals_the_one_stay_detail(db_session: Any) -> None:
    w = _ward(db_session, 3)
    now = clock.now()
    ids = [e.id for e in w.encounters]
    assert db_session.scalar(select(ScheduledDose.id).where(ScheduledDose.encounter_id.in_(ids))) is not None
    many = doses_for_handover_many(db_session, ids, now)
    assert any(d["overdue"] or d["due_next_shift"] for d in many.values())
    assert many == {eid: doses_for_handover(db_session, eid, now) for eid in ids}
    assert doses_for_handover_many(db_session, [], now) == {}


def test_a_refresh_keeps_the_facts_it_replaces_and_the_sheet_says_as_of_when(
        db_session: Any, setup: WardSetup) -> None:
    with clock.freeze(clock.now()) as traveller:
        hs = handover.start_handover(db_session, setup.outgoing, setup.ward.id, "day → night")
        entry = next(e for e in hs.entries if e.encounter_id == setup.encounters[0].id)
        first_at, first = entry.facts_at, dict(entry.facts)
        assert first["news2"] is None
        traveller.advance(minutes=90)
        record_vitals(db_session, SYSTEM, setup.encounters[0].id, HIGH_SET)
        handover.refresh_facts(db_session, setup.outgoing, hs.id)
        traveller.advance(minutes=30)
        handover.refresh_facts(db_session, setup.outgoing, hs.id)
    assert entry.facts["news2"]["total"] == 3
    history = entry.facts_history or []
    assert [h["at"] for h in history] == [first_at.isoformat(), (first_at + timedelta(minutes=90)).isoformat()]
    assert history[0]["facts"] == first
    assert history[1]["facts"]["news2"]["total"] == 3
