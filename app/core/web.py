"""Request plumbing: request ids, security headers, structured logs, error pages."""

from __future__ import annotations

import logging
import re
import time
import uuid
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from pythonjsonlogger.json import JsonFormatter
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, Map
from wtforms import Field, Form
from wtforms.validators import ValidationError

from app.core import audit, clock
from app.core.errors import DomainError
from app.core.htmx import is_htmx

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Ids in query strings and forms: at most 9 ASCII digits, so the value always fits a 32-bit
# integer column (SQLite raises OverflowError, PostgreSQL DataError beyond). str.isdigit alone
# is not enough: "²" is a digit to it but int() refuses it.
ID_MAX_DIGITS = 9
# Days typed into URLs and forms: wide enough for any birth date or booking, narrow enough that
# the code may step a few days or weeks either way without passing date.min/date.max.
DAY_MIN = date(1900, 1, 1)
DAY_MAX = date(2199, 12, 31)


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: an id of more digits than any row has is "not found" (404),
    not an integer the database driver cannot bind (a 500)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 10**ID_MAX_DIGITS - 1)
        super().__init__(url_map, *args, **kwargs)


def parse_version(value: object) -> int | None:
    """The optimistic-lock version a form sent back, or None when it is missing or junk (the
    caller answers 409: the form is not one we rendered)."""
    return parse_id(value)


def parse_id(value: object) -> int | None:
    """A non-negative id from a query string or form field, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):  # form choices hold ints already (SelectField coerce)
        return value if 0 <= value < 10**ID_MAX_DIGITS else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value and value.isascii() and value.isdigit() and len(value) <= ID_MAX_DIGITS:
        return int(value)
    return None


def coerce_id(value: object) -> int:
    """SelectField coerce: an id, ValueError (a field error) for anything else."""
    parsed = parse_id(value)
    if parsed is None:
        raise ValueError(value)
    return parsed


def optional_id(value: object) -> int | None:
    """SelectField coerce: an id, None for the empty choice ("", "0"), ValueError for junk."""
    if value in (None, "", "0", 0):
        return None
    return coerce_id(value)


def parse_day(value: object) -> date | None:
    """An ISO date (YYYY-MM-DD) between DAY_MIN and DAY_MAX, or None when it is not one."""
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return day if DAY_MIN <= day <= DAY_MAX else None


def day_in_range(form: Form, field: Field) -> None:
    """WTForms validator for DateFields: the same bounds as parse_day, as a field error (422)."""
    if field.data is not None and parse_day(field.data) is None:
        raise ValidationError(_("Enter a date between %(first)s and %(last)s.",
                                first=DAY_MIN.isoformat(), last=DAY_MAX.isoformat()))
def parse_local_datetime(value: str | None, field: str) -> datetime | None:
    """A datetime-local value ("2026-11-22T09:30") typed in hospital time, as UTC; None when
    blank. Anything else is a DomainError on `field` (422 beside it, never a 500)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text[:32])
    except ValueError as exc:
        raise DomainError(_("Enter a date and time."), field=field) from exc
    if naive.tzinfo is not None or parse_day(naive.date()) is None:
        raise DomainError(_("Enter a date and time."), field=field)
    return clock.to_utc(naive.replace(tzinfo=ZoneInfo(clock.hospital_timezone())))


_CLOCK_TIME = re.compile(r"([01]?\d|2[0-3])[:.h]?([0-5]\d)")


def parse_clock_time(value: str | None, field: str, now: datetime | None = None) -> datetime | None:
    """A ward time typed as "HH:MM" (or "0930"), as UTC: the latest such moment not after now
    in hospital time, so at 00:10 "23:50" means five minutes before midnight, last night.
    None when blank; a DomainError on `field` when it is not a time."""
    text = (value or "").strip()
    if not text:
        return None
    match = _CLOCK_TIME.fullmatch(text)
    if match is None:
        raise DomainError(_("Give the time as HH:MM (24-hour clock)."), field=field)
    zone = ZoneInfo(clock.hospital_timezone())
    local_now = (now or clock.now()).astimezone(zone)
    at = datetime.combine(local_now.date(), clock_time(int(match[1]), int(match[2])), zone)
    if at > local_now + CLOCK_SKEW:
        at = datetime.combine(local_now.date() - timedelta(days=1), at.timetz())
    return clock.to_utc(at)


# A workstation's clock may run a little ahead of the server's.
CLOCK_SKEW = timedelta(minutes=5)


def check_charted_at(at: datetime | None, now: datetime, *, field: str, what: str,
                     back: timedelta, earliest: datetime | None = None) -> datetime:
    """When care was charted as happening: `now` when not given; never in the future (beyond
    the clock skew), and a late entry at most `back` before now and not before `earliest`
    (e.g. the admission). `what` names the thing in the message ("A dose", "A note")."""
    at = at or now
    if at.tzinfo is None:
        raise DomainError(_("Give the time with its time zone."), field=field)
    if at > now + CLOCK_SKEW:
        raise DomainError(_("%(what)s cannot be charted for a time still to come.", what=what),
                          field=field)
    if at < now - back:
        hours = int(back.total_seconds() // 3600)
        raise DomainError(_("A late entry may be at most %(hours)d hours back.", hours=hours),
                          field=field)
    if earliest is not None and at < earliest:
        raise DomainError(_("%(what)s cannot be charted before the admission.", what=what),
                          field=field)
    return clock.to_utc(at)


log = logging.getLogger("infirmary.request")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)

ERROR_TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Changed by someone else",
    422: "Check the form",
    429: "Too many requests",
    500: "Something went wrong",
}


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = audit.current_context.get().request_id or "-"
        return True


def configure_logging(app: Flask) -> None:
    """JSON lines on stderr. Only ids, routes and timings are logged: never patient data."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                      rename_fields={"levelname": "level", "asctime": "time"})
    )
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("infirmary")
    root.handlers = [handler]
    root.setLevel(logging.INFO if not app.testing else logging.WARNING)
    root.propagate = False
    app.logger.handlers = [handler]


def _client_ip() -> str:
    return request.remote_addr or "-"


def init_request_plumbing(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.request_id = rid
        g.started = time.perf_counter()
        g.audit_token = audit.current_context.set(audit.RequestContext(request_id=rid, ip=_client_ip()))

    @app.after_request
    def _headers(response: Response) -> Response:
        h = response.headers
        h.setdefault("Content-Security-Policy", CSP)
        h["X-Content-Type-Options"] = "nosniff"
        h["X-Frame-Options"] = "DENY"
        h["Referrer-Policy"] = "same-origin"
        h["Cross-Origin-Opener-Policy"] = "same-origin"
        h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        if request.is_secure:
            h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
        response.vary.add("HX-Request")
        if request.endpoint != "static":
            # Patient data must not linger in shared workstations' caches.
            h.setdefault("Cache-Control", "no-store")
        h["X-Request-ID"] = g.get("request_id", "")
        rule = request.url_rule.rule if request.url_rule else "-"
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": rule,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1),
                "user_id": getattr(g.get("_login_user"), "id", None),
            },
        )
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.pop("audit_token", None)
        if token is not None:
            audit.current_context.reset(token)


def error_response(status: int, message: str | None = None) -> tuple[str, int, dict[str, str]]:
    title = _(ERROR_TITLES.get(status, "Error"))
    headers: dict[str, str] = {}
    if is_htmx():
        # Errors land in the flash area whatever element asked.
        headers = {"HX-Retarget": "#flashes", "HX-Reswap": "afterbegin"}
        body = render_template("errors/_error.html", status=status, title=title, message=message)
    else:
        body = render_template("errors/error.html", status=status, title=title, message=message)
    return body, status, headers


def init_error_pages(app: Flask) -> None:
    from app.extensions import db

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Any:
        return error_response(400, _("Your form expired or was sent from elsewhere. Reload the page and try again."))

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Any:
        db.session.rollback()
        return error_response(exc.status_code, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Any:
        status = exc.code or 500
        messages = {
            403: _("Your role does not allow this. Ask an administrator if you need it."),
            404: _("There is nothing at this address. It may have been moved or never existed."),
        }
        return error_response(status, messages.get(status, exc.description if status < 500 else None))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("unhandled error", extra={"error": type(exc).__name__})
        return error_response(
            500, _("The error was logged with reference %(ref)s. Nothing was saved.", ref=g.get("request_id", "-"))
        )


def place_error(form: Form, exc: DomainError, *, conflicts: bool = False) -> None:
    """Show a domain refusal beside its field: "witness", "lines-2-expiry", or a plain name
    (the form's own errors when it has no such field). Only 422s are placed (and 409s with
    `conflicts`, for a form that answers 409 itself); anything else is raised again."""
    if exc.status_code != 422 and not (conflicts and exc.status_code == 409):
        raise exc
    name = exc.field or ""
    target: Any = None
    if name == "witness":
        target = getattr(form, "witness_username", None)
    elif name.startswith("lines-"):
        _, index, sub = name.split("-", 2)
        lines = getattr(form, "lines", None)
        if lines is not None and index.isdigit() and int(index) < len(lines.entries):
            target = getattr(lines.entries[int(index)].form, sub, None)
    elif name:
        target = getattr(form, name, None)
    if target is not None and hasattr(target, "errors"):
        target.errors = [*list(target.errors), exc.message]
    else:
        form.form_errors.append(exc.message)
