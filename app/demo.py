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

from app.core.db import DbSession
from app.core.security import ROLES, SystemActor
from app.domain.admissions.services import admit_to_bed
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
    "auditor": "Audrey Auditor",
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
        patient = patients.register_patient(session, DEMO, data)
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
    beds = list(session.scalars(select(Bed).where(Bed.state == "available").order_by(Bed.id)))
    rng = random.Random(7)
    adults = [p for p in created if p.age(date.today()) >= 16]
    rng.shuffle(adults)
    for bed, patient in zip(beds[: int(len(beds) * 0.7)], adults, strict=False):
        admit_to_bed(session, DEMO, patient.id, bed.id)
        report.admissions += 1
