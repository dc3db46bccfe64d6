"""Stock and its ledger: where each batch is, every movement of it, and what was dispensed.

The invariant everything here keeps: for every batch, the sum of its ledger movements equals
its quantity on hand, and no quantity is ever below zero (a CHECK constraint says so too)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, TimestampMixin, UTCDateTime
from app.domain.formulary.models import Drug

MAIN_PHARMACY = "MAIN"  # StockLocation.code of the main pharmacy store

# StockMovement.kind
MOVEMENT_KINDS = (
    "receipt",  # goods received from a supplier
    "dispense",  # to a patient
    "return",  # from a patient (or a ward) back to stock
    "transfer_out",  # from this location to another (a ward's stock)
    "transfer_in",
    "adjustment",  # breakage, expiry, destruction, correction: always with a reason
    "count",  # a stock count's correction to what was on the shelf
)


class StockLocation(Base):
    """Where stock is kept: the main pharmacy, or one ward's stock cupboard."""

    __tablename__ = "stock_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(10))  # pharmacy | ward
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"), unique=True)


class StockBatch(TimestampMixin, Base):
    """One batch (lot) of one drug in one location. `quantity` is in the drug's stock units and
    only ever changes through `dispensary.ledger.post`."""

    __tablename__ = "stock_batch"
    __table_args__ = (
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        UniqueConstraint("drug_id", "location_id", "batch_number"),
        # FEFO picking reads in this order.
        Index("ix_stock_batch_pick", "drug_id", "location_id", "expiry"),
        Index("ix_stock_batch_expiry", "expiry"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    batch_number: Mapped[str] = mapped_column(String(40))
    expiry: Mapped[date] = mapped_column(Date)  # usable through this day; expired from the next
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 4))
    supplier: Mapped[str | None] = mapped_column(String(120))
    gtin: Mapped[str | None] = mapped_column(String(14))  # the pack's GTIN as received

    drug: Mapped[Drug] = relationship()
    location: Mapped[StockLocation] = relationship()


class StockMovement(Base):
    """The stock ledger: one signed movement of one batch. Append-only."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        Index("ix_stock_movement_batch", "batch_id", "id"),
        Index("ix_stock_movement_drug_at", "drug_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    kind: Mapped[str] = mapped_column(String(16))
    quantity: Mapped[int] = mapped_column(Integer)  # signed: + into the batch, - out of it
    balance_after: Mapped[int] = mapped_column(Integer)  # the batch's quantity after this movement
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(60))  # a delivery note, a count id, ...
    dispensing_id: Mapped[int | None] = mapped_column(ForeignKey("dispensing.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    batch: Mapped[StockBatch] = relationship()


class ControlledDrugEntry(Base):
    """The controlled-drug register: per drug and location, a running balance. Every entry is
    made by one user and witnessed by another (never the same person)."""

    __tablename__ = "controlled_drug_entry"
    __table_args__ = (
        CheckConstraint("witness_id <> actor_id", name="witness_is_second_person"),
        Index("ix_cd_entry_drug_location", "drug_id", "location_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    kind: Mapped[str] = mapped_column(String(16))  # as StockMovement.kind
    quantity: Mapped[int] = mapped_column(Integer)  # signed
    balance_after: Mapped[int] = mapped_column(Integer)  # all batches of the drug in the location
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    witness_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Dispensing(TimestampMixin, Base):
    """Medicine supplied against one verified prescription (FHIR MedicationDispense)."""

    __tablename__ = "dispensing"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # check digit
    prescription_id: Mapped[int] = mapped_column(ForeignKey("prescription.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    quantity_requested: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)  # supplied (less than requested: partial)
    quantity_returned: Mapped[int] = mapped_column(Integer, default=0)
    partial: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned: Mapped[bool] = mapped_column(Boolean, default=False)  # a pack's GS1 code was checked
    status: Mapped[str] = mapped_column(String(12), default="dispensed")  # dispensed | returned
    dispensed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    dispensed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    label_prints: Mapped[int] = mapped_column(Integer, default=0)  # >0: the next one is a reprint

    lines: Mapped[list[DispensingLine]] = relationship(back_populates="dispensing",
                                                       order_by="DispensingLine.id")
    drug: Mapped[Drug] = relationship()


class DispensingLine(Base):
    """The part of a dispensing that came from one batch."""

    __tablename__ = "dispensing_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    dispensing_id: Mapped[int] = mapped_column(ForeignKey("dispensing.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    quantity_returned: Mapped[int] = mapped_column(Integer, default=0)

    dispensing: Mapped[Dispensing] = relationship(back_populates="lines")
    batch: Mapped[StockBatch] = relationship()
