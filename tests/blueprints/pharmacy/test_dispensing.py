"""The dispensing pages: the worklist, the dispense form with its scan box, refusals beside
their fields, the dispensing's page and returns to stock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from app.domain.dispensary import ledger
from app.domain.dispensary.gs1 import element_string
from app.domain.dispensary.models import Dispensing, StockMovement
from app.domain.dispensary.stock import today
from tests import factories
from tests.conftest import PASSWORD


def stock(db_session: Any, **rx: Any) -> tuple[Any, Any, Any, Any]:
    d = factories.drug(db_session)
    soon = factories.batch(db_session, d, 10, expiry=today() + timedelta(days=40), batch_number="SOON1")
    late = factories.batch(db_session, d, 90, expiry=today() + timedelta(days=400), batch_number="LATE1")
    p = factories.patient(db_session, family="Okafor", given="Ada")
    prescription = factories.verified_prescription(db_session, p, d, **rx)
    db_session.commit()
    return d, soon, late, prescription


def url(rx: Any) -> str:
    return f"/pharmacy/dispensing/prescriptions/{rx.id}"


def dispensing_count(db_session: Any) -> int:
    return int(db_session.scalar(select(func.count(Dispensing.id))) or 0)


def test_worklist_shows_verified_prescriptions_urgent_first(client, db_session, login_as) -> None:
    d = factories.drug(db_session)
    p = factories.patient(db_session)
    routine = factories.verified_prescription(db_session, p, d)
    urgent = factories.verified_prescription(db_session, p, d, priority="urgent")
    pending = factories.verified_prescription(db_session, p, d, verification="pending")
    db_session.commit()
    login_as("pharmacist")
    page = client.get("/pharmacy/dispensing/").get_data(as_text=True)
    assert page.index(f'id="waiting-rx-{urgent.id}"') < page.index(f'id="waiting-rx-{routine.id}"')
    assert f'id="waiting-rx-{pending.id}"' not in page


def test_only_pharmacy_staff_reach_the_dispensing_pages(client, db_session, login_as) -> None:
    *_, rx = stock(db_session)
    login_as("nurse")
    assert client.get("/pharmacy/dispensing/").status_code == 403
    assert client.get(url(rx)).status_code == 403
    assert client.post_form(url(rx), {"quantity": "5"}).status_code == 403


def test_the_form_shows_patient_order_and_fefo_picks(client, db_session, login_as) -> None:
    d, soon, _late, rx = stock(db_session)
    login_as("pharmacist")
    page = client.get(url(rx)).get_data(as_text=True)
    assert "okafor" in page.lower() and d.name in page and rx.number in page
    assert 'value="21"' in page  # the prescribed quantity is proposed
    assert page.index("SOON1") < page.index("LATE1")  # 10 from SOON1, then 11 from LATE1
    assert 'id="scan"' in page and "autofocus" in page
    preview = client.get_htmx(f"{url(rx)}/picks?quantity=4&location_id={soon.location_id}").get_data(as_text=True)
    assert f'id="pick-batch-{soon.id}"' in preview and "LATE1" not in preview


def test_scanning_the_pack_dispenses_and_moves_on_to_the_dispensing(client, db_session, login_as) -> None:
    d, soon, _late, rx = stock(db_session)
    login_as("pharmacist")
    code = element_string(d.pack_gtin, soon.expiry, "SOON1", "PACK7")
    response = client.post_form(url(rx), {"quantity": "21", "scan": code, "location_id": soon.location_id,
                                          "supplies": "0"}, htmx=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    dispensing = db_session.scalar(select(Dispensing))
    assert response.headers["HX-Redirect"] == f"/pharmacy/dispensing/{dispensing.id}"
    assert dispensing.scanned and dispensing.quantity == 21
    page = client.get(response.headers["HX-Redirect"]).get_data(as_text=True)
    assert dispensing.number in page and "SOON1" in page and "LATE1" in page
    assert 'id="dispense-return-form"' in page
    assert f"/pharmacy/dispensings/{dispensing.id}/label.pdf" in page  # the label, then the sheet
    assert f"/pharmacy/dispensings/{dispensing.id}/labels.pdf" in page


def test_a_wrong_pack_is_refused_beside_the_scan_box_and_nothing_is_written(client, db_session, login_as) -> None:
    _d, soon, late, rx = stock(db_session)
    other = factories.drug(db_session, name="Ibuprofen 400 MG Oral Tablet")
    db_session.commit()
    login_as("pharmacist")
    response = client.post_form(url(rx), {"quantity": "21", "location_id": soon.location_id, "supplies": "0",
                                          "scan": element_string(other.pack_gtin, soon.expiry, "SOON1")}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="scan-error"' in body and "Wrong drug" in body and "Ibuprofen" in body
    assert dispensing_count(db_session) == 0 and (soon.quantity, late.quantity) == (10, 90)


def test_short_stock_is_refused_beside_the_quantity_unless_partial(client, db_session, login_as) -> None:
    _d, soon, _late, rx = stock(db_session, quantity=200)
    login_as("pharmacist")
    form = {"quantity": "150", "location_id": soon.location_id, "supplies": "0"}
    response = client.post_form(url(rx), form, htmx=True)
    assert response.status_code == 422
    assert "Only 100 tablet available" in response.get_data(as_text=True)
    assert dispensing_count(db_session) == 0
    response = client.post_form(url(rx), {**form, "allow_partial": "y"}, htmx=True)
    assert "HX-Redirect" in response.headers
    dispensing = db_session.scalar(select(Dispensing))
    assert (dispensing.partial, dispensing.quantity) == (True, 100)


def test_a_second_click_on_the_same_form_is_a_conflict_not_a_second_supply(client, db_session, login_as) -> None:
    _d, soon, _late, rx = stock(db_session)
    login_as("pharmacist")
    form = {"quantity": "5", "location_id": soon.location_id, "supplies": "0"}
    assert "HX-Redirect" in client.post_form(url(rx), form, htmx=True).headers
    again = client.post_form(url(rx), form, htmx=True)
    assert again.status_code == 409 and "dispensed meanwhile" in again.get_data(as_text=True)
    assert dispensing_count(db_session) == 1 and soon.quantity == 5


def test_bad_quantity_is_422_beside_the_field(client, db_session, login_as) -> None:
    _d, soon, _late, rx = stock(db_session)
    login_as("pharmacist")
    for value in ("", "0", "abc", "-4"):
        response = client.post_form(url(rx), {"quantity": value, "location_id": soon.location_id}, htmx=True)
        assert response.status_code == 422
        assert 'id="quantity-error"' in response.get_data(as_text=True)
    assert dispensing_count(db_session) == 0


def test_a_controlled_drug_needs_a_witness_password(client, db_session, login_as, make_user) -> None:
    pharmacist = login_as("pharmacist")
    nurse = make_user("nurse")
    d = factories.drug(db_session, name="Oxycodone 5 MG Oral Tablet", controlled=True)
    b = factories.batch(db_session, d, 0)
    ledger.post(db_session, pharmacist, b.id, 30, "receipt", witness=nurse)
    rx = factories.verified_prescription(db_session, factories.patient(db_session), d, quantity=10)
    db_session.commit()
    form = {"quantity": "10", "location_id": b.location_id, "supplies": "0",
            "witness_username": nurse.username, "witness_password": "wrong"}
    page = client.get(url(rx)).get_data(as_text=True)
    assert 'id="dispense-witness"' in page
    response = client.post_form(url(rx), form, htmx=True)
    assert response.status_code == 422 and "Witness not confirmed" in response.get_data(as_text=True)
    assert b.quantity == 30
    response = client.post_form(url(rx), {**form, "witness_password": PASSWORD}, htmx=True)
    assert "HX-Redirect" in response.headers, response.get_data(as_text=True)
    db_session.refresh(b)
    assert b.quantity == 20


def test_returning_to_stock_from_the_dispensing_page(client, db_session, login_as) -> None:
    _d, soon, late, rx = stock(db_session)
    login_as("pharmacist")
    client.post_form(url(rx), {"quantity": "21", "location_id": soon.location_id, "supplies": "0"}, htmx=True)
    dispensing = db_session.scalar(select(Dispensing))
    back = f"/pharmacy/dispensing/{dispensing.id}/return"
    too_many = client.post_form(back, {"quantity": "22", "reason": "Discharged"}, htmx=True)
    assert too_many.status_code == 422 and "Only 21 tablet can come back" in too_many.get_data(as_text=True)
    no_reason = client.post_form(back, {"quantity": "3", "reason": ""}, htmx=True)
    assert no_reason.status_code == 422 and "Say why" in no_reason.get_data(as_text=True)
    ok = client.post_form(back, {"quantity": "6", "reason": "Discharged early"}, htmx=True)
    assert ok.headers["HX-Redirect"] == f"/pharmacy/dispensing/{dispensing.id}"
    db_session.refresh(late)
    assert late.quantity == 90 - 11 + 6
    assert db_session.scalar(select(func.count(StockMovement.id)).where(StockMovement.kind == "return")) == 1


def test_a_prescription_on_hold_shows_why_and_cannot_be_dispensed(client, db_session, login_as) -> None:
    _d, soon, _late, rx = stock(db_session, status="on-hold")
    login_as("pharmacist")
    page = client.get(url(rx)).get_data(as_text=True)
    assert 'id="dispense-blocked"' in page and "on hold" in page
    response = client.post_form(url(rx), {"quantity": "5", "location_id": soon.location_id, "supplies": "0"},
                                htmx=True)
    assert response.status_code == 409 and "on hold" in response.get_data(as_text=True)
    assert dispensing_count(db_session) == 0
