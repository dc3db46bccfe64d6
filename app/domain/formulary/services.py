"""The formulary: seeding it from the reference price list, finding drugs, and the pharmacist's
edits (class, controlled status, pack GTIN and size, usual dose, limits)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, or_, select
from stdnum import ean
from stdnum.exceptions import ValidationError

from app.core import audit
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, NotFound
from app.core.security import Actor, Perm, authorize
from app.domain.dispensary import ledger
from app.domain.formulary import rules
from app.domain.formulary.models import Drug
from app.domain.prescribing import rules as dose_rules

# What the seed owns: a re-import refreshes these. Everything else on a drug (class, controlled,
# pack, defaults, limits) is the pharmacist's once the drug exists, and a re-import keeps it.
SEED_FIELDS = ("name", "generic_name", "brand", "form", "strength", "route", "dose_unit",
               "stock_unit", "dose_per_stock_unit", "unit_cost", "price_min", "price_max", "notes")
EDIT_FIELDS = ("drug_class", "controlled", "pack_gtin", "pack_size", "default_dose",
               "default_frequency", "max_single_dose", "max_daily_dose", "active")


def default_seed_path() -> Path:
    return Path(current_app.config["SHARED_DATA_DIR"]) / "reference" / "synthea_costs_2018" / "medications.csv"


@dataclass
class ImportCounts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    repeated: int = 0  # rows whose code came earlier in the file (merged into that drug)

    def describe(self) -> str:
        return (f"{self.rows} row(s): {self.created} created, {self.updated} updated, "
                f"{self.unchanged} unchanged, {self.repeated} repeated code(s) merged")


def _money(value: str) -> Decimal | None:
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        return None
    return amount.quantize(Decimal("0.01")) if amount.is_finite() and amount >= 0 else None


def _seed_values(row: dict[str, str]) -> dict[str, Any]:
    parsed = rules.parse_product(row.get("COMMENTS") or "")
    notes = "; ".join(n for n in (parsed.notes, *parsed.warnings) if n) or None
    dps = parsed.dose_per_stock_unit
    return {
        "name": parsed.name[:300], "generic_name": parsed.generic_name[:200] or parsed.name.lower()[:200],
        "brand": parsed.brand, "form": parsed.form, "strength": parsed.strength, "route": parsed.route,
        "dose_unit": parsed.dose_unit, "stock_unit": parsed.stock_unit,
        "dose_per_stock_unit": dps.quantize(Decimal("0.0001")) if dps is not None else None,
        "unit_cost": _money(row.get("MODE", "")), "price_min": _money(row.get("MIN", "")),
        "price_max": _money(row.get("MAX", "")), "notes": notes,
        # Only for new drugs:
        "_new": {"drug_class": parsed.drug_class, "controlled": parsed.controlled,
                 "default_dose": parsed.default_dose, "default_frequency": parsed.default_frequency,
                 "max_single_dose": parsed.max_single_dose, "max_daily_dose": parsed.max_daily_dose},
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    return bool(a == b)


def import_formulary(session: DbSession, actor: Actor, path: str | Path | None = None) -> ImportCounts:
    """Create or refresh drugs from the reference CSV (CODE,MIN,MODE,MAX,COMMENTS), keyed by the
    RxNorm code. Running it again changes nothing; a code listed twice is one drug (its later row
    gives the prices). The pharmacist's own fields on an existing drug are kept."""
    authorize(actor, Perm.FORMULARY_MANAGE)
    source = Path(path) if path is not None else default_seed_path()
    counts = ImportCounts()
    merged: dict[str, dict[str, Any]] = {}
    with source.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = (row.get("CODE") or "").strip()
            if not code:
                continue
            counts.rows += 1
            if code in merged:
                counts.repeated += 1
            merged[code] = _seed_values(row)
    existing = {d.code: d for d in session.scalars(select(Drug).where(Drug.code.in_(list(merged))))}
    for code, values in merged.items():
        new_only = values.pop("_new")
        drug = existing.get(code)
        if drug is None:
            session.add(Drug(code=code, code_system="rxnorm", pack_size=1, active=True, **values, **new_only))
            counts.created += 1
            continue
        before = {f: getattr(drug, f) for f in SEED_FIELDS if not _same(getattr(drug, f), values[f])}
        if not before:
            counts.unchanged += 1
            continue
        for f in before:
            setattr(drug, f, values[f])
        counts.updated += 1
        audit.record(session, actor, "drug.reimported", drug, before=before,
                     after={f: values[f] for f in before})
    session.flush()
    audit.record(session, actor, "formulary.imported", ("drug", None),
                 after={"file": source.name, "rows": counts.rows, "created": counts.created,
                        "updated": counts.updated, "unchanged": counts.unchanged,
                        "repeated": counts.repeated})
    return counts


def get_drug(session: DbSession, drug_id: int) -> Drug:
    drug = session.get(Drug, drug_id)
    if drug is None:
        raise NotFound("No such drug in the formulary.")
    return drug


def search_drugs(session: DbSession, q: str = "", *, active_only: bool = False,
                 limit: int = 50) -> list[Drug]:
    """Drugs whose generic name, product name, brand or code contains every word typed."""
    stmt = select(Drug)
    for word in q.lower().split()[:6]:
        like = f"%{word.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(func.lower(Drug.name).like(like), Drug.generic_name.like(like),
                              func.lower(Drug.brand).like(like), Drug.code == word))
    if active_only:
        stmt = stmt.where(Drug.active.is_(True))
    return list(session.scalars(stmt.order_by(Drug.generic_name, Drug.name).limit(limit)))


@dataclass
class DrugEdit:
    """The pharmacist's edit of one drug, as typed (validated here)."""

    drug_class: str | None
    controlled: bool
    pack_gtin: str | None
    pack_size: int | None
    default_dose: Decimal | None
    default_frequency: str | None
    max_single_dose: Decimal | None
    max_daily_dose: Decimal | None
    active: bool = True


def normalise_gtin(value: str | None) -> str | None:
    """A GTIN-8/12/13/14 with a valid GS1 check digit, as GTIN-14; None for blank."""
    raw = (value or "").strip().replace(" ", "")
    if not raw:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) not in (8, 12, 13, 14):
        raise DomainError("A GTIN has 8, 12, 13 or 14 digits.", field="pack_gtin")
    try:
        ean.validate(raw)
    except ValidationError as exc:
        raise DomainError("That GTIN's check digit is wrong: check the number on the pack.",
                          field="pack_gtin") from exc
    return raw.zfill(14)


def _dose(value: Decimal | None, field: str) -> None:
    """A usual dose or limit is a dose a prescriber could write (prescribing's parse_dose):
    positive, at most three decimals (the column's precision, so 0.0004 is not silently stored
    as 0.000) and below the absurd-dose bound (so it always fits the column)."""
    if value is None:
        return
    try:
        dose_rules.parse_dose(value)
    except dose_rules.DoseError as exc:
        raise DomainError(str(exc), field=field) from exc


def update_drug(session: DbSession, actor: Actor, drug_id: int, expected_version: int,
                edit: DrugEdit) -> Drug:
    """Change what the pharmacist owns on a drug. Audited with before and after; a drug edited
    by someone else since the form was opened is refused (409)."""
    authorize(actor, Perm.FORMULARY_MANAGE)
    drug = get_drug(session, drug_id)
    if drug.version != expected_version:
        raise Conflict("Someone else changed this drug since you opened it. Reload and try again.")
    gtin = normalise_gtin(edit.pack_gtin)
    if gtin is not None and session.scalar(
            select(Drug.id).where(Drug.pack_gtin == gtin, Drug.id != drug.id)) is not None:
        raise DomainError("Another drug already has this GTIN.", field="pack_gtin")
    if edit.pack_size is None or not 1 <= edit.pack_size <= 100000:
        raise DomainError("Pack size is a whole number from 1 to 100000.", field="pack_size")
    _dose(edit.default_dose, "default_dose")
    _dose(edit.max_single_dose, "max_single_dose")
    _dose(edit.max_daily_dose, "max_daily_dose")
    if bool(edit.controlled) != drug.controlled and (stock := ledger.on_hand(session, drug.id)) > 0:
        # The register's running balance starts from the first controlled movement: switching
        # with stock on the shelf would leave it at 0 (or stranded) against real stock.
        raise DomainError(f"{stock} {drug.stock_unit}(s) of this drug are in stock: changing whether it is "
                          "controlled now would leave the controlled-drug register out of step with the "
                          "shelf. Change it when none is on hand.", field="controlled")
    table = current_app.config["ADMINISTRATION_TIMES"]
    frequency = (edit.default_frequency or "").strip().upper() or None
    if frequency is not None and frequency not in table:
        raise DomainError("Not a frequency in the administration-times table.", field="default_frequency")
    if (edit.max_single_dose is not None and edit.max_daily_dose is not None
            and edit.max_single_dose > edit.max_daily_dose):
        raise DomainError("The maximum single dose cannot exceed the maximum daily dose.",
                          field="max_single_dose")
    if (edit.default_dose is not None and edit.max_single_dose is not None
            and edit.default_dose > edit.max_single_dose):
        raise DomainError("The usual dose is above the maximum single dose.", field="default_dose")
    values: dict[str, Any] = {
        "drug_class": (edit.drug_class or "").strip().lower() or None, "controlled": bool(edit.controlled),
        "pack_gtin": gtin, "pack_size": edit.pack_size, "default_dose": edit.default_dose,
        "default_frequency": frequency, "max_single_dose": edit.max_single_dose,
        "max_daily_dose": edit.max_daily_dose, "active": bool(edit.active),
    }
    before = {f: getattr(drug, f) for f in EDIT_FIELDS if not _same(getattr(drug, f), values[f])}
    if not before:
        return drug
    for f in before:
        setattr(drug, f, values[f])
    session.flush()
    audit.record(session, actor, "drug.updated", drug, before=before, after={f: values[f] for f in before})
    return drug


def known_classes(session: DbSession) -> list[str]:
    """Classes in use plus the built-in table, for the edit form's suggestions."""
    used = {c for c in session.scalars(select(Drug.drug_class).distinct()) if c}
    return sorted(used | set(rules.INGREDIENT_CLASS.values()))
