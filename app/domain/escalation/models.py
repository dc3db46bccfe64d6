"""Clinical alerts that must be acknowledged, and who is on call to receive them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, UTCDateTime

# news2: a score that needs a response; obs_overdue / dose_overdue: care that is late.
# The laboratory's critical results (issue 7) use the same loop.
ALERT_KINDS = ("news2", "obs_overdue", "dose_overdue")
ALERT_STATUSES = ("open", "acknowledged", "resolved")


class Alert(Base):
    """One thing someone must acknowledge. Each unacknowledged step raises `level` and notifies
    the next person in the chain; every step is audited."""

    __tablename__ = "clinical_alert"
    __table_args__ = (
        # One alert per subject: the same overdue dose or observation set never alerts twice.
        UniqueConstraint("kind", "subject_key"),
        Index("ix_clinical_alert_encounter_status", "encounter_id", "status"),
        Index("ix_clinical_alert_ward_status", "ward_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    subject_key: Mapped[str] = mapped_column(String(80))  # e.g. "vitals:123", "dose:55"
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    encounter_id: Mapped[int | None] = mapped_column(ForeignKey("encounter.id"))
    ward_id: Mapped[int | None] = mapped_column(ForeignKey("ward.id"))
    priority: Mapped[str] = mapped_column(String(10), default="high")  # normal | high
    text: Mapped[str] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer, default=0)  # index into the escalation chain
    status: Mapped[str] = mapped_column(String(12), default="open")
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(Text)  # e.g. "dose recorded", "new set taken"
    # The escalation chain (app/domain/escalation/chains.py) whose `level` this alert is at.
    chain: Mapped[str] = mapped_column(String(30), default="", server_default="")
    # The page the alert is about (the chart, the MAR); notifications link to the alert itself.
    link: Mapped[str | None] = mapped_column(String(300))
    # Everyone the alert has reached so far, for "my alerts".
    recipient_ids: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")

    @property
    def unresolved(self) -> bool:
        return self.status != "resolved"

    @property
    def awaiting_acknowledgement(self) -> bool:
        """Open: nobody has taken it on yet, and it keeps escalating (the board's red badge)."""
        return self.status == "open"


class OnCallShift(Base):
    """Who carries a team's bleep between two times (the on-call rota)."""

    __tablename__ = "on_call_shift"
    __table_args__ = (Index("ix_on_call_shift_team_period", "team", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team: Mapped[str] = mapped_column(String(30))  # ON_CALL_TEAMS in config
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # Taken off the rota: the row is kept (ends_at cut to the removal, or to starts_at for a
    # shift that had not begun) so "who was on call at 03:00" stays answerable.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
