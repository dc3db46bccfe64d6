"""Navigation by role: an item shows only to users who hold its permission."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Flask, g, has_request_context
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.core.security import Perm


@dataclass(frozen=True)
class NavItem:
    label: object
    endpoint: str
    perm: Perm
    accesskey: str | None = None


NAV: tuple[NavItem, ...] = (
    NavItem(_l("Home"), "main.dashboard", Perm.DASHBOARD, "h"),
    NavItem(_l("My wards"), "wards.list_wards", Perm.WARD_VIEW, "w"),
    NavItem(_l("Alerts"), "wards.list_alerts", Perm.WARD_VIEW),
    NavItem(_l("On call"), "wards.on_call_rota", Perm.ON_CALL_MANAGE),
    NavItem(_l("Census"), "wards.census", Perm.WARD_VIEW, "c"),
    NavItem(_l("Cleaning"), "wards.cleaning_list", Perm.BED_HOUSEKEEPING),
    NavItem(_l("Medication round"), "wards.my_medication_round", Perm.ADMINISTER, "r"),
    NavItem(_l("Handover"), "wards.list_handovers", Perm.HANDOVER),
    NavItem(_l("Patients"), "patients.list_patients", Perm.PATIENT_READ, "p"),
    NavItem(_l("Front desk"), "frontdesk.arrivals", Perm.CHECK_IN, "f"),
    NavItem(_l("Queues"), "frontdesk.list_queues", Perm.QUEUE_BOARD, "q"),
    NavItem(_l("Appointments"), "scheduling.schedule_home", Perm.SCHEDULE_VIEW, "t"),
    NavItem(_l("Duplicates"), "registry.list_duplicates", Perm.PATIENT_MERGE, "d"),
    NavItem(_l("Verification"), "pharmacy.verification_worklist", Perm.PRESCRIPTION_VERIFY, "i"),
    NavItem(_l("Dispensary"), "pharmacy.dispensing_worklist", Perm.DISPENSE, "x"),
    NavItem(_l("Stock"), "pharmacy.stock_overview", Perm.STOCK_VIEW, "k"),
    NavItem(_l("CD register"), "pharmacy.controlled_register", Perm.CD_REGISTER),
    NavItem(_l("Formulary"), "pharmacy.list_drugs", Perm.PRESCRIPTION_READ),
    NavItem(_l("Users"), "admin.list_users", Perm.ADMIN_USERS, "u"),
    NavItem(_l("Sessions"), "admin.list_sessions", Perm.ADMIN_SESSIONS, "s"),
    NavItem(_l("Jobs"), "admin.list_jobs", Perm.ADMIN_JOBS, "j"),
    NavItem(_l("Clinic set-up"), "scheduling.manage_schedule", Perm.SCHEDULE_MANAGE),
    NavItem(_l("Audit trail"), "audit.browse_audit", Perm.AUDIT_READ, "a"),
)


def init_nav(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, object]:
        # Templates also render outside requests (PDFs in jobs): no user, no navigation.
        if not has_request_context() or current_user is None or not current_user.is_authenticated:
            return {"nav_items": ()}
        return {
            "nav_items": tuple(i for i in NAV if current_user.has_perm(i.perm)),
            "bell": _bell(),
        }


class Bell:
    """The header bell's figures, read from the database only when a template shows them: most
    htmx answers are fragments without the header, and a search box answers on every keystroke."""

    def __init__(self, user_id: int) -> None:
        self._user_id = user_id

    @cached_property
    def _figures(self) -> tuple[int, int]:
        from app.domain.notifications import services as notifications
        from app.extensions import db

        return notifications.bell(db.session, self._user_id)

    @property
    def unread(self) -> int:
        return self._figures[0]

    @property
    def latest_id(self) -> int:
        return self._figures[1]


def _bell() -> Bell:
    # Once per request: an htmx answer renders two templates (the fragment and the flashes).
    if "nav_bell" not in g:
        g.nav_bell = Bell(current_user.id)
    bell: Bell = g.nav_bell
    return bell
