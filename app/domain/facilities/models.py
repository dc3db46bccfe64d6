from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin


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

    room: Mapped[Room] = relationship(back_populates="beds")

    @property
    def label(self) -> str:
        return f"{self.room.code}-{self.code}"
