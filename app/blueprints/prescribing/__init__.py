"""Prescribing: a patient's medicines, written, changed and stopped by doctors."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("prescribing", __name__, url_prefix="/prescribing")

from app.blueprints.prescribing import documents, prescriptions  # noqa: E402,F401
