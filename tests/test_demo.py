"""flask demo seed: idempotent, varied names, one login per role, never on production."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from app.core import audit
from app.core.security import ROLES
from app.demo import ProductionRefused, seed
from app.domain.identity.models import User
from app.domain.patients.models import Patient
from tests.conftest import login


def test_seed_is_idempotent_and_every_role_can_log_in(app: Any, client: Any, db_session: Any) -> None:
    first = seed(db_session, patients_wanted=40)
    db_session.commit()
    assert first.wards == 5 and sorted(first.users) == sorted(ROLES) and first.patients == 40
    again = seed(db_session, patients_wanted=40)
    assert (again.wards, again.users, again.patients) == (0, [], 0)
    assert db_session.scalar(select(func.count()).select_from(Patient)) == 40
    names = " ".join(p.family_name + p.given_names for p in db_session.scalars(select(Patient)))
    assert any(ord(c) > 0x3000 for c in names), "expected CJK names"
    assert any(c in names for c in "éèüöäçñłśżáíóú"), "expected accented names"
    for role in ROLES:
        client.post_form("/logout") if role != "reception" else None
        response = login(client, role, app.config["DEMO_PASSWORD"])
        assert response.status_code == 303, role
    assert audit.verify(db_session).ok
    charge = db_session.scalar(select(User).where(User.username == "charge_nurse"))
    assert len(charge.ward_ids) == 2


def test_seed_refuses_production(app: Any, db_session: Any) -> None:
    app.config["INFIRMARY_ENV"] = "production"
    try:
        try:
            seed(db_session)
        except ProductionRefused as exc:
            assert "production" in str(exc)
        else:
            raise AssertionError("seed ran against production")
    finally:
        app.config["INFIRMARY_ENV"] = "test"
