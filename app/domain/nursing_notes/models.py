"""Nursing notes: timestamped, by category, per admission; amended by a new version, never
edited in place."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, UTCDateTime

# Configurable later if a hospital wants its own list; these are the common ward headings.
NOTE_CATEGORIES = ("general", "assessment", "care", "communication", "wound", "nutrition",
                   "mobility", "safeguarding", "discharge-planning")


class NursingNote(Base):
    __tablename__ = "nursing_note"
    __table_args__ = (Index("ix_nursing_note_encounter_written", "encounter_id", "written_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    encounter_id: Mapped[int] = mapped_column(ForeignKey("encounter.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    category: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # When the care happened (may be earlier than written_at, for a late entry).
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # An amendment is a new note that replaces an earlier one, with its reason. Unique: a
    # version is amended once, so two simultaneous amendments cannot fork the history.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("nursing_note.id"), index=True,
                                                    unique=True)
    amend_reason: Mapped[str | None] = mapped_column(Text)
