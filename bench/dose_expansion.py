"""Dose expansion benchmark: plan 7 days of doses for 1,000 inpatients' prescriptions.

    .venv/bin/python bench/dose_expansion.py [--scale small|full]

Seeds a database of its own on PostgreSQL (`<DATABASE_URL's server>/infirmary_bench_doses`,
dropped and rebuilt with the real migrations; a throwaway server from scripts/services.sh when
DATABASE_URL is not set): one ward, 1,000 inpatients (200 at small scale) with an in-progress
stay each, and 3 to 5 verified inpatient prescriptions each drawn from QD, BID, TID, QID, Q4H,
Q6H and PRN (about one in seven PRN, which plans nothing).

It measures the daily planning job's own path, `planning.extend_horizon` (read every
schedulable prescription with its stay, compute each one's dose times from the
administration-times table in the hospital's zone, read the doses already planned, one
multi-row INSERT ... ON CONFLICT DO NOTHING, one audit row) plus the commit, on an empty plan.
The floor is the same rows inserted with one raw psycopg `executemany` in one transaction on its
own connection, in the same run. Three rounds, each after emptying the plan; the median of each.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import migrated_app, parse_scale  # noqa: E402
from bench.duplicates import dsn, log  # noqa: E402

SCALES = {"small": 200, "full": 1_000}  # inpatients
TARGET_S = 5.0
ROUNDS = 3
DB_NAME = "infirmary_bench_doses"
FREQUENCIES = ("QD", "BID", "TID", "QID", "Q4H", "Q6H", "PRN")

FLOOR_INSERT = """
INSERT INTO scheduled_dose (prescription_id, patient_id, encounter_id, due_at, status,
                            planned_from_version, planned_at)
VALUES (%s, %s, %s, %s, 'due', %s, %s)
"""


def seed(inpatients: int, rng: random.Random) -> int:
    """A ward, its inpatients and their verified prescriptions; committed. Returns how many
    prescriptions."""
    from sqlalchemy import insert, select

    from app.core.security import SYSTEM
    from app.domain.admissions.models import Encounter
    from app.domain.facilities.models import Ward
    from app.domain.formulary.models import Drug
    from app.domain.identity import services as identity
    from app.domain.patients.models import Patient
    from app.domain.prescribing.models import Prescription
    from app.extensions import db

    session = db.session
    doctor, _ = identity.create_user(session, SYSTEM, username="benchdoc", full_name="Bench Doctor",
                                     roles=["doctor"], ward_ids=[], password="correct horse battery")
    ward = Ward(code="BENCH", name="Bench ward")
    session.add(ward)
    session.flush()
    drugs = []
    for n in range(20):
        drug = Drug(code=f"BD{n}", code_system="local", name=f"Bench drug {n} 10 MG Oral Tablet",
                    generic_name=f"bench{n}", form="Oral Tablet", route="oral", dose_unit="mg",
                    stock_unit="tablet", dose_per_stock_unit=Decimal(10), pack_size=28)
        session.add(drug)
        drugs.append(drug)
    session.flush()
    now = datetime.now(UTC)
    session.execute(insert(Patient), [
        {"mrn": f"9{n:09d}", "family_name": f"Bench{n}", "given_names": "Patient",
         "birth_date": date(1950, 1, 1) + timedelta(days=n), "sex": "female"}
        for n in range(inpatients)])
    patient_ids = list(session.scalars(select(Patient.id).order_by(Patient.id)))
    session.execute(insert(Encounter), [
        {"patient_id": pid, "class_code": "IMP", "status": "in-progress", "ward_id": ward.id,
         "started_at": now - timedelta(days=1), "version": 1} for pid in patient_ids])
    encounters = dict(session.execute(select(Encounter.patient_id, Encounter.id)).all())
    rows = []
    number = 7_000_000
    for pid in patient_ids:
        for _ in range(rng.randint(3, 5)):
            frequency = rng.choice(FREQUENCIES)
            number += 1
            prn = frequency == "PRN"
            rows.append({
                "number": str(number), "patient_id": pid, "encounter_id": encounters[pid],
                "setting": "inpatient", "drug_id": rng.choice(drugs).id, "dose": Decimal(10),
                "dose_unit": "mg", "route": "oral", "frequency": frequency, "prn": prn,
                "prn_min_interval_minutes": 240 if prn else None,
                "prn_max_daily_doses": 4 if prn else None, "start_at": now - timedelta(hours=12),
                "priority": "routine", "status": "active", "verification": "verified",
                "prescriber_id": doctor.id, "verified_at": now - timedelta(hours=11), "version": 1})
    session.execute(insert(Prescription), rows)
    session.commit()
    return len(rows)


def empty_plan(conn: Any) -> None:
    conn.execute("TRUNCATE scheduled_dose CASCADE")


def run_infirmary(app: Any, now: datetime) -> tuple[float, int]:
    from app.domain.administration import planning
    from app.extensions import db

    with app.app_context():
        started = time.perf_counter()
        result = planning.extend_horizon(db.session, now)
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
    return elapsed, result.doses


def run_floor(conn: Any, rows: list[tuple[Any, ...]]) -> float:
    started = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(FLOOR_INSERT, rows)
    return time.perf_counter() - started


def main() -> None:
    scale = parse_scale(__doc__, SCALES)
    inpatients = SCALES[scale]
    rng = random.Random(20261122)

    import psycopg

    with migrated_app(DB_NAME) as (app, url):
        with app.app_context():
            started = time.perf_counter()
            prescriptions = seed(inpatients, rng)
            log(f"seeded {inpatients} inpatients, {prescriptions} prescriptions in "
                f"{time.perf_counter() - started:.1f} s")
        now = datetime.now(UTC)
        ours: list[float] = []
        floors: list[float] = []
        doses = 0
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
            for n in range(ROUNDS):
                empty_plan(conn)
                elapsed, doses = run_infirmary(app, now)
                ours.append(elapsed)
                rows = conn.execute(
                    "SELECT prescription_id, patient_id, encounter_id, due_at, planned_from_version, "
                    "planned_at FROM scheduled_dose ORDER BY id").fetchall()
                empty_plan(conn)
                floors.append(run_floor(conn, rows))
                log(f"round {n + 1}: planned {doses} doses in {elapsed:.2f} s; "
                    f"floor {floors[-1]:.2f} s")
            planned = conn.execute("SELECT count(*) FROM scheduled_dose").fetchone()
    assert planned is not None and planned[0] == doses, "the floor inserted a different number of rows"
    figures = {"expand_7_days": {"value": round(statistics.median(ours), 2), "unit": "s",
                                 "target": TARGET_S if scale == "full" else None,
                                 "floor": round(statistics.median(floors), 2)}}
    print(json.dumps({"bench": "dose_expansion", "scale": scale, "inpatients": inpatients,
                      "prescriptions": prescriptions, "doses": doses, "figures": figures}))


if __name__ == "__main__":
    main()
