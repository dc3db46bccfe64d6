"""IT staff manage users and sessions; every change is audited and takes effect at once."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.core.audit import AuditEvent
from app.domain.identity.models import User
from tests import factories
from tests.conftest import login


def _audit(db_session: Any, action: str) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_admin_creates_a_nurse_who_must_change_the_temporary_password(
    client: Any, login_as: Any, db_session: Any
) -> None:
    ward = factories.ward(db_session)
    db_session.commit()
    login_as("admin")
    response = client.post_form("/admin/users/new", {
        "username": "j.okafor", "full_name": "Jane Okafor", "roles": ["nurse"], "wards": [str(ward.id)],
    })
    assert response.status_code == 200
    temp = re.search(r'font-monospace fs-5">([^<]+)<', response.get_data(as_text=True))
    assert temp
    user = db_session.scalar(select(User).where(User.username == "j.okafor"))
    assert user.role_keys == {"nurse"} and user.ward_ids == {ward.id} and user.must_change_password
    created = _audit(db_session, "user.created")[-1]
    assert "j.okafor" in (created.after or "") and temp.group(1) not in (created.after or "")
    client.post_form("/logout")
    assert login(client, "j.okafor", temp.group(1)).headers["Location"].startswith("/account/password")


def test_invalid_new_user_shows_errors_beside_fields(client: Any, login_as: Any, make_user: Any) -> None:
    make_user("doctor", username="taken")
    login_as("admin")
    response = client.post_form("/admin/users/new", {"username": "Taken", "full_name": "", "roles": []}, htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'id="user-form"' in body and "full_name-error" in body and "full name." in body
    response = client.post_form("/admin/users/new", {"username": "taken", "full_name": "X Y", "roles": ["doctor"]})
    assert response.status_code == 422 and "That username is taken." in response.get_data(as_text=True)
    response = client.post_form("/admin/users/new", {"username": "new.one", "full_name": "X Y", "roles": []})
    assert response.status_code == 422 and "Choose at least one role." in response.get_data(as_text=True)


def test_changing_roles_and_wards_is_audited_with_before_and_after(
    client: Any, login_as: Any, make_user: Any, db_session: Any
) -> None:
    ward = factories.ward(db_session)
    nurse = make_user("nurse")
    login_as("admin")
    response = client.post_form(f"/admin/users/{nurse.id}", {
        "full_name": nurse.full_name, "roles": ["nurse", "charge_nurse"], "wards": [str(ward.id)],
        "version": str(nurse.version),
    })
    assert response.status_code == 303
    row = _audit(db_session, "user.updated")[-1]
    assert '"roles":["nurse"]' in (row.before or "")
    assert '"roles":["charge_nurse","nurse"]' in (row.after or "")


def test_stale_edit_is_refused(client: Any, login_as: Any, make_user: Any) -> None:
    nurse = make_user("nurse")
    login_as("admin")
    response = client.post_form(f"/admin/users/{nurse.id}", {
        "full_name": "Someone", "roles": ["nurse"], "version": str(nurse.version - 1 if nurse.version > 1 else 99),
    })
    assert response.status_code == 422
    assert "Someone else changed this user" in response.get_data(as_text=True)


def test_disabling_a_user_signs_them_out_on_their_next_click(app: Any, make_user: Any, db_session: Any) -> None:
    from tests.conftest import Client

    app.test_client_class = Client
    victim_client, admin_client = app.test_client(), app.test_client()
    nurse = make_user("nurse")
    admin = make_user("admin")
    login(victim_client, nurse.username)
    assert victim_client.get("/").status_code == 200
    login(admin_client, admin.username)
    missing_reason = admin_client.post_form(f"/admin/users/{nurse.id}/disable", {"reason": ""})
    assert missing_reason.status_code == 422 and "Give a reason." in missing_reason.get_data(as_text=True)
    assert admin_client.post_form(f"/admin/users/{nurse.id}/disable", {"reason": "left"}).status_code == 303
    response = victim_client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert _audit(db_session, "user.disabled")[-1].reason == "left"


def test_admin_ends_one_session(app: Any, make_user: Any, db_session: Any) -> None:
    from app.domain.identity.models import UserSession
    from tests.conftest import Client

    app.test_client_class = Client
    victim_client, admin_client = app.test_client(), app.test_client()
    doctor, admin = make_user("doctor"), make_user("admin")
    login(victim_client, doctor.username)
    login(admin_client, admin.username)
    page = admin_client.get("/admin/sessions").get_data(as_text=True)
    assert doctor.full_name in page
    sid = db_session.scalar(select(UserSession.id).where(UserSession.user_id == doctor.id))
    response = admin_client.post_form("/admin/sessions/end", {"session_id": sid, "reason": "shared PC left open"}, htmx=True)
    assert response.status_code == 200 and 'id="sessions-table"' in response.get_data(as_text=True)
    assert victim_client.get("/").status_code == 302
    assert admin_client.get("/").status_code == 200


def test_reset_password_shows_a_temporary_password_once(client: Any, login_as: Any, make_user: Any, db_session: Any) -> None:
    nurse = make_user("nurse")
    login_as("admin")
    response = client.post_form(f"/admin/users/{nurse.id}/reset-password", {"reason": "forgot"})
    assert response.status_code == 200 and "Password reset for" in response.get_data(as_text=True)
    db_session.refresh(nurse)
    assert nurse.must_change_password
    assert _audit(db_session, "user.password_reset")


def test_admin_cannot_lock_themselves_out(client: Any, login_as: Any) -> None:
    admin = login_as("admin")
    response = client.post_form(f"/admin/users/{admin.id}/disable", {"reason": "oops"})
    assert response.status_code == 422 and "cannot disable your own account" in response.get_data(as_text=True)


def test_unknown_user_is_404_not_a_stack_trace(client: Any, login_as: Any) -> None:
    login_as("admin")
    response = client.get("/admin/users/999999")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)
    htmx = client.get_htmx("/admin/users/999999")
    assert htmx.status_code == 404 and htmx.headers["HX-Retarget"] == "#flashes"
