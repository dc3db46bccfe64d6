"""Command-line entry points for IT staff: flask users|audit|demo ..."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from app.core import audit as audit_trail
from app.core.security import SystemActor
from app.extensions import db

users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="Check the audit trail.")
demo_cli = AppGroup("demo", help="Demo data for the embedded default.")
pharmacy_cli = AppGroup("pharmacy", help="Pharmacy: the formulary.")

INSTALLER = SystemActor("installer (flask users create-admin)")


@users_cli.command("create-admin")
@click.option("--username", prompt=True, default="admin", show_default=True)
@click.option("--full-name", prompt=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_admin(username: str, full_name: str, password: str) -> None:
    """Create the first administrator (first install)."""
    from app.core.errors import DomainError
    from app.domain.identity import services as identity

    placeholder = identity.User(username=username.lower(), full_name=full_name, password_hash="")
    problem = identity.password_problem(password, placeholder)
    if problem:
        raise click.ClickException(problem)
    try:
        user, _ = identity.create_user(db.session, INSTALLER, username=username, full_name=full_name,
                                       roles=["admin"], password=password)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from exc
    db.session.commit()
    click.echo(f"Created administrator {user.username}.")


@audit_cli.command("verify")
def verify() -> None:
    """Check every audit row's seal and link. Exits 1 and names the first bad row."""
    result = audit_trail.verify(db.session)
    click.echo(result.describe())
    if not result.ok:
        sys.exit(1)


@demo_cli.command("seed")
@click.option("--patients", default=200, show_default=True)
def seed(patients: int) -> None:
    """Create demo wards, users and patients (idempotent; refuses production)."""
    from flask import current_app

    from app.demo import ProductionRefused
    from app.demo import seed as run_seed

    try:
        report = run_seed(db.session, patients)
    except ProductionRefused as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Demo data: {report.wards} ward(s), {len(report.users)} user(s), "
               f"{report.patients} patient(s), {report.admissions} admission(s) added.")
    password = current_app.config["DEMO_PASSWORD"]
    click.echo("Demo logins (username / password):")
    from app.core.security import ROLE_LABELS

    for role, label in ROLE_LABELS.items():
        click.echo(f"  {role:<15} / {password:<8} {label}")




@pharmacy_cli.command("import-formulary")
@click.option("--path", "path", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CSV with CODE,MIN,MODE,MAX,COMMENTS (default: the shared Synthea 2018 costs).")
def import_formulary(path: str | None) -> None:
    """Create or refresh formulary drugs from the reference medication price list (idempotent)."""
    from app.domain.formulary import services as formulary

    counts = formulary.import_formulary(db.session, SystemActor("flask pharmacy import-formulary"), path)
    db.session.commit()
    click.echo(f"Formulary: {counts.describe()}.")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the embedded default: HTTP, WebSockets and (with no Redis) the in-process job runner."""
    from flask import current_app
    from werkzeug.serving import run_simple

    from app.jobs.runner import EmbeddedRunner

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    runner = None
    if not app.config["REDIS_URL"]:
        runner = EmbeddedRunner(app, app.config["SCHEDULER_INTERVAL_SECONDS"])
        runner.start()
    # Werkzeug's threaded server carries WebSockets for Flask-SocketIO's threading mode (through
    # simple-websocket). It is the embedded default's server; production runs gunicorn.
    click.echo(f"Infirmary on http://{host}:{port} (embedded; jobs run in-process: {runner is not None})")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our JSON request log covers it
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)
    finally:
        if runner is not None:
            runner.stop()


@click.command("worker")
@click.option("--queues", default="default,reminders,pdf", show_default=True)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
def worker(queues: str, burst: bool) -> None:
    """Run an RQ worker (with its scheduler, for retries with backoff) on the given queues.

    SimpleWorker runs jobs in this process: the database pool and the Socket.IO emitter are set
    up once, and a killed worker loses nothing because due rows are re-dispatched."""
    from flask import current_app
    from rq import SimpleWorker

    from app.core.jobs import rq_queue

    connection = redis_connection_or_fail(current_app.config)
    names = [q.strip() for q in queues.split(",") if q.strip()]
    # Long-lived objects made at start-up need no more garbage-collector passes; without this a
    # full collection lands on every few PDF renders.
    gc.collect()
    gc.freeze()
    w = SimpleWorker([rq_queue(n, connection) for n in names], connection=connection)
    w.work(burst=burst, with_scheduler=True, logging_level="WARNING")


def redis_connection_or_fail(config: Any) -> Any:
    from app.core.jobs import redis_connection

    if not config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: the embedded default runs jobs in-process (flask serve).")
    return redis_connection()


@click.command("scheduler")
@click.option("--once", is_flag=True, help="One pass, then exit.")
def scheduler(once: bool) -> None:
    """Start periodic jobs when due and dispatch due rows (run one or more; they coordinate)."""
    import time

    from flask import current_app

    from app.jobs.runner import tick

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = float(app.config["SCHEDULER_INTERVAL_SECONDS"])
    while True:
        started = time.monotonic()
        try:
            tick(app)
        except Exception as exc:  # Redis or the database away: keep going, rows wait
            click.echo(f"scheduler pass failed: {type(exc).__name__}: {exc}", err=True)
            if once:
                raise
        if once:
            return
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup(target: str) -> None:
    """Copy the embedded SQLite database consistently while Infirmary runs (online backup)."""
    import sqlite3

    from flask import current_app

    url = current_app.config["SQLALCHEMY_DATABASE_URI"]
    if not url.startswith("sqlite:///"):
        raise click.ClickException("This is PostgreSQL: back it up with pg_dump (see docs/deploy.md).")
    source = sqlite3.connect(url.removeprefix("sqlite:///"))
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
        check = dest.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        dest.close()
        source.close()
    if check != "ok":
        raise click.ClickException(f"The copy failed its integrity check: {check}")
    click.echo(f"Backed up to {target} (integrity ok).")


def register_cli(app: Flask) -> None:
    for command in (users_cli, audit_cli, demo_cli, pharmacy_cli, serve, worker, scheduler, backup):
        app.cli.add_command(command)
