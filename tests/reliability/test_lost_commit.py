"""A dispatcher pass whose commit is lost leaves the rows pending with their jobs already on the
queue: the next pass claims them again and must not enqueue a second job for any of them."""

from __future__ import annotations

import signal
from pathlib import Path

from rq import SimpleWorker
from sqlalchemy import select, text

from app.core import jobs
from app.core.jobs import DueJob
from app.extensions import db
from tests.reliability.conftest import Databases
from tests.reliability.servers import RedisServer, build_app, dispose_app, isolated_extensions
from tests.reliability.support import KIND, MARKER_DDL

ROWS = 5


def test_redispatch_after_a_lost_commit_enqueues_no_duplicate(
    tmp_path: Path, databases: Databases, redis_server: RedisServer
) -> None:
    database_url = databases.create("lost_commit")
    with isolated_extensions():
        app = build_app(tmp_path, database_url, redis_server.url)
        try:
            with app.app_context():
                session = db.session
                session.execute(text(MARKER_DDL))
                ids = [jobs.schedule(session, KIND, {"key": i}).id for i in range(ROWS)]
                session.commit()
                assert sorted(jobs.dispatch(session)) == ids
                session.rollback()  # the commit never happened: the rows are still pending
                assert set(session.scalars(select(DueJob.status))) == {"pending"}
                connection = jobs.redis_connection()
                queue = jobs.rq_queue("default", connection)
                assert sorted(queue.job_ids) == sorted(f"due-{i}" for i in ids)

                assert sorted(jobs.dispatch(session)) == ids  # claimed again...
                session.commit()
                assert sorted(queue.job_ids) == sorted(f"due-{i}" for i in ids)  # ...not enqueued again

                handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
                try:
                    SimpleWorker([queue], connection=connection).work(burst=True, logging_level="WARNING")
                finally:  # the worker installs its own; pytest's come back
                    for sig, previous in handlers.items():
                        signal.signal(sig, previous)
                session.expire_all()
                assert set(session.scalars(select(DueJob.status))) == {"done"}
                per_row = dict(session.execute(
                    text("SELECT row_key, count(*) FROM reliability_marker GROUP BY row_key")).all())
                assert per_row == dict.fromkeys(range(ROWS), 1)
                session.remove()
        finally:
            dispose_app(app)
