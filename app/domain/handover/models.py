"""Ward shift handover: one session per ward and shift, one SBAR entry per patient, and each
SBAR field versioned separately so that two nurses editing different fields never collide."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core import clock
from app.core.db import Base, UTCDateTime
from app.domain.admissions.models import Encounter
from app.domain.patients.models import Patient

SBAR_FIELDS = ("situation", "background", "assessment", "recommendation")


class HandoverSession(Base):
    __tablename__ = "handover_session"
    __table_args__ = (
        Index("ix_handover_session_ward_status", "ward_id", "status"),
        # One open session per ward (migration 0017): a second "start" joins the open one.
        Index("uq_handover_session_ward_open", "ward_id", unique=True,
              postgresql_where=text("status = 'open'"), sqlite_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ward_id: Mapped[int] = mapped_column(ForeignKey("ward.id"))
    shift: Mapped[str] = mapped_column(String(20))  # e.g. "day → night"
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | closed
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    entries: Mapped[list[HandoverEntry]] = relationship(back_populates="session", order_by="HandoverEntry.id")


class HandoverEntry(Base):
    """One patient in a handover: the facts as they were when it was prepared, the SBAR fields,
    and the incoming nurse's acceptance."""

    __tablename__ = "handover_entry"
    __table_args__ = (UniqueConstraint("session_id", "encounter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("handover_session.id"), index=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    # Diagnosis, latest NEWS2, due/overdue doses, pending results, alerts (plain JSON values).
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    facts_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # The snapshots a refresh replaced, oldest first: [{"at": ISO time, "facts": {...}}]
    # (migration 0017). The sheet says "facts as of HH:MM" and can show what they were before.
    facts_history: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=list)
    outgoing_nurse_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    session: Mapped[HandoverSession] = relationship(back_populates="entries")
    encounter: Mapped[Encounter] = relationship()
    patient: Mapped[Patient] = relationship()
    fields: Mapped[list[HandoverField]] = relationship(
        back_populates="entry", order_by="HandoverField.id", lazy="selectin"
    )


class HandoverField(Base):
    """One SBAR field's current text. `version` rises with every save; a save names the version
    it was based on and is refused if someone saved in between."""

    __tablename__ = "handover_field"
    __table_args__ = (UniqueConstraint("entry_id", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("handover_entry.id"))
    field: Mapped[str] = mapped_column(String(16))  # SBAR_FIELDS
    text: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    entry: Mapped[HandoverEntry] = relationship(back_populates="fields")
