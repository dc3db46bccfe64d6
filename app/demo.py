"""Demo data for the embedded default: wards, one user per role, ~200 varied patients.

Idempotent: running it again adds only what is missing. It refuses a production config.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from faker import Faker
from flask import current_app
from sqlalchemy import func, select
from stdnum import ean

from app.core.db import DbSession
from app.core.security import ROLES, SystemActor
from app.domain.facilities.models import Bed, Room, Ward
from app.domain.identity import services as identity
from app.domain.identity.models import User
from app.domain.patients import services as patients
from app.domain.patients.models import Patient

DEMO = SystemActor("demo seed")

WARDS = (
    # code, name, specialty, class, rooms, beds per room
    ("AMU", "Acute Medical Unit", "acute medicine", "general", 4, 4),
    ("W5R", "Ward 5 Renal", "nephrology", "general", 3, 4),
    ("W4S", "Ward 4 Surgical", "general surgery", "general", 3, 4),
    ("ICU", "Intensive Care", "critical care", "critical", 2, 3),
    ("PAE", "Children's Ward", "paediatrics", "general", 2, 4),
)

# Locales chosen so reception sees the names a city hospital does: accented, CJK, Slavic,
# Vietnamese, Turkish and Arabic transliterations among British ones.
LOCALES = ("en_GB", "en_GB", "en_GB", "fr_FR", "de_DE", "es_ES", "pl_PL", "vi_VN",
           "zh_CN", "ja_JP", "ko_KR", "tr_TR", "pt_BR", "it_IT", "ar_AA", "ga_IE")

ALLERGENS = (
    ("Penicillin", "91936005", "Rash, hives"),
    ("Latex", "300916003", "Contact dermatitis"),
    ("Peanut", "91935009", "Anaphylaxis"),
    ("Codeine", "292954005", "Nausea and vomiting"),
    ("Sulfonamide", "91939003", "Rash"),
    ("Ibuprofen", "293619005", "Bronchospasm"),
)

ROLE_NAMES = {
    "reception": "Rita Reception", "nurse": "Nora Nurse", "charge_nurse": "Chidi Charge",
    "doctor": "Dr Dara Doctor", "pharmacist": "Pat Pharmacist", "lab_tech": "Lee Labtech",
    "lab_supervisor": "Lena Labsupervisor", "billing": "Bill Finance", "admin": "Ada Admin",
    "auditor": "Audrey Auditor", "registry_supervisor": "Remi Records",
    "queue_display": "Waiting Room Screen", "housekeeping": "Hana Housekeeping",
}


@dataclass
class SeedReport:
    wards: int = 0
    users: list[str] = field(default_factory=list)
    patients: int = 0
    admissions: int = 0


class ProductionRefused(RuntimeError):
    pass


def seed(session: DbSession, patients_wanted: int = 200) -> SeedReport:
    if current_app.config["INFIRMARY_ENV"] == "production":
        raise ProductionRefused("flask demo seed refuses to run against a production configuration.")
    report = SeedReport()
    _seed_wards(session, report)
    _seed_users(session, report)
    created = _seed_patients(session, patients_wanted, report)
    if created:
        _seed_admissions(session, created, report)
    _seed_vitals(session)
    _seed_scheduling(session)
    _seed_front_desk(session)
    _seed_formulary(session)
    _seed_prescriptions(session)
    _seed_medication_record(session)
    _seed_pharmacy_stock(session)  # after the formulary: it stocks the drugs already there
    return report


def _seed_wards(session: DbSession, report: SeedReport) -> None:
    existing = set(session.scalars(select(Ward.code)))
    for code, name, specialty, klass, rooms, beds in WARDS:
        if code in existing:
            continue
        ward = Ward(code=code, name=name, specialty=specialty, ward_class=klass)
        for r in range(1, rooms + 1):
            room = Room(code=f"R{r}")
            room.beds = [Bed(code=chr(ord("A") + b)) for b in range(beds)]
            ward.rooms.append(room)
        session.add(ward)
        report.wards += 1
    session.flush()


def _seed_users(session: DbSession, report: SeedReport) -> None:
    wards = {w.code: w.id for w in session.scalars(select(Ward))}
    password = current_app.config["DEMO_PASSWORD"]
    admin_actor = SystemActor("demo seed")
    for role in ROLES:
        if session.scalar(select(User).where(User.username == role)) is not None:
            continue
        ward_ids = []
        if role in {"nurse", "charge_nurse"}:
            ward_ids = [wards["AMU"], wards["W5R"]] if role == "charge_nurse" else [wards["AMU"]]
        identity.create_user(session, admin_actor, username=role, full_name=ROLE_NAMES[role],
                             roles=[role], ward_ids=ward_ids, password=password)
        report.users.append(role)


def _seed_patients(session: DbSession, wanted: int, report: SeedReport) -> list[Patient]:
    have = session.scalar(select(func.count()).select_from(Patient)) or 0
    if have >= wanted:
        return []
    rng = random.Random(20261122 + have)
    fakers = {loc: Faker(loc) for loc in set(LOCALES)}
    for i, fk in enumerate(fakers.values()):
        fk.seed_instance(1000 + have + i)
    created: list[Patient] = []
    for n in range(wanted - have):
        loc = LOCALES[n % len(LOCALES)]
        fk = fakers[loc]
        sex = rng.choice(("female", "male", "female", "male", "unknown"))
        if sex == "female":
            given, family = fk.first_name_female(), fk.last_name_female() if hasattr(fk, "last_name_female") else fk.last_name()
        elif sex == "male":
            given, family = fk.first_name_male(), fk.last_name_male() if hasattr(fk, "last_name_male") else fk.last_name()
        else:
            given, family = fk.first_name(), fk.last_name()
        born = fk.date_of_birth(minimum_age=0, maximum_age=98)
        data = patients.Demographics(
            family_name=family, given_names=given, birth_date=born, sex=sex,
            phone="07" + "".join(str(rng.randint(0, 9)) for _ in range(9)),
            address_line=fk.street_address()[:200], city=fk.city()[:100],
            postcode=fk.postcode()[:20] if hasattr(fk, "postcode") else None,
            national_id=_nhs_number(rng),
        )
        patient = patients.register_patient(session, DEMO, data, check_duplicates=False)  # a bulk load
        if rng.random() < 0.25:
            substance, code, reaction = rng.choice(ALLERGENS)
            patients.record_allergy(session, DEMO, patient.id, substance, reaction,
                                    rng.choice(("mild", "moderate", "severe")), code)
        created.append(patient)
    report.patients = len(created)
    return created


def _nhs_number(rng: random.Random) -> str:
    """A number that passes the NHS mod-11 check, so demo data looks like real data."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(9)]
        total = sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def _seed_admissions(session: DbSession, created: list[Patient], report: SeedReport) -> None:
    """Admit about 70% of the free beds (source, the demo doctor attending, a diagnosis, an
    expected discharge; the demo nurse on the AMU), and keep the AMU board alive: one bed being
    cleaned after a discharge, one out of service, one reserved. Only free beds are touched, so
    running it again adds only what is missing."""
    from datetime import timedelta

    from app.core import clock
    from app.domain.admissions import adt
    from app.domain.admissions.models import ADMIT_SOURCES
    from app.domain.facilities import beds as bed_service

    diagnoses = (
        "Community-acquired pneumonia", "Exacerbation of COPD", "Cellulitis of the left leg",
        "Urinary tract infection with delirium", "Acute kidney injury", "Decompensated heart failure",
        "Upper gastrointestinal bleed", "Fall with hip pain, no fracture", "Diabetic ketoacidosis",
        "Post-operative day 2, laparoscopic cholecystectomy", "Asthma exacerbation", "Pyelonephritis",
    )
    doctor = session.scalar(select(User).where(User.username == "doctor"))
    nurse = session.scalar(select(User).where(User.username == "nurse"))
    amu = session.scalar(select(Ward).where(Ward.code == "AMU"))
    free = list(session.scalars(select(Bed).where(Bed.state == "available").order_by(Bed.id)))
    rng = random.Random(7)
    today = clock.hospital_today()
    adults = [p for p in created if p.age(date.today()) >= 16]
    rng.shuffle(adults)
    amu_free = [b for b in free if amu is not None and b.room.ward_id == amu.id]
    if amu is not None and len(amu_free) >= 4:
        states = set(session.scalars(select(Bed.state).join(Room).where(Room.ward_id == amu.id)))
        if "cleaning" not in states and adults:
            bed = amu_free.pop()
            gone = adt.admit(session, DEMO, patient_id=adults.pop().id, bed_id=bed.id, source="direct",
                             attending_id=doctor.id if doctor else None, diagnosis="Syncope, resolved")
            adt.discharge(session, DEMO, gone.id, summary="Observed overnight; no cause found. Home.",
                          disposition="home")
        if "out_of_service" not in states:
            bed_service.take_out_of_service(session, DEMO, amu_free.pop().id, "Broken bed rail, estates called")
        if "reserved" not in states:
            bed_service.reserve_bed(session, DEMO, amu_free.pop().id, note="From ED cubicle 4")
        free = [b for b in free if b.state == "available"]
    for bed, patient in zip(free[: int(len(free) * 0.7)], adults, strict=False):
        on_amu = amu is not None and bed.room.ward_id == amu.id
        adt.admit(session, DEMO, patient_id=patient.id, bed_id=bed.id, source=rng.choice(ADMIT_SOURCES),
                  attending_id=doctor.id if doctor else None, diagnosis=rng.choice(diagnoses),
                  expected_discharge_on=today + timedelta(days=rng.randint(0, 6)),
                  nurse_id=nurse.id if nurse is not None and on_amu else None)
        report.admissions += 1


def _seed_front_desk(session: DbSession) -> None:
    """Today at the front desk: a few appointments still to check in (in free slots, if the
    clinics run today) and, in each department's queue, walk-ins waiting, one called and one in
    consultation, so the boards are alive. Needs clinics (the scheduling seed); runs once a day."""
    from app.core import clock
    from app.core.errors import DomainError
    from app.domain.admissions.models import Encounter
    from app.domain.frontdesk import services as frontdesk
    from app.domain.frontdesk.models import QueueTicket
    from app.domain.scheduling import services as scheduling
    from app.domain.scheduling.models import AppointmentType

    if session.scalar(select(QueueTicket.id).where(QueueTicket.service_day == frontdesk.today()).limit(1)):
        return
    clinics = frontdesk.active_clinics(session)
    inpatients = select(Encounter.patient_id).where(Encounter.status == "in-progress")
    people = list(session.scalars(select(Patient).where(Patient.id.not_in(inpatients))
                                  .order_by(Patient.id).limit(12 * max(len(clinics), 1))))
    if not clinics or not people:
        return
    rng = random.Random(11)
    rng.shuffle(people)
    for appointment_type in session.scalars(select(AppointmentType).where(AppointmentType.active.is_(True))
                                            .order_by(AppointmentType.id).limit(6)):
        slot = scheduling.next_free_slot(session, DEMO, appointment_type_id=appointment_type.id)
        if slot is None or not people:
            continue
        if clock.to_local(slot.start, current_app.config["HOSPITAL_TIMEZONE"]).date() != frontdesk.today():
            continue
        try:
            with session.begin_nested():
                scheduling.book_appointment(session, DEMO, patient_id=people.pop().id, start_at=slot.start,
                                            appointment_type_id=appointment_type.id,
                                            resource_ids=list(slot.resource_ids))
        except DomainError:
            continue
    for department in frontdesk.departments(session):
        in_dept = [c for c in clinics if c.department == department]
        tickets = [frontdesk.register_walk_in(session, DEMO, people.pop().id, rng.choice(in_dept).id)
                   for _ in range(min(5, len(people)))]
        if len(tickets) >= 2:
            frontdesk.move_ticket(session, DEMO, tickets[0].id, "call", room="Room 2")
            frontdesk.move_ticket(session, DEMO, tickets[0].id, "start")
            frontdesk.move_ticket(session, DEMO, tickets[1].id, "call", room="Room 1")


def _seed_scheduling(session: DbSession) -> None:
    """Two outpatient clinics with clinicians (the demo doctor among them), rooms, an ECG
    machine, appointment types, weekday templates and the next Christmas Day as a holiday."""
    from datetime import time, timedelta

    from app.core import clock
    from app.domain.scheduling import configuration as sched
    from app.domain.scheduling.models import Clinic

    if session.scalar(select(Clinic.id).where(Clinic.code == "GMED")) is not None:
        return
    today = clock.today_local(current_app.config["HOSPITAL_TIMEZONE"])
    since = today - timedelta(days=7)
    med = sched.create_clinic(session, DEMO, code="GMED", name="General Medicine Outpatients")
    card = sched.create_clinic(session, DEMO, code="CARD", name="Cardiology Clinic", department="cardiology")
    doctor = session.scalar(select(User).where(User.username == "doctor"))

    def resource(kind: str, name: str, clinic: int, user: int | None = None) -> int:
        return sched.create_resource(session, DEMO, kind=kind, name=name, clinic_id=clinic, user_id=user).id

    dara = resource("clinician", ROLE_NAMES["doctor"], med.id, doctor.id if doctor else None)
    priya = resource("clinician", "Dr Priya Raman", med.id)
    okafor = resource("clinician", "Dr Sam Okafor", card.id)
    rooms_med = [resource("room", f"Consulting room {n}", med.id) for n in (1, 2)]
    room_card = resource("room", "Cardiology room A", card.id)
    ecg_room = resource("room", "ECG room", card.id)
    machine = resource("equipment", "ECG machine", card.id)

    def kind_of(code: str, name: str, minutes: int, needs: list[str], clinic: int) -> int:
        return sched.create_appointment_type(session, DEMO, code=code, name=name, slot_minutes=minutes,
                                             needs=needs, clinic_id=clinic).id

    med_new = kind_of("GMED-NEW", "Medicine: new patient", 30, ["clinician", "room"], med.id)
    med_fu = kind_of("GMED-FU", "Medicine: follow-up", 15, ["clinician", "room"], med.id)
    card_new = kind_of("CARD-NEW", "Cardiology: new patient", 30, ["clinician", "room"], card.id)
    ecg = kind_of("ECG", "ECG recording", 20, ["room", "equipment"], card.id)

    def weekly(resource_id: int, clinic: int, days: list[int], start: str, end: str, types: list[int]) -> None:
        sched.create_templates(session, DEMO, resource_id=resource_id, clinic_id=clinic, weekdays=days,
                               start_time=time.fromisoformat(start), end_time=time.fromisoformat(end),
                               valid_from=since, type_ids=types)

    weekdays = [0, 1, 2, 3, 4]
    weekly(dara, med.id, weekdays, "09:00", "12:30", [med_new, med_fu])
    weekly(dara, med.id, weekdays, "13:30", "17:00", [med_fu])
    weekly(priya, med.id, [0, 2, 4], "09:00", "13:00", [med_new, med_fu])
    weekly(okafor, card.id, [1, 3], "09:00", "17:00", [card_new])
    for room in rooms_med:
        weekly(room, med.id, weekdays, "08:30", "17:30", [])
    weekly(room_card, card.id, weekdays, "08:30", "17:30", [])
    weekly(ecg_room, card.id, weekdays, "09:00", "16:00", [ecg])
    weekly(machine, card.id, weekdays, "09:00", "16:00", [ecg])
    christmas = date(today.year, 12, 25)
    sched.add_holiday(session, DEMO, day=christmas if christmas >= today else date(today.year + 1, 12, 25),
                      name="Christmas Day")


# --- pharmacy stock (issue 5, inventory) ------------------------------------------------------

DEMO_STOCK_REFERENCE = "DEMO-STOCK"
# Substrings of common formulary names, most familiar first; the seed stocks what it finds.
DEMO_STOCK_DRUGS = ("amoxicillin", "acetaminophen", "paracetamol", "ibuprofen", "metformin",
                    "lisinopril", "amlodipine", "simvastatin", "omeprazole")


def _seed_pharmacy_stock(session: DbSession) -> None:
    """A few batches of common drugs in the main pharmacy (one expiring soon, one expired), some
    stock on the Acute Medical Unit, reorder levels (one drug below its level) and, if the
    formulary has one, a witnessed controlled drug. Does nothing without drugs, or twice."""
    from datetime import timedelta
    from decimal import Decimal

    from app.core import clock
    from app.domain.dispensary import receiving, reorder, stock, transfers
    from app.domain.dispensary.inventory_models import GoodsReceipt
    from app.domain.formulary.models import Drug

    if session.scalar(select(GoodsReceipt.id).where(
            GoodsReceipt.delivery_reference.like(f"{DEMO_STOCK_REFERENCE}%")).limit(1)) is not None:
        return
    # The demo prescriptions' drugs first, so they can be dispensed.
    prescribed = [row[0] for row in DEMO_PRESCRIPTIONS]
    drugs: list[Drug] = list(session.scalars(select(Drug).where(
        Drug.code.in_(prescribed), Drug.active.is_(True), Drug.controlled.is_(False))
        .order_by(Drug.name)))
    for word in DEMO_STOCK_DRUGS:
        found = session.scalar(select(Drug).where(Drug.active.is_(True), Drug.controlled.is_(False),
                                                  func.lower(Drug.name).like(f"%{word}%"))
                               .order_by(Drug.name).limit(1))
        if found is not None and found not in drugs:
            drugs.append(found)
    if len(drugs) < 4:
        drugs += [d for d in session.scalars(select(Drug).where(
            Drug.active.is_(True), Drug.controlled.is_(False)).order_by(Drug.name).limit(8))
            if d not in drugs]
    drugs = drugs[:6]
    if not drugs:
        return
    # The seed file has no pack barcodes: give the stocked drugs demo GTIN-14s (GS1 prefix 952,
    # the one GS1 keeps for demonstrations) so a pack can be scanned at dispensing.
    for n, drug in enumerate(drugs, start=1):
        if drug.pack_gtin is None:
            body = f"0952{drug.id:05d}{n:04d}"[:13]
            drug.pack_gtin = body + ean.calc_check_digit(body)
    session.flush()
    pharmacist = session.scalar(select(User).where(User.username == "pharmacist"))
    witness = session.scalar(select(User).where(User.username == "charge_nurse"))
    today = stock.today()
    main = stock.main_location(session)

    def line(drug: Drug, number: str, days: int, quantity: int) -> receiving.ReceiptLine:
        return receiving.ReceiptLine(drug_id=drug.id, batch_number=number,
                                     expiry=today + timedelta(days=days), quantity=quantity,
                                     unit_cost=drug.unit_cost or Decimal("0.10"))

    # Received last spring; it has expired since and still sits on the shelf.
    with clock.freeze(clock.now() - timedelta(days=240)):
        receiving.receive_goods(session, DEMO, supplier="Demo Wholesale",
                                delivery_reference=f"{DEMO_STOCK_REFERENCE}-0",
                                lines=[line(drugs[0], "DEMO-EXP1", -10, 40)])
    lines = [line(drugs[0], "DEMO-A1", 45, 120), line(drugs[0], "DEMO-A2", 400, 500)]
    lines += [line(d, f"DEMO-{n + 2}", 200 + 60 * n, 300 + 50 * n) for n, d in enumerate(drugs[1:])]
    receiving.receive_goods(session, DEMO, supplier="Demo Wholesale",
                            delivery_reference=f"{DEMO_STOCK_REFERENCE}-1", lines=lines)
    amu = session.scalar(select(Ward).where(Ward.code == "AMU"))
    if amu is not None:
        for d in drugs[:3]:
            transfers.transfer_to_ward(session, DEMO, drug_id=d.id, ward_id=amu.id, quantity=30)
    levels = [(drugs[0], 700, 500)] + [(d, 100, 400) for d in drugs[1:3]]
    if len(drugs) > 3:
        levels.append((drugs[3], 1000, 600))  # below its level: the morning check reports it
    for d, minimum, order in levels:
        reorder.set_reorder_level(session, DEMO, d.id, main.id, minimum, order)

    controlled = session.scalar(select(Drug).where(Drug.active.is_(True), Drug.controlled.is_(True))
                                .order_by(Drug.code.in_(prescribed).desc(), Drug.name).limit(1))
    if controlled is not None and pharmacist is not None and witness is not None:
        receiving.receive_goods(session, pharmacist, supplier="Demo CD Wholesale",
                                delivery_reference=f"{DEMO_STOCK_REFERENCE}-CD",
                                lines=[line(controlled, "DEMO-CD1", 300, 50)], witness=witness)
        if amu is not None:
            transfers.transfer_to_ward(session, pharmacist, drug_id=controlled.id, ward_id=amu.id,
                                       quantity=10, witness=witness)
    session.flush()


def _seed_formulary(session: DbSession) -> None:
    """The formulary from the shared reference price list (idempotent: a re-run changes nothing)."""
    from app.domain.formulary import services as formulary

    if formulary.default_seed_path().exists():
        formulary.import_formulary(session, DEMO)


# (RxNorm code, dose, frequency, days, inpatient?, priority, verified?, PRN)
DEMO_PRESCRIPTIONS = (
    ("308192", "500", "TID", 7, True, "routine", True, False),  # amoxicillin
    ("313782", "650", "PRN", 5, True, "routine", False, True),  # paracetamol when required
    ("1049683", "5", "Q6H", 3, True, "urgent", False, False),  # oxycodone (controlled), urgent
    ("312961", "20", "HS", 28, False, "routine", False, False),  # simvastatin
    ("310965", "400", "TID", 5, False, "routine", True, False),  # ibuprofen
)


def _seed_prescriptions(session: DbSession) -> None:
    """A few prescriptions by the demo doctor for patients without recorded allergies: two
    verified by the demo pharmacist, the rest waiting (one urgent). Does nothing twice."""
    from app.domain.admissions.models import Encounter
    from app.domain.formulary.models import Drug
    from app.domain.prescribing import services as prescribing
    from app.domain.prescribing import verification
    from app.domain.prescribing.models import Prescription

    if session.scalar(select(Prescription.id).limit(1)) is not None:
        return
    doctor = session.scalar(select(User).where(User.username == "doctor"))
    pharmacist = session.scalar(select(User).where(User.username == "pharmacist"))
    if doctor is None or pharmacist is None:
        return
    admitted = set(session.scalars(select(Encounter.patient_id).where(Encounter.status == "in-progress")))
    candidates = [p for p in session.scalars(select(Patient).where(Patient.status == "active").order_by(Patient.id))
                  if not p.active_allergies]
    inpatients = [p for p in candidates if p.id in admitted]
    outpatients = [p for p in candidates if p.id not in admitted]
    for i, (code, dose, frequency, days, inpatient, priority, verified, prn) in enumerate(DEMO_PRESCRIPTIONS):
        drug = session.scalar(select(Drug).where(Drug.code == code))
        pool = inpatients if inpatient else outpatients
        if drug is None or not pool:
            continue
        patient = pool[(i // 2) % len(pool)]
        order = prescribing.Order(
            drug_id=drug.id, dose=dose, dose_unit=drug.dose_unit, frequency=frequency, duration_days=days,
            priority=priority, prn=prn, prn_min_interval_minutes=240 if prn else None,
            prn_max_daily_doses=4 if prn else None, indication="Demo")
        rx = prescribing.prescribe(session, doctor, patient.id, order, prescribing.Overrides(
            {"allergy": "Demo data", "duplicate": "Demo data", "max_dose": "Demo data"}))
        if verified:
            verification.verify(session, pharmacist, rx.id, rx.version)


def _seed_vitals(session: DbSession) -> None:
    """Three days of observations for the inpatients on the demo nurse's wards (AMU, W5R), one
    patient whose newest set scores NEWS2 >= 5 (with its open alert), and today's on-call rota
    with the demo doctor on both teams. Idempotent: an admission with any set is left alone,
    and the rota only gets a shift when the demo doctor has none now."""
    from datetime import timedelta

    from app.core import clock
    from app.domain.admissions.models import Encounter, EncounterLocation
    from app.domain.escalation import services as escalation
    from app.domain.observations import services as vitals
    from app.domain.observations.models import VitalSigns

    now = clock.now()
    doctor = session.scalar(select(User).where(User.username == "doctor"))
    if doctor is not None:
        teams = current_app.config["ON_CALL_TEAMS"]
        for team in teams:
            if doctor.id not in escalation.on_call(session, team, now):
                escalation.add_shift(session, DEMO, team=team, user_id=doctor.id,
                                     starts_at=now - timedelta(hours=2), ends_at=now + timedelta(hours=22))
    wards = list(session.scalars(select(Ward.id).where(Ward.code.in_(["AMU", "W5R"]))))
    encounters = list(session.scalars(
        select(Encounter).where(Encounter.ward_id.in_(wards), Encounter.status == "in-progress")
        .order_by(Encounter.id)))
    done = set(session.scalars(select(VitalSigns.encounter_id).where(
        VitalSigns.encounter_id.in_([e.id for e in encounters]))))
    rng = random.Random(11)
    start = now - timedelta(days=3)
    for i, encounter in enumerate(e for e in encounters if e.id not in done):
        if encounter.started_at > start:
            # A demo stay long enough to chart: the admission (and its first bed) began earlier.
            encounter.started_at = start - timedelta(hours=1)
            first = session.scalar(select(EncounterLocation).where(
                EncounterLocation.encounter_id == encounter.id).order_by(EncounterLocation.start_at))
            if first is not None:
                first.start_at = encounter.started_at
        if i == 0 and encounter.attending_id is None and doctor is not None:
            encounter.attending_id = doctor.id
        taken = start
        while taken < now - timedelta(minutes=30):
            values = {
                "respiratory_rate": rng.randint(14, 18), "spo2": rng.randint(96, 99),
                "air_or_oxygen": "air", "systolic": rng.randint(115, 140), "diastolic": rng.randint(65, 85),
                "pulse": rng.randint(62, 88), "consciousness": "A",
                "temperature": f"{rng.uniform(36.4, 37.6):.1f}",
            }
            with clock.freeze(taken):
                vitals.record_vitals(session, DEMO, encounter.id, values)
            taken += timedelta(hours=6)
        if i == 0:
            # The patient who is deteriorating: NEWS2 6 (medium) ten minutes ago, alert open.
            with clock.freeze(now - timedelta(minutes=10)):
                vitals.record_vitals(session, DEMO, encounter.id, {
                    "respiratory_rate": 23, "spo2": 96, "air_or_oxygen": "oxygen", "o2_flow": "2",
                    "systolic": 128, "diastolic": 76, "pulse": 118, "consciousness": "A",
                    "temperature": "37.9"})
    session.flush()


# (RxNorm code, dose, frequency, PRN) for the round: amoxicillin, simvastatin, paracetamol PRN.
DEMO_ROUND = (("308192", "500", "TID", False), ("312961", "20", "HS", False),
              ("313782", "1000", "PRN", True))
DEMO_ROUND_INDICATION = "Demo medication round"


def _seed_medication_record(session: DbSession) -> None:
    """A live medication round on AMU: for up to four AMU inpatients without allergies, the
    demo doctor's prescriptions (verified by the demo pharmacist) from two days ago, planned
    into doses; the demo nurse is their responsible nurse and has recorded the doses up to two
    hours ago (one refused), so the round shows doses due and overdue and the chart has a past.
    Idempotent: does nothing once any demo round prescription exists."""
    from datetime import timedelta

    from app.core import clock
    from app.domain.administration import planning
    from app.domain.administration import services as administration
    from app.domain.administration.models import ScheduledDose
    from app.domain.admissions.models import Encounter
    from app.domain.formulary.models import Drug
    from app.domain.prescribing import services as prescribing
    from app.domain.prescribing import verification
    from app.domain.prescribing.models import Prescription

    if session.scalar(select(Prescription.id).where(
            Prescription.indication == DEMO_ROUND_INDICATION).limit(1)) is not None:
        return
    doctor = session.scalar(select(User).where(User.username == "doctor"))
    pharmacist = session.scalar(select(User).where(User.username == "pharmacist"))
    nurse = session.scalar(select(User).where(User.username == "nurse"))
    amu = session.scalar(select(Ward).where(Ward.code == "AMU"))
    if doctor is None or pharmacist is None or nurse is None or amu is None:
        return
    drugs = {code: session.scalar(select(Drug).where(Drug.code == code)) for code, *_ in DEMO_ROUND}
    if any(d is None for d in drugs.values()):
        return
    encounters = [e for e in session.scalars(
        select(Encounter).where(Encounter.ward_id == amu.id, Encounter.status == "in-progress")
        .order_by(Encounter.id)) if not e.patient.active_allergies][:4]
    now = clock.now()
    start = now - timedelta(days=2)
    overrides = prescribing.Overrides({"allergy": "Demo data", "duplicate": "Demo data",
                                       "max_dose": "Demo data"})
    planned: list[Prescription] = []
    for encounter in encounters:
        encounter.nurse_id = nurse.id
        for code, dose, frequency, prn in DEMO_ROUND:
            drug = drugs[code]
            assert drug is not None
            order = prescribing.Order(
                drug_id=drug.id, dose=dose, dose_unit=drug.dose_unit, frequency=frequency,
                start_at=start, prn=prn, prn_min_interval_minutes=240 if prn else None,
                prn_max_daily_doses=4 if prn else None, indication=DEMO_ROUND_INDICATION)
            rx = prescribing.prescribe(session, doctor, encounter.patient_id, order, overrides)
            verification.verify(session, pharmacist, rx.id, rx.version)
            planned.append(rx)
    # Verification plans from now on; the demo's past two days are planned from the start.
    planning.plan_many(session, planned, start)
    past = list(session.scalars(select(ScheduledDose).where(
        ScheduledDose.prescription_id.in_([rx.id for rx in planned]),
        ScheduledDose.due_at < now - timedelta(hours=2), ScheduledDose.status == "due")
        .order_by(ScheduledDose.due_at, ScheduledDose.id)))
    for i, scheduled in enumerate(past):
        at = scheduled.due_at + timedelta(minutes=10)
        # Charted as the nurse would have, at the bedside: a late entry is refused after 24 hours.
        with clock.freeze(at + timedelta(minutes=2)):
            if i == 3:
                administration.record_dose(session, nurse, scheduled.id, "refused",
                                           "Felt sick; will try later", occurred_at=at)
            else:
                administration.record_dose(session, nurse, scheduled.id, "given", occurred_at=at)

