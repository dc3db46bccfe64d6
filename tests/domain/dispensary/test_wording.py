"""Dose instructions in plain words, as the patient reads them on the label."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.dispensary.wording import NUMBER_WORDS, DoseOrder, dose_instructions, figure
from config import DEFAULT_ADMINISTRATION_TIMES

TABLET = dict(drug_dose_unit="mg", stock_unit="tablet", dose_per_stock_unit=Decimal("500"))


def words(dose: str, unit: str = "mg", route: str = "oral", code: str = "TID", **kw: object) -> str:
    label = DEFAULT_ADMINISTRATION_TIMES[code]["label"]
    drug = TABLET if unit == "mg" and "stock_unit" not in kw else {}
    return dose_instructions(DoseOrder(Decimal(dose), unit, route, code, label, **drug, **kw))  # type: ignore[arg-type]


def test_a_course_of_tablets() -> None:
    assert words("500", duration_days=7) == "Take ONE tablet THREE times a day for 7 days."


def test_an_as_required_dose_says_its_limits() -> None:
    assert words("1000", code="PRN", prn=True, prn_min_interval_minutes=240, prn_max_daily_doses=4,
                 indication="pain") == (
        "Take TWO tablets when required for pain. Leave at least 4 hours between doses. "
        "No more than 8 tablets in 24 hours.")


def test_a_regular_frequency_can_also_be_as_required() -> None:
    assert words("500", code="Q6H", prn=True, prn_min_interval_minutes=90) == (
        "Take ONE tablet every 6 hours when required. Leave at least 90 minutes between doses.")


def test_inhalers_injections_and_drops_get_their_own_verbs() -> None:
    assert words("2", "puff", "inhalation", "BID", stock_unit="inhaler") == "Inhale TWO puffs twice a day."
    assert words("1", "mL", "subcutaneous", "QD", instructions="rotate the sites") == (
        "Inject 1 mL under the skin once a day. Rotate the sites.")
    assert words("1", "drop", "ophthalmic", "QID") == "Use ONE drop in the eye FOUR times a day."
    assert words("1", "patch", "transdermal", "QD") == "Apply ONE patch to the skin once a day."


@pytest.mark.parametrize(("dose", "said"), [
    ("250", "HALF a tablet"), ("125", "A QUARTER of a tablet"),
    ("375", "THREE QUARTERS of a tablet"), ("750", "ONE AND A HALF tablets"),
    ("5000", "TEN tablets"), ("6000", "12 tablets"),
])
def test_parts_of_tablets_and_large_counts(dose: str, said: str) -> None:
    assert words(dose, code="QD") == f"Take {said} once a day."


def test_a_dose_that_is_no_whole_tablet_is_said_in_the_prescribed_unit() -> None:
    assert words("166.667", code="QD") == "Take 166.667 mg once a day."
    assert words("0.500", "mg", stock_unit=None, code="HS") == "Take 0.5 mg at bedtime."


def test_a_liquid_prescribed_by_weight_is_said_in_millilitres() -> None:
    assert words("100", code="QD", stock_unit="mL", drug_dose_unit="mg",
                 dose_per_stock_unit=Decimal("25")) == "Take 4 mL once a day."


def test_figures_have_no_trailing_zeros() -> None:
    assert [figure(Decimal(v)) for v in ("0.500", "20", "2E+1", "12.250")] == ["0.5", "20", "20", "12.25"]


COUNTED = ["tablet", "capsule", "puff", "drop", "patch", "sachet", "suppository", "spray"]
MEASURED = ["mg", "mL", "g", "microgram", "unit", "mmol"]
ROUTES = ["oral", "inhalation", "subcutaneous", "intravenous", "topical", "ophthalmic", "rectal",
          "nasal", "sublingual", "transdermal", "something new"]
doses = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("20000"), places=3)


@given(
    dose=doses, unit=st.sampled_from(COUNTED + MEASURED), route=st.sampled_from(ROUTES),
    code=st.sampled_from(sorted(DEFAULT_ADMINISTRATION_TIMES)), prn=st.booleans(),
    interval=st.none() | st.integers(1, 48 * 60), max_doses=st.none() | st.integers(1, 24),
    days=st.none() | st.integers(1, 365),
    # Free text that itself says "None" would look like a missing value leaking into the sentence.
    instructions=st.none() | st.text(st.characters(categories=["L", "Zs"]), max_size=40)
    .filter(lambda t: "none" not in t.lower()),
    stock=st.sampled_from([None, "tablet", "capsule", "mL", "inhaler"]),
    per=st.none() | st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("5000"), places=4),
)
def test_any_valid_order_reads_as_sentences_without_artefacts(
    dose: Decimal, unit: str, route: str, code: str, prn: bool, interval: int | None,
    max_doses: int | None, days: int | None, instructions: str | None, stock: str | None,
    per: Decimal | None,
) -> None:
    text = dose_instructions(DoseOrder(
        dose, unit, route, code, DEFAULT_ADMINISTRATION_TIMES[code]["label"], prn=prn,
        prn_min_interval_minutes=interval, prn_max_daily_doses=max_doses, duration_days=days,
        instructions=instructions, drug_dose_unit="mg", stock_unit=stock, dose_per_stock_unit=per))
    assert text and text[0].isupper() and text.endswith(".")
    assert "None" not in text and "  " not in text
    assert not re.search(r"\d\.\d*0\b", text), text  # no 0.500
    assert not re.search(r"\dE[+-]?\d", text), text  # no 2E+1


@given(n=st.integers(1, 40), per=st.sampled_from([Decimal("1"), Decimal("5"), Decimal("500")]),
       unit=st.sampled_from(["tablet", "capsule"]))
def test_whole_counts_are_spelt_out_to_ten_and_agree_with_their_noun(n: int, per: Decimal, unit: str) -> None:
    text = dose_instructions(DoseOrder(per * n, "mg", "oral", "QD", "once a day",
                                       drug_dose_unit="mg", stock_unit=unit, dose_per_stock_unit=per))
    number = NUMBER_WORDS[n] if n <= 10 else str(n)
    noun = unit if n == 1 else unit + "s"
    assert text == f"Take {number} {noun} once a day."


@given(doses_a_day=st.integers(1, 12), n=st.integers(1, 4))
def test_the_daily_limit_is_the_doses_times_the_tablets_in_a_dose(doses_a_day: int, n: int) -> None:
    text = words(str(500 * n), code="PRN", prn=True, prn_max_daily_doses=doses_a_day)
    total = n * doses_a_day
    assert text.endswith(f"No more than {total} tablet{'s' if total != 1 else ''} in 24 hours.")
