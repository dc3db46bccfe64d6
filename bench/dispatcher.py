"""Dispatcher benchmark: how fast due rows are delivered, and how late.

    .venv/bin/python bench/dispatcher.py [--scale small|full]

Real servers and processes: PostgreSQL, Redis, one `flask scheduler` and two `flask worker`
processes (RQ SimpleWorker), as in production. DATABASE_URL and REDIS_URL are used when both are
set (migrations are applied; only rows of this benchmark's kind and its own `bench_floor` table
are touched; no other worker should be serving that Redis); otherwise throwaway servers are
started with scripts/services.sh and removed afterwards.

Two phases, each on `rows` due rows (10,000 full; 1,000 small):
- lateness: rows due evenly at RATE = 100 rows/s (10,000 rows over 100 s; far above a hospital's
  reminder and dose load), the first LEAD_SECONDS after they are written; lateness =
  finished_at - due_at (p50, p99);
- throughput: rows all due at once; rows / (last finished_at - first enqueued_at).

The floor is the same work without Infirmary, measured in the same run on the same servers: a
raw psycopg claim (UPDATE ... FOR UPDATE SKIP LOCKED) polled at the same interval, RQ
enqueue_many of one job per row, and two plain `rq worker` processes whose job marks the row done
with one UPDATE.

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KIND = "bench.noop"
FLOOR_QUEUE = "bench-floor"
SCALES = {"small": 1_000, "full": 10_000}
RATE = 100.0  # rows per second in the lateness phase
LEAD_SECONDS = 1.5  # the first row falls due this long after the rows are written
APP = "bench.dispatcher:bench_app()"


# --- code run inside the worker processes (kept light: rq imports this module) ------------------

def _noop(session: Any, payload: dict[str, Any]) -> None:
    return None


def bench_app() -> Any:
    """The app factory for `flask --app`: registers the benchmark's handler, then builds the app
    from the environment exactly as wsgi.py does."""
    from app import create_app
    from app.core.jobs import handler

    handler(KIND)(_noop)
    return create_app()


_floor_conn: Any = None


def floor_job(row_id: int) -> None:
    """The floor's delivery: mark the row done, once, in one statement."""
    global _floor_conn
    import psycopg

    if _floor_conn is None:
        _floor_conn = psycopg.connect(os.environ["BENCH_PG_DSN"], autocommit=True)
    _floor_conn.execute(
        "UPDATE bench_floor SET status = 'done', finished_at = clock_timestamp() "
        "WHERE id = %s AND status IN ('pending', 'enqueued')", (row_id,))


# --- helpers ---------------------------------------------------------------------------------

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def wait_for(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


@contextmanager
def services() -> Iterator[tuple[str, str]]:
    """(database URL, redis URL): the environment's, or throwaway ones from scripts/services.sh."""
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        yield os.environ["DATABASE_URL"], os.environ["REDIS_URL"]
        return
    workdir = tempfile.mkdtemp(prefix="infirmary-bench-")
    try:
        out = subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "start", workdir],
                             check=True, capture_output=True, text=True, timeout=180).stdout
        env = {}
        for line in out.splitlines():
            for item in line.removeprefix("export ").split():
                key, _, value = item.partition("=")
                env[key] = value
        yield env["TEST_DATABASE_URL"], env["TEST_REDIS_URL"]
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/services.sh"), "stop", workdir],
                       check=False, capture_output=True, timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)


class Processes:
    """Child processes, each in its own process group; all stopped on exit, whatever happens."""

    def __init__(self, logdir: Path, env: dict[str, str]) -> None:
        self.logdir = logdir
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        with open(self.logdir / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each child (Linux /proc), for the log."""
        tick = os.sysconf("SC_CLK_TCK")
        used = {}
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                used[Path(str(proc.args[-1])).name + f"/{proc.pid}"] = (int(fields[11]) + int(fields[12])) / tick
            except (OSError, IndexError, ValueError):
                continue
        return used

    def check(self) -> None:
        for proc in self.procs:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args} exited with {proc.returncode}; logs in {self.logdir}")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs = []


def due_times(rows: int, spread: bool) -> list[datetime]:
    start = datetime.now(UTC) + timedelta(seconds=LEAD_SECONDS if spread else 0)
    if not spread:
        return [start] * rows
    step = 1.0 / RATE
    return [start + timedelta(seconds=i * step) for i in range(rows)]


def figures_from(rows: list[tuple[datetime, datetime, datetime]]) -> dict[str, float]:
    """rows: (due_at, enqueued_at, finished_at)."""
    late = [(finished - due).total_seconds() for due, _, finished in rows]
    span = (max(f for _, _, f in rows) - min(e for _, e, _ in rows)).total_seconds()
    return {"p50": percentile(late, 50), "p99": percentile(late, 99),
            "throughput": len(rows) / span if span > 0 else float("inf")}


# --- Infirmary ---------------------------------------------------------------------------------

class Infirmary:
    def __init__(self, database_url: str, redis_url: str) -> None:
        from flask_migrate import upgrade

        from app.extensions import db

        self.app = bench_app()
        self.db = db
        with self.app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            self._clear()
            db.session.remove()

    def _clear(self) -> None:
        from sqlalchemy import delete

        from app.core.jobs import DueJob

        self.db.session.execute(delete(DueJob).where(DueJob.kind == KIND))
        self.db.session.commit()

    def clear(self) -> None:
        with self.app.app_context():
            self._clear()
            self.db.session.remove()

    def ready(self) -> bool:
        from app.core.jobs import PeriodicJobState

        with self.app.app_context():
            try:
                state = self.db.session.get(PeriodicJobState, "dispatch-due")
                return bool(state and state.last_finished_at)
            finally:
                self.db.session.remove()

    def insert(self, when: list[datetime]) -> None:
        from sqlalchemy import insert

        from app.core.jobs import DueJob

        now = datetime.now(UTC)
        values = [{"kind": KIND, "payload": "{}", "queue": "default", "due_at": due, "status": "pending",
                   "attempts": 0, "max_attempts": 4, "created_at": now} for due in when]
        with self.app.app_context():
            for i in range(0, len(values), 2000):
                self.db.session.execute(insert(DueJob), values[i:i + 2000])
            self.db.session.commit()
            self.db.session.remove()

    def done(self) -> int:
        from sqlalchemy import func, select

        from app.core.jobs import DueJob

        with self.app.app_context():
            try:
                return int(self.db.session.scalar(
                    select(func.count()).where(DueJob.kind == KIND, DueJob.status == "done")) or 0)
            finally:
                self.db.session.remove()

    def results(self) -> list[tuple[datetime, datetime, datetime]]:
        from sqlalchemy import select

        from app.core.jobs import DueJob

        with self.app.app_context():
            try:
                return [tuple(r) for r in self.db.session.execute(  # type: ignore[misc]
                    select(DueJob.due_at, DueJob.enqueued_at, DueJob.finished_at)
                    .where(DueJob.kind == KIND)).all()]
            finally:
                self.db.session.remove()

    def dispose(self) -> None:
        with self.app.app_context():
            self.db.engine.dispose()


# --- the floor: the same work without Infirmary ---------------------------------------------

CLAIM_SQL = """
UPDATE bench_floor SET status = 'enqueued', enqueued_at = clock_timestamp()
WHERE id IN (SELECT id FROM bench_floor WHERE status = 'pending' AND due_at <= clock_timestamp()
             ORDER BY due_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


class Floor:
    def __init__(self, dsn: str, redis_url: str, interval: float) -> None:
        import psycopg
        import redis

        self.dsn = dsn
        self.interval = interval
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.conn.execute("DROP TABLE IF EXISTS bench_floor")
        self.conn.execute(
            "CREATE TABLE bench_floor (id BIGSERIAL PRIMARY KEY, due_at TIMESTAMPTZ NOT NULL, "
            "status VARCHAR(12) NOT NULL DEFAULT 'pending', enqueued_at TIMESTAMPTZ, finished_at TIMESTAMPTZ)")
        self.conn.execute("CREATE INDEX ix_bench_floor_status_due ON bench_floor (status, due_at)")
        self.redis = redis.Redis.from_url(redis_url)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._dispatch_loop, daemon=True)

    def _dispatch_loop(self) -> None:
        import psycopg
        from rq import Queue

        queue = Queue(FLOOR_QUEUE, connection=self.redis)
        with psycopg.connect(self.dsn) as conn:
            while not self.stopping.is_set():
                started = time.monotonic()
                with conn.transaction():
                    ids = [r[0] for r in conn.execute(CLAIM_SQL)]
                    if ids:
                        queue.enqueue_many([
                            Queue.prepare_data("bench.dispatcher.floor_job", args=(i,), job_id=f"floor-{i}",
                                               result_ttl=3600, failure_ttl=86400)
                            for i in ids
                        ])
                if len(ids) < 1000:
                    self.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.conn.closed:
            return
        self.stopping.set()
        if self.thread.is_alive():
            self.thread.join(timeout=30)
        self.conn.execute("DROP TABLE IF EXISTS bench_floor")
        self.conn.close()
        self.redis.close()

    def clear(self) -> None:
        self.conn.execute("DELETE FROM bench_floor")

    def insert(self, when: list[datetime]) -> None:
        with self.conn.cursor() as cur, cur.copy("COPY bench_floor (due_at) FROM STDIN") as copy:
            for due in when:
                copy.write_row((due,))

    def done(self) -> int:
        row = self.conn.execute("SELECT count(*) FROM bench_floor WHERE status = 'done'").fetchone()
        return int(row[0]) if row else 0

    def results(self) -> list[tuple[datetime, datetime, datetime]]:
        return [tuple(r) for r in self.conn.execute(  # type: ignore[misc]
            "SELECT due_at, enqueued_at, finished_at FROM bench_floor")]


# --- the run -----------------------------------------------------------------------------------

def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def workers(redis_url: str) -> int:
    import redis
    from rq import Worker

    conn = redis.Redis.from_url(redis_url)
    try:
        return int(Worker.count(connection=conn))
    finally:
        conn.close()


def measure(target: Any, procs: Processes, rows: int, spread: bool, label: str) -> dict[str, float]:
    target.clear()
    target.insert(due_times(rows, spread))
    budget = (rows / RATE if spread else 0) + LEAD_SECONDS + max(60.0, rows / 20)
    started = time.monotonic()
    cpu_before, busy_before = procs.cpu(), machine_busy()

    def finished() -> bool:
        procs.check()
        return bool(target.done() >= rows)

    wait_for(finished, budget, f"{label}: {rows} rows delivered", interval=0.25)
    figures = figures_from(target.results())
    cpu_after, busy_after = procs.cpu(), machine_busy()
    spent = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 1) for name in cpu_after}
    log(f"{label}: CPU seconds by process {spent}; whole machine {busy_after - busy_before:.1f}")
    log(f"{label}: {rows} rows in {time.monotonic() - started:.1f}s; lateness p50 {figures['p50']:.3f}s "
        f"p99 {figures['p99']:.3f}s; throughput {figures['throughput']:.0f} rows/s")
    return figures


def run(scale: str) -> dict[str, Any]:
    rows = SCALES[scale]
    with services() as (database_url, redis_url):
        logdir = Path(tempfile.mkdtemp(prefix="infirmary-bench-logs-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
        env.update({
            "INFIRMARY_ENV": "production",
            "SECRET_KEY": secrets.token_hex(32),
            "AUDIT_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "INFIRMARY_INSTANCE": str(logdir / "instance"),
            "BENCH_PG_DSN": database_url.replace("postgresql+psycopg://", "postgresql://"),
        })
        os.environ.update({k: env[k] for k in ("INFIRMARY_ENV", "SECRET_KEY", "AUDIT_KEY", "DATABASE_URL",
                                                "REDIS_URL", "INFIRMARY_INSTANCE")})
        infirmary = Infirmary(database_url, redis_url)
        # The scheduler's pass interval as configured (SCHEDULER_INTERVAL_SECONDS); the floor's
        # claim loop polls at the same interval.
        interval = float(infirmary.app.config["SCHEDULER_INTERVAL_SECONDS"])
        env["SCHEDULER_INTERVAL_SECONDS"] = str(interval)
        log(f"{rows} rows; lateness phase at {RATE:.0f} rows/s; scheduler interval {interval:g}s")
        procs = Processes(logdir, env)
        floor = Floor(env["BENCH_PG_DSN"], redis_url, interval)
        ok = False
        try:
            # Everything boots at once, then idles while the other side is measured: the floor's
            # two plain RQ workers, Infirmary's two workers and its scheduler.
            for n in (1, 2):
                procs.start(f"rq-worker-{n}", [str(Path(sys.executable).parent / "rq"), "worker", "-w",
                                               "rq.worker.SimpleWorker", "-u", redis_url, "--path", str(ROOT),
                                               "--logging_level", "WARNING", FLOOR_QUEUE])
            flask = [sys.executable, "-m", "flask", "--app", APP]
            for n in (1, 2):
                procs.start(f"worker-{n}", [*flask, "worker"])
            procs.start("scheduler", [*flask, "scheduler"])
            wait_for(lambda: procs.check() is None and infirmary.ready() and workers(redis_url) >= 4,
                     120, "four workers and the scheduler's first pass")

            # Each side polls its own (empty) table while the other is measured. Floor and
            # Infirmary phases alternate, so a change in the machine's other load (a shared
            # machine) falls on both alike as far as possible.
            floor.start()
            floor_late = measure(floor, procs, rows, spread=True, label="floor lateness")
            late = measure(infirmary, procs, rows, spread=True, label="infirmary lateness")
            floor_burst = measure(floor, procs, rows, spread=False, label="floor throughput")
            burst = measure(infirmary, procs, rows, spread=False, label="infirmary throughput")
            floor.clear()
            infirmary.clear()
            ok = True
        finally:
            procs.stop_all()
            floor.stop()
            infirmary.dispose()
            if ok:
                shutil.rmtree(logdir, ignore_errors=True)
            else:
                log(f"logs kept in {logdir}")

    return {
        "bench": "dispatcher",
        "scale": scale,
        "figures": {
            "throughput": {"value": round(burst["throughput"], 1), "unit": "rows/s", "target": None,
                           "floor": round(floor_burst["throughput"], 1), "better": "higher"},
            "lateness_p50": {"value": round(late["p50"], 3), "unit": "s", "target": None,
                             "floor": round(floor_late["p50"], 3), "better": "lower"},
            "lateness_p99": {"value": round(late["p99"], 3), "unit": "s", "target": 2,
                             "floor": round(floor_late["p99"], 3), "better": "lower"},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    args = parser.parse_args()
    result = run(args.scale)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
