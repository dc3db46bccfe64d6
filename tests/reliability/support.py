"""A due-row handler for the reliability tests, importable by a `flask worker` subprocess.

The worker is started as `flask --app "tests.reliability.support:worker_app()" worker`: importing
this module registers the handler in that process, then the factory builds the app from the
environment exactly as wsgi.py does. Nothing in app/ knows about it.

Delivery writes one row into `reliability_marker` inside the delivery's transaction, so a row
delivered twice shows up as two markers. A payload with `hold` blocks after writing its marker
(uncommitted) until a release file appears, so a test can kill the worker mid-job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import text

from app.core.db import DbSession
from app.core.jobs import handler

KIND = "reliability.mark"
HOLD_SECONDS = 60

MARKER_DDL = (
    "CREATE TABLE reliability_marker ("
    " id SERIAL PRIMARY KEY, row_key INTEGER NOT NULL, pid INTEGER NOT NULL,"
    " at TIMESTAMPTZ NOT NULL DEFAULT now())"
)


@handler(KIND)
def mark(session: DbSession, payload: dict[str, Any]) -> None:
    session.execute(text("INSERT INTO reliability_marker (row_key, pid) VALUES (:key, :pid)"),
                    {"key": int(payload["key"]), "pid": os.getpid()})
    hold = payload.get("hold")
    if hold:
        gate = Path(hold)
        if not (gate / "release").exists():
            (gate / f"started-{payload['key']}").write_text(str(os.getpid()))
            deadline = time.monotonic() + HOLD_SECONDS
            while not (gate / "release").exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("held job was never released")
                time.sleep(0.05)


def worker_app() -> Flask:
    from app import create_app

    return create_app()
