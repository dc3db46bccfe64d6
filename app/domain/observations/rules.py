"""NEWS2 (Royal College of Physicians, 2017; STANDARDS.md) and the plausibility of vital signs.

Pure functions: no database, no request. Every score function is total over the reals (its
cut-offs are written as "at most"), so a value between two table rows (35.05 °C) still scores
consistently with its neighbours and the monotonicity properties hold everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

# NEWS2 parameters in the order of the chart (and of the recording form).
PARAMETERS = ("respiratory_rate", "spo2", "air_or_oxygen", "systolic", "pulse", "consciousness",
              "temperature")
LABELS = {
    "respiratory_rate": "Respiration rate",
    "spo2": "SpO₂",
    "air_or_oxygen": "Air or oxygen",
    "o2_flow": "Oxygen flow",
    "systolic": "Systolic BP",
    "diastolic": "Diastolic BP",
    "pulse": "Pulse",
    "consciousness": "Consciousness",
    "temperature": "Temperature",
}
# ACVPU: Alert, new Confusion, Voice, Pain, Unresponsive.
ACVPU = {"A": "Alert", "C": "New confusion", "V": "Voice", "P": "Pain", "U": "Unresponsive"}
AIR, OXYGEN = "air", "oxygen"

# Interval keys (config OBSERVATION_INTERVAL_MINUTES): a total of 0 has its own key.
ZERO, LOW, LOW_MEDIUM, MEDIUM, HIGH, INCOMPLETE = ("zero", "low", "low-medium", "medium", "high",
                                                   "incomplete")
BAND_ORDER = (LOW, LOW_MEDIUM, MEDIUM, HIGH)
# Escalation chains a set triggers (app/domain/escalation).
CHAIN_MEDIUM, CHAIN_HIGH = "news2_medium", "news2_high"

Number = int | Decimal


# --- scoring, one parameter at a time -------------------------------------------------------

def score_respiratory_rate(rr: Number) -> int:
    if rr <= 8:
        return 3
    if rr <= 11:
        return 1
    if rr <= 20:
        return 0
    if rr <= 24:
        return 2
    return 3


def score_spo2(spo2: Number, scale: int, on_oxygen: bool | None) -> int | None:
    """Scale 1, or scale 2 (target 88-92 %) where 93 % and above scores only on oxygen. None
    when scale 2 cannot be scored because air or oxygen was not recorded."""
    if scale == 1:
        if spo2 <= 91:
            return 3
        if spo2 <= 93:
            return 2
        if spo2 <= 95:
            return 1
        return 0
    if scale != 2:
        raise ValueError("SpO2 scale is 1 or 2")
    if spo2 <= 83:
        return 3
    if spo2 <= 85:
        return 2
    if spo2 <= 87:
        return 1
    if spo2 <= 92:
        return 0
    if on_oxygen is None:
        return None
    if not on_oxygen:
        return 0
    if spo2 <= 94:
        return 1
    if spo2 <= 96:
        return 2
    return 3


def score_air_or_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def score_systolic(systolic: Number) -> int:
    if systolic <= 90:
        return 3
    if systolic <= 100:
        return 2
    if systolic <= 110:
        return 1
    if systolic <= 219:
        return 0
    return 3


def score_pulse(pulse: Number) -> int:
    if pulse <= 40:
        return 3
    if pulse <= 50:
        return 1
    if pulse <= 90:
        return 0
    if pulse <= 110:
        return 1
    if pulse <= 130:
        return 2
    return 3


def score_consciousness(acvpu: str) -> int:
    if acvpu not in ACVPU:
        raise ValueError("consciousness is one of A, C, V, P, U")
    return 0 if acvpu == "A" else 3


def score_temperature(celsius: Number) -> int:
    t = Decimal(celsius)
    if t <= Decimal("35.0"):
        return 3
    if t <= Decimal("36.0"):
        return 1
    if t <= Decimal("38.0"):
        return 0
    if t <= Decimal("39.0"):
        return 1
    return 2


# --- a whole set ----------------------------------------------------------------------------

@dataclass(frozen=True)
class VitalsInput:
    """One set as entered. None means not measured; air_or_oxygen is "air" or "oxygen"."""

    respiratory_rate: int | None = None
    spo2: int | None = None
    air_or_oxygen: str | None = None
    o2_flow: Decimal | None = None
    systolic: int | None = None
    diastolic: int | None = None
    pulse: int | None = None
    consciousness: str | None = None
    temperature: Decimal | None = None

    @property
    def on_oxygen(self) -> bool | None:
        return None if self.air_or_oxygen is None else self.air_or_oxygen == OXYGEN


@dataclass(frozen=True)
class News2:
    """Per-parameter points (None: not measured), the total (None: incomplete) and the band."""

    scores: dict[str, int | None]
    total: int | None
    any_single_three: bool
    band: str | None
    # The sum of the points that were measured: a floor under the total when one is missing.
    partial: int

    @property
    def complete(self) -> bool:
        return self.total is not None

    @property
    def interval_key(self) -> str:
        if self.total is None:
            return INCOMPLETE
        return ZERO if self.total == 0 else str(self.band)

    @property
    def chain(self) -> str | None:
        """The escalation chain this set calls for, or None. An incomplete set escalates on
        what it already proves: a 3 in one parameter, or measured points that reach 5 or 7
        (the missing ones can only add), never by scoring a missing parameter as 0."""
        floor = self.total if self.total is not None else self.partial
        if floor >= 7:
            return CHAIN_HIGH
        if floor >= 5 or self.any_single_three:
            return CHAIN_MEDIUM
        return None


def risk_band(total: int, any_single_three: bool) -> str:
    """STANDARDS.md clinical risk: a single 3 is low-medium unless the total puts it higher."""
    if total >= 7:
        return HIGH
    if total >= 5:
        return MEDIUM
    if any_single_three:
        return LOW_MEDIUM
    return LOW


def score_set(values: VitalsInput, scale: int) -> News2:
    """NEWS2 for a set on the patient's SpO2 scale (1 or 2)."""
    on_o2 = values.on_oxygen
    scores: dict[str, int | None] = {
        "respiratory_rate": None if values.respiratory_rate is None
        else score_respiratory_rate(values.respiratory_rate),
        "spo2": None if values.spo2 is None else score_spo2(values.spo2, scale, on_o2),
        "air_or_oxygen": None if on_o2 is None else score_air_or_oxygen(on_o2),
        "systolic": None if values.systolic is None else score_systolic(values.systolic),
        "pulse": None if values.pulse is None else score_pulse(values.pulse),
        "consciousness": None if values.consciousness is None
        else score_consciousness(values.consciousness),
        "temperature": None if values.temperature is None else score_temperature(values.temperature),
    }
    present = [s for s in scores.values() if s is not None]
    any_three = any(s == 3 for s in present)
    partial = sum(present)
    if len(present) < len(PARAMETERS):
        return News2(scores, None, any_three, None, partial)
    return News2(scores, partial, any_three, risk_band(partial, any_three), partial)


def interval_minutes(result: News2, intervals: Mapping[str, int]) -> int:
    """Minutes until the next set is due (config OBSERVATION_INTERVAL_MINUTES), the shorter of
    the band's and, for an incomplete set that already shows a single 3, low-medium's."""
    minutes = int(intervals[result.interval_key])
    if result.total is None and result.any_single_three:
        minutes = min(minutes, int(intervals[LOW_MEDIUM]))
    return minutes


# --- plausibility ---------------------------------------------------------------------------

# Refused: no living patient has these. Flagged: possible, but worth a second look.
LIMITS: dict[str, tuple[Decimal, Decimal]] = {
    "respiratory_rate": (Decimal(1), Decimal(80)),
    "spo2": (Decimal(1), Decimal(100)),
    "o2_flow": (Decimal(0), Decimal(60)),
    "systolic": (Decimal(40), Decimal(300)),
    "diastolic": (Decimal(10), Decimal(200)),
    "pulse": (Decimal(1), Decimal(300)),
    "temperature": (Decimal(25), Decimal(45)),
}
UNUSUAL: dict[str, tuple[Decimal, Decimal]] = {
    "respiratory_rate": (Decimal(6), Decimal(40)),
    "spo2": (Decimal(70), Decimal(100)),
    "o2_flow": (Decimal(0), Decimal(15)),
    "systolic": (Decimal(60), Decimal(250)),
    "diastolic": (Decimal(20), Decimal(140)),
    "pulse": (Decimal(30), Decimal(180)),
    "temperature": (Decimal("32.0"), Decimal("41.0")),
}
UNITS = {"respiratory_rate": "/min", "spo2": "%", "o2_flow": "L/min", "systolic": "mmHg",
         "diastolic": "mmHg", "pulse": "/min", "temperature": "°C"}
INTEGER_FIELDS = ("respiratory_rate", "spo2", "systolic", "diastolic", "pulse")
MEASURED_FIELDS = (*PARAMETERS[:3], "o2_flow", "systolic", "diastolic", "pulse", "consciousness",
                   "temperature")

IMPOSSIBLE = {
    "respiratory_rate": "A respiration rate of {v} /min is not possible in a breathing patient "
                        "(1 to 80). Count again for a full minute.",
    "spo2": "SpO₂ is a percentage from 1 to 100; {v} % is not possible.",
    "o2_flow": "Oxygen flow is 0 to 60 L/min; {v} L/min is not possible.",
    "systolic": "A systolic pressure of {v} mmHg is not possible (40 to 300). Measure again.",
    "diastolic": "A diastolic pressure of {v} mmHg is not possible (10 to 200). Measure again.",
    "pulse": "A pulse of {v} /min is not possible for a living patient (1 to 300). If there is "
             "no pulse, call the emergency team now.",
    "temperature": "A body temperature of {v} °C is not possible (25 to 45 °C). Check the "
                   "thermometer and the units.",
}


def in_sentence(name: str) -> str:
    """A field's label inside a sentence: "systolic BP", "oxygen flow", but "SpO₂" kept as is
    (a first word with another capital is an abbreviation)."""
    label = LABELS[name]
    first = label.split(" ", 1)[0]
    return label if any(c.isupper() for c in first[1:]) else label[:1].lower() + label[1:]


class ImplausibleVitals(ValueError):
    """Values no living patient has, or that contradict each other; one message per field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class Checked:
    values: VitalsInput
    flags: list[str] = field(default_factory=list)  # unusual but possible, one line each
    flagged_fields: list[str] = field(default_factory=list)


def _number(name: str, raw: object, errors: dict[str, str]) -> Decimal | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        errors[name] = f"Enter the {in_sentence(name)} as a number."
        return None
    try:
        text = str(raw).strip().replace(",", ".")
        if not text.isascii():
            raise InvalidOperation
        value = Decimal(text)
    except InvalidOperation:
        errors[name] = f"Enter the {in_sentence(name)} as a number."
        return None
    if not value.is_finite():
        errors[name] = f"Enter the {in_sentence(name)} as a number."
        return None
    # The range first: quantizing 1e30 to 0.1 overflows Decimal's precision (InvalidOperation);
    # within the limits (all below 1,000) it cannot.
    low, high = LIMITS[name]
    if value < low or value > high:
        if abs(value) >= 10_000 or value.adjusted() < -6:
            errors[name] = (f"{LABELS[name]}: that number is not possible ({_show(low)} to "
                            f"{_show(high)} {UNITS[name]}). Check what was typed.")
        else:
            errors[name] = IMPOSSIBLE[name].format(v=_show(value))
        return None
    if name in INTEGER_FIELDS and value != value.to_integral_value():
        errors[name] = f"Enter the {in_sentence(name)} as a whole number."
        return None
    if name in ("temperature", "o2_flow") and value != value.quantize(Decimal("0.1")):
        errors[name] = f"Enter the {in_sentence(name)} to one decimal place."
        return None
    return value


def _show(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


def check(raw: Mapping[str, object], *, require_flow: bool = True) -> Checked:
    """Parse and check one set as typed (strings or numbers; blank means not measured).

    Raises ImplausibleVitals with every impossible or contradictory field; returns the values
    with the unusual-but-possible ones listed as flags. `require_flow=False` lets a set on
    oxygen with no flow through (the live preview scores it while the nurse is still typing;
    saving always requires it)."""
    errors: dict[str, str] = {}
    nums = {n: _number(n, raw.get(n), errors) for n in LIMITS}
    acvpu_raw = raw.get("consciousness")
    acvpu = str(acvpu_raw).strip().upper() if acvpu_raw not in (None, "") else None
    if acvpu is not None and acvpu not in ACVPU:
        errors["consciousness"] = "Choose A, C, V, P or U (ACVPU)."
        acvpu = None
    air_raw = raw.get("air_or_oxygen")
    air = str(air_raw).strip().lower() if air_raw not in (None, "") else None
    if air is not None and air not in (AIR, OXYGEN):
        errors["air_or_oxygen"] = "Choose air or oxygen."
        air = None
    flow = nums["o2_flow"]
    if flow is not None and "o2_flow" not in errors:
        if air == AIR and flow > 0:
            errors["o2_flow"] = "An oxygen flow was entered but the patient is on air: choose " \
                                "oxygen, or clear the flow."
        elif air is None and "air_or_oxygen" not in errors:
            errors["air_or_oxygen"] = "An oxygen flow was entered: say whether the patient is on " \
                                      "air or oxygen."
        elif air == OXYGEN and flow == 0:
            errors["o2_flow"] = "Oxygen at 0 L/min is room air: choose air, or enter the flow."
    elif flow is None and air == OXYGEN and "o2_flow" not in errors and require_flow:
        # Without the flow the chart cannot show how much support the score reflects.
        errors["o2_flow"] = "Give the oxygen flow (L/min)."
    sbp, dbp = nums["systolic"], nums["diastolic"]
    if sbp is not None and dbp is not None and sbp <= dbp:
        errors["diastolic"] = (f"The diastolic pressure ({_show(dbp)}) must be below the systolic "
                               f"({_show(sbp)}). Measure again.")
    if errors:
        raise ImplausibleVitals(errors)
    values = VitalsInput(
        respiratory_rate=_int(nums["respiratory_rate"]), spo2=_int(nums["spo2"]),
        air_or_oxygen=air, o2_flow=flow if air == OXYGEN else None,
        systolic=_int(sbp), diastolic=_int(dbp), pulse=_int(nums["pulse"]), consciousness=acvpu,
        temperature=nums["temperature"],
    )
    if all(getattr(values, n) is None for n in MEASURED_FIELDS):
        raise ImplausibleVitals({"respiratory_rate": "Enter at least one observation."})
    result = Checked(values)
    for name, (low, high) in UNUSUAL.items():
        value = nums[name]
        if value is None or (name == "o2_flow" and air != OXYGEN):
            continue
        if value < low or value > high:
            result.flags.append(f"{LABELS[name]} {_show(value)} {UNITS[name]} is unusual: "
                                "re-check it.")
            result.flagged_fields.append(name)
    return result


def display(name: str, value: object) -> str:
    """A stored or entered value as staff read it: RR, SpO2, BP and pulse as whole numbers,
    temperature to one decimal, the oxygen flow as entered (no trailing zeros); coded values
    (air/oxygen, ACVPU) unchanged; None as an empty string."""
    if value is None:
        return ""
    if isinstance(value, str) and name not in LIMITS:
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if name in INTEGER_FIELDS:
        return str(int(number.to_integral_value()))
    if name == "temperature":
        return str(number.quantize(Decimal("0.1")))
    return _show(number.normalize()) if name in LIMITS else str(value)


def _int(value: Decimal | None) -> int | None:
    return None if value is None else int(value)
