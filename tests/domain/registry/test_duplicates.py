"""The duplicate check at registration and edit, against a real database."""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from app.core.audit import AuditEvent
from app.core.security import SYSTEM, SystemActor
from app.domain.patients import services as patients
from app.domain.patients.models import Patient
from app.domain.registry import duplicates, rules
from app.domain.registry.duplicates import PossibleDuplicates, find_duplicates
from app.domain.registry.models import DuplicateCandidate
from tests import factories

CLERK = SystemActor("clerk at desk 2")


def demographics(family: str = "Kowalski", given: str = "Anna Maria", born: date = date(1984, 7, 9),
                 **kw: Any) -> patients.Demographics:
    return patients.Demographics(family_name=family, given_names=given, birth_date=born,
                                 sex=kw.pop("sex", "female"), **kw)


@pytest.fixture()
def anna(db_session: Any) -> Patient:
    p = factories.patient(db_session, "Kowalski", "Anna Maria", birth_date=date(1984, 7, 9),
                          phone="07700 900123", national_id="QQ123456C")
    # Look-alikes who are other people: same birthday, same family, another date.
    factories.patient(db_session, "Brown", "Alice", birth_date=date(1984, 7, 9))
    factories.patient(db_session, "Kowalski", "Jan", birth_date=date(1984, 7, 9), sex="male")
    factories.patient(db_session, "Kowalski", "Anna Maria", birth_date=date(1961, 2, 23))
    return p


@pytest.mark.parametrize(("typed", "expect"), [
    (demographics("Kowalsky"), "family name similar (one letter different)"),
    (demographics("Kowalksi"), "family name similar (transposed letters)"),
    (demographics("KOWALSKI", "anna-maria"), "same name (ignoring accents and punctuation)"),
    (demographics("Anna Maria", "Kowalski"), "given and family names swapped"),
    (demographics(given="Anna"), "one of the given names matches"),
    (demographics(born=date(1984, 9, 7)), "day and month of birth swapped"),
    (demographics(born=date(1985, 7, 9)), "year of birth one year apart"),
    (demographics(born=date(1984, 7, 8)), "date of birth one digit different"),
    (demographics("Nowak", born=date(1990, 1, 1), phone="+44 7700 900123", national_id="QQ 12 34 56 C"),
     "same national id"),
])
def test_the_usual_slips_find_the_existing_record(db_session: Any, anna: Patient,
                                                  typed: patients.Demographics, expect: str) -> None:
    matches = find_duplicates(db_session, typed)
    assert [m.patient.id for m in matches] == [anna.id], [(m.patient.name, m.reasons) for m in matches]
    assert expect in matches[0].reasons
    assert matches[0].score >= duplicates.threshold()


def test_other_people_are_not_suggested(db_session: Any, anna: Patient) -> None:
    assert find_duplicates(db_session, demographics("Kowalski", "Piotr", sex="male")) == []
    assert find_duplicates(db_session, demographics("Smith", "Anna Maria")) == []


def test_a_record_is_not_its_own_duplicate_and_merged_records_are_not_offered(
        db_session: Any, anna: Patient) -> None:
    same = demographics()
    assert find_duplicates(db_session, same, exclude_patient_id=anna.id) == []
    anna.status = "merged"
    db_session.flush()
    assert find_duplicates(db_session, same) == []


def test_best_match_first_and_at_most_the_limit(db_session: Any) -> None:
    born = date(1990, 12, 1)
    exact = factories.patient(db_session, "Okafor", "Chidi", birth_date=born, sex="male")
    typo = factories.patient(db_session, "Okafro", "Chidi", birth_date=born, sex="male")
    for _ in range(6):
        factories.patient(db_session, "Okafor", "Chidi", birth_date=date(1990, 1, 12), sex="male")
    matches = find_duplicates(db_session, demographics("Okafor", "Chidi", born=born, sex="male"), limit=3)
    assert len(matches) == 3
    assert [m.patient.id for m in matches[:2]] == [exact.id, typo.id]
    assert matches[0].score > matches[1].score >= matches[2].score


def test_registering_a_likely_duplicate_needs_a_reason_and_lands_on_the_worklist(
        app: Any, db_session: Any, anna: Patient) -> None:
    with app.test_request_context():
        with pytest.raises(PossibleDuplicates) as caught:
            patients.register_patient(db_session, CLERK, demographics("Kowalksi"))
        assert [m.patient.id for m in caught.value.matches] == [anna.id]
        assert caught.value.field == "duplicate_reason"
        new = patients.register_patient(db_session, CLERK, demographics("Kowalksi"),
                                         duplicate_reason="She says she has never been here before")
    [pair] = db_session.scalars(select(DuplicateCandidate)).all()
    assert (pair.patient_a_id, pair.patient_b_id) == (anna.id, new.id)
    assert pair.status == "open" and pair.source == "registration_override"
    assert pair.override_reason == "She says she has never been here before"
    assert "family name similar (transposed letters)" in pair.reasons
    assert pair.detected_by_label == "clerk at desk 2"
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"duplicate_candidate.recorded", "patient.duplicate_override"} <= actions


def test_an_edit_that_makes_a_record_look_like_another_is_recorded_as_an_edit(
        app: Any, db_session: Any, anna: Patient) -> None:
    other = factories.patient(db_session, "Nowak", "Ewa", birth_date=date(1970, 1, 1))
    with app.test_request_context():
        patients.update_demographics(
            db_session, CLERK, other.id, demographics("Kowalski", "Anna"), expected_version=other.version,
            change="corrected", reason="Wrong patient's details typed", duplicate_reason="Checked ID card")
    [pair] = db_session.scalars(select(DuplicateCandidate)).all()
    assert pair.source == "edit" and {pair.patient_a_id, pair.patient_b_id} == {anna.id, other.id}


def test_a_pair_judged_not_duplicate_stays_judged(db_session: Any, anna: Patient) -> None:
    twin = factories.patient(db_session, "Kowalski", "Anna", birth_date=date(1984, 7, 9))
    first = duplicates.record_candidate(db_session, SYSTEM, twin, anna, 0.9, ["x"], "scan")
    first.status = "not_duplicate"
    again = duplicates.record_candidate(db_session, SYSTEM, anna, twin, 0.95, ["y"], "registration_override",
                                        "says she is new")
    assert again.id == first.id and again.status == "not_duplicate" and again.reasons == ["x"]


def test_the_candidate_queries_return_exactly_the_blocks_the_rules_describe(db_session: Any) -> None:
    """The SQL blocks and rules.shares_block (whose completeness is property-tested) agree."""
    rng = random.Random(7)
    born = date(1975, 10, 12)
    dates = [born, date(1975, 12, 10), date(1976, 10, 12), date(1975, 10, 13), date(1957, 10, 12),
             date(1975, 1, 12), date(1980, 3, 3)]
    names = [("Garcia", "Lucia"), ("García Márquez", "Lucía"), ("Lucia", "Garcia"), ("Ng", "Lucia"),
             ("Garcia", "Pedro"), ("O'Brien", "Sean"), ("Smith", "John")]
    phones = [None, "07700 900555", "07700 900556"]
    ids = [None, "QQ111111A", "QQ222222B"]
    made = []
    for family, given in names:
        for _ in range(3):
            made.append(factories.patient(db_session, family, given, birth_date=rng.choice(dates),
                                          phone=rng.choice(phones), national_id=rng.choice(ids)))
    probes = [rules.Person("Garcia", "Lucia", born, "female", "+447700900555", "QQ111111A"),
              rules.Person("Lucía", "Garcia", date(1975, 10, 17), None, None, None),
              rules.Person("Marquez", "Ana", date(1957, 10, 12), "female", None, "QQ222222B")]
    for probe in probes:
        found = {row.id for row in duplicates.candidate_rows(db_session, probe)}
        expected = {p.id for p in made if rules.shares_block(probe, duplicates.person_from_patient(p))}
        assert found == expected, probe
