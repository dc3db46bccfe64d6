"""Duplicate check benchmark: find_duplicates at registration, against a large register.

    .venv/bin/python bench/duplicates.py [--scale small|full] [--patients N] [--reuse]

Seeds N synthetic patients (full: 1,000,000; small: 50,000) into a database of its own on
PostgreSQL (`<DATABASE_URL's server>/infirmary_bench_duplicates`, dropped and rebuilt with the
real migrations; a throwaway server from scripts/services.sh when DATABASE_URL is not set), by
COPY. Name frequencies are realistic: British surnames with their census weights (Smith, Jones,
Williams... are very common), plus a long tail from other locales; birth dates over 100 years,
70% with a phone, 60% with a national id. `--reuse` keeps a seeded database of the same size
from an earlier run (seeding 1M rows and building the trigram index takes minutes).

It then measures, one clerk at a time (a duplicate check runs once per registration), the
duration of `find_duplicates` (blocking queries, scoring, loading the matches) for registrations
that are: half re-registrations of existing patients with the usual slips (a typo, swapped names,
a day-month swap, a year off), half new people, a tenth of them with the commonest surname. The
floor is the same blocks as one raw SQL statement (UNION ALL) through psycopg, no scoring, no
ORM, measured interleaved in the same run. p50 and p95 of each.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCALES = {"small": (50_000, 300), "full": (1_000_000, 1_000)}  # patients, measured checks
TARGET_MS = 100
DB_NAME = "infirmary_bench_duplicates"
WARMUP = 30


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


@contextmanager
def server() -> Iterator[str]:
    """A PostgreSQL server URL (without a database name): DATABASE_URL's, or a throwaway one."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"].rpartition("/")[0]
        return
    workdir = tempfile.mkdtemp(prefix="infirmary-bench-")
    try:
        out = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start", workdir],
                             check=True, capture_output=True, text=True, timeout=180).stdout
        url = next(item.partition("=")[2] for line in out.splitlines()
                   for item in line.removeprefix("export ").split() if item.startswith("TEST_DATABASE_URL="))
        yield url.rpartition("/")[0]
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop", workdir],
                       check=False, capture_output=True, timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)


def dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def create_database(base: str, name: str) -> str:
    """A fresh, empty database on the server at `base` (an old one of that name is dropped)."""
    import psycopg

    with psycopg.connect(dsn(f"{base}/postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


# --- the synthetic register --------------------------------------------------------------------

LOCALES = ("es_ES", "it_IT", "ga_IE", "de_DE", "fr_FR", "zh_CN", "vi_VN", "tr_TR", "pt_BR",
           "ar_AA", "ko_KR", "ja_JP", "pl_PL")


def _names() -> tuple[list[str], list[float], dict[str, list[str]]]:
    """Surnames with weights (British census weights for 70% of people, a Zipf-like tail from
    other locales for 30%), and given names by sex."""
    gb = importlib.import_module("faker.providers.person.en_GB").Provider
    surnames = list(gb.last_names.keys())
    gb_total = sum(gb.last_names.values())
    weights = [0.7 * w / gb_total for w in gb.last_names.values()]
    given: dict[str, list[str]] = {"female": list(gb.first_names_female), "male": list(gb.first_names_male)}
    tail: list[str] = []
    for loc in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        tail.extend(provider.last_names.keys() if isinstance(provider.last_names, dict) else provider.last_names)
        for sex in ("female", "male"):
            given[sex].extend(getattr(provider, f"first_names_{sex}", ()))
    tail = list(dict.fromkeys(n for n in tail if n not in gb.last_names))
    zipf = [1 / (rank + 10) for rank in range(len(tail))]
    surnames.extend(tail)
    weights.extend(0.3 * z / sum(zipf) for z in zipf)
    return surnames, weights, given


def seed(conn: Any, n: int, rng: random.Random) -> None:
    """COPY n patients into an empty patient table; the search columns are computed with the
    app's own functions (cached per name: the names come from finite lists)."""
    from app.core.identifiers import with_luhn
    from app.domain.patients import rules

    surnames, weights, given = _names()
    norm = {}
    key = {}
    today = date.today()
    now = datetime.now(UTC).isoformat()
    columns = ("id", "mrn", "family_name", "given_names", "birth_date", "sex", "phone", "national_id",
               "family_norm", "given_norm", "name_key", "phone_e164", "status", "version",
               "created_at", "updated_at")
    batch = 50_000
    with conn.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS ix_patient_name_trgm")  # built once at the end: faster
        for start in range(0, n, batch):
            families = rng.choices(surnames, weights, k=min(batch, n - start))
            buf = io.StringIO()
            for offset, family in enumerate(families):
                i = start + offset + 1
                sex = "female" if rng.random() < 0.51 else "male"
                first = rng.choice(given[sex])
                names = first if rng.random() < 0.7 else f"{first} {rng.choice(given[sex])}"
                born = today - timedelta(days=rng.randrange(0, 100 * 365))
                phone = e164 = None
                if rng.random() < 0.7:
                    digits = f"{rng.randrange(0, 10**6):06d}"
                    phone, e164 = f"07700 9{digits[:2]}{digits[2:]}", f"+4477009{digits}"
                nid = f"QQ{i:07d}A" if rng.random() < 0.6 else None
                for name in (family, names):
                    if name not in norm:
                        norm[name] = rules.normalise_name(name)
                        key[name] = rules.name_key(name)
                row = (i, with_luhn(1_000_000 + i), family, names, born.isoformat(), sex, phone, nid,
                       norm[family], norm[names], key[family], e164, "active", 1, now, now)
                buf.write("\t".join(r"\N" if v is None else str(v) for v in row) + "\n")
            buf.seek(0)
            with cur.copy(f"COPY patient ({', '.join(columns)}) FROM STDIN") as copy:
                while chunk := buf.read(1 << 20):
                    copy.write(chunk)
            log(f"seeded {min(start + batch, n):,} / {n:,}")
        cur.execute("SELECT setval(pg_get_serial_sequence('patient', 'id'), %s)", (n,))
        log("building the trigram index")
        cur.execute("CREATE INDEX ix_patient_name_trgm ON patient "
                    "USING gin ((family_norm || ' ' || given_norm) gin_trgm_ops)")
        cur.execute("VACUUM ANALYZE patient")  # the steady state: pages all-visible
    assert rules.phone_e164("07700 900123", "GB") == "+447700900123"  # the seed's phones are real


# --- the registrations measured -----------------------------------------------------------------

def _slip(rng: random.Random, row: Any) -> dict[str, Any]:
    family, given, born = row.family_name, row.given_names, row.birth_date
    kind = rng.choice(["typo", "swap", "day_month", "year", "middle", "none"])
    if kind == "typo" and len(family) > 3:
        i = rng.randrange(len(family) - 2) + 1
        family = family[:i] + family[i + 1] + family[i] + family[i + 2:]
    elif kind == "swap":
        family, given = given, family
    elif kind == "day_month" and born.day <= 12:
        born = born.replace(month=born.day, day=born.month)
    elif kind == "year":
        try:
            born = born.replace(year=born.year + 1)
        except ValueError:
            pass
    elif kind == "middle":
        given = given.split()[0]
    return {"family_name": family, "given_names": given, "birth_date": born, "sex": row.sex,
            "phone": None, "national_id": None}


def registrations(session: Any, n: int, rng: random.Random) -> list[Any]:
    from sqlalchemy import func, select

    from app.domain.patients.models import Patient
    from app.domain.patients.services import Demographics

    top = session.execute(select(Patient.family_name).group_by(Patient.family_name)
                          .order_by(func.count().desc()).limit(1)).scalar_one()
    count = session.scalar(select(func.max(Patient.id)))
    ids = rng.sample(range(1, count + 1), n)
    rows = {r.id: r for r in session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}
    surnames, weights, given = _names()
    out: list[Demographics] = []
    for i, pid in enumerate(ids):
        if i % 2 == 0:
            out.append(Demographics(**_slip(rng, rows[pid])))
        else:
            sex = rng.choice(["female", "male"])
            family = top if i % 10 == 1 else rng.choices(surnames, weights)[0]
            out.append(Demographics(family_name=family, given_names=rng.choice(given[sex]),
                                    birth_date=date.today() - timedelta(days=rng.randrange(0, 36500)),
                                    sex=sex, phone=f"07700 9{rng.randrange(10**6):06d}",
                                    national_id=None))
    log(f"commonest surname: {top}")
    return out


FLOOR_SQL = """
SELECT id, family_name, given_names, birth_date, sex, phone_e164, national_id FROM patient
 WHERE status = 'active' AND birth_date = ANY(%(near)s)
UNION ALL
SELECT id, family_name, given_names, birth_date, sex, phone_e164, national_id FROM patient
 WHERE status = 'active' AND id IN (
   SELECT id FROM patient WHERE birth_date = ANY(%(typos)s)
      AND (' ' || family_norm || ' ' || given_norm || ' ') LIKE ANY(%(words)s) LIMIT 200)
UNION ALL
SELECT id, family_name, given_names, birth_date, sex, phone_e164, national_id FROM patient
 WHERE status = 'active' AND phone_e164 = %(phone)s
UNION ALL
SELECT id, family_name, given_names, birth_date, sex, phone_e164, national_id FROM patient
 WHERE status = 'active' AND national_id = %(nid)s
"""


def floor_params(data: Any) -> dict[str, Any]:
    from app.domain.registry import duplicates, rules

    person = duplicates.person_from_form(data)
    words = {w for w in rules.name_tokens(person.family_name) + rules.name_tokens(person.given_names)}
    return {"near": sorted(rules.near_dates(person.birth_date)),
            "typos": sorted(rules.typo_dates(person.birth_date)),
            "words": [f"% {w} %" for w in sorted(words)], "phone": person.phone,
            "nid": person.national_id}


def measure(app: Any, conn: Any, n: int, rng: random.Random) -> dict[str, Any]:
    from app.domain.registry.duplicates import find_duplicates
    from app.extensions import db

    with app.app_context():
        regs = registrations(db.session, n + WARMUP, rng)
        params = [floor_params(r) for r in regs]  # prepared outside the floor's timing
        times: dict[str, list[float]] = {"check": [], "floor": []}
        found = 0
        for i, (data, p) in enumerate(zip(regs, params, strict=True)):
            start = time.perf_counter()
            matches = find_duplicates(db.session, data)
            check = (time.perf_counter() - start) * 1000
            db.session.rollback()  # end the read transaction, as a request would
            start = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute(FLOOR_SQL, p)
                cur.fetchall()
            floor = (time.perf_counter() - start) * 1000
            if i >= WARMUP:
                times["check"].append(check)
                times["floor"].append(floor)
                found += bool(matches) and i % 2 == 0
        db.session.remove()
    log(f"re-registrations recognised: {found} of {n // 2}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--patients", type=int, help="override the scale's number of patients")
    parser.add_argument("--reuse", action="store_true", help="keep a seeded database of this size")
    args = parser.parse_args()
    patients, checks = SCALES[args.scale]
    patients = args.patients or patients
    rng = random.Random(20261122)

    import psycopg
    from flask_migrate import upgrade

    from app import create_app

    with server() as base, tempfile.TemporaryDirectory() as tmp:
        url = f"{base}/{DB_NAME}"
        reuse = False
        if args.reuse:
            try:
                with psycopg.connect(dsn(url)) as probe:
                    reuse = probe.execute("SELECT count(*) FROM patient").fetchone()[0] == patients
            except psycopg.Error:
                reuse = False
        if not reuse:
            url = create_database(base, DB_NAME)
        app = create_app("test", DATABASE_URL=url, INSTANCE_PATH=str(Path(tmp) / "instance"))
        with app.app_context():
            upgrade()
        with psycopg.connect(dsn(url), autocommit=True) as conn:
            if not reuse:
                started = time.perf_counter()
                seed(conn, patients, rng)
                log(f"seeded in {time.perf_counter() - started:.0f} s")
            times = measure(app, conn, checks, rng)
        with app.app_context():
            from app.extensions import db

            db.engine.dispose()

    figures = {
        "duplicate_check_p95": {"value": round(percentile(times["check"], 95), 2), "unit": "ms",
                                "target": TARGET_MS, "floor": round(percentile(times["floor"], 95), 2)},
        "duplicate_check_p50": {"value": round(percentile(times["check"], 50), 2), "unit": "ms",
                                "target": None, "floor": round(percentile(times["floor"], 50), 2)},
    }
    print(json.dumps({"bench": "duplicates", "scale": args.scale, "patients": patients,
                      "figures": figures}))


if __name__ == "__main__":
    main()
