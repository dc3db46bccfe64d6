"""Seeding the formulary from the reference CSV, and the pharmacist's edits."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEvent
from app.core.errors import Conflict, DomainError, Forbidden
from app.core.security import SYSTEM, Perm, SystemActor
from app.domain.dispensary import ledger
from app.domain.formulary import services as formulary
from app.domain.formulary.models import Drug
from tests import factories
from tests.domain.prescribing import support

SEED = formulary.default_seed_path


def _csv_codes(app: Any) -> tuple[int, set[str]]:
    with app.app_context(), SEED().open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return len(rows), {r["CODE"].strip() for r in rows}


def test_every_row_imports_and_a_rerun_changes_nothing(app: Any, db_session: Any) -> None:
    rows, codes = _csv_codes(app)
    counts = formulary.import_formulary(db_session, SYSTEM)
    assert counts.rows == rows and counts.repeated == rows - len(codes) == 3
    assert counts.created == len(codes) and counts.updated == 0
    stored = set(db_session.scalars(select(Drug.code).where(Drug.code.in_(codes))))
    assert stored == codes
    amox = db_session.scalar(select(Drug).where(Drug.code == "308192"))
    assert (amox.generic_name, amox.unit_cost, amox.price_min, amox.price_max, amox.code_system) == (
        "amoxicillin", Decimal("4.00"), Decimal("0.01"), Decimal("25.00"), "rxnorm")
    # A repeated code is one drug; its later row gives the prices.
    naproxen = db_session.scalar(select(Drug).where(Drug.code == "849574"))
    assert naproxen.unit_cost == Decimal("8.00") and naproxen.price_min == Decimal("3.00")
    again = formulary.import_formulary(db_session, SYSTEM)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(codes))
    assert db_session.scalar(select(func.count()).select_from(Drug).where(Drug.code.in_(codes))) == len(codes)


def test_a_rerun_refreshes_prices_but_keeps_the_pharmacists_limits(app: Any, db_session: Any, tmp_path: Path) -> None:
    path = tmp_path / "meds.csv"
    path.write_text("CODE,MIN,MODE,MAX,COMMENTS\n308192,0.01,4,25,Amoxicillin 500 MG Oral Tablet\n")
    formulary.import_formulary(db_session, SYSTEM, path)
    drug = db_session.scalar(select(Drug).where(Drug.code == "308192"))
    formulary.update_drug(db_session, SYSTEM, drug.id, drug.version, _edit(drug, max_single_dose=Decimal("750")))
    path.write_text("CODE,MIN,MODE,MAX,COMMENTS\n308192,0.02,5,30,Amoxicillin 500 MG Oral Tablet\n")
    counts = formulary.import_formulary(db_session, SYSTEM, path)
    assert counts.updated == 1
    db_session.refresh(drug)
    assert drug.unit_cost == Decimal("5.00") and drug.max_single_dose == Decimal("750")
    audit_row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "drug.reimported",
                                                           AuditEvent.entity_id == str(drug.id)))
    assert audit_row is not None and '"unit_cost"' in (audit_row.before or "")


def test_only_the_formulary_manager_imports(db_session: Any) -> None:
    with pytest.raises(Forbidden):
        formulary.import_formulary(db_session, SystemActor("clerk", frozenset({Perm.PATIENT_READ})))


def _edit(drug: Drug, **kw: Any) -> formulary.DrugEdit:
    values = dict(drug_class=drug.drug_class, controlled=drug.controlled, pack_gtin=drug.pack_gtin,
                  pack_size=drug.pack_size, default_dose=drug.default_dose,
                  default_frequency=drug.default_frequency, max_single_dose=drug.max_single_dose,
                  max_daily_dose=drug.max_daily_dose, active=drug.active)
    values.update(kw)
    return formulary.DrugEdit(**values)


def test_the_pharmacist_edits_a_drug_with_a_valid_gtin_and_it_is_audited(app: Any, db_session: Any) -> None:
    drug = factories.drug(db_session, pack_gtin=None)
    formulary.update_drug(db_session, SYSTEM, drug.id, drug.version,
                          _edit(drug, pack_gtin="4006381333931", pack_size=28, controlled=True,
                                drug_class="Penicillins"))
    assert drug.pack_gtin == "04006381333931" and drug.pack_size == 28 and drug.controlled
    assert drug.drug_class == "penicillins"
    row = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "drug.updated",
                                                     AuditEvent.entity_id == str(drug.id)))
    assert row is not None and "04006381333931" in (row.after or "") and '"pack_size":21' in (row.before or "")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("pack_gtin", "4006381333932", "check digit"),
    ("pack_gtin", "12345", "digits"),
    ("default_frequency", "FORTNIGHTLY", "frequency"),
    ("max_single_dose", Decimal("5000"), "daily"),
    ("default_dose", Decimal("-1"), "more than zero"),
    ("default_dose", Decimal("0.0004"), "three decimal places"),
    ("max_daily_dose", Decimal("999999999.9999"), "impossibly large"),
    ("pack_size", 0, "Pack size"),
])
def test_bad_drug_edits_are_refused_beside_the_field(app: Any, db_session: Any, field: str, value: Any,
                                                     message: str) -> None:
    drug = factories.drug(db_session)
    with pytest.raises(DomainError) as caught:
        formulary.update_drug(db_session, SYSTEM, drug.id, drug.version, _edit(drug, **{field: value}))
    assert caught.value.field == field and message in caught.value.message


def test_controlled_status_cannot_change_while_stock_is_on_hand(app: Any, db_session: Any) -> None:
    drug = factories.drug(db_session)
    stock = factories.batch(db_session, drug, quantity=30)
    with pytest.raises(DomainError) as caught:
        formulary.update_drug(db_session, SYSTEM, drug.id, drug.version, _edit(drug, controlled=True))
    assert caught.value.field == "controlled"
    assert "30 tablet(s)" in caught.value.message and "register" in caught.value.message
    assert not drug.controlled
    ledger.post(db_session, SYSTEM, stock.id, -30, "adjustment", reason="destroyed")
    formulary.update_drug(db_session, SYSTEM, drug.id, drug.version, _edit(drug, controlled=True))
    assert drug.controlled
    more = factories.batch(db_session, drug, quantity=0)
    ledger.post(db_session, support.user(db_session, "pharmacist"), more.id, 5, "receipt",
                witness=support.user(db_session, "pharmacist"))
    with pytest.raises(DomainError) as caught:
        formulary.update_drug(db_session, SYSTEM, drug.id, drug.version, _edit(drug, controlled=False))
    assert caught.value.field == "controlled" and drug.controlled


def test_a_gtin_belongs_to_one_drug_and_stale_edits_are_refused(app: Any, db_session: Any) -> None:
    first = factories.drug(db_session)
    second = factories.drug(db_session)
    with pytest.raises(DomainError) as caught:
        formulary.update_drug(db_session, SYSTEM, second.id, second.version, _edit(second, pack_gtin=first.pack_gtin))
    assert caught.value.field == "pack_gtin"
    with pytest.raises(Conflict):
        formulary.update_drug(db_session, SYSTEM, second.id, second.version - 1, _edit(second, pack_size=5))


def test_search_finds_by_generic_brand_or_code(app: Any, db_session: Any) -> None:
    formulary.import_formulary(db_session, SYSTEM)
    assert {d.code for d in formulary.search_drugs(db_session, "amoxicillin 500")} >= {"308192"}
    assert [d.code for d in formulary.search_drugs(db_session, "valium")] == ["563026"]
    assert [d.code for d in formulary.search_drugs(db_session, "855332")] == ["855332"]
