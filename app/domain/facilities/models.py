from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, UTCDateTime

BED_STATES = ("available", "occupied", "reserved", "cleaning", "out_of_service")


class Ward(TimestampMixin, Base):
    __tablename__ = "ward"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    specialty: Mapped[str | None] = mapped_column(String(80))
    ward_class: Mapped[str] = mapped_column(String(20), default="general")

    rooms: Mapped[list[Room]] = relationship(
        back_populates="ward", order_by="Room.code", cascade="all, delete-orphan"
    )

    def __str__(self) -> str:
        return self.name


class Room(Base):
    __tablename__ = "room"
    __table_args__ = (UniqueConstraint("ward_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("ward.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))

    ward: Mapped[Ward] = relationship(back_populates="rooms")
    beds: Mapped[list[Bed]] = relationship(
        back_populates="room", order_by="Bed.code", cascade="all, delete-orphan"
    )


class Bed(Base):
    __tablename__ = "bed"
    __table_args__ = (UniqueConstraint("room_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("room.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    # available | occupied | reserved | cleaning | out_of_service (the wards issue drives these)
    state: Mapped[str] = mapped_column(String(20), default="available")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state_note: Mapped[str | None] = mapped_column(String(200))  # e.g. why out of service

    room: Mapped[Room] = relationship(back_populates="beds")

    @property
    def label(self) -> str:
        return f"{self.room.code}-{self.code}"


class BedReservation(Base):
    """A bed held for a pending admission. It lapses at `expires_at` (a due row times it out)."""

    __tablename__ = "bed_reservation"
    __table_args__ = (
        Index(
            "uq_bed_reservation_bed_active",
            "bed_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    bed_id: Mapped[int] = mapped_column(ForeignKey("bed.id"), index=True)
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"), index=True)
    note: Mapped[str | None] = mapped_column(String(200))  # "from ED cubicle 4", "elective list"
    reserved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reserved_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|used|expired|cancelled
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    bed: Mapped[Bed] = relationship()
