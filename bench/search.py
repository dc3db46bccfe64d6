"""Reception patient search at scale: p50/p95 of each search kind, 4 concurrent clients.

    .venv/bin/python bench/search.py [--scale small|full] [--patients N] [--queries N]

Seeds N synthetic patients (full: 1,000,000; small: 50,000) into PostgreSQL with COPY, secondary
indexes dropped during the load and rebuilt after it from their own definitions (those of the
migrations), then VACUUM ANALYZE. Names have realistic frequencies: US census surname weights
(Smith first) for most patients, other locales' names (German, Spanish, French, Chinese with its
own weights, Vietnamese, Arabic, Hindi, Yoruba) and a long tail of rare synthetic surnames, so a
few surnames are very common and most are rare. About half the patients have past visits
(encounters), so "last visit" is real work. A database that already holds N patients is reused
(the seed time is then not re-measured).

Search kinds, each typed as a clerk would: MRN; name prefix (a random family name's first
letters, or "family, given"); the most common surname (typed "s" … "smith", "smith, j",
"john smith"); name + date of birth (DD/MM/YYYY and ISO); typo-tolerant (a transposed or
dropped letter, so the exact search finds nothing); phone (as typed, national format).

Each kind is measured three ways, by 4 concurrent clients, interleaved:
- floor: the very SQL statements Infirmary's search issues (captured once per query), replayed
  through raw psycopg: the database's share;
- value: Infirmary's search service (app.domain.patients.search) in-process: parsing, the ORM,
  the same statements, inside a transaction already open (as a request's is by the time it
  searches: the pool checkout, its ping and BEGIN belong to the request, measured by htmx);
- htmx: GET /patients/?q=... with HX-Request, signed in as a reception clerk, against the app
  under gunicorn (gunicorn.conf.py, production config): session check, search, template.
The SQL and service clients are 4 processes; the HTTP clients are 4 threads.

PostgreSQL: DATABASE_URL when given (a database "bench_search_<N>" is created on that server and
kept for re-runs), otherwise a throwaway server from scripts/services.sh. The last line printed
is one JSON object (DESIGN.md section 9).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import re
import secrets
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SCALES = {"small": 50_000, "full": 1_000_000}
QUERIES = {"small": 100, "full": 1000}  # measured per kind and way, spread over the clients
CLIENTS = 4
TARGETS_MS = {"mrn": 5, "name_prefix": 15, "name_prefix_common": 15, "name_dob": 10,
              "typo": 150, "phone": None}
HTMX_TARGET_MS = 50
WEB_INSTANCES = 2
KINDS = tuple(TARGETS_MS)
BENCH_USER, BENCH_PASSWORD = "bench_reception", "search benchmark password"


# --- synthetic patients ---------------------------------------------------------------------------

def _name_pools(rng: random.Random) -> tuple[list[str], list[float], dict[str, tuple[list[str], list[float]]]]:
    """Family names with cumulative weights (a Zipf-like head and a long tail), and given names
    per sex."""
    import importlib

    from faker.providers.person.en_GB import Provider as GB
    from faker.providers.person.en_US import Provider as US

    families: dict[str, float] = defaultdict(float)

    def add(names: Any, share: float) -> None:
        if hasattr(names, "items"):
            total = sum(names.values())
            for n, w in names.items():
                families[n] += share * w / total
        else:
            uniq = sorted(set(names))
            for n in uniq:
                families[n] += share / len(uniq)

    add(US.last_names, 0.55)
    add(GB.last_names, 0.08)
    for loc, share in (("es_ES", 0.06), ("de_DE", 0.05), ("fr_FR", 0.04), ("zh_CN", 0.04),
                       ("vi_VN", 0.03), ("ar_AA", 0.02), ("hi_IN", 0.02), ("yo_NG", 0.02)):
        add(importlib.import_module(f"faker.providers.person.{loc}").Provider.last_names, share)
    # The long tail: rare surnames (most real surnames are borne by a handful of people).
    syllables = ["ka", "ro", "vic", "mo", "len", "da", "bar", "thi", "sun", "el", "ow", "ska",
                 "tor", "ne", "gar", "li", "son", "ber", "quist", "ma", "ri", "ot", "fen", "dal",
                 "hu", "zel", "pa", "ny", "cor", "mi", "rat", "ve", "lo", "wan", "ek", "sto"]
    tail = {(a + b + c).capitalize() for a in syllables for b in syllables for c in syllables}
    add(sorted(tail), 0.09)
    names = list(families)
    cum: list[float] = []
    acc = 0.0
    for n in names:
        acc += families[n]
        cum.append(acc)

    def given(attr: str, locales: tuple[str, ...]) -> tuple[list[str], list[float]]:
        pool: dict[str, float] = defaultdict(float)
        for loc in locales:
            src = getattr(importlib.import_module(f"faker.providers.person.{loc}").Provider, attr, ())
            if hasattr(src, "items"):
                total = sum(src.values())
                for n, w in src.items():
                    pool[n] += w / total
            else:
                for n in set(src):
                    pool[n] += 1 / max(1, len(set(src)))
        keys = list(pool)
        c, a = [], 0.0
        for k in keys:
            a += pool[k]
            c.append(a)
        return keys, c

    locs = ("en_US", "en_GB", "es_ES", "de_DE", "fr_FR", "zh_CN", "vi_VN", "ar_AA", "hi_IN", "yo_NG")
    givens = {"female": given("first_names_female", locs), "male": given("first_names_male", locs)}
    return names, cum, givens


PATIENT_COLUMNS = ("mrn", "family_name", "given_names", "birth_date", "sex", "phone",
                   "address_line", "city", "postcode", "national_id", "family_norm", "given_norm",
                   "name_key", "phone_e164", "status", "created_at", "updated_at", "version")
CITIES = ("Leeds", "York", "Bradford", "Hull", "Sheffield", "Wakefield", "Harrogate", "Halifax")
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Green Lane")


def seed(conninfo: str, n: int, log: Any) -> float:
    """N patients by COPY, about half with past visits. Returns the seconds it took."""
    import psycopg

    from app.domain.patients import rules

    started = time.monotonic()
    rng = random.Random(20261122)
    families, fam_cum, givens = _name_pools(rng)
    fam_info = {f: (rules.normalise_name(f), rules.name_key(f)) for f in families}
    start_day = date(1925, 1, 1).toordinal()
    span = date(2025, 12, 31).toordinal() - start_day
    now = "2026-11-22 12:00:00+00"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("TRUNCATE patient, encounter, patient_version, identifier_counter "
                     "RESTART IDENTITY CASCADE")
        dropped = _drop_secondary_indexes(conn, ("patient", "encounter"))
        conn.execute("SET maintenance_work_mem = '512MB'")
        log(f"  seeding {n:,} patients (secondary indexes dropped: {len(dropped)})")
        chunk = 100_000
        with conn.cursor() as cur, cur.copy(
                f"COPY patient ({', '.join(PATIENT_COLUMNS)}) FROM STDIN") as copy:
            for base in range(0, n, chunk):
                size = min(chunk, n - base)
                fams = rng.choices(families, cum_weights=fam_cum, k=size)
                for i, family in enumerate(fams):
                    serial = rules.MRN_SERIAL_START + base + i
                    roll = rng.random()
                    sex = "female" if roll < 0.49 else "male" if roll < 0.98 else (
                        "other" if roll < 0.99 else "unknown")
                    pool = givens["female" if sex == "female" else "male" if sex == "male"
                                  else rng.choice(("female", "male"))]
                    given = rng.choices(pool[0], cum_weights=pool[1])[0]
                    if rng.random() < 0.2:
                        given += " " + rng.choices(pool[0], cum_weights=pool[1])[0]
                    phone = e164 = None
                    if rng.random() < 0.85:
                        digits = f"{rng.randrange(10**9):09d}"
                        phone, e164 = "07" + digits, "+447" + digits
                    nid = f"{rng.randrange(10**10):010d}" if rng.random() < 0.7 else None
                    fnorm, key = fam_info[family]
                    copy.write_row((
                        rules.make_mrn(serial), family, given,
                        date.fromordinal(start_day + rng.randrange(span)), sex, phone,
                        f"{rng.randrange(1, 200)} {rng.choice(STREETS)}", rng.choice(CITIES),
                        f"LS{rng.randrange(1, 30)} {rng.randrange(1, 10)}AB", nid, fnorm,
                        rules.normalise_name(given),
                        key, e164, "active", now, now, 1))
                log(f"    {base + size:,} rows copied ({time.monotonic() - started:.0f} s)")
        conn.execute("INSERT INTO identifier_counter (name, next_value) VALUES ('mrn', %s)",
                     (rules.MRN_SERIAL_START + n,))
        # Past visits: about half the patients, some more than once.
        for share in (0.5, 0.2, 0.05):
            conn.execute(
                "INSERT INTO encounter (patient_id, class_code, status, started_at, ended_at, "
                "created_at, updated_at) SELECT id, 'AMB', 'finished', "
                "timestamptz '2026-11-22' - random() * interval '3000 days', NULL, now(), now() "
                "FROM patient WHERE random() < %s", (share,))
        log(f"  rows in: {time.monotonic() - started:.0f} s; rebuilding {len(dropped)} indexes")
        for name, ddl in dropped:
            t = time.monotonic()
            conn.execute(ddl)
            log(f"    {name}: {time.monotonic() - t:.1f} s")
        conn.execute("VACUUM ANALYZE patient")
        conn.execute("VACUUM ANALYZE encounter")
    return time.monotonic() - started


def _drop_secondary_indexes(conn: Any, tables: tuple[str, ...]) -> list[tuple[str, str]]:
    """Drop the tables' plain indexes (not primary keys or unique constraints), returning their
    definitions for the rebuild."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.tablename = ANY(%s) AND NOT x.indisprimary AND NOT x.indisunique",
        (list(tables),)).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    return [(r[0], r[1]) for r in rows]


# --- what clerks type -------------------------------------------------------------------------------

def _typo(word: str, rng: random.Random) -> str:
    """One slip: two neighbouring letters swapped, or one dropped (never the first letter)."""
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.6:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word[:i] + word[i + 1:]


def build_queries(conninfo: str, per_kind: int, rng: random.Random) -> dict[str, list[str]]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        lo, hi = conn.execute("SELECT min(id), max(id) FROM patient").fetchone()
        ids = [rng.randint(lo, hi) for _ in range(per_kind * 6)]
        people = conn.execute(
            "SELECT mrn, family_name, given_names, birth_date, phone, family_norm FROM patient "
            "WHERE id = ANY(%s)", (ids,)).fetchall()
        common, count = conn.execute(
            "SELECT family_name, count(*) FROM patient GROUP BY family_name "
            "ORDER BY 2 DESC LIMIT 1").fetchone()
        givens = [r[0] for r in conn.execute(
            "SELECT given_names FROM patient WHERE family_name = %s LIMIT 50", (common,))]

        def exists_prefix(norm: str) -> bool:
            return conn.execute(
                "SELECT 1 FROM patient WHERE family_norm >= %s AND family_norm < %s LIMIT 1",
                (norm, norm + "\U0010ffff")).fetchone() is not None

        from app.domain.patients import rules

        typos: list[str] = []
        for _mrn, family, given, _born, _phone, _fnorm in people:
            if len(typos) >= per_kind * 2:
                break
            if not family.isascii() or len(family) < 5 or " " in family:
                continue
            typo = _typo(family, rng)
            if exists_prefix(rules.normalise_name(typo)):
                continue
            typos.append(typo if rng.random() < 0.5 else f"{given.split()[0]} {typo}")
    print(f"  most common surname: {common} ({count:,} patients)", file=sys.stderr)
    pick = people[: per_kind * 2]
    queries: dict[str, list[str]] = {
        "mrn": [p[0] for p in pick],
        "name_prefix": [
            (p[1][: rng.randint(3, max(3, len(p[1])))] if rng.random() < 0.7
             else f"{p[1]}, {p[2][: rng.randint(1, 3)]}") for p in pick],
        "name_prefix_common": [rng.choice([
            common[:1], common[:2], common[:3], common[:4], common, f"{common}, {g[:1]}",
            f"{g.split()[0]} {common}"]) for g in rng.choices(givens, k=per_kind * 2)],
        "name_dob": [
            f"{p[1]} {p[3].strftime('%d/%m/%Y') if rng.random() < 0.5 else p[3].isoformat()}"
            for p in pick],
        "typo": typos,
        "phone": [f"{p[4][:5]} {p[4][5:]}" for p in pick if p[4]],
    }
    return queries


# --- measuring: the floor and the service, in client processes --------------------------------------

_WORKER: dict[str, Any] = {}


def _worker_init(database_url: str) -> None:
    from app import create_app

    app = create_app("test", DATABASE_URL=database_url, RATELIMIT_STORAGE_URI="memory://")
    _WORKER["app"] = app
    _WORKER["ctx"] = app.app_context()
    _WORKER["ctx"].push()
    import psycopg

    _WORKER["raw"] = psycopg.connect(_conninfo(database_url), autocommit=True)


def _worker_run(jobs: list[tuple[str, str, list[tuple[str, Any]]]]) -> list[tuple[str, str, float]]:
    """(way, kind, ms) for each job: the captured SQL replayed raw, then the service."""
    from sqlalchemy import text as text_

    from app.core.security import ROLES, SystemActor
    from app.domain.patients import search
    from app.extensions import db

    raw = _WORKER["raw"]
    # A reception clerk's permissions (the HTTP figures include loading the real user).
    clerk = SystemActor("bench clerk", ROLES["reception"])
    out: list[tuple[str, str, float]] = []
    for kind, text, statements in jobs:
        t = time.perf_counter()
        with raw.cursor() as cur:
            for sql, params in statements:
                cur.execute(sql, params)
                cur.fetchall()
        out.append(("floor", kind, (time.perf_counter() - t) * 1000))
        # As in a request: the sign-in checks have already opened the transaction (pool
        # checkout, ping, BEGIN); the search's own statements and work are what is timed.
        db.session.execute(text_("SELECT 1"))
        t = time.perf_counter()
        search.search_patients(db.session, clerk, text)
        out.append(("value", kind, (time.perf_counter() - t) * 1000))
        db.session.rollback()
        db.session.expunge_all()
    return out


def _conninfo(sqlalchemy_url: str) -> str:
    return re.sub(r"^postgresql\+psycopg://", "postgresql://", sqlalchemy_url)


def capture(app: Any, queries: dict[str, list[str]]) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    """Run each query once through the service (a warm-up), keeping the statements it issued.
    Typo queries the exact search answers are dropped: they are not the typo-tolerant path."""
    from sqlalchemy import event

    from app.core.security import ROLES, SystemActor
    from app.domain.patients import search
    from app.extensions import db

    jobs = []
    with app.app_context():
        clerk = SystemActor("bench clerk", ROLES["reception"])
        engine = db.engine
        seen: list[tuple[str, Any]] = []

        def record(conn: Any, cursor: Any, sql: str, params: Any, context: Any, many: bool) -> None:
            seen.append((sql, params))

        event.listen(engine, "before_cursor_execute", record)
        try:
            for kind, texts in queries.items():
                for text in texts:
                    db.session.rollback()
                    seen.clear()
                    result = search.search_patients(db.session, clerk, text)
                    if kind == "typo" and not result.fuzzy:
                        continue
                    if kind != "typo" and result.fuzzy:
                        continue
                    statements = [s for s in seen if s[0].lstrip().upper().startswith(("SELECT", "WITH", "(SELECT"))]
                    jobs.append((kind, text, list(statements)))
                    db.session.expunge_all()
        finally:
            event.remove(engine, "before_cursor_execute", record)
            db.session.remove()
    return jobs


def measure_in_process(database_url: str, jobs: list[Any], per_kind: int,
                       rng: random.Random) -> dict[tuple[str, str], list[float]]:
    by_kind: dict[str, list[Any]] = defaultdict(list)
    for job in jobs:
        by_kind[job[0]].append(job)
    chosen = [j for kind in KINDS for j in by_kind[kind][:per_kind]]
    rng.shuffle(chosen)  # kinds interleaved: background load weighs on all alike
    shares = [chosen[i::CLIENTS] for i in range(CLIENTS)]
    print(f"  1-min load average {os.getloadavg()[0]:.1f} before the SQL and service phase",
          file=sys.stderr)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(CLIENTS, initializer=_worker_init, initargs=(database_url,)) as pool:
        # A first, unmeasured pass warms each client's connections and caches.
        pool.map(_worker_run, [s[:20] for s in shares])
        results = pool.map(_worker_run, shares)
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for part in results:
        for way, kind, ms in part:
            samples[(way, kind)].append(ms)
    return samples


# --- the HTMX endpoint under gunicorn -----------------------------------------------------------------

def measure_http(bases: list[str], jobs: list[Any], per_kind: int, rng: random.Random
                 ) -> tuple[dict[str, list[float]], dict[int, int]]:
    import requests

    by_kind: dict[str, list[Any]] = defaultdict(list)
    for job in jobs:
        by_kind[job[0]].append(job)
    chosen = [(k, t) for kind in KINDS for k, t, _ in by_kind[kind][:per_kind]]
    rng.shuffle(chosen)
    shares = [chosen[i::CLIENTS] for i in range(CLIENTS)]
    samples: dict[str, list[float]] = defaultdict(list)
    statuses: dict[int, int] = defaultdict(int)
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    failures: list[BaseException] = []

    def client(i: int, share: list[tuple[str, str]]) -> None:
        try:
            _client(i, share)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            failures.append(exc)
            start.abort()

    def _client(i: int, share: list[tuple[str, str]]) -> None:
        base = bases[i % len(bases)]
        http = requests.Session()
        page = http.get(base + "/login", timeout=30).text
        token = re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert token is not None
        # One account per client: a clerk signs in at one desk at a time.
        signed = http.post(base + "/login", data={"username": f"{BENCH_USER}{i}", "password": BENCH_PASSWORD},
                           headers={"X-CSRFToken": token.group(1)}, allow_redirects=False, timeout=30)
        assert signed.status_code == 303, signed.status_code
        headers = {"HX-Request": "true", "HX-Current-URL": base + "/patients/"}
        for _, text in share[:20]:  # warm-up
            http.get(base + "/patients/", params={"q": text}, headers=headers, timeout=30)
        start.wait(timeout=300)
        for kind, text in share:
            t = time.perf_counter()
            r = http.get(base + "/patients/", params={"q": text}, headers=headers, timeout=30)
            ms = (time.perf_counter() - t) * 1000
            with lock:
                samples[kind].append(ms)
                statuses[r.status_code] += 1

    threads = [threading.Thread(target=client, args=(i, s)) for i, s in enumerate(shares)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=1800)
    if failures:
        raise RuntimeError(f"HTTP client failed: {failures[0]!r}") from failures[0]
    return samples, statuses


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


# --- the run ---------------------------------------------------------------------------------------------

def _ensure_database(services: Any, given: bool, n: int) -> str:
    if not given:
        return str(services.database_url)
    from sqlalchemy import create_engine, text

    server = services.database_url.rpartition("/")[0]
    name = f"bench_search_{n}"
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{server}/{name}"


def main() -> int:
    global CLIENTS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--patients", type=int, help="how many patients (default: by scale)")
    parser.add_argument("--queries", type=int, help="measured queries per kind and way")
    parser.add_argument("--clients", type=int, default=CLIENTS,
                        help=f"concurrent clients (default {CLIENTS}; 1 shows the cost without queueing)")
    args = parser.parse_args()
    CLIENTS = args.clients
    # A SIGTERM (a timeout) unwinds like Ctrl-C, so the servers started below are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    n = args.patients or SCALES[args.scale]
    per_kind = args.queries or QUERIES[args.scale]

    from tests.deploy import procs

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    tmp = Path(tempfile.mkdtemp(prefix="infirmary-bench-search-"))
    log(f"search: {n:,} patients, {per_kind} queries per kind, {CLIENTS} clients; logs in {tmp}")
    rng = random.Random(4)
    figures: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        given = bool(os.environ.get("DATABASE_URL"))
        services = stack.enter_context(procs.database_and_redis(
            os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")))
        database_url = _ensure_database(services, given, n)
        from flask_migrate import upgrade
        from sqlalchemy import func, select

        from app import create_app
        from app.core.security import SYSTEM
        from app.domain.identity import services as identity
        from app.domain.identity.models import User
        from app.domain.patients.models import Patient
        from app.extensions import db

        app = create_app("test", DATABASE_URL=database_url, RATELIMIT_STORAGE_URI="memory://")
        with app.app_context():
            upgrade()
            have = db.session.scalar(select(func.count()).select_from(Patient)) or 0
            db.session.remove()
        seed_seconds = None
        if have != n:
            seed_seconds = seed(_conninfo(database_url), n, log)
            log(f"  seeded in {seed_seconds:.0f} s")
        else:
            log(f"  reusing {have:,} patients already seeded")
        with app.app_context():
            for i in range(CLIENTS):
                if db.session.scalar(select(User).where(User.username == f"{BENCH_USER}{i}")) is None:
                    identity.create_user(db.session, SYSTEM, username=f"{BENCH_USER}{i}",
                                         full_name=f"Bench Clerk {i}", roles=["reception"],
                                         password=BENCH_PASSWORD)
            db.session.commit()
            db.session.remove()

        queries = build_queries(_conninfo(database_url), per_kind, rng)
        jobs = capture(app, queries)
        counts = defaultdict(int)
        for kind, _, _ in jobs:
            counts[kind] += 1
        log(f"  queries per kind: {dict(counts)}")
        with app.app_context():
            db.engine.dispose()

        samples = measure_in_process(database_url, jobs, per_kind, rng)

        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("TEST_", "FLASK_", "INFIRMARY_", "GUNICORN_", "SOCKETIO_"))}
        env.update(INFIRMARY_ENV="production", DATABASE_URL=database_url, REDIS_URL=services.redis_url,
                   SECRET_KEY=secrets.token_hex(32), AUDIT_KEY=secrets.token_hex(32),
                   INFIRMARY_INSTANCE=str(tmp / "instance"), SESSION_COOKIE_SECURE="0",
                   SOCKETIO_CHANNEL=f"bench-search-{secrets.token_hex(4)}", GUNICORN_THREADS="16",
                   GUNICORN_LOG_LEVEL="warning", PYTHONPATH=str(ROOT))
        # As deployed (docs/deploy.md): one worker process per gunicorn instance, scaled out by
        # instances; two here, one per core, the clients alternating between them.
        bases = []
        for i in range(WEB_INSTANCES):
            port = procs.free_port()
            web = procs.Proc(f"web{i}", [str(procs.VENV_BIN / "gunicorn"), "-c",
                                         str(ROOT / "gunicorn.conf.py"), "wsgi:app"],
                             {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}, tmp / f"web{i}.log").start()
            stack.callback(web.stop)
            bases.append(f"http://127.0.0.1:{port}")
            procs.wait_http_ok(bases[-1] + "/healthz", 120, f"gunicorn {i} /healthz", web)
        load = os.getloadavg()[0]
        http, statuses = measure_http(bases, jobs, per_kind, rng)
        log(f"  1-min load average {load:.1f} before the HTTP phase, {os.getloadavg()[0]:.1f} after")
        log(f"  HTTP statuses: {dict(statuses)}")

    for kind in KINDS:
        value, floor, web_ms = samples[("value", kind)], samples[("floor", kind)], http[kind]
        if not value:
            continue
        for pct in (50, 95):
            figures[f"{kind}_p{pct}"] = {
                "value": round(percentile(value, pct), 2), "unit": "ms",
                "target": TARGETS_MS[kind] if pct == 95 else None,
                "floor": round(percentile(floor, pct), 2)}
        figures[f"htmx_{kind}_p95"] = {
            "value": round(percentile(web_ms, 95), 2), "unit": "ms", "target": HTMX_TARGET_MS,
            "floor": round(percentile(floor, 95), 2)}
        log(f"  {kind:20s} service p50 {percentile(value, 50):6.2f} p95 {percentile(value, 95):6.2f} | "
            f"floor p50 {percentile(floor, 50):6.2f} p95 {percentile(floor, 95):6.2f} | "
            f"htmx p50 {percentile(web_ms, 50):6.2f} p95 {percentile(web_ms, 95):6.2f}  "
            f"(n={len(value)}/{len(web_ms)}, mean {statistics.fmean(value):.2f})")
    all_web = [ms for kind in KINDS for ms in http[kind]]
    figures["htmx_all_p95"] = {"value": round(percentile(all_web, 95), 2), "unit": "ms",
                               "target": HTMX_TARGET_MS, "floor": None}
    if seed_seconds is not None:
        figures["seed_time"] = {"value": round(seed_seconds, 1), "unit": "s", "target": None,
                                "floor": None}
    scale = args.scale if not args.patients else f"{n}"
    if CLIENTS != 4:
        scale += f", {CLIENTS} client{'s' if CLIENTS > 1 else ''}"
    print(json.dumps({"bench": "search", "scale": scale, "figures": figures}))
    ok = statuses.keys() <= {200}
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
