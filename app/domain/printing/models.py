from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core import clock
from app.core.db import Base, UTCDateTime


class PrintJob(Base):
    """A document rendered in the background (the `pdf` queue) for the person who asked for it.

    The finished PDF is kept in the row until it expires (PRINT_JOB_RETENTION_HOURS), so it
    never sits in a file outside the database's backups, encryption and access control."""

    __tablename__ = "print_job"
    __table_args__ = (Index("ix_print_job_requested_by_created", "requested_by_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(40))
    # Plain values only (ids, strings, ISO dates): what the job needs to render the document.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | done | failed
    error: Mapped[str | None] = mapped_column(Text)
    filename: Mapped[str] = mapped_column(String(120))
    # Deferred: polling the status never loads the document.
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
