"""The pharmacy's pages: the formulary, verification, dispensing, labels, stock and the
controlled-drug register."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pharmacy", __name__, url_prefix="/pharmacy")

from app.blueprints.pharmacy import (  # noqa: E402,F401
    controlled,
    dispensing,
    formulary,
    inventory,
    labels,
    verification,
)
