"""The handover's pure rules: field text, shift names, who may accept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.errors import DomainError
from app.domain.handover import rules


@given(st.text())
def test_normalised_text_has_no_control_characters_and_is_stable(text: str) -> None:
    once = rules.normalise_text(text)
    assert rules.normalise_text(once) == once
    assert "\r" not in once and "\x00" not in once
    assert all(c in "\n\t" or ord(c) >= 32 for c in once if ord(c) < 128)


def test_text_keeps_lines_and_refuses_overlong_fields() -> None:
    assert rules.check_text("Stable.\r\nFor review\x00 at 10:00  \n") == "Stable.\nFor review at 10:00"
    rules.check_text("x" * rules.MAX_TEXT)
    with pytest.raises(DomainError, match="under 4000 characters") as exc:
        rules.check_text("x" * (rules.MAX_TEXT + 1))
    assert exc.value.field == "text"


def test_unknown_field_is_refused() -> None:
    assert rules.check_field("assessment") == "assessment"
    with pytest.raises(DomainError):
        rules.check_field("notes")


@pytest.mark.parametrize(("shift", "expected"), [("day → night", "day → night"),
                                                  ("  late   shift ", "late shift")])
def test_shift_is_tidied(shift: str, expected: str) -> None:
    assert rules.check_shift(shift) == expected


@pytest.mark.parametrize("shift", ["", "   ", "x" * 21])
def test_bad_shift_is_refused(shift: str) -> None:
    with pytest.raises(DomainError) as exc:
        rules.check_shift(shift)
    assert exc.value.field == "shift"


def test_acceptance_rules() -> None:
    assert rules.acceptance_refusal(7, 3, None, True) is None
    assert rules.acceptance_refusal(7, None, None, True) is None
    assert "incoming nurse" in (rules.acceptance_refusal(3, 3, None, True) or "")
    assert "already" in (rules.acceptance_refusal(7, 3, 9, True) or "")
    assert "closed" in (rules.acceptance_refusal(7, 3, None, False) or "")
    assert rules.acceptance_refusal(None, 3, None, True) is not None
