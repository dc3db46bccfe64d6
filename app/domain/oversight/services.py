"""Searching and exporting the audit trail. Looking at the trail is itself audited when a
selection leaves the system (CSV or PDF)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select

from app.core import audit
from app.core.audit import AuditEvent
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.security import Actor, Perm, authorize
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from app.domain.patients.rules import mrn_problem


@dataclass
class AuditFilter:
    mrn: str = ""
    username: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def is_empty(self) -> bool:
        return not any(asdict(self).values())


@dataclass
class AuditPage:
    rows: list[AuditEvent]
    total: int
    page: int
    per_page: int
    patient: Patient | None
    mrns: dict[int, str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _statement(session: DbSession, f: AuditFilter, tz: str) -> tuple[Select[Any], Patient | None]:
    stmt = select(AuditEvent)
    patient = None
    if f.mrn:
        problem = mrn_problem(f.mrn)
        if problem:
            raise DomainError(problem, field="mrn")
        patient = session.scalar(select(Patient).where(Patient.mrn == f.mrn.strip()))
        if patient is None:
            raise DomainError("No patient has that MRN.", field="mrn")
        stmt = stmt.where(AuditEvent.patient_id == patient.id)
    if f.username:
        user = session.scalar(select(User).where(User.username == f.username.strip().lower()))
        if user is None:
            raise DomainError("No user has that username.", field="username")
        stmt = stmt.where(AuditEvent.actor_id == user.id)
    if f.action:
        stmt = stmt.where(AuditEvent.action.startswith(f.action.strip(), autoescape=True))
    zone = ZoneInfo(tz)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise DomainError("The start date is after the end date.", field="date_from")
    if f.date_from:
        stmt = stmt.where(AuditEvent.occurred_at >= datetime.combine(f.date_from, time.min, zone))
    if f.date_to:
        end = datetime.combine(f.date_to + timedelta(days=1), time.min, zone)
        stmt = stmt.where(AuditEvent.occurred_at < end)
    return stmt, patient


def search(session: DbSession, actor: Actor, f: AuditFilter, tz: str, page: int = 1, per_page: int = 50) -> AuditPage:
    authorize(actor, Perm.AUDIT_READ)
    stmt, patient = _statement(session, f, tz)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = max(1, page)
    rows = list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).offset((page - 1) * per_page).limit(per_page)))
    return AuditPage(rows, total, page, per_page, patient, mrns_for(session, rows))


def mrns_for(session: DbSession, rows: list[AuditEvent]) -> dict[int, str]:
    """MRNs for the rows' patients, in one query: people read MRNs, not internal ids."""
    ids = {r.patient_id for r in rows if r.patient_id is not None}
    if not ids:
        return {}
    rows_ = session.execute(select(Patient.id, Patient.mrn).where(Patient.id.in_(ids)))
    return {pid: mrn for pid, mrn in rows_}


def export(session: DbSession, actor: Actor, f: AuditFilter, tz: str, fmt: str, limit: int) -> tuple[list[AuditEvent], bool]:
    """The selection, oldest first, capped at `limit`; True when it was cut short."""
    selection = select_for_export(session, actor, f, tz, limit)
    record_export(session, actor, selection, fmt)
    return selection.rows, selection.truncated


@dataclass
class ExportSelection:
    filter: AuditFilter
    rows: list[AuditEvent]
    truncated: bool
    patient: Patient | None


def select_for_export(session: DbSession, actor: Actor, f: AuditFilter, tz: str, limit: int) -> ExportSelection:
    """What an export of `f` holds, not yet recorded. A document produced later (a print job)
    records it with `record_export` once it exists, so the audit chain's lock is not held while
    the document renders."""
    authorize(actor, Perm.AUDIT_EXPORT)
    stmt, patient = _statement(session, f, tz)
    rows = list(session.scalars(stmt.order_by(AuditEvent.seq).limit(limit + 1)))
    return ExportSelection(f, rows[:limit], len(rows) > limit, patient)


def record_export(session: DbSession, actor: Actor, selection: ExportSelection, fmt: str) -> None:
    """Record in the audit trail that `selection` left the system as `fmt`."""
    audit.record(session, actor, f"audit.exported_{fmt}", ("audit_event", None),
                 patient_id=selection.patient.id if selection.patient else None,
                 after={"filter": asdict(selection.filter), "rows": len(selection.rows),
                        "truncated": selection.truncated})


CSV_COLUMNS = ("seq", "occurred_at", "actor_label", "action", "entity_type", "entity_id",
               "patient_id", "before", "after", "reason", "request_id", "ip", "hash")


def csv_rows(rows: list[AuditEvent], mrns: dict[int, str]) -> Iterator[list[str]]:
    yield [*CSV_COLUMNS, "patient_mrn"]
    for r in rows:
        values = [getattr(r, c) for c in CSV_COLUMNS]
        values[1] = r.occurred_at.isoformat()
        mrn = mrns.get(r.patient_id) if r.patient_id is not None else None
        yield ["" if v is None else str(v) for v in [*values, mrn]]
