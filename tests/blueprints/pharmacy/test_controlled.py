"""The controlled-drug register pages: entries with running balance, who and witness; the
witnessed register check."""

from __future__ import annotations

from typing import Any

from app.domain.dispensary import ledger, stock
from tests import factories
from tests.conftest import PASSWORD


def _cd_stock(db_session: Any, make_user: Any) -> tuple[Any, Any, Any, Any]:
    actor, witness = make_user("pharmacist"), make_user("pharmacist")
    d = factories.drug(db_session, "Morphine Sulfate 10 MG Oral Tablet", generic_name="morphine",
                       controlled=True)
    b = factories.batch(db_session, d, 0, batch_number="CD-B1")
    ledger.post(db_session, actor, b.id, 20, "receipt", witness=witness, reason="Delivery")
    ledger.post(db_session, actor, b.id, -2, "dispense", witness=witness)
    db_session.commit()
    return d, b, actor, witness


def test_the_register_lists_entries_with_balance_actor_and_witness(
        client: Any, db_session: Any, login_as: Any, make_user: Any) -> None:
    d, _, actor, witness = _cd_stock(db_session, make_user)
    main = stock.main_location(db_session)
    login_as("charge_nurse")
    page = client.get(f"/pharmacy/controlled?drug_id={d.id}&location_id={main.id}").get_data(as_text=True)
    assert 'id="cd-balance">18<' in page and "cd-mismatch" not in page
    assert actor.full_name in page and witness.full_name in page and "CD-B1" in page
    assert "+20" in page and "-2" in page
    choose = client.get("/pharmacy/controlled").get_data(as_text=True)
    assert d.name in choose and "Choose a controlled drug" in choose
    fragment = client.get_htmx(f"/pharmacy/controlled?drug_id={d.id}").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="cd-entries">')


def test_the_register_is_closed_to_doctors(client: Any, db_session: Any, login_as: Any) -> None:
    login_as("doctor")
    assert client.get("/pharmacy/controlled").status_code == 403


def test_a_witnessed_register_check_records_the_difference(
        client: Any, db_session: Any, login_as: Any, make_user: Any) -> None:
    d, b, _, _ = _cd_stock(db_session, make_user)
    main = stock.main_location(db_session)
    witness = make_user("nurse")
    me = login_as("pharmacist")
    url = f"/pharmacy/controlled/check?drug_id={d.id}&location_id={main.id}"
    assert "CD-B1" in client.get(url).get_data(as_text=True)
    blank = client.post_form(url, {f"batch-{b.id}": ""}, htmx=True)
    assert blank.status_code == 422 and f'id="batch-{b.id}-error"' in blank.get_data(as_text=True)
    self_witness = client.post_form(url, {f"batch-{b.id}": "18", "witness_username": me.username,
                                          "witness_password": PASSWORD}, htmx=True)
    assert self_witness.status_code == 422 and "someone other than you" in self_witness.get_data(as_text=True)
    no_reason = client.post_form(url, {f"batch-{b.id}": "17", "witness_username": witness.username,
                                       "witness_password": PASSWORD}, htmx=True)
    assert no_reason.status_code == 422 and 'id="reason-error"' in no_reason.get_data(as_text=True)
    ok = client.post_form(url, {f"batch-{b.id}": "17", "witness_username": witness.username,
                                "witness_password": PASSWORD, "reason": "broken ampoule found"})
    assert ok.status_code == 303
    page = client.get(f"/pharmacy/controlled?drug_id={d.id}&location_id={main.id}").get_data(as_text=True)
    assert 'id="cd-balance">17<' in page and "broken ampoule found" in page and witness.full_name in page


def test_a_charge_nurse_sees_only_her_own_wards_patients_in_the_register(
        client: Any, db_session: Any, login_as: Any, make_user: Any) -> None:
    actor, witness = make_user("pharmacist"), make_user("pharmacist")
    theirs, hers = factories.ward(db_session, name="Cardiology"), factories.ward(db_session, name="Surgery")
    elsewhere = factories.admitted(db_session, theirs, factories.patient(db_session, "Hidden", "Harriet"))
    here = factories.admitted(db_session, hers, factories.patient(db_session, "Shown", "Sam"))
    d = factories.drug(db_session, "Oxycodone 5 MG Oral Tablet", generic_name="oxycodone",
                       controlled=True)
    b = factories.batch(db_session, d, 0, batch_number="CD-OX")
    ledger.post(db_session, actor, b.id, 20, "receipt", witness=witness)
    ledger.post(db_session, actor, b.id, -2, "dispense", witness=witness, patient_id=elsewhere.id)
    ledger.post(db_session, actor, b.id, -1, "dispense", witness=witness, patient_id=here.id)
    db_session.commit()
    main = stock.main_location(db_session)
    login_as("charge_nurse", ward_ids=[hers.id])
    page = client.get(f"/pharmacy/controlled?drug_id={d.id}&location_id={main.id}").get_data(as_text=True)
    assert 'id="cd-balance">17<' in page
    assert "Harriet" not in page and elsewhere.name not in page and elsewhere.mrn not in page
    assert page.count("patient on another ward") == 1
    assert here.name in page and here.mrn in page
