"""Placeholder: filled in by the wards issue."""
from __future__ import annotations

from app.blueprints.wards import bp  # noqa: F401
