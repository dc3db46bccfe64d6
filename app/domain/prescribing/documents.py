"""The printed prescription: an A4 (PRINT_PAGE_SIZE) sheet with the hospital's header, the
patient's banner (name, MRN, date of birth and age, sex, address, allergies), each drug as
written (dose, route, frequency, duration, as-required limits, quantity, instructions, and the
directions in plain words), the prescriber, the date, and the prescription number as Code 128
for the pharmacy to scan.

One prescription per sheet, or (`together`) every active prescription of the patient written
the same day (hospital time) by the same prescriber, as an outpatient takes one sheet to the
pharmacy. The doctor who writes, the pharmacist who verifies and the one who dispenses may print
it, for patients they may see.

Reprints are counted from the audit trail (`print.prescription`, one row per prescription on
the sheet): the prescription rows are locked first, so two prints at once get copies 1 and 2,
and no prescription column changes (a verified prescription is never edited in place). Every
print after a prescription's first says REPRINT on its part of the sheet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from app.core import audit, barcodes, clock
from app.core.audit import AuditEvent
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound
from app.core.pdf import render_pdf, svg_data_uri
from app.core.security import Actor, Perm
from app.domain.dispensary import wording
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from app.domain.patients.services import get_patient
from app.domain.prescribing.models import Prescription
from app.domain.printing.services import SEX_LABELS, Printout

PRINT_ACTION = "print.prescription"
MAY_PRINT = (Perm.PRESCRIBE, Perm.PRESCRIPTION_VERIFY, Perm.DISPENSE)
STYLESHEETS = ("print/prescription.css",)


@dataclass(frozen=True)
class PrintedItem:
    """One prescription as it appears on the sheet."""

    prescription: Prescription
    copy: int
    directions: str
    frequency_label: str
    dose: str  # "1000 mg"
    quantity: str | None  # "21 tablets"
    barcode: str  # data: URI of the Code 128
    verified_by: str | None

    @property
    def reprint(self) -> bool:
        return self.copy > 1


def may_print(actor: Actor) -> bool:
    return any(actor.has_perm(perm) for perm in MAY_PRINT)


def _same_day(session: DbSession, rx: Prescription, tz: str) -> list[Prescription]:
    """The patient's active prescriptions written by the same prescriber on the same local day
    as `rx` (and `rx` itself, whatever its status), oldest first."""
    local = clock.to_local(rx.created_at, tz)
    start_local = datetime(local.year, local.month, local.day, tzinfo=ZoneInfo(tz))
    start, end = clock.to_utc(start_local), clock.to_utc(start_local + timedelta(days=1))
    others = session.scalars(
        select(Prescription).where(
            Prescription.patient_id == rx.patient_id,
            Prescription.prescriber_id == rx.prescriber_id,
            Prescription.status == "active",
            Prescription.created_at >= start, Prescription.created_at < end,
            Prescription.id != rx.id,
        )
    )
    return sorted([rx, *others], key=lambda p: (p.created_at, p.id))


def _printed_before(session: DbSession, patient_id: int, prescription_id: int) -> int:
    return int(session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.patient_id == patient_id, AuditEvent.action == PRINT_ACTION,
            AuditEvent.entity_type == Prescription.__tablename__,
            AuditEvent.entity_id == str(prescription_id),
        )
    ) or 0)


def _lock(session: DbSession, ids: list[int]) -> None:
    """Hold the prescriptions' rows (in id order, so two sheets never deadlock) until commit."""
    session.execute(select(Prescription.id).where(Prescription.id.in_(sorted(ids)))
                    .order_by(Prescription.id).with_for_update())


def _user_label(session: DbSession, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id is not None else None
    return user.full_name if user is not None else None


def _item(session: DbSession, rx: Prescription, copy: int) -> PrintedItem:
    times = current_app.config["ADMINISTRATION_TIMES"]
    entry = times.get(rx.frequency) or {}
    return PrintedItem(
        prescription=rx, copy=copy, directions=wording.for_prescription(rx, times),
        frequency_label=str(entry.get("label") or ""),
        dose=f"{wording.figure(Decimal(rx.dose))} {rx.dose_unit}",
        quantity=wording.quantity_text(rx.quantity, rx.drug.stock_unit)
        if rx.quantity else None,
        barcode=svg_data_uri(barcodes.code128_svg(rx.number, module_width=0.3, bar_height=9.0)),
        verified_by=_user_label(session, rx.verified_by_id) if rx.verification == "verified"
        else None,
    )


def render_prescription(session: DbSession, patient: Patient, items: list[PrintedItem],
                        printed_by: str) -> bytes:
    """The sheet's PDF (no checks, no record: callers go through `print_prescription`)."""
    first = items[0].prescription
    return render_pdf(
        "prescription.html", stylesheets=STYLESHEETS, patient=patient, items=items,
        sex=SEX_LABELS.get(patient.sex, patient.sex),
        age=patient.age(clock.hospital_today()), allergies=patient.active_allergies,
        prescriber=_user_label(session, first.prescriber_id) or "—",
        written_at=first.created_at, printed_by=printed_by,
        reprint=any(item.reprint for item in items), interval_text=wording.interval_text,
    )


def print_prescription(session: DbSession, actor: Actor, prescription_id: int,
                       together: bool = False) -> Printout:
    """Print a prescription (with `together`, the same day's by the same prescriber on one
    sheet). Needs PRESCRIBE, PRESCRIPTION_VERIFY or DISPENSE and sight of the patient. Each
    prescription on the sheet is recorded as `print.prescription` with its copy number; the
    caller commits."""
    if not may_print(actor):
        raise Forbidden(f"{actor.label} may not print prescriptions")
    rx = session.get(Prescription, prescription_id)
    if rx is None:
        raise NotFound("No such prescription.")
    patient = get_patient(session, actor, rx.patient_id)
    sheet = _same_day(session, rx, clock.hospital_timezone()) if together else [rx]
    _lock(session, [p.id for p in sheet])
    items = [_item(session, p, _printed_before(session, patient.id, p.id) + 1) for p in sheet]
    pdf = render_prescription(session, patient, items, actor.label)
    numbers = [p.number for p in sheet]
    for item in items:
        audit.record(session, actor, PRINT_ACTION, item.prescription, patient_id=patient.id,
                     after={"number": item.prescription.number, "copy": item.copy,
                            "reprint": item.reprint, "sheet": numbers, "bytes": len(pdf)})
    copy = next(item.copy for item in items if item.prescription.id == rx.id)
    suffix = f"-reprint-{copy}" if copy > 1 else ""
    return Printout(pdf, f"prescription-{rx.number}{suffix}.pdf")
