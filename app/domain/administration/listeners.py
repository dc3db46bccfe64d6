"""Prescribing's and ADT's events decide which doses the ward owes. Imported once by app.models."""

from __future__ import annotations

from app.core import events
from app.domain.administration import planning

# weak=False: module functions, one connection each however often this module is imported.
events.prescription_changed.connect(planning.on_prescription_changed, weak=False)
events.discharged.connect(planning.on_stay_ended, weak=False)
events.admission_cancelled.connect(planning.on_stay_ended, weak=False)
events.discharge_cancelled.connect(planning.on_discharge_cancelled, weak=False)
