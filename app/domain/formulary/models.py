"""The formulary: the medicines the hospital stocks and prescribes, with their limits."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, TimestampMixin, VersionedMixin


class Drug(TimestampMixin, VersionedMixin, Base):
    """A formulary product (FHIR Medication): one strength of one form, e.g. "Amoxicillin
    500 MG Oral Tablet". Stock, prescriptions and dispensing all point at it.

    Doses are prescribed in `dose_unit` (the strength's unit, "mg", or the form's, "puff");
    stock is counted in `stock_unit` (what leaves the shelf: a tablet, a 10 mL vial, a pack)."""

    __tablename__ = "drug"
    __table_args__ = (
        Index("ix_drug_generic_name", "generic_name"),
        Index("ix_drug_pack_gtin", "pack_gtin", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)  # RxNorm RXCUI or a local code
    code_system: Mapped[str] = mapped_column(String(10), default="rxnorm")  # rxnorm | local
    name: Mapped[str] = mapped_column(String(300))  # the full product description
    generic_name: Mapped[str] = mapped_column(String(200))  # lower case, ingredients joined " / "
    brand: Mapped[str | None] = mapped_column(String(120))
    form: Mapped[str] = mapped_column(String(80))  # "Oral Tablet", "Injectable Solution", ...
    strength: Mapped[str | None] = mapped_column(String(120))  # "500 MG", "1 MG/ML", ...
    route: Mapped[str] = mapped_column(String(40))  # oral, intravenous, topical, inhalation, ...
    # The ingredient's class for allergy checks (e.g. "penicillins", "nsaids", "opioids").
    drug_class: Mapped[str | None] = mapped_column(String(80))
    dose_unit: Mapped[str] = mapped_column(String(20))  # unit a dose is written in ("mg", "tablet")
    stock_unit: Mapped[str] = mapped_column(String(20))  # unit stock is counted in ("tablet")
    # How much of dose_unit one stock_unit holds (500 for a 500 mg tablet); None when doses are
    # written in stock units.
    dose_per_stock_unit: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    pack_gtin: Mapped[str | None] = mapped_column(String(14))  # GS1 GTIN-14 of the usual pack
    pack_size: Mapped[int] = mapped_column(Integer, default=1)  # stock units in one pack
    controlled: Mapped[bool] = mapped_column(Boolean, default=False)  # on the CD register
    default_dose: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))
    default_frequency: Mapped[str | None] = mapped_column(String(10))  # an administration-times code
    max_single_dose: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))  # in dose_unit
    max_daily_dose: Mapped[Decimal | None] = mapped_column(Numeric(12, 3))  # in dose_unit
    # Price per stock unit from the seed (Synthea 2018 costs: MIN/MODE/MAX); billing marks it up.
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    price_min: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    price_max: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    notes: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
