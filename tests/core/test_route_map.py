"""Deny by default: every route names its permission, and the checks hold for every route."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter, Rule

from app.core.security import PERM_ATTR, PUBLIC_ATTR, ROLES, Perm

SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy")


def _routes(app: Flask) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _url(rule: Rule) -> str:
    values = {arg: 1 if isinstance(rule._converters[arg], IntegerConverter) else "x"
              for arg in rule.arguments}
    path = rule.build(values, append_unknown=False)
    assert path is not None
    return path[1]


def _perm(app: Flask, rule: Rule) -> Perm | None:
    return getattr(app.view_functions[rule.endpoint], PERM_ATTR, None)


def _role_without(perm: Perm) -> str | None:
    """A role lacking `perm`; None when every role holds it (then: an account with no role)."""
    return next((role for role, perms in ROLES.items() if perm not in perms), None)


def _role_with(perm: Perm) -> str:
    return next(role for role, perms in ROLES.items() if perm in perms)


def test_every_route_declares_a_permission_or_is_public(app: Flask) -> None:
    undeclared = [
        r.endpoint for r in _routes(app)
        if _perm(app, r) is None and not getattr(app.view_functions[r.endpoint], PUBLIC_ATTR, False)
    ]
    assert undeclared == []


def test_only_the_documented_routes_are_public(app: Flask) -> None:
    public = {r.rule for r in _routes(app) if getattr(app.view_functions[r.endpoint], PUBLIC_ATTR, False)}
    assert public == {"/login", "/login/verify", "/healthz", "/readyz"}


def test_anonymous_users_are_sent_to_login(app: Flask, client: Any) -> None:
    for rule in _routes(app):
        if _perm(app, rule) is None:
            continue
        url = _url(rule)
        if "GET" in (rule.methods or ()):
            response = client.get(url)
        else:
            response = client.post_form(url)
        assert response.status_code == 302, (rule.rule, response.status_code)
        assert response.headers["Location"].startswith("/login"), rule.rule
        for header in SECURITY_HEADERS:
            assert header in response.headers, (rule.rule, header)


def test_post_without_csrf_token_is_refused(app: Flask, client: Any, make_user: Any) -> None:
    from tests.conftest import login

    post_rules = [r for r in _routes(app) if "POST" in (r.methods or ()) and _perm(app, r)]
    assert post_rules
    for rule in post_rules:
        perm = _perm(app, rule)
        assert perm is not None
        user = make_user(_role_with(perm))
        with client.session_transaction() as sess:
            sess.clear()
        assert login(client, user.username).status_code == 303
        response = client.post(_url(rule), data={"reason": "x"})
        assert response.status_code == 400, rule.rule
        assert "form expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("perm", list(Perm))
def test_a_role_without_the_permission_gets_403(
    app: Flask, client: Any, make_user: Any, db_session: Any, perm: Perm
) -> None:
    from tests.conftest import login

    rules = [r for r in _routes(app) if _perm(app, r) == perm]
    if not rules:
        pytest.skip(f"no route needs {perm} yet")
    role = _role_without(perm)
    user = make_user(role or "reception")
    if role is None:
        from app.domain.identity.models import UserRole

        user.roles = [UserRole(role_key="retired-role")]
        db_session.commit()
    assert login(client, user.username).status_code == 303
    for rule in rules:
        url = _url(rule)
        response = client.get(url) if "GET" in (rule.methods or ()) else client.post_form(url, {"reason": "x"})
        assert response.status_code == 403, (rule.rule, response.status_code)
        for header in SECURITY_HEADERS:
            assert header in response.headers
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_every_socket_event_declares_a_permission(app: Flask) -> None:
    from app.extensions import socketio
    from app.realtime import SOCKET_EVENTS

    declared = {(ns, event) for ns, event, _perm in SOCKET_EVENTS}
    server = app.extensions["infirmary_socketio_server"]
    registered = {(ns, event) for ns, handlers in server.handlers.items() for event in handlers}
    assert registered and registered <= declared, registered - declared
    assert {("/live", "connect"), ("/live", "catch_up"), ("/live", "watch_ward")} <= declared
    assert socketio is not None
