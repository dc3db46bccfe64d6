"""A worker killed with SIGKILL mid-job loses no due row and delivers no row twice.

Real processes throughout: PostgreSQL, a redis-server, and `flask worker` subprocesses running
RQ. The test process plays the scheduler (tick) and the stale-row sweeper.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from app.core import clock, jobs
from app.core.jobs import DueJob
from app.extensions import db
from app.jobs.runner import tick
from tests.reliability.conftest import Databases
from tests.reliability.servers import (
    RedisServer,
    Worker,
    build_app,
    dispose_app,
    isolated_extensions,
    wait_until,
)
from tests.reliability.support import KIND, MARKER_DDL

ROWS = 8
HELD = 3  # rows 0-2 are delivered by the first worker, 3 is held when it is killed, 4-7 queued


def _markers(app) -> dict[int, list[int]]:
    """row key -> pids of the workers that delivered it (committed deliveries only)."""
    with app.app_context():
        try:
            found: dict[int, list[int]] = {}
            for key, pid in db.session.execute(text("SELECT row_key, pid FROM reliability_marker ORDER BY id")):
                found.setdefault(key, []).append(pid)
            return found
        finally:
            db.session.remove()


def _statuses(app) -> dict[int, str]:
    with app.app_context():
        try:
            return {row.id: row.status for row in db.session.scalars(select(DueJob).where(DueJob.kind == KIND))}
        finally:
            db.session.remove()


def _sweep_and_tick(app) -> None:
    """One scheduler pass, with the stale-row sweep that production runs every minute."""
    with app.app_context():
        try:
            jobs.sweep_stale(db.session)
            db.session.commit()
        finally:
            db.session.remove()
    tick(app)


def test_sigkill_mid_job_loses_nothing_and_delivers_once(
    tmp_path: Path, databases: Databases, redis_server: RedisServer
) -> None:
    database_url = databases.create("kill")
    gate = tmp_path / "gate"
    gate.mkdir()
    workers: list[Worker] = []
    with isolated_extensions():
        app = build_app(tmp_path, database_url, redis_server.url, JOB_STALE_SECONDS=2, JOB_TIMEOUT_SECONDS=30)
        try:
            with app.app_context():
                db.session.execute(text(MARKER_DDL))
                start = clock.now() - timedelta(minutes=1)
                ids = [
                    jobs.schedule(db.session, KIND, {"key": i, "hold": str(gate) if i == HELD else None},
                                  due_at=start + timedelta(seconds=i)).id
                    for i in range(ROWS)
                ]
                db.session.commit()
                db.session.remove()
            counts = tick(app)
            assert counts["dispatched"] == ROWS
            assert set(_statuses(app).values()) == {"enqueued"}

            first = Worker(tmp_path, database_url, redis_server.url, "worker-1")
            workers.append(first)
            wait_until(lambda: (gate / f"started-{HELD}").exists() or first.proc.poll() is not None,
                       60, "the first worker to start the held job")
            assert first.proc.poll() is None, first.output()
            first.kill()

            # The held row's marker was written but never committed: nothing of it survives,
            # and the row is still owed. Rows before it were delivered, once each.
            delivered = _markers(app)
            assert delivered == {i: [first.pid] for i in range(HELD)}, first.output()
            statuses = _statuses(app)
            assert [statuses[ids[i]] for i in range(ROWS)] == ["done"] * HELD + ["enqueued"] * (ROWS - HELD)

            (gate / "release").touch()
            second = Worker(tmp_path, database_url, redis_server.url, "worker-2")
            workers.append(second)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                _sweep_and_tick(app)
                if set(_statuses(app).values()) == {"done"}:
                    break
                assert second.proc.poll() is None, second.output()
                time.sleep(0.5)

            statuses = _statuses(app)
            assert statuses == dict.fromkeys(ids, "done"), second.output()
            delivered = _markers(app)
            assert sorted(delivered) == list(range(ROWS))
            assert {key: len(pids) for key, pids in delivered.items()} == dict.fromkeys(range(ROWS), 1)
            assert delivered[HELD] == [second.pid]
            with app.app_context():
                attempts = db.session.scalar(select(func.max(DueJob.attempts)).where(DueJob.kind == KIND))
                db.session.remove()
            assert attempts == 1  # the killed attempt left no trace, not even a failure
        finally:
            for worker in workers:
                worker.stop()
            dispose_app(app)
