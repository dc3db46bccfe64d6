"""Building blocks for tests: wards with beds, patients, admissions."""

from __future__ import annotations

from datetime import date
from itertools import count
from typing import Any

from app.core.security import SYSTEM
from app.domain.admissions.services import admit_to_bed
from app.domain.facilities.models import Bed, Room, Ward
from app.domain.patients import services as patients
from app.domain.patients.models import Patient

_seq = count(1)


def ward(session: Any, beds: int = 2, name: str | None = None) -> Ward:
    n = next(_seq)
    w = Ward(code=f"W{n}", name=name or f"Ward {n}")
    room = Room(code="R1")
    room.beds = [Bed(code=chr(65 + i)) for i in range(beds)]
    w.rooms.append(room)
    session.add(w)
    session.flush()
    return w


def patient(session: Any, family: str = "Nguyễn", given: str = "Thị Mai", **kw: Any) -> Patient:
    data = patients.Demographics(
        family_name=family, given_names=given, birth_date=kw.pop("birth_date", date(1980, 5, 17)),
        sex=kw.pop("sex", "female"), **kw,
    )
    # Tests build look-alike patients on purpose; the duplicate check is tested on its own.
    return patients.register_patient(session, SYSTEM, data, check_duplicates=False)


def admitted(session: Any, w: Ward, p: Patient | None = None) -> Patient:
    p = p or patient(session)
    bed = next(b for r in w.rooms for b in r.beds if b.state == "available")
    admit_to_bed(session, SYSTEM, p.id, bed.id)
    return p


# --- pharmacy ------------------------------------------------------------------------------

def _gtin14(n: int) -> str:
    from stdnum import ean

    body = f"0952{n:09d}"  # indicator 0, GS1 prefix 952: for demonstrations and examples
    return body + ean.calc_check_digit(body)


def drug(session: Any, name: str = "Amoxicillin 500 MG Oral Tablet", **kw: Any) -> Any:
    """A formulary drug, counted in tablets, dosed in mg (500 mg a tablet) unless told."""
    from decimal import Decimal

    from app.domain.formulary.models import Drug

    n = next(_seq)
    values: dict[str, Any] = dict(
        code=f"T{n}", code_system="local", name=name, generic_name="amoxicillin",
        form="Oral Tablet", strength="500 MG", route="oral", drug_class="penicillins",
        dose_unit="mg", stock_unit="tablet", dose_per_stock_unit=Decimal("500"), pack_size=21,
        pack_gtin=_gtin14(n), default_dose=Decimal("500"),
        default_frequency="TID", max_single_dose=Decimal("1000"), max_daily_dose=Decimal("3000"),
        unit_cost=Decimal("0.25"),
    )
    values.update(kw)
    d = Drug(**values)
    session.add(d)
    session.flush()
    return d


def main_pharmacy(session: Any) -> Any:
    from sqlalchemy import select

    from app.domain.dispensary.models import MAIN_PHARMACY, StockLocation

    return session.scalar(select(StockLocation).where(StockLocation.code == MAIN_PHARMACY))


def batch(session: Any, d: Any, quantity: int = 100, expiry: date | None = None,
          batch_number: str | None = None, location: Any = None) -> Any:
    """A stock batch received through the ledger (so the ledger adds up from the start)."""
    from app.domain.dispensary import ledger
    from app.domain.dispensary.models import StockBatch

    location = location or main_pharmacy(session)
    b = StockBatch(drug_id=d.id, location_id=location.id,
                   batch_number=batch_number or f"B{next(_seq)}",
                   expiry=expiry or date(2099, 12, 31), quantity=0)
    session.add(b)
    session.flush()
    if quantity:
        ledger.post(session, SYSTEM, b.id, quantity, "receipt", reference="test")
    return b


def verified_prescription(session: Any, p: Any, d: Any, **kw: Any) -> Any:
    """An active prescription a pharmacist has verified, written straight to the table (the
    prescribing service's checks are tested on their own). `prescriber` may be passed."""
    from datetime import timedelta
    from decimal import Decimal

    from app.core import clock
    from app.core.identifiers import next_value, with_luhn
    from app.domain.identity import services as identity
    from app.domain.prescribing.models import Prescription

    prescriber = kw.pop("prescriber", None)
    if prescriber is None and "prescriber_id" not in kw:
        n = next(_seq)
        prescriber, _ = identity.create_user(session, SYSTEM, username=f"rxdoc{n}",
                                             full_name=f"Doctor {n}", roles=["doctor"],
                                             ward_ids=[], password="correct horse battery")
    now = clock.now()
    values: dict[str, Any] = dict(
        number=with_luhn(next_value(session, "prescription", start=1000000)),
        patient_id=p.id, setting="outpatient", drug_id=d.id, dose=Decimal("500"),
        dose_unit=d.dose_unit, route=d.route, frequency="TID", start_at=now - timedelta(hours=1),
        duration_days=7, quantity=21, priority="routine", status="active",
        verification="verified", verified_at=now,
    )
    if prescriber is not None:
        values["prescriber_id"] = prescriber.id
    values.update(kw)
    rx = Prescription(**values)
    session.add(rx)
    session.flush()
    return rx


def dispensed(session: Any, prescription: Any, lines: list[tuple[Any, int]] | None = None,
              by: Any = None, **kw: Any) -> Any:
    """A Dispensing of `prescription` written straight to the tables: one line per (batch,
    quantity) in `lines` (default: the prescription's quantity from one new batch), each taken
    through the ledger so stock stays right. `by` is the pharmacist (default: a new one)."""
    from app.core.identifiers import next_value, with_luhn
    from app.domain.dispensary import ledger
    from app.domain.dispensary.models import Dispensing, DispensingLine
    from app.domain.formulary.models import Drug
    from app.domain.identity import services as identity

    d = session.get(Drug, prescription.drug_id)
    if lines is None:
        lines = [(batch(session, d, quantity=max(100, prescription.quantity or 0)),
                  prescription.quantity or 1)]
    if by is None:
        n = next(_seq)
        by, _ = identity.create_user(session, SYSTEM, username=f"rxpharm{n}",
                                     full_name=f"Pharmacist {n}", roles=["pharmacist"],
                                     ward_ids=[], password="correct horse battery")
    total = sum(q for _, q in lines)
    values: dict[str, Any] = dict(
        number=with_luhn(next_value(session, "dispensing", start=5000000)),
        prescription_id=prescription.id, patient_id=prescription.patient_id, drug_id=d.id,
        location_id=lines[0][0].location_id, quantity_requested=total, quantity=total,
        dispensed_by_id=by.id,
    )
    values.update(kw)
    dispensing = Dispensing(**values)
    session.add(dispensing)
    session.flush()
    for b, q in lines:
        ledger.post(session, SYSTEM, b.id, -q, "dispense", dispensing_id=dispensing.id,
                    patient_id=prescription.patient_id)
        session.add(DispensingLine(dispensing_id=dispensing.id, batch_id=b.id, quantity=q))
    session.flush()
    session.refresh(dispensing)
    return dispensing


# --- wards ---------------------------------------------------------------------------------

def inpatient_prescription(session: Any, p: Any, d: Any, **kw: Any) -> Any:
    """A verified, active inpatient prescription for `p`'s current stay (which must exist)."""
    from app.domain.admissions.services import current_encounters

    encounter = current_encounters(session, [p.id])[p.id]
    kw.setdefault("setting", "inpatient")
    kw.setdefault("encounter_id", encounter.id)
    kw.setdefault("quantity", None)
    return verified_prescription(session, p, d, **kw)


def staff(session: Any, role: str, ward_ids: list[int] | None = None, name: str | None = None) -> Any:
    """An active user with one role (and wards), for tests that need several people."""
    from app.domain.identity import services as identity

    n = next(_seq)
    user, _ = identity.create_user(session, SYSTEM, username=f"{role}{n}x",
                                   full_name=name or f"{role.replace('_', ' ').title()} {n}",
                                   roles=[role], ward_ids=ward_ids or [],
                                   password="correct horse battery")
    return user
