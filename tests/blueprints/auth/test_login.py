"""Signing in and out, throttling, server-side sessions, forced password change, TOTP."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy import select

from app.core import clock
from app.core.audit import AuditEvent
from app.domain.identity import services as identity
from app.domain.identity.models import UserSession
from tests.conftest import PASSWORD, login


def _sid(client: Any) -> str | None:
    with client.session_transaction() as sess:
        return sess.get("sid")


def _actions(db_session: Any) -> list[str]:
    return list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_login_lands_on_dashboard_with_role_navigation(client: Any, make_user: Any) -> None:
    nurse = make_user("nurse")
    response = login(client, nurse.username)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "My wards" in page and "Patients" in page
    assert "Users" not in page and "Audit trail" not in page


def test_wrong_password_says_so_beside_the_form_with_422(client: Any, make_user: Any, db_session: Any) -> None:
    user = make_user("doctor")
    response = login(client, user.username, "wrong password")
    assert response.status_code == 422
    assert "Unknown username or wrong password." in response.get_data(as_text=True)
    assert "auth.login_failed" in _actions(db_session)


def test_unknown_user_gets_the_same_message(client: Any) -> None:
    response = login(client, "nobody-here", "whatever")
    assert response.status_code == 422
    assert "Unknown username or wrong password." in response.get_data(as_text=True)


def test_empty_form_shows_field_errors(client: Any) -> None:
    response = client.post_form("/login", {"username": "", "password": ""}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="login-form"' in body and "Enter your username." in body and "Enter your password." in body
    assert "<html" not in body  # a fragment for htmx


def test_account_is_throttled_and_told_when_to_retry(client: Any, make_user: Any, app: Any) -> None:
    user = make_user("reception")
    for _ in range(app.config["LOGIN_MAX_FAILURES_PER_ACCOUNT"] - 1):
        assert login(client, user.username, "bad").status_code == 422
    response = login(client, user.username, "bad")
    assert response.status_code == 429
    assert "You may try again at" in response.get_data(as_text=True)
    # Even the right password is refused until the window passes.
    assert login(client, user.username).status_code == 429


def test_ip_is_throttled_across_accounts(client: Any, app: Any) -> None:
    for i in range(app.config["LOGIN_MAX_FAILURES_PER_IP"]):
        login(client, f"guess{i}", "bad")
    response = login(client, "guess-last", "bad")
    assert response.status_code == 429


def test_session_id_rotates_at_login(client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    with client.session_transaction() as sess:
        sess["sid"] = "planted-by-an-attacker"
    login(client, user.username)
    first = _sid(client)
    assert first and first != "planted-by-an-attacker"
    client.post_form("/logout")
    login(client, user.username)
    second = _sid(client)
    assert second and second != first


def test_logout_revokes_the_server_side_session(client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    login(client, user.username)
    with client.session_transaction() as sess:
        stolen = dict(sess)
    assert client.post_form("/logout").status_code == 303
    # Replaying the old cookie contents does not bring the session back.
    with client.session_transaction() as sess:
        sess.update(stolen)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_idle_session_ends_and_login_returns_user_to_their_page(client: Any, make_user: Any, app: Any) -> None:
    user = make_user("doctor")
    with clock.freeze(clock.now()) as time:
        login(client, user.username)
        assert client.get("/patients/").status_code == 200
        time.advance(minutes=app.config["SESSION_IDLE_MINUTES"] + 1)
        response = client.get("/patients/?q=smith")
        assert response.status_code == 302
        assert response.headers["Location"] == "/login?next=/patients/?q%3Dsmith"
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "period without activity" in page
        back = client.post_form("/login", {"username": user.username, "password": PASSWORD,
                                           "next": "/patients/?q=smith"})
        assert back.headers["Location"] == "/patients/?q=smith"


def test_activity_keeps_the_session_alive_until_the_maximum(client: Any, make_user: Any, app: Any) -> None:
    user = make_user("doctor")
    with clock.freeze(clock.now()) as time:
        login(client, user.username)
        for _ in range(int(app.config["SESSION_MAX_HOURS"] * 60 / 10) - 1):
            time.advance(minutes=10)
            assert client.get("/").status_code == 200
        time.advance(minutes=10)
        assert client.get("/").status_code == 302


def test_htmx_request_after_expiry_redirects_the_whole_page(client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    with clock.freeze(clock.now()) as time:
        login(client, user.username)
        time.advance(minutes=20)
        response = client.get("/patients/?q=a", headers={"HX-Request": "true",
                                                         "HX-Current-URL": "http://localhost/patients/?q=a"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/patients/?q%3Da"


def test_open_redirects_are_refused(client: Any, make_user: Any) -> None:
    user = make_user("doctor")
    response = client.post_form("/login", {"username": user.username, "password": PASSWORD,
                                           "next": "//evil.example/steal"})
    assert response.headers["Location"] == "/"


def test_disabled_user_cannot_sign_in(client: Any, make_user: Any, db_session: Any) -> None:
    admin = make_user("admin")
    user = make_user("nurse")
    identity.set_user_active(db_session, admin, user.id, False, "left the trust")
    db_session.commit()
    assert login(client, user.username).status_code == 422


def test_temporary_password_must_be_changed_first(client: Any, make_user: Any, db_session: Any) -> None:
    admin = make_user("admin")
    user = make_user("pharmacist")
    temp = identity.reset_password(db_session, admin, user.id, "forgot it")
    db_session.commit()
    response = login(client, user.username, temp)
    assert response.headers["Location"].startswith("/account/password")
    assert client.get("/patients/").headers["Location"] == "/account/password"
    bad = client.post_form("/account/password", {"current_password": temp, "new_password": "short",
                                                   "confirm_password": "short"})
    assert bad.status_code == 422 and "Use at least 10 characters." in bad.get_data(as_text=True)
    ok = client.post_form("/account/password", {"current_password": temp, "new_password": "a new long passphrase",
                                                 "confirm_password": "a new long passphrase"})
    assert ok.status_code == 303
    assert client.get("/patients/").status_code == 200


def test_totp_for_admins(client: Any, make_user: Any, db_session: Any) -> None:
    admin = make_user("admin")
    login(client, admin.username)
    secret = pyotp.random_base32()
    wrong = client.post_form("/account/totp", {"secret": secret, "code": "000000"})
    assert wrong.status_code == 422 and "wrong or has expired" in wrong.get_data(as_text=True)
    assert client.post_form("/account/totp", {"secret": secret, "code": pyotp.TOTP(secret).now()}).status_code == 303
    client.post_form("/logout")
    step1 = login(client, admin.username)
    assert step1.headers["Location"] == "/login/verify"
    assert client.get("/").status_code == 302  # not signed in until the code is given
    assert client.post_form("/login/verify", {"code": "123456"}).status_code == 422
    done = client.post_form("/login/verify", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert "user.totp_enabled" in _actions(db_session)


def test_totp_not_offered_to_other_roles(client: Any, make_user: Any) -> None:
    nurse = make_user("nurse")
    login(client, nurse.username)
    assert "Two-step sign-in" not in client.get("/account").get_data(as_text=True)
    secret = pyotp.random_base32()
    response = client.post_form("/account/totp", {"secret": secret, "code": pyotp.TOTP(secret).now()})
    assert response.status_code == 422


def test_expired_sessions_are_marked_and_audited(client: Any, make_user: Any, db_session: Any) -> None:
    user = make_user("doctor")
    with clock.freeze(clock.now()) as time:
        login(client, user.username)
        time.advance(hours=1)
        client.get("/")
    row = db_session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    assert row.end_reason == "idle" and row.ended_at is not None
    assert "auth.session_expired" in _actions(db_session)
    assert row.ended_at - row.created_at >= timedelta(minutes=15)
