"""The supervisor's pages: the worklist, merge screen, merge history and unmerge."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from app.core.security import SYSTEM
from app.domain.patients import services as patients
from app.domain.patients.models import Allergy, Patient
from app.domain.registry.duplicates import record_candidate
from app.domain.registry.models import DuplicateCandidate, PatientMerge
from tests import factories


@pytest.fixture()
def pair(db_session: Any) -> tuple[Patient, Patient, DuplicateCandidate]:
    a = factories.patient(db_session, "Fernández", "Lucía", birth_date=date(1988, 3, 14),
                          address_line="2 Calle Mayor")
    b = factories.patient(db_session, "Fernandez", "Lucia", birth_date=date(1988, 3, 14),
                          phone="07700 900777")
    patients.record_allergy(db_session, SYSTEM, b.id, "Peanut", severity="severe")
    candidate = record_candidate(db_session, SYSTEM, b, a, 0.99, ["same name"], "registration_override",
                                 "Said she had not been here")
    db_session.commit()
    return a, b, candidate


def test_the_worklist_shows_pairs_side_by_side_with_differences_marked(
        client: Any, login_as: Any, pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    a, b, candidate = pair
    login_as("registry_supervisor")
    page = client.get("/registry/duplicates")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and 'accesskey="d"' in body  # in the navigation
    assert f'id="pair-{candidate.id}"' in body and a.mrn in body and b.mrn in body
    assert "Said she had not been here" in body and "registered anyway" in body
    rows = {field: cls for cls, field in re.findall(r'<tr class="([^"]*)" data-field="(\w+)"', body)}
    assert "differs" in rows["phone"] and "differs" not in rows["birth_date"]
    assert re.search(r'class="btn btn-sm btn-primary merge-link" href="[^"]+" autofocus', body)  # keyboard first
    assert "Compare and merge" in body and "Not a duplicate" in body


def test_reception_clerks_do_not_see_the_worklist(client: Any, login_as: Any) -> None:
    login_as("reception")
    assert client.get("/registry/duplicates").status_code == 403
    assert "/registry/duplicates" not in client.get("/").get_data(as_text=True)


def test_not_a_duplicate_needs_a_note(client: Any, login_as: Any, db_session: Any,
                                      pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    _, _, candidate = pair
    login_as("registry_supervisor")
    url = f"/registry/duplicates/{candidate.id}/dismiss"
    refused = client.post_form(url, {"note": ""}, htmx=True)
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert body.lstrip().startswith(f'<section class="card mb-3 duplicate-pair" id="pair-{candidate.id}"')
    assert "Say why these are two different people." in body and 'aria-invalid="true"' in body
    done = client.post_form(url, {"note": "Cousins, same name"}, htmx=True)
    assert done.status_code == 200 and "Cousins, same name" in done.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(DuplicateCandidate, candidate.id).status == "not_duplicate"
    assert f'id="pair-{candidate.id}"' not in client.get("/registry/duplicates").get_data(as_text=True)


def test_the_merge_screen_offers_a_choice_where_the_records_differ(
        client: Any, login_as: Any, pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    a, b, _ = pair
    login_as("registry_supervisor")
    body = client.get(f"/registry/merge/{a.id}/{b.id}").get_data(as_text=True)
    assert f'name="survivor" id="survivor-{a.id}" value="{a.id}"\n                 checked' in body \
        or re.search(rf'id="survivor-{a.id}" value="{a.id}"\s+checked', body)
    assert re.search(rf'name="value_phone" id="value-phone-{b.id}" value="{b.id}" checked', body)
    assert re.search(rf'name="value_family_name" id="value-family_name-{a.id}" value="{a.id}" checked', body)
    assert 'name="value_birth_date"' not in body  # the same on both: nothing to choose
    assert 'accesskey="m"' in body


def test_a_merge_with_bad_input_is_answered_422_beside_the_field(
        client: Any, login_as: Any, db_session: Any, pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    a, b, _ = pair
    login_as("registry_supervisor")
    url = f"/registry/merge/{a.id}/{b.id}"
    form = {"survivor": str(a.id), "version_a": str(a.version), "version_b": str(b.version),
            "value_phone": str(b.id), "reason": "short"}
    short = client.post_form(url, form, htmx=True)
    body = short.get_data(as_text=True)
    assert short.status_code == 422 and body.lstrip().startswith('<form id="merge-form"')
    assert re.search(r'id="reason-error">Say why these records are one person', body)
    no_survivor = client.post_form(url, {**form, "survivor": "", "reason": "Same passport number seen"}, htmx=True)
    assert no_survivor.status_code == 422 and "Choose which record survives." in no_survivor.get_data(as_text=True)
    stranger = client.post_form(url, {**form, "value_phone": "999999", "reason": "Same passport number"}, htmx=True)
    assert stranger.status_code == 422 and "Choose one of the two records for phone." in stranger.get_data(as_text=True)
    assert db_session.scalar(select(PatientMerge)) is None


def test_a_merge_then_its_history_and_an_unmerge(
        client: Any, login_as: Any, db_session: Any, pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    a, b, _ = pair
    login_as("registry_supervisor")
    form = {"survivor": str(a.id), "version_a": str(a.version), "version_b": str(b.version),
            "value_phone": str(b.id), "reason": "Same passport number seen today"}
    done = client.post_form(f"/registry/merge/{a.id}/{b.id}", form, htmx=True)
    merge = db_session.scalar(select(PatientMerge))
    assert done.status_code == 200 and done.headers["HX-Redirect"] == f"/registry/merges/{merge.id}"
    db_session.expire_all()
    assert db_session.get(Patient, b.id).status == "merged"
    assert db_session.get(Patient, a.id).phone == "07700 900777"
    assert [x.patient_id for x in db_session.scalars(select(Allergy))] == [a.id]

    detail = client.get(f"/registry/merges/{merge.id}").get_data(as_text=True)
    assert "1 allergy" in detail and "Same passport number seen today" in detail and 'id="unmerge-form"' in detail
    history = client.get(f"/registry/patients/{b.id}/merges").get_data(as_text=True)
    assert f'id="merge-{merge.id}"' in history and "in force" in history and "Unmerge…" in history
    # The same form sent again (a double click, a second supervisor): told plainly, 409.
    again = client.post_form(f"/registry/merge/{a.id}/{b.id}", form, htmx=True)
    assert again.status_code == 409 and "already been merged" in again.get_data(as_text=True)

    short = client.post_form(f"/registry/merges/{merge.id}/unmerge", {"reason": "no"}, htmx=True)
    assert short.status_code == 422 and short.get_data(as_text=True).lstrip().startswith('<div id="unmerge-form">')
    undone = client.post_form(f"/registry/merges/{merge.id}/unmerge", {"reason": "Two sisters, checked again"},
                              htmx=True)
    assert undone.headers["HX-Redirect"] == f"/registry/merges/{merge.id}"
    db_session.expire_all()
    assert db_session.get(Patient, b.id).status == "active" and db_session.get(Patient, a.id).phone is None
    history = client.get(f"/registry/patients/{b.id}/merges").get_data(as_text=True)
    assert "undone" in history and "Unmerge…" not in history
    twice = client.post_form(f"/registry/merges/{merge.id}/unmerge", {"reason": "Two sisters, checked again"},
                             htmx=True)
    assert twice.status_code == 409


def test_comparing_two_records_by_mrn_checks_the_check_digit_first(
        client: Any, login_as: Any, pair: tuple[Patient, Patient, DuplicateCandidate]) -> None:
    a, b, _ = pair
    login_as("registry_supervisor")
    wrong = a.mrn[:-1] + str((int(a.mrn[-1]) + 1) % 10)
    bad = client.get_htmx(f"/registry/compare?mrn_a={wrong}&mrn_b={b.mrn}")
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and body.lstrip().startswith('<form id="compare-form"')
    assert "check digit is wrong" in body and 'id="mrn_a-error"' in body
    ok = client.get_htmx(f"/registry/compare?mrn_a={a.mrn}&mrn_b={b.mrn}")
    assert ok.headers["HX-Redirect"] == f"/registry/merge/{a.id}/{b.id}"
