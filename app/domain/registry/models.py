"""The supervisor's worklist of possible duplicates, and merges (kept for ever, undoable)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.schema import UniqueConstraint

from app.core.db import Base, TimestampMixin, UTCDateTime
from app.domain.patients.models import Patient

# Foreign keys to patient.id that a merge must leave where they are: the bookkeeping of
# duplicates and merges themselves. (Tables elsewhere opt out the same way; see services.)
KEEP = {"patient_merge": "keep"}

# The duplicate check's "birth date one typo away, a name word in common" block reads ~1,000 rows
# of ~35 dates at 1M patients. With the id in the index that filter runs on the index alone
# (an index-only scan), and only the few rows that pass are fetched from the table.
Index("ix_patient_dob_words", Patient.birth_date, Patient.family_norm, Patient.given_norm, Patient.id)

CANDIDATE_STATUSES = ("open", "not_duplicate", "merged")
CANDIDATE_SOURCES = ("registration_override", "edit", "scan")


class DuplicateCandidate(TimestampMixin, Base):
    """A pair of records that may be one person, waiting for (or past) a supervisor's review.
    The pair is stored lower id first, so each pair has one row."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (
        UniqueConstraint("patient_a_id", "patient_b_id"),
        CheckConstraint("patient_a_id < patient_b_id", name="ordered_pair"),
        Index("ix_duplicate_candidate_status_score", "status", "score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_a_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), info=KEEP)
    patient_b_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True, info=KEEP)
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="open")  # CANDIDATE_STATUSES
    source: Mapped[str] = mapped_column(String(30))  # CANDIDATE_SOURCES
    override_reason: Mapped[str | None] = mapped_column(Text)  # the clerk's "save anyway" reason
    detected_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    detected_by_label: Mapped[str] = mapped_column(String(120))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_by_label: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)  # the supervisor's, e.g. "twins"
    merge_id: Mapped[int | None] = mapped_column(ForeignKey("patient_merge.id"))

    patient_a: Mapped[Patient] = relationship(foreign_keys=[patient_a_id])
    patient_b: Mapped[Patient] = relationship(foreign_keys=[patient_b_id])


class PatientMerge(Base):
    """One merge: the durable event (HL7 ADT^A40 is sent from it) and everything needed to undo
    it exactly: both records as they were, which value came from where, and every row that
    was moved from the retired record to the survivor."""

    __tablename__ = "patient_merge"
    __table_args__ = (
        # A record is retired into at most one survivor at a time, whoever else is merging.
        Index("uq_patient_merge_active_retired", "retired_id", unique=True,
              postgresql_where=text("status = 'active'"), sqlite_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True, info=KEEP)
    retired_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True, info=KEEP)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | undone
    reason: Mapped[str] = mapped_column(Text)
    # {field: "survivor" | "retired"}: whose value the survivor now holds.
    field_choices: Mapped[dict[str, str]] = mapped_column(JSON)
    # Every column of both patient rows before the merge, and of the survivor after it.
    survivor_before: Mapped[dict[str, Any]] = mapped_column(JSON)
    retired_before: Mapped[dict[str, Any]] = mapped_column(JSON)
    survivor_after: Mapped[dict[str, Any]] = mapped_column(JSON)
    # [{"table": "allergy", "column": "patient_id", "pk": {"id": 7}}, ...]
    moved_rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    merged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    merged_by_label: Mapped[str] = mapped_column(String(120))
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    undone_by_label: Mapped[str | None] = mapped_column(String(120))
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    undo_reason: Mapped[str | None] = mapped_column(Text)

    survivor: Mapped[Patient] = relationship(foreign_keys=[survivor_id])
    retired: Mapped[Patient] = relationship(foreign_keys=[retired_id])

    def moved_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.moved_rows:
            counts[row["table"]] = counts.get(row["table"], 0) + 1
        return counts
