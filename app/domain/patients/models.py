from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from app.core import clock
from app.core.db import Base, TimestampMixin, UTCDateTime, VersionedMixin
from app.domain.patients import rules
from app.domain.patients.rules import display_name


def _search_text(length: int) -> String:
    """A normalised search column. On PostgreSQL its collation is "C" (byte order), so that one
    btree index serves both the prefix range (family_norm >= 'smi' AND < 'smi\U0010ffff') and
    ORDER BY family_norm with a LIMIT: the most common surname is a short index range scan."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


class Patient(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "patient"
    __table_args__ = (
        # Name prefix ("smi", "smith, jo"), ordered by name: a range scan that stops at the limit.
        Index("ix_patient_search_name", "family_norm", "given_norm", "id"),
        # Name + date of birth, and date of birth alone: an equality then a short name range.
        Index("ix_patient_search_dob", "birth_date", "family_norm", "given_norm", "id"),
        # The typo-tolerant search: the family names sounding alike, without touching the table.
        Index("ix_patient_name_key", "name_key", "family_norm"),
        # The typo-tolerant search's trigram index (PostgreSQL only) is created by migration
        # 0004 on family_norm || ' ' || given_norm; SQLite blocks on name_key instead.
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(16), unique=True)
    family_name: Mapped[str] = mapped_column(String(100))
    given_names: Mapped[str] = mapped_column(String(150))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(40))
    address_line: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    postcode: Mapped[str | None] = mapped_column(String(20))
    national_id: Mapped[str | None] = mapped_column(String(40), index=True)
    # Appointment reminders (front desk): where to send them, and how the patient prefers them
    # ("email", "sms", "none" = declined; NULL = the hospital's default channel).
    email: Mapped[str | None] = mapped_column(String(200))
    reminder_channel: Mapped[str | None] = mapped_column(String(10))
    # Kept in step with the fields above by the validators below, whoever writes them.
    family_norm: Mapped[str] = mapped_column(_search_text(100), default="", server_default="")
    given_norm: Mapped[str] = mapped_column(_search_text(150), default="", server_default="")
    name_key: Mapped[str] = mapped_column(String(4), default="", server_default="")
    phone_e164: Mapped[str | None] = mapped_column(String(20), index=True)
    # "active", or "merged" once another record has absorbed this one (see merged_into_id).
    status: Mapped[str] = mapped_column(String(10), default="active", server_default="active",
                                        index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("patient.id"))

    allergies: Mapped[list[Allergy]] = relationship(
        back_populates="patient", order_by="Allergy.id", lazy="selectin"
    )
    merged_into: Mapped[Patient | None] = relationship(remote_side=[id])

    @validates("family_name")
    def _family_changed(self, _key: str, value: str) -> str:
        self.family_norm = rules.normalise_name(value or "")
        self.name_key = rules.name_key(value or "")
        return value

    @validates("given_names")
    def _given_changed(self, _key: str, value: str) -> str:
        self.given_norm = rules.normalise_name(value or "")
        return value

    @validates("phone")
    def _phone_changed(self, _key: str, value: str | None) -> str | None:
        region = (current_app.config.get("PHONE_REGION") if has_app_context() else None)
        self.phone_e164 = rules.phone_e164(value, region or rules.DEFAULT_PHONE_REGION)
        return value

    @property
    def name(self) -> str:
        return display_name(self.family_name, self.given_names)

    @property
    def is_merged(self) -> bool:
        return self.status == "merged"

    def age(self, on: date) -> int:
        return clock.age_on(self.birth_date, on)

    @property
    def active_allergies(self) -> list[Allergy]:
        return [a for a in self.allergies if a.status == "active"]


class Allergy(Base):
    """An AllergyIntolerance: what the patient reacts to and how badly."""

    __tablename__ = "allergy"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    substance: Mapped[str] = mapped_column(String(120))
    code: Mapped[str | None] = mapped_column(String(40))  # SNOMED CT where known
    reaction: Mapped[str | None] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10), default="moderate")  # mild|moderate|severe
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|inactive|entered-in-error
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    patient: Mapped[Patient] = relationship(back_populates="allergies")


class BreakGlassGrant(Base):
    """Time-limited access to one chart outside the user's ward scope, for a stated reason."""

    __tablename__ = "break_glass_grant"
    __table_args__ = (Index("ix_break_glass_user_patient", "user_id", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"))
    reason: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PatientVersion(Base):
    """One version of a patient's demographics, kept for ever: written at registration and on
    every change (correction, update, merge, unmerge), with who, when and why."""

    __tablename__ = "patient_version"
    __table_args__ = (UniqueConstraint("patient_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patient.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per patient
    # The demographic fields, the MRN and the status as they were after this change.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_by_label: Mapped[str] = mapped_column(String(120))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    change: Mapped[str] = mapped_column(String(20))  # registered|corrected|updated|merged|unmerged
    reason: Mapped[str | None] = mapped_column(Text)
