"""The checks a prescriber sees while writing: allergy (to the drug or its class), a duplicate
active prescription of the same drug, and a dose above the formulary's maximum."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import select

from app.core.db import DbSession
from app.domain.formulary import rules as formulary_rules
from app.domain.formulary.models import Drug
from app.domain.prescribing import rules
from app.domain.prescribing.models import Prescription

CHECKS = ("allergy", "duplicate", "max_dose")
CHECK_LABELS = {"allergy": "Allergy", "duplicate": "Duplicate prescription", "max_dose": "Dose above maximum"}
# Statuses that make a prescription "current" for the duplicate check.
CURRENT = ("active", "on-hold")
# Above this similarity (rapidfuzz ratio, 0-100) a recorded substance names the ingredient:
# "amoxycillin" and "amoxicillin", "ibuprofene" and "ibuprofen".
FUZZY_MATCH = 85

# The names people write in allergy lists for an ingredient the formulary names otherwise.
COMMON_NAMES: dict[str, str] = {
    "paracetamol": "acetaminophen", "adrenaline": "epinephrine", "salbutamol": "albuterol",
    "pethidine": "meperidine", "ciclosporin": "cyclosporine", "glyceryl": "nitroglycerin",
    "gtn": "nitroglycerin", "co-amoxiclav": "amoxicillin", "augmentin": "amoxicillin",
    "amoxil": "amoxicillin", "asa": "aspirin", "acetylsalicylic": "aspirin", "advil": "ibuprofen",
    "motrin": "ibuprofen", "nurofen": "ibuprofen", "tylenol": "acetaminophen",
    "valium": "diazepam", "klonopin": "clonazepam", "percocet": "oxycodone", "vicodin": "hydrocodone",
    "demerol": "meperidine", "ritalin": "methylphenidate", "lyrica": "pregabalin",
    "tegretol": "carbamazepine", "keflex": "cephalexin", "coumadin": "warfarin",
}
# Names of whole classes as people write them (singular, lower case) -> the formulary class.
CLASS_NAMES: dict[str, str] = {
    "penicillin": "penicillins", "beta-lactam": "penicillins", "beta lactam": "penicillins",
    "cephalosporin": "cephalosporins", "nsaid": "nsaids", "non-steroidal": "nsaids",
    "opioid": "opioids", "opiate": "opioids", "benzodiazepine": "benzodiazepines",
    "tetracycline": "tetracyclines", "statin": "statins", "antihistamine": "antihistamines",
    "sulfonamide": "sulfonamides", "sulfa": "sulfonamides", "insulin": "insulins",
}


@dataclass(frozen=True)
class Finding:
    """One triggered check: which, and what the prescriber is told."""

    check: str
    detail: str


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9\- ]", " ", text.lower()).split())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("es") and len(word) > 4 and word[-3] in "sxz":
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def allergy_targets(substance: str) -> tuple[set[str], set[str]]:
    """(ingredients, classes) a recorded allergy substance stands for. An allergy to one
    penicillin is an allergy to the class; "Penicillins", "penicillin allergy" name the class."""
    text = _normalise(substance)
    words = [_singular(w) for w in text.split()]
    ingredients: set[str] = set()
    classes: set[str] = set()
    phrase = " ".join(words)
    for name, class_name in CLASS_NAMES.items():
        pattern = rf"\b{re.escape(name)}s?\b"
        if re.search(pattern, phrase) or re.search(pattern, text):
            classes.add(class_name)
    for raw in words:
        word = COMMON_NAMES.get(raw, raw)
        if word in formulary_rules.INGREDIENT_CLASS:
            ingredients.add(word)
        if word in formulary_rules._CLASSES or word + "s" in formulary_rules._CLASSES:
            classes.add(word if word in formulary_rules._CLASSES else word + "s")
    for word in words:
        if len(word) >= 5 and not ingredients:
            best = max(formulary_rules.INGREDIENT_CLASS, key=lambda ing: fuzz.ratio(word, ing))
            if fuzz.ratio(word, best) >= FUZZY_MATCH:
                ingredients.add(best)
    for ingredient in list(ingredients):
        if found := formulary_rules.INGREDIENT_CLASS.get(ingredient):
            classes.add(found)
    if not ingredients and not classes and words:
        ingredients.add(words[0])  # an unknown substance can still name the drug itself
    return ingredients, classes


def allergy_findings(substances: Iterable[str], generic_name: str,
                     drug_class: str | None) -> list[Finding]:
    """One finding per recorded allergy that the drug touches (its ingredient or its class)."""
    bases = [formulary_rules.ingredient_base(i) for i in generic_name.split(" / ")]
    drug_classes = set(formulary_rules.classes_of(generic_name))
    if drug_class:
        drug_classes.add(drug_class)
    findings: list[Finding] = []
    for substance in substances:
        ingredients, classes = allergy_targets(substance)
        hit_ing = next((b for b in bases if b in ingredients
                        or any(len(i) >= 5 and fuzz.ratio(b, i) >= FUZZY_MATCH for i in ingredients)), None)
        if hit_ing is not None:
            findings.append(Finding("allergy", f"Recorded allergy to {substance}: this drug contains {hit_ing}."))
            continue
        shared = sorted(drug_classes & classes)
        if shared:
            findings.append(Finding("allergy", f"Recorded allergy to {substance}: this drug is in the same "
                                               f"class ({', '.join(shared)})."))
    return findings


def dose_findings(dose: Decimal, unit: str, frequency: str, prn_max_daily_doses: int | None,
                  drug: Drug, table: Mapping[str, Mapping[str, Any]]) -> list[Finding]:
    """A dose (or day's total) above the formulary maximum, compared in the drug's dose unit."""
    amount = rules.to_dose_unit(dose, unit, drug.dose_unit, drug.stock_unit, drug.dose_per_stock_unit)
    if amount is None:
        if drug.max_single_dose is None and drug.max_daily_dose is None:
            return []
        # Never silence: a dose that cannot be compared with the maximum is itself a warning
        # (saving refuses such a unit beside the field anyway; see services.dose_units).
        return [Finding("max_dose", f"A dose in {unit} cannot be checked against the maximum in "
                                    f"{drug.dose_unit}: write it in {drug.dose_unit}.")]
    findings: list[Finding] = []
    u = drug.dose_unit
    if drug.max_single_dose is not None and amount > drug.max_single_dose:
        findings.append(Finding("max_dose", f"A single dose of {_num(amount)} {u} is above the maximum of "
                                            f"{_num(drug.max_single_dose)} {u}."))
    if drug.max_daily_dose is not None and frequency in table:
        per_day = rules.doses_per_day(frequency, table, prn_max_daily_doses)
        daily = amount * per_day
        if daily > drug.max_daily_dose:
            findings.append(Finding("max_dose", f"{_num(daily)} {u} a day ({per_day} × {_num(amount)} {u}) is above "
                                                f"the maximum of {_num(drug.max_daily_dose)} {u} a day."))
    return findings


def _num(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def duplicate_findings(session: DbSession, patient_id: int, drug: Drug,
                       exclude_ids: Iterable[int] = ()) -> list[Finding]:
    """Current (active or on hold) prescriptions of the same generic drug for this patient."""
    stmt = (select(Prescription).join(Drug, Prescription.drug_id == Drug.id)
            .where(Prescription.patient_id == patient_id, Prescription.status.in_(CURRENT),
                   Drug.generic_name == drug.generic_name))
    excluded = [i for i in exclude_ids if i is not None]
    if excluded:
        stmt = stmt.where(Prescription.id.not_in(excluded))
    return [Finding("duplicate", f"Already prescribed: {p.drug.name}, {_num(p.dose)} {p.dose_unit} "
                                 f"{p.frequency} ({p.status}, No. {p.number}).")
            for p in session.scalars(stmt.order_by(Prescription.id))]


def run_checks(session: DbSession, *, patient_id: int, substances: Iterable[str], drug: Drug,
               dose: Decimal | None, unit: str | None, frequency: str | None,
               prn_max_daily_doses: int | None, table: Mapping[str, Mapping[str, Any]],
               exclude_ids: Iterable[int] = ()) -> list[Finding]:
    """Every check that can be run on what has been written so far."""
    findings = allergy_findings(substances, drug.generic_name, drug.drug_class)
    findings += duplicate_findings(session, patient_id, drug, exclude_ids)
    if dose is not None and unit is not None and frequency is not None:
        findings += dose_findings(dose, unit, frequency, prn_max_daily_doses, drug, table)
    return findings


def by_check(findings: Iterable[Finding]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for f in findings:
        grouped.setdefault(f.check, []).append(f.detail)
    return grouped
