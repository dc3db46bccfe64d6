"""Configuration from the environment.

Three shapes:
- embedded (default): SQLite in instance/, no Redis; secrets generated once into instance/.
- production (INFIRMARY_ENV=production): refuses to start without its secrets and a database.
- test: used by the test suite; DATABASE_URL/REDIS_URL may point at real servers.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INFIRMARY_INSTANCE", BASE_DIR / "instance"))
SHARED_DATA_DIR = Path(os.environ.get("INFIRMARY_SHARED_DATA", BASE_DIR.parent / "shared" / "data"))


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to set."""


def _embedded_secrets(instance: Path) -> dict[str, str]:
    """Generate SECRET_KEY and AUDIT_KEY once and keep them in instance/ (mode 0600)."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secrets.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    values = {"SECRET_KEY": secrets.token_hex(32), "AUDIT_KEY": secrets.token_hex(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    return values


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


# The hospital's standard medication administration times (../shared/STANDARDS.md): code →
# the local times of its doses and the words a label uses. STAT and PRN have no fixed times.
# Replace the whole table with ADMINISTRATION_TIMES: a JSON object, or the path of a JSON file,
# of the same shape. It is configuration because hospitals differ (one runs 33 time points).
DEFAULT_ADMINISTRATION_TIMES: dict[str, dict[str, Any]] = {
    "QD": {"times": ["09:00"], "label": "once a day"},
    "BID": {"times": ["09:00", "21:00"], "label": "twice a day"},
    "TID": {"times": ["09:00", "13:00", "17:00"], "label": "three times a day"},
    "QID": {"times": ["09:00", "13:00", "17:00", "21:00"], "label": "four times a day"},
    "Q4H": {"times": ["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"], "label": "every 4 hours"},
    "Q6H": {"times": ["00:00", "06:00", "12:00", "18:00"], "label": "every 6 hours"},
    "Q8H": {"times": ["06:00", "14:00", "22:00"], "label": "every 8 hours"},
    "Q12H": {"times": ["09:00", "21:00"], "label": "every 12 hours"},
    "HS": {"times": ["21:00"], "label": "at bedtime"},
    "AC": {"times": ["07:30", "11:30", "17:30"], "label": "before meals"},
    "PC": {"times": ["08:30", "12:30", "18:30"], "label": "after meals"},
    "STAT": {"times": [], "label": "immediately, once"},
    "PRN": {"times": [], "label": "when required"},
}


def _administration_times() -> dict[str, dict[str, Any]]:
    raw = os.environ.get("ADMINISTRATION_TIMES", "").strip()
    if not raw:
        return DEFAULT_ADMINISTRATION_TIMES
    text = raw if raw.startswith("{") else Path(raw).read_text(encoding="utf-8")
    table = json.loads(text)
    for code, entry in table.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("times"), list) or "label" not in entry:
            raise ValueError(f"ADMINISTRATION_TIMES[{code!r}] needs a list of times and a label")
    return {str(k).upper(): v for k, v in table.items()}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def build_config(env: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Return the Flask config mapping for an environment name."""
    env = env or os.environ.get("INFIRMARY_ENV", "embedded")
    if env not in {"embedded", "production", "test"}:
        raise ConfigError(f"INFIRMARY_ENV must be embedded, production or test, not {env!r}")

    instance = Path(overrides.pop("INSTANCE_PATH", INSTANCE_DIR))
    database_url = overrides.pop("DATABASE_URL", None) or os.environ.get("DATABASE_URL", "")
    redis_url = overrides.pop("REDIS_URL", None) or os.environ.get("REDIS_URL", "")
    secret_key = os.environ.get("SECRET_KEY", "")
    audit_key = os.environ.get("AUDIT_KEY", "")

    if env == "production":
        missing = [
            name
            for name, value in (
                ("SECRET_KEY", secret_key),
                ("AUDIT_KEY", audit_key),
                ("DATABASE_URL", database_url),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "Production refuses to start without: " + ", ".join(missing)
                + ". Set them in the environment (see docs/deploy.md)."
            )
        if len(audit_key) < 32 or len(secret_key) < 32:
            raise ConfigError("SECRET_KEY and AUDIT_KEY must each be at least 32 characters.")
    elif env == "embedded":
        generated = _embedded_secrets(instance)
        secret_key = secret_key or generated["SECRET_KEY"]
        audit_key = audit_key or generated["AUDIT_KEY"]
        database_url = database_url or f"sqlite:///{instance / 'infirmary.sqlite3'}"
    else:  # test
        secret_key = secret_key or "test-secret-key-" + "x" * 32
        audit_key = audit_key or "test-audit-key-" + "y" * 32
        database_url = database_url or "sqlite:///:memory:"

    config: dict[str, Any] = {
        "INFIRMARY_ENV": env,
        "TESTING": env == "test",
        "SECRET_KEY": secret_key,
        "AUDIT_KEY": audit_key,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": redis_url,
        "HOSPITAL_NAME": os.environ.get("HOSPITAL_NAME", "Infirmary General Hospital"),
        "HOSPITAL_TIMEZONE": os.environ.get("HOSPITAL_TIMEZONE", "Europe/London"),
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("HOSPITAL_TIMEZONE", "Europe/London"),
        # Sessions: workstations are shared, so idle sessions end quickly.
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 15),
        "SESSION_MAX_HOURS": _int("SESSION_MAX_HOURS", 12),
        "SESSION_COOKIE_NAME": "infirmary_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE", env == "production"),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int("SESSION_MAX_HOURS", 12)),
        # Login throttling: failures per account and per address within a window.
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": _int("LOGIN_MAX_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_MAX_FAILURES_PER_IP": _int("LOGIN_MAX_FAILURES_PER_IP", 20),
        "LOGIN_FAILURE_WINDOW_MINUTES": _int("LOGIN_FAILURE_WINDOW_MINUTES", 15),
        "PASSWORD_MIN_LENGTH": _int("PASSWORD_MIN_LENGTH", 10),
        "TOTP_ROLES": ("admin", "auditor"),
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_STRATEGY": "moving-window",
        # A hung Redis must not hang sign-in: fail fast and fall back (identity.throttle).
        "RATELIMIT_STORAGE_OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2} if redis_url else {},
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the server-side session
        "PREFERRED_URL_SCHEME": "https" if env == "production" else "http",
        "MRN_AUTHORITY": os.environ.get("MRN_AUTHORITY", "INFIRMARY"),
        # Reception search and registration: phones without +country are read in PHONE_REGION;
        # NATIONAL_ID_FORMAT names a python-stdnum module ("gb.nhs", "us.ssn"), empty = free text;
        # dates typed as 03/02/1980 are day first (DMY) or month first (MDY).
        "PHONE_REGION": os.environ.get("PHONE_REGION", "GB"),
        "NATIONAL_ID_FORMAT": os.environ.get("NATIONAL_ID_FORMAT", ""),
        "SEARCH_DATE_ORDER": os.environ.get("SEARCH_DATE_ORDER", "DMY"),
        # Duplicate control: a record scoring at least this (0..1, odds-based) against the one
        # being saved is shown to the clerk as a likely duplicate (app/domain/registry/rules.py).
        "DUPLICATE_THRESHOLD": float(os.environ.get("DUPLICATE_THRESHOLD", "0.5")),
        "SHARED_DATA_DIR": str(SHARED_DATA_DIR),
        "DEMO_PASSWORD": os.environ.get("INFIRMARY_DEMO_PASSWORD", "demo"),
        "AUDIT_PAGE_SIZE": 50,
        "AUDIT_EXPORT_MAX_ROWS": _int("AUDIT_EXPORT_MAX_ROWS", 5000),
        "PRINT_LABEL_SIZE": os.environ.get("PRINT_LABEL_SIZE", "62mm 29mm"),
        "PRINT_PAGE_SIZE": os.environ.get("PRINT_PAGE_SIZE", "A4"),
        "PRINT_JOB_RETENTION_HOURS": _int("PRINT_JOB_RETENTION_HOURS", 24),
        "ADMINISTRATION_TIMES": _administration_times(),
        "PHARMACY_NAME": os.environ.get("PHARMACY_NAME", "Main Pharmacy"),
        # Dispensing labels: one label's stock (a 24-up A4 sheet is 70 x 37 mm a label).
        "PHARMACY_LABEL_SIZE": os.environ.get("PHARMACY_LABEL_SIZE", "70mm 37mm"),
        # The daily stock check warns of batches expiring within this many days.
        "PHARMACY_EXPIRY_WARNING_DAYS": _int("PHARMACY_EXPIRY_WARNING_DAYS", 90),
        # Wards. A reserved bed is released this long after the reservation unless used.
        "BED_RESERVATION_MINUTES": _int("BED_RESERVATION_MINUTES", 120),
        # Ward staff may reopen (undo) a discharge this many hours after it; later only the
        # patient's scope or break-the-glass opens the finished stay, and it cannot be undone.
        "DISCHARGE_UNDO_HOURS": _int("DISCHARGE_UNDO_HOURS", 24),
        # Next observations are due this many minutes after a set, by NEWS2 risk ("zero" is a
        # total of 0; "incomplete" a set with a parameter missing). STANDARDS.md: 12-hourly,
        # 4-6-hourly, hourly, hourly, continuous (every 15 minutes on the board).
        "OBSERVATION_INTERVAL_MINUTES": json.loads(os.environ.get("OBSERVATION_INTERVAL_MINUTES") or "{}")
        or {"zero": 720, "low": 240, "low-medium": 60, "medium": 60, "high": 15, "incomplete": 60},
        # An alert not acknowledged within this many minutes escalates to the next person.
        "ALERT_ACK_MINUTES": _int("ALERT_ACK_MINUTES", 15),
        # On-call teams (the rota's team keys): NEWS2 >= 7 alerts ON_CALL_EMERGENCY_TEAM; an
        # unacknowledged alert reaches ON_CALL_ESCALATION_TEAM. With nobody on the rota, the
        # alert goes to ON_CALL_FALLBACK instead and the rota's keepers hear of the gap once.
        "ON_CALL_TEAMS": tuple(t.strip() for t in os.environ.get(
            "ON_CALL_TEAMS", "medical,critical_care").split(",") if t.strip()),
        "ON_CALL_EMERGENCY_TEAM": os.environ.get("ON_CALL_EMERGENCY_TEAM", "critical_care"),
        "ON_CALL_ESCALATION_TEAM": os.environ.get("ON_CALL_ESCALATION_TEAM", "medical"),
        # What staff read for a team key ("critical_care=Critical care,medical=Medical"); a key
        # not listed reads as itself with "_" as spaces, capitalised.
        "ON_CALL_TEAM_LABELS": dict(pair.split("=", 1) for pair in (p.strip() for p in os.environ.get(
            "ON_CALL_TEAM_LABELS", "medical=Medical,critical_care=Critical care").split(","))
            if "=" in pair),
        # Who stands in for an empty on-call team: "ward_doctors" (the attending and the doctors
        # assigned to the patient's ward, else its charge nurses) or "charge_nurses".
        "ON_CALL_FALLBACK": os.environ.get("ON_CALL_FALLBACK", "ward_doctors"),
        # A scheduled dose still open this long after its time is overdue and escalates.
        "DOSE_OVERDUE_MINUTES": _int("DOSE_OVERDUE_MINUTES", 60),
        # Doses are planned this many days ahead (re-planned when a prescription changes).
        "DOSE_PLAN_DAYS": _int("DOSE_PLAN_DAYS", 7),
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "SOCKETIO_CHANNEL": os.environ.get("SOCKETIO_CHANNEL", "infirmary-socketio"),
        # Rooms shared across web processes and workers through Redis pub/sub.
        "SOCKETIO_MESSAGE_QUEUE": os.environ.get("SOCKETIO_MESSAGE_QUEUE", redis_url),
        "JOB_TIMEOUT_SECONDS": _int("JOB_TIMEOUT_SECONDS", 120),
        "JOB_STALE_SECONDS": _int("JOB_STALE_SECONDS", 600),
        "SCHEDULER_INTERVAL_SECONDS": float(os.environ.get("SCHEDULER_INTERVAL_SECONDS", "1")),
        # Front desk: check-in opens/closes around the slot; still-booked appointments become
        # no-shows this long after their start. QUEUE_PREFIXES: JSON {clinic code or dept: "C"}.
        "CHECK_IN_EARLY_MINUTES": _int("CHECK_IN_EARLY_MINUTES", 120),
        "CHECK_IN_LATE_MINUTES": _int("CHECK_IN_LATE_MINUTES", 30),
        "NO_SHOW_AFTER_MINUTES": _int("NO_SHOW_AFTER_MINUTES", 30),
        "NO_SHOW_RATE_DAYS": _int("NO_SHOW_RATE_DAYS", 365),
        "QUEUE_PREFIXES": json.loads(os.environ.get("QUEUE_PREFIXES") or "{}"),
        "QUEUE_BOARD_SHOW_INITIALS": _bool("QUEUE_BOARD_SHOW_INITIALS", False),
        # Appointment reminders: hours before the start (comma-separated), the channel used when
        # the patient has no preference, and the two channels (an empty host/URL switches one off).
        "REMINDER_OFFSETS_HOURS": tuple(
            int(h) for h in os.environ.get("REMINDER_OFFSETS_HOURS", "24").split(",") if h.strip()
        ),
        "REMINDER_MIN_LEAD_MINUTES": _int("REMINDER_MIN_LEAD_MINUTES", 120),
        "REMINDER_DEFAULT_CHANNEL": os.environ.get("REMINDER_DEFAULT_CHANNEL", "sms"),
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": _int("SMTP_PORT", 25),
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": _bool("SMTP_STARTTLS", False),
        "SMTP_FROM": os.environ.get("SMTP_FROM", "appointments@infirmary.invalid"),
        "SMTP_TIMEOUT_SECONDS": _int("SMTP_TIMEOUT_SECONDS", 10),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL", ""),
        "SMS_GATEWAY_TOKEN": os.environ.get("SMS_GATEWAY_TOKEN", ""),
        "SMS_TIMEOUT_SECONDS": _int("SMS_TIMEOUT_SECONDS", 10),
        # argon2id; OWASP's minimum profile. Tests use a cheaper profile of the same algorithm.
        "ARGON2_PARAMS": (
            {"time_cost": 1, "memory_cost": 8 * 1024, "parallelism": 1}
            if env == "test"
            else {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 2}
        ),
    }
    if database_url.startswith("sqlite"):
        # One file, many threads: wait for the writer rather than fail at once.
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}
    config.update(overrides)
    return config
