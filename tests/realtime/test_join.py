"""Following a room from a socket that has already gone is answered, never raised: a page
that navigates away mid-request must not leave an exception in a server thread."""

from __future__ import annotations

from typing import Any

from app.realtime import join


def test_joining_after_the_socket_has_gone_is_not_an_error(app: Any) -> None:
    with app.test_request_context("/"):
        from flask import request

        request.sid = "gone"  # type: ignore[attr-defined]
        request.namespace = "/nobody-connected-here"  # type: ignore[attr-defined]
        assert join("ward:1") is False
