"""Alerts follow the admission: they move with a transfer (or its cancel) and close when the
stay ends. Imported by app/models.py so the receivers are connected wherever the app runs."""

from app.core import events
from app.domain.escalation import services

events.transferred.connect(services.on_moved, weak=False)
events.transfer_cancelled.connect(services.on_moved, weak=False)
events.discharged.connect(services.on_discharged, weak=False)
events.admission_cancelled.connect(services.on_admission_cancelled, weak=False)
