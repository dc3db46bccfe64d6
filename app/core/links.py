"""Links to the app's own pages from anywhere: a view, a job, the shell or a domain service.

Notifications carry a link; a job has no request, so url_for has no server to build for, and
the route map builds the same path instead."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_request_context, url_for


def link(endpoint: str, **values: Any) -> str:
    """The path of `endpoint` with `values`, inside a request or not."""
    if has_request_context():
        return url_for(endpoint, **values)
    adapter = current_app.url_map.bind("localhost", script_name=current_app.config.get("APPLICATION_ROOT") or "/")
    return adapter.build(endpoint, values)
