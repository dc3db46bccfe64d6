"""Errors the domain raises; the web layer maps them to status codes."""

from __future__ import annotations


class DomainError(Exception):
    """A rule was broken; the message is safe to show to the user."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """Someone else changed the record first (optimistic lock) or a unique rule clashed."""

    status_code = 409
