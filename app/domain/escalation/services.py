"""Clinical alerts that climb a chain of people until someone acknowledges them.

Any part of the hospital raises an alert (`raise_alert`) naming a chain: NEWS2 scores, overdue
observations, overdue doses, later the laboratory's critical results. Level 0 of the chain is
notified at once; a due row (`alert.escalate`, app/jobs/escalation.py) fires ALERT_ACK_MINUTES
later and, if nobody has acknowledged, notifies the next level with high priority, and so on
until the chain ends. Recipients are resolved at each step (the rota may have changed). Every
step is audited and pushed to the ward's room (`alert.updated`) so open lists refresh live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, cast, column, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from app.core import audit, clock, jobs, realtime
from app.core.db import DbSession
from app.core.errors import Conflict, DomainError, Forbidden, NotFound
from app.core.links import link
from app.core.security import ROLES, Actor, Perm, SystemActor, authorize
from app.domain.admissions.models import Encounter
from app.domain.escalation.models import Alert, OnCallShift
from app.domain.identity.models import User
from app.domain.identity.services import users_with_role, ward_staff_ids
from app.domain.notifications import services as notifications

ESCALATOR = SystemActor("alert escalation")
ESCALATE_JOB = "alert.escalate"
UNRESOLVED = ("open", "acknowledged")


# --- chains ------------------------------------------------------------------------------------

Resolver = Callable[[DbSession, Alert], list[int]]


def team_label(team: str) -> str:
    """What staff read for an on-call team key (config ON_CALL_TEAM_LABELS): "Critical care"
    for "critical_care"; a key with no label reads as itself, "_" as spaces, capitalised."""
    labels = current_app.config.get("ON_CALL_TEAM_LABELS") or {}
    return str(labels.get(team) or team.replace("_", " ").strip().capitalize())


def team_labels() -> dict[str, str]:
    """Every configured team key (ON_CALL_TEAMS) with its label, in the rota's order."""
    return {t: team_label(t) for t in current_app.config["ON_CALL_TEAMS"]}


@dataclass(frozen=True)
class Level:
    # Who this level is, for the alert page ("the ward's charge nurses and ..."); "{team}" is
    # replaced by the label of the on-call team named by config key `team_key`.
    text: str
    resolve: Resolver
    team_key: str | None = None

    @property
    def label(self) -> str:
        if self.team_key is None:
            return self.text
        return self.text.format(team=team_label(str(current_app.config[self.team_key])))


def _encounter(session: DbSession, alert: Alert) -> Encounter | None:
    return session.get(Encounter, alert.encounter_id) if alert.encounter_id else None


def ward_of(session: DbSession, alert: Alert) -> int | None:
    """The ward the alert's patient is on now (an alert follows its patient on transfer)."""
    encounter = _encounter(session, alert)
    if encounter is not None and encounter.ward_id is not None:
        return encounter.ward_id
    return alert.ward_id


def charge_nurses(session: DbSession, alert: Alert) -> list[int]:
    ward_id = ward_of(session, alert)
    return ward_staff_ids(session, ward_id, ["charge_nurse"]) if ward_id else []


def attending_doctor(session: DbSession, alert: Alert) -> list[int]:
    encounter = _encounter(session, alert)
    return [encounter.attending_id] if encounter and encounter.attending_id else []


def responsible_nurse(session: DbSession, alert: Alert) -> list[int]:
    """The nurse named on the admission, or (nobody named) the ward's nurses and charge nurses
    (the same rule as the dose reminders)."""
    encounter = _encounter(session, alert)
    if encounter and encounter.nurse_id:
        return [encounter.nurse_id]
    ward_id = ward_of(session, alert)
    return ward_staff_ids(session, ward_id, ["nurse", "charge_nurse"]) if ward_id else []


def rota_fallback(session: DbSession, alert: Alert) -> list[int]:
    """Who stands in for an on-call team with nobody on the rota (config ON_CALL_FALLBACK):
    "ward_doctors" is the attending and the doctors assigned to the patient's ward, else the
    ward's charge nurses; "charge_nurses" is the ward's charge nurses."""
    ids: set[int] = set()
    if current_app.config.get("ON_CALL_FALLBACK", "ward_doctors") == "ward_doctors":
        ids.update(attending_doctor(session, alert))
        ward_id = ward_of(session, alert)
        if ward_id is not None:
            ids.update(ward_staff_ids(session, ward_id, ["doctor"]))
    return sorted(ids) or charge_nurses(session, alert)


ROTA_GAP_KIND = "on_call.gap"


def report_rota_gap(session: DbSession, team: str, at: datetime) -> bool:
    """Tell the people who keep the rota (roles holding ON_CALL_MANAGE) that `team` has nobody
    on call at `at`. Once per gap: a gap is known by the end of the team's last shift before it,
    so every alert falling into the same hole reports it once. True when it was reported now."""
    last_end = session.scalar(select(func.max(OnCallShift.ends_at)).where(
        OnCallShift.team == team, OnCallShift.ends_at <= at))
    gap = f"{team}:{last_end:%Y%m%dT%H%M%S}" if last_end is not None else f"{team}:never"
    target = link("wards.on_call_rota", gap=gap)
    if notifications.sent_before(session, ROTA_GAP_KIND, target):
        return False
    keepers = sorted({u.id for role, perms in ROLES.items() if Perm.ON_CALL_MANAGE in perms
                      for u in users_with_role(session, role)})
    since = (f"since {clock.to_local(last_end, clock.hospital_timezone()):%d %b %H:%M}"
             if last_end is not None else "at all")
    text = (f"Nobody is on the {team_label(team)} on-call rota {since}: alerts for that team go to the "
            "ward's doctors instead. Fill the rota.")
    notifications.notify(session, kind=ROTA_GAP_KIND, text=text, user_ids=keepers, link=target,
                         priority="high")
    audit.record(session, ESCALATOR, "on_call.gap_reported", None,
                 after={"team": team, "gap": gap, "notified": keepers})
    return True


def on_call_team(config_key: str) -> Resolver:
    def resolve(session: DbSession, alert: Alert) -> list[int]:
        team = str(current_app.config[config_key])
        now = clock.now()
        ids = on_call(session, team, now)
        if ids:
            return ids
        report_rota_gap(session, team, now)
        return rota_fallback(session, alert)
    return resolve


def both(*resolvers: Resolver) -> Resolver:
    def resolve(session: DbSession, alert: Alert) -> list[int]:
        ids: set[int] = set()
        for r in resolvers:
            ids.update(r(session, alert))
        return sorted(ids)
    return resolve


_news2_first = both(charge_nurses, attending_doctor)
CHAINS: dict[str, tuple[Level, ...]] = {
    "news2_medium": (
        Level("the ward's charge nurses and the responsible doctor", _news2_first),
        Level("the {team} on-call doctor (escalation team)", on_call_team("ON_CALL_ESCALATION_TEAM"),
              "ON_CALL_ESCALATION_TEAM"),
        Level("the {team} on-call team (emergency team)", on_call_team("ON_CALL_EMERGENCY_TEAM"),
              "ON_CALL_EMERGENCY_TEAM"),
    ),
    "news2_high": (
        Level("the ward's charge nurses, the responsible doctor and the {team} on-call team "
              "(emergency team)", both(_news2_first, on_call_team("ON_CALL_EMERGENCY_TEAM")),
              "ON_CALL_EMERGENCY_TEAM"),
        Level("the {team} on-call doctor (escalation team)", on_call_team("ON_CALL_ESCALATION_TEAM"),
              "ON_CALL_ESCALATION_TEAM"),
    ),
    "obs_overdue": (
        Level("the responsible nurse", responsible_nurse),
        Level("the ward's charge nurses", charge_nurses),
    ),
    "dose_overdue": (
        Level("the responsible nurse", responsible_nurse),
        Level("the ward's charge nurses", charge_nurses),
        Level("the responsible doctor", attending_doctor),
    ),
}


def register_chain(name: str, levels: Iterable[Level]) -> None:
    """Let another module (the laboratory's critical results) add its own chain."""
    CHAINS[name] = tuple(levels)


def recipients(session: DbSession, alert: Alert, level: int) -> list[int]:
    """Who `level` of the alert's chain is right now, on the patient's current ward. A level
    that resolves to nobody (no charge nurse assigned, no attending named) falls back to the
    ward's nursing staff; a ward with no staff at all, to the hospital's charge nurses, so an
    alert never reaches no one (and never pages every doctor)."""
    ids = CHAINS[alert.chain][level].resolve(session, alert)
    ward_id = ward_of(session, alert)
    if not ids and ward_id:
        ids = ward_staff_ids(session, ward_id, ["charge_nurse", "nurse"])
    return ids or [u.id for u in users_with_role(session, "charge_nurse")]


# --- links -------------------------------------------------------------------------------------

def alert_path(alert_id: int) -> str:
    """The alert's page, where "Acknowledge" is."""
    return link("wards.view_alert", alert_id=alert_id)


def _push(session: DbSession, alert: Alert, user_ids: Iterable[int] = (),
          also_ward: int | None = None) -> None:
    event = {"type": "alert.updated", "id": alert.id, "status": alert.status,
             "encounter_id": alert.encounter_id, "ward_id": alert.ward_id}
    for ward_id in sorted({w for w in (alert.ward_id, also_ward) if w is not None}):
        realtime.push(session, realtime.ward_room(ward_id), event)
    for uid in sorted(set(user_ids)):
        realtime.push(session, realtime.user_room(uid), event)


def _notify_level(session: DbSession, alert: Alert, level: int, priority: str) -> list[int]:
    ids = recipients(session, alert, level)
    prefix = "" if level == 0 else "Escalated (not acknowledged in time): "
    notifications.notify(session, kind=f"alert.{alert.kind}", text=prefix + alert.text, user_ids=ids,
                         link=alert_path(alert.id), priority=priority)
    alert.recipient_ids = sorted(set(alert.recipient_ids or []) | set(ids))
    return ids


def _schedule_next(session: DbSession, alert: Alert, from_time: datetime) -> None:
    nxt = alert.level + 1
    if nxt >= len(CHAINS[alert.chain]):
        return
    minutes = int(current_app.config["ALERT_ACK_MINUTES"])
    jobs.schedule(session, ESCALATE_JOB, {"alert_id": alert.id, "chain": alert.chain, "level": nxt},
                  due_at=from_time + timedelta(minutes=minutes),
                  dedupe_key=f"alert:{alert.id}:{alert.chain}:{nxt}:{alert.raised_at:%Y%m%d%H%M%S}")


def _snapshot(alert: Alert) -> dict[str, object]:
    return {"kind": alert.kind, "subject_key": alert.subject_key, "chain": alert.chain,
            "level": alert.level, "status": alert.status, "priority": alert.priority}


# --- the API -----------------------------------------------------------------------------------

def raise_alert(
    session: DbSession,
    *,
    kind: str,
    subject_key: str,
    patient_id: int,
    encounter_id: int | None,
    ward_id: int | None,
    text: str,
    link: str | None,
    chain: str,
    priority: str = "high",
    quiet: bool = False,
) -> Alert:
    """Open an alert and notify its chain's level 0 now; level 1 follows after ALERT_ACK_MINUTES
    unless someone acknowledges. Idempotent per (kind, subject_key): a second call returns the
    alert that exists (whatever its status) and notifies nobody. `link` is the page the alert is
    about (shown on the alert); the notification links to the alert page itself. Audited.
    `quiet`: level 0's recipients are set but not notified; the caller sends each of them one
    notification listing many alerts (the overdue-dose sweep)."""
    if chain not in CHAINS:
        raise ValueError(f"unknown escalation chain {chain!r}")
    existing = _by_subject(session, kind, subject_key)
    if existing is not None:
        return existing
    alert = Alert(kind=kind, subject_key=subject_key, patient_id=patient_id, encounter_id=encounter_id,
                  ward_id=ward_id, text=text, link=link, chain=chain, priority=priority, level=0,
                  status="open", raised_at=clock.now(), recipient_ids=[])
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        # Raised by a concurrent caller first: theirs is the alert.
        found = _by_subject(session, kind, subject_key)
        if found is None:
            raise
        return found
    if quiet:
        ids = recipients(session, alert, 0)
        alert.recipient_ids = sorted(set(ids))
    else:
        ids = _notify_level(session, alert, 0, priority)
    audit.record(session, ESCALATOR, "alert.raised", alert, patient_id=patient_id,
                 after={**_snapshot(alert), "text": text, "notified": ids})
    _schedule_next(session, alert, alert.raised_at)
    _push(session, alert)
    return alert


def _by_subject(session: DbSession, kind: str, subject_key: str) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.kind == kind, Alert.subject_key == subject_key))


def change_chain(session: DbSession, alert: Alert, chain: str, text: str) -> Alert:
    """Move an unresolved alert onto a more urgent chain (NEWS2 medium -> high): it is open
    again at level 0 of the new chain, notified now with high priority and escalates afresh."""
    if chain not in CHAINS:
        raise ValueError(f"unknown escalation chain {chain!r}")
    before = _snapshot(alert)
    alert.chain, alert.level, alert.status, alert.text = chain, 0, "open", text
    alert.ward_id = ward_of(session, alert)
    alert.priority = "high"
    alert.acknowledged_at = alert.acknowledged_by_id = None
    alert.raised_at = clock.now()
    ids = _notify_level(session, alert, 0, "high")
    audit.record(session, ESCALATOR, "alert.rechained", alert, patient_id=alert.patient_id,
                 before=before, after={**_snapshot(alert), "text": text, "notified": ids})
    _schedule_next(session, alert, alert.raised_at)
    _push(session, alert, alert.recipient_ids)
    return alert


def escalate(session: DbSession, alert_id: int, chain: str, level: int) -> Alert | None:
    """The due row's work: if the alert is still open on `chain` below `level`, notify that
    level (high priority), audit it and schedule the next. Otherwise nothing (acknowledged,
    resolved, or already moved on). An alert whose patient has left is resolved instead."""
    # Locked (PostgreSQL): an acknowledgement committing meanwhile is seen, not overwritten.
    alert = session.get(Alert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None or alert.status != "open" or alert.chain != chain or alert.level >= level:
        return None
    encounter = _encounter(session, alert)
    if encounter is not None and encounter.status != "in-progress":
        return resolve_alert(session, kind=alert.kind, subject_key=alert.subject_key,
                             resolution="The patient is no longer on the ward.")
    before = _snapshot(alert)
    alert.level = level
    alert.escalated_at = clock.now()
    ids = _notify_level(session, alert, level, "high")
    audit.record(session, ESCALATOR, "alert.escalated", alert, patient_id=alert.patient_id,
                 before=before, after={**_snapshot(alert), "notified": ids,
                                       "to": CHAINS[alert.chain][level].label})
    _schedule_next(session, alert, alert.escalated_at)
    _push(session, alert, ids)
    return alert


def resolve_alert(session: DbSession, *, kind: str, subject_key: str, resolution: str) -> Alert | None:
    """Close an unresolved alert (the dose was recorded, a new set was taken): it escalates no
    further and leaves the open lists. None when there is no such unresolved alert. Audited."""
    alert = _by_subject(session, kind, subject_key)
    if alert is None or alert.status == "resolved":
        return None
    before = _snapshot(alert)
    alert.status = "resolved"
    alert.resolved_at = clock.now()
    alert.resolution = resolution
    audit.record(session, ESCALATOR, "alert.resolved", alert, patient_id=alert.patient_id,
                 before=before, after=_snapshot(alert), reason=resolution)
    _push(session, alert, alert.recipient_ids)
    return alert


def resolve_for_encounter(session: DbSession, kind: str, encounter_id: int, resolution: str) -> list[Alert]:
    """Resolve every unresolved alert of `kind` for an admission (a new set ends "overdue")."""
    keys = list(session.scalars(select(Alert.subject_key).where(
        Alert.kind == kind, Alert.encounter_id == encounter_id, Alert.status.in_(UNRESOLVED))))
    return [a for k in keys if (a := resolve_alert(session, kind=kind, subject_key=k,
                                                   resolution=resolution)) is not None]


def get_alert(session: DbSession, actor: Actor, alert_id: int) -> Alert:
    """An alert the actor may see: someone it reached, or staff with the patient in scope."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("No such alert.")
    authorize(actor, Perm.WARD_VIEW)
    if actor.id in (alert.recipient_ids or []):
        return alert
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    if scope is not None and ward_of(session, alert) not in scope:
        raise Forbidden("This alert is for a patient outside your wards.")
    return alert


def acknowledge_alert(session: DbSession, actor: Actor, alert_id: int, *, seen_chain: str | None = None,
                      seen_level: int | None = None) -> Alert:
    """Someone takes the alert on: it escalates no further, and the acknowledger's urgent
    notifications about it are acknowledged too. Audited; open lists refresh live.

    `seen_chain` / `seen_level` are what the acknowledger was shown (the alert page's form;
    default: what is read now). The acknowledgement is one conditional UPDATE on them, so an
    upgrade to a more urgent chain (NEWS2 medium -> high) or an escalation that commits while
    they were looking is never silenced: Conflict, "acknowledge again"."""
    authorize(actor, Perm.VITALS_RECORD)
    alert = get_alert(session, actor, alert_id)
    if alert.status == "resolved":
        raise Conflict("This alert was already resolved: " + (alert.resolution or ""))
    chain = seen_chain if seen_chain is not None else alert.chain
    level = seen_level if seen_level is not None else alert.level
    if alert.status == "acknowledged" and (alert.chain, alert.level) == (chain, level):
        return alert
    before = {**_snapshot(alert), "chain": chain, "level": level}
    now = clock.now()
    done = session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status == "open", Alert.chain == chain,
                            Alert.level == level)
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by_id=actor.id)
        .execution_options(synchronize_session=False))
    session.refresh(alert)
    if int(getattr(done, "rowcount", 0) or 0) != 1:
        if alert.status == "resolved":
            raise Conflict("This alert was already resolved: " + (alert.resolution or ""))
        if alert.status == "acknowledged" and (alert.chain, alert.level) == (chain, level):
            return alert  # someone else took it on at the same moment
        steps = CHAINS.get(alert.chain, ())
        who = steps[alert.level].label if alert.level < len(steps) else "the next level"
        raise Conflict(f"This alert was escalated to {who} while you were looking ({alert.text}); "
                       "acknowledge again.")
    audit.record(session, actor, "alert.acknowledged", alert, patient_id=alert.patient_id,
                 before=before, after=_snapshot(alert))
    notifications.acknowledge_for(session, actor, alert_path(alert.id))
    _push(session, alert, alert.recipient_ids)
    return alert


def follow_patient(session: DbSession, encounter_id: int, ward_id: int | None) -> list[Alert]:
    """Move an admission's unresolved alerts to the ward the patient is on now (a transfer, or
    its cancel): the new ward's staff see and acknowledge them, and later steps reach them, not
    the old ward's. Audited per alert; both wards' lists refresh live."""
    if ward_id is None:
        return []
    moved = list(session.scalars(select(Alert).where(
        Alert.encounter_id == encounter_id, Alert.status.in_(UNRESOLVED), Alert.ward_id != ward_id)))
    for alert in moved:
        old = alert.ward_id
        alert.ward_id = ward_id
        audit.record(session, ESCALATOR, "alert.moved", alert, patient_id=alert.patient_id,
                     before={"ward_id": old}, after={"ward_id": ward_id})
        _push(session, alert, also_ward=old)
    return moved


def resolve_all_for_encounter(session: DbSession, encounter_id: int, resolution: str) -> list[Alert]:
    """Resolve every unresolved alert of an admission that ended (discharged, or cancelled)."""
    rows = list(session.execute(select(Alert.kind, Alert.subject_key).where(
        Alert.encounter_id == encounter_id, Alert.status.in_(UNRESOLVED)).order_by(Alert.id)))
    return [a for kind, key in rows
            if (a := resolve_alert(session, kind=kind, subject_key=key, resolution=resolution)) is not None]


def on_moved(session: DbSession, **kw: Any) -> None:
    """events.transferred / transfer_cancelled: alerts follow the patient."""
    follow_patient(session, int(kw["encounter_id"]), kw.get("ward_id"))


def on_discharged(session: DbSession, **kw: Any) -> None:
    """events.discharged: nothing is left to escalate for a patient who has gone."""
    resolve_all_for_encounter(session, int(kw["encounter_id"]), "The patient was discharged.")


def on_admission_cancelled(session: DbSession, **kw: Any) -> None:
    """events.admission_cancelled: the admission was a mistake; its alerts close with it."""
    resolve_all_for_encounter(session, int(kw["encounter_id"]), "The admission was cancelled.")


def open_alerts(session: DbSession, encounter_ids: Iterable[int]) -> dict[int, list[Alert]]:
    """Unresolved alerts (open or acknowledged) per admission, newest first, in one query."""
    ids = list(encounter_ids)
    out: dict[int, list[Alert]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = session.scalars(select(Alert).where(Alert.encounter_id.in_(ids), Alert.status.in_(UNRESOLVED))
                           .order_by(Alert.raised_at.desc(), Alert.id.desc()))
    for a in rows:
        out[a.encounter_id].append(a)  # type: ignore[index]
    return out


def alerts_for(session: DbSession, actor: Actor, include_acknowledged: bool = True) -> list[Alert]:
    """The actor's alert list: unresolved alerts that reached them, and those on their wards."""
    authorize(actor, Perm.WARD_VIEW)
    statuses = UNRESOLVED if include_acknowledged else ("open",)
    scope = actor.scoped_ward_ids(Perm.WARD_VIEW)
    wards = list(scope) if scope is not None else [w for w in getattr(actor, "ward_ids", ()) or ()]
    mine: list[ColumnElement[bool]] = []
    if wards:
        mine.append(Alert.ward_id.in_(sorted(wards)))
    if actor.id is not None:
        mine.append(_reached(session, actor.id))
    if not mine:
        return []
    return list(session.scalars(select(Alert).where(Alert.status.in_(statuses), or_(*mine))
                                .order_by(Alert.status.desc(), Alert.raised_at.desc()).limit(500)))


def _reached(session: DbSession, user_id: int) -> ColumnElement[bool]:
    """SQL: the alert's recipient_ids (a JSON array) holds `user_id`."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(Alert.recipient_ids, JSONB).contains([user_id])
    each = func.json_each(Alert.recipient_ids).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(column("value") == user_id))


# --- the on-call rota --------------------------------------------------------------------------

def on_call(session: DbSession, team: str, at: datetime) -> list[int]:
    """Active users on `team`'s rota at `at`."""
    return sorted(set(session.scalars(
        select(OnCallShift.user_id).join(User, User.id == OnCallShift.user_id)
        .where(OnCallShift.team == team, OnCallShift.starts_at <= at, OnCallShift.ends_at > at,
               User.active.is_(True))
    )))


MAX_SHIFT = timedelta(days=7)


def add_shift(session: DbSession, actor: Actor, *, team: str, user_id: int, starts_at: datetime,
              ends_at: datetime) -> OnCallShift:
    """Put a doctor on a team's rota for a period (at most a week). Audited."""
    authorize(actor, Perm.ON_CALL_MANAGE)
    if team not in current_app.config["ON_CALL_TEAMS"]:
        raise DomainError("Choose one of the on-call teams.", field="team")
    user = session.get(User, user_id)
    if user is None or not user.active or "doctor" not in user.role_keys:
        raise DomainError("Choose an active doctor.", field="user_id")
    if ends_at <= starts_at:
        raise DomainError("The shift must end after it starts.", field="ends_at")
    if ends_at - starts_at > MAX_SHIFT:
        raise DomainError("A shift lasts at most 7 days.", field="ends_at")
    shift = OnCallShift(team=team, user_id=user_id, starts_at=starts_at, ends_at=ends_at,
                        created_by_id=actor.id)
    session.add(shift)
    session.flush()
    audit.record(session, actor, "on_call.shift_added", shift,
                 after={"team": team, "user_id": user_id, "starts_at": starts_at, "ends_at": ends_at})
    return shift


def remove_shift(session: DbSession, actor: Actor, shift_id: int, reason: str) -> OnCallShift:
    """Take a shift off the rota (with a reason). The row is kept: a shift under way ends now,
    one still to come ends before it starts, so who was on call when stays answerable. Audited."""
    authorize(actor, Perm.ON_CALL_MANAGE)
    shift = session.get(OnCallShift, shift_id)
    if shift is None or shift.cancelled_at is not None:
        raise NotFound("No such shift.")
    if not reason.strip():
        raise DomainError("Give a reason.", field="reason")
    now = clock.now()
    before = {"team": shift.team, "user_id": shift.user_id, "starts_at": shift.starts_at,
              "ends_at": shift.ends_at}
    shift.ends_at = max(shift.starts_at, min(shift.ends_at, now))
    shift.cancelled_at, shift.cancelled_by_id, shift.cancel_reason = now, actor.id, reason.strip()
    session.flush()
    audit.record(session, actor, "on_call.shift_removed", shift, reason=reason.strip(),
                 before=before, after={**before, "ends_at": shift.ends_at, "cancelled_at": now})
    return shift


def rota(session: DbSession, since: datetime, until: datetime) -> list[OnCallShift]:
    """Shifts overlapping [since, until), by team and start."""
    return list(session.scalars(
        select(OnCallShift).where(OnCallShift.ends_at > since, OnCallShift.starts_at < until,
                                  OnCallShift.cancelled_at.is_(None))
        .order_by(OnCallShift.team, OnCallShift.starts_at)
    ))


__all__ = ["CHAINS", "Level", "acknowledge_alert", "add_shift", "alert_path", "alerts_for",
           "change_chain", "escalate", "follow_patient", "get_alert", "on_call", "open_alerts",
           "raise_alert", "recipients", "register_chain", "remove_shift", "report_rota_gap",
           "resolve_alert", "resolve_all_for_encounter", "resolve_for_encounter", "rota",
           "rota_fallback", "team_label", "team_labels", "ward_of"]
