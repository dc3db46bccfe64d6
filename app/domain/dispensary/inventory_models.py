"""Inventory records around the ledger: deliveries received, transfers to ward stock, reorder
levels, stock counts, controlled-drug cupboard checks and the daily stock-alert run.

None of these hold a quantity of their own that could disagree with the shelf: every change of
stock is a `StockMovement` posted by `dispensary.ledger.post`; these rows say why and by whom."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, TimestampMixin, UTCDateTime
from app.domain.dispensary.models import StockBatch, StockLocation
from app.domain.formulary.models import Drug

COUNT_OPEN = "open"
COUNT_CLOSED = "closed"
# Where a row has both a witness and the person who acted, they are two people (as on
# controlled_drug_entry). NULL on either side (no witness needed, the system acted) passes.
SECOND_PERSON = "witness_is_second_person"


class GoodsReceipt(Base):
    """One delivery from a supplier, booked into one location."""

    __tablename__ = "goods_receipt"
    __table_args__ = (CheckConstraint("witness_id <> received_by_id", name=SECOND_PERSON),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # check digit
    supplier: Mapped[str] = mapped_column(String(120))
    delivery_reference: Mapped[str] = mapped_column(String(60))  # the supplier's delivery note
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    received_by_label: Mapped[str] = mapped_column(String(120))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)

    lines: Mapped[list[GoodsReceiptLine]] = relationship(back_populates="receipt",
                                                         order_by="GoodsReceiptLine.id")
    location: Mapped[StockLocation] = relationship()


class GoodsReceiptLine(Base):
    __tablename__ = "goods_receipt_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("goods_receipt.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"), index=True)
    movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_cost: Mapped[Decimal] = mapped_column(Numeric(12, 4))

    receipt: Mapped[GoodsReceipt] = relationship(back_populates="lines")
    batch: Mapped[StockBatch] = relationship()


class StockTransfer(Base):
    """Stock moved from one location to another (the main pharmacy to a ward's cupboard)."""

    __tablename__ = "stock_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)  # check digit
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    from_location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(120))
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)

    lines: Mapped[list[StockTransferLine]] = relationship(order_by="StockTransferLine.id")
    drug: Mapped[Drug] = relationship()
    from_location: Mapped[StockLocation] = relationship(foreign_keys=[from_location_id])
    to_location: Mapped[StockLocation] = relationship(foreign_keys=[to_location_id])


class StockTransferLine(Base):
    __tablename__ = "stock_transfer_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("stock_transfer.id"), index=True)
    from_batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    to_batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    from_batch: Mapped[StockBatch] = relationship(foreign_keys=[from_batch_id])
    to_batch: Mapped[StockBatch] = relationship(foreign_keys=[to_batch_id])


class ReorderLevel(TimestampMixin, Base):
    """Reorder `reorder_quantity` when usable stock of the drug in the location falls below
    `minimum`."""

    __tablename__ = "reorder_level"
    __table_args__ = (UniqueConstraint("drug_id", "location_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    minimum: Mapped[int] = mapped_column(Integer)
    reorder_quantity: Mapped[int] = mapped_column(Integer)

    drug: Mapped[Drug] = relationship()
    location: Mapped[StockLocation] = relationship()


class StockCount(Base):
    """A count of one location's shelves. Expected quantities are taken from the ledger when the
    count opens; closing it posts each difference as a "count" movement."""

    __tablename__ = "stock_count"
    # The witness countersigns the variances the closer posts.
    __table_args__ = (CheckConstraint("witness_id <> closed_by_id", name=SECOND_PERSON),)

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=COUNT_OPEN)  # open | closed
    note: Mapped[str | None] = mapped_column(Text)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_by_label: Mapped[str] = mapped_column(String(120))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closed_by_label: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    lines: Mapped[list[StockCountLine]] = relationship(back_populates="count",
                                                       order_by="StockCountLine.id")
    location: Mapped[StockLocation] = relationship()


class StockCountLine(Base):
    __tablename__ = "stock_count_line"
    __table_args__ = (UniqueConstraint("count_id", "batch_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    count_id: Mapped[int] = mapped_column(ForeignKey("stock_count.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("stock_batch.id"))
    expected: Mapped[int] = mapped_column(Integer)  # the ledger's figure when the count opened
    counted: Mapped[int | None] = mapped_column(Integer)
    variance: Mapped[int | None] = mapped_column(Integer)  # counted - expected, set on close
    movement_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movement.id"))

    count: Mapped[StockCount] = relationship(back_populates="lines")
    batch: Mapped[StockBatch] = relationship()


class ControlledDrugCheck(Base):
    """A witnessed count of one controlled drug's cupboard against its register balance."""

    __tablename__ = "controlled_drug_check"
    __table_args__ = (CheckConstraint("witness_id <> actor_id", name=SECOND_PERSON),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drug_id: Mapped[int] = mapped_column(ForeignKey("drug.id"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_location.id"))
    expected: Mapped[int] = mapped_column(Integer)  # the register balance before the check
    counted: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)  # required when the two differ
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    witness_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class StockAlertRun(Base):
    """The daily low-stock and expiry check, one row per hospital day, so a second run the same
    day notifies nobody again."""

    __tablename__ = "stock_alert_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    low_stock: Mapped[int] = mapped_column(Integer, default=0)
    expiring: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
