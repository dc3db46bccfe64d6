"""Permissions, roles, and the two checks every entry point makes.

- `@require(perm)` on a view (or socket handler) checks the signed-in user holds `perm`.
- `authorize(actor, perm, obj)` in the domain checks object scope too, so jobs, sockets and
  APIs get the same answer as pages.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any, Protocol, TypeVar, runtime_checkable

from flask import abort
from flask_login import current_user

from app.core.errors import Forbidden


class Perm(StrEnum):
    DASHBOARD = "dashboard.view"
    ACCOUNT = "account.manage_own"
    PATIENT_READ = "patient.read"
    PATIENT_WRITE = "patient.write"
    BREAK_GLASS = "patient.break_glass"
    WARD_VIEW = "ward.view"
    ADMIN_USERS = "admin.users"
    ADMIN_SESSIONS = "admin.sessions"
    AUDIT_READ = "audit.read"
    AUDIT_EXPORT = "audit.export"
    ADMIN_JOBS = "admin.jobs"
    NOTIFICATIONS = "notification.read"
    LIVE_UPDATES = "live.connect"
    PRINT_LABELS = "patient.print_label"
    CHECK_IN = "appointment.check_in"
    QUEUE_MANAGE = "queue.manage"  # call, start, finish tickets
    QUEUE_BOARD = "queue.board"  # the waiting-room screen (no patient names)
    NO_SHOW_REPORT = "report.no_shows"
    SCHEDULE_VIEW = "schedule.view"  # clinic calendars (they show patient names)
    APPOINTMENT_BOOK = "appointment.book"  # book, reschedule, cancel
    SCHEDULE_MANAGE = "schedule.manage"  # resources, appointment types, templates, closures
    PATIENT_MERGE = "patient.merge"  # the possible-duplicates worklist, merge and unmerge
    # Pharmacy (issue 5)
    PRESCRIBE = "prescription.write"  # prescribe, hold, resume, stop, answer a query
    PRESCRIPTION_READ = "prescription.read"  # a patient's medicines (read-only)
    PRESCRIPTION_VERIFY = "prescription.verify"  # the verification worklist: verify, query, reject
    DISPENSE = "medication.dispense"  # dispense and return to stock, print labels
    STOCK_VIEW = "stock.view"  # batches, ledger, reorder and expiry lists
    STOCK_MANAGE = "stock.manage"  # goods received, transfers, adjustments, counts, reorder levels
    FORMULARY_MANAGE = "formulary.manage"  # drugs, their limits, classes and pack GTINs
    CD_WITNESS = "controlled_drug.witness"  # countersign a controlled-drug register entry
    CD_REGISTER = "controlled_drug.register"  # read the controlled-drug register
    # Wards (issue 6)
    ADMIT = "encounter.admit"  # admit, transfer, reserve a bed, cancel a mistaken step
    DISCHARGE = "encounter.discharge"  # order a discharge, write its summary, discharge
    BED_HOUSEKEEPING = "bed.housekeeping"  # mark a bed clean (the cleaning list has no names)
    BED_MANAGE = "bed.manage"  # take a bed out of service and back
    VITALS_RECORD = "observation.record"  # record vital signs; acknowledge clinical alerts
    SPO2_SCALE = "observation.spo2_scale"  # set a patient's NEWS2 SpO2 scale (a clinician)
    ADMINISTER = "medication.administer"  # the medication round and PRN doses
    NURSING_NOTES = "nursing_note.write"  # write and amend nursing notes
    HANDOVER = "handover.edit"  # prepare, edit and accept a shift handover
    ON_CALL_MANAGE = "on_call.manage"  # the on-call rota


_EVERYONE = {Perm.DASHBOARD, Perm.ACCOUNT, Perm.NOTIFICATIONS, Perm.LIVE_UPDATES}
_CLINICAL_READ = _EVERYONE | {Perm.PATIENT_READ}
_WARD_NURSING = {Perm.ADMIT, Perm.DISCHARGE, Perm.BED_HOUSEKEEPING, Perm.VITALS_RECORD,
                 Perm.ADMINISTER, Perm.NURSING_NOTES, Perm.HANDOVER}

ROLES: dict[str, frozenset[Perm]] = {
    "reception": frozenset(_CLINICAL_READ | {Perm.PATIENT_WRITE, Perm.PRINT_LABELS}
                           | {Perm.CHECK_IN, Perm.QUEUE_MANAGE, Perm.QUEUE_BOARD, Perm.NO_SHOW_REPORT}
                           | {Perm.SCHEDULE_VIEW, Perm.APPOINTMENT_BOOK}),
    "nurse": frozenset(_CLINICAL_READ | {Perm.WARD_VIEW, Perm.BREAK_GLASS, Perm.PRINT_LABELS, Perm.QUEUE_BOARD}
                       | {Perm.PRESCRIPTION_READ, Perm.CD_WITNESS} | _WARD_NURSING),
    "charge_nurse": frozenset(_CLINICAL_READ | {Perm.WARD_VIEW, Perm.BREAK_GLASS, Perm.PRINT_LABELS,
                                                Perm.QUEUE_BOARD}
                              | {Perm.PRESCRIPTION_READ, Perm.CD_WITNESS, Perm.CD_REGISTER}
                              | _WARD_NURSING | {Perm.BED_MANAGE, Perm.ON_CALL_MANAGE}),
    "doctor": frozenset(_CLINICAL_READ | {Perm.WARD_VIEW}
                        | {Perm.QUEUE_MANAGE, Perm.QUEUE_BOARD, Perm.NO_SHOW_REPORT}
                        | {Perm.SCHEDULE_VIEW}
                        | {Perm.PRESCRIBE, Perm.PRESCRIPTION_READ}
                        | {Perm.ADMIT, Perm.DISCHARGE, Perm.VITALS_RECORD, Perm.SPO2_SCALE,
                           Perm.NURSING_NOTES}),
    "pharmacist": frozenset(_CLINICAL_READ | {Perm.PRESCRIPTION_READ, Perm.PRESCRIPTION_VERIFY,
                                              Perm.DISPENSE, Perm.STOCK_VIEW, Perm.STOCK_MANAGE,
                                              Perm.FORMULARY_MANAGE, Perm.CD_WITNESS,
                                              Perm.CD_REGISTER, Perm.PRINT_LABELS}),
    "lab_tech": frozenset(_CLINICAL_READ),
    "lab_supervisor": frozenset(_CLINICAL_READ),
    "billing": frozenset(_CLINICAL_READ),
    # IT and audit staff hold no clinical access: they run the system, not the wards.
    "admin": frozenset(_EVERYONE | {Perm.ADMIN_USERS, Perm.ADMIN_SESSIONS, Perm.ADMIN_JOBS}
                       | {Perm.SCHEDULE_MANAGE}),
    "auditor": frozenset(_EVERYONE | {Perm.AUDIT_READ, Perm.AUDIT_EXPORT}),
}
# Medical records: a clerk who also resolves possible duplicates. Merging stays off the desk, so
# the clerk who saved a record anyway is not the one who decides it was the same person.
ROLES["registry_supervisor"] = frozenset(ROLES["reception"] | {Perm.PATIENT_MERGE})
# Housekeeping: the cleaning list and "bed clean", no patient names.
ROLES["housekeeping"] = frozenset(_EVERYONE | {Perm.BED_HOUSEKEEPING})
# The waiting-room screen's own account: the board and nothing else, so an unattended,
# always-signed-in screen opens no patient record.
ROLES["queue_display"] = frozenset({Perm.DASHBOARD, Perm.ACCOUNT, Perm.LIVE_UPDATES, Perm.QUEUE_BOARD})

ROLE_LABELS: dict[str, str] = {
    "reception": "Reception clerk",
    "registry_supervisor": "Registry supervisor",
    "nurse": "Nurse",
    "charge_nurse": "Charge nurse",
    "doctor": "Doctor",
    "pharmacist": "Pharmacist",
    "lab_tech": "Laboratory technician",
    "lab_supervisor": "Laboratory supervisor",
    "billing": "Finance",
    "admin": "Administrator (IT)",
    "auditor": "Auditor",
    "queue_display": "Waiting-room display",
    "housekeeping": "Housekeeping",
}

# Departments, for notify(dept=...) and the dept:<key> live rooms.
DEPARTMENTS: dict[str, frozenset[str]] = {
    "reception": frozenset({"reception", "registry_supervisor"}),
    "wards": frozenset({"nurse", "charge_nurse", "doctor"}),
    "housekeeping": frozenset({"housekeeping"}),
    "pharmacy": frozenset({"pharmacist"}),
    "lab": frozenset({"lab_tech", "lab_supervisor"}),
    "billing": frozenset({"billing"}),
    "it": frozenset({"admin"}),
    "audit": frozenset({"auditor"}),
}

# Roles whose patient access is limited to the wards they are assigned to.
WARD_SCOPED_ROLES = frozenset({"nurse", "charge_nurse"})


def permissions_for(role_keys: set[str] | frozenset[str]) -> frozenset[Perm]:
    perms: set[Perm] = set()
    for key in role_keys:
        perms |= ROLES.get(key, frozenset())
    return frozenset(perms)


@runtime_checkable
class Actor(Protocol):
    """Whoever acts: a signed-in user, or a system process such as a job or an interface."""

    @property
    def id(self) -> int | None: ...

    @property
    def label(self) -> str: ...

    def has_perm(self, perm: Perm) -> bool: ...

    def scoped_ward_ids(self, perm: Perm) -> frozenset[int] | None:
        """None when the actor's access to `perm` is not limited to wards."""
        ...


class SystemActor:
    """A non-human actor (a job, the HL7 interface). It holds every permission it is given."""

    def __init__(self, label: str, perms: frozenset[Perm] | None = None) -> None:
        self._label = label
        self._perms = perms if perms is not None else frozenset(Perm)

    @property
    def id(self) -> None:
        return None

    @property
    def label(self) -> str:
        return self._label

    def has_perm(self, perm: Perm) -> bool:
        return perm in self._perms

    def scoped_ward_ids(self, perm: Perm) -> frozenset[int] | None:
        return None


SYSTEM = SystemActor("system")

ScopeCheck = Callable[[Actor, Perm, Any], bool]
_scope_checks: dict[type, ScopeCheck] = {}


def register_scope(model: type, check: ScopeCheck) -> None:
    """Let a domain module say who may touch objects of `model` beyond holding the permission."""
    _scope_checks[model] = check


def can(actor: Actor, perm: Perm, obj: Any = None) -> bool:
    if not actor.has_perm(perm):
        return False
    if obj is None:
        return True
    check = _scope_checks.get(type(obj))
    return True if check is None else check(actor, perm, obj)


def authorize(actor: Actor, perm: Perm, obj: Any = None) -> None:
    """Raise Forbidden unless `actor` may do `perm` (to `obj`, within its scope)."""
    if not actor.has_perm(perm):
        raise Forbidden(f"{actor.label} may not do this: it needs the \"{perm}\" permission, "
                        "which your role does not give.")
    if not can(actor, perm, obj):
        raise Forbidden(f"{actor.label} may not open this record: it is outside your access (ward "
                        "staff see the patients on their own wards).")


def in_ward_scope(actor: Actor, perm: Perm, ward_id: int) -> bool:
    """True when `perm` is not limited to wards for the actor, or `ward_id` is one of theirs."""
    wards = actor.scoped_ward_ids(perm)
    return wards is None or ward_id in wards


def authorize_ward(actor: Actor, perm: Perm, ward_id: int) -> None:
    """Permission, and for ward-scoped staff the ward itself: a nurse acts on her own wards."""
    authorize(actor, perm)
    if not in_ward_scope(actor, perm, ward_id):
        raise Forbidden(f"{actor.label} may not do this on that ward: ward staff act on their own "
                        "wards only (ask the ward's charge nurse or an administrator to add you).")


F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ATTR = "_infirmary_public"
PERM_ATTR = "_infirmary_perm"


def require(perm: Perm) -> Callable[[F], F]:
    """Guard a view: sign-in first, then the permission. The route walker checks every view
    carries this or `public`."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                from app.extensions import login

                return login.unauthorized()
            if not current_user.has_perm(perm):
                abort(403)
            return view(*args, **kwargs)

        setattr(wrapped, PERM_ATTR, perm)
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Mark a view that anonymous users may reach (login, health checks)."""
    setattr(view, PUBLIC_ATTR, True)
    return view
