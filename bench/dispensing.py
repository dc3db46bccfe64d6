"""Dispensing benchmark: supply one prescription from a large stock, commit included.

    .venv/bin/python bench/dispensing.py [--scale small|full]

Seeds a database of its own on PostgreSQL (`<DATABASE_URL's server>/infirmary_bench_dispensing`,
dropped and rebuilt with the real migrations; a throwaway server from scripts/services.sh when
DATABASE_URL is not set): 2,000 drugs, the main pharmacy and four ward stock cupboards, and
50,000 batches (about 25 a drug spread over the five locations, a tenth of them already
expired, each received through a ledger row so the ledger adds up), then verified outpatient
prescriptions for a few patients.

It measures, one pharmacist at a time, `dispensing.dispense` (lock the prescription, load and
pick the batches first expiry first out, number the dispensing, the ledger's conditional UPDATE
and movement per batch, the lines, the audit row and the `dispensed` event) plus the commit.
Quantities are drawn so that about a third of the supplies span two batches. The floor, measured
interleaved in the same run through psycopg on its own connection, is the equivalent raw SQL:
select the pick, update the batch, insert a movement, commit. p50 and p95 of each, with the
same calls' CPU time in this process (`cpu`, `floor_cpu`), which a busy machine inflates less.
At the end it checks that every batch's ledger still adds up to its quantity.

The last line printed is one JSON object.
"""

from __future__ import annotations

import json
import random
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
from bench.duplicates import dsn, log, percentile  # noqa: E402

SCALES = {"small": (50_000, 200), "full": (50_000, 1_000)}  # batches, measured dispensings
DRUGS = 2_000
WARD_LOCATIONS = 4
PATIENTS = 20
TARGET_MS = 50
DB_NAME = "infirmary_bench_dispensing"
WARMUP = 30

FLOOR_PICK = """
SELECT id, quantity FROM stock_batch
 WHERE drug_id = %(drug)s AND location_id = %(location)s AND quantity > 0 AND expiry >= %(today)s
 ORDER BY expiry, id LIMIT 1
"""
FLOOR_UPDATE = """
UPDATE stock_batch SET quantity = quantity - %(q)s WHERE id = %(batch)s AND quantity >= %(q)s
RETURNING quantity
"""
FLOOR_MOVE = """
INSERT INTO stock_movement (batch_id, drug_id, location_id, kind, quantity, balance_after,
                            actor_label, at)
VALUES (%(batch)s, %(drug)s, %(location)s, 'dispense', %(neg)s, %(balance)s, 'floor', %(at)s)
"""


def seed(batches: int, rng: random.Random) -> dict[str, Any]:
    """Formulary, locations, batches with their receipts, users and patients; committed."""
    from sqlalchemy import insert, select

    from app.core.security import SYSTEM
    from app.domain.dispensary.models import (
        MAIN_PHARMACY,
        StockBatch,
        StockLocation,
        StockMovement,
    )
    from app.domain.formulary.models import Drug
    from app.domain.identity import services as identity
    from app.domain.patients import services as patients
    from app.extensions import db

    s = db.session
    now = datetime.now(UTC)
    today = date.today()
    s.execute(insert(Drug), [dict(
        code=f"BENCH{i}", code_system="local", name=f"Benchmarkol {i} MG Oral Tablet",
        generic_name=f"benchmarkol {i}", form="Oral Tablet", strength=f"{i} MG", route="oral",
        dose_unit="mg", stock_unit="tablet", dose_per_stock_unit=Decimal(i), pack_size=28,
        controlled=False, active=True, version=1, created_at=now, updated_at=now,
    ) for i in range(1, DRUGS + 1)])
    for w in range(1, WARD_LOCATIONS + 1):
        s.add(StockLocation(code=f"WARD{w}", name=f"Ward {w} stock", kind="ward"))
    s.flush()
    drug_ids = list(s.scalars(select(Drug.id).order_by(Drug.id)))
    main = s.scalar(select(StockLocation.id).where(StockLocation.code == MAIN_PHARMACY))
    location_ids = list(s.scalars(select(StockLocation.id).order_by(StockLocation.id)))
    rows = []
    for n in range(batches):
        drug_id = drug_ids[n % DRUGS]
        expired = rng.random() < 0.1
        expiry = today + timedelta(days=rng.randrange(-300, -1) if expired else rng.randrange(0, 1000))
        rows.append(dict(drug_id=drug_id, location_id=location_ids[(n // DRUGS) % len(location_ids)],
                         batch_number=f"L{n:06d}", expiry=expiry, quantity=rng.randrange(200, 2000),
                         created_at=now, updated_at=now))
    s.execute(insert(StockBatch), rows)
    s.flush()
    log(f"seeded {batches:,} batches")
    receipts = [dict(batch_id=b.id, drug_id=b.drug_id, location_id=b.location_id, kind="receipt",
                     quantity=b.quantity, balance_after=b.quantity, reference="bench",
                     actor_label="bench", at=now)
                for b in s.execute(select(StockBatch.id, StockBatch.drug_id, StockBatch.location_id,
                                          StockBatch.quantity))]
    s.execute(insert(StockMovement), receipts)
    doctor, _ = identity.create_user(s, SYSTEM, username="bench_doctor", full_name="Bench Doctor",
                                     roles=["doctor"], ward_ids=[], password="correct horse battery")
    pharmacist, _ = identity.create_user(s, SYSTEM, username="bench_pharmacist",
                                         full_name="Bench Pharmacist", roles=["pharmacist"],
                                         ward_ids=[], password="correct horse battery")
    people = [patients.register_patient(s, SYSTEM, patients.Demographics(
        family_name=f"Bench{i}", given_names="Pat", birth_date=date(1950 + i, 1, 1), sex="female"),
        check_duplicates=False).id for i in range(PATIENTS)]
    s.flush()
    s.commit()
    seeded = {"drugs": drug_ids, "main": main, "doctor": doctor.id, "pharmacist": pharmacist.id,
              "patients": people}
    s.remove()
    return seeded


def prescriptions(seeded: dict[str, Any], n: int, rng: random.Random) -> list[tuple[int, int]]:
    """n verified outpatient prescriptions, each for a drug with usable stock in the main
    pharmacy, with a quantity that a third of the time needs more than the first batch."""
    from sqlalchemy import select

    from app.core import clock
    from app.core.identifiers import next_value, with_luhn
    from app.domain.dispensary.models import StockBatch
    from app.domain.prescribing.models import Prescription
    from app.extensions import db

    s = db.session
    today = date.today()
    first_batch = {}
    for drug_id, quantity in s.execute(
            select(StockBatch.drug_id, StockBatch.quantity)
            .where(StockBatch.location_id == seeded["main"], StockBatch.expiry >= today,
                   StockBatch.quantity > 0)
            .order_by(StockBatch.drug_id, StockBatch.expiry.desc(), StockBatch.id.desc())):
        first_batch[drug_id] = quantity  # the last written per drug is its FEFO first
    drugs = sorted(first_batch)
    made = []
    for i in range(n):
        drug_id = rng.choice(drugs)
        quantity = rng.randrange(7, 60)
        if i % 3 == 0:
            quantity = first_batch[drug_id] + rng.randrange(1, 30)  # spills into a second batch
        first_batch[drug_id] = max(1, first_batch[drug_id] - quantity)
        rx = Prescription(
            number=with_luhn(next_value(s, "prescription", start=1_000_000)),
            patient_id=rng.choice(seeded["patients"]), setting="outpatient", drug_id=drug_id,
            dose=Decimal("1"), dose_unit="mg", route="oral", frequency="TID",
            start_at=clock.now(), duration_days=7, quantity=quantity, priority="routine",
            status="active", verification="verified", verified_at=clock.now(),
            prescriber_id=seeded["doctor"])
        s.add(rx)
        s.flush()
        made.append((rx.id, quantity))
    s.commit()
    s.remove()
    return made


def measure(app: Any, conn: Any, seeded: dict[str, Any], work: list[tuple[int, int]],
            rng: random.Random) -> dict[str, list[float]]:
    from app.domain.dispensary.dispensing import dispense
    from app.domain.identity.models import User
    from app.extensions import db

    times: dict[str, list[float]] = {"dispense": [], "floor": [], "dispense_cpu": [], "floor_cpu": []}
    today = date.today()
    floor_drugs = list(seeded["drugs"])
    partial = 0
    with app.app_context():
        for i, (rx_id, quantity) in enumerate(work):
            pharmacist = db.session.get(User, seeded["pharmacist"])  # the request's loaded user
            start, cpu = time.perf_counter(), time.process_time()
            result = dispense(db.session, pharmacist, rx_id, quantity, allow_partial=True)
            db.session.commit()
            elapsed = (time.perf_counter() - start) * 1000
            elapsed_cpu = (time.process_time() - cpu) * 1000
            partial += result.partial
            db.session.remove()

            drug = rng.choice(floor_drugs)
            start, cpu = time.perf_counter(), time.process_time()
            with conn.transaction(), conn.cursor() as cur:
                row = cur.execute(FLOOR_PICK, {"drug": drug, "location": seeded["main"],
                                               "today": today}).fetchone()
                if row is not None:
                    q = min(row[1], quantity)
                    balance = cur.execute(FLOOR_UPDATE, {"q": q, "batch": row[0]}).fetchone()
                    cur.execute(FLOOR_MOVE, {"batch": row[0], "drug": drug, "location": seeded["main"],
                                             "neg": -q, "balance": balance[0], "at": datetime.now(UTC)})
            floor = (time.perf_counter() - start) * 1000
            floor_cpu = (time.process_time() - cpu) * 1000
            if i >= WARMUP:
                times["dispense"].append(elapsed)
                times["floor"].append(floor)
                times["dispense_cpu"].append(elapsed_cpu)
                times["floor_cpu"].append(floor_cpu)
    log(f"partial supplies (stock ran short): {partial}")
    return times


def check_ledger(conn: Any) -> int:
    """Batches whose ledger does not add up to the shelf (must be none)."""
    row = conn.execute("""
        SELECT count(*) FROM stock_batch b
         WHERE b.quantity <> (SELECT coalesce(sum(m.quantity), 0) FROM stock_movement m
                               WHERE m.batch_id = b.id) OR b.quantity < 0""").fetchone()
    return int(row[0])


def main() -> None:
    scale = parse_scale(__doc__, SCALES)
    batches, n = SCALES[scale]
    rng = random.Random(20261122)

    import psycopg

    with migrated_app(DB_NAME) as (app, url):
        with app.app_context():
            started = time.perf_counter()
            seeded = seed(batches, rng)
            work = prescriptions(seeded, n + WARMUP, rng)
            log(f"seeded in {time.perf_counter() - started:.0f} s")
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # the steady state: statistics and visibility known
            times = measure(app, conn, seeded, work, rng)  # the floor opens its own transactions
            broken = check_ledger(conn)
    if broken:
        raise SystemExit(f"{broken} batches whose ledger does not equal the shelf")

    def figure(q: int, target: int | None) -> dict[str, Any]:
        return {"value": round(percentile(times["dispense"], q), 2), "unit": "ms", "target": target,
                "floor": round(percentile(times["floor"], q), 2),
                # this process's CPU time for the same calls: what a busy machine does not inflate
                "cpu": round(percentile(times["dispense_cpu"], q), 2),
                "floor_cpu": round(percentile(times["floor_cpu"], q), 2)}

    figures = {"dispense_p95": figure(95, TARGET_MS), "dispense_p50": figure(50, None)}
    print(json.dumps({"bench": "dispensing", "scale": scale, "batches": batches,
                      "dispensings": len(times["dispense"]), "figures": figures}))


if __name__ == "__main__":
    main()
