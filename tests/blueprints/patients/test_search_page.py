"""The reception search page: one box, results as you type, keyboard-ready rows, a wrong check
digit answered beside the box, and "Register new patient" only when nothing matches."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import event

from app.core import clock
from app.domain.admissions.models import Encounter
from tests import factories


def _seed(db_session: Any) -> Any:
    p = factories.patient(db_session, "Łukasiewicz", "Zoë", birth_date=date(1980, 2, 3),
                          phone="07700 900123")
    db_session.add(Encounter(patient_id=p.id, class_code="AMB", status="finished",
                             started_at=clock.now() - timedelta(days=10)))
    db_session.commit()
    return p


def test_the_page_is_search_first_and_keyboard_ready(client: Any, login_as: Any, db_session: Any) -> None:
    _seed(db_session)
    login_as("reception")
    page = client.get("/patients/").get_data(as_text=True)
    box = re.search(r'<input[^>]*id="q"[^>]*>', page, re.S)
    assert box is not None
    assert 'autofocus' in box.group(0) and 'hx-trigger="input changed delay:250ms, search"' in box.group(0)
    assert 'hx-target="#patient-rows"' in box.group(0)
    assert "js/patient_search.js" in page
    rows = client.get_htmx("/patients/?q=lukas").get_data(as_text=True)
    assert rows.lstrip().startswith('<div id="patient-rows"')
    assert "data-search-results" in rows and 'class="patient-link"' in rows


def test_rows_tell_people_apart(client: Any, login_as: Any, db_session: Any) -> None:
    p = _seed(db_session)
    login_as("reception")
    rows = client.get_htmx("/patients/?q=" + "zoe łukasiewicz").get_data(as_text=True)
    row = re.search(rf'<tr id="patient-{p.id}".*?</tr>', rows, re.S)
    assert row is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0)))
    age = clock.age_on(date(1980, 2, 3), clock.today_local("Europe/London"))
    assert "ŁUKASIEWICZ, Zoë" in text and "3 Feb 1980" in text and f"({age} y)" in text
    assert "Female" in text and p.mrn in text
    visit = clock.to_local(clock.now() - timedelta(days=10), "Europe/London").date()
    assert f"{visit.day} {visit.strftime('%b %Y')}" in text  # the last visit, as a local day
    assert "register-new" not in rows


def test_wrong_check_digit_is_422_beside_the_box_before_any_query(
        client: Any, login_as: Any, db_session: Any, app: Any) -> None:
    p = _seed(db_session)
    login_as("reception")
    wrong = p.mrn[:-1] + str((int(p.mrn[-1]) + 3) % 10)
    seen: list[str] = []

    def record(conn: Any, cursor: Any, sql: str, *args: Any) -> None:
        seen.append(sql)

    event.listen(db_session.get_bind().engine, "before_cursor_execute", record)
    try:
        response = client.get_htmx(f"/patients/?q={wrong}")
    finally:
        event.remove(db_session.get_bind().engine, "before_cursor_execute", record)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "check digit is wrong" in body and 'id="q-feedback"' in body and 'hx-swap-oob="true"' in body
    assert p.mrn not in body and "register-new" not in body
    assert not [s for s in seen if "FROM patient" in s]
    page = client.get(f"/patients/?q={wrong}")
    assert page.status_code == 422 and 'aria-invalid="true"' in page.get_data(as_text=True)
    assert client.get_htmx(f"/patients/?q={p.mrn}").status_code == 200


def test_register_is_offered_prefilled_only_when_nothing_matches(client: Any, login_as: Any, db_session: Any) -> None:
    _seed(db_session)
    login_as("reception")
    assert "register-new" not in client.get_htmx("/patients/?q=lukas").get_data(as_text=True)
    body = client.get_htmx("/patients/?q=" + "Amara Okonkwo-Bello 03/02/1991").get_data(as_text=True)
    link = re.search(r'id="register-new"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*id="register-new"', body)
    assert link is not None
    url = (link.group(1) or link.group(2)).replace("&amp;", "&")
    args = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert args == {"family_name": "Okonkwo-Bello", "given_names": "Amara", "birth_date": "1991-02-03"}
    form = client.get(url).get_data(as_text=True)
    assert 'value="Okonkwo-Bello"' in form and 'value="Amara"' in form and 'value="1991-02-03"' in form
    phone = client.get_htmx("/patients/?q=07700 900999").get_data(as_text=True)
    assert "phone=07700" in phone.replace("+", " ")


def test_a_nurse_is_not_offered_registration_and_sees_her_wards_only(client: Any, login_as: Any, db_session: Any) -> None:
    mine, other = factories.ward(db_session), factories.ward(db_session)
    factories.admitted(db_session, mine, factories.patient(db_session, family="Okafor"))
    factories.admitted(db_session, other, factories.patient(db_session, family="Okonkwo"))
    db_session.commit()
    login_as("nurse", ward_ids=[mine.id])
    rows = client.get_htmx("/patients/?q=oko").get_data(as_text=True)
    assert "OKONKWO" not in rows and "register-new" not in rows and "No patient matches" in rows
    rows = client.get_htmx("/patients/?q=oka").get_data(as_text=True)
    assert "OKAFOR" in rows
    assert "OKAFOR" in client.get("/patients/").get_data(as_text=True)


def test_a_merged_record_answers_its_mrn_pointing_at_the_survivor(client: Any, login_as: Any, db_session: Any) -> None:
    old = factories.patient(db_session, "Smith", "Jon")
    survivor = factories.patient(db_session, "Smith", "John")
    old.status, old.merged_into = "merged", survivor
    db_session.commit()
    login_as("reception")
    body = client.get_htmx(f"/patients/?q={old.mrn}").get_data(as_text=True)
    assert f"merged into {survivor.mrn}" in body
    assert f'href="/patients/{survivor.id}"' in body
    assert "SMITH, Jon" not in client.get_htmx("/patients/?q=smith").get_data(as_text=True)
