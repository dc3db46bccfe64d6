"""The medication administration record as a chart: drug rows by time columns (24 hours, an
hour a column; or 7 days, a day a column) with each dose's outcome symbol, when-required rows
listing the times given, and the list of records (with corrections). Printable as a PDF."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from app.core import audit, clock
from app.core.db import DbSession
from app.core.errors import DomainError
from app.core.pdf import render_pdf
from app.core.security import Actor, Perm
from app.domain.administration import rules
from app.domain.administration.models import Administration, ScheduledDose
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import get_encounter
from app.domain.identity.models import User
from app.domain.prescribing.models import Prescription
from app.domain.printing.services import SEX_LABELS, Printout

VIEWS = {"day": 1, "week": 7}
PRINT_ACTION = "print.mar"


@dataclass
class Mark:
    symbol: str
    status: str  # a dose status, or `overdue`
    time: str  # local HH:MM
    dose_id: int | None = None
    title: str = ""


@dataclass
class ChartRow:
    prescription: Prescription
    frequency_label: str
    cells: list[list[Mark]] = field(default_factory=list)


@dataclass
class Chart:
    encounter: Encounter
    first_day: date
    days: int
    columns: list[rules.Column]
    rows: list[ChartRow]
    records: list[Administration]
    users: dict[int, str]
    now: datetime

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)


def _label(rx: Prescription) -> str:
    entry = current_app.config["ADMINISTRATION_TIMES"].get(rx.frequency) or {}
    return str(entry.get("label") or rx.frequency)


def build_chart(session: DbSession, actor: Actor, encounter_id: int, first_day: date, days: int,
                now: datetime | None = None) -> Chart:
    """The chart of a stay for `days` (1 or 7) local days from `first_day`."""
    if days not in VIEWS.values():
        raise DomainError("The chart shows one day or seven.", field="view")
    encounter = get_encounter(session, actor, encounter_id, Perm.WARD_VIEW)
    now = now or clock.now()
    tz = clock.hospital_timezone()
    columns = rules.chart_columns(first_day, days, tz)
    begin, end = columns[0].start, columns[-1].end
    doses = list(session.scalars(select(ScheduledDose).where(
        ScheduledDose.encounter_id == encounter.id, ScheduledDose.due_at >= begin,
        ScheduledDose.due_at < end).order_by(ScheduledDose.due_at, ScheduledDose.id)))
    records = list(session.scalars(select(Administration).where(
        Administration.encounter_id == encounter.id,
        or_(Administration.occurred_at.between(begin, end),
            Administration.scheduled_dose_id.in_([d.id for d in doses] or [0])))
        .order_by(Administration.occurred_at.desc(), Administration.id.desc())))
    shown_ids = {d.prescription_id for d in doses} | {a.prescription_id for a in records}
    prescriptions = list(session.scalars(
        select(Prescription).where(
            Prescription.encounter_id == encounter.id, Prescription.setting == "inpatient",
            Prescription.verification == "verified",
            or_(Prescription.id.in_(shown_ids or {0}), Prescription.status == "active"))
        .options(selectinload(Prescription.drug))
        .order_by(Prescription.prn, Prescription.start_at, Prescription.id)))
    standing = {a.scheduled_dose_id: a for a in records
                if a.scheduled_dose_id is not None and a.status == "completed"}
    window = int(current_app.config["DOSE_OVERDUE_MINUTES"])
    rows = {rx.id: ChartRow(rx, _label(rx), [[] for _ in columns]) for rx in prescriptions}
    for d in doses:
        index = rules.column_index(columns, d.due_at)
        row = rows.get(d.prescription_id)
        if index is None or row is None:
            continue
        status = d.status
        if status == "due" and rules.dose_state(d.due_at, now, window) in ("overdue", "lapsed"):
            status = "overdue"
        record = standing.get(d.id)
        title = rules.OUTCOME_LABELS.get(d.status, d.status)
        if record is not None and record.reason:
            title += f": {record.reason}"
        row.cells[index].append(Mark(rules.SYMBOLS[status], status,
                                     f"{clock.to_local(d.due_at, tz):%H:%M}", d.id, title))
    for a in records:
        row = rows.get(a.prescription_id)
        if a.scheduled_dose_id is not None or a.status != "completed" or row is None:
            continue
        index = rules.column_index(columns, a.occurred_at)
        if index is not None:
            row.cells[index].append(Mark(rules.SYMBOLS["given"], "given",
                                         f"{clock.to_local(a.occurred_at, tz):%H:%M}", None,
                                         "Given (when required)"))
    ids = {a.recorded_by_id for a in records if a.recorded_by_id} | {
        a.witness_id for a in records if a.witness_id}
    users = {u.id: u.full_name for u in session.scalars(select(User).where(User.id.in_(ids or {0})))}
    return Chart(encounter, first_day, days, columns, list(rows.values()), records, users, now)


def print_mar(session: DbSession, actor: Actor, encounter_id: int, first_day: date,
              days: int) -> Printout:
    """The chart as a PDF (A4 landscape). Recorded as `print.mar`; the caller commits."""
    chart = build_chart(session, actor, encounter_id, first_day, days)
    patient = chart.encounter.patient
    pdf = render_pdf("mar.html", chart=chart, patient=patient,
                     sex=SEX_LABELS.get(patient.sex, patient.sex),
                     age=patient.age(clock.hospital_today()), allergies=patient.active_allergies,
                     symbols=rules.SYMBOLS, labels=rules.OUTCOME_LABELS, printed_by=actor.label,
                     printed_at=clock.now(), tz=clock.hospital_timezone())
    audit.record(session, actor, PRINT_ACTION, chart.encounter, patient_id=patient.id,
                 after={"first_day": first_day.isoformat(), "days": days, "bytes": len(pdf)})
    return Printout(pdf, f"mar-{patient.mrn}-{first_day.isoformat()}.pdf")
