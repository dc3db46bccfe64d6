"""Recording vital signs: the set, one LOINC-coded Observation per parameter, NEWS2, when the
next set is due, and the escalation a score calls for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased, lazyload

from app.core import audit, clock, events
from app.core.db import DbSession
from app.core.errors import DomainError, NotFound
from app.core.links import link
from app.core.security import Actor, Perm
from app.core.web import CLOCK_SKEW, check_charted_at
from app.domain.admissions.models import Encounter
from app.domain.admissions.services import get_encounter
from app.domain.escalation import services as escalation
from app.domain.escalation.models import Alert
from app.domain.observations import rules
from app.domain.observations.models import Observation, VitalSigns

# (LOINC, display, UCUM unit) per field. The set itself is the vital signs panel 85353-1.
# ACVPU and air/oxygen are coded values (value_code): 80288-4 "Level of consciousness AVPU
# score" with A, C (new confusion), V, P, U; 107117-4 "Method of oxygen delivery" with "air"
# (SNOMED 722742002 Breathing room air) or "oxygen" (SNOMED 371825009 Patient on oxygen).
PANEL_LOINC = "85353-1"
LOINC: dict[str, tuple[str, str, str | None]] = {
    "respiratory_rate": ("9279-1", "Respiratory rate", "/min"),
    "spo2": ("59408-5", "Oxygen saturation by Pulse oximetry", "%"),
    "air_or_oxygen": ("107117-4", "Method of oxygen delivery", None),
    "o2_flow": ("3151-8", "Inhaled oxygen flow rate", "L/min"),
    "systolic": ("8480-6", "Systolic blood pressure", "mm[Hg]"),
    "diastolic": ("8462-4", "Diastolic blood pressure", "mm[Hg]"),
    "pulse": ("8867-4", "Heart rate", "/min"),
    "consciousness": ("80288-4", "Level of consciousness AVPU score", None),
    "temperature": ("8310-5", "Body temperature", "Cel"),
}
FIELD_BY_LOINC = {code: name for name, (code, _, _) in LOINC.items()}
NEWS2_KIND, OVERDUE_KIND = "news2", "obs_overdue"
# A set may be charted up to a day late, and never before the admission began (less the few
# minutes a ward PC's clock may run fast: app.core.web.CLOCK_SKEW).
MAX_BACKDATE = timedelta(hours=24)


class InvalidVitals(DomainError):
    """Impossible or contradictory values: `errors` has one message per field (422)."""

    def __init__(self, errors: dict[str, str]) -> None:
        first = next(iter(errors))
        super().__init__(errors[first], field=first)
        self.errors = errors


def check_values(values: Mapping[str, object] | rules.VitalsInput) -> rules.Checked:
    """rules.check for a form's strings or a VitalsInput, refusals as InvalidVitals."""
    raw = asdict(values) if isinstance(values, rules.VitalsInput) else values
    try:
        return rules.check(raw)
    except rules.ImplausibleVitals as exc:
        raise InvalidVitals(exc.errors) from exc


def latest_by_encounter(session: DbSession, encounter_ids: Iterable[int]) -> dict[int, VitalSigns]:
    """The newest final set per admission (absent when none), in one query whatever the ward.

    A correlated "newest id" per encounter walks the (encounter_id, taken_at) index backwards
    and stops at the first final row, so a year of sets costs what a day does. `.overdue` on a
    set says its next set is past due. Observations are not loaded (the board needs totals)."""
    ids = sorted(set(encounter_ids))
    if not ids:
        return {}
    inner = aliased(VitalSigns)
    newest = (
        select(inner.id)
        .where(inner.encounter_id == Encounter.id, inner.status == "final")
        .order_by(inner.taken_at.desc(), inner.id.desc())
        .limit(1)
        .correlate(Encounter)
        .scalar_subquery()
    )
    wanted = select(newest).select_from(Encounter).where(Encounter.id.in_(ids))
    rows = session.scalars(
        select(VitalSigns).where(VitalSigns.id.in_(wanted)).options(lazyload(VitalSigns.observations))
    )
    return {vs.encounter_id: vs for vs in rows if vs.encounter_id is not None}


def _chart_link(encounter_id: int) -> str:
    return link("wards.chart_vitals", encounter_id=encounter_id)


def _where(encounter: Encounter) -> str:
    patient = encounter.patient
    place = encounter.ward.name if encounter.ward else "no ward"
    if encounter.bed is not None:
        place += f", bed {encounter.bed.label}"
    return f"{patient.name} ({patient.mrn}), {place}"


def record_vitals(
    session: DbSession,
    actor: Actor,
    encounter_id: int,
    values: Mapping[str, object] | rules.VitalsInput,
    taken_at: datetime | None = None,
) -> VitalSigns:
    """Record one set for an in-progress admission: the set and its LOINC-coded observations,
    NEWS2 on the admission's SpO2 scale, the next due time, audit, `vitals_recorded`; a newest
    set also ends an "observations overdue" alert and raises, upgrades or resolves the NEWS2
    alert. Impossible values raise InvalidVitals; unusual ones are kept in `flags`."""
    encounter = get_encounter(session, actor, encounter_id, Perm.VITALS_RECORD)
    if encounter.status != "in-progress":
        raise DomainError("This patient is not on a ward now (the admission has ended): "
                          "vital signs cannot be recorded.")
    checked = check_values(values)
    now = clock.now()
    taken = check_charted_at(taken_at, now, field="taken_at", what="A set of observations",
                             back=MAX_BACKDATE, earliest=encounter.started_at - CLOCK_SKEW)
    scale = encounter.spo2_scale or 1
    news2 = rules.score_set(checked.values, scale)
    minutes = rules.interval_minutes(news2, current_app.config["OBSERVATION_INTERVAL_MINUTES"])
    vs = VitalSigns(
        patient_id=encounter.patient_id, encounter_id=encounter.id, ward_id=encounter.ward_id,
        taken_at=taken, recorded_at=now, recorded_by_id=actor.id, spo2_scale=scale,
        news2_total=news2.total, news2_band=news2.band, any_single_three=news2.any_single_three,
        next_due_at=taken + timedelta(minutes=minutes), flags=list(checked.flags), status="final",
    )
    session.add(vs)
    session.flush()
    for name in rules.MEASURED_FIELDS:
        value = getattr(checked.values, name)
        if value is None:
            continue
        code, display, unit = LOINC[name]
        coded = isinstance(value, str)
        session.add(Observation(
            vital_signs_id=vs.id, patient_id=encounter.patient_id, loinc=code, display=display,
            value=None if coded else Decimal(value), value_code=value if coded else None,
            unit=unit, score=news2.scores.get(name), taken_at=taken,
        ))
    session.flush()
    session.refresh(vs, ["observations"])
    audit.record(session, actor, "vitals.recorded", vs, patient_id=encounter.patient_id, after={
        "encounter_id": encounter.id, "taken_at": taken, "spo2_scale": scale,
        "values": {k: v for k, v in asdict(checked.values).items() if v is not None},
        "news2_total": news2.total, "news2_band": news2.band, "flags": checked.flags,
    })
    events.vitals_recorded.send(session, vital_signs_id=vs.id, patient_id=vs.patient_id,
                                encounter_id=encounter.id, ward_id=encounter.ward_id,
                                news2_total=vs.news2_total, news2_band=vs.news2_band)
    latest = latest_by_encounter(session, [encounter.id]).get(encounter.id)
    if latest is not None and latest.id == vs.id:
        escalation.resolve_for_encounter(session, OVERDUE_KIND, encounter.id,
                                         f"A set was recorded at {clock.to_local(taken, clock.hospital_timezone()):%H:%M}.")
        evaluate_news2(session, encounter, vs)
    return vs


def news2_of(vs: VitalSigns) -> rules.News2:
    """A stored set's NEWS2 as the rules computed it (points per parameter, total, band)."""
    scores = scores_of(vs)
    return rules.News2(scores=scores, total=vs.news2_total, any_single_three=vs.any_single_three,
                       band=vs.news2_band, partial=sum(v for v in scores.values() if v is not None))


def chain_for(vs: VitalSigns | None) -> str | None:
    """The NEWS2 escalation chain a stored set calls for (rules.News2.chain), None for none."""
    if vs is None or vs.status != "final":
        return None
    return news2_of(vs).chain


def news2_text(encounter: Encounter, vs: VitalSigns) -> str:
    if vs.news2_total is not None:
        score = f"NEWS2 {vs.news2_total} ({vs.news2_band} risk)"
    else:
        threes = [rules.LABELS[rules_name] for o in vs.observations if o.score == 3
                  for rules_name in [FIELD_BY_LOINC[o.loinc]]]
        score = "NEWS2 incomplete" + (f", 3 in {', '.join(threes)}" if threes else "")
    return f"{score}: {_where(encounter)}. Urgent review needed."


def open_news2_alert(session: DbSession, encounter_id: int) -> Alert | None:
    return session.scalar(select(Alert).where(
        Alert.kind == NEWS2_KIND, Alert.encounter_id == encounter_id,
        Alert.status.in_(escalation.UNRESOLVED)).order_by(Alert.id.desc()).limit(1))


def _episode_still_triggers(session: DbSession, encounter_id: int, alert: Alert) -> bool:
    """Whether any final set of the alert's episode (its first triggering set and every set
    after it) still calls for escalation."""
    first = alert.subject_key.rsplit(":", 1)[-1]
    if not first.isdigit():
        return False
    sets = session.scalars(select(VitalSigns).where(
        VitalSigns.encounter_id == encounter_id, VitalSigns.status == "final", VitalSigns.id >= int(first)))
    return any(chain_for(vs) is not None for vs in sets)


def evaluate_news2(session: DbSession, encounter: Encounter, latest: VitalSigns | None,
                   *, withdrawn: bool = False) -> Alert | None:
    """Bring the admission's NEWS2 alert in line with its newest set.

    One alert per episode: subject_key "enc:<encounter>:vs:<first triggering set>". While sets
    keep triggering, the same alert stands (a rise from medium to high moves it onto the high
    chain, open again). A set that no longer triggers resolves an ACKNOWLEDGED alert only: an
    unacknowledged one stays open and keeps escalating, because one mistyped or optimistic set
    must not cancel an escalation nobody has taken on (the alert page shows the newer set to
    whoever acknowledges). `withdrawn`: a set was marked entered in error; the alert resolves
    if no set of its episode still triggers (the sets that raised it were the mistake)."""
    chain = chain_for(latest)
    current = open_news2_alert(session, encounter.id)
    if chain is None:
        if current is None:
            return None
        if withdrawn and not _episode_still_triggers(session, encounter.id, current):
            escalation.resolve_alert(session, kind=NEWS2_KIND, subject_key=current.subject_key,
                                     resolution="The set that raised it was entered in error.")
            return None
        if current.status == "acknowledged":
            what = "entered in error" if latest is None else (
                f"NEWS2 {latest.news2_total}" if latest.news2_total is not None else "NEWS2 incomplete")
            escalation.resolve_alert(session, kind=NEWS2_KIND, subject_key=current.subject_key,
                                     resolution=f"The newest set no longer needs escalation ({what}).")
            return None
        return current
    assert latest is not None
    text = news2_text(encounter, latest)
    if current is None:
        return escalation.raise_alert(
            session, kind=NEWS2_KIND, subject_key=f"enc:{encounter.id}:vs:{latest.id}",
            patient_id=encounter.patient_id, encounter_id=encounter.id, ward_id=encounter.ward_id,
            text=text, link=_chart_link(encounter.id), chain=chain, priority="high")
    if chain == rules.CHAIN_HIGH and current.chain != rules.CHAIN_HIGH:
        return escalation.change_chain(session, current, chain, text)
    return current


def set_spo2_scale(session: DbSession, actor: Actor, encounter_id: int, scale: int, reason: str) -> Encounter:
    """A clinician sets the admission's SpO2 scale (2 only for a prescribed target of 88-92 %).
    Sets recorded from now on are scored on it. Audited with before and after."""
    encounter = get_encounter(session, actor, encounter_id, Perm.SPO2_SCALE)
    if scale not in (1, 2):
        raise DomainError("The SpO₂ scale is 1 or 2.", field="scale")
    if not reason or not reason.strip():
        raise DomainError("Give the reason (scale 2: the prescribed target of 88–92 %).", field="reason")
    if encounter.status != "in-progress":
        raise DomainError("This admission has ended.")
    before = encounter.spo2_scale or 1
    if before == scale:
        return encounter
    encounter.spo2_scale = scale
    session.flush()
    audit.record(session, actor, "encounter.spo2_scale", encounter, patient_id=encounter.patient_id,
                 before={"spo2_scale": before}, after={"spo2_scale": scale}, reason=reason.strip())
    return encounter


def mark_entered_in_error(session: DbSession, actor: Actor, vital_signs_id: int, reason: str) -> VitalSigns:
    """Withdraw a set recorded by mistake (kept, marked entered-in-error, with the reason). The
    admission's NEWS2 alert and due time then follow the newest remaining set. Audited."""
    vs = session.get(VitalSigns, vital_signs_id)
    if vs is None or vs.encounter_id is None:
        raise NotFound("No such set of observations.")
    encounter = get_encounter(session, actor, vs.encounter_id, Perm.VITALS_RECORD)
    if not reason or not reason.strip():
        raise DomainError("Give the reason.", field="reason")
    if vs.status == "entered-in-error":
        return vs
    vs.status = "entered-in-error"
    vs.error_reason = reason.strip()
    session.flush()
    audit.record(session, actor, "vitals.entered_in_error", vs, patient_id=vs.patient_id,
                 before={"status": "final"}, after={"status": vs.status}, reason=vs.error_reason)
    if encounter.status == "in-progress":
        evaluate_news2(session, encounter, latest_by_encounter(session, [encounter.id]).get(encounter.id),
                       withdrawn=True)
    events.vitals_recorded.send(session, vital_signs_id=vs.id, patient_id=vs.patient_id,
                                encounter_id=encounter.id, ward_id=encounter.ward_id,
                                news2_total=vs.news2_total, news2_band=vs.news2_band)
    return vs


@dataclass(frozen=True)
class ChartData:
    encounter: Encounter
    sets: list[VitalSigns]  # oldest first
    since: datetime | None


PERIODS = {"24h": timedelta(hours=24), "72h": timedelta(hours=72), "7d": timedelta(days=7), "all": None}


def chart_series(session: DbSession, actor: Actor, encounter_id: int, period: str = "72h") -> ChartData:
    """The admission's sets in a period (24h, 72h, 7d or all), oldest first, with their
    observations, for the chart and its table. Entered-in-error sets are left out."""
    encounter = get_encounter(session, actor, encounter_id, Perm.WARD_VIEW)
    if period not in PERIODS:
        raise DomainError("Choose 24 h, 72 h, 7 days or all.", field="period")
    span = PERIODS[period]
    since = clock.now() - span if span is not None else None
    stmt = select(VitalSigns).where(VitalSigns.encounter_id == encounter.id, VitalSigns.status == "final")
    if since is not None:
        stmt = stmt.where(VitalSigns.taken_at >= since)
    sets = list(session.scalars(stmt.order_by(VitalSigns.taken_at, VitalSigns.id)))
    return ChartData(encounter, sets, since)


def values_of(vs: VitalSigns) -> dict[str, Decimal | str]:
    """A set's values by field name (respiratory_rate, spo2, ..., consciousness)."""
    out: dict[str, Decimal | str] = {}
    for o in vs.observations:
        name = FIELD_BY_LOINC.get(o.loinc)
        if name is not None:
            out[name] = o.value_code if o.value_code is not None else o.value  # type: ignore[assignment]
    return out


def scores_of(vs: VitalSigns) -> dict[str, int | None]:
    return {FIELD_BY_LOINC[o.loinc]: o.score for o in vs.observations if o.loinc in FIELD_BY_LOINC}


def first_set_due(admitted_at: datetime) -> datetime:
    """When an admission's first set is due: as for a set with a parameter missing
    (OBSERVATION_INTERVAL_MINUTES["incomplete"]) after admission."""
    minutes = int(current_app.config["OBSERVATION_INTERVAL_MINUTES"][rules.INCOMPLETE])
    return admitted_at + timedelta(minutes=minutes)


def next_set_due(latest: VitalSigns | None, admitted_at: datetime) -> datetime | None:
    """When the admission's next set is due: after its newest set, or the first set's time."""
    return latest.next_due_at if latest is not None else first_set_due(admitted_at)


def observations_overdue(latest: VitalSigns | None, admitted_at: datetime, now: datetime) -> bool:
    """The one definition of "observations overdue" (the bed board and the overdue alerts)."""
    due = next_set_due(latest, admitted_at)
    return due is not None and due < now


def raise_overdue(session: DbSession) -> list[Alert]:
    """Raise an "observations overdue" alert (chain obs_overdue: the responsible nurse, normal
    priority; then the charge nurses, high) for each in-progress admission whose newest set's
    next due time has passed, or with no set by first_set_due (observations_overdue). One alert per
    missed due time (subject "enc:<id>:vs:<set>" / "enc:<id>:admission"); the next set
    resolves it. Idempotent: existing alerts are looked up in one query and skipped."""
    now = clock.now()
    encounters = list(session.scalars(
        select(Encounter).where(Encounter.status == "in-progress", Encounter.class_code == "IMP",
                                Encounter.ward_id.is_not(None))))
    if not encounters:
        return []
    latest = latest_by_encounter(session, [e.id for e in encounters])
    wanted: dict[str, tuple[Encounter, datetime]] = {}
    for e in encounters:
        vs = latest.get(e.id)
        due = next_set_due(vs, e.started_at)
        if due is not None and observations_overdue(vs, e.started_at, now):
            wanted[f"enc:{e.id}:vs:{vs.id}" if vs is not None else f"enc:{e.id}:admission"] = (e, due)
    if not wanted:
        return []
    existing = set(session.scalars(select(Alert.subject_key).where(
        Alert.kind == OVERDUE_KIND, Alert.subject_key.in_(list(wanted)))))
    raised = []
    for key, (e, due) in wanted.items():
        if key in existing:
            continue
        text = f"Observations overdue since {clock.to_local(due, clock.hospital_timezone()):%H:%M}: {_where(e)}."
        raised.append(escalation.raise_alert(
            session, kind=OVERDUE_KIND, subject_key=key, patient_id=e.patient_id, encounter_id=e.id,
            ward_id=e.ward_id, text=text, link=_record_link(e.id), chain="obs_overdue",
            priority="normal"))
    return raised


def _record_link(encounter_id: int) -> str:
    return link("wards.record_vitals", encounter_id=encounter_id)
