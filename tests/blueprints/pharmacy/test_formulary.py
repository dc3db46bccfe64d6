"""The formulary pages: search, and the pharmacist's edit with errors beside the fields."""

from __future__ import annotations

from typing import Any

from tests import factories


def test_the_list_filters_as_you_type(client: Any, db_session: Any, login_as: Any) -> None:
    factories.drug(db_session, name="Zzqa Amoxicillin 500 MG Oral Tablet")
    factories.drug(db_session, name="Zzqb Ibuprofen 200 MG Oral Tablet", generic_name="ibuprofen")
    db_session.commit()
    login_as("doctor")
    page = client.get("/pharmacy/formulary?q=zzqa")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Zzqa Amoxicillin" in html and "Zzqb Ibuprofen" not in html
    fragment = client.get_htmx("/pharmacy/formulary?q=zzqb ibuprofen").get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="formulary-rows">') and "Zzqb Ibuprofen" in fragment


def test_the_pharmacist_edits_limits_and_gtin(client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session, pack_gtin=None)
    db_session.commit()
    login_as("pharmacist")
    page = client.get(f"/pharmacy/formulary/{drug.id}")
    assert page.status_code == 200 and 'id="save-drug"' in page.get_data(as_text=True)
    data = {"version": drug.version, "drug_class": "penicillins", "pack_gtin": "4006381333932", "pack_size": "21",
            "default_dose": "500", "default_frequency": "TID", "max_single_dose": "1000", "max_daily_dose": "3000",
            "active": "y"}
    bad = client.post_form(f"/pharmacy/formulary/{drug.id}", data, htmx=True)
    assert bad.status_code == 422 and 'id="pack_gtin-error"' in bad.get_data(as_text=True)
    junk = client.post_form(f"/pharmacy/formulary/{drug.id}", {**data, "pack_gtin": "", "max_daily_dose": "lots"},
                            htmx=True)
    assert junk.status_code == 422 and 'id="max_daily_dose-error"' in junk.get_data(as_text=True)
    ok = client.post_form(f"/pharmacy/formulary/{drug.id}", {**data, "pack_gtin": "4006381333931",
                                                             "max_single_dose": "750"}, htmx=True)
    assert ok.status_code == 200 and ok.headers.get("HX-Redirect")
    db_session.refresh(drug)
    assert drug.pack_gtin == "04006381333931" and drug.max_single_dose == 750
    stale = client.post_form(f"/pharmacy/formulary/{drug.id}", data, htmx=True)
    assert stale.status_code == 409


def _edit_form(drug: Any, **changes: Any) -> dict[str, Any]:
    data = {"version": drug.version, "drug_class": "penicillins", "pack_gtin": "", "pack_size": "21",
            "default_dose": "500", "default_frequency": "TID", "max_single_dose": "1000", "max_daily_dose": "3000",
            "active": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_form_with_a_junk_version_is_out_of_date(client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session, pack_gtin=None)
    db_session.commit()
    login_as("pharmacist")
    for version in ("x", "", None, "99999999999999999999"):
        response = client.post_form(f"/pharmacy/formulary/{drug.id}", _edit_form(drug, version=version), htmx=True)
        assert response.status_code == 409, version
        assert "out of date" in response.get_data(as_text=True)
    db_session.refresh(drug)
    assert drug.pack_size == 21


def test_doses_the_columns_cannot_hold_are_422_beside_the_field(client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session, pack_gtin=None)
    db_session.commit()
    login_as("pharmacist")
    for field, value, message in [("default_dose", "0.0004", "three decimal places"),
                                  ("max_daily_dose", "999999999.9999", "impossibly large"),
                                  ("max_single_dose", "0", "more than zero")]:
        response = client.post_form(f"/pharmacy/formulary/{drug.id}", _edit_form(drug, **{field: value}), htmx=True)
        html = response.get_data(as_text=True)
        assert response.status_code == 422, (field, value)
        assert f'id="{field}-error"' in html and message in html, (field, value)
    db_session.refresh(drug)
    assert (drug.default_dose, drug.max_daily_dose) == (500, 3000)


def test_controlled_status_is_not_changed_with_stock_on_the_shelf(client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session, pack_gtin=None)
    factories.batch(db_session, drug, quantity=40)
    db_session.commit()
    login_as("pharmacist")
    refused = client.post_form(f"/pharmacy/formulary/{drug.id}", _edit_form(drug, controlled="y"), htmx=True)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="controlled-error"' in html
    assert "40 tablet(s)" in html and "controlled-drug register" in html
    db_session.refresh(drug)
    assert not drug.controlled


def test_doctors_see_the_drug_but_cannot_edit_it(client: Any, db_session: Any, login_as: Any) -> None:
    drug = factories.drug(db_session)
    db_session.commit()
    login_as("doctor")
    page = client.get(f"/pharmacy/formulary/{drug.id}").get_data(as_text=True)
    assert drug.name in page and 'id="save-drug"' not in page
    refused = client.post_form(f"/pharmacy/formulary/{drug.id}", {"version": drug.version, "pack_size": "5"})
    assert refused.status_code == 403
    login_as_reception = client.post_form("/logout")
    assert login_as_reception.status_code in (200, 302, 303)
    login_as("reception")
    assert client.get("/pharmacy/formulary").status_code == 403
