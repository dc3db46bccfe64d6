"""Two workstations signing in to one account at the same moment both get in (committed data,
separate sessions, as two web processes would have)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.security import SYSTEM
from app.domain.identity import services as identity
from app.domain.identity.models import User, UserSession
from app.extensions import db
from tests.conftest import PASSWORD, make_app


@pytest.fixture(scope="module")
def committed_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("signin"), name="signin")
    with app.app_context():
        user, _ = identity.create_user(db.session, SYSTEM, username="shared.ward", full_name="Ward PC",
                                       roles=["nurse"], password=PASSWORD)
        user.must_change_password = False
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def test_two_sign_ins_to_one_account_interleaved_both_succeed(committed_app: Flask) -> None:
    with committed_app.app_context():
        first = Session(db.engine, expire_on_commit=False)
        second = Session(db.engine, expire_on_commit=False)
        try:
            # Both workstations have checked the password (and so loaded the account)...
            a = identity.check_credentials(first, "shared.ward", PASSWORD, "10.0.0.1")
            first.commit()
            b = identity.check_credentials(second, "shared.ward", PASSWORD, "10.0.0.2")
            second.commit()
            # ...then each opens its session; the second holds the account as it was before
            # the first sign-in changed it.
            identity.start_session(first, a, "10.0.0.1", "test", "shared.ward")
            first.commit()
            identity.start_session(second, b, "10.0.0.2", "test", "shared.ward")
            second.commit()
        finally:
            first.close()
            second.close()
        user = db.session.scalar(select(User).where(User.username == "shared.ward"))
        assert user is not None and user.last_login_at is not None
        open_sessions = db.session.scalar(
            select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))
        assert open_sessions == 2
        db.session.remove()
