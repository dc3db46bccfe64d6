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


# --- normalised names, keys, phones, national ids ---------------------------------------------

from datetime import date  # noqa: E402

import pytest  # noqa: E402
from hypothesis import assume  # noqa: E402

names = st.text(alphabet=st.characters(codec="utf-8", categories=("L", "Zs", "Pd", "Po")), max_size=30)


@given(names)
def test_normalising_is_idempotent_and_ignores_case(name: str) -> None:
    once = rules.normalise_name(name)
    assert rules.normalise_name(once) == once
    assert rules.normalise_name(name.upper()) == rules.normalise_name(name.lower()) or not name.isascii()
    assert once == once.strip() and "  " not in once


def test_accents_strokes_and_apostrophes_are_typed_without_them() -> None:
    assert rules.normalise_name("Łukasiewicz") == "lukasiewicz"
    assert rules.normalise_name("NGUYỄN") == rules.normalise_name("nguyen") == "nguyen"
    assert rules.normalise_name("O'Brien") == rules.normalise_name("obrien")
    assert rules.normalise_name("Smith-Jones") == "smith jones"
    assert rules.normalise_name("Müller") == "muller" and rules.normalise_name("Strauß") == "strauss"
    assert rules.normalise_name("王") == "王"


@given(st.sampled_from(["smith", "Smyth", "SMTIH", "Schmidt"]))
def test_alike_family_names_share_a_key(name: str) -> None:
    assert rules.name_key(name) == "s530"


def test_name_key_is_standard_soundex() -> None:
    assert [rules.name_key(n) for n in ("Robert", "Rupert", "Ashcraft", "Tymczak", "Pfister", "Lee")] == [
        "r163", "r163", "a261", "t522", "p236", "l000"]
    assert rules.name_key("王") == ""


def test_name_similarity_tolerates_typos_and_order() -> None:
    assert rules.name_similarity(("smtih",), "smith", "john") >= 80
    assert rules.name_similarity(("jon", "smtih"), "smith", "john") >= 80
    assert rules.name_similarity(("jones",), "smith", "john") < 50


@given(st.lists(st.sampled_from(["anna", "maria", "smith", "kowalska", "li"]), min_size=2, max_size=3))
def test_name_similarity_ignores_word_order(words: list[str]) -> None:
    forward = rules.name_similarity(tuple(words), words[0], " ".join(words[1:]))
    backward = rules.name_similarity(tuple(reversed(words)), words[0], " ".join(words[1:]))
    assert forward == backward == 100


def test_phones_are_checked_and_stored_in_e164() -> None:
    assert rules.phone_e164("07700 900123", "GB") == "+447700900123"
    assert rules.phone_e164("+44 (0)7700-900123", "GB") == "+447700900123"
    assert rules.phone_e164("(202) 555-0143", "US") == "+12025550143"
    assert "too short" in (rules.phone_problem("0770", "GB") or "")
    assert rules.phone_problem("077009001234567", "GB") == "That phone number is too long."
    assert rules.phone_problem("not a number", "GB") == "That is not a phone number."
    assert rules.phone_e164("12", "GB") is None


def test_national_id_format_is_configurable() -> None:
    assert rules.national_id_problem("943 476 5919", "gb.nhs") is None
    assert "check the number" in (rules.national_id_problem("943 476 5918", "gb.nhs") or "")
    assert rules.compact_national_id("943 476 5919", "gb.nhs") == "9434765919"
    assert rules.national_id_problem("AB 12-34-56 C", None) is None
    assert rules.compact_national_id("ab 12-34-56 c", None) == "AB123456C"
    with pytest.raises(ValueError, match="not a python-stdnum"):
        rules.national_id_module("os; rm -rf")


# --- what the search box holds ------------------------------------------------------------------


@given(serials)
def test_a_valid_mrn_is_searched_as_an_mrn(serial: int) -> None:
    mrn = rules.make_mrn(serial)
    q = rules.parse_search(f" {mrn[:4]} {mrn[4:]} ")
    assert (q.kind, q.mrn, q.problem) == ("mrn", mrn, None)


@given(serials, st.integers(0, 7), st.integers(1, 9))
def test_a_mistyped_mrn_is_a_problem_not_a_search(serial: int, position: int, delta: int) -> None:
    mrn = rules.make_mrn(serial)
    wrong = mrn[:position] + str((int(mrn[position]) + delta) % 10) + mrn[position + 1:]
    q = rules.parse_search(wrong)
    assert q.kind == "mrn" and q.problem is not None and "check digit" in q.problem


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2030, 12, 31)),
       st.sampled_from(["{y:04d}-{m:02d}-{d:02d}", "{d:02d}/{m:02d}/{y:04d}", "{d}/{m}/{y}",
                        "{d:02d}.{m:02d}.{y:04d}", "{d}-{m}-{y}"]),
       st.sampled_from(["smith", "Smith, John", "john smith"]))
def test_name_and_date_of_birth_in_every_documented_form(when: date, form: str, name: str) -> None:
    typed = form.format(y=when.year, m=when.month, d=when.day)
    q = rules.parse_search(f"{name} {typed}")
    assert q.kind == "name_dob" and q.birth_date == when and q.problem is None
    alone = rules.parse_search(typed)
    assert alone.kind == "dob" and alone.birth_date == when


@given(st.dates(min_value=date(1900, 1, 13), max_value=date(2030, 12, 31)))
def test_month_first_when_the_hospital_says_so(when: date) -> None:
    assume(when.day > 12)
    q = rules.parse_search(f"{when.month}/{when.day}/{when.year}", date_order="MDY")
    assert q.birth_date == when


def test_a_date_that_does_not_exist_is_a_problem() -> None:
    assert rules.parse_search("smith 31/02/1980").problem == "No such date: 31/02/1980."
    assert rules.parse_search("30.02.1980").problem == "No such date: 30.02.1980."


def test_name_readings() -> None:
    Form = rules.NameForm
    assert rules.parse_search("SMITH").names == (Form("smith"),)
    assert rules.parse_search("Smith, Jo").names == (Form("smith", "jo"),)
    assert rules.parse_search("john smith").names == (
        Form("john smith"), Form("smith", "john"), Form("john", "smith"))
    assert rules.parse_search("van der Berg, Anna").names == (Form("van der berg", "anna"),)
    q = rules.parse_search("Zoë Łukasiewicz 03/02/1980")
    assert q.prefill() == {"family_name": "Łukasiewicz", "given_names": "Zoë", "birth_date": "1980-02-03"}
    assert rules.parse_search("Łukasiewicz, Zoë").prefill() == {"family_name": "Łukasiewicz", "given_names": "Zoë"}


def test_numbers_are_phones_or_national_ids() -> None:
    q = rules.parse_search("07700 900123")
    assert (q.kind, q.phone_e164, q.national_id) == ("number", "+447700900123", "07700900123")
    assert q.prefill() == {"phone": "07700 900123", "national_id": "07700900123"}
    q = rules.parse_search("+1 202 555 0143")
    assert (q.kind, q.phone_e164, q.national_id) == ("phone", "+12025550143", None)
    q = rules.parse_search("943 476 5919", national_id_format="gb.nhs")
    assert (q.kind, q.national_id) == ("national_id", "9434765919")
    q = rules.parse_search("AB123456C")
    assert (q.kind, q.national_id) == ("national_id", "AB123456C")
    assert rules.parse_search("").kind == "empty"
