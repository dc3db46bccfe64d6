"""Bed board benchmark: a 40-bed ward's live board with a year of observations and doses.

    .venv/bin/python bench/bed_board.py [--scale small|full]

Seeds a database of its own on PostgreSQL (`<DATABASE_URL's server>/infirmary_bench_bed_board`,
rebuilt with the real migrations; a throwaway server from scripts/services.sh when DATABASE_URL
is not set): one ward of 10 rooms x 4 beds, 40 patients admitted through `adt.admit`, and for
each stay a year of history (the worst case for the board's "latest per stay" reads: every
current stay carries all of it). That is a set of vital signs every 4 hours (2,190 a stay,
87,600 in all, with 7 LOINC-coded observations each) and an inpatient prescription given four
times a day (1,460 scheduled doses a stay, 58,400 in all, the past ones each with its
administration record), plus a week of doses ahead, two overdue doses and a few open alerts.
The history is written with COPY, then VACUUM ANALYZE.

It measures, one request at a time through the Flask test client signed in as the ward's
charge nurse, GET /wards/<id> as a full page and as the htmx fragment a live event re-fetches
(every query, the template and the response included). The floor is a bare Flask app in the
same process answering a static string of the same size through its own test client, measured
interleaved in the same run. p50 and p95 of each.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.duplicates import create_database, dsn, log, percentile, server  # noqa: E402

SCALES = {"small": (30, 150), "full": (365, 1_000)}  # days of history, measured requests per kind
ROOMS, BEDS_PER_ROOM = 10, 4
OBS_EVERY_HOURS = 4
DOSE_HOURS = (6, 12, 18, 22)
TARGET_MS = 100
DB_NAME = "infirmary_bench_bed_board"
WARMUP = 20
PASSWORD = "correct horse battery"
# LOINC code, display, unit, a typical value (the board reads totals, not these).
OBSERVATIONS = (
    ("9279-1", "Respiratory rate", "/min", Decimal("16")),
    ("59408-5", "Oxygen saturation", "%", Decimal("97")),
    ("8480-6", "Systolic blood pressure", "mm[Hg]", Decimal("124")),
    ("8462-4", "Diastolic blood pressure", "mm[Hg]", Decimal("78")),
    ("8867-4", "Heart rate", "/min", Decimal("76")),
    ("67775-7", "Level of consciousness", None, None),
    ("8310-5", "Body temperature", "Cel", Decimal("36.9")),
)
BANDS = (("low", 0), ("low", 1), ("low", 2), ("low", 3), ("low-medium", 3), ("medium", 5), ("high", 7))
BAND_WEIGHTS = (40, 20, 12, 8, 8, 8, 4)


def seed_people(days: int) -> dict[str, Any]:
    """The ward, its staff, 40 admitted patients, one inpatient prescription each (ORM, through
    the real admission service); committed."""
    from sqlalchemy import insert, select

    from app.core.security import SYSTEM
    from app.domain.admissions import adt
    from app.domain.facilities.models import Bed, Room, Ward
    from app.domain.formulary.models import Drug
    from app.domain.identity import services as identity
    from app.domain.patients import services as patients
    from app.domain.prescribing.models import Prescription
    from app.extensions import db

    s = db.session
    now = datetime.now(UTC)
    ward = Ward(code="BENCH", name="Bench Ward", specialty="acute medicine", ward_class="general")
    for r in range(ROOMS):
        room = Room(code=f"R{r + 1}")
        room.beds = [Bed(code=chr(65 + b)) for b in range(BEDS_PER_ROOM)]
        ward.rooms.append(room)
    s.add(ward)
    s.flush()
    charge, _ = identity.create_user(s, SYSTEM, username="bench_charge", full_name="Bench Charge",
                                     roles=["charge_nurse"], ward_ids=[ward.id], password=PASSWORD)
    nurse, _ = identity.create_user(s, SYSTEM, username="bench_nurse", full_name="Bench Nurse",
                                    roles=["nurse"], ward_ids=[ward.id], password=PASSWORD)
    doctor, _ = identity.create_user(s, SYSTEM, username="bench_doctor", full_name="Bench Doctor",
                                     roles=["doctor"], ward_ids=[], password=PASSWORD)
    s.execute(insert(Drug), [dict(
        code="BENCHDRUG", code_system="local", name="Benchmarkol 500 MG Oral Tablet",
        generic_name="benchmarkol", form="Oral Tablet", strength="500 MG", route="oral", dose_unit="mg",
        stock_unit="tablet", dose_per_stock_unit=Decimal(500), pack_size=28, controlled=False, active=True,
        version=1, created_at=now, updated_at=now)])
    drug_id = s.scalar(select(Drug.id).where(Drug.code == "BENCHDRUG"))
    bed_ids = list(s.scalars(select(Bed.id).join(Room).where(Room.ward_id == ward.id).order_by(Bed.id)))
    stays = []
    for i, bed_id in enumerate(bed_ids):
        p = patients.register_patient(s, SYSTEM, patients.Demographics(
            family_name=f"Benchpatient{i}", given_names="Pat", birth_date=date(1940 + i, 3, 1), sex="female"),
            check_duplicates=False)
        e = adt.admit(s, SYSTEM, patient_id=p.id, bed_id=bed_id, source="emergency", attending_id=doctor.id,
                      diagnosis="Community-acquired pneumonia", nurse_id=nurse.id,
                      expected_discharge_on=now.date() + timedelta(days=i % 5))
        e.started_at = now - timedelta(days=days)  # a year-long stay: all history on the current stay
        rx = Prescription(number=f"BENCH{i:06d}", patient_id=p.id, encounter_id=e.id, setting="inpatient",
                          drug_id=drug_id, dose=Decimal(500), dose_unit="mg", route="oral", frequency="QDS",
                          start_at=e.started_at, priority="routine", status="active", verification="verified",
                          verified_at=e.started_at, prescriber_id=doctor.id)
        s.add(rx)
        s.flush()
        stays.append((e.id, p.id, rx.id))
    s.commit()
    out = {"ward": ward.id, "stays": stays, "charge": charge.username, "nurse": nurse.id}
    s.remove()
    return out


def _copy(conn: Any, table: str, columns: tuple[str, ...], rows: Any) -> int:
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed_history(conn: Any, seeded: dict[str, Any], days: int, rng: random.Random) -> dict[str, int]:
    """A year of vital signs with their observations, and of doses with their administrations,
    for every stay, by COPY; ids assigned here so the child rows can point at them."""
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    ward_id, nurse_id = seeded["ward"], seeded["nurse"]
    vs_rows: list[tuple[Any, ...]] = []
    obs_rows: list[tuple[Any, ...]] = []
    vs_id = obs_id = 0
    for encounter_id, patient_id, _ in seeded["stays"]:
        t = start + timedelta(minutes=rng.randrange(0, 240))
        while t < now:
            vs_id += 1
            band, total = rng.choices(BANDS, BAND_WEIGHTS)[0]
            due = t + timedelta(hours=OBS_EVERY_HOURS if band == "low" else 1)
            vs_rows.append((vs_id, patient_id, encounter_id, ward_id, t, t, nurse_id, 1, total, band,
                            band == "low-medium", due, "[]", "final"))
            for loinc, display, unit, value in OBSERVATIONS:
                obs_id += 1
                obs_rows.append((obs_id, vs_id, patient_id, "vital-signs", loinc, display, value,
                                 "A" if value is None else None, unit, 0, t))
            t += timedelta(hours=OBS_EVERY_HOURS)
    dose_rows: list[tuple[Any, ...]] = []
    given_rows: list[tuple[Any, ...]] = []
    dose_id = given_id = 0
    for encounter_id, patient_id, rx_id in seeded["stays"]:
        day = start.date()
        overdue_left = 1  # one overdue dose a stay at most, as on a busy ward
        while day <= (now + timedelta(days=7)).date():
            for hour in DOSE_HOURS:
                due = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                if due < start:
                    continue
                dose_id += 1
                open_dose = due > now - timedelta(hours=2) or (overdue_left and due > now - timedelta(hours=3))
                if open_dose and due <= now - timedelta(hours=2):
                    overdue_left -= 1
                dose_rows.append((dose_id, rx_id, patient_id, encounter_id, due,
                                  "due" if open_dose else "given", 1, start))
                if not open_dose:
                    given_id += 1
                    at = due + timedelta(minutes=rng.randrange(0, 40))
                    given_rows.append((given_id, rx_id, dose_id, patient_id, encounter_id, "given",
                                       Decimal(500), "mg", "oral", at, at, nurse_id, True, True, "completed"))
            day += timedelta(days=1)
    counts = {
        "vital_signs": _copy(conn, "vital_signs", (
            "id", "patient_id", "encounter_id", "ward_id", "taken_at", "recorded_at", "recorded_by_id",
            "spo2_scale", "news2_total", "news2_band", "any_single_three", "next_due_at", "flags", "status"),
            vs_rows),
        "observations": _copy(conn, "observation", (
            "id", "vital_signs_id", "patient_id", "category", "loinc", "display", "value", "value_code", "unit",
            "score", "taken_at"), obs_rows),
        "scheduled_doses": _copy(conn, "scheduled_dose", (
            "id", "prescription_id", "patient_id", "encounter_id", "due_at", "status", "planned_from_version",
            "planned_at"), dose_rows),
        "administrations": _copy(conn, "medication_administration", (
            "id", "prescription_id", "scheduled_dose_id", "patient_id", "encounter_id", "outcome", "dose",
            "dose_unit", "route", "occurred_at", "recorded_at", "recorded_by_id", "wristband_scanned",
            "product_scanned", "status"), given_rows),
    }
    for table in ("vital_signs", "observation", "scheduled_dose", "medication_administration"):
        conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    # A few open alerts, as a busy ward has.
    for i, (encounter_id, patient_id, _) in enumerate(seeded["stays"][:5]):
        conn.execute(
            "INSERT INTO clinical_alert (kind, subject_key, patient_id, encounter_id, ward_id, priority, text, "
            "level, status, raised_at, chain, recipient_ids) VALUES ('news2', %s, %s, %s, %s, 'high', %s, 0, "
            "'open', %s, '', '[]')",
            (f"bench:{i}", patient_id, encounter_id, ward_id, "NEWS2 7: urgent review", now))
    return counts


def sign_in(client: Any, username: str) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
    assert token is not None
    reply = client.post("/login", data={"username": username, "password": PASSWORD},
                        headers={"X-CSRFToken": token.group(1)})
    assert reply.status_code == 303, reply.status_code


def measure(app: Any, seeded: dict[str, Any], n: int) -> tuple[dict[str, list[float]], dict[str, int]]:
    from flask import Flask

    client = app.test_client()
    sign_in(client, seeded["charge"])
    url = f"/wards/{seeded['ward']}"
    full = client.get(url)
    fragment = client.get(url, headers={"HX-Request": "true"})
    assert full.status_code == 200 and fragment.status_code == 200, (full.status_code, fragment.status_code)
    page_html, fragment_html = full.get_data(as_text=True), fragment.get_data(as_text=True)
    cards = fragment_html.count('<article class="bed ')
    assert cards == ROOMS * BEDS_PER_ROOM, cards
    assert "NEWS2" in fragment_html and "doses-overdue" in fragment_html

    bare = Flask("floor")

    @bare.route("/page")
    def _page() -> str:
        return page_html

    @bare.route("/fragment")
    def _fragment() -> str:
        return fragment_html

    floor = bare.test_client()
    times: dict[str, list[float]] = {"page": [], "fragment": [], "floor_page": [], "floor_fragment": []}
    for i in range(n + WARMUP):
        for kind, do in (
                ("page", lambda: client.get(url)),
                ("floor_page", lambda: floor.get("/page")),
                ("fragment", lambda: client.get(url, headers={"HX-Request": "true"})),
                ("floor_fragment", lambda: floor.get("/fragment"))):
            start = time.perf_counter()
            reply = do()
            reply.get_data()
            elapsed = (time.perf_counter() - start) * 1000
            assert reply.status_code == 200, (kind, reply.status_code)
            if i >= WARMUP:
                times[kind].append(elapsed)
    return times, {"page_bytes": len(page_html.encode()), "fragment_bytes": len(fragment_html.encode())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    args = parser.parse_args()
    days, n = SCALES[args.scale]
    rng = random.Random(20261122)

    import psycopg
    from flask_migrate import upgrade

    from app import create_app

    with server() as base, tempfile.TemporaryDirectory() as tmp:
        url = create_database(base, DB_NAME)
        app = create_app("test", DATABASE_URL=url, INSTANCE_PATH=str(Path(tmp) / "instance"),
                         REDIS_URL="", SOCKETIO_MESSAGE_QUEUE="", RATELIMIT_STORAGE_URI="memory://")
        started = time.perf_counter()
        with app.app_context():
            upgrade()
            seeded = seed_people(days)
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            with conn.transaction():
                counts = seed_history(conn, seeded, days, rng)
            conn.execute("VACUUM ANALYZE")  # the steady state: statistics and visibility known
        log(f"seeded {counts} in {time.perf_counter() - started:.0f} s")
        with app.app_context():
            times, sizes = measure(app, seeded, n)
            from app.extensions import db

            db.engine.dispose()

    def figure(kind: str, q: int, target: int | None) -> dict[str, Any]:
        return {"value": round(percentile(times[kind], q), 2), "unit": "ms", "target": target,
                "floor": round(percentile(times[f"floor_{kind}"], q), 2)}

    figures = {"board_page_p95": figure("page", 95, TARGET_MS), "board_page_p50": figure("page", 50, None),
               "board_fragment_p95": figure("fragment", 95, TARGET_MS),
               "board_fragment_p50": figure("fragment", 50, None)}
    print(json.dumps({"bench": "bed_board", "scale": args.scale, "beds": ROOMS * BEDS_PER_ROOM,
                      "days_of_history": days, "requests_per_kind": n, **counts, **sizes,
                      "figures": figures}))


if __name__ == "__main__":
    main()
