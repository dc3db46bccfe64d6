"""NEWS2 against every boundary of the RCP table (STANDARDS.md), and its properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.observations import rules
from app.domain.observations.rules import VitalsInput

INTERVALS = {"zero": 720, "low": 240, "low-medium": 60, "medium": 60, "high": 15, "incomplete": 60}


@pytest.mark.parametrize(("rr", "score"), [
    (1, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (60, 3),
])
def test_respiration_rate(rr: int, score: int) -> None:
    assert rules.score_respiratory_rate(rr) == score


@pytest.mark.parametrize(("spo2", "score"), [
    (50, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0),
])
@pytest.mark.parametrize("on_oxygen", [True, False, None])
def test_spo2_scale_1_ignores_air_or_oxygen(spo2: int, score: int, on_oxygen: bool | None) -> None:
    assert rules.score_spo2(spo2, 1, on_oxygen) == score


@pytest.mark.parametrize(("spo2", "on_air", "on_o2"), [
    (50, 3, 3), (83, 3, 3), (84, 2, 2), (85, 2, 2), (86, 1, 1), (87, 1, 1), (88, 0, 0), (92, 0, 0),
    (93, 0, 1), (94, 0, 1), (95, 0, 2), (96, 0, 2), (97, 0, 3), (100, 0, 3),
])
def test_spo2_scale_2(spo2: int, on_air: int, on_o2: int) -> None:
    assert rules.score_spo2(spo2, 2, False) == on_air
    assert rules.score_spo2(spo2, 2, True) == on_o2


def test_spo2_scale_2_above_92_needs_air_or_oxygen() -> None:
    assert rules.score_spo2(93, 2, None) is None
    assert rules.score_spo2(92, 2, None) == 0
    with pytest.raises(ValueError):
        rules.score_spo2(95, 3, False)


def test_air_or_oxygen() -> None:
    assert rules.score_air_or_oxygen(True) == 2
    assert rules.score_air_or_oxygen(False) == 0


@pytest.mark.parametrize(("sbp", "score"), [
    (40, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3), (300, 3),
])
def test_systolic(sbp: int, score: int) -> None:
    assert rules.score_systolic(sbp) == score


@pytest.mark.parametrize(("pulse", "score"), [
    (20, 3), (40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2),
    (131, 3), (220, 3),
])
def test_pulse(pulse: int, score: int) -> None:
    assert rules.score_pulse(pulse) == score


@pytest.mark.parametrize(("acvpu", "score"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3)])
def test_consciousness(acvpu: str, score: int) -> None:
    assert rules.score_consciousness(acvpu) == score


@pytest.mark.parametrize(("temp", "score"), [
    ("30.0", 3), ("35.0", 3), ("35.1", 1), ("36.0", 1), ("36.1", 0), ("38.0", 0), ("38.1", 1),
    ("39.0", 1), ("39.1", 2), ("42.0", 2),
])
def test_temperature_one_decimal_boundaries(temp: str, score: int) -> None:
    assert rules.score_temperature(Decimal(temp)) == score


NORMAL = VitalsInput(respiratory_rate=16, spo2=97, air_or_oxygen="air", systolic=125, diastolic=80,
                     pulse=72, consciousness="A", temperature=Decimal("36.8"))


def _with(**kw: object) -> VitalsInput:
    return VitalsInput(**{**NORMAL.__dict__, **kw})  # type: ignore[arg-type]


def test_normal_set_scores_zero_low_with_its_own_interval() -> None:
    result = rules.score_set(NORMAL, 1)
    assert (result.total, result.band, result.interval_key) == (0, "low", "zero")
    assert rules.interval_minutes(result, INTERVALS) == 720
    assert result.chain is None


def test_low_band_one_to_four() -> None:
    result = rules.score_set(_with(pulse=105, temperature=Decimal("38.5")), 1)  # 1 + 1
    assert (result.total, result.band, result.interval_key) == (2, "low", "low")
    assert rules.interval_minutes(result, INTERVALS) == 240


def test_single_three_is_low_medium() -> None:
    result = rules.score_set(_with(consciousness="C"), 1)
    assert (result.total, result.band, result.any_single_three) == (3, "low-medium", True)
    assert rules.interval_minutes(result, INTERVALS) == 60
    assert result.chain == "news2_medium"


def test_medium_five_and_six() -> None:
    five = rules.score_set(_with(respiratory_rate=22, pulse=115, temperature=Decimal("38.5")), 1)
    assert (five.total, five.band, five.chain) == (5, "medium", "news2_medium")
    six = rules.score_set(_with(respiratory_rate=22, pulse=115, air_or_oxygen="oxygen"), 1)
    assert (six.total, six.band) == (6, "medium")


def test_a_single_three_within_five_is_medium_not_low_medium() -> None:
    result = rules.score_set(_with(respiratory_rate=26, pulse=115), 1)  # 3 + 2
    assert (result.total, result.band) == (5, "medium")


def test_high_seven_and_over() -> None:
    result = rules.score_set(_with(respiratory_rate=26, pulse=115, air_or_oxygen="oxygen"), 1)
    assert (result.total, result.band, result.chain) == (7, "high", "news2_high")
    assert rules.interval_minutes(result, INTERVALS) == 15


def test_scale_2_scores_oxygen_saturation_on_oxygen() -> None:
    on_o2 = _with(spo2=97, air_or_oxygen="oxygen")
    assert rules.score_set(on_o2, 1).total == 2  # air/oxygen only
    assert rules.score_set(on_o2, 2).total == 5  # + 3 for 97 % on oxygen on scale 2


@pytest.mark.parametrize("missing", list(rules.PARAMETERS))
def test_a_missing_parameter_leaves_no_total(missing: str) -> None:
    values = _with(**{missing: None})
    if missing == "air_or_oxygen":
        values = _with(air_or_oxygen=None, o2_flow=None)
    result = rules.score_set(values, 1)
    assert result.total is None and result.band is None and not result.complete
    assert result.scores[missing] is None
    assert result.interval_key == "incomplete"


def test_incomplete_set_escalates_on_what_it_proves() -> None:
    result = rules.score_set(VitalsInput(respiratory_rate=30), 1)
    assert result.total is None and result.any_single_three and result.chain == "news2_medium"
    worse = rules.score_set(VitalsInput(respiratory_rate=30, pulse=135, spo2=90), 1)
    assert worse.total is None and worse.partial == 9 and worse.chain == "news2_high"
    quiet = rules.score_set(VitalsInput(pulse=95), 1)
    assert quiet.chain is None


# --- properties -----------------------------------------------------------------------------

def _away(center_low: float, center_high: float, a: float, b: float) -> bool:
    """b is at least as far from the normal range as a, on the same side."""
    if a >= center_high:
        return b >= a
    if a <= center_low:
        return b <= a
    return False


@given(st.integers(1, 80), st.integers(1, 80))
def test_rr_never_decreases_away_from_normal(a: int, b: int) -> None:
    if _away(12, 20, a, b):
        assert rules.score_respiratory_rate(b) >= rules.score_respiratory_rate(a)


@given(st.integers(1, 100), st.integers(1, 100))
def test_spo2_scale_1_never_decreases_as_it_falls(a: int, b: int) -> None:
    lo, hi = min(a, b), max(a, b)
    assert rules.score_spo2(lo, 1, None) >= rules.score_spo2(hi, 1, None)  # type: ignore[operator]


@given(st.integers(1, 100), st.integers(1, 100), st.booleans())
def test_spo2_scale_2_never_decreases_away_from_target(a: int, b: int, on_o2: bool) -> None:
    if _away(88, 92, a, b):
        assert rules.score_spo2(b, 2, on_o2) >= rules.score_spo2(a, 2, on_o2)  # type: ignore[operator]


@given(st.integers(40, 300), st.integers(40, 300))
def test_systolic_never_decreases_away_from_normal(a: int, b: int) -> None:
    if _away(111, 219, a, b):
        assert rules.score_systolic(b) >= rules.score_systolic(a)


@given(st.integers(1, 300), st.integers(1, 300))
def test_pulse_never_decreases_away_from_normal(a: int, b: int) -> None:
    if _away(51, 90, a, b):
        assert rules.score_pulse(b) >= rules.score_pulse(a)


temps = st.decimals(min_value=25, max_value=45, places=1)


@given(temps, temps)
def test_temperature_never_decreases_away_from_normal(a: Decimal, b: Decimal) -> None:
    if _away(36.1, 38.0, float(a), float(b)):
        assert rules.score_temperature(b) >= rules.score_temperature(a)


sets = st.builds(
    VitalsInput,
    respiratory_rate=st.none() | st.integers(1, 80),
    spo2=st.none() | st.integers(1, 100),
    air_or_oxygen=st.none() | st.sampled_from(["air", "oxygen"]),
    systolic=st.none() | st.integers(40, 300),
    pulse=st.none() | st.integers(1, 300),
    consciousness=st.none() | st.sampled_from(list(rules.ACVPU)),
    temperature=st.none() | temps,
)


@given(sets, st.sampled_from([1, 2]))
def test_total_is_the_sum_and_incomplete_has_none(values: VitalsInput, scale: int) -> None:
    result = rules.score_set(values, scale)
    scores = list(result.scores.values())
    if any(s is None for s in scores):
        assert result.total is None and result.band is None
        assert result.interval_key == "incomplete"
    else:
        assert result.total == sum(s for s in scores if s is not None)
        assert result.any_single_three == (3 in scores)
        assert result.band == rules.risk_band(result.total, result.any_single_three)


@given(st.integers(0, 20), st.integers(0, 20), st.booleans())
def test_band_is_monotone_in_total(a: int, b: int, three: bool) -> None:
    lo, hi = min(a, b), max(a, b)
    order = rules.BAND_ORDER
    assert order.index(rules.risk_band(hi, three)) >= order.index(rules.risk_band(lo, three))
    assert order.index(rules.risk_band(lo, True)) >= order.index(rules.risk_band(lo, False))


# --- plausibility ----------------------------------------------------------------------------

def _raw(**kw: object) -> dict[str, object]:
    base = {"respiratory_rate": "16", "spo2": "97", "air_or_oxygen": "air", "o2_flow": "",
            "systolic": "125", "diastolic": "80", "pulse": "72", "consciousness": "A",
            "temperature": "36.8"}
    return {**base, **kw}


@pytest.mark.parametrize(("field", "value", "words"), [
    ("spo2", "101", "1 to 100"),
    ("spo2", "-1", "1 to 100"),
    ("spo2", "0", "1 to 100"),
    ("pulse", "0", "living patient"),
    ("pulse", "350", "living patient"),
    ("respiratory_rate", "0", "breathing patient"),
    ("temperature", "24.9", "25 to 45"),
    ("temperature", "45.1", "25 to 45"),
    ("temperature", "98.6", "units"),
    ("systolic", "350", "Measure again"),
    ("systolic", "30", "Measure again"),
    ("o2_flow", "61", "0 to 60"),
    ("pulse", "abc", "as a number"),
    ("pulse", "72.5", "whole number"),
    ("temperature", "37.25", "one decimal"),
    ("consciousness", "X", "ACVPU"),
    ("air_or_oxygen", "helium", "air or oxygen"),
])
def test_impossible_values_are_refused_with_a_message(field: str, value: str, words: str) -> None:
    raw = _raw(**{field: value})
    if field == "o2_flow":
        raw["air_or_oxygen"] = "oxygen"
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(raw)
    assert words in exc.value.errors[field]


def test_contradictions_are_refused() -> None:
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(systolic="80", diastolic="90"))
    assert "below the systolic" in exc.value.errors["diastolic"]
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(systolic="80", diastolic="80"))
    assert "diastolic" in exc.value.errors
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(air_or_oxygen="air", o2_flow="2"))
    assert "on air" in exc.value.errors["o2_flow"]
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(air_or_oxygen="oxygen", o2_flow="0"))
    assert "room air" in exc.value.errors["o2_flow"]
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check({k: "" for k in _raw()})
    assert "at least one" in exc.value.errors["respiratory_rate"]


def test_oxygen_without_a_flow_is_refused_beside_the_flow() -> None:
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(air_or_oxygen="oxygen", o2_flow=""))
    assert exc.value.errors == {"o2_flow": "Give the oxygen flow (L/min)."}
    # The live preview still scores it while the nurse is typing; air needs no flow.
    assert rules.check(_raw(air_or_oxygen="oxygen", o2_flow=""), require_flow=False).values.on_oxygen
    assert rules.check(_raw(air_or_oxygen="air", o2_flow="")).values.o2_flow is None


@pytest.mark.parametrize(("field", "message"), [
    ("systolic", "Enter the systolic BP as a number."),
    ("diastolic", "Enter the diastolic BP as a number."),
    ("spo2", "Enter the SpO₂ as a number."),
    ("respiratory_rate", "Enter the respiration rate as a number."),
    ("temperature", "Enter the temperature as a number."),
])
def test_messages_keep_abbreviations_in_capitals(field: str, message: str) -> None:
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(**{field: "abc"}))
    assert exc.value.errors[field] == message
    with pytest.raises(rules.ImplausibleVitals) as flow:
        rules.check(_raw(air_or_oxygen="oxygen", o2_flow="x"))
    assert flow.value.errors["o2_flow"] == "Enter the oxygen flow as a number."


@pytest.mark.parametrize(("field", "value", "shown"), [
    ("respiratory_rate", Decimal("16.00"), "16"), ("spo2", Decimal("97.00"), "97"),
    ("systolic", Decimal("125.00"), "125"), ("diastolic", Decimal("80.00"), "80"),
    ("pulse", Decimal("72.00"), "72"), ("temperature", Decimal("36.80"), "36.8"),
    ("temperature", Decimal("37"), "37.0"), ("o2_flow", Decimal("2.00"), "2"),
    ("o2_flow", Decimal("0.50"), "0.5"), ("o2_flow", Decimal("10.00"), "10"),
    ("consciousness", "A", "A"), ("air_or_oxygen", "oxygen", "oxygen"), ("pulse", None, ""),
])
def test_display_shows_each_vital_as_staff_write_it(field: str, value: object, shown: str) -> None:
    assert rules.display(field, value) == shown


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(rules.ImplausibleVitals) as exc:
        rules.check(_raw(spo2="120", pulse="0", temperature="50"))
    assert set(exc.value.errors) == {"spo2", "pulse", "temperature"}


@pytest.mark.parametrize(("field", "value"), [
    ("temperature", "42.0"), ("temperature", "31.5"), ("pulse", "190"), ("pulse", "28"),
    ("respiratory_rate", "45"), ("spo2", "65"), ("systolic", "260"),
])
def test_unusual_but_possible_values_are_accepted_and_flagged(field: str, value: str) -> None:
    checked = rules.check(_raw(**{field: value}))
    assert checked.flagged_fields == [field]
    assert "unusual" in checked.flags[0]


def test_ordinary_values_are_not_flagged_and_parse() -> None:
    checked = rules.check(_raw(air_or_oxygen="oxygen", o2_flow="2", consciousness="c",
                               temperature="37,2"))
    assert checked.flags == []
    v = checked.values
    assert (v.consciousness, v.o2_flow, v.temperature, v.pulse) == ("C", Decimal("2"), Decimal("37.2"), 72)
