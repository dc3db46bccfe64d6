"""Page-or-fragment rendering and the htmx response headers we use."""

from __future__ import annotations

import json
from typing import Any, cast

from flask import Response, make_response, redirect, render_template, request


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-History-Restore-Request") != "true"


def render(page: str, fragment: str | None = None, status: int = 200, **context: Any) -> Response:
    """The whole page for a normal request; for htmx, the fragment plus out-of-band flashes."""
    if fragment is not None and is_htmx():
        body = render_template(fragment, **context) + render_template("_macros/_flashes.html", oob=True)
    else:
        body = render_template(page, **context)
    return make_response(body, status)


def invalid(page: str, fragment: str, **context: Any) -> Response:
    """A form that failed validation: the form again, errors beside their fields, status 422."""
    return render(page, fragment, status=422, **context)


def redirect_to(url: str) -> Response:
    """Move the user on: HX-Redirect for htmx (a full navigation), 303 otherwise."""
    if is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return cast(Response, redirect(url, code=303))


def trigger(response: Response, event: str, detail: Any = None) -> Response:
    """Ask the page to react (e.g. re-fetch a fragment) after this response."""
    existing = json.loads(response.headers.get("HX-Trigger", "{}") or "{}")
    existing[event] = detail if detail is not None else True
    response.headers["HX-Trigger"] = json.dumps(existing)
    return response
