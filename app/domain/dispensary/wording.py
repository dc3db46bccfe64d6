"""Dose instructions in plain words, for a dispensing label and the prescription.

"Take TWO tablets THREE times a day for 7 days." A label is read at home, by the patient, so the
dose is said in what they hold in their hand (tablets, puffs, drops) whenever the prescribed
amount converts exactly to it; counted things are spelt out in capitals up to ten (the
convention of British dispensing labels, which avoids a misread "1" or "7"), with halves and
quarters of a tablet in words. Measured amounts (mL, mg, units) stay in figures: "Take 5 mL".

Pure: the caller passes the frequency's label from the administration-times table
(config ADMINISTRATION_TIMES), so this module needs no app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

NUMBER_WORDS = ("ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
                "TEN")
# Fractions a tablet is split into (scored tablets): said in words, never as a decimal.
FRACTION_WORDS = {Decimal("0.25"): "A QUARTER", Decimal("0.5"): "HALF",
                  Decimal("0.75"): "THREE QUARTERS"}
AND_FRACTION_WORDS = {Decimal("0.25"): "AND A QUARTER", Decimal("0.5"): "AND A HALF",
                      Decimal("0.75"): "AND THREE QUARTERS"}

# Things a patient counts, as opposed to measures: a dose in one of these is said in words.
COUNTED_UNITS = frozenset({
    "tablet", "capsule", "caplet", "puff", "actuation", "inhalation", "drop", "spray", "patch",
    "suppository", "pessary", "sachet", "lozenge", "pastille", "pen", "vial", "ampoule",
    "applicatorful", "application", "dose", "pack", "inhaler", "bottle", "tube",
    "film", "implant", "ring", "piece", "chewing gum", "enema", "nebule", "cartridge", "syringe",
    "bag", "device", "kit", "strip", "wafer",
})
_MEASURED_UNITS = frozenset({"mg", "g", "kg", "ng", "mmol", "unit", "microgram", "%"})
# Things that split cleanly into halves and quarters; other counted things never do.
SPLITTABLE_UNITS = frozenset({"tablet", "caplet"})
_IRREGULAR_PLURALS = {"chewing gum": "pieces of chewing gum", "unit": "units",
                      "microgram": "micrograms", "application": "applications"}
_UNIT_ALIASES = {"tab": "tablet", "tabs": "tablet", "tablets": "tablet", "cap": "capsule",
                 "caps": "capsule", "capsules": "capsule", "puffs": "puff", "drops": "drop",
                 "sprays": "spray", "patches": "patch", "ml": "mL", "l": "L", "mcg": "microgram",
                 "µg": "microgram", "ug": "microgram", "micrograms": "microgram",
                 "units": "unit", "iu": "unit", "sachets": "sachet", "suppositories": "suppository",
                 "vials": "vial", "ampoules": "ampoule", "ampules": "ampoule", "ampule": "ampoule"}

# Route -> (verb, phrase after the amount). The phrase says where a dose goes when the verb
# alone does not.
_ROUTES: dict[str, tuple[str, str]] = {
    "oral": ("Take", ""),
    "sublingual": ("Place", " under the tongue"),
    "buccal": ("Place", " between the gum and the cheek"),
    "inhalation": ("Inhale", ""),
    "respiratory": ("Inhale", ""),
    "nasal": ("Use", " in the nose"),
    "ophthalmic": ("Use", " in the eye"),
    "otic": ("Use", " in the ear"),
    "topical": ("Apply", " to the skin"),
    "cutaneous": ("Apply", " to the skin"),
    "transdermal": ("Apply", " to the skin"),
    "rectal": ("Insert", " into the back passage"),
    "vaginal": ("Insert", " into the vagina"),
    "intravenous": ("Inject", " into a vein"),
    "intramuscular": ("Inject", " into a muscle"),
    "subcutaneous": ("Inject", " under the skin"),
    "intradermal": ("Inject", " into the skin"),
    "injection": ("Inject", ""),
}
_ROUTE_ALIASES = {"po": "oral", "by mouth": "oral", "sl": "sublingual", "inhaled": "inhalation",
                  "inh": "inhalation", "iv": "intravenous", "im": "intramuscular",
                  "sc": "subcutaneous", "subcut": "subcutaneous", "sq": "subcutaneous",
                  "pr": "rectal", "pv": "vaginal", "eye": "ophthalmic", "ear": "otic",
                  "skin": "topical", "td": "transdermal", "intranasal": "nasal"}
_NUMBER_IN_LABEL = re.compile(r"\b(one|two|three|four|five|six|seven|eight|nine|ten)\b",
                              re.IGNORECASE)


@dataclass(frozen=True)
class DoseOrder:
    """What the wording needs of a prescription and its drug."""

    dose: Decimal
    dose_unit: str
    route: str
    frequency_code: str
    frequency_label: str  # from the administration-times table: "three times a day"
    prn: bool = False
    prn_min_interval_minutes: int | None = None
    prn_max_daily_doses: int | None = None
    duration_days: int | None = None
    instructions: str | None = None
    indication: str | None = None  # "pain": said after "when required"
    drug_dose_unit: str | None = None  # the unit the drug's strength is in ("mg")
    stock_unit: str | None = None  # what leaves the shelf ("tablet")
    dose_per_stock_unit: Decimal | None = None  # 500 (mg a tablet)
    form: str | None = None  # "Oral Tablet", "Metered Dose Inhaler", ...


def order_for(prescription: Any, times: Mapping[str, Mapping[str, Any]]) -> DoseOrder:
    """The DoseOrder of a Prescription (with its Drug), its frequency's label taken from the
    administration-times table `times` (an unknown code keeps the code itself)."""
    drug = prescription.drug
    entry = times.get(prescription.frequency) or {}
    return DoseOrder(
        dose=Decimal(prescription.dose), dose_unit=prescription.dose_unit,
        route=prescription.route or drug.route, frequency_code=prescription.frequency,
        frequency_label=str(entry.get("label") or prescription.frequency),
        prn=bool(prescription.prn), prn_min_interval_minutes=prescription.prn_min_interval_minutes,
        prn_max_daily_doses=prescription.prn_max_daily_doses,
        duration_days=prescription.duration_days, instructions=prescription.instructions,
        indication=prescription.indication, drug_dose_unit=drug.dose_unit,
        stock_unit=drug.stock_unit, dose_per_stock_unit=drug.dose_per_stock_unit, form=drug.form,
    )


# --- numbers and units ---------------------------------------------------------------------

def figure(value: Decimal) -> str:
    """A decimal as people write it: 5, 0.5, 12.25 (never 5.000 or 5E+1)."""
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def unit_name(unit: str) -> str:
    """A unit as the label says it: "tablet", "mL", "microgram" (aliases folded)."""
    key = unit.strip()
    low = key.lower()
    if low in _UNIT_ALIASES:
        return _UNIT_ALIASES[low]
    return low if low in COUNTED_UNITS or low in _MEASURED_UNITS else key


def plural(unit: str) -> str:
    if unit in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[unit]
    if unit not in COUNTED_UNITS:
        return unit  # mg, mL, g: the same for any amount
    if unit.endswith("y") and unit[-2:-1] not in "aeiou":
        return unit[:-1] + "ies"
    if unit.endswith(("ch", "sh", "s", "x", "z")):
        return unit + "es"
    return unit + "s"


def quantity_text(quantity: int, unit: str) -> str:
    """A supply in figures: "21 tablets", "1 inhaler", "100 mL"."""
    unit = unit_name(unit)
    return f"{quantity} {unit if quantity == 1 else plural(unit)}"


def counted(amount: Decimal, unit: str) -> str | None:
    """`amount` of a counted `unit` in words ("TWO tablets", "HALF a tablet",
    "ONE AND A HALF tablets", "12 capsules"); None when it is not a whole number (or a half or
    quarter of a tablet)."""
    whole = int(amount)
    part = amount - whole
    if part == 0:
        if whole <= 0:
            return None
        word = NUMBER_WORDS[whole] if whole < len(NUMBER_WORDS) else str(whole)
        return f"{word} {unit if whole == 1 else plural(unit)}"
    if unit not in SPLITTABLE_UNITS or part not in FRACTION_WORDS:
        return None
    if whole == 0:
        return f"{FRACTION_WORDS[part]} {'a' if part == Decimal('0.5') else 'of a'} {unit}"
    word = NUMBER_WORDS[whole] if whole < len(NUMBER_WORDS) else str(whole)
    return f"{word} {AND_FRACTION_WORDS[part]} {plural(unit)}"


def measured(amount: Decimal, unit: str) -> str:
    """A measured amount in figures: "5 mL", "0.5 mg", "10 units", "1 unit"."""
    if unit in COUNTED_UNITS or unit in ("unit", "microgram"):
        return f"{figure(amount)} {unit if amount == 1 else plural(unit)}"
    return f"{figure(amount)} {unit}"


def amount_of(order: DoseOrder) -> tuple[str, Decimal | None, str | None]:
    """(the dose in words, the dose in counted units or None, that counted unit or None)."""
    unit = unit_name(order.dose_unit)
    if order.dose <= 0:
        return measured(order.dose, unit), None, None
    stock = unit_name(order.stock_unit) if order.stock_unit else None
    drug_unit = unit_name(order.drug_dose_unit) if order.drug_dose_unit else None
    # In what the patient holds: the dose written in stock units, or converting exactly.
    candidates: list[tuple[Decimal, str]] = []
    if unit in COUNTED_UNITS:
        candidates.append((order.dose, unit))
    if stock and stock != unit and order.dose_per_stock_unit and drug_unit == unit:
        try:
            per = Decimal(order.dose_per_stock_unit)
            if per > 0:
                candidates.append((order.dose / per, stock))
        except (InvalidOperation, ArithmeticError):
            pass
    for amount, counted_unit in candidates:
        if counted_unit in COUNTED_UNITS:
            words = counted(_tidy(amount), counted_unit)
            if words:
                return words, _tidy(amount), counted_unit
        elif counted_unit in ("mL", "L") and unit not in ("mL", "L"):
            # A liquid prescribed by weight: say the volume when it comes out in 0.1 mL.
            volume = _tidy(amount)
            if volume == volume.quantize(Decimal("0.1")):
                return measured(volume, counted_unit), None, None
    return measured(order.dose, unit), None, None


def _tidy(value: Decimal) -> Decimal:
    """Drop the noise of a division (1.0000000) without rounding a real third to a whole."""
    rounded = value.quantize(Decimal("0.0001"))
    return rounded.normalize() if abs(rounded - value) < Decimal("1e-9") else value


def interval_text(minutes: int) -> str:
    """A time between doses: "4 hours", "90 minutes"."""
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def _frequency(label: str) -> str:
    """The table's label with its count in capitals: "THREE times a day"."""
    return _NUMBER_IN_LABEL.sub(lambda m: m.group(1).upper(), label.strip())


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def route_words(route: str) -> tuple[str, str]:
    key = route.strip().lower()
    key = _ROUTE_ALIASES.get(key, key)
    return _ROUTES.get(key, ("Use", ""))


# --- the instructions ----------------------------------------------------------------------

def dose_instructions(order: DoseOrder) -> str:
    """The label's instructions: what to take, how, how often, for how long, and the limits of
    an as-required dose, each a sentence."""
    verb, where = route_words(order.route)
    words, units_per_dose, counted_unit = amount_of(order)
    code = order.frequency_code.strip().upper()
    as_required = order.prn or code == "PRN"
    if code == "PRN":
        how_often = "when required"
    else:
        how_often = _frequency(order.frequency_label) if order.frequency_label.strip() else code
        if as_required:
            how_often += " when required"
    if as_required and order.indication and order.indication.strip():
        how_often += f" for {order.indication.strip().rstrip('.')}"
    first = f"{verb} {words}{where} {how_often}"
    if order.duration_days and order.duration_days > 0:
        first += f" for {order.duration_days} day{'s' if order.duration_days != 1 else ''}"
    sentences = [_sentence(first)]
    if as_required and order.prn_min_interval_minutes and order.prn_min_interval_minutes > 0:
        sentences.append(_sentence(
            f"Leave at least {interval_text(order.prn_min_interval_minutes)} between doses"))
    if as_required and order.prn_max_daily_doses and order.prn_max_daily_doses > 0:
        doses = order.prn_max_daily_doses
        total = units_per_dose * doses if units_per_dose is not None else None
        if total is not None and counted_unit and total == int(total):
            limit = f"{int(total)} {counted_unit if total == 1 else plural(counted_unit)}"
        else:
            limit = f"{doses} dose{'s' if doses != 1 else ''}"
        sentences.append(_sentence(f"No more than {limit} in 24 hours"))
    if order.instructions and order.instructions.strip():
        sentences.append(_sentence(order.instructions.strip()))
    return " ".join(s for s in sentences if s)


def for_prescription(prescription: Any, times: Mapping[str, Mapping[str, Any]]) -> str:
    """The plain-words instructions of a Prescription (see `dose_instructions`)."""
    return dose_instructions(order_for(prescription, times))
