"""The harness the database benchmarks share: the --scale argument, and a throwaway PostgreSQL
server holding one freshly migrated database with the app pointed at it (disposed at the end)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.duplicates import create_database, server  # noqa: E402


def parse_scale(doc: str | None, scales: Mapping[str, Any]) -> str:
    """The --scale the benchmark was run with (small by default: under a minute)."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--scale", choices=sorted(scales), default="small")
    return str(parser.parse_args().scale)


@contextmanager
def migrated_app(db_name: str) -> Iterator[tuple[Any, str]]:
    """(app, database url): a throwaway server, a database migrated to head, the app on it. The
    app's engine is disposed before the server goes."""
    from flask_migrate import upgrade

    from app import create_app

    with server() as base, tempfile.TemporaryDirectory() as tmp:
        url = create_database(base, db_name)
        app = create_app("test", DATABASE_URL=url, INSTANCE_PATH=str(Path(tmp) / "instance"))
        with app.app_context():
            upgrade()
        try:
            yield app, url
        finally:
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
