from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, TimestampMixin, UTCDateTime
from app.domain.facilities.models import Bed, Ward
from app.domain.patients.models import Patient


class Encounter(TimestampMixin, Base):
    """A FHIR-style Encounter. class_code: IMP inpatient, AMB outpatient, EMER emergency."""

    __tablename__ = "encounter"
    __table_args__ = (
        # The database itself refuses a second patient in an occupied bed.
        Index(
            "uq_encounter_bed_in_progress",
            "bed_id",
            unique=True,
            postgresql_where=text("status = 'in-progress'"),
            sqlite_where=text("status = 'in-progress'"),
        ),
        Index("ix_encounter_ward_status", "ward_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    class_code: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(20))  # planned|in-progress|finished|cancelled
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    bed_id: Mapped[int | None] = mapped_column(ForeignKey("bed.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    patient: Mapped[Patient] = relationship()
    ward: Mapped[Ward | None] = relationship()
    bed: Mapped[Bed | None] = relationship()
