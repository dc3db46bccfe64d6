"""Shared set-up for the prescribing tests: a doctor, a pharmacist, an order."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.core.security import SYSTEM
from app.domain.identity import services as identity
from app.domain.prescribing import services as prescribing

_n = iter(range(1, 1_000_000))


def user(session: Any, role: str) -> Any:
    n = next(_n)
    u, _ = identity.create_user(session, SYSTEM, username=f"rx{role}{n}", full_name=f"{role.title()} {n}",
                                roles=[role], ward_ids=[], password="correct horse battery")
    return u


def order(drug: Any, **kw: Any) -> prescribing.Order:
    values: dict[str, Any] = dict(drug_id=drug.id, dose="500", dose_unit="mg", frequency="TID",
                                  duration_days=5)
    values.update(kw)
    return prescribing.Order(**values)


def write(session: Any, doctor: Any, patient: Any, drug: Any, overrides: dict[str, str] | None = None,
          **kw: Any) -> Any:
    return prescribing.prescribe(session, doctor, patient.id, order(drug, **kw),
                                 prescribing.Overrides(overrides or {}))


DOSE = Decimal("500")
