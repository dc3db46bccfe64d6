"""MRNs carry a Luhn check digit, and every single-digit typo or adjacent swap is caught."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.domain.patients import rules

serials = st.integers(min_value=rules.MRN_SERIAL_START, max_value=9_999_999)


@given(serials)
def test_issued_mrns_are_valid(serial: int) -> None:
    mrn = rules.make_mrn(serial)
    assert len(mrn) == 8 and rules.mrn_problem(mrn) is None


@given(serials, st.integers(0, 7), st.integers(1, 9))
def test_any_single_digit_error_is_caught(serial: int, position: int, delta: int) -> None:
    mrn = rules.make_mrn(serial)
    wrong = mrn[:position] + str((int(mrn[position]) + delta) % 10) + mrn[position + 1:]
    assert rules.mrn_problem(wrong) is not None


@given(serials, st.integers(0, 6))
def test_adjacent_transpositions_are_caught_unless_digits_are_09(serial: int, position: int) -> None:
    mrn = rules.make_mrn(serial)
    a, b = mrn[position], mrn[position + 1]
    swapped = mrn[:position] + b + a + mrn[position + 2:]
    if a != b and {a, b} != {"0", "9"}:  # Luhn's one known blind spot
        assert rules.mrn_problem(swapped) is not None


def test_messages_say_what_is_wrong() -> None:
    assert rules.mrn_problem("12AB5678") == "An MRN has digits only."
    assert rules.mrn_problem("123") == "An MRN has 8 digits."
    assert "check digit" in (rules.mrn_problem("10000001") or "")
