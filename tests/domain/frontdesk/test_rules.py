"""Ticket transitions, numbering, check-in windows, no-show timing and rates."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import clock
from app.domain.frontdesk import rules

statuses = st.sampled_from(rules.TICKET_STATUSES)
actions = st.sampled_from(rules.ACTIONS)
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(clock.UTC))


def test_the_happy_path_of_a_ticket() -> None:
    status = "waiting"
    for action, expected in (("call", "called"), ("start", "in-consultation"), ("finish", "done")):
        status = rules.next_status(status, action)
        assert status == expected
    assert rules.is_final("done") and rules.is_final("left")


@pytest.mark.parametrize(("status", "action"), [
    ("waiting", "start"), ("waiting", "finish"), ("waiting", "requeue"),
    ("called", "finish"), ("in-consultation", "call"), ("in-consultation", "left"),
    ("done", "call"), ("left", "call"), ("done", "left"),
])
def test_illegal_moves_are_refused(status: str, action: str) -> None:
    with pytest.raises(rules.IllegalTransition):
        rules.next_status(status, action)


def test_unknown_status_is_a_programming_error_not_a_transition() -> None:
    with pytest.raises(ValueError, match="unknown ticket status"):
        rules.next_status("lost", "call")


@given(statuses, actions)
def test_every_move_is_in_the_table_or_refused(status: str, action: str) -> None:
    allowed = status in rules.TRANSITIONS[action]
    if allowed:
        assert rules.next_status(status, action) in rules.TICKET_STATUSES
        assert action in rules.allowed_actions(status)
    else:
        with pytest.raises(rules.IllegalTransition):
            rules.next_status(status, action)
        assert action not in rules.allowed_actions(status)


@given(st.lists(actions, max_size=30))
def test_any_sequence_of_clicks_never_revives_a_finished_ticket(clicks: list[str]) -> None:
    status, finished = "waiting", False
    for action in clicks:
        try:
            status = rules.next_status(status, action)
        except rules.IllegalTransition:
            continue
        if finished:
            pytest.fail(f"{action} moved a finished ticket")
        finished = rules.is_final(status)
    # Only a ticket that was started can be done; one that left was never in consultation.
    assert status in rules.TICKET_STATUSES


def test_done_only_follows_a_consultation() -> None:
    sources = {src for moves in rules.TRANSITIONS.values() for src, dst in moves.items() if dst == "done"}
    assert sources == {"in-consultation"}


@given(st.integers(min_value=1, max_value=99_999), st.sampled_from(["C", "D", "OP"]))
def test_ticket_codes_are_padded_and_unique_per_number(number: int, prefix: str) -> None:
    code = rules.ticket_code(prefix, number)
    assert code.startswith(prefix + "-")
    assert int(code.split("-")[1]) == number
    assert len(code.split("-")[1]) >= 3


def test_ticket_code_examples() -> None:
    assert rules.ticket_code("C", 14) == "C-014"
    assert rules.ticket_code("C", 1234) == "C-1234"
    with pytest.raises(ValueError):
        rules.ticket_code("C", 0)


def test_prefix_comes_from_the_clinic_then_the_department_then_the_initial() -> None:
    configured = {"CARD": "k", "outpatients": "O"}
    assert rules.ticket_prefix("CARD", "outpatients", configured) == "K"
    assert rules.ticket_prefix("DERM", "outpatients", configured) == "O"
    assert rules.ticket_prefix("DERM", "éye clinic", {}) == "E"
    assert rules.ticket_prefix("X", "123", {}) == "Q"


@given(st.text(min_size=1, max_size=40), st.dates().map(lambda d: d.isoformat()))
def test_counter_names_fit_their_column_and_differ_per_day(department: str, day: str) -> None:
    name = rules.counter_name(department, day)
    assert len(name) <= 40
    assert day in name


def test_long_department_names_do_not_share_a_counter() -> None:
    a = rules.counter_name("x" * 35 + "a", "2026-11-23")
    b = rules.counter_name("x" * 35 + "b", "2026-11-23")
    assert a != b


@given(moments, st.integers(-600, 600), st.integers(0, 240), st.integers(0, 240))
def test_check_in_window(start: datetime, offset: int, early: int, late: int) -> None:
    now = start + timedelta(minutes=offset)
    verdict = rules.Window(early, late).verdict(start, now)
    if offset < -early:
        assert verdict == "early"
    elif offset > late:
        assert verdict == "late"
    else:
        assert verdict == "ok"


@given(moments, st.integers(-600, 600), st.integers(1, 240))
def test_no_show_falls_due_exactly_after_the_grace(start: datetime, offset: int, after: int) -> None:
    assert rules.no_show_due(start, start + timedelta(minutes=offset), after) == (offset >= after)


@given(st.integers(0, 1000), st.integers(0, 1000))
def test_no_show_rate_is_a_share_of_known_outcomes(no_shows: int, attended: int) -> None:
    rate = rules.NoShowRate(no_shows, attended)
    if no_shows + attended == 0:
        assert rate.rate is None and rate.percent == "–"
    else:
        assert rate.rate is not None and 0 <= rate.rate <= 1
        assert rate.rate == pytest.approx(no_shows / (no_shows + attended))


def test_initials_hide_the_name() -> None:
    assert rules.initials("Nguyễn", "Thị Mai") == "T. N."
    assert rules.initials("O'Brien", "  éamon") == "É. O."
    assert rules.initials("", "") == ""
