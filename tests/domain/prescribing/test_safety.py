"""The safety checks the prescriber sees: allergy, duplicate, maximum dose."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.security import SYSTEM
from app.domain.formulary.models import Drug
from app.domain.patients import services as patients
from app.domain.prescribing import safety
from config import DEFAULT_ADMINISTRATION_TIMES as TABLE
from tests import factories
from tests.domain.prescribing import support


@pytest.mark.parametrize(("substance", "generic", "drug_class"), [
    ("Penicillin", "amoxicillin", "penicillins"),
    ("penicillins", "amoxicillin / clavulanate", None),
    ("Amoxycillin", "amoxicillin", "penicillins"),
    ("AMPICILLIN", "amoxicillin", "penicillins"),
    ("NSAIDs", "ibuprofen", "nsaids"),
    ("Aspirin", "naproxen", "nsaids"),
    ("Paracetamol", "acetaminophen / oxycodone hydrochloride", "opioids"),
    ("Codeine", "oxycodone hydrochloride", "opioids"),
    ("cephalosporin allergy", "cefaclor", "cephalosporins"),
])
def test_an_allergy_to_the_drug_or_its_class_is_flagged(substance: str, generic: str, drug_class: str | None) -> None:
    [finding] = safety.allergy_findings([substance], generic, drug_class)
    assert finding.check == "allergy" and substance in finding.detail


@pytest.mark.parametrize(("substance", "generic"), [
    ("Peanuts", "amoxicillin"), ("Latex", "ibuprofen"), ("Nystatin", "simvastatin"),
    ("Penicillin", "cefaclor"), ("Shellfish", "acetaminophen"),
])
def test_unrelated_allergies_are_not_flagged(substance: str, generic: str) -> None:
    drug_class = "statins" if generic == "simvastatin" else None
    assert safety.allergy_findings([substance], generic, drug_class) == []


def _drug(**kw: Any) -> Drug:
    values: dict[str, Any] = dict(name="X 500 MG Oral Tablet", generic_name="x", dose_unit="mg", stock_unit="tablet",
                                  dose_per_stock_unit=Decimal(500), max_single_dose=Decimal(1000),
                                  max_daily_dose=Decimal(3000))
    values.update(kw)
    return Drug(**values)


_DOSES = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99999"), places=3)
_FREQ = st.sampled_from(sorted(TABLE))


@given(dose=_DOSES, frequency=_FREQ, prn_max=st.integers(min_value=1, max_value=48),
       max_single=_DOSES, max_daily=_DOSES)
def test_a_dose_is_flagged_exactly_when_it_or_the_days_total_passes_the_limit(
        dose: Decimal, frequency: str, prn_max: int, max_single: Decimal, max_daily: Decimal) -> None:
    drug = _drug(max_single_dose=max_single, max_daily_dose=max_daily)
    findings = safety.dose_findings(dose, "mg", frequency, prn_max, drug, TABLE)
    per_day = prn_max if frequency == "PRN" else 1 if frequency == "STAT" else len(TABLE[frequency]["times"])
    expected = int(dose > max_single) + int(dose * per_day > max_daily)
    assert len(findings) == expected
    assert all(f.check == "max_dose" for f in findings)


@given(tablets=st.integers(min_value=1, max_value=10))
def test_doses_in_tablets_are_compared_in_mg(tablets: int) -> None:
    findings = safety.dose_findings(Decimal(tablets), "tablet", "QD", None, _drug(), TABLE)
    assert bool(findings) == (tablets * 500 > 1000)


@given(tablets=st.integers(min_value=1, max_value=99999))
def test_a_dose_that_cannot_be_converted_is_never_waved_through(tablets: int) -> None:
    findings = safety.dose_findings(Decimal(tablets), "tablet", "QD", None, _drug(dose_per_stock_unit=None), TABLE)
    assert [f.check for f in findings] == ["max_dose"]
    assert "cannot be checked against the maximum in mg" in findings[0].detail


def test_no_limit_means_no_dose_check() -> None:
    assert safety.dose_findings(Decimal(99999), "mg", "QID", None,
                                _drug(max_single_dose=None, max_daily_dose=None), TABLE) == []


def test_a_current_prescription_of_the_same_generic_is_a_duplicate(app: Any, db_session: Any) -> None:
    doctor = support.user(db_session, "doctor")
    p = factories.patient(db_session)
    first = factories.drug(db_session)
    other_strength = factories.drug(db_session, name="Amoxicillin 250 MG Oral Capsule")
    rx = support.write(db_session, doctor, p, first)
    [dup] = safety.duplicate_findings(db_session, p.id, other_strength)
    assert rx.number in dup.detail
    assert safety.duplicate_findings(db_session, p.id, other_strength, exclude_ids=[rx.id]) == []
    rx.status = "stopped"
    db_session.flush()
    assert safety.duplicate_findings(db_session, p.id, other_strength) == []


def test_run_checks_reads_the_patients_active_allergies(app: Any, db_session: Any) -> None:
    p = factories.patient(db_session)
    allergy = patients.record_allergy(db_session, SYSTEM, p.id, "Penicillin", severity="severe")
    drug = factories.drug(db_session)
    found = safety.run_checks(db_session, patient_id=p.id, substances=[allergy.substance], drug=drug,
                              dose=Decimal(2000), unit="mg", frequency="TID", prn_max_daily_doses=None, table=TABLE)
    assert {f.check for f in found} == {"allergy", "max_dose"} and len(found) == 3
