"""Command-line entry points for IT staff: flask users|audit|demo ..."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from app.core import audit as audit_trail
from app.core.security import SystemActor
from app.extensions import db

users_cli = AppGroup("users", help="Manage staff accounts.")
audit_cli = AppGroup("audit", help="Check the audit trail.")
demo_cli = AppGroup("demo", help="Demo data for the embedded default.")

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


def register_cli(app: Flask) -> None:
    for group in (users_cli, audit_cli, demo_cli):
        app.cli.add_command(group)
